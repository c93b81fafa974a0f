#!/usr/bin/env bash
# Tenant fairness (issue 15), measured: the release `sixpn serve` in namespace sx-fair-bench with its
# default budgets (2,000 qps per instance, 10,000 per organization), NSD upstream on the namespace's
# loopback, and
#   1. organization B's well-behaved client (FAIR_B_QPS questions a second, each asked once: its
#      .internal name and a cached forwarded name in turn) alone, then during organization A's flood
#      from four instances at the highest rate dnsperf sends (.internal names), then during A's
#      random-subdomain storm at that rate: B's p50/p99 latency and loss in each, side by side;
#   2. the limiter's price with no flood: answers per server CPU-second at a fixed load from one
#      source with the budgets off (0) and on but far above the load (every query charged, none
#      limited), alternated FAIR_ROUNDS times; medians and their ratio.
#
# As peers.sh --pin does, the server runs one worker pinned to CPU 1 and every dnsperf is
# pinned to CPU 0, so that A's flood competes with sixpn for sixpn's work, not for a CPU; B's
# client, idle between its questions, shares CPU 1.
#
#   bench/fairness.sh                 FAIR_SECONDS (10), FAIR_B_QPS (100), FAIR_ROUNDS (3) scale it
#   FAIR_PIN=0 bench/fairness.sh      no pinning: two workers, everything on both CPUs
#   SIXPN_BIN=PATH bench/fairness.sh  another build
# Every query is sent inside the namespace.
set -euo pipefail
[ "$(id -u)" -eq 0 ] || { echo "bench/fairness.sh: needs root (a network namespace)" >&2; exit 2; }
root=$(cd "$(dirname "$0")/.." && pwd)
SIXPN=${SIXPN_BIN:-$root/.build/release/sixpn}
[ -x "$SIXPN" ] || { echo "bench/fairness.sh: no $SIXPN (make release first)" >&2; exit 2; }
seconds=${FAIR_SECONDS:-10} b_qps=${FAIR_B_QPS:-100} rounds=${FAIR_ROUNDS:-3}
if [ "${FAIR_PIN:-1}" = 1 ]; then server_cpu=(taskset -c 1) load_cpu=(taskset -c 0) threads=1
else server_cpu=() load_cpu=() threads=2; fi
here=$root/tests/integration
. "$here/lib.sh"
set +u

ns=sx-fair-bench
dir=$(mktemp -d /tmp/sx-fair-bench.XXXXXX)
on_exit "rm -rf $dir"
new_netns $ns
A1=fdaa:0:1:0:1:0:1:2 A2=fdaa:0:1:0:1:0:2:2 A3=fdaa:0:1:0:2:0:3:2 A4=fdaa:0:1:0:2:0:4:2
B=fdaa:0:2:0:1:0:9:2
for a in fdaa::3 $A1 $A2 $A3 $A4 $B; do add_addr $ns $a; done
in_ns() { ip netns exec $ns "$@"; }

nsd_wildcard $ns "$dir" fair.bench 'hot IN AAAA 2001:db8::b'
db=$dir/sixpn.sqlite
"$SIXPN" db init --db "$db" >/dev/null
for a in $A1 $A2 $A3 $A4 $B; do "$SIXPN" db add-instance --db "$db" --app web --region ams --address $a >/dev/null; done
for _ in $(seq 1 500); do printf 'web.internal AAAA\nams.web.internal AAAA\n_apps.internal TXT\n'; done > "$dir/internal-names"
PYTHONPATH=$here python3 -c 'import dnsask, sys; dnsask.random_names(sys.argv[1], "fair.bench", 1000000, 15)' "$dir/random-names"

# B's client: QPS questions a second, each asked once (1 s timeout), alternating its .internal name
# and its cached forwarded name; prints p50 and p99 in ms, asked, lost and wrong.
cat > "$dir/client.py" <<'PY'
import struct, sys, time
from dnsask import ask
server, source, seconds, qps = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4])
want = {"web.internal": bytes.fromhex("fdaa0000000200000001000000090002"),
        "hot.fair.bench": bytes.fromhex("20010db800000000000000000000000b")}
names = list(want)
times, lost, wrong, n = [], 0, 0, 0
start = time.monotonic()
while time.monotonic() - start < seconds:
    name = names[n % 2]; n += 1
    data, ms = ask(server, source, name, 28, edns=False)
    if data is None:
        lost += 1
    else:
        times.append(ms)
        if data[3] & 0xf != 0 or data[2] & 0x02 or struct.unpack(">H", data[6:8])[0] != 1 or want[name] not in data:
            wrong += 1
    delay = start + n / qps - time.monotonic()
    if delay > 0:
        time.sleep(delay)
