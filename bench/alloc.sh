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

swift package --package-path bench benchmark --target DNSWireAllocations --no-progress >bench/results/alloc.log 2>&1 \
  || { tail -40 bench/results/alloc.log >&2; echo "alloc: the benchmark did not run" >&2; exit 1; }
sed -n '/^=* *$/,$p' bench/results/alloc.log | sed -n '/DNSWireAllocations/,$p' >bench/results/alloc.txt
cat bench/results/alloc.txt

swift package --package-path bench benchmark thresholds check --target DNSWireAllocations --path "$PWD/bench/Thresholds" \
  --filter 'QueryParseAndThreeAAAAResponse' --no-progress >bench/results/thresholds.log 2>&1 \
  || { tail -20 bench/results/thresholds.log >&2; echo "alloc: FAIL: the query path allocates (p90 over the 0 threshold)" >&2; exit 1; }

python3 - bench/results/alloc.txt <<'PY'
import sys
# Rows look like: │ Malloc (total) *  │  p0 │ p25 │ p50 │ p75 │ p90 │ p99 │ p100 │ samples │
current, malloc = None, {}
for line in open(sys.argv[1]):
    s = line.strip()
    if s in ("QueryParseAndThreeAAAAResponse", "ControlMessageParse"):
        current = s
    elif current and "Malloc (total)" in s:
        cells = [c.strip() for c in s.strip("│").split("│")]
        malloc[current] = dict(zip(["p0", "p25", "p50", "p75", "p90", "p99", "p100", "samples"],
                                   [int(c) for c in cells[1:9]]))
hot, control = malloc.get("QueryParseAndThreeAAAAResponse"), malloc.get("ControlMessageParse")
if hot is None or control is None:
    sys.exit("alloc: could not read the malloc rows from the benchmark's table")
print(f"alloc: query path: {hot['p100']} mallocs at most per query over {hot['samples']} queries; "
      f"control (Message parse): {control['p50']} mallocs per parse")
if hot["p100"] != 0 or hot["samples"] == 0:
    sys.exit("alloc: FAIL: the query path allocates")
if control["p50"] <= 0:
    sys.exit("alloc: FAIL: the control counted no mallocs, so the counter is not counting")
print("alloc: PASS: 0 heap allocations on the query path")
PY

# The Server's real UDP path: WorkerHarness drives the workers that `sixpn serve`
# runs (recvmmsg -> Responder -> sendmmsg, and io_uring's multishot receive ->
# Responder -> queued sendmsg, over loopback sockets), 1,000 queries per sample,
# for a `.internal` AAAA answer and a cached forwarded answer, on each backend.
swift package --package-path bench benchmark --target ServerAllocations --no-progress >bench/results/server-alloc.log 2>&1 \
  || { tail -40 bench/results/server-alloc.log >&2; echo "alloc: the server benchmark did not run" >&2; exit 1; }
sed -n '/^=* *$/,$p' bench/results/server-alloc.log | sed -n '/ServerAllocations/,$p' >bench/results/server-alloc.txt
cat bench/results/server-alloc.txt
python3 - bench/results/server-alloc.txt <<'PY'
import sys
names = ("ServerInternalAAAA", "ServerCachedForward", "ServerInternalAAAAUring", "ServerCachedForwardUring")
current, malloc = None, {}
for line in open(sys.argv[1]):
    s = line.strip()
    if s in names:
        current = s
    elif current and "Malloc (total)" in s:
        cells = [c.strip() for c in s.strip("│").split("│")]
        malloc[current] = dict(zip(["p0", "p25", "p50", "p75", "p90", "p99", "p100", "samples"],
                                   [int(c) for c in cells[1:9]]))
for name in names:
    m = malloc.get(name)
    if m is None:
        sys.exit(f"alloc: could not read the malloc row of {name}")
    print(f"alloc: {name}: {m['p100']} mallocs at most per 1,000 queries over {m['samples']} samples")
    if m["p100"] != 0 or m["samples"] == 0:
        sys.exit(f"alloc: FAIL: the server's UDP path allocates ({name})")
print("alloc: PASS: 0 heap allocations on the server's receive -> answer -> send path")
PY
