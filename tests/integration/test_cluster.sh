#!/usr/bin/env bash
# The cluster end to end: three hosts in namespaces (sx-cl-*), each with one
# member of a 3-member etcd cluster (TLS, client certificates, user auth),
# `sixpn agent`, `sixpn serve`, and a wireguard-go mesh device whose peers
# the agents set; instances of two organizations behind veths with `isolate`.
#
#                    sx-cl-sw (bridge, 10.202.0.0/24: etcd and WireGuard's UDP)
#          +-----------------+-----------------+
#   sx-cl-ha (host 0a)   sx-cl-hb (host 0b)   sx-cl-hc (host 0c)
#    | va1   | va2         | vb1                | vc1
#   a1 (org 1) a2 (org 2) b1 (org 1)          c1 (org 1)
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
: "${SIXPN:?set SIXPN to the sixpn binary}"
TMP=$(mktemp -d /tmp/sx-cl.XXXXXX)
on_exit "rm -rf $TMP"
export TMPDIR=$TMP
TTL=4

for tool in etcd etcdctl openssl wireguard-go wg; do
  command -v $tool >/dev/null || { fail "$tool is not installed (scripts/install-deps.sh)"; exit 1; }
done

N1=c1 N2=c2
declare -A HOST=([a]=0a [b]=0b [c]=0c) UNDER=([a]=10.202.0.1 [b]=10.202.0.2 [c]=10.202.0.3)
addr() { "$SIXPN" addr encode --network "$1" --host "$2" --instance "$3" --low 1; }
A1=$(addr $N1 0a 1) A2=$(addr $N2 0a 2) B1=$(addr $N1 0b 3) C1=$(addr $N1 0c 4)
in_ns() { local ns=$1; shift; ip netns exec "sx-cl-$ns" "$@"; }

# --- namespaces and the underlay
new_netns sx-cl-sw
ip -n sx-cl-sw link add br0 type bridge
ip -n sx-cl-sw link set br0 up
for h in a b c a1 a2 b1 c1; do
  new_netns "sx-cl-$h"
  in_ns $h sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0 net.ipv6.conf.all.forwarding=1
done
for h in a b c; do
  ip -n sx-cl-sw link add "p$h" type veth peer name eth0 netns "sx-cl-$h"
  ip -n sx-cl-sw link set "p$h" master br0 up
  ip -n "sx-cl-$h" addr add "${UNDER[$h]}/24" dev eth0
  ip -n "sx-cl-$h" link set eth0 up
done

# instance NS HOST VETH ADDR: lib.sh's instance_link in this file's namespaces.
instance() { instance_link "sx-cl-$1" "sx-cl-$2" "$3" "$4"; }
instance a1 a va1 "$A1"; instance a2 a va2 "$A2"; instance b1 b vb1 "$B1"; instance c1 c vc1 "$C1"
isolate() { in_ns "$1" "$SIXPN" net attach --dev "$2" --program isolate --prefix "$3/112"; }
check "isolate on a1's veth" isolate a va1 "$A1"
check "isolate on a2's veth" isolate a va2 "$A2"
check "isolate on b1's veth" isolate b vb1 "$B1"
check "isolate on c1's veth" isolate c vc1 "$C1"

# --- certificates: one CA; each member's for its address; clients by common name
cd "$TMP"
ossl() { openssl "$@" >/dev/null 2>&1; }
ossl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout ca.key -out ca.pem -days 2 -subj /CN=sx-cl-ca
cert() {  # cert NAME CN EXTENSIONS
  ossl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$1.key" -out "$1.csr" -subj "/CN=$2"
  printf '%s\n' "$3" > "$1.ext"
  ossl x509 -req -in "$1.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -out "$1.pem" -days 2 -extfile "$1.ext"
}
for h in a b c; do
  cert "m$h" "etcd-$h" "subjectAltName=IP:${UNDER[$h]}
