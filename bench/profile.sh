#!/usr/bin/env bash
# Instruction counts per answered `.internal` query, with valgrind's callgrind
# (stable on a noisy machine, unlike time): the release `sixpn serve` (one
# worker) in a namespace of its own, a bounded dnsperf load from a 6PN source,
# collection only inside the UDP worker's loop (UDPWorker.run), so start-up,
# the database and the metrics thread are not counted. Kernel time is not
# seen by callgrind; the user/system split comes from /proc/PID/stat of an
# unprofiled run under the same load.
#
#   bench/profile.sh [queries]            default 20000; prints Ir per query and the top functions
#   bench/profile.sh [queries] --forward  the same for cached forwarded answers: 1,000 names of a
#                                         zone that NSD serves in the namespace, asked once to fill
#                                         the cache (those counts dumped apart), then the load; the
#                                         function list is inclusive (the dump loses the exclusive split)
#   SIXPN_BIN=PATH bench/profile.sh ...   profiles another build (e.g. the commit before a change)
#   PROFILE_LIMITER=on bench/profile.sh   with the tenant budgets on but far above the load
#                                         (--instance-qps and --org-qps 10,000,000: every query is
#                                         charged, none limited); off (0) by default, so runs compare
#
# Then, where perf works (software cpu-clock sampling, so also in a VM without
# hardware counters), the kernel/user share and the top symbols of the server
# under an unprofiled load.
#
# Output: bench/results/callgrind.out (callgrind_annotate it) and profile.txt.
set -euo pipefail
[ "$(id -u)" -eq 0 ] || { echo "bench/profile.sh: needs root (a network namespace)" >&2; exit 2; }
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${SIXPN_BIN:-$root/.build/release/sixpn}
n=${1:-20000}
mode=${2:-internal}
ns=sx-srv-prof client=fdaa:0:1:0:1:0:1:2
w=$(mktemp -d /tmp/sx-srv-prof.XXXXXX)
pid=""
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; ip netns del $ns 2>/dev/null; rm -rf "$w"' EXIT
mkdir -p "$root/bench/results"
. "$root/bench/lib.sh"
bench_netns $ns $client
"$bin" db init --db "$w/db" >/dev/null
# 1,000 apps of 3 instances in organization 1 (as peers.sh's data), queried in turn.
python3 - <<PY | sqlite3 "$w/db"
print("BEGIN; INSERT INTO orgs (network_id, name) VALUES (1, '00000001');")
for a in range(1, 1001):
    print(f"INSERT INTO apps (id, network_id, name) VALUES ({a}, 1, 'app-{a:04d}');")
    for i in range(3):
        inst = a * 4 + i
        print(f"INSERT INTO instances (app_id, id, region, host_id, address) VALUES ({a}, '{inst:08x}', 'bench', 1, "
              f"'fdaa:0:1:0:1:{inst >> 16:x}:{inst & 0xffff:x}:2');")
print("COMMIT;")
PY
for a in $(seq 1 1000); do printf 'app-%04d.internal AAAA\n' "$a"; done > "$w/queries"
upstream=()
if [ "$mode" = --forward ]; then
  # NSD on the namespace's loopback serves fwd.bench: 1,000 names, one AAAA each, a day's TTL.
  { echo '$TTL 86400'
    echo '@ IN SOA ns.fwd.bench. h.fwd.bench. 1 3600 600 86400 3600'
    echo '@ IN NS ns.fwd.bench.'
    echo 'ns IN AAAA ::1'
    for a in $(seq 1 1000); do printf 'name-%04d IN AAAA 2001:db8::%x\n' "$a" "$a"; done
  } > "$w/fwd.bench.zone"
  cat > "$w/nsd.conf" <<NSD
server:
  ip-address: ::1@5300
  username: ""
  chroot: ""
  zonesdir: "$w"
  pidfile: "$w/nsd.pid"
  database: ""
  xfrdfile: "$w/xfrd.state"
  zonelistfile: "$w/zone.list"
  logfile: "$w/nsd.log"
  server-count: 1
remote-control:
  control-enable: no
zone:
  name: fwd.bench
  zonefile: fwd.bench.zone
NSD
  ip netns exec $ns nsd -d -c "$w/nsd.conf" & nsd_pid=$!
  trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; kill "$nsd_pid" 2>/dev/null; ip netns del $ns 2>/dev/null; rm -rf "$w"' EXIT
  for a in $(seq 1 1000); do printf 'name-%04d.fwd.bench AAAA\n' "$a"; done > "$w/queries"
  upstream=(--upstream '[::1]:5300')
  for _ in $(seq 1 50); do ip netns exec $ns dig +short +time=1 -p 5300 @::1 name-0001.fwd.bench AAAA | grep -q 2001 && break; sleep 0.2; done
