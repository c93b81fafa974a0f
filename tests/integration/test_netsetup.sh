#!/usr/bin/env bash
# NetSetup end to end, with real wireguard-go devices and real tc BPF, all in
# namespaces this file creates (sx-net-*):
#
#   sx-net-a1, sx-net-a3 (org a1)  sx-net-a2 (org a2)   sx-net-b1 (org a1)
#        | va1, va3                     | va2                  | vb1
#   sx-net-ha (host 10) ==== wgsxa ==== veth ==== wgsxb ==== sx-net-hb (host 20)
#        | wgsxp (peers)
#        +==== veth ==== wgsxg  sx-net-gw (a customer's gateway, from the wg-quick file only)
#
# Host mesh: each host's peer allows the other's swapped /48 (fdaa:HOST:HOST::/48),
# so instance traffic crosses only with `swap` on both mesh devices. `isolate`
# sits on the host side of each instance's veth, with the instance's /112.
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
: "${SIXPN:?set SIXPN to the sixpn binary}"
TMP=$(mktemp -d /tmp/sx-net.XXXXXX)
on_exit "rm -rf $TMP"
export TMPDIR=$TMP

N1=a1 N2=a2 HA=10 HB=20
addr() { "$SIXPN" addr encode --network "$1" --host "$2" --instance "$3" --low 1; }
A1=$(addr $N1 $HA 1) A2=$(addr $N2 $HA 2) B1=$(addr $N1 $HB 3) A3=$(addr $N1 $HA 4)
ORG1_DNS=fdaa:0:$N1::3
expect_eq "addr encode builds the instance address" "fdaa:0:a1:0:10:0:1:1" "$A1"
expect_match "addr decode gives network, host and the /48" \
  "network 000000a1.*host 00000020.*network_prefix fdaa:0:a1::/48" "$("$SIXPN" addr decode "$B1" | tr '\n' ' ')"

in_ns() { local ns=$1; shift; ip netns exec "sx-net-$ns" "$@"; }
for ns in ha hb gw a1 a2 a3 b1; do
  new_netns "sx-net-$ns"
  # No duplicate address detection: addresses are usable at once.
  in_ns $ns sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
  in_ns $ns sysctl -qw net.ipv6.conf.all.forwarding=1
done

# instance NS HOST VETH ADDR: lib.sh's instance_link in this file's namespaces.
instance() { instance_link "sx-net-$1" "sx-net-$2" "$3" "$4"; }
instance a1 ha va1 "$A1"
instance a2 ha va2 "$A2"
instance a3 ha va3 "$A3"
instance b1 hb vb1 "$B1"

# The WireGuard transport: plain veths with addresses only inside these namespaces.
ip -n sx-net-ha link add tha type veth peer name thb netns sx-net-hb
ip -n sx-net-ha addr add 10.201.0.1/24 dev tha; ip -n sx-net-hb addr add 10.201.0.2/24 dev thb
ip -n sx-net-ha link set tha up; ip -n sx-net-hb link set thb up
ip -n sx-net-ha link add thg type veth peer name tgh netns sx-net-gw
ip -n sx-net-ha addr add 10.201.1.1/24 dev thg; ip -n sx-net-gw addr add 10.201.1.2/24 dev tgh
ip -n sx-net-ha link set thg up; ip -n sx-net-gw link set tgh up

# wireguard-go NS DEV: one userspace device, in the foreground so its PID is ours.
wggo() {
  rm -f "/var/run/wireguard/$2.sock"
  start_bg "wg-$2" ip netns exec "sx-net-$1" env WG_PROCESS_FOREGROUND=1 wireguard-go "$2"
  on_exit "rm -f /var/run/wireguard/$2.sock"
  wait_for 10 test -S "/var/run/wireguard/$2.sock" || fail "wireguard-go $2 did not start"
}
wggo ha wgsxa; wggo hb wgsxb; wggo ha wgsxp; wggo gw wgsxg

KA=$(wg genkey) KB=$(wg genkey) KP=$(wg genkey)
in_ns ha wg set wgsxa private-key <(echo "$KA") listen-port 51820 \
  peer "$(echo "$KB" | wg pubkey)" endpoint 10.201.0.2:51820 allowed-ips fdaa:0:$HB::/48