extendedKeyUsage=serverAuth,clientAuth"
done
cert root root "extendedKeyUsage=clientAuth"
cert sixpn sixpn "extendedKeyUsage=clientAuth"
cert other other "extendedKeyUsage=clientAuth"
cd - >/dev/null
check "certificates made" test -s "$TMP/sixpn.pem"

# --- etcd: three members, TLS for clients and peers
CLUSTER="ma=https://${UNDER[a]}:2380,mb=https://${UNDER[b]}:2380,mc=https://${UNDER[c]}:2380"
URLS="https://${UNDER[a]}:2379,https://${UNDER[b]}:2379,https://${UNDER[c]}:2379"
declare -A ETCD_PID
start_etcd() {
  local h=$1 ip=${UNDER[$1]}
  start_bg "etcd-$h" ip netns exec "sx-cl-$h" etcd --name "m$h" --data-dir "$TMP/etcd-$h" \
    --listen-client-urls "https://$ip:2379" --advertise-client-urls "https://$ip:2379" \
    --listen-peer-urls "https://$ip:2380" --initial-advertise-peer-urls "https://$ip:2380" \
    --initial-cluster "$CLUSTER" --initial-cluster-state new --initial-cluster-token sx-cl \
    --client-cert-auth --trusted-ca-file "$TMP/ca.pem" --cert-file "$TMP/m$h.pem" --key-file "$TMP/m$h.key" \
    --peer-client-cert-auth --peer-trusted-ca-file "$TMP/ca.pem" --peer-cert-file "$TMP/m$h.pem" --peer-key-file "$TMP/m$h.key" \
    --heartbeat-interval 50 --election-timeout 500 --log-level error
  ETCD_PID[$h]=$LAST_PID
}
stop_pid() { kill "$1" 2>/dev/null; local i; for i in $(seq 50); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.1; done; kill -9 "$1" 2>/dev/null; }
for h in a b c; do start_etcd $h; done
ctl() {  # ctl HOST USER etcdctl-args...: etcdctl from a host, as a certificate's user
  local h=$1 user=$2; shift 2
  in_ns "$h" etcdctl --endpoints "$URLS" --cacert "$TMP/ca.pem" --cert "$TMP/$user.pem" --key "$TMP/$user.key" \
    --command-timeout 5s "$@"
}
if wait_for 30 ctl a root endpoint health; then pass "the 3-member etcd cluster is healthy (TLS)"; else fail "etcd did not start"; exit 1; fi
# User auth: root administers; sixpn may read and write /sixpn/ only; "other" has a certificate but no role.
ctl a root user add root --no-password >/dev/null && ctl a root user grant-role root root >/dev/null
ctl a root role add sixpn >/dev/null && ctl a root role grant-permission sixpn --prefix=true readwrite /sixpn/ >/dev/null
ctl a root user add sixpn --no-password >/dev/null && ctl a root user grant-role sixpn sixpn >/dev/null
ctl a root user add other --no-password >/dev/null
check "etcd auth enabled" ctl a root auth enable

# --- the hosts: mesh device, sixpn serve, sixpn agent
TLS=(--etcd "$URLS" --etcd-cacert "$TMP/ca.pem" --etcd-cert "$TMP/sixpn.pem" --etcd-key "$TMP/sixpn.key")
db() { local h=$1; shift; in_ns "$h" "$SIXPN" db "$@" "${TLS[@]}"; }
declare -A AGENT_PID AGENT_LOG
start_agent() {
  local h=$1 name="agent-$1-$RANDOM"
  start_bg "$name" ip netns exec "sx-cl-$h" "$SIXPN" agent "${TLS[@]}" --db "$TMP/$h.db" \
    --host-id "${HOST[$h]}" --region "r$h" --lease-ttl $TTL --wg-dev "wgcl$h" --wg-endpoint "${UNDER[$h]}:51820" \
    --metrics 127.0.0.1:9101
  AGENT_PID[$h]=$LAST_PID
  AGENT_LOG[$h]="$TMP/$name.$$.log"
}
for h in a b c; do
  rm -f "/var/run/wireguard/wgcl$h.sock"
  start_bg "wg-$h" ip netns exec "sx-cl-$h" env WG_PROCESS_FOREGROUND=1 wireguard-go "wgcl$h"
  on_exit "rm -f /var/run/wireguard/wgcl$h.sock"
  wait_for 10 test -S "/var/run/wireguard/wgcl$h.sock" || fail "wireguard-go wgcl$h did not start"
  in_ns $h wg set "wgcl$h" private-key <(wg genkey) listen-port 51820
  ip -n "sx-cl-$h" link set "wgcl$h" up
  ip -n "sx-cl-$h" -6 route add fdaa::/16 dev "wgcl$h"
  add_addr "sx-cl-$h" fdaa::3
  "$SIXPN" db init --db "$TMP/$h.db" >/dev/null
  start_bg "serve-$h" ip netns exec "sx-cl-$h" "$SIXPN" serve --db "$TMP/$h.db" --threads 1 \
    --listen '[fdaa::3]:53' --upstream '[::1]:9'
  start_agent $h
