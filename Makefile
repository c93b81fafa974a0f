# sixpn: the two set-up commands are `make demo` and `make test`.
# Every target installs the Debian packages it needs first (scripts/install-deps.sh).
SWIFT ?= swift
export PATH := /opt/swift/usr/bin:$(PATH)

.PHONY: deps build release deb deb-test demo test unit integration fuzz bench clean

deps:
	@./scripts/install-deps.sh

build: deps
	$(SWIFT) build

release: deps
	$(SWIFT) build -c release --product sixpn

# sixpn_<version>_amd64.deb in this folder: the binary (Swift runtime linked in statically),
# the systemd units, /etc/default/sixpn, man pages and completions (packaging/build-deb.sh).
deb: deps
	./packaging/build-deb.sh

# Builds the release package and checks it (needs root): installs it on this machine, runs the
# service as its unit would, and purges it. `make test` does the same with its debug build.
deb-test: deb
	./packaging/test-package.sh

# Runs the server on a demo database (loopback, port 5353) and prints dig commands.
demo: release
	./.build/release/sixpn demo

# Every test: the Swift unit tests (one at a time: in parallel, on 2 cores, tests that block a
# thread of Swift's 2-thread cooperative pool starved the others for up to 100 s, failing
# timing checks and etcd RPCs; serially they take 85 s), the zero-allocation gate on the query path
# (ordo-one/benchmark's malloc counter), a short run of both fuzzers that also
# replays every input that once crashed, the namespace tests with real tools, then the Debian
# package of this debug build (relinked with the static Swift runtime), installed, run and purged.
test: deps
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build --no-parallel
	./bench/alloc.sh
	FUZZ_RUNS=200000 FUZZ_SECONDS=120 ./fuzz/run.sh
	./tests/integration/run.sh .build/debug/sixpn
	SIXPN_DEB_CONFIG=debug SIXPN_DEB_DIR=.build/deb-test ./packaging/build-deb.sh > .build/deb-test.log \
	  || { cat .build/deb-test.log; exit 1; }
	DEB=$$(tail -1 .build/deb-test.log) ./packaging/test-package.sh

unit: deps
	$(SWIFT) test --no-parallel

integration: build
	./tests/integration/run.sh .build/debug/sixpn

# libFuzzer over message parsing and over the whole query service, bounded
# (FUZZ_RUNS inputs, FUZZ_SECONDS at most, each).
fuzz: deps
	./fuzz/run.sh

# Side-by-side throughput against NSD, Knot and Unbound (../shared/bench/peers.sh),
# latency beside Knot, then the same answers from a 1,000,000-instance snapshot;
# then tenant fairness (one organization's flood beside another's client, the
# limiter's price); then the cluster: propagation, churn and initial sync through etcd;
# then --dnstap off and on.
bench: release
	./bench/run.sh
	./bench/run.sh large
	./bench/fairness.sh
	./bench/cluster.sh
	./bench/run.sh dnstap

clean:
	rm -rf .build