# Host A is the mesh's peer gateway: B also routes the swapped peer area to it.
in_ns hb wg set wgsxb private-key <(echo "$KB") listen-port 51820 \
  peer "$(echo "$KA" | wg pubkey)" endpoint 10.201.0.1:51820 allowed-ips fdaa:0:$HA::/48,fdaa:ffff:ffff::/48
in_ns ha wg set wgsxp private-key <(echo "$KP") listen-port 51821
for d in ha:wgsxa hb:wgsxb ha:wgsxp; do ip -n "sx-net-${d%%:*}" link set "${d#*:}" up; done
ip -n sx-net-ha -6 route add fdaa::/16 dev wgsxa
ip -n sx-net-hb -6 route add fdaa::/16 dev wgsxb
# Org a1's peer area (host ffffffff) is reached through the peer device.
ip -n sx-net-ha -6 route add fdaa:0:$N1:ffff:ffff::/80 dev wgsxp

# The database and the DNS servers: host A answers on fdaa::3 and on org a1's
# prefix ::3; one more server inside instance b1 is reached across the mesh.
DB=$TMP/sixpn.db
"$SIXPN" db init --db "$DB"
"$SIXPN" db add-instance --db "$DB" --app web --region ams --address "$A1" >/dev/null
"$SIXPN" db add-instance --db "$DB" --app web --region fra --address "$B1" >/dev/null
"$SIXPN" db add-instance --db "$DB" --app shop --region ams --address "$A2" >/dev/null
add_addr sx-net-ha fdaa::3
add_addr sx-net-ha "$ORG1_DNS"
start_bg serve-ha ip netns exec sx-net-ha "$SIXPN" serve --db "$DB" --threads 1 \
  --listen '[fdaa::3]:53' --listen "[$ORG1_DNS]:53" --upstream '[::1]:9' --metrics '[::1]:9153'
start_bg serve-b1 ip netns exec sx-net-b1 "$SIXPN" serve --db "$DB" --threads 1 \
  --listen "[$B1]:53" --upstream '[::1]:9'
ask() {  # ask NS SERVER NAME TYPE [dig options]: the answer's data on one line, sorted
  local ns=$1 server=$2 name=$3 type=$4; shift 4
  in_ns "$ns" dig +short +time=1 +tries=2 "$@" "@$server" "$name" "$type" 2>/dev/null | sort | tr '\n' ' ' | sed 's/ $//'
}
wait_for 10 in_ns ha dig +time=1 +tries=1 -b fdaa::3 @fdaa::3 web.internal AAAA >/dev/null \
  || fail "sixpn serve on host A did not answer"

ping6_ok() { in_ns "$1" ping -6 -c 1 -W 1 -I "$2" "$3" >/dev/null 2>&1; }
stat_of() { in_ns "$1" "$SIXPN" net stats --dev "$2" | awk -v k="$3" '$1 == k { print $2 }'; }

echo "-- swap"
check "without swap, instance a1 on host A cannot reach a1 on host B" bash -c "! ip netns exec sx-net-a1 ping -6 -c 1 -W 1 -I $A1 $B1"
check "net attach swap (host A)" in_ns ha "$SIXPN" net attach --dev wgsxa --program swap
check "net attach swap (host B)" in_ns hb "$SIXPN" net attach --dev wgsxb --program swap
check "net attach again is idempotent" in_ns ha "$SIXPN" net attach --dev wgsxa --program swap
expect_eq "one sixpn filter per direction after two attaches" "1 1" \
  "$(in_ns ha tc filter show dev wgsxa ingress | grep -c 'handle 0x6e') $(in_ns ha tc filter show dev wgsxa egress | grep -c 'handle 0x6e')"
if wait_for 15 ping6_ok a1 "$A1" "$B1"; then pass "with swap, a1 on host A pings a1 on host B"; else fail "with swap, a1 on host A pings a1 on host B"; fi
expect_eq "a1 on host A asks sixpn in b1 on host B across the mesh" "$A1 $B1" "$(ask a1 "$B1" web.internal AAAA -b "$A1")"
rewritten=$(stat_of ha wgsxa rewritten)
expect_match "swap counted the packets it rewrote" '^[1-9][0-9]*$' "$rewritten"
expect_eq "the mesh peer entry is the swapped host /48" "fdaa:0:20::/48" \
  "$(in_ns ha wg show wgsxa allowed-ips | awk '{print $2}')"