done

ask() {  # ask NS SOURCE NAME: the AAAA answer, sorted, on one line
  in_ns "$1" dig +short +time=1 +tries=1 -b "$2" @fdaa::3 "$3" AAAA 2>/dev/null | sort | tr '\n' ' ' | sed 's/ $//'
}
rcode() { in_ns "$1" dig +time=1 +tries=1 -b "$2" @fdaa::3 "$3" AAAA 2>/dev/null | sed -n 's/.*status: \([A-Z]*\).*/\1/p'; }
answers() { [ "$(ask "$1" "$2" "$3")" = "$4" ]; }  # answers NS SOURCE NAME EXPECTED
has() { in_ns "$1" dig +short +time=1 +tries=1 -b "$2" @fdaa::3 "$3" AAAA 2>/dev/null | grep -qx "$4"; }  # has NS SOURCE NAME ADDR
declare -A SRC=([a]=$A1 [b]=$B1 [c]=$C1)
ms() { echo $(( $(date +%s%N) / 1000000 )); }

echo "-- writes through sixpn db --etcd, answered on every host"
expect_match "add-instance --etcd prints the instance" "^instance 000000c1 web 00000001 ra $A1$" \
  "$(db a add-instance --app web --region ra --address "$A1" 2>/dev/null)"
db b add-instance --app web --region rb --address "$B1" >/dev/null 2>&1
db c add-instance --app web --region rc --address "$C1" >/dev/null 2>&1
db a add-instance --app shop --region ra --address "$A2" >/dev/null 2>&1
ALL="$A1 $B1 $C1"
ALL_SORTED=$(printf '%s\n' $ALL | sort | tr '\n' ' ' | sed 's/ $//')
if wait_for 15 answers a1 "$A1" web.internal "$ALL_SORTED"; then pass "a1 on host A resolves web.internal to A, B and C"
else fail "a1 on host A resolves web.internal to A, B and C: got [$(ask a1 "$A1" web.internal)]"; fi
check "c1 on host C resolves it too" wait_for 10 answers c1 "$C1" web.internal "$ALL_SORTED"
expect_eq "org 1 does not see org 2's app" "NXDOMAIN" "$(rcode a1 "$A1" shop.internal)"
check "org 2 sees its own app" wait_for 5 answers a2 "$A2" shop.internal "$A2"
out=$(db b add-instance --app web --region rb --address "$B1" 2>&1); rc=$?
expect_match "a duplicate address is refused in one line" "^sixpn db: address $B1 is already in the cluster$" "$out"
check "  ... with a non-zero exit" test $rc -ne 0
out=$(db b add-instance --app web --region rb --id 00000003 --address "$(addr $N1 0b 9)" 2>&1); rc=$?
expect_match "a duplicate instance ID in the app is refused" "already has an instance 00000003" "$out"
expect_eq "  ... atomically: its address was not taken" "" "$(db b list 2>/dev/null | grep "$(addr $N1 0b 9)")"
out=$(db a add-instance --app 'Bad_Name' --region ra --address "$(addr $N1 0a 7)" 2>&1); rc=$?
expect_match "a bad app name is the local database's one-line error" '^sixpn db: app name "Bad_Name" is not a DNS label' "$out"
out=$(db a add-instance --app web --region ra --address "$(addr $N1 0d 31)" 2>&1)
expect_match "an instance on a host that has not joined is accepted with a warning" "warning: host 0000000d has not joined" "$out"
expect_match "db list --etcd shows the cluster" "instance 000000c1 web 00000001 ra 0000000a $A1 started" "$(db c list 2>&1)"

