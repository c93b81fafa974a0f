#!/usr/bin/env bash
# Tenant fairness (issue 15), the UDP budgets and the TCP limits: sixpn serve in namespace sxf-<pid> with small
# budgets (--instance-qps 100 --org-qps 300), dnsperf flooding from four instances of organization
# A as fast as it sends (.internal names, then random names under a zone NSD serves upstream), and a well-behaved client
# of organization B at 20 rounds a second throughout. B must lose nothing and get every answer
# right; A is limited (counted by reason, the log warns once), what goes upstream stays within A's
# budget, an instance over its budget still gets its answer over TCP after a TC, one instance
# cannot hold more than --tcp-per-source connections and A's hundreds of connections do not stop
# B's TCP queries; with --org-upstream-qps alone, A's storm sends no more than that upstream while
# A's misses past it are answered at once; and with both budgets 0 nothing is limited or counted. Every query is sent inside the namespace.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

ns=sxf-$$
dir=$(mktemp -d /tmp/sxf.XXXXXX)
on_exit "rm -rf $dir"
new_netns "$ns"
A1=fdaa:0:1:0:1:0:1:2 A2=fdaa:0:1:0:1:0:2:2 A3=fdaa:0:1:0:2:0:3:2 A4=fdaa:0:1:0:2:0:4:2
B=fdaa:0:2:0:1:0:9:2
for a in fdaa::3 $A1 $A2 $A3 $A4 $B; do add_addr "$ns" $a; done
in_ns() { ip netns exec "$ns" "$@"; }
FLOOD_SECONDS=${FAIRNESS_SECONDS:-8}
INSTANCE_QPS=100 ORG_QPS=300

# --- NSD with a wildcard zone on the namespace's loopback -----------------
nsd_wildcard "$ns" "$dir" fair.test 'hot IN AAAA 2001:db8::b'

db=$dir/sixpn.sqlite
"$SIXPN" db init --db "$db" >/dev/null
"$SIXPN" db add-instance --db "$db" --app web --region ams --address $A1 >/dev/null
"$SIXPN" db add-instance --db "$db" --app web --region ams --address $A3 >/dev/null
"$SIXPN" db add-instance --db "$db" --app web --region ams --address $B >/dev/null
for _ in $(seq 1 500); do printf 'web.internal AAAA\nams.web.internal AAAA\n_apps.internal TXT\n'; done > "$dir/internal-names"
PYTHONPATH=$here python3 -c 'import dnsask, sys; dnsask.random_names(sys.argv[1], "fair.test", 200000, 15)' "$dir/random-names"

# Organization B's client: every 50 ms its .internal name and its hot forwarded name, as a stub
# resolver asks (glibc, musl and Go all send again after a timeout): one more try after a second
# without an answer. A flood past the server's capacity overflows the kernel's receive queue of
# the socket B's datagram hashes to, before sixpn can tell A's from B's, so a first try can be
# lost; the budgets keep that rare (counted as retried) and B's name resolving (lost: both tries
# unanswered). Prints what it saw.
cat > "$dir/client.py" <<'PY'
import struct, sys, time
from dnsask import ask
server, source, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
asked = lost = wrong = retried = 0
end = time.monotonic() + seconds
while time.monotonic() < end:
    for name, want in (("web.internal", bytes.fromhex("fdaa0000000200000001000000090002")),
                       ("hot.fair.test", bytes.fromhex("20010db800000000000000000000000b"))):
        asked += 1
        data, _ = ask(server, source, name, 28, edns=False)
        if data is None:
            retried += 1
            data, _ = ask(server, source, name, 28, edns=False)
        if data is None:
            lost += 1
        elif data[3] & 0xf != 0 or data[2] & 0x02 or struct.unpack(">H", data[6:8])[0] != 1 or want not in data:
            wrong += 1
    time.sleep(0.05)
print("asked", asked, "lost", lost, "wrong", wrong, "retried", retried)
PY

metric() {  # metric PORT AWK-PATTERN: the sum of the matching samples
  in_ns curl -s "http://[fdaa::3]:$1/metrics" | awk "$2"' { n += $2 } END { print n + 0 }'
}

serve() {  # serve NAME METRICS-PORT FLAG...
  local name=$1 mport=$2; shift 2
  ip netns exec "$ns" "$SIXPN" serve --db "$db" --listen '[fdaa::3]:53' --upstream '[::1]:5300' --threads 2 \
    --metrics "[fdaa::3]:$mport" "$@" > "$dir/serve-$name.log" 2>&1 &
  PID=$!
  on_exit "kill $PID; sleep 0.2; kill -9 $PID"
  check "$name: sixpn serve $* answers" wait_for 10 in_ns dig +time=1 +tries=1 -b $B @fdaa::3 web.internal AAAA
  # B's hot forwarded name, cached before the floods.
  in_ns dig +short +time=2 +tries=1 -b $B @fdaa::3 hot.fair.test AAAA > /dev/null
}