fi

# Valgrind 3.19 cannot read Swift's DWARF 5: profile a copy without debug info (the symbols stay).
objcopy --strip-debug "$bin" "$w/sixpn"
budget=0; [ "${PROFILE_LIMITER:-off}" = on ] && budget=10000000
serve() { ip netns exec $ns "$@" "$w/sixpn" serve --db "$w/db" --listen "[fdaa::3]:53" --threads 1 "${upstream[@]}" \
  --instance-qps $budget --org-qps $budget 2>"$w/serve.log" & pid=$!; }
# With --forward, one pass over the names first, so that the load is answered from the cache.
warm() { [ "$mode" = --forward ] || return 0; ip netns exec $ns dnsperf -s fdaa::3 -a $client -d "$w/queries" -n 1 -c 1 -q 16 > /dev/null 2>&1; }
load() { ip netns exec $ns dnsperf -s fdaa::3 -a $client -d "$w/queries" -n $((n / 1000)) -c 4 -q 64 -l 240 "$@" > "$w/dnsperf" 2>&1; }
answered() { sed -n 's/.*Queries completed: *\([0-9]*\).*/\1/p' "$w/dnsperf"; }

# 1. User vs kernel CPU, unprofiled: utime and stime ticks of the server over the load.
serve env
sleep 1.5
warm
ticks() { awk '{print $14, $15}' "/proc/$pid/stat"; }
read -r u0 s0 < <(ticks)
load -n 50 -c 8 -q 200
read -r u1 s1 < <(ticks)
done1=$(answered)
kill "$pid"; wait "$pid" 2>/dev/null || true; pid=""
hz=$(getconf CLK_TCK)
python3 -c "
u, s, q = ($u1-$u0)/$hz, ($s1-$s0)/$hz, $done1
print(f'unprofiled, 1 worker, {q} answers: user {u:.2f} s, system {s:.2f} s ({100*s/(u+s):.0f}% kernel), '
      f'{1e6*(u+s)/q:.2f} us CPU per answer ({1e6*u/q:.2f} user, {1e6*s/q:.2f} kernel)')" | tee "$w/split"

# 2. Callgrind over the worker loop only: UDPWorker.run itself (mangled), not the
#    DatagramWorker witness thunk around it, whose toggle would cancel this one.
serve valgrind --tool=callgrind --callgrind-out-file="$w/cg.out" --toggle-collect='*9UDPWorkerC3run*' --separate-threads=no
for _ in $(seq 1 60); do grep -q serving "$w/serve.log" 2>/dev/null && break; sleep 1; done
kill -0 "$pid" || { cat "$w/serve.log" >&2; echo "bench/profile.sh: sixpn under callgrind did not start" >&2; exit 1; }
if [ "$mode" = --forward ]; then warm; callgrind_control -d "$pid" >/dev/null; fi
load
done2=$(answered)
kill -INT "$pid"; wait "$pid" 2>/dev/null || true; pid=""
cp "$w/cg.out" "$root/bench/results/callgrind.out"
total=$(sed -n 's/^summary: *\([0-9]*\).*/\1/p;s/^totals: *\([0-9]*\).*/\1/p' "$w/cg.out" | head -1)
{
  cat "$w/split"
  echo "callgrind ($mode): $done2 answers, $total instructions in the worker loop: $((total / done2)) per answer (user space)"
  callgrind_annotate --inclusive=$([ "$mode" = --forward ] && echo yes || echo no) "$w/cg.out" 2>/dev/null | sed -n '/^Ir/,$p' | head -40
} | tee "$root/bench/results/profile.txt"

# 3. perf: kernel vs user samples of the whole server process under load.
command -v perf >/dev/null || { echo "perf: not installed (Debian linux-perf), skipped"; exit 0; }
serve env
sleep 1.5
warm
load -n 1000 -l 8 -c 8 -q 200 &
loader=$!
sleep 1
if perf record -e cpu-clock -F 2000 -g -p "$pid" -o "$w/perf.data" -- sleep 5 >/dev/null 2>&1; then
  {
    echo "perf (cpu-clock samples, 5 s of the load): share by object"
    perf report -i "$w/perf.data" --no-children --sort dso --stdio 2>/dev/null | grep -E '^ +[0-9]' | head -8
    echo "top symbols"
    perf report -i "$w/perf.data" --no-children --sort sym --stdio 2>/dev/null | grep -E '^ +[0-9]' | head -25
  } | tee -a "$root/bench/results/profile.txt"
else
  echo "perf: perf record failed here, skipped" | tee -a "$root/bench/results/profile.txt"
fi
wait "$loader" || true
