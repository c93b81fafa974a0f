#!/usr/bin/env bash
# Builds the two libFuzzer targets with AddressSanitizer and runs each, bounded:
#   FUZZ_RUNS inputs (default 1,000,000 for DNSWire, 10,000,000 for the query
#   service), FUZZ_SECONDS at most each (default 600).
#
# 1. fuzz-dnswire (fuzz/FuzzDNSWire.swift, compiled with Sources/DNSWire):
#    message parsing, Query.parse and the response writer. Starts from
#    fuzz/corpus (the golden fixtures) and fuzz/regressions (inputs that once
#    crashed).
# 2. FuzzQueryService (fuzz/QueryService, a package target built with
#    `swift build -Xswiftc -sanitize=fuzzer,address`): the whole query
#    service over a real snapshot of two organizations and a forwarder's
#    cache, from arbitrary sources, with its invariants (the file's header).
#    Starts from fuzz/corpus-service and fuzz/regressions-service.
#
# New inputs go to fuzz/corpus-work*, a crash to fuzz/out. Exits non-zero
# when either fuzzer finds a crash or a broken invariant.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=/opt/swift/usr/bin:$PATH
# libFuzzer and ASan report crashes themselves; Swift's out-of-process backtracer
# can outlive a crashed fuzzer under ASan and hold its output open.
export SWIFT_BACKTRACE=enable=no
seconds=${FUZZ_SECONDS:-600}
mkdir -p fuzz/out fuzz/corpus-work fuzz/corpus-work-service

# fuzz_run NAME BINARY RUNS REGRESSIONS CORPUS... [-- LIBFUZZER-OPTIONS...]
fuzz_run() {
  local name=$1 binary=$2 runs=$3 regressions=$4; shift 4
  local corpora=() options=()
  while [ $# -gt 0 ] && [ "$1" != -- ]; do corpora+=("$1"); shift; done
  [ $# -gt 0 ] && shift && options=("$@")
  # Every past crash first: each must now pass.
  if compgen -G "$regressions/*" >/dev/null; then
    "$binary" "${options[@]}" "$regressions"/* 2>"fuzz/out/$name-regressions.log" \
      || { cat "fuzz/out/$name-regressions.log" >&2; echo "fuzz: $name: a regression input crashes again" >&2; exit 1; }
  fi
  echo "fuzz: $name: running $runs inputs, $seconds s at most (log: fuzz/out/$name.log)" >&2
  set +e
  "$binary" -runs="$runs" -max_total_time="$seconds" -max_len=4096 -artifact_prefix="fuzz/out/$name-" \
    -print_final_stats=1 "${options[@]}" "${corpora[@]}" >"fuzz/out/$name.log" 2>&1
  local status=$?
  set -e
  grep -E "INITED|^Done|stat::number_of_executed_units|ERROR|SUMMARY|panic|Fatal error|failed" "fuzz/out/$name.log" >&2 || true
  if [ "$status" -ne 0 ]; then
    echo "fuzz: $name: FAIL: a crash or a broken invariant (exit $status; see fuzz/out/$name.log and fuzz/out/$name-crash-*)" >&2
    exit 1
  fi
  echo "fuzz: $name: $(grep -o 'stat::number_of_executed_units: [0-9]*' "fuzz/out/$name.log" | awk '{print $2}') inputs, no crash" >&2
}

echo "fuzz: building fuzz/out/fuzz-dnswire" >&2
# (ld.gold warns about every ASan symbol it cannot export: noise, kept in the log.)
swiftc -sanitize=fuzzer,address -parse-as-library -O -g -module-name FuzzDNSWire \
  Sources/DNSWire/*.swift fuzz/FuzzDNSWire.swift -o fuzz/out/fuzz-dnswire >fuzz/out/build.log 2>&1 \
  || { grep -v "Cannot export local symbol" fuzz/out/build.log >&2; echo "fuzz: build failed" >&2; exit 1; }
fuzz_run dnswire fuzz/out/fuzz-dnswire "${FUZZ_RUNS:-1000000}" fuzz/regressions fuzz/corpus-work fuzz/corpus

# Every Swift module instrumented (-Xswiftc: SwiftPM's own --sanitize fuzzer instruments only the
# executable's module, which leaves the fuzzer blind to the service).
echo "fuzz: building the query-service target (-sanitize=fuzzer,address, in .build-fuzz)" >&2
swift build --product FuzzQueryService -c release -Xswiftc -sanitize=fuzzer,address -Xswiftc -DFUZZING \
  --scratch-path .build-fuzz >fuzz/out/build-service.log 2>&1 \
  || { grep -E "error" fuzz/out/build-service.log >&2; echo "fuzz: query-service build failed" >&2; exit 1; }
mkdir -p fuzz/regressions-service
# No leak check per input: a forwarded query is rightly still held by the
# resolver when the input ends, and checking the whole heap each time would
# cost 40 times the run. ASan's other checks stay on.
fuzz_run service .build-fuzz/release/FuzzQueryService "${FUZZ_RUNS:-10000000}" fuzz/regressions-service \
  fuzz/corpus-work-service fuzz/corpus-service -- -detect_leaks=0