# flood NAME NAMES-FILE RATE: dnsperf from A's four instances (RATE queries a second each, or as
# fast as dnsperf sends with RATE max) and B's client at once; then B's checks.
flood() {
  local name=$1 names=$2 rate=$3 a pids=() limit=()
  [ "$rate" = max ] || limit=(-Q "$rate")
  for a in $A1 $A2 $A3 $A4; do
    in_ns dnsperf -s fdaa::3 -a $a -d "$names" -l "$FLOOD_SECONDS" "${limit[@]}" -q 10000 -c 4 -t 1 > "$dir/dnsperf-$name-$a" 2>&1 &
    pids+=($!)
  done
  in_ns env PYTHONPATH="$here" python3 "$dir/client.py" fdaa::3 $B "$FLOOD_SECONDS" > "$dir/client-$name" 2>&1
  wait "${pids[@]}"
  read -r _ asked _ lost _ wrong _ retried < "$dir/client-$name"
  SENT=$(cat "$dir"/dnsperf-$name-* | sed -n 's/.*Queries sent: *\([0-9]*\).*/\1/p' | awk '{ n += $1 } END { print n + 0 }')
  DONE=$(cat "$dir"/dnsperf-$name-* | sed -n 's/.*Queries completed: *\([0-9]*\).*/\1/p' | awk '{ n += $1 } END { print n + 0 }')
  echo "  ($name: A's dnsperf sent $SENT queries in $FLOOD_SECONDS s and got $DONE replies; B asked $asked, retried $retried, lost $lost, wrong $wrong)"
  check "$name: the flood ran ($SENT queries)" test "$SENT" -ge $((FLOOD_SECONDS * 1000))
  expect_eq "$name: organization B lost no query (a second try allowed)" "0" "$lost"
  check "$name: at most one of B's questions in 50 needed its second try ($retried of $asked)" \
    test $((retried * 50)) -le "$asked"
  expect_eq "$name: every answer B got was right" "0" "$wrong"
}

# --- 1. Budgets on: .internal flood, then a random-subdomain storm ---------
serve limited 9161 --instance-qps $INSTANCE_QPS --org-qps $ORG_QPS --tcp-per-source 64
flood internal "$dir/internal-names" max
check "internal: A was limited (replies $DONE of $SENT)" test "$DONE" -lt "$SENT"
check "internal: limited queries counted by reason" test "$(metric 9161 '/^sixpn_limited_total\{.*transport="udp"/')" -gt 0
check "internal: over the organization's budget counted" \
  test "$(metric 9161 '/^sixpn_limited_total\{.*reason="organization"/')" -gt 0
check "internal: one in two limited queries answered with TC" test "$(metric 9161 '/^sixpn_limited_truncated_total/')" -gt 0
expect_eq "the log warns once for organization A, and only for it" "1" \
  "$(grep -c 'over its UDP query budget' "$dir/serve-limited.log")"
expect_match "... naming it" 'org=00000001' "$(grep 'over its UDP query budget' "$dir/serve-limited.log")"
check "the top organizations by rate include A" \
  bash -c "ip netns exec $ns curl -s 'http://[fdaa::3]:9161/metrics' | grep -q 'sixpn_top_organization_queries_per_second{org=\"00000001\"}'"

forwarded_before=$(metric 9161 '/^sixpn_forwarded_total/')
flood storm "$dir/random-names" max
forwarded=$(( $(metric 9161 '/^sixpn_forwarded_total/') - forwarded_before ))
# B's client forwarded nothing new (its hot name is cached); A's misses are within its budget and burst.
echo "  (storm: sixpn forwarded $forwarded of A's queries upstream; A's budget allows $((ORG_QPS * (FLOOD_SECONDS + 2))), a second of burst and one of slack)"
check "storm: what went upstream stayed within A's organization budget" test "$forwarded" -le $((ORG_QPS * (FLOOD_SECONDS + 2)))
expect_eq "storm: B's cached forwarded name is still cached" "2001:db8::b" \
  "$(in_ns dig +short +time=2 +tries=1 -b $B @fdaa::3 hot.fair.test AAAA)"

# An instance over its budget: its UDP queries are dropped or truncated; after a TC it asks over TCP.
in_ns dnsperf -s fdaa::3 -a $A1 -d "$dir/internal-names" -l 10 -Q 2000 -q 10000 -c 2 -t 1 > /dev/null 2>&1 &
over=$!
sleep 1
# Half of its limited queries are dropped (dig times out), half get TC: ask until one does.
tc=0 end=$((SECONDS + 8))
while [ $SECONDS -lt $end ]; do
  out=$(in_ns dig +ignore +time=1 +tries=1 -b $A1 @fdaa::3 web.internal AAAA 2>/dev/null)
  if printf '%s' "$out" | grep -q 'flags: qr[^;]*tc'; then tc=1; break; fi
