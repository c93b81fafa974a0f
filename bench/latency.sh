#!/usr/bin/env bash
# p50/p99/p99.9 latency of sixpn and Knot DNS on the data peers.sh generated:
#
#   bench/latency.sh WORK       WORK: peers.sh's work folder (internal.zone, apps.tsv, queries-internal.txt)
#
# dnsperf 2.10 prints only the average latency and has no histogram option
# (`dnsperf -H` lists none); with -v it prints every answer's latency, from
# which this takes the percentiles. Both servers get the same zone, the same
# queries and the same fixed rate (-Q, default 20,000 qps: well below either
# one's maximum, so the figures are service time rather than queueing behind
# a saturated server), 2 workers each, 4 rounds each (BENCH_LATENCY_ROUNDS),
# alternated; the median of the rounds' percentiles, and the server's CPU
# (utime+stime) per answer over the rounds.
# BENCH_LATENCY_SERVERS (default "knot sixpn") picks the servers, in turn, the
# first the base of the ratios; `sixpn-IO` is sixpn with `--io IO`.
# bench/run.sh runs it after peers.sh, so that `make bench` prints it too.
set -euo pipefail
[ "$(id -u)" -eq 0 ] || { echo "bench/latency.sh: needs root (a network namespace)" >&2; exit 2; }
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(cd "${1:?usage: bench/latency.sh WORK (the work folder of peers.sh)}" && pwd)
rate=${BENCH_LATENCY_QPS:-20000}
secs=${BENCH_LATENCY_SECS:-5}
servers=${BENCH_LATENCY_SERVERS:-knot sixpn}
ns=${BENCH_LATENCY_NS:-sx-srv-lat} client=fdaa:0:1:0:1:0:1:2
w=$(mktemp -d /tmp/$ns.XXXXXX)
pid=""
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; ip netns del $ns 2>/dev/null; rm -rf "$w"' EXIT
. "$root/bench/lib.sh"
bench_netns $ns $client
mkdir -p "$w/knot" "$w/sixpn"
cat > "$w/knot/knot.conf" <<CONF
server:
    rundir: "$w/knot"
    listen: fdaa::3@53
    udp-workers: 2
    tcp-workers: 1
    background-workers: 1
database:
    storage: "$w/knot/db"
control:
    listen: "$w/knot/knot.sock"
template:
  - id: default
    storage: "$w/knot"
    semantic-checks: off
    journal-content: none
    zonefile-sync: -1
zone:
  - domain: internal.
    file: "$work/internal.zone"
CONF

# Starts a server in the namespace (ip netns exec and bench/run.sh serve-auth
# both exec, so $! is the server itself) and waits until it answers.
start() {
  case $1 in
  knot) ip netns exec $ns knotd -c "$w/knot/knot.conf" >"$w/knot.log" 2>&1 & ;;
  sixpn*) io=${1#sixpn}
         ip netns exec $ns env BENCH_WORKDIR="$w/sixpn" BENCH_APPS_TSV="$work/apps.tsv" BENCH_ADDR=fdaa::3 \
           BENCH_PORT=53 BENCH_THREADS=2 SIXPN_SERVE_ARGS="${io:+--io ${io#-}}" bash "$root/bench/run.sh" serve-auth \
           >"$w/$1.log" 2>&1 & ;;
  esac
  pid=$!
  for _ in $(seq 1 100); do
    ip netns exec $ns dig +short +time=1 +tries=1 -b $client @fdaa::3 app-0001.internal AAAA 2>/dev/null \
      | grep -q : && return 0
    sleep 0.1
  done
  echo "bench/latency.sh: $1 did not answer" >&2
  exit 1
}

# utime+stime of the server process, in clock ticks.
ticks() { awk '{print $14 + $15}' "/proc/$pid/stat"; }

for round in $(seq 1 "${BENCH_LATENCY_ROUNDS:-4}"); do
  for server in $servers; do
    start $server
    t0=$(ticks)
    ip netns exec $ns dnsperf -v -s fdaa::3 -a $client -d "$work/queries-internal.txt" -l "$secs" -Q "$rate" \
      -c 8 -q 200 > "$w/$server.round$round" 2>&1
    echo $(($(ticks) - t0)) "$(getconf CLK_TCK)" > "$w/$server.round$round.cpu"
    kill "$pid"
    wait "$pid" 2>/dev/null || true
    pid=""
  done
done

python3 "$root/bench/latency.py" "$w" "$rate" "$secs" $servers
