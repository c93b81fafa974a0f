#!/usr/bin/env bash
# The Forwarder against real upstreams in a namespace: NSD authoritative for
# fwd.test on 10.53.0.2, Unbound (stub to NSD) on fd00:53::3, python3 helpers
# on 10.53.0.9 (a counting proxy, a slow one, a spoofer, one without EDNS, a
# silent one, one slow the second time it is asked), and sixpn in front
# on fdaa::3. Every query is sent inside the namespace.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

ns=sx-fwd-$$
dir=$(mktemp -d /tmp/sx-fwd.XXXXXX)
on_exit "rm -rf $dir"
new_netns "$ns"
add_addr "$ns" fdaa::3
add_addr "$ns" fd00:53::3
ip -n "$ns" addr add 10.53.0.2/32 dev lo
ip -n "$ns" addr add 10.53.0.9/32 dev lo
in_ns() { ip netns exec "$ns" "$@"; }

# --- The zone, NSD and Unbound -------------------------------------------
{
  echo '$TTL 300'
  echo '@ IN SOA ns.fwd.test. hostmaster.fwd.test. 1 3600 600 86400 2'
  echo '@ IN NS ns'
  echo 'ns IN A 10.53.0.2'
  echo 'www IN AAAA 2001:db8::80'
  echo 'www IN A 192.0.2.80'
  echo 'again IN AAAA 2001:db8::a'
  echo 'coal IN AAAA 2001:db8::c0'
  echo 'slow IN AAAA 2001:db8::51'
  echo 'spoof IN A 192.0.2.1'
  echo 'next IN AAAA 2001:db8::2'
  echo 'stale 1 IN AAAA 2001:db8::5'
  echo 'late 2 IN AAAA 2001:db8::1a7e'
  echo 'host IN AAAA 2001:db8::9'
  for i in $(seq 1 30); do
    echo "big IN TXT \"record $i $(printf 'x%.0s' $(seq 1 90))\""
  done
} > "$dir/fwd.test.zone"

nsd_conf "$dir" 10.53.0.2 53 fwd.test

cat > "$dir/unbound.conf" <<EOF
server:
  interface: fd00:53::3
  port: 53
  access-control: ::/0 allow
  access-control: 0.0.0.0/0 allow
  username: ""
  chroot: ""
  directory: "$dir"
  pidfile: "$dir/unbound.pid"
  use-syslog: no
  logfile: "$dir/unbound.log"
  do-not-query-localhost: no
  module-config: "iterator"
  qname-minimisation: no
  num-threads: 1
  local-zone: "test." nodefault
remote-control:
  control-enable: no
stub-zone:
  name: "fwd.test"
  stub-addr: 10.53.0.2
EOF

# --- python3 upstreams: count, delay or spoof, then relay to NSD --------
cat > "$dir/upstream.py" <<'EOF'
import socket, struct, sys, threading, time
mode, port, counts = sys.argv[1], int(sys.argv[2]), sys.argv[3]
target = ("10.53.0.2", 53)
seen, lock = {}, threading.Lock()
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.bind(("10.53.0.9", port))
other = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
other.bind(("10.53.0.9", 0))

def qname(q):
    i, labels = 12, []
    while q[i]:
        labels.append(q[i + 1:i + 1 + q[i]].decode().lower()); i += 1 + q[i]
    return ".".join(labels), i + 5           # name, end of question

def qtype(q):
    _, end = qname(q)
    return struct.unpack(">H", q[end - 4:end - 2])[0]

def forged(q, id_):
    _, end = qname(q)                        # an A record 192.0.2.66 for the question
    return (struct.pack(">HHHHHH", id_, 0x8180, 1, 1, 0, 0) + q[12:end]
            + b"\xc0\x0c" + struct.pack(">HHIH", 1, 1, 300, 4) + bytes([192, 0, 2, 66]))

def has_opt(q):                               # ARCOUNT: sixpn's queries carry OPT or nothing
    return struct.unpack(">H", q[10:12])[0] > 0

def formerr(q):                              # what a server that does not know EDNS answers
    _, end = qname(q)
    (qid, flags) = struct.unpack(">HH", q[:4])
    return struct.pack(">HHHHHH", qid, 0x8001 | (flags & 0x0100), 1, 0, 0, 0) + q[12:end]