done
check "an instance over its budget gets a TC reply over UDP" test "$tc" -eq 1
expect_eq "... and its answer over TCP" "$(printf '%s\n' fdaa:0:1:0:1:0:1:2 fdaa:0:1:0:2:0:3:2)" \
  "$(in_ns dig +short +tcp +time=2 +tries=1 -b $A1 @fdaa::3 web.internal AAAA | sort)"
wait $over

# TCP: each of A's four instances opens 100 connections and holds them: 64 each are kept
# (--tcp-per-source 64), which fills all 256; B's TCP queries still get through, evicting A's idle ones.
cat > "$dir/hold.py" <<'PY'
import socket, sys, time
source, n, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
held = []
for _ in range(n):
    try: held.append(socket.create_connection(("fdaa::3", 53), timeout=2, source_address=(source, 0)))
    except OSError: pass
time.sleep(seconds)
open_ = 0
for c in held:
    c.setblocking(False)
    try: open_ += c.recv(1) != b""
    except BlockingIOError: open_ += 1
    except OSError: pass
print(open_)
PY
holders=()
for a in $A1 $A2 $A3 $A4; do
  in_ns python3 "$dir/hold.py" $a 100 5 > "$dir/hold-$a" 2>&1 &
  holders+=($!)
done
sleep 3
tcp_ok=0
for i in 1 2 3; do
  [ "$(in_ns dig +short +tcp +time=2 +tries=1 -b $B @fdaa::3 web.internal AAAA)" = "$B" ] && tcp_ok=$((tcp_ok + 1))
done
wait "${holders[@]}"
echo "  (TCP: A's instances still held $(cat "$dir"/hold-* | tr '\n' ' ')connections after 5 s)"
expect_eq "B's TCP queries are answered while A holds every connection it may" "3" "$tcp_ok"
check "one instance holds at most --tcp-per-source connections" \
  bash -c "for f in $dir/hold-*; do [ \$(cat \$f) -le 64 ] || exit 1; done"
check "connections past --tcp-per-source counted" \
  test "$(metric 9161 '/^sixpn_limited_total\{.*reason="tcp_per_source"/')" -gt 0
check "sixpn is still running" kill -0 "$PID"

# --- 2. Upstream caps alone: A's random-subdomain storm, 100 forwarded a second at most --------
kill "$PID"; wait "$PID" 2>/dev/null
# A cache of 200 entries: A's storm answers (about 900) overflow it, B's entry must stay (--org-cache-share 50).
serve upstream 9163 --instance-qps 0 --org-qps 0 --org-upstream-qps 100 --org-upstream-inflight 50 --cache-entries 200
forwarded_before=$(metric 9163 '/^sixpn_forwarded_total/')
flood capped "$dir/random-names" 1500
forwarded=$(( $(metric 9163 '/^sixpn_forwarded_total/') - forwarded_before ))
echo "  (capped: sixpn forwarded $forwarded of A's queries upstream; --org-upstream-qps 100 allows $((100 * (FLOOD_SECONDS + 2))), a second of burst and one of slack)"
check "capped: what went upstream stayed within --org-upstream-qps" test "$forwarded" -le $((100 * (FLOOD_SECONDS + 2)))
check "capped: A's misses past the cap counted" test "$(metric 9163 '/^sixpn_limited_total\{.*reason="org_upstream"/')" -gt 0
check "capped: ... and answered at once (A's dnsperf got most replies: $DONE of $SENT)" test $((DONE * 10)) -ge $((SENT * 9))
expect_eq "capped: B's cached name is still cached after A's storm overflowed the cache" "2001:db8::b" \
  "$(in_ns dig +short +time=2 +tries=1 -b $B @fdaa::3 hot.fair.test AAAA)"
check "capped: ... answered from the cache (sixpn_forwarder_cache_entries at most 200)" \
  test "$(metric 9163 '/^sixpn_forwarder_cache_entries/')" -le 200
expect_eq "capped: B's new uncached name still goes upstream" "192.0.2.1" \
  "$(in_ns dig +short +time=2 +tries=1 -b $B @fdaa::3 after-capped.fair.test A)"
expect_match "capped: the log warns about A's upstream caps" 'over its upstream caps.*org=00000001|org=00000001.*over its upstream caps' \
  "$(grep 'upstream caps' "$dir/serve-upstream.log")"

# --- 3. Budgets 0: no limiting, nothing counted -----------------------------
# The first server stops first: both would bind port 53 with SO_REUSEPORT and share the datagrams.
kill "$PID"; wait "$PID" 2>/dev/null
serve off 9162 --instance-qps 0 --org-qps 0
flood off "$dir/internal-names" 300
expect_eq "off: A's dnsperf got every reply" "$SENT" "$DONE"
expect_eq "off: nothing counted as limited" "0" "$(metric 9162 '/^sixpn_limited/')"
expect_eq "off: no warning" "0" "$(grep -c 'over its UDP query budget' "$dir/serve-off.log")"
