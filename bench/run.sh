#!/usr/bin/env bash
# make bench: sixpn beside NSD, Knot DNS and Unbound, in one run of the shared
# harness (../shared/bench/peers.sh, see its README): same namespace, same
# data, same dnsperf load. Prints the side-by-side table (qps, latency, lost,
# server CPU, ratios) and keeps it under bench/results/peers-<time>/.
#
#   bench/run.sh [peers.sh options]     e.g. -l 5 -r 1 for a quick look
#   bench/run.sh threads                CPU per answer by thread (SIXPN_DNSTAP=1: the dnstap writer's apart)
#   bench/run.sh allocations            heap allocations per answered query (no peers;
#                                       SIXPN_DNSTAP=1: with --dnstap, the writer thread's included)
# After peers.sh, bench/latency.sh measures p50/p99 of sixpn and Knot at one
# fixed rate on the same data (dnsperf 2.10 reports no percentiles itself).
#
# peers.sh runs this same script, inside its namespace, as the server command:
#   bench/run.sh serve-auth   turns $BENCH_APPS_TSV into a sixpn database
#                             (organization 1, the dnsperf source's) and serves it;
#                             SIXPN_BASE_DB=PATH starts from a copy of PATH;
#                             SIXPN_SERVE_ARGS are added to sixpn serve (e.g. --pin)
#   bench/run.sh large        sixpn with the 1,000 apps beside sixpn with 1,000,000 more
#                             instances, in one peers.sh run (no peers)
#   bench/run.sh serve-fwd    serves an empty database, forwarding to $BENCH_UPSTREAM
#   bench/run.sh io           the recvmmsg and io_uring backends side by side (Knot, Unbound anchors)
#   bench/run.sh dnstap       sixpn with --dnstap off and on (fstrm_capture reading, writing a file),
#                             in one peers.sh run: answers per server CPU-second side by side
#   bench/run.sh serve-dnstap serve-auth with --dnstap to an fstrm_capture of its own (started in
#                             its own session, so that its CPU is not the server's; stopped with it)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
self="$root/bench/run.sh"
bin="$root/.build/release/sixpn"
peers=${PEERS_SH:-$root/../shared/bench/peers.sh}

case "${1:-}" in
serve-auth)
  db="$BENCH_WORKDIR/sixpn.db"
  rm -f "$db" "$db-wal" "$db-shm"
  # SIXPN_BASE_DB (bench/run.sh large): start from a copy of a database that
  # already holds other organizations' instances.
  if [ -n "${SIXPN_BASE_DB:-}" ]; then cp "$SIXPN_BASE_DB" "$db"; else "$bin" db init --db "$db" >/dev/null; fi
  # One transaction (docs/schema.md): app-0001<TAB>addr1 addr2 addr3 -> an app of
  # organization 1 with one instance per address, ID = the address's instance bits.
  python3 - "$BENCH_APPS_TSV" <<'EOF' | sqlite3 "$db"
import ipaddress, sys
print("PRAGMA foreign_keys = ON;\nBEGIN;")
print("INSERT INTO orgs (network_id, name) VALUES (1, '00000001');")
for n, line in enumerate(open(sys.argv[1]), start=1):
    app, addresses = line.rstrip("\n").split("\t")
    print(f"INSERT INTO apps (id, network_id, name) VALUES ({n}, 1, '{app}');")
    for a in addresses.split():
        v = int(ipaddress.IPv6Address(a))
        network, host, instance = (v >> 80) & 0xffffffff, (v >> 48) & 0xffffffff, (v >> 16) & 0xffffffff
        assert network == 1, f"{a} is not in organization 1"
        print(f"INSERT INTO instances (app_id, id, region, host_id, address) "
              f"VALUES ({n}, '{instance:08x}', 'bench', {host}, '{ipaddress.IPv6Address(a).compressed}');")
print("COMMIT;")
EOF
  # One dnsperf source (one instance) at the highest rate: the tenant budgets off, or they are what is measured.
  exec "$bin" serve --db "$db" --listen "[$BENCH_ADDR]:$BENCH_PORT" --threads "$BENCH_THREADS" \
    --instance-qps 0 --org-qps 0 ${SIXPN_SERVE_ARGS:-}
  ;;
