#!/usr/bin/env bash
# sixpn serve on the million-instance database (run.sh writes it), under 1,000 single-change
# commits per second (a started flag flipped, and back 500 commits later, written by Python), no
# queries: the server's CPU over SECONDS of churn against SECONDS idle, from /proc. The serve
# process's only busy thread is then its zone thread, so this prices the updates alone, without
# the lookup thread that zone-scale-bench runs beside them. In a namespace of its own (sx-zone-churn).
#
#   bench/zone-scale/serve-churn.sh [SIXPN [SECONDS]]     PERF=FILE records the churn (perf record -g;
#                                                         PERFG="--call-graph dwarf" for SQLite's frames)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
bin=${1:-$root/.build/release/sixpn}; secs=${2:-10}
db=${ZONE_SCALE_DIR:-/tmp/sixpn-zone-scale}/large.sqlite; ns=sx-zone-churn; spid=
[ -f "$db" ] || { echo "serve-churn.sh: $db is missing (bench/zone-scale/run.sh writes it)" >&2; exit 1; }
trap '[ -n "$spid" ] && kill "$spid" 2>/dev/null; sleep 0.3; ip netns del $ns 2>/dev/null' EXIT
sqlite3 "$db" "PRAGMA wal_checkpoint(TRUNCATE)" >/dev/null
. "$root/bench/lib.sh"
bench_serve $ns "$db" /dev/null
bench_serve_settle  # the first build of a million instances takes a few seconds
bench_serve_idle "$secs"
hz=$(getconf CLK_TCK)
c0=$(bench_serve_cpu); t0=$(date +%s%N)
bench_serve_perf "$secs" 999
python3 - "$db" "$secs" <<'PY'
import collections, sqlite3, sys, random, time
c = sqlite3.connect(sys.argv[1], isolation_level=None)
c.execute("PRAGMA synchronous=NORMAL")
n = c.execute("SELECT max(rowid) FROM instances").fetchone()[0]
secs = float(sys.argv[2]); t0 = time.monotonic(); k = 0; tick = t0
back = collections.deque()
while time.monotonic() - t0 < secs or back:
    # Each row is flipped, and flipped back 500 commits later (as many rows are touched as
    # without the flip back, and the database ends as it began).
    if time.monotonic() - t0 < secs and len(back) < 500:
        row = random.randrange(1, n + 1)
        back.append(row)
    else:
        row = back.popleft()
    c.execute("UPDATE instances SET started = 1 - started WHERE rowid = ?", (row,))
    k += 1
    tick += 0.001
    time.sleep(max(0, tick - time.monotonic()))
print(f"writer: {k} changes in {time.monotonic() - t0:.1f} s, one per commit")
PY
c1=$(bench_serve_cpu); t1=$(date +%s%N)
# Over the writer's whole run (its flips back run past SECONDS).
echo "churn: $(( (c1 - c0) * 1000 * 1000000000 / hz / (t1 - t0) )) ms of server CPU per second"
