#!/usr/bin/env bash
# sixpn serve with real clients, inside namespaces this test creates:
# dig and kdig ask every name form from two organizations over UDP and TCP,
# with and without EDNS; a 200-instance app (TC over UDP, whole over TCP);
# an untrusted source (no answer); glibc through resolv.conf; a database
# change seen within 1 s; class CH (id.server, version.bind); the reverse
# zone (dig -x, getent hosts ADDRESS); start-up
# errors; SIGTERM exits 0.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
: "${SIXPN:?set SIXPN to the sixpn binary}"

NS=sx-srv-main      # the server, fdaa::3, and the dig/kdig clients on its loopback
CL=sx-srv-glibc     # a client of organization a behind a veth, for glibc
A=fdaa:0:a:0:1:0:1:2     # organization 0000000a, host 1
B=fdaa:0:b:0:2:0:1:2     # organization 0000000b, host 2
UNTRUSTED=fd00::1
G=fdaa:0:a:0:5:0:1:2     # organization a, in $CL

work=$(mktemp -d /tmp/sx-srv.XXXXXX)
on_exit "rm -rf $work"
db=$work/sixpn.db

# --- the database: org a has web (3), api (1), big (200) and a peer; org b has web (1) and secret (1).
$SIXPN db init --db "$db" >/dev/null
add() { $SIXPN db add-instance --db "$db" --app "$1" --region "$2" --address "$3" >/dev/null; }
add web ams fdaa:0:a:0:1:0:101:2
add web ams fdaa:0:a:0:2:0:102:2
add web iad fdaa:0:a:0:3:0:103:2
add api iad fdaa:0:a:0:3:0:201:2
add web lhr fdaa:0:b:0:7:0:301:2
add secret lhr fdaa:0:b:0:7:0:302:2
$SIXPN db add-peer --db "$db" --name laptop --address fdaa:0:a:0:feed:0:0:101 >/dev/null
# 200 instances in one transaction (docs/schema.md), faster than 200 processes.
{
  echo "PRAGMA foreign_keys = ON; BEGIN;"
  echo "INSERT INTO apps (network_id, name) VALUES (10, 'big');"
  for i in $(seq 1 200); do
    printf "INSERT INTO instances (app_id, id, region, host_id, address) SELECT id, '%08x', 'ams', 9, 'fdaa:0:a:0:9:0:%x:2' FROM apps WHERE network_id = 10 AND name = 'big';\n" $((0x1000 + i)) $((0x1000 + i))
  done
  echo "COMMIT;"
} | sqlite3 "$db"

# --- the namespaces
new_netns $NS
add_addr $NS fdaa::3
add_addr $NS $A
add_addr $NS $B
add_addr $NS $UNTRUSTED
new_netns $CL
ip -n $NS link add sxsrv0 type veth peer name sxsrv1 netns $CL
ip -n $CL addr add $G/128 dev lo nodad
ip -n $NS addr add fe80::1/64 dev sxsrv0 nodad
ip -n $CL addr add fe80::2/64 dev sxsrv1 nodad
ip -n $NS link set sxsrv0 up
ip -n $CL link set sxsrv1 up
ip -n $CL -6 route add fdaa::/16 via fe80::1 dev sxsrv1 src $G
ip -n $NS -6 route add $G/128 via fe80::2 dev sxsrv0
mkdir -p /etc/netns/$NS /etc/netns/$CL
on_exit "rm -rf /etc/netns/$NS /etc/netns/$CL"
echo "nameserver fdaa::3" > /etc/netns/$NS/resolv.conf
echo "nameserver fdaa::3" > /etc/netns/$CL/resolv.conf

# --- the server (no --upstream: resolv.conf names only sixpn itself, so nothing is forwarded)
# --tcp-per-source 0: the eviction check below opens 257 connections from one instance.
start_bg sixpn-srv ip netns exec $NS "$SIXPN" serve --db "$db" --threads 2 --metrics "[fdaa::3]:9153" --io "${SIXPN_IO:-recvmmsg}" \
  --tcp-per-source 0
SERVER=$LAST_PID
dq() { ip netns exec $NS dig @fdaa::3 +time=1 +tries=1 "$@" 2>&1; }
kq() { ip netns exec $NS kdig @fdaa::3 +time=1 +retry=0 "$@" 2>&1; }
short() { dq "$@" +short | sort | tr '\n' ' ' | sed 's/ $//'; }
status() { dq "$@" | sed -n 's/.*status: \([A-Z]*\).*/\1/p' | head -1; }
flags() { dq "$@" | sed -n 's/^;; flags: \([a-z ]*\);.*/\1/p'; }
answers() { dq "$@" | sed -n 's/.*ANSWER: \([0-9]*\),.*/\1/p'; }
check "the server answers within 10 s" wait_for 10 dq -b $A web.internal AAAA