times.sort()
pct = lambda p: times[min(len(times) - 1, int(p * len(times)))] if times else float("nan")
print("%.2f %.2f %d %d %d" % (pct(0.50), pct(0.99), n, lost, wrong))
PY

serve() {  # serve FLAG...: a fresh sixpn serve; PID in $PID
  "${server_cpu[@]}" ip netns exec $ns "$SIXPN" serve --db "$db" --listen '[fdaa::3]:53' --upstream '[::1]:5300' --threads $threads "$@" \
    > "$dir/serve.log" 2>&1 &
  PID=$!
  on_exit "kill $PID; sleep 0.2; kill -9 $PID"
  wait_for 10 in_ns dig +time=1 +tries=1 -b $B @fdaa::3 web.internal AAAA || { echo "sixpn serve did not start" >&2; exit 1; }
}
stop() { kill $PID; wait $PID 2>/dev/null || true; }
sent() { sed -n 's/.*Queries sent: *\([0-9]*\).*/\1/p' "$@" | awk '{ n += $1 } END { print n + 0 }'; }

# --- 1. B alone, during A's flood, during A's storm ------------------------------
serve  # the default budgets
in_ns dig +short +time=2 +tries=1 -b $B @fdaa::3 hot.fair.bench AAAA >/dev/null  # B's forwarded name cached
rows=()
for run in alone internal storm; do
  pids=()
  if [ $run != alone ]; then
    names=$dir/internal-names; [ $run = storm ] && names=$dir/random-names
    for a in $A1 $A2 $A3 $A4; do
      in_ns "${load_cpu[@]}" dnsperf -s fdaa::3 -a $a -d "$names" -l "$seconds" -c 4 -q 1000 -t 1 > "$dir/dnsperf-$run-$a" 2>&1 &
      pids+=($!)
    done
  fi
  read -r p50 p99 asked lost wrong < <(in_ns "${server_cpu[@]}" env PYTHONPATH="$here" python3 "$dir/client.py" fdaa::3 $B "$seconds" "$b_qps")
  flood="-"
  if [ ${#pids[@]} -gt 0 ]; then wait "${pids[@]}"; flood="$(( $(sent "$dir"/dnsperf-$run-*) / seconds )) qps"; fi
  rows+=("$run|$flood|$p50|$p99|$lost of $asked|$wrong")
done
stop

# --- 2. The limiter's price, no flood -------------------------------------------
cpu_ticks() { awk '{ print $14 + $15 }' /proc/$1/stat; }
hz=$(getconf CLK_TCK)
load() {  # load FLAG...: answers per server CPU-second at a fixed 20,000 qps from one source for SECONDS, in RATE
  serve "$@"
  local c0 c1 done
  c0=$(cpu_ticks $PID)
  in_ns "${load_cpu[@]}" dnsperf -s fdaa::3 -a $A1 -d "$dir/internal-names" -l "$seconds" -Q 20000 -c 4 -q 1000 -t 1 > "$dir/dnsperf-load" 2>&1
  c1=$(cpu_ticks $PID)
  stop
  done=$(sed -n 's/.*Queries completed: *\([0-9]*\).*/\1/p' "$dir/dnsperf-load")
  RATE=$(( done * hz / (c1 - c0 > 0 ? c1 - c0 : 1) ))
}
off=() on=()
for _ in $(seq 1 "$rounds"); do
  load --instance-qps 0 --org-qps 0; off+=("$RATE")
  load --instance-qps 10000000 --org-qps 10000000; on+=("$RATE")
done
median() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
m_off=$(median "${off[@]}") m_on=$(median "${on[@]}")

echo
echo "B's client ($b_qps questions a second, each once) beside A's four instances, default budgets, $threads worker(s)$([ $threads = 1 ] && echo ", pinned"), $seconds s each ($(date -u +%Y-%m-%dT%H:%MZ), $(git -C "$root" rev-parse --short HEAD)):"
echo
echo "| B's run | A's dnsperf sent | B p50 ms | B p99 ms | B lost | B wrong |"
echo "| --- | --- | --- | --- | --- | --- |"
for r in "${rows[@]}"; do echo "| ${r//|/ | } |"; done
echo
echo "answers per server CPU-second at 20,000 qps from one source, $rounds rounds alternated:"
echo "  budgets off: ${off[*]} (median $m_off)"
echo "  budgets on:  ${on[*]} (median $m_on)"
awk -v a="$m_on" -v b="$m_off" 'BEGIN { printf "  on/off: %.3fx\n", a / b }'
