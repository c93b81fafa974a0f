#!/usr/bin/env bash
# make bench: sixpn beside NSD, Knot DNS and Unbound, in one run of the shared
# harness (../shared/bench/peers.sh, see its README): same namespace, same
# data, same dnsperf load. Prints the side-by-side table (qps, latency, lost,
# server CPU, ratios) and keeps it under bench/results/peers-<time>/.
#
#   bench/run.sh [peers.sh options]     e.g. -l 5 -r 1 for a quick look
#
# peers.sh runs this same script, inside its namespace, as the server command:
#   bench/run.sh serve-auth   turns $BENCH_APPS_TSV into a sixpn database
#                             (organization 1, the dnsperf source's) and serves it
#   bench/run.sh serve-fwd    serves an empty database, forwarding to $BENCH_UPSTREAM
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
self="$root/bench/run.sh"
bin="$root/.build/release/sixpn"
peers=${PEERS_SH:-$root/../shared/bench/peers.sh}

case "${1:-}" in
serve-auth)
  db="$BENCH_WORKDIR/sixpn.db"
  rm -f "$db" "$db-wal" "$db-shm"
  "$bin" db init --db "$db" >/dev/null
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
  exec "$bin" serve --db "$db" --listen "[$BENCH_ADDR]:$BENCH_PORT" --threads "$BENCH_THREADS"
  ;;
serve-fwd)
  db="$BENCH_WORKDIR/sixpn.db"
  rm -f "$db" "$db-wal" "$db-shm"
  "$bin" db init --db "$db" >/dev/null
  exec "$bin" serve --db "$db" --listen "[$BENCH_ADDR]:$BENCH_PORT" --upstream "[$BENCH_UPSTREAM]:53" \
    --threads "$BENCH_THREADS"
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
exec "$peers" --out "$out" --server "sixpn=$self serve-auth" --server-fwd "sixpn-fwd=$self serve-fwd" "$@"
