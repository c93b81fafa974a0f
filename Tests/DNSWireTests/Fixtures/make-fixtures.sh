#!/usr/bin/env bash
# Regenerates the golden fixtures: NSD and Knot serve fixtures.zone on
# 127.0.0.1 at high ports; dig and kdig ask them questions through capture.py,
# which saves each query exactly as the client sent it and each answer exactly
# as the server sent it. Loopback only; both servers are stopped (by PID) on exit.
#
# usage: Tests/DNSWireTests/Fixtures/make-fixtures.sh [PORT]
#   NSD listens on PORT (default 53531), Knot on PORT+1.
# Queries carry random IDs and dig's random cookie, so regenerating changes
# those octets; the tests check only what does not change.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
port=${1:-53531}
knot_port=$((port + 1))
work=$(mktemp -d /tmp/sixpn-fixtures.XXXXXX)
nsd_pid="" knot_pid=""
cleanup() {
  for pid in $nsd_pid $knot_pid; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

cp "$here/fixtures.zone" "$work/"
cat > "$work/nsd.conf" <<CONF
server:
  ip-address: 127.0.0.1@$port
  port: $port
  username: ""
  chroot: ""
  zonesdir: "$work"
  pidfile: "$work/nsd.pid"
  database: ""
  zonelistfile: "$work/zone.list"
  xfrdfile: "$work/xfrd.state"
  xfrdir: "$work"
  logfile: "$work/nsd.log"
  server-count: 1
  hide-version: yes
  hide-identity: yes
  nsid: "ascii_sixpn-fixtures"
remote-control:
  control-enable: no
zone:
  name: fixtures.example
  zonefile: fixtures.zone
CONF
nsd-checkconf "$work/nsd.conf"
nsd -d -c "$work/nsd.conf" &
nsd_pid=$!

mkdir -p "$work/knot"
cp "$here/fixtures.zone" "$work/knot/"
cat > "$work/knot.conf" <<CONF
server:
    listen: 127.0.0.1@$knot_port
    rundir: "$work/knot"
log:
  - target: stderr
    any: warning
database:
    storage: "$work/knot/db"
control:
    listen: "$work/knot/knot.sock"
zone:
  - domain: fixtures.example
    storage: "$work/knot"
    file: fixtures.zone
CONF
knotd -c "$work/knot.conf" 2>"$work/knot.log" &
knot_pid=$!

for p in "$port" "$knot_port"; do
  for _ in $(seq 50); do
    dig @127.0.0.1 -p "$p" +tries=1 +time=1 +short fixtures.example SOA 2>/dev/null | grep -q 2026112501 && break
    sleep 0.2
  done
  dig @127.0.0.1 -p "$p" +tries=1 +time=1 +short fixtures.example SOA | grep -q 2026112501 \
    || { echo "make-fixtures: no answer on port $p" >&2; cat "$work/nsd.log" "$work/knot.log" >&2; exit 1; }
done

dig=(dig @127.0.0.1 -p "{port}" +tries=1 +time=5)
kdig=(kdig @127.0.0.1 -p "{port}" +retry=0 +time=5)
cap() { python3 "$here/capture.py" "$port" "$here/$1" "${@:2}"; echo "make-fixtures: $1"; }
knot() { python3 "$here/capture.py" "$knot_port" "$here/$1" "${@:2}"; echo "make-fixtures: $1"; }

cap dig-aaaa         "${dig[@]}" www.fixtures.example AAAA
cap dig-0x20         "${dig[@]}" WwW.FiXtUrEs.ExAmPlE AAAA
cap dig-noedns-soa   "${dig[@]}" +noedns fixtures.example SOA
cap dig-ns           "${dig[@]}" fixtures.example NS
cap dig-mx           "${dig[@]}" fixtures.example MX
cap dig-txt          "${dig[@]}" short.fixtures.example TXT
cap dig-txt-long     "${dig[@]}" long.fixtures.example TXT
cap dig-cname        "${dig[@]}" alias.fixtures.example AAAA
cap dig-cname-nodata "${dig[@]}" alias.fixtures.example A
cap dig-ptr          "${dig[@]}" ptr.fixtures.example PTR
cap dig-srv          "${dig[@]}" _dns._udp.fixtures.example SRV
cap dig-unknown      "${dig[@]}" unknown.fixtures.example TYPE65400
cap dig-nxdomain     "${dig[@]}" nope.fixtures.example A
cap dig-tc           "${dig[@]}" +noedns +ignore big.fixtures.example AAAA
cap kdig-do          "${kdig[@]}" +dnssec www.fixtures.example AAAA
cap kdig-badvers     "${kdig[@]}" +edns=1 www.fixtures.example AAAA
cap kdig-nsid        "${kdig[@]}" +nsid fixtures.example SOA
cap kdig-big         "${kdig[@]}" +bufsize=4096 big.fixtures.example AAAA

# The same zone from Knot DNS 3.2.6 (minimal responses, its own compression).
knot knot-0x20        "${dig[@]}" WwW.FiXtUrEs.ExAmPlE AAAA
knot knot-mx          "${kdig[@]}" fixtures.example MX
knot knot-ns          "${kdig[@]}" fixtures.example NS
knot knot-srv         "${kdig[@]}" _dns._udp.fixtures.example SRV
knot knot-cname       "${dig[@]}" alias.fixtures.example AAAA
knot knot-txt-long    "${dig[@]}" long.fixtures.example TXT
knot knot-nxdomain    "${dig[@]}" nope.fixtures.example A
knot knot-unknown     "${dig[@]}" unknown.fixtures.example TYPE65400