M1=$(addr $N1 0b 40)
db b add-instance --app web --region rb --address "$M1" --process-group worker --metadata role=primary --stopped >/dev/null 2>&1
check "process group, metadata and state travel through etcd: a stopped instance is in all.vms" \
  wait_for 10 bash -c "ip netns exec sx-cl-a1 dig +short -b $A1 @fdaa::3 all.vms.web.internal TXT | grep -q '00000040 rb'"
expect_eq "  ... and not in the plain names while stopped" "" "$(ask a1 "$A1" worker.process.web.internal)"
check "db set-state --etcd starts it" db b set-state --address "$M1" --state started
check "  ... then <group>.process answers it on host A" wait_for 10 has a1 "$A1" worker.process.web.internal "$M1"
check "  ... and <value>.<key>.kv._metadata too" wait_for 5 has a1 "$A1" primary.role.kv._metadata.web.internal "$M1"
db b remove-instance --address "$M1" >/dev/null 2>&1

echo "-- the mesh, built by the agents"
mesh_peers() { in_ns "$1" wg show "wgcl$1" peers | wc -l; }
peers_are() { [ "$(mesh_peers "$1")" = "$2" ]; }  # peers_are HOST COUNT
check "host A's mesh device has B and C as peers" wait_for 10 peers_are a 2
expect_eq "host A routes host C's swapped /48 to C" "fdaa:0:c::/48" \
  "$(in_ns a wg show wgcla allowed-ips | awk '{print $2}' | grep -x 'fdaa:0:c::/48')"
expect_eq "swap is attached to the mesh device" "swap" \
  "$(in_ns a "$SIXPN" net stats --dev wgcla | awk '$1 == "program" {print $2}')"
ping_ok() { in_ns "$1" ping -6 -c 1 -W 1 -I "$2" "$3" >/dev/null 2>&1; }
if wait_for 15 ping_ok a1 "$A1" "$C1"; then pass "a1 on host A pings c1 on host C through the mesh"
else fail "a1 on host A pings c1 on host C through the mesh"; fi
check "org 2 on host A cannot reach org 1 on host A (isolate)" bash -c "! ip netns exec sx-cl-a2 ping -6 -c 1 -W 1 -I $A2 $A1"

echo "-- propagation: a write on host B, answered on A and C"
X1=$(addr $N1 0b 20)
t0=$(ms)
db b add-instance --app web --region rb --address "$X1" >/dev/null 2>&1
seen_a=""; seen_c=""
for _ in $(seq 300); do
  [ -z "$seen_a" ] && ask a1 "$A1" web.internal | grep -q "$X1" && seen_a=$(( $(ms) - t0 ))
  [ -z "$seen_c" ] && ask c1 "$C1" web.internal | grep -q "$X1" && seen_c=$(( $(ms) - t0 ))
  [ -n "$seen_a" ] && [ -n "$seen_c" ] && break
  sleep 0.01
done
echo "   write on B -> answered on A after ${seen_a:-never} ms, on C after ${seen_c:-never} ms (the writer's process start included)"
check "the write on B is answered on A" test -n "$seen_a"
check "the write on B is answered on C" test -n "$seen_c"

echo "-- one etcd member stopped: writes and answers go on"
stop_pid "${ETCD_PID[c]}"
X2=$(addr $N1 0a 21)
check "a write with member C down succeeds" db a add-instance --app web --region ra --address "$X2"
check "  ... and is answered on host C (its agent reads from A and B)" wait_for 10 has c1 "$C1" web.internal "$X2"