serve-dnstap)
  sock="$BENCH_WORKDIR/dnstap.sock" capture="$BENCH_WORKDIR/dnstap.fstrm"
  rm -f "$sock" "$capture"
  setsid fstrm_capture -t protobuf:dnstap.Dnstap -u "$sock" -w "$capture" 2>"$BENCH_WORKDIR/fstrm_capture.log" &
  reader=$!
  for _ in $(seq 1 50); do [ -S "$sock" ] && break; sleep 0.1; done
  # peers.sh stops the server's process group (this shell and sixpn); the reader goes with it, and
  # the capture (about 0.5 GB a run) after its size is logged.
  SIXPN_SERVE_ARGS="${SIXPN_SERVE_ARGS:-} --dnstap unix:$sock" "$self" serve-auth &
  server=$!
  trap 'kill $server 2>/dev/null; wait $server; kill -INT $reader 2>/dev/null; wait $reader
        echo "dnstap: $(stat -c %s "$capture" 2>/dev/null || echo 0) octets captured" >&2; rm -f "$capture"' TERM INT
  wait $server
  ;;
serve-fwd)
  db="$BENCH_WORKDIR/sixpn.db"
  rm -f "$db" "$db-wal" "$db-shm"
  "$bin" db init --db "$db" >/dev/null
  exec "$bin" serve --db "$db" --listen "[$BENCH_ADDR]:$BENCH_PORT" --upstream "[$BENCH_UPSTREAM]:53" \
    --threads "$BENCH_THREADS" --instance-qps 0 --org-qps 0 ${SIXPN_SERVE_ARGS:-}
  ;;
io)
  # The two UDP backends side by side in one run, with Knot (auth) and
  # Unbound (forwarder) as the anchors: which one is the default is decided here.
  [ "$(id -u)" -eq 0 ] || { echo "bench/run.sh io: needs root (network namespaces)" >&2; exit 2; }
  shift
  out="$root/bench/results/io-$(date -u +%Y%m%d-%H%M%S)"
  mkdir -p "$root/bench/results"
  export BENCH_NS=${BENCH_NS:-sx-srv-io}
  "$peers" --out "$out" --peers "knot" \
    --server "recvmmsg=SIXPN_SERVE_ARGS='--io recvmmsg' $self serve-auth" \
    --server "uring=SIXPN_SERVE_ARGS='--io uring' $self serve-auth" \
    --server-fwd "recvmmsg-fwd=SIXPN_SERVE_ARGS='--io recvmmsg' $self serve-fwd" \
    --server-fwd "uring-fwd=SIXPN_SERVE_ARGS='--io uring' $self serve-fwd" "$@"
  exit 0
  ;;
dnstap)
  # The query log's cost: the same answers with --dnstap off and on (a reader attached,
  # fstrm_capture writing every message to a file), one run, no peers.
  [ "$(id -u)" -eq 0 ] || { echo "bench/run.sh dnstap: needs root (network namespaces)" >&2; exit 2; }
  command -v fstrm_capture >/dev/null || { echo "bench/run.sh dnstap: needs fstrm_capture (fstrm-bin)" >&2; exit 2; }
  shift
  out="$root/bench/results/dnstap-$(date -u +%Y%m%d-%H%M%S)"
  mkdir -p "$root/bench/results"
  export BENCH_NS=${BENCH_NS:-sxd-bench-dnstap}
  "$peers" --out "$out" --peers "" --no-fwd --server "sixpn=$self serve-auth" \
    --server "sixpn-dnstap=$self serve-dnstap" "$@"
  exit 0
  ;;