WEB_A="fdaa:0:a:0:1:0:101:2 fdaa:0:a:0:2:0:102:2 fdaa:0:a:0:3:0:103:2"

echo "-- every name form, organization a (dig, UDP)"
expect_eq "web.internal AAAA: org a's three" "$WEB_A" "$(short -b $A web.internal AAAA)"
expect_eq "ams.web.internal AAAA: the region's two" "fdaa:0:a:0:1:0:101:2 fdaa:0:a:0:2:0:102:2" "$(short -b $A ams.web.internal AAAA)"
expect_eq "global.web.internal AAAA: all three" "$WEB_A" "$(short -b $A global.web.internal AAAA)"
expect_eq "00000103.vm.web.internal AAAA: one instance" "fdaa:0:a:0:3:0:103:2" "$(short -b $A 00000103.vm.web.internal AAAA)"
expect_match "regions.web.internal TXT names ams and iad" 'ams.*iad|iad.*ams' "$(short -b $A regions.web.internal TXT)"
expect_match "vms.web.internal TXT names the instances" '00000101' "$(short -b $A vms.web.internal TXT)"
expect_match "_apps.internal TXT lists org a's apps only" '^"api,big,web"$' "$(short -b $A _apps.internal TXT)"
expect_match "_instances.internal TXT lists instances" '00000201' "$(short -b $A _instances.internal TXT)"
expect_eq "laptop._peer.internal AAAA" "fdaa:0:a:0:feed::101" "$(short -b $A laptop._peer.internal AAAA)"
expect_eq "top1.nearest.of.web.internal AAAA: one answer" "1" "$(answers -b $A top1.nearest.of.web.internal AAAA)"
expect_eq "top2.nearest.of.web.internal AAAA: two answers" "2" "$(answers -b $A top2.nearest.of.web.internal AAAA)"
expect_match "internal. SOA" 'NOERROR' "$(status -b $A internal. SOA)"
expect_eq "a missing name is NXDOMAIN" "NXDOMAIN" "$(status -b $A nope.internal AAAA)"
expect_match "NXDOMAIN carries the SOA" 'AUTHORITY: 1' "$(dq -b $A nope.internal AAAA)"
expect_eq "web.internal A is NODATA" "NOERROR 0" "$(status -b $A web.internal A) $(answers -b $A web.internal A)"
# Cyclic order: each worker starts its next answer one instance further on. Of 6 answers from the
# 2 workers, one worker gave at least 3, one after another, so each of the 3 addresses came first.
firsts=$(for i in 1 2 3 4 5 6; do dq -b $A +short web.internal AAAA | head -1; done | sort -u | tr '\n' ' ' | sed 's/ $//')
expect_eq "web.internal's answers rotate: every instance comes first in turn" "$WEB_A" "$firsts"

echo "-- organization b sees only its own"
expect_eq "web.internal AAAA from org b: its one" "fdaa:0:b:0:7:0:301:2" "$(short -b $B web.internal AAAA)"
expect_eq "org b's app is NXDOMAIN for org a" "NXDOMAIN" "$(status -b $A secret.internal AAAA)"
expect_eq "org a's app is NXDOMAIN for org b" "NXDOMAIN" "$(status -b $B api.internal AAAA)"
expect_eq "org a's peer is NXDOMAIN for org b" "NXDOMAIN" "$(status -b $B laptop._peer.internal AAAA)"

echo "-- the reverse zone a.a.d.f.ip6.arpa (dig -x), answered here, never forwarded"
expect_eq "dig -x an instance of org a: its vm name" "00000101.vm.web.internal." "$(short -b $A -x fdaa:0:a:0:1:0:101:2)"
expect_eq "dig -x org a's peer: the peer's name" "laptop._peer.internal." "$(short -b $A -x fdaa:0:a:0:feed::101)"
expect_eq "... authoritative" "qr aa rd" "$(flags -b $A -x fdaa:0:a:0:1:0:101:2)"
expect_eq "dig -x an instance of org b, from org a: NXDOMAIN" "NXDOMAIN" "$(status -b $A -x fdaa:0:b:0:7:0:301:2)"
expect_match "... with the reverse zone's SOA" 'a\.a\.d\.f\.ip6\.arpa\.[[:space:]]+5[[:space:]]+IN[[:space:]]+SOA' "$(dq -b $A -x fdaa:0:b:0:7:0:301:2)"
expect_eq "dig -x an instance of org b, from org b" "00000301.vm.web.internal." "$(short -b $B -x fdaa:0:b:0:7:0:301:2)"
expect_eq "org a's /48 is an empty non-terminal (NODATA)" "NOERROR 0" \
  "$(status -b $A a.0.0.0.0.0.0.0.a.a.d.f.ip6.arpa PTR) $(answers -b $A a.0.0.0.0.0.0.0.a.a.d.f.ip6.arpa PTR)"
