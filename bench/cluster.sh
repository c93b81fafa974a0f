#!/usr/bin/env bash
# make bench, the cluster's rows: one etcd on loopback and sixpn agents and
# servers in a namespace of this script's own (sx-cl-bench), then
#   1. propagation: CLUSTER_WRITES (1,000) writes through `sixpn db --etcd`,
#      each timed until two other hosts' `sixpn serve` answer it (p50/p99);
#   2. churn: 1,000 instance changes per second for CLUSTER_CHURN_SECONDS (30):
#      the agent's lag (write -> in its database, p50/p99) and its CPU;
#      then host 3's `sixpn serve` under dnsperf (as fast as it goes, 200
#      queries outstanding; CLUSTER_QPS=N caps it) for 10 s each without
#      churn, beside the same writes under a prefix no agent watches (etcd's
#      and the driver's load, nothing applied), and beside the churn: queries
#      per CPU-second of the whole server and of its UDP workers alone
#      (threads sixpn-udp-N: the query path), and the ratios;
#   3. initial sync: CLUSTER_INSTANCES (1,000,000) instances in etcd, an agent
#      on an empty database: time until listed, and its peak RSS.
# etcd runs without TLS here (loopback only); the test runs it with TLS.
#
#   bench/cluster.sh                     SIXPN=path overrides the release binary;
#                                        CLUSTER_ONLY=sync runs only step 3
# Step 3 on one load: CLUSTER_SYNC_RUNS (1) rounds; in each, every binary of
# CLUSTER_SYNC_BINS (the one above) syncs an empty database in turn, so that a
# before/after pair shares the machine's load; medians are printed per binary.
# CLUSTER_PERF=DIR records each sync there with `perf record -a -g` (every
# process: the agent's and etcd's shares both show; `perf report --comm sixpn`).
# CLUSTER_NS names the namespace (sx-cl-bench). CLUSTER_ETCD_DIR keeps etcd's
# data there, so that a later run with CLUSTER_ONLY=sync skips loading what is
# already there (a million instances take minutes to load on a busy machine).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${SIXPN:-$root/.build/release/sixpn}
writes=${CLUSTER_WRITES:-1000}
churn_seconds=${CLUSTER_CHURN_SECONDS:-30}
instances=${CLUSTER_INSTANCES:-1000000}
ns=${CLUSTER_NS:-sx-cl-bench}
tmp=$(mktemp -d /tmp/sx-cl-bench.XXXXXX)
pids=()
cleanup() {
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  sleep 0.3
  ip netns del "$ns" 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
in_ns() { ip netns exec "$ns" "$@"; }
# bg LOG CMD...: CMD must be a program (ip netns exec execs it), so that $! is its PID.
bg() { local log=$1; shift; "$@" > "$log" 2>&1 & pids+=($!); LAST=$!; }
wait_for() { local t=$1; shift; local end=$((SECONDS + t)); until "$@" >/dev/null 2>&1; do
  [ $SECONDS -lt $end ] || return 1; sleep 0.1; done; }

ip netns del "$ns" 2>/dev/null || true
ip netns add "$ns"
ip -n "$ns" link set lo up
for a in fdaa::3 fdaa::4 fdaa:0:1:0:1:0:1:1; do ip -n "$ns" addr add "$a/128" dev lo nodad; done

ETCD=http://127.0.0.1:2379
bg "$tmp/etcd.log" ip netns exec "$ns" etcd --data-dir "${CLUSTER_ETCD_DIR:-$tmp/etcd}" --listen-client-urls $ETCD --advertise-client-urls $ETCD \
  --max-txn-ops 10000 --max-request-bytes 16777216 --quota-backend-bytes 8589934592 --log-level error
etcd_pid=$LAST
wait_for 30 in_ns etcdctl --endpoints $ETCD endpoint health || { echo "cluster bench: etcd did not start" >&2; exit 1; }

# Two other hosts (2 and 3), each with its agent, database and server.
agent() {  # agent HOST DB LOG
  bg "$3" ip netns exec "$ns" "$bin" agent --etcd $ETCD --db "$2" --host-id "$1" --region bench
}
for h in 2 3; do
  "$bin" db init --db "$tmp/h$h.db" >/dev/null
  agent $h "$tmp/h$h.db" "$tmp/agent$h.log"; eval "agent_pid_$h=\$LAST"
  bg "$tmp/serve$h.log" ip netns exec "$ns" "$bin" serve --db "$tmp/h$h.db" --threads 1 --listen "[fdaa::$((h + 1))]:53" --upstream '[::1]:9' \
    --instance-qps 0 --org-qps 0
  eval "serve_pid_$h=\$LAST"
done
wait_for 10 grep -q "host registered" "$tmp/agent2.log"
wait_for 10 grep -q "host registered" "$tmp/agent3.log"

if [ "${CLUSTER_ONLY:-}" != sync ]; then
echo "== cluster: propagation ($writes writes; $(nproc) cores; $(date -u +%FT%TZ))"
in_ns python3 "$root/bench/cluster.py" propagation "$writes" $ETCD "$bin" fdaa::3 fdaa::4

echo "== cluster: churn (1,000 changes/s for ${churn_seconds} s)"
in_ns python3 "$root/bench/cluster.py" churn "$churn_seconds" 1000 $ETCD "$tmp/h2.db" "$agent_pid_2"

echo "== cluster: sixpn serve's queries per CPU-second, without and with that churn (dnsperf ${CLUSTER_QPS:-as fast as it goes}${CLUSTER_QPS:+ qps}, 10 s each)"
in_ns "$bin" db add-instance --etcd $ETCD --app qbench --region bench --address fdaa:0:1:0:2:0:ffff:1 >/dev/null
printf 'qbench.internal AAAA\n' > "$tmp/queries"
wait_for 10 bash -c "ip netns exec $ns dig +short -b fdaa:0:1:0:1:0:1:1 @fdaa::4 qbench.internal AAAA | grep -q ffff"
serve_cpu() { awk '{print $14 + $15}' "/proc/$serve_pid_3/stat"; }
# The query path's own threads (the UDP workers: sixpn-udp-N) apart from the rest
# of the process, whose zone thread (sixpn-zone) applies the changes.
worker_cpu() { cat /proc/"$serve_pid_3"/task/*/stat | awk '$2 ~ /^\(sixpn-udp-/ {t += $14 + $15} END {print t + 0}'; }
declare -A rate
qps_per_cpu() {  # KEY LABEL: dnsperf against host 3's server while the agent applies whatever runs beside
  local c0 c1 w0 w1 done_ sr wr
  c0=$(serve_cpu); w0=$(worker_cpu)
  done_=$(in_ns dnsperf -s fdaa::4 -a fdaa:0:1:0:1:0:1:1 -d "$tmp/queries" -l 10 ${CLUSTER_QPS:+-Q $CLUSTER_QPS} -q 200 -c 4 2>&1 \
    | awk '/Queries completed/ {print $3}')
  c1=$(serve_cpu); w1=$(worker_cpu)
  local cs ws  # CPU seconds: the server's, its workers'
  read -r cs ws < <(awk -v c="$((c1 - c0))" -v w="$((w1 - w0))" -v hz="$(getconf CLK_TCK)" 'BEGIN { print c / hz, w / hz }')
  rate[$1]=$(awk -v q="$done_" -v c="$cs" -v w="$ws" 'BEGIN { printf "%f %f", q / c, q / w }')
  read -r sr wr <<<"${rate[$1]}"
  printf "  %s: %d queries, server CPU %.2f s (its UDP workers %.2f s), %.0f queries per server CPU-second, %.0f per worker CPU-second\n" \
    "$2" "$done_" "$cs" "$ws" "$sr" "$wr"
}
beside() {  # KEY LABEL [PREFIX]: the churn (under PREFIX: not watched) beside a dnsperf run
  in_ns python3 "$root/bench/cluster.py" churn 11 1000 $ETCD "$tmp/h3.db" "$agent_pid_3" ${3:-} > "$tmp/churn-beside.log" &
  local churn_pid=$!
  sleep 0.5
  qps_per_cpu "$1" "$2"
  wait $churn_pid; sed 's/^/    /' "$tmp/churn-beside.log"
}
# With two CPUs or more, host 3's server has CPU 0 to itself for this part (its zone
# thread beside its worker, as on a one-core server) and everything else moves to
# the others. At 10,000 qps on shared cores the server's CPU per query measured the
# machine, not the server: a worker that sleeps between datagrams pays for each
# wake-up as much as for the answer, and what else ran on its core made that dearer
# or cheaper (with the same writes under an unwatched prefix, nothing applied, the
# server's queries per CPU-second fell as far as with the churn: 0.80x-0.91x;
# alone on its core but idle between datagrams it rose 1.3x under the churn).
cpus=$(nproc)
pin_all() { local l=$1; shift; for p in "$@"; do taskset -a -pc "$l" "$p" >/dev/null; done; }  # CPUS PID...
if [ "$cpus" -ge 2 ]; then
  pin_all 0 "$serve_pid_3"
  pin_all "1-$((cpus - 1))" "$etcd_pid" "$agent_pid_2" "$agent_pid_3" "$serve_pid_2" $$
  echo "  (host 3's server alone on CPU 0; etcd, the other processes, dnsperf and the churn on CPUs 1-$((cpus - 1)))"
fi
qps_per_cpu quiet "without churn"
beside noise "with the same writes under a prefix no agent watches (nothing applied)" /noise
beside churn "with 1,000 changes/s"
echo "${rate[quiet]} ${rate[noise]} ${rate[churn]}" | awk '{
  printf "  against without churn, per server CPU-second: %.3fx with the churn, %.3fx with the unwatched writes\n", $5 / $1, $3 / $1
  printf "  per worker CPU-second (the query path alone): %.3fx with the churn, %.3fx with the unwatched writes\n", $6 / $2, $4 / $2 }'
[ "$cpus" -lt 2 ] || pin_all "0-$((cpus - 1))" "$serve_pid_3" "$etcd_pid" "$agent_pid_2" "$agent_pid_3" "$serve_pid_2" $$

fi

echo "== cluster: initial sync of $instances instances into an empty host ($(date -u +%FT%TZ))"
# The other hosts' agents would apply the same million events meanwhile: stopped, so the figure is one agent's.
kill "$agent_pid_2" "$agent_pid_3"
loaded=$(in_ns etcdctl --endpoints $ETCD get --prefix /sixpn/instances/ --limit 1 -w json | grep -o '"count":[0-9]*' | cut -d: -f2 || true)
[ "${loaded:-0}" -ge "$instances" ] || in_ns python3 "$root/bench/cluster.py" load "$instances" $ETCD
cpu_seconds() { awk -v hz="$(getconf CLK_TCK)" '{printf "%.1f", ($14 + $15) / hz}' "/proc/$1/stat"; }
declare -A times
for run in $(seq "${CLUSTER_SYNC_RUNS:-1}"); do
  for b in ${CLUSTER_SYNC_BINS:-$bin}; do
    rm -f "$tmp"/empty.db*
    "$b" db init --db "$tmp/empty.db" >/dev/null
    perf_pid=
    if [ -n "${CLUSTER_PERF:-}" ]; then
      perf record -a -g -o "$CLUSTER_PERF/sync-$run-$(basename "$b").data" >/dev/null 2>&1 & perf_pid=$!
      sleep 1
    fi
    etcd_cpu0=$(cpu_seconds "$etcd_pid")
    rm -f "$tmp/agent4.log"  # not the last run's "listed": bg truncates it only once the agent has started
    t0=$(date +%s%N)
    bg "$tmp/agent4.log" ip netns exec "$ns" "$b" agent --etcd $ETCD --db "$tmp/empty.db" --host-id 4 --region bench; pid=$LAST
    wait_for 600 grep -q '"listed"\|listed' "$tmp/agent4.log"
    t1=$(date +%s%N)
    hwm=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")
    agent_cpu=$(cpu_seconds "$pid")
    etcd_cpu=$(awk -v a="$(cpu_seconds "$etcd_pid")" -v b="$etcd_cpu0" 'BEGIN {printf "%.1f", a - b}')
    kill "$pid"; wait "$pid" 2>/dev/null || true
    [ -z "$perf_pid" ] || { kill -INT "$perf_pid"; wait "$perf_pid" || true; }
    rows=$(sqlite3 "$tmp/empty.db" "SELECT count(*) FROM instances")
    ms=$(( (t1 - t0) / 1000000 ))
    times[$b]+="$ms "
    echo "  $b: listed $rows instances in $ms ms (agent start to committed); agent peak RSS $((hwm / 1024)) MiB, CPU ${agent_cpu} s; etcd CPU meanwhile ${etcd_cpu} s"
  done
done
for b in ${CLUSTER_SYNC_BINS:-$bin}; do
  echo "  $b: median $(echo ${times[$b]:-} | tr ' ' '\n' | sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}') ms of ${times[$b]:-}"
done