echo "-- two members stopped (no quorum): last state answered, writes fail in one line"
stop_pid "${ETCD_PID[b]}"
before=$(ask a1 "$A1" web.internal)
X3=$(addr $N1 0a 22)
out=$(db a add-instance --app web --region ra --address "$X3" 2>&1); rc=$?
check "a write without quorum fails" test $rc -ne 0
expect_eq "  ... in one line" "1" "$(printf '%s\n' "$out" | wc -l)"
expect_match "  ... that names etcd" "^sixpn db: etcd " "$out"
expect_eq "host A still answers its last state" "$before" "$(ask a1 "$A1" web.internal)"
check "host C still answers (its own member is down)" test -n "$(ask c1 "$C1" web.internal)"
start_etcd b; start_etcd c
X4=$(addr $N1 0c 23)
check "quorum back: writes succeed again" wait_for 30 db c add-instance --app web --region rc --address "$X4"
for h in a b c; do
  check "  ... and host $h converges" wait_for 15 has "${h}1" "${SRC[$h]}" web.internal "$X4"
done

echo "-- an agent restarted after missed writes catches up; after a compaction it lists again"
stop_pid "${AGENT_PID[b]}"
X5=$(addr $N1 0a 24)
db a add-instance --app web --region ra --address "$X5" >/dev/null 2>&1
start_agent b
check "agent B resumed from its stored revision" wait_for 10 grep -q '"resuming"\|resuming' "${AGENT_LOG[b]}"
check "  ... and answers the write it missed" wait_for 10 has b1 "$B1" web.internal "$X5"
stop_pid "${AGENT_PID[b]}"
X6=$(addr $N1 0a 25)
db a add-instance --app web --region ra --address "$X6" >/dev/null 2>&1
db a add-instance --app web --region ra --address "$(addr $N1 0a 28)" >/dev/null 2>&1
rev=$(ctl a root endpoint status -w json | grep -o '"revision":[0-9]*' | head -1 | cut -d: -f2)
check "etcdctl compact past agent B's revision" ctl a root compact "$rev"
start_agent b
check "agent B lists again after the compaction" wait_for 10 grep -q 'listing again' "${AGENT_LOG[b]}"
check "  ... and converges" wait_for 10 has b1 "$B1" web.internal "$X6"

echo "-- host C's agent killed: its lease expires, C leaves; started again, C comes back"
kill -9 "${AGENT_PID[c]}"; wait "${AGENT_PID[c]}" 2>/dev/null
t0=$(ms)
host_is() { [ "$(sqlite3 "$TMP/$1.db" "SELECT alive FROM hosts WHERE host_id = $2")" = "$3" ]; }  # host_is DB HOST 0|1
# etcd revokes expired leases on a 500 ms tick, and the watch and the agent's commit follow: a second of slack.
check "host A's database marks C dead within the TTL and a second" wait_for $((TTL + 1)) host_is a 12 0
echo "   C marked dead on A $(( $(ms) - t0 )) ms after its agent was killed (lease TTL ${TTL} s)"
check "host B's database marks C dead" wait_for 2 host_is b 12 0
check "C leaves A's mesh peers" wait_for 3 peers_are a 1
check "C leaves B's mesh peers" wait_for 3 peers_are b 1
check "C's instances leave A's web.internal" wait_for 2 bash -c "! ip netns exec sx-cl-a1 dig +short -b $A1 @fdaa::3 web.internal AAAA | grep -qx $C1"
check "  ... and B's" wait_for 2 bash -c "! ip netns exec sx-cl-b1 dig +short -b $B1 @fdaa::3 web.internal AAAA | grep -qx $C1"
start_agent c
check "C's agent started again: A's database marks it alive" wait_for 10 host_is a 12 1
check "  ... and C is back in A's mesh" wait_for 5 peers_are a 2
check "  ... and a1 pings c1 again" wait_for 15 ping_ok a1 "$A1" "$C1"
check "C's instances are answered on A again" wait_for 5 has a1 "$A1" web.internal "$C1"