check "net detach swap (host A)" in_ns ha "$SIXPN" net detach --dev wgsxa
expect_match "net detach again says nothing is attached" "nothing attached" "$(in_ns ha "$SIXPN" net detach --dev wgsxa)"
check "with swap detached, the ping fails again" bash -c "! ip netns exec sx-net-a1 ping -6 -c 2 -W 1 -I $A1 $B1"
check "net stats with nothing attached fails" bash -c "! ip netns exec sx-net-ha $SIXPN net stats --dev wgsxa"
check "net attach swap again (host A)" in_ns ha "$SIXPN" net attach --dev wgsxa --program swap
if wait_for 10 ping6_ok a1 "$A1" "$B1"; then pass "re-attached swap carries traffic again"; else fail "re-attached swap carries traffic again"; fi

echo "-- isolate"
check "before isolate, org a2 reaches org a1 on the same host" ping6_ok a2 "$A2" "$A1"
out=$(in_ns ha "$SIXPN" net attach --dev va1 --program isolate 2>&1); rc=$?
expect_match "net attach isolate without --prefix is refused" "isolate needs --prefix ADDR/LEN" "$out"
expect_eq "  ... in one line" "1" "$(printf '%s\n' "$out" | wc -l)"
check "  ... with a non-zero exit" test "$rc" -ne 0
check "  ... and attaches nothing" bash -c "! ip netns exec sx-net-ha $SIXPN net stats --dev va1"
check "net attach isolate refuses a prefix wider than a /48" \
  bash -c "! ip netns exec sx-net-ha $SIXPN net attach --dev va1 --program isolate --prefix fdaa::/16"
# Each instance's link owns the instance's /112, and nothing else.
for link in "ha va1 $A1" "ha va2 $A2" "ha va3 $A3" "hb vb1 $B1"; do
  read -r host dev address <<< "$link"
  check "net attach isolate --prefix $address/112 on $dev" \
    in_ns "$host" "$SIXPN" net attach --dev "$dev" --program isolate --prefix "$address/112"
done
expect_eq "net stats shows the link's prefix" "fdaa:0:a1:0:10:0:1:0/112" "$(stat_of ha va1 prefixes)"
check "with isolate, org a2 cannot reach org a1" bash -c "! ip netns exec sx-net-a2 ping -6 -c 2 -W 1 -I $A2 $A1"
expect_match "isolate counted the drops" '^[1-9][0-9]*$' "$(stat_of ha va2 dropped)"
expect_eq "net stats names the program" "isolate" "$(stat_of ha va2 program)"

# Datagrams: a listener (python3, bounded) in each receiving instance writes
# "SOURCE PAYLOAD" per datagram; senders bind the source they claim.
listen_udp() {  # NS ADDR FILE
  : > "$3"
  start_bg "udp-$1" ip netns exec "sx-net-$1" python3 -c '
import socket, sys, time
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM); s.bind((sys.argv[1], 7000)); s.settimeout(0.5)
end = time.time() + 120
with open(sys.argv[2], "a") as out:
    while time.time() < end:
        try: data, peer = s.recvfrom(512)
        except socket.timeout: continue
        out.write(peer[0] + " " + data.decode() + "\n"); out.flush()' "$2" "$3"
}
send_udp() {  # NS SOURCE DESTINATION PAYLOAD
  in_ns "$1" python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM); s.bind((sys.argv[1], 0))
