#!/usr/bin/env bash
# --dnstap read by real readers: fstrm_capture (fstrm-bin) takes the Frame Streams
# connection and writes the file, BIND's dnstap-read prints it. Every dig query of
# the run is there with its response (UDP and TCP, answered here or forwarded to an
# NSD upstream, whose FORWARDER_QUERY/RESPONSE pair is there too), with the
# querier's address. Then the reader goes away: answers go on, messages are dropped
# and counted (sixpn_dnstap_dropped_total on --metrics), and a new reader on the
# same socket gets the messages again (the writer reconnects).
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

ns=sxd-dnstap-$$
dir=$(mktemp -d /tmp/sxd-dnstap.XXXXXX)
on_exit "rm -rf $dir"
new_netns "$ns"
client=fdaa:0:a:0:1:0:101:2
add_addr "$ns" fdaa::3
add_addr "$ns" "$client"
ip -n "$ns" addr add 10.53.0.2/32 dev lo
in_ns() { ip netns exec "$ns" "$@"; }
ask() { in_ns dig +time=2 +tries=1 -b "$client" @fdaa::3 "$@"; }

{
  echo '$TTL 300'
  echo '@ IN SOA ns.fwd.test. hostmaster.fwd.test. 1 3600 600 86400 60'
  echo '@ IN NS ns'
  echo 'ns IN A 10.53.0.2'
  echo 'www IN A 192.0.2.80'
} > "$dir/fwd.test.zone"
nsd_conf "$dir" 10.53.0.2 53 fwd.test
start_bg "nsd.$ns" ip netns exec "$ns" nsd -d -c "$dir/nsd.conf"
check "NSD answers fwd.test" wait_for 10 in_ns dig +short +time=1 +tries=1 @10.53.0.2 www.fwd.test A

web_db "$dir/db"
sock="$dir/tap.sock"
# reader N: fstrm_capture on $sock writing $dir/runN.fstrm; READER is its PID.
reader() {
  rm -f "$sock"
  start_bg "fstrm.$1.$ns" fstrm_capture -t protobuf:dnstap.Dnstap -u "$sock" -w "$dir/run$1.fstrm"
  READER=$LAST_PID
  wait_for 5 test -S "$sock"
}
# stop_reader: SIGINT (it closes the file whole) and wait for it to exit.
stop_reader() { kill -INT "$READER"; wait_for 5 sh -c "! kill -0 $READER"; }
# connections: how many times sixpn's writer has shaken hands with a reader.
log="${TMPDIR:-/tmp}/sixpn.$ns.$$.log"
connections() { grep -c 'dnstap: writing to' "$log"; }
connected_times() { [ "$(connections)" -ge "$1" ]; }
# metric NAME: its value on --metrics.
metric() { in_ns curl -s -m 2 "http://[::1]:9153/metrics" | awk -v n="$1" '$1 == n { print $2 }'; }
dropped_at_least() { [ "$(metric sixpn_dnstap_dropped_total)" -ge "$1" ]; }

check "fstrm_capture listens on the socket" reader 1

start_bg "sixpn.$ns" ip netns exec "$ns" "$SIXPN" serve --db "$dir/db" --listen "[fdaa::3]:53" --upstream 10.53.0.2:53 \
  --threads 2 --metrics "[::1]:9153" --dnstap "unix:$sock" --io "${SIXPN_IO:-recvmmsg}"
# The probe asks a name of its own (TXT: NODATA), which may come before the writer has connected.
check "sixpn answers" wait_for 10 ask +short web.internal TXT
check "sixpn connected to the reader" wait_for 5 connected_times 1

# --- Every query with its response -------------------------------------------------------------
expect_eq "UDP, internal." "fdaa:0:a:0:1:0:101:2" "$(ask +short web.internal AAAA)"
expect_eq "TCP, internal." "fdaa:0:a:0:1:0:101:2" "$(ask +short +tcp web.internal AAAA)"
expect_match "NXDOMAIN" "status: NXDOMAIN" "$(ask nothing.internal AAAA)"
expect_eq "forwarded" "192.0.2.80" "$(ask +short www.fwd.test A)"
expect_eq "forwarded, TCP" "192.0.2.80" "$(ask +short +tcp www.fwd.test A)"
sleep 0.5  # the writer sends within a millisecond of the answer; give the reader time to write
check "the first reader stops" stop_reader
out=$(dnstap-read "$dir/run1.fstrm" 2>&1)
echo "$out" | sed 's/^/    /'
cq=$(echo "$out" | grep ' CQ ' | grep -vc 'web.internal/IN/TXT')
cr=$(echo "$out" | grep ' CR ' | grep -vc 'web.internal/IN/TXT')
expect_eq "one CLIENT_QUERY per dig query" 5 "$cq"
expect_eq "one CLIENT_RESPONSE per dig query" 5 "$cr"
for name in web.internal/IN/AAAA nothing.internal/IN/AAAA www.fwd.test/IN/A; do
  q=$(echo "$out" | grep ' CQ ' | grep -c "$name"); r=$(echo "$out" | grep ' CR ' | grep -c "$name")
  check "$name: each query has its response" test "$q" -ge 1 -a "$q" = "$r"