echo "-- a garbage value: counted, skipped, the rest of its revision applied"
X7=$(addr $N1 0a 26)
good=$(printf '{"version":1,"app":"web","region":"ra","id":"x7"}')
ctl a sixpn txn >/dev/null <<EOF

put /sixpn/instances/$X7 $good
put /sixpn/instances/fdaa:0:c1:0:a:0:99:1 this-is-not-json


EOF
check "the good instance of the same revision is answered" wait_for 10 has a1 "$A1" x7.vm.web.internal "$X7"
check "the garbage value is logged with its key" grep -q 'key=/sixpn/instances/fdaa:0:c1:0:a:0:99:1 .*skipped value' "${AGENT_LOG[a]}"
metric() { in_ns "$1" curl -s --max-time 2 http://127.0.0.1:9101/metrics | awk -v m="$2" '$1 == m {printf "%d", $2}'; }
expect_match "agent A counts it in /metrics" '^[1-9][0-9]*$' "$(metric a sixpn_agent_skipped_values_total)"
expect_eq "agent A's /metrics says 3 hosts are live" "3" "$(metric a sixpn_agent_live_hosts)"
expect_eq "agent A's revision is etcd's" \
  "$(ctl a root endpoint status -w json | grep -o '"revision":[0-9]*' | head -1 | cut -d: -f2)" "$(metric a sixpn_agent_revision)"
check "the agents are still running" kill -0 "${AGENT_PID[a]}" "${AGENT_PID[b]}" "${AGENT_PID[c]}"

echo "-- customers' peers through sixpn wg peer --etcd"
wgpeer() { local h=$1; shift; in_ns "$h" "$SIXPN" wg peer "$@" "${TLS[@]}"; }
wgpeer a create --network $N1 --name office --host-key "$(wg genkey | wg pubkey)" > "$TMP/office.conf" 2>&1
expect_eq "wg peer create --etcd allocates the first /120 of the peer area" "Address = fdaa:0:c1:ffff:ffff::1/120" \
  "$(grep '^Address' "$TMP/office.conf")"
check "  ... and host B answers office._peer.internal" wait_for 10 has b1 "$B1" office._peer.internal fdaa:0:c1:ffff:ffff::1
expect_match "wg peer list --etcd shows it" "^000000c1 office fdaa:0:c1:ffff:ffff::1/120 " "$(wgpeer c list 2>&1)"
out=$(wgpeer b create --network $N1 --name office --host-key "$(wg genkey | wg pubkey)" 2>&1); rc=$?
check "a second peer of that name is refused" test $rc -ne 0
check "wg peer remove --etcd" wgpeer c remove --network $N1 --name office
check "  ... and host A stops answering it" wait_for 10 bash -c "[ -z \"\$(ip netns exec sx-cl-a1 dig +short -b $A1 @fdaa::3 office._peer.internal AAAA)\" ]"

echo "-- TLS and auth"
X8=$(addr $N1 0a 27)
out=$(in_ns a "$SIXPN" db add-instance --etcd "$URLS" --etcd-cacert "$TMP/ca.pem" --app web --region ra --address "$X8" 2>&1); rc=$?
check "a writer without a client certificate is refused" test $rc -ne 0
expect_eq "  ... in one line" "1" "$(printf '%s\n' "$out" | wc -l)"
out=$(in_ns a "$SIXPN" db add-instance --etcd "$URLS" --etcd-cacert "$TMP/ca.pem" --etcd-cert "$TMP/other.pem" \
  --etcd-key "$TMP/other.key" --app web --region ra --address "$X8" 2>&1); rc=$?
check "a writer whose user has no role on /sixpn/ is refused" test $rc -ne 0
expect_match "  ... saying so" "permission denied" "$out"
expect_eq "  ... and nothing was written" "" "$(ctl a root get "/sixpn/instances/$X8" --print-value-only)"