expect_eq "kdig -x over TCP" "00000103.vm.web.internal." "$(kq -b $A +tcp -x fdaa:0:a:0:3:0:103:2 +short)"

echo "-- header and question"
expect_eq "AA and RD set, no RA without upstreams" "qr aa rd" "$(flags -b $A web.internal AAAA)"
expect_eq "RD is copied (+nord)" "qr aa" "$(flags -b $A +nord web.internal AAAA)"
expect_match "the question's case comes back" 'WeB\.InTeRnAl\.[[:space:]]+5[[:space:]]+IN[[:space:]]+AAAA' "$(dq -b $A WeB.InTeRnAl AAAA)"
expect_eq "a name outside internal. is REFUSED without upstreams" "REFUSED" "$(status -b $A example.com A)"
expect_eq "class CH under internal. is REFUSED (as Knot)" "REFUSED" "$(status -b $A -c CH -t TXT web.internal)"
expect_match "AXFR over TCP is refused" 'Transfer failed' "$(dq -b $A +tcp internal. AXFR)"
# Class CH: which server answered and what it runs, as NSD and Knot say it; the rest REFUSED, never forwarded.
expect_eq "CH TXT id.server is this host's name" "\"$(hostname)\"" "$(short -b $A -c CH -t TXT id.server)"
expect_eq "CH TXT hostname.bind too" "\"$(hostname)\"" "$(short -b $A -c CH -t TXT HOSTNAME.BIND)"
expect_eq "CH TXT version.bind is sixpn's version" "\"sixpn $($SIXPN --version)\"" "$(short -b $A -c CH -t TXT version.bind)"
expect_match "... authoritative, TTL 0, class CH" "flags: qr aa rd;.*version\.server\.[[:space:]]+0[[:space:]]+CH[[:space:]]+TXT" \
  "$(dq -b $A -c CH -t TXT version.server | tr '\n' ' ')"
expect_eq "another CH name is REFUSED" "REFUSED" "$(status -b $A -c CH -t TXT authors.bind)"
expect_eq "... and id.server of another type" "REFUSED" "$(status -b $A -c CH -t A id.server)"

echo "-- TCP, EDNS, kdig"
expect_eq "dig +tcp from org a" "$WEB_A" "$(short -b $A +tcp web.internal AAAA)"
expect_eq "dig +tcp from org b" "fdaa:0:b:0:7:0:301:2" "$(short -b $B +tcp web.internal AAAA)"
expect_eq "dig +noedns" "$WEB_A" "$(short -b $A +noedns web.internal AAAA)"
expect_match "no OPT back without EDNS" '^[^;]*$|ADDITIONAL: 0' "$(dq -b $A +noedns web.internal AAAA | grep -E 'ADDITIONAL|OPT PSEUDO')"
expect_match "EDNS answer advertises 1232" 'EDNS: version: 0, flags:; udp: 1232' "$(dq -b $A +edns=0 web.internal AAAA)"
kshort() { kq "$@" +short | sort | tr '\n' ' ' | sed 's/ $//'; }
expect_eq "kdig UDP from org a" "$WEB_A" "$(kshort -b $A web.internal AAAA)"
expect_eq "kdig TCP from org a" "$WEB_A" "$(kshort -b $A +tcp web.internal AAAA)"
expect_eq "kdig UDP from org b" "fdaa:0:b:0:7:0:301:2" "$(kshort -b $B web.internal AAAA)"
expect_eq "kdig TCP from org b, no EDNS" "fdaa:0:b:0:7:0:301:2" "$(kshort -b $B +tcp +noedns web.internal AAAA)"
expect_match "kdig sees AA" 'Flags: qr aa rd;' "$(kq -b $A regions.web.internal TXT)"