def relay(q, client):
    name, _ = qname(q)
    with lock:
        key = f"{name}/{qtype(q)}"
        if mode == "noedns":
            key += "/opt" if has_opt(q) else "/plain"
        seen[key] = seen.get(key, 0) + 1
        times = seen[key]
        with open(counts + ".tmp", "w") as f:
            f.writelines(f"{k} {v}\n" for k, v in seen.items())
        import os; os.replace(counts + ".tmp", counts)
    if mode == "spoof":
        (qid,) = struct.unpack(">H", q[:2])
        sock.sendto(forged(q, qid ^ 0x5555), client)   # right port, wrong ID
        other.sendto(forged(q, qid), client)           # right ID, wrong port
        time.sleep(0.1)
    if mode == "slow":
        time.sleep(3)
    if mode == "noedns" and has_opt(q):
        sock.sendto(formerr(q), client)
        return
    if mode == "silent":
        return
    if mode == "slowagain" and times > 1:
        time.sleep(0.8)
    if name.startswith("coal"):
        time.sleep(0.5)                      # so that the clients' queries overlap
    up = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    up.settimeout(2)
    up.sendto(q, target)
    try:
        sock.sendto(up.recv(65535), client)
    except OSError:
        pass

end = time.time() + 170                      # stops by itself
sock.settimeout(1)
while time.time() < end:
    try:
        q, client = sock.recvfrom(65535)
    except socket.timeout:
        continue
    threading.Thread(target=relay, args=(q, client), daemon=True).start()
EOF

start_bg "nsd.$ns" ip netns exec "$ns" nsd -d -c "$dir/nsd.conf"
nsd_pid=$LAST_PID
start_bg "unbound.$ns" ip netns exec "$ns" unbound -d -c "$dir/unbound.conf"
unbound_pid=$LAST_PID
start_bg "count.$ns" ip netns exec "$ns" python3 "$dir/upstream.py" count 5301 "$dir/counts"
start_bg "slow.$ns" ip netns exec "$ns" python3 "$dir/upstream.py" slow 5304 "$dir/slow-counts"
start_bg "spoof.$ns" ip netns exec "$ns" python3 "$dir/upstream.py" spoof 5306 "$dir/spoof-counts"
start_bg "noedns.$ns" ip netns exec "$ns" python3 "$dir/upstream.py" noedns 5307 "$dir/noedns-counts"
start_bg "slowagain.$ns" ip netns exec "$ns" python3 "$dir/upstream.py" slowagain 5310 "$dir/slowagain-counts"
start_bg "silent.$ns" ip netns exec "$ns" python3 "$dir/upstream.py" silent 5311 "$dir/silent-counts"
check "NSD answers for fwd.test" wait_for 10 in_ns dig +short +time=1 +tries=1 @10.53.0.2 www.fwd.test AAAA
check "Unbound answers for fwd.test" wait_for 10 in_ns dig +short +time=1 +tries=1 @fd00:53::3 www.fwd.test AAAA