threads)
  # CPU per thread (utime+stime from /proc/PID/task, by thread name) of `sixpn serve` under 8 s
  # of dnsperf: with SIXPN_DNSTAP=1 the dnstap writer's share apart from the workers'. Less
  # noisy on a shared machine than two servers' qps per core, since both are in one process.
  [ "$(id -u)" -eq 0 ] || { echo "bench/run.sh threads: needs root (a network namespace)" >&2; exit 2; }
  ns=${BENCH_NS:-sx-srv-threads} client=fdaa:0:1:0:1:0:1:2
  w=$(mktemp -d /tmp/sx-srv-threads.XXXXXX)
  pid="" reader=""
  trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; sleep 0.3; [ -n "$reader" ] && kill "$reader" 2>/dev/null; ip netns del $ns 2>/dev/null; rm -rf "$w"' EXIT
  . "$root/bench/lib.sh"
  bench_netns $ns $client
  "$bin" db init --db "$w/db" >/dev/null
  for i in 1 2 3; do "$bin" db add-instance --db "$w/db" --app web --region ams --address "fdaa:0:1:0:$i:0:$i:2" >/dev/null; done
  for _ in $(seq 1 1000); do echo 'web.internal AAAA'; done > "$w/queries"
  tap=()
  if [ -n "${SIXPN_DNSTAP:-}" ]; then
    fstrm_capture -t protobuf:dnstap.Dnstap -u "$w/tap.sock" -w "$w/tap.fstrm" 2>/dev/null &
    reader=$!
    for _ in $(seq 1 50); do [ -S "$w/tap.sock" ] && break; sleep 0.1; done
    tap=(--dnstap "unix:$w/tap.sock")
  fi
  ip netns exec $ns "$bin" serve --db "$w/db" --listen "[fdaa::3]:53" --threads 2 --instance-qps 0 --org-qps 0 \
    "${tap[@]}" 2>"$w/serve.log" &
  pid=$!
  sleep 1.5
  ticks() { for t in /proc/$pid/task/*; do echo "$(basename "$t") $(cat "$t/comm") $(awk '{print $14 + $15}' "$t/stat")"; done | sort; }
  ticks > "$w/t0"
  ip netns exec $ns dnsperf -s fdaa::3 -a $client -d "$w/queries" -l 8 -c 8 -q 200 > "$w/dnsperf" 2>&1
  ticks > "$w/t1"
  n=$(sed -n 's/.*Queries completed: *\([0-9]*\).*/\1/p' "$w/dnsperf")
  hz=$(getconf CLK_TCK)
  echo "sixpn serve, 2 workers${SIXPN_DNSTAP:+, --dnstap (fstrm_capture reading)}: $n answers in 8 s; CPU per answer by thread:"
  join "$w/t0" "$w/t1" | awk -v n="$n" -v hz="$hz" '{ d = $5 - $3; if (d > 0) { printf "  %-14s %6.2f us\n", $2, d / hz / n * 1e6; all += d } }
    END { printf "  %-14s %6.2f us\n", "all", all / hz / n * 1e6 }'
  exit 0
  ;;
allocations)
  # Counts every malloc/calloc/realloc/posix_memalign of a running `sixpn serve`
  # (an LD_PRELOAD counter, read on SIGUSR2) over 5 s idle and 5 s under dnsperf;
  # the difference over the answered queries is the allocations per answer.
  [ "$(id -u)" -eq 0 ] || { echo "bench/run.sh allocations: needs root (a network namespace)" >&2; exit 2; }
  ns=${BENCH_NS:-sx-srv-alloc} client=fdaa:0:1:0:1:0:1:2
  w=$(mktemp -d /tmp/sx-srv-alloc.XXXXXX)
  pid=""
  trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; ip netns del $ns 2>/dev/null; rm -rf "$w"' EXIT
  cat > "$w/count.c" <<'EOF'
#define _GNU_SOURCE
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
static atomic_ulong calls;
static const char *out;
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);
#include <sys/prctl.h>
#include <string.h>
/* The dnstap writer thread ("sixpn-dnstap") encodes with swift-protobuf, off the query path: not counted. */
static __thread int writer;  /* known to be the writer (a thread is named after it starts: looked up until then) */
static int counted(void) {
  if (!writer) { char n[16] = {0}; prctl(PR_GET_NAME, n); writer = strcmp(n, "sixpn-dnstap") == 0; }
  return !writer;
}
#define COUNT do { if (counted()) atomic_fetch_add_explicit(&calls, 1, memory_order_relaxed); } while (0)
void *malloc(size_t s) { COUNT; return __libc_malloc(s); }
void *calloc(size_t a, size_t b) { COUNT; return __libc_calloc(a, b); }
void *realloc(void *p, size_t s) { COUNT; return __libc_realloc(p, s); }
int posix_memalign(void **p, size_t a, size_t s) { COUNT; *p = __libc_memalign(a, s); return *p ? 0 : 12; }
static void dump(int sig) { (void)sig; FILE *f = fopen(out, "w"); if (f) { fprintf(f, "%lu\n", atomic_load(&calls)); fclose(f); } }
__attribute__((constructor)) static void init(void) { out = getenv("SIXPN_ALLOC_OUT"); signal(SIGUSR2, dump); }
EOF
  ${CC:-cc} -O2 -shared -fPIC -o "$w/count.so" "$w/count.c"
  . "$root/bench/lib.sh"
  bench_netns $ns $client
  "$bin" db init --db "$w/db" >/dev/null
  for i in 1 2 3; do "$bin" db add-instance --db "$w/db" --app web --region ams --address "fdaa:0:1:0:$i:0:$i:2" >/dev/null; done
  for _ in $(seq 1 100); do printf 'web.internal AAAA\nams.web.internal AAAA\n_apps.internal TXT\nnope.internal AAAA\n'; done > "$w/queries"
  # SIXPN_DNSTAP=1: the same with --dnstap to an fstrm_capture (its own process, not counted).
  tap=() reader=""
  if [ -n "${SIXPN_DNSTAP:-}" ]; then
    fstrm_capture -t protobuf:dnstap.Dnstap -u "$w/tap.sock" -w "$w/tap.fstrm" 2>/dev/null &
    reader=$!
    trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; kill "$reader" 2>/dev/null; ip netns del $ns 2>/dev/null; rm -rf "$w"' EXIT
    for _ in $(seq 1 50); do [ -S "$w/tap.sock" ] && break; sleep 0.1; done
    tap=(--dnstap "unix:$w/tap.sock")
  fi
  ip netns exec $ns env LD_PRELOAD="$w/count.so" SIXPN_ALLOC_OUT="$w/count" \
    "$bin" serve --db "$w/db" --listen "[fdaa::3]:53" --upstream "[fdaa::53]:53" --threads 2 \
      --instance-qps 0 --org-qps 0 "${tap[@]}" 2>"$w/serve.log" &
  pid=$!
  sleep 2
  count() { kill -USR2 "$pid"; sleep 0.3; cat "$w/count"; }
  c0=$(count); sleep 5; c1=$(count)
  ip netns exec $ns dnsperf -s fdaa::3 -a $client -d "$w/queries" -l 5 -c 8 -q 200 > "$w/dnsperf" 2>&1
  c2=$(count)
  n=$(sed -n 's/.*Queries completed: *\([0-9]*\).*/\1/p' "$w/dnsperf")
  echo "sixpn serve, 2 workers${SIXPN_DNSTAP:+, --dnstap (fstrm_capture reading)}: $((c1 - c0)) allocations in 5 s idle, $((c2 - c1)) in 5 s answering $n queries (.internal AAAA, TXT, NXDOMAIN)"
  python3 -c "print('allocations per answer: %.4f' % ((($c2 - $c1) - ($c1 - $c0)) / $n))"
  exit 0
  ;;
