#!/usr/bin/env bash
# Regenerates the golden fixtures: NSD serves fixtures.zone on 127.0.0.1 at a
# high port; dig and kdig ask it questions through capture.py, which saves
# each query exactly as the client sent it and each answer exactly as NSD
# sent it. Loopback only; NSD is stopped (by its PID) on exit.
#
# usage: Tests/DNSWireTests/Fixtures/make-fixtures.sh [PORT]   (default 53531)
# Queries carry random IDs and dig's random cookie, so regenerating changes
# those octets; the tests check only what does not change.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
port=${1:-53531}
work=$(mktemp -d /tmp/sixpn-fixtures.XXXXXX)
nsd_pid=""
cleanup() {
  if [ -n "$nsd_pid" ]; then kill "$nsd_pid" 2>/dev/null || true; wait "$nsd_pid" 2>/dev/null || true; fi
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
for _ in $(seq 50); do
  dig @127.0.0.1 -p "$port" +tries=1 +time=1 +short fixtures.example SOA >/dev/null 2>&1 && break
  sleep 0.2
done
dig @127.0.0.1 -p "$port" +tries=1 +time=1 +short fixtures.example SOA | grep -q 2026112501 \
  || { echo "make-fixtures: NSD did not answer on port $port" >&2; cat "$work/nsd.log" >&2; exit 1; }

dig=(dig @127.0.0.1 -p "{port}" +tries=1 +time=5)
kdig=(kdig @127.0.0.1 -p "{port}" +retry=0 +time=5)
cap() { python3 "$here/capture.py" "$port" "$here/$1" "${@:2}"; echo "make-fixtures: $1"; }

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
