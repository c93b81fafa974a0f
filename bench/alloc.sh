#!/usr/bin/env bash
# Counts heap allocations on the DNSWire query path with ordo-one/benchmark's
# malloc interposer, and fails unless there are none.
#
# The benchmark (bench/Benchmarks/DNSWireAllocations) parses a real dig query
# with Query.parse and writes a 3-record AAAA response (prepared records) and
# an OPT into a reused buffer, once per iteration. The gate is threefold:
#   1. ordo-one's own check against bench/Thresholds (mallocCountTotal 0 at p90);
#   2. from the run's table: 0 mallocs at p100 too, that is in every sample;
#   3. the control benchmark (Message(parsing:), which must allocate) counts
#      more than 0, so a counter that silently counts nothing cannot pass.
# The table is kept in bench/results/alloc.txt.
# Then the same gate (p100 = 0) over the Server's real UDP path (ServerAllocations);
# its table is kept in bench/results/server-alloc.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=/opt/swift/usr/bin:$PATH
mkdir -p bench/results
# Why a benchmark stopped (BenchSupport's require), where the benchmark tool does not show it.
export BENCH_FAILURES="$PWD/bench/results/failures.txt"
rm -f "$BENCH_FAILURES"
failed() { tail -40 "$1" >&2; cat "$BENCH_FAILURES" >&2 2>/dev/null || true; echo "alloc: $2" >&2; exit 1; }

swift package --package-path bench benchmark --target DNSWireAllocations --no-progress >bench/results/alloc.log 2>&1 \
  || failed bench/results/alloc.log "the benchmark did not run"
sed -n '/^=* *$/,$p' bench/results/alloc.log | sed -n '/DNSWireAllocations/,$p' >bench/results/alloc.txt
cat bench/results/alloc.txt

swift package --package-path bench benchmark thresholds check --target DNSWireAllocations --path "$PWD/bench/Thresholds" \
  --filter 'QueryParseAndThreeAAAAResponse' --no-progress >bench/results/thresholds.log 2>&1 \
  || { tail -20 bench/results/thresholds.log >&2; echo "alloc: FAIL: the query path allocates (p90 over the 0 threshold)" >&2; exit 1; }

python3 bench/alloc_gate.py bench/results/alloc.txt --control ControlMessageParse QueryParseAndThreeAAAAResponse

# The Server's real UDP path: WorkerHarness drives the workers that `sixpn serve`
# runs (recvmmsg -> Responder -> sendmmsg, and io_uring's multishot receive ->
# Responder -> queued sendmsg, over loopback sockets), 1,000 queries per sample,
# for a `.internal` AAAA answer (also with the tenant budgets on, and with --dnstap), a reverse-zone PTR and a cached
# forwarded answer, on each backend.
swift package --package-path bench benchmark --target ServerAllocations --no-progress >bench/results/server-alloc.log 2>&1 \
  || failed bench/results/server-alloc.log "the server benchmark did not run"
sed -n '/^=* *$/,$p' bench/results/server-alloc.log | sed -n '/ServerAllocations/,$p' >bench/results/server-alloc.txt
cat bench/results/server-alloc.txt
python3 bench/alloc_gate.py bench/results/server-alloc.txt \
  ServerInternalAAAA ServerReversePTR ServerCachedForward ServerInternalAAAALimiter ServerInternalAAAADnstap \
  ServerInternalAAAAUring ServerReversePTRUring ServerCachedForwardUring ServerInternalAAAALimiterUring \
  ServerInternalAAAADnstapUring