large)
  [ "$(id -u)" -eq 0 ] || { echo "bench/run.sh large: needs root (network namespaces)" >&2; exit 2; }
  shift
  out="$root/bench/results/large-$(date -u +%Y%m%d-%H%M%S)"
  mkdir -p "$root/bench/results"
  # 1,000,000 instances in other organizations (10 per app, 1,000 per
  # organization, networks from 2 up), which the queries never ask for: the
  # same answers from a far bigger snapshot. Built once, before peers.sh,
  # so that the server's start stays within the harness's 20 s.
  x=${SIXPN_EXTRA_INSTANCES:-1000000}
  base="$out.base.db"
  "$bin" db init --db "$base" >/dev/null
  sqlite3 "$base" <<SQL
PRAGMA foreign_keys = ON;
BEGIN;
WITH RECURSIVE c(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM c WHERE n < ($x + 999) / 1000 - 1)
INSERT INTO orgs (network_id, name) SELECT 2 + n, printf('%08x', 2 + n) FROM c;
WITH RECURSIVE c(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM c WHERE n < ($x + 9) / 10 - 1)
INSERT INTO apps (id, network_id, name) SELECT 1000000 + n, 2 + n / 100, printf('app-%04d', n % 100) FROM c;
WITH RECURSIVE c(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM c WHERE n < $x - 1)
INSERT INTO instances (app_id, id, region, host_id, address)
SELECT 1000000 + n / 10, printf('%08x', n + 1), 'bench', 7,
       printf('fdaa:0:%x:0:7:%x:%x:2', 2 + n / 1000, (n + 1) >> 16, (n + 1) & 65535) FROM c;
COMMIT;
SQL
  export BENCH_NS=${BENCH_NS:-sx-srv-large}
  "$peers" --out "$out" --peers "" --no-fwd --server "sixpn=$self serve-auth" \
    --server "sixpn-1M=SIXPN_BASE_DB=$base $self serve-auth" "$@"
  rm -f "$base" "$base-wal" "$base-shm"
  exit 0
  ;;
esac

[ "$(id -u)" -eq 0 ] || { echo "bench/run.sh: needs root (network namespaces)" >&2; exit 2; }
[ -x "$peers" ] || { echo "bench/run.sh: no harness at $peers" >&2; exit 2; }
if [ ! -x "$bin" ]; then
  (cd "$root" && swift build -c release --product sixpn)
fi
out="$root/bench/results/peers-$(date -u +%Y%m%d-%H%M%S)"
# A namespace of our own, so that another peers.sh run on the machine cannot delete it under us.
export BENCH_NS=${BENCH_NS:-sx-srv-bench}
# peers.sh keeps its generated data there; the latency pass (bench/latency.sh) reuses it.
export BENCH_WORK=${BENCH_WORK:-$out.work}
"$peers" --out "$out" --server "sixpn=$self serve-auth" --server-fwd "sixpn-fwd=$self serve-fwd" "$@"
if [ -f "$BENCH_WORK/internal.zone" ]; then
  "$root/bench/latency.sh" "$BENCH_WORK" | tee "$out/latency.txt"
fi
rm -rf "$BENCH_WORK"