echo "-- a 200-instance app"
big_udp=$(dq -b $A +noedns +ignore big.internal AAAA)
expect_match "UDP without EDNS: TC" 'flags: qr aa tc rd;' "$big_udp"
expect_match "UDP without EDNS: at most 512 octets" 'MSG SIZE  rcvd: ([0-9]{1,2}|[1-4][0-9]{2}|50[0-9]|51[0-2])$' "$big_udp"
big_edns=$(dq -b $A +bufsize=4096 +ignore big.internal AAAA)
expect_match "UDP with EDNS 4096: TC" 'flags: qr aa tc rd;' "$big_edns"
expect_match "UDP with EDNS 4096: at most 1232 octets" 'MSG SIZE  rcvd: ([0-9]{1,3}|1[01][0-9]{2}|12[0-2][0-9]|123[0-2])$' "$big_edns"
expect_eq "TCP: all 200" "200" "$(answers -b $A +tcp big.internal AAAA)"
expect_eq "kdig TCP: all 200" "200" "$(kq -b $A +tcp big.internal AAAA +short | wc -l | tr -d ' ')"
expect_eq "dig retries a TC answer over TCP and gets all 200" "200" "$(short -b $A big.internal AAAA | wc -w | tr -d ' ')"

echo "-- untrusted sources"
out=$(dq -b $UNTRUSTED web.internal AAAA); rc=$?
expect_match "UDP from fd00::1: no answer" 'timed out|no servers could be reached' "$out"
out=$(dq -b $UNTRUSTED +tcp web.internal AAAA)
expect_match "TCP from fd00::1: closed, no answer" 'end of file|connection reset|communications error|no servers' "$out"
expect_eq "loopback without --dev-org: no answer" "" "$(ip netns exec $NS dig @::1 +time=1 +tries=1 +short web.internal AAAA 2>/dev/null | grep -v '^;')"
sleep 1.2
metrics=$(ip netns exec $NS python3 -c 'import urllib.request; print(urllib.request.urlopen("http://[fdaa::3]:9153/metrics", timeout=2).read().decode())')
expect_match "metrics count untrusted UDP" 'sixpn_dropped_total\{reason="untrusted",transport="udp"\} [1-9]' "$metrics"
expect_match "metrics count untrusted TCP" 'sixpn_dropped_total\{reason="untrusted",transport="tcp"\} [1-9]' "$metrics"
expect_match "metrics count AAAA NOERROR" 'sixpn_queries_total\{type="AAAA",rcode="NOERROR"\} [1-9]' "$metrics"
expect_match "metrics have the latency histogram" 'sixpn_query_duration_seconds_count [1-9]' "$metrics"
expect_match "metrics have the snapshot age" 'sixpn_snapshot_age_seconds [0-9]' "$metrics"
expect_match "metrics say the version" "sixpn_build_info\{version=\"$($SIXPN --version)\"\} 1" "$metrics"

echo "-- glibc (getent through /etc/netns/$CL/resolv.conf, from organization a over a veth)"
glibc=$(ip netns exec $CL getent ahostsv6 web.internal | awk '{print $1}' | sort -u | tr '\n' ' ' | sed 's/ $//')
expect_eq "getent ahostsv6 web.internal" "$WEB_A" "$glibc"
expect_eq "getent ahostsv6 laptop._peer.internal" "fdaa:0:a:0:feed::101" \
  "$(ip netns exec $CL getent ahostsv6 laptop._peer.internal | awk '{print $1}' | sort -u)"
check "getent fails for another organization's app" bash -c "! ip netns exec $CL getent ahostsv6 secret.internal"
expect_eq "getent hosts ADDRESS (glibc's PTR lookup) names the instance" "fdaa:0:a:0:2:0:102:2 00000102.vm.web.internal" \
  "$(ip netns exec $CL getent hosts fdaa:0:a:0:2:0:102:2 | tr -s ' ')"

echo "-- a database change shows within 1 s"
add web syd fdaa:0:a:0:4:0:104:2
start=$(date +%s%N)  # from the commit (the add's own start-up is not the server's time)
seen=""
for _ in $(seq 1 40); do
  if short -b $A web.internal AAAA | grep -q fdaa:0:a:0:4:0:104:2; then seen=$(( ($(date +%s%N) - start) / 1000000 )); break; fi
  sleep 0.05
done
check "the new instance is answered within 1000 ms (took ${seen:-never} ms)" test -n "$seen" -a "${seen:-9999}" -le 1000
kill -HUP $SERVER
sleep 0.3
check "SIGHUP reloads and the server keeps answering" kill -0 $SERVER
expect_eq "after SIGHUP" "4" "$(short -b $A web.internal AAAA | wc -w | tr -d ' ')"