s.sendto(sys.argv[3].encode(), (sys.argv[2], 7000))' "$2" "$3" "$4"
}
arrived() { grep -q " $2\$" "$1"; }
listen_udp a2 "$A2" "$TMP/udp-a2"; listen_udp a3 "$A3" "$TMP/udp-a3"; listen_udp b1 "$B1" "$TMP/udp-b1"
listening() { in_ns "$1" ss -Hlun "( sport = :7000 )" | grep -q .; }
for ns in a2 a3 b1; do wait_for 10 listening $ns || fail "the UDP listener in $ns did not start"; done
# The forged sources, on instance a1's own interface (an instance controls its kernel):
# one of org a2's /48, and one inside instance a3's /112 (org a1, same host).
FORGED_ORG2=$(addr $N2 $HA 9) FORGED_A3=${A3%:*}:2
add_addr sx-net-a1 "$FORGED_ORG2"; add_addr sx-net-a1 "$FORGED_A3"
forged_before=$(stat_of ha va1 forged)
send_udp a1 "$A1" "$A3" honest-a3; send_udp a1 "$A1" "$A2" honest-a2
send_udp a1 "$FORGED_ORG2" "$A2" forged-org2
send_udp a1 "$FORGED_A3" "$A3" forged-a3; send_udp a1 "$FORGED_A3" "$B1" forged-b1
# Controls sent last on the same paths: once they arrived, anything sent before would have.
send_udp a1 "$A1" "$A3" control-a3; send_udp a1 "$A1" "$B1" control-b1
check "A -> A2 (same organization) arrives" wait_for 5 arrived "$TMP/udp-a3" honest-a3
check "  ... and so does A -> B1 on host B (same organization, across the mesh)" wait_for 5 arrived "$TMP/udp-b1" control-b1
check "  ... with A's own address as the source" grep -q "^$A1 honest-a3\$" "$TMP/udp-a3"
wait_for 5 arrived "$TMP/udp-a3" control-a3
check "A -> B (another organization) is dropped" bash -c "! grep -q honest-a2 $TMP/udp-a2"
check "A forging an org a2 source -> B: nothing arrives" bash -c "! grep -q forged-org2 $TMP/udp-a2"
check "A forging A2's /112 -> A2: nothing arrives" bash -c "! grep -q forged-a3 $TMP/udp-a3"
check "A forging A2's /112 -> a third instance of org a1 (host B): nothing arrives" bash -c "! grep -q forged-b1 $TMP/udp-b1"
expect_eq "net stats counted the three forged datagrams" "$((forged_before + 3))" "$(stat_of ha va1 forged)"

# sixpn's answered queries, all types and RCODEs (the metrics refresh every second).
queries() { in_ns ha curl -s "http://[::1]:9153/metrics" | awk '/^sixpn_queries_total/ { s += $2 } END { print s + 0 }'; }
metrics_up() { [ "$(queries)" -gt 0 ]; }
wait_for 5 metrics_up || fail "sixpn's metrics on host A did not come up"
sleep 1.2
queries_before=$(queries)
forged_before=$(stat_of ha va1 forged)
expect_match "A forging an org a2 source in a DNS query to fdaa::3: no answer, dig times out" "timed out" \
  "$(ask a1 fdaa::3 shop.internal AAAA -b "$FORGED_ORG2" +tries=1)"
expect_eq "  ... the forged query was counted at the link" "$((forged_before + 1))" "$(stat_of ha va1 forged)"
expect_eq "A's honest DNS query to fdaa::3 is answered" "$A1 $B1" "$(ask a1 fdaa::3 web.internal AAAA -b "$A1" +tries=1)"
counted() { [ "$(queries)" -ge "$((queries_before + 1))" ]; }
wait_for 5 counted
expect_eq "  ... and sixpn counted only the honest query" "$((queries_before + 1))" "$(queries)"
in_ns a1 ip -6 neigh flush dev eth0
check "A pings its gateway by link-local address (neighbour discovery first)" in_ns a1 ping -6 -c 1 -W 2 fe80::1%eth0
expect_match "  ... and the gateway is a resolved neighbour" "fe80::1 .*lladdr" "$(in_ns a1 ip -6 neigh show dev eth0)"
check "org a1 still reaches fdaa::3" ping6_ok a1 "$A1" fdaa::3
check "org a2 still reaches fdaa::3" ping6_ok a2 "$A2" fdaa::3
expect_eq "org a2 resolves its own app through fdaa::3" "$A2" "$(ask a2 fdaa::3 shop.internal AAAA -b "$A2")"
expect_eq "org a1 resolves its own app through fdaa::3" "$A1 $B1" "$(ask a1 fdaa::3 web.internal AAAA -b "$A1")"
check "org a1 still reaches a1 on host B through isolate and swap" ping6_ok a1 "$A1" "$B1"
expect_match "isolate counted passed packets" '^[1-9][0-9]*$' "$(stat_of ha va1 passed)"

echo "-- bad input"
check "net attach on a missing device fails" bash -c "! ip netns exec sx-net-ha $SIXPN net attach --dev nosuch --program swap"
out=$(in_ns ha setpriv --reuid 65534 --regid 65534 --clear-groups "$SIXPN" net attach --dev va1 --program swap 2>&1); rc=$?
expect_eq "net attach without root: one line" "1" "$(printf '%s\n' "$out" | wc -l)"
check "net attach without root: non-zero exit" test "$rc" -ne 0
expect_match "net attach without root: says why" "permission denied \(needs root" "$out"