done
expect_match "the querier's address is in the client messages" " CQ $client" "$(echo "$out" | grep ' CQ ' | head -1)"
check "TCP queries are marked TCP" test "$(echo "$out" | grep ' CQ ' | grep -c ' TCP ')" = 2
check "the upstream query is there (FORWARDER_QUERY to NSD)" test "$(echo "$out" | grep ' FQ ' | grep -c '10.53.0.2.*www.fwd.test/IN/A')" -ge 1
check "and its response (FORWARDER_RESPONSE)" test "$(echo "$out" | grep ' FR ' | grep -c '10.53.0.2.*www.fwd.test/IN/A')" -ge 1
expect_eq "nothing dropped while the reader read" 0 "$(metric sixpn_dnstap_dropped_total)"

# --- No reader: answers go on, drops are counted ----------------------------------------------
answered=0
for i in $(seq 1 20); do [ "$(ask +short web.internal AAAA)" = "$client" ] && answered=$((answered + 1)); done
expect_eq "with no reader every query is answered" 20 "$answered"
check "the lost messages are counted on --metrics" wait_for 5 dropped_at_least 40

# --- A reader comes back: the writer reconnects --------------------------------------------------
check "a second reader listens" reader 2
check "sixpn reconnects within a few seconds" wait_for 5 connected_times 2
expect_eq "answered after the reconnection" "192.0.2.80" "$(ask +short www.fwd.test A)"
ask +short back.internal TXT >/dev/null
sleep 0.5
check "the second reader stops" stop_reader
out=$(dnstap-read "$dir/run2.fstrm" 2>&1)
check "the second reader has the queries sent after it came" test "$(echo "$out" | grep -c 'back.internal/IN/TXT')" = 2
check "and the forwarded one, a cache hit now" test "$(echo "$out" | grep -c 'www.fwd.test/IN/A')" = 2
check "and nothing from while no reader was there" test "$(echo "$out" | grep -c ' CQ ')" = 2

# --- A reader over TCP (tcp:ADDR:PORT) -------------------------------------------------------
start_bg "fstrm.tcp.$ns" ip netns exec "$ns" fstrm_capture -t protobuf:dnstap.Dnstap -a 127.0.0.1 -p 6000 -w "$dir/tcp.fstrm"
READER=$LAST_PID
check "fstrm_capture listens on TCP" wait_for 5 in_ns sh -c 'ss -ltn | grep -q 127.0.0.1:6000'
start_bg "sixpn-tcp.$ns" ip netns exec "$ns" "$SIXPN" serve --db "$dir/db" --listen "[fdaa::3]:5300" --threads 1 \
  --dnstap tcp:127.0.0.1:6000
tcplog="${TMPDIR:-/tmp}/sixpn-tcp.$ns.$$.log"
check "a second sixpn connects to it over TCP" wait_for 10 grep -q 'dnstap: writing to tcp:127.0.0.1:6000' "$tcplog"
expect_eq "and answers" "$client" "$(ask -p 5300 +short web.internal AAAA)"
sleep 0.5
check "the TCP reader stops" stop_reader
out=$(dnstap-read "$dir/tcp.fstrm" 2>&1)
check "the TCP reader has the query and its response" test "$(echo "$out" | grep -c "$client.*web.internal/IN/AAAA")" = 2

# --- Bad values: one line, non-zero exit ------------------------------------------------------
bad=$("$SIXPN" serve --db "$dir/db" --listen "[::1]:5399" --dnstap "udp:1.2.3.4:5" 2>&1); rc=$?
check "a bad --dnstap exits non-zero" test "$rc" -ne 0
expect_eq "with one line" 1 "$(echo "$bad" | wc -l)"
expect_match "saying what is wrong" "dnstap 'udp:1.2.3.4:5': expected unix:PATH or tcp:ADDR:PORT" "$bad"
