#!/usr/bin/env bash
# One large organization under churn: 20,000 instances in 1,000 apps, 100 instance changes per
# commit every 100 ms (the shape of bench/cluster.sh's organization, written straight into SQLite
# by Python, no etcd), and `sixpn serve`'s CPU (its zone thread's updates) over SECONDS of that
# churn against SECONDS idle. In a namespace of its own (sx-large-org), fdaa::4 on its lo.
#
#   bench/large-org.sh [SIXPN [SECONDS]]     PERF=FILE records the churn with perf record (PERFG as in lib.sh)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${1:-$root/.build/release/sixpn}; secs=${2:-10}
d=$(mktemp -d /tmp/sx-large-org.XXXXXX); ns=sx-large-org; spid=
trap '[ -n "$spid" ] && kill "$spid" 2>/dev/null; sleep 0.2; ip netns del $ns 2>/dev/null; rm -rf "$d"' EXIT
"$bin" db init --db "$d/h.db" >/dev/null
python3 - "$d/h.db" <<'PY'
import sqlite3, sys, ipaddress
c = sqlite3.connect(sys.argv[1])
c.execute("INSERT INTO orgs VALUES (9, 'big')")
c.execute("INSERT INTO hosts VALUES (4, 1)")
for a in range(1000):
    c.execute("INSERT INTO apps (id, network_id, name) VALUES (?, 9, ?)", (a + 1, f"app{a:04d}"))
for i in range(20000):
    addr = str(ipaddress.IPv6Address((0xfdaa << 112) | (9 << 80) | (4 << 48) | (i << 16) | 1))
    c.execute("INSERT INTO instances (app_id, id, region, host_id, address) VALUES (?, ?, 'bench', 4, ?)",
              (i % 1000 + 1, f"{i:08x}", addr))
c.commit()
PY
. "$root/bench/lib.sh"
bench_serve $ns "$d/h.db" "$d/serve.log"
bench_serve_settle
bench_serve_idle "$secs"
hz=$(getconf CLK_TCK)
c0=$(bench_serve_cpu)
bench_serve_perf "$secs" 4999
python3 - "$d/h.db" "$secs" <<'PY'
import sqlite3, sys, random, time
c = sqlite3.connect(sys.argv[1], isolation_level=None)
c.execute("PRAGMA synchronous=NORMAL")
secs = float(sys.argv[2]); t0 = time.monotonic(); n = 0; tick = t0
while time.monotonic() - t0 < secs:
    c.execute("BEGIN IMMEDIATE")
    for i in random.sample(range(20000), 100):
        c.execute("UPDATE instances SET region = ? WHERE app_id = ? AND id = ?",
                  ("r%d" % random.randrange(3), i % 1000 + 1, f"{i:08x}"))
        n += 1
    c.execute("COMMIT")
    tick += 0.1
    time.sleep(max(0, tick - time.monotonic()))
print(f"writer: {n} changes in {time.monotonic() - t0:.1f} s, 100 per commit")
PY
c1=$(bench_serve_cpu)
echo "churn: $(( (c1 - c0) * 1000 / hz / secs )) ms of server CPU per second"