echo "-- TCP (RFC 7766): pipelining, split writes, eviction, idle timeout"
cat > "$work/tcp.py" <<'EOF'
import socket, struct, sys, time
SERVER, SRC = ("fdaa::3", 53), sys.argv[1]
def q(qid, name):
    m = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    for label in name.split("."):
        m += bytes([len(label)]) + label.encode()
    return m + b"\x00" + struct.pack(">HH", 28, 1)
def framed(m): return struct.pack(">H", len(m)) + m
def conn():
    return socket.create_connection(SERVER, timeout=3, source_address=(SRC, 0))
def read_replies(c, n):
    data, out = b"", []
    while len(out) < n:
        chunk = c.recv(65536)
        if not chunk: break
        data += chunk
        while len(data) >= 2 and len(data) >= 2 + struct.unpack(">H", data[:2])[0]:
            l = struct.unpack(">H", data[:2])[0]; out.append(data[2:2 + l]); data = data[2 + l:]
    return out
check = sys.argv[2]
if check == "pipelined":   # five queries in one write, five answers with their IDs
    c = conn()
    names = ["web.internal", "api.internal", "big.internal", "nope.internal", "ams.web.internal"]
    c.sendall(b"".join(framed(q(100 + i, n)) for i, n in enumerate(names)))
    got = sorted(struct.unpack(">H", r[:2])[0] for r in read_replies(c, 5))
    print(got == [100, 101, 102, 103, 104])
elif check == "split":     # one query written an octet at a time, the length prefix split too
    c = conn()
    for b in framed(q(7, "web.internal")):
        c.send(bytes([b])); time.sleep(0.002)
    r = read_replies(c, 1)
    print(len(r) == 1 and struct.unpack(">H", r[0][:2])[0] == 7 and r[0][3] & 0xf == 0 and r[0][7] > 0)
elif check == "evict":     # 256 idle connections, then one more: the oldest idle one is closed
    cs = []
    for i in range(256):
        cs.append(conn()); time.sleep(0.001)
    time.sleep(0.3)
    extra = conn(); extra.sendall(framed(q(9, "web.internal")))
    ok_new = len(read_replies(extra, 1)) == 1
    cs[0].settimeout(2)
    try: closed = cs[0].recv(10) == b""
    except ConnectionResetError: closed = True
    except socket.timeout: closed = False
    cs[-1].sendall(framed(q(10, "web.internal")))
    ok_last = len(read_replies(cs[-1], 1)) == 1
    print(ok_new and closed and ok_last)
elif check == "idle":      # a connection that says nothing is closed after 10 s
    c = conn(); c.settimeout(14); t = time.time()
    try: closed = c.recv(10) == b""
    except ConnectionResetError: closed = True
    print(closed and 9 <= time.time() - t <= 13)
EOF
tcp() { ip netns exec $NS python3 "$work/tcp.py" $A "$1" 2>&1; }
expect_eq "five pipelined queries, five answers" "True" "$(tcp pipelined)"
expect_eq "a query written one octet at a time" "True" "$(tcp split)"
expect_eq "connection 257 evicts the oldest idle one; the rest still answer" "True" "$(tcp evict)"
expect_eq "an idle connection is closed after 10 s" "True" "$(tcp idle)"

echo "-- start-up errors: one line, non-zero exit"
err=$(ip netns exec $NS "$SIXPN" serve --db "$db" --listen "[fdaa::3]:53" 2>&1 >/dev/null); rc=$?
expect_match "port in use" 'the port is in use' "$err"
check "port in use exits non-zero" test $rc -ne 0
expect_eq "port in use is one line" "1" "$(printf '%s\n' "$err" | grep -c .)"
err=$(ip netns exec $NS "$SIXPN" serve --db "$db" --listen "[fdaa::99]:5300" 2>&1 >/dev/null); rc=$?
expect_match "address not on this host" 'not on this host' "$err"
check "address not on this host exits non-zero" test $rc -ne 0
err=$(ip netns exec $NS "$SIXPN" serve --db "$work/missing.db" --listen "[fdaa::3]:5300" 2>&1 >/dev/null); rc=$?
expect_match "missing database" 'cannot serve .*missing' "$err"
check "missing database exits non-zero" test $rc -ne 0
err=$(ip netns exec $NS setpriv --reuid=65534 --regid=65534 --clear-groups "$SIXPN" serve --db "$db" --listen "[fdaa::3]:54" 2>&1 >/dev/null); rc=$?
expect_match "no permission for a low port" 'no permission' "$err"
check "no permission exits non-zero" test $rc -ne 0

echo "-- SIGTERM"
kill -TERM $SERVER
wait $SERVER; rc=$?
expect_eq "SIGTERM exits 0" "0" "$rc"
