#!/usr/bin/env bash
# Builds the libFuzzer target over DNSWire (message parsing, Query.parse and
# the response writer) with AddressSanitizer and runs it, bounded:
#   FUZZ_RUNS inputs (default 1,000,000), FUZZ_SECONDS at most (default 600).
# Starts from fuzz/corpus (the golden fixtures) and fuzz/regressions (inputs
# that once crashed); new inputs go to fuzz/corpus-work, a crash to fuzz/out.
# Exits non-zero when the fuzzer finds a crash.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=/opt/swift/usr/bin:$PATH
# libFuzzer and ASan report crashes themselves; Swift's out-of-process backtracer
# can outlive a crashed fuzzer under ASan and hold its output open.
export SWIFT_BACKTRACE=enable=no
runs=${FUZZ_RUNS:-1000000}
seconds=${FUZZ_SECONDS:-600}
mkdir -p fuzz/out fuzz/corpus-work

echo "fuzz: building fuzz/out/fuzz-dnswire" >&2
# (ld.gold warns about every ASan symbol it cannot export: noise, kept in the log.)
swiftc -sanitize=fuzzer,address -parse-as-library -O -g -module-name FuzzDNSWire \
  Sources/DNSWire/*.swift fuzz/FuzzDNSWire.swift -o fuzz/out/fuzz-dnswire >fuzz/out/build.log 2>&1 \
  || { grep -v "Cannot export local symbol" fuzz/out/build.log >&2; echo "fuzz: build failed" >&2; exit 1; }

# Every past crash first: each must now pass.
if compgen -G "fuzz/regressions/*" >/dev/null; then
  ./fuzz/out/fuzz-dnswire fuzz/regressions/* 2>fuzz/out/regressions.log \
    || { cat fuzz/out/regressions.log >&2; echo "fuzz: a regression input crashes again" >&2; exit 1; }
fi

echo "fuzz: running $runs inputs, $seconds s at most (log: fuzz/out/fuzz.log)" >&2
set +e
./fuzz/out/fuzz-dnswire -runs="$runs" -max_total_time="$seconds" -max_len=4096 \
  -artifact_prefix=fuzz/out/ -print_final_stats=1 fuzz/corpus-work fuzz/corpus >fuzz/out/fuzz.log 2>&1
status=$?
set -e
grep -E "INITED|^Done|stat::number_of_executed_units|ERROR|SUMMARY|panic|Fatal error|failed" fuzz/out/fuzz.log >&2 || true
if [ "$status" -ne 0 ]; then
  echo "fuzz: FAIL: the fuzzer found a crash (exit $status; see fuzz/out/fuzz.log and fuzz/out/crash-*)" >&2
  exit 1
fi
echo "fuzz: $(grep -o 'stat::number_of_executed_units: [0-9]*' fuzz/out/fuzz.log | awk '{print $2}') inputs, no crash" >&2