# --- sixpn in front -------------------------------------------------------
db=$dir/sixpn.sqlite
"$SIXPN" db init --db "$db" >/dev/null
serve() {  # serve NAME PORT METRICS-PORT UPSTREAM... [-- FLAG...]
  local name=$1 port=$2 mport=$3; shift 3
  local ups=()
  while [ $# -gt 0 ] && [ "$1" != -- ]; do ups+=(--upstream "$1"); shift; done
  [ "${1:-}" = -- ] && shift
  start_bg "sixpn-$name.$ns" ip netns exec "$ns" "$SIXPN" serve --db "$db" --listen "[fdaa::3]:$port" \
    --metrics "[fdaa::3]:$mport" "${ups[@]}" "$@"
  # Ready when it answers anything; an internal. name, so that no upstream is asked yet.
  wait_for 10 in_ns dig +time=1 +tries=1 @fdaa::3 -p "$port" internal SOA >/dev/null
}
serve counted 53 9101 10.53.0.9:5301
serve pair 5302 9102 "[fd00:53::3]:53" 10.53.0.2:53
serve slow 5303 9103 10.53.0.9:5304 10.53.0.2:53
serve spoofed 5305 9105 10.53.0.9:5306
serve noedns 5308 9108 10.53.0.9:5307
serve late 5309 9109 10.53.0.9:5310 10.53.0.9:5311
serve small 5313 9113 10.53.0.2:53 -- --cache-entries 2 --cache-bytes 1M
serve nostale 5314 9114 10.53.0.2:53 -- --serve-stale 0 --stale-client-timeout 0
serve quick 5315 9115 10.53.0.9:5311 -- --upstream-timeout 400
ask() { local port=$1; shift; in_ns dig +time=4 +tries=1 @fdaa::3 -p "$port" "$@"; }
count() { awk -v n="$1" '$1 == n { print $2 }' "$dir/counts"; }  # count NAME/TYPE-NUMBER
# metric PORT NAME: a counter of sixpn's Prometheus endpoint (sixpn_forward_NAME or sixpn_forwarder_NAME).
metric() { in_ns curl -s "http://[fdaa::3]:$1/metrics" | awk -v m="^sixpn_forward(er)?_$2\$" '$1 ~ m { print int($2) }'; }
metric_at_least() { local v; v=$(metric "$1" "$2"); [ -n "$v" ] && [ "$v" -ge "$3" ]; }
# upstream_metric PORT NAME UPSTREAM: a per-upstream figure (sixpn_forwarder_upstream_NAME{upstream="UPSTREAM"}).
upstream_metric() {
  in_ns curl -s "http://[fdaa::3]:$1/metrics" |
    awk -v m="sixpn_forwarder_upstream_$2{upstream=\"$3\"}" 'index($0, m) == 1 { print int($2) }'
}
metric_is() { [ "$(upstream_metric "$1" "$2" "$3")" = "$4" ]; }
metric_eq() { [ "$(metric "$1" "$2")" = "$3" ]; }

# A normal answer, then the same from the cache with its TTL counting down.
expect_eq "AAAA through sixpn" "2001:db8::80" "$(ask 53 +short www.fwd.test AAAA)"
expect_eq "A through sixpn" "192.0.2.80" "$(ask 53 +short WWW.Fwd.Test A)"
sleep 1.2
second=$(ask 53 +noall +answer www.fwd.test AAAA)
expect_match "the cached answer's TTL counts down" "^www\.fwd\.test\.[[:space:]]+(29[0-9])[[:space:]]" "$second"
expect_eq "the second AAAA query never reached the upstream" "1" "$(count www.fwd.test/28)"
# RD clear: REFUSED, even for a cached name, so that one organization cannot probe, unseen,
# what names another resolves through the shared cache (cache snooping).
expect_match "dig +norec of a cached outside name: REFUSED" "status: REFUSED" "$(ask 53 +norec www.fwd.test AAAA)"
expect_eq "... and it did not go upstream either" "1" "$(count www.fwd.test/28)"
expect_eq "with RD again: the cached answer" "2001:db8::80" "$(ask 53 +short www.fwd.test AAAA)"
expect_match "the client's case comes back" "WwW\.FWD\.test\." "$(ask 53 +noall +question WwW.FWD.test AAAA)"
# The 6PN's reverse zone (fdaa::/16) is sixpn's own: answered here, never sent upstream (RFC 6303).
reverse=$(ask 53 -x fdaa:0:a:0:1:0:101:2)
expect_match "dig -x of a 6PN address: sixpn's own NXDOMAIN (AA)" "status: NXDOMAIN.*flags: qr aa rd ra;" "$(echo $reverse)"
expect_eq "... and the upstream never saw it" "0" "$(grep -c 'ip6\.arpa' "$dir/counts")"

# NXDOMAIN, cached for min(SOA TTL, MINIMUM) = 2 s (RFC 2308).
expect_match "NXDOMAIN through sixpn" "status: NXDOMAIN" "$(ask 53 nope.fwd.test AAAA)"
expect_match "... again, from the cache" "status: NXDOMAIN" "$(ask 53 nope.fwd.test AAAA)"
expect_eq "the negative answer was cached" "1" "$(count nope.fwd.test/28)"
sleep 2.2
ask 53 nope.fwd.test AAAA >/dev/null
expect_eq "... for the SOA MINIMUM only" "2" "$(count nope.fwd.test/28)"

# Many clients asking the same name at once: one upstream query.
pids=()
for i in $(seq 1 20); do ask 53 +short coal.fwd.test AAAA > "$dir/coal.$i" & pids+=($!); done
wait "${pids[@]}"
expect_eq "20 clients got the answer" "20" "$(cat "$dir"/coal.* | grep -c '^2001:db8::c0$')"
expect_eq "from one upstream query" "1" "$(count coal.fwd.test/28)"

# A large answer: TC from the upstream over UDP, completed over TCP.
expect_eq "a large TXT answer is complete over TCP" "30" "$(ask 5302 +tcp +short big.fwd.test TXT | wc -l)"
expect_match "over UDP with 1232 octets it is truncated" "flags: qr tc" "$(ask 5302 +ignore +bufsize=1232 big.fwd.test TXT)"
check "the upstream's TC was retried over TCP" wait_for 3 metric_at_least 9102 tcp_retries_total 1

# A slow upstream (3 s): the next one answers within the timeout.
t0=$(date +%s%N)
expect_eq "a slow first upstream: the answer comes from the next" "2001:db8::51" "$(ask 5303 +short slow.fwd.test AAAA)"
ms=$((($(date +%s%N) - t0) / 1000000))
if [ "$ms" -lt 2900 ]; then pass "after one timeout (1.5 s), not the 3 s delay (${ms} ms)"; else fail "the slow upstream held the answer ${ms} ms"; fi

# Replies with the wrong ID or from the wrong port are ignored.
expect_eq "forged replies ignored: the genuine answer" "192.0.2.1" "$(ask 5305 +short spoof.fwd.test A)"
check "the wrong-ID reply was counted" wait_for 3 metric_at_least 9105 dropped_replies_total 1

# glibc and dig with sixpn as the namespace's only nameserver.
mkdir -p "/etc/netns/$ns"
on_exit "rm -rf /etc/netns/$ns"
echo "nameserver fdaa::3" > "/etc/netns/$ns/resolv.conf"
expect_match "getent ahostsv6 through sixpn" "^2001:db8::9[[:space:]]" "$(in_ns getent ahostsv6 host.fwd.test)"
expect_eq "dig with resolv.conf's nameserver" "2001:db8::9" "$(in_ns dig +short host.fwd.test AAAA)"

# An upstream that does not speak EDNS (RFC 6891 §7): FORMERR to a query with OPT.
noedns() { awk -v n="$1" '$1 == n { print $2 }' "$dir/noedns-counts"; }
out=$(ask 5308 www.fwd.test AAAA)
expect_match "an upstream without EDNS: the answer, asked again without OPT" "IN[[:space:]]+AAAA[[:space:]]+2001:db8::80" "$out"
expect_match "... the client's EDNS answered by sixpn (1232 octets)" "EDNS: version: 0, flags:; udp: 1232" "$out"
expect_eq "... one query with OPT (FORMERR)" "1" "$(noedns www.fwd.test/28/opt)"
expect_eq "... one without" "1" "$(noedns www.fwd.test/28/plain)"
expect_eq "remembered: the next question comes from it" "2001:db8::9" "$(ask 5308 +short host.fwd.test AAAA)"
expect_eq "... asked without OPT at once" "1" "$(noedns host.fwd.test/28/plain)"
expect_eq "... and never with it" "" "$(noedns host.fwd.test/28/opt)"
check "the fallback was counted" wait_for 3 metric_is 9108 edns_fallbacks_total 10.53.0.9:5307 1
check "the upstream is marked as without EDNS" wait_for 3 metric_is 9108 edns 10.53.0.9:5307 0
check "... and in the server's totals: one fallback" wait_for 3 metric_at_least 9108 edns_fallbacks_total 1
check "... one upstream without EDNS" wait_for 3 metric_at_least 9108 upstreams_without_edns 1

# RFC 8767 §5's client response timer (1.8 s). The first question goes to the
# first upstream (both unmeasured), which answers at once: a 2-second record.
# Once it expired, the silent second upstream (unmeasured, so it looks fastest)
# is asked first and times out at 1.5 s; the first then answers 0.8 s late.
# At 1.8 s the client gets the expired answer, TTL 30; the late answer
# refreshes the cache, so a client asking again gets it from there.
slowagain() { awk -v n="$1" '$1 == n { print $2 }' "$dir/slowagain-counts"; }
expect_match "a 2-second record" "^late\.fwd\.test\.[[:space:]]+2[[:space:]].*2001:db8::1a7e" \
  "$(ask 5309 +noall +answer late.fwd.test AAAA)"
sleep 2.2
t0=$(date +%s%N)
expect_match "expired, the upstreams slow: the stale answer on the client timer, TTL 30" \
  "^late\.fwd\.test\.[[:space:]]+30[[:space:]].*2001:db8::1a7e" "$(ask 5309 +noall +answer late.fwd.test AAAA)"
ms=$((($(date +%s%N) - t0) / 1000000))
if [ "$ms" -lt 2900 ]; then pass "... within the timer, not after twice the timeout (${ms} ms)"; else fail "the stale answer took ${ms} ms"; fi
sleep 0.9
expect_match "the late upstream answer refreshed the cache" "^late\.fwd\.test\.[[:space:]]+[0-2][[:space:]].*2001:db8::1a7e" \
  "$(ask 5309 +noall +answer late.fwd.test AAAA)"
expect_eq "... so the upstream was asked twice in all" "2" "$(slowagain late.fwd.test/28)"
check "the stale answer was counted" wait_for 3 metric_at_least 9109 stale_answers_total 1
check "... as served on the client timer" wait_for 3 metric_at_least 9109 stale_client_timer_total 1
check "... and the late answer as a refresh" wait_for 3 metric_at_least 9109 stale_refreshed_total 1

# The cache's bounds from the command line: 2 entries hold 2 of 4 answers.
for q in "www.fwd.test AAAA" "www.fwd.test A" "host.fwd.test AAAA" "again.fwd.test AAAA"; do ask 5313 +short $q >/dev/null; done
check "--cache-entries 2: the cache holds 2 answers after 4 questions" wait_for 3 metric_eq 9113 cache_entries 2
log=$(cat "${TMPDIR:-/tmp}/sixpn-small.$ns.$$.log")
expect_match "the start-up log says cache-entries=2" "cache-entries=2 " "$log"
expect_match "... and cache-bytes=1048576" "cache-bytes=1048576 " "$log"
# --upstream-timeout 400 with one silent upstream: SERVFAIL once it has had its 400 ms (no other to ask), not 1.5 s.
t0=$(date +%s%N)
expect_match "--upstream-timeout 400, a silent upstream: SERVFAIL" "status: SERVFAIL" "$(ask 5315 +tries=1 www.fwd.test AAAA)"
ms=$((($(date +%s%N) - t0) / 1000000))
if [ "$ms" -lt 1400 ]; then pass "... after 400 ms, not the default 1.5 s (${ms} ms)"; else fail "SERVFAIL took ${ms} ms"; fi
timed_out() { local v; v=$(upstream_metric 9115 timeouts_total 10.53.0.9:5311); [ -n "$v" ] && [ "$v" -ge 1 ]; }
check "... and the upstream's timeout was counted" wait_for 3 timed_out
# --serve-stale 0 (below, once the upstreams are down): SERVFAIL, not the expired answer.
expect_match "--serve-stale 0: a 1-second record while the upstream is up" "IN[[:space:]]+AAAA[[:space:]]+2001:db8::5" \
  "$(ask 5314 stale.fwd.test AAAA)"

# Upstreams going down: next upstream, then serve-stale, then SERVFAIL.
first=$(ask 5302 stale.fwd.test AAAA)
expect_match "a 1-second record while both upstreams are up" "IN[[:space:]]+AAAA[[:space:]]+2001:db8::5" "$first"
kill "$unbound_pid"
sleep 0.3
expect_eq "Unbound down: the next upstream answers" "2001:db8::2" "$(ask 5302 +short next.fwd.test AAAA)"
kill "$nsd_pid"
sleep 1.2
stale=$(ask 5302 +noall +answer stale.fwd.test AAAA)
expect_match "every upstream down: the expired answer is served stale with TTL 30" \
  "^stale\.fwd\.test\.[[:space:]]+30[[:space:]].*2001:db8::5" "$stale"
expect_match "... and says so to dig: EDE 3 (RFC 8914)" "EDE: 3 \(Stale Answer\)" "$(ask 5302 stale.fwd.test AAAA)"
t0=$(date +%s%N)
servfail=$(ask 5302 never.fwd.test AAAA)
ms=$((($(date +%s%N) - t0) / 1000000))
expect_match "nothing stale to serve: SERVFAIL" "status: SERVFAIL" "$servfail"
expect_match "... with EDE 22 (RFC 8914)" "EDE: 22 \(No Reachable Authority\)" "$servfail"
if [ "$ms" -le 3500 ]; then pass "SERVFAIL within twice the timeout (${ms} ms)"; else fail "SERVFAIL took ${ms} ms"; fi
check "serve-stale was counted" wait_for 3 metric_at_least 9102 stale_answers_total 1
expect_match "--serve-stale 0: SERVFAIL for the expired record" "status: SERVFAIL" "$(ask 5314 stale.fwd.test AAAA)"
expect_eq "... and no stale answer was counted there" "0" "$(metric 9114 stale_answers_total)"