echo "-- WireGuard peers"
peer() { in_ns ha "$SIXPN" wg peer "$@"; }
check "peer create refuses an unknown organization" bash -c "! ip netns exec sx-net-ha $SIXPN wg peer create --db $DB --network beef --name office --dev wgsxp"
out=$(peer create --db "$DB" --network $N1 --name office --dev va1 2>&1); rc=$?
expect_match "peer create refuses a device that is not WireGuard" "va1: not a WireGuard device" "$out"
expect_eq "  ... in one line" "1" "$(printf '%s\n' "$out" | wc -l)"
check "  ... with a non-zero exit" test "$rc" -ne 0
expect_eq "  ... and leaves no peer in the database" "" "$(peer list --db "$DB")"
peer create --db "$DB" --network $N1 --name office --region ams --dev wgsxp --endpoint 10.201.1.1:51821 > "$TMP/office.conf"
check "peer create prints a wg-quick file" grep -q '^\[Interface\]' "$TMP/office.conf"
expect_eq "the peer's address is the first of its /120 in host ffffffff" "Address = fdaa:0:a1:ffff:ffff::1/120" "$(grep '^Address' "$TMP/office.conf")"
expect_eq "its DNS is the organization's ::3" "DNS = $ORG1_DNS" "$(grep '^DNS' "$TMP/office.conf")"
expect_eq "its AllowedIPs is the organization's /48" "AllowedIPs = fdaa:0:a1::/48" "$(grep '^AllowedIPs' "$TMP/office.conf")"
expect_eq "the host's device has the peer with its /120" "fdaa:0:a1:ffff:ffff::/120" "$(in_ns ha wg show wgsxp allowed-ips | awk '{print $2}')"
expect_match "peer list shows it" "^000000a1 office fdaa:0:a1:ffff:ffff::1/120 " "$(peer list --db "$DB" --network $N1)"
check "peer create refuses a taken name" bash -c "! ip netns exec sx-net-ha $SIXPN wg peer create --db $DB --network $N1 --name office --dev wgsxp"
expect_eq "  ... and the device still has one peer" "1" "$(in_ns ha wg show wgsxp peers | wc -l)"

# The gateway, configured only from the file, as wg-quick does: wg setconf on
# the file without Address/DNS, the address on the device, a route per AllowedIPs.
grep -vE '^(Address|DNS) *=' "$TMP/office.conf" > "$TMP/office.wg"
gw_addr=$(sed -n 's/^Address = //p' "$TMP/office.conf")
gw_dns=$(sed -n 's/^DNS = //p' "$TMP/office.conf")
gw_allowed=$(sed -n 's/^AllowedIPs = //p' "$TMP/office.conf")
check "wg setconf takes the file" in_ns gw wg setconf wgsxg "$TMP/office.wg"
ip -n sx-net-gw addr add "$gw_addr" dev wgsxg nodad
ip -n sx-net-gw link set wgsxg up
ip -n sx-net-gw -6 route add "$gw_allowed" dev wgsxg
gw_ip=${gw_addr%/*}
if wait_for 15 ping6_ok gw "$gw_ip" "$A1"; then pass "the gateway pings an instance"; else fail "the gateway pings an instance"; fi
check "the gateway reaches an instance on host B across the swapped mesh" ping6_ok gw "$gw_ip" "$B1"
expect_eq "the gateway resolves the app through the org's ::3 over the tunnel" "$A1 $B1" "$(ask gw "$gw_dns" web.internal AAAA)"
# The server sees a committed database change within a second (docs/schema.md).
peer_answer() { [ "$(ask ha "$ORG1_DNS" office._peer.internal AAAA -b "$ORG1_DNS")" = "$gw_ip" ]; }
check "the host resolves office._peer.internal to the gateway" wait_for 5 peer_answer

check "peer remove" peer remove --db "$DB" --network $N1 --name office --dev wgsxp
expect_eq "  ... takes it off the device" "0" "$(in_ns ha wg show wgsxp peers | wc -l)"
expect_eq "  ... and out of the database" "" "$(peer list --db "$DB")"
check "  ... and the gateway no longer gets through" bash -c "! ip netns exec sx-net-gw ping -6 -c 1 -W 1 -I $gw_ip $A1"
