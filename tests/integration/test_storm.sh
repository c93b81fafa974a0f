#!/usr/bin/env bash
# A storm of uncached names (issue: the bound on upstream sockets): NSD
# answers a wildcard zone in the namespace, dnsperf from one organization's
# instance sends random names under it as fast as this machine can for 10 s,
# and a second organization's client checks throughout that its cached and
# .internal names are answered, and its uncached names are answered or get
# SERVFAIL with an Extended DNS Error within 100 ms. sixpn must never run out
# of descriptors: its open files stay under its bound, the upstream queries
# in flight under --upstream-inflight, and nothing says EMFILE. Then the same
# with `ulimit -n 256` before start. Every query is sent inside the namespace.
# The tenant budgets (--instance-qps, --org-qps) are off here: this test is about the upstream bound
# under a storm that reaches it; test_fairness.sh tests the budgets.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

ns=sx-storm-$$
dir=$(mktemp -d /tmp/sx-storm.XXXXXX)
on_exit "rm -rf $dir"
new_netns "$ns"
FLOOD=fdaa:0:1:0:1:0:1:2 CLIENT=fdaa:0:2:0:1:0:2:2
add_addr "$ns" fdaa::3
add_addr "$ns" $FLOOD
add_addr "$ns" $CLIENT
in_ns() { ip netns exec "$ns" "$@"; }
SECONDS_OF_STORM=${STORM_SECONDS:-10}

# --- NSD with a wildcard zone on the namespace's loopback -----------------
nsd_wildcard "$ns" "$dir" storm.test 'cached IN AAAA 2001:db8::c'

db=$dir/sixpn.sqlite
"$SIXPN" db init --db "$db" >/dev/null
"$SIXPN" db add-instance --db "$db" --app web --region ams --address fdaa:0:2:0:1:0:9:2 >/dev/null
PYTHONPATH=$here python3 -c 'import dnsask, sys; dnsask.random_names(sys.argv[1], "storm.test", 300000, 5)' "$dir/storm-names"

# The second organization's client: every 50 ms a cached name, an .internal name and a fresh
# uncached one, each once (no retry), for as long as the storm; prints what it saw.
cat > "$dir/client.py" <<'PY'
import random, struct, sys, time
from dnsask import ask as ask_once
server, source, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
def ask(name, qtype):
    data, ms = ask_once(server, source, name, qtype)
    if data is None:
        return None, None, None
    rcode, ancount = data[3] & 0xf, struct.unpack(">H", data[6:8])[0]
    ede = b"\x00\x0f" in data[-64:]  # an Extended DNS Error option in the OPT at the end
    return rcode, ancount, (ms, ede)
lost = {"cached": 0, "internal": 0, "uncached": 0}
asked = 0; slow = 0; worst = 0.0; servfail_without_ede = 0; wrong = 0; times = []
end = time.monotonic() + seconds
i = 0
while time.monotonic() < end:
    i += 1; asked += 1
    for kind, name, qtype in (("cached", "cached.storm.test", 28), ("internal", "web.internal", 28),
                              ("uncached", "u%d-%d.storm.test" % (random.getrandbits(24), i), 1)):
        rcode, ancount, extra = ask(name, qtype)
        if rcode is None:
            lost[kind] += 1; continue
        if kind != "uncached":
            if rcode != 0 or ancount != 1: wrong += 1
            continue
        ms, ede = extra
        worst = max(worst, ms)
        times.append(ms)
        if ms > 100: slow += 1
        if rcode == 2 and not ede: servfail_without_ede += 1
        if rcode not in (0, 2): wrong += 1
    time.sleep(0.05)
times.sort()
p95 = times[int(len(times) * 0.95)] if times else 0
print("asked", asked, "lost_cached", lost["cached"], "lost_internal", lost["internal"],
      "lost_uncached", lost["uncached"], "slow_uncached", slow, "worst_ms", int(worst), "p95_ms", int(p95),
      "servfail_without_ede", servfail_without_ede, "wrong", wrong)
PY

# storm NAME PID METRICS-PORT BOUND: the flood and the client at once, with the server's
# descriptors and upstream queries in flight sampled throughout; then the checks.
storm() {
  local name=$1 pid=$2 mport=$3 bound=$4
  local fds_before; fds_before=$(ls "/proc/$pid/fd" | wc -l)
  in_ns dnsperf -s fdaa::3 -a $FLOOD -d "$dir/storm-names" -l "$SECONDS_OF_STORM" -c 8 -q 1000 -t 2 \
    > "$dir/dnsperf-$name" 2>&1 &
  local flood=$!
  in_ns env PYTHONPATH="$here" python3 "$dir/client.py" fdaa::3 $CLIENT "$SECONDS_OF_STORM" > "$dir/client-$name" 2>&1 &
  local client=$!
  local most_fds=0 most_inflight=0 f g
  while kill -0 $flood 2>/dev/null; do
    f=$(ls "/proc/$pid/fd" 2>/dev/null | wc -l); [ "$f" -gt "$most_fds" ] && most_fds=$f
    g=$(in_ns curl -s "http://[fdaa::3]:$mport/metrics" | awk '$1 == "sixpn_forwarder_upstream_in_flight" { print int($2) }')
    [ -n "$g" ] && [ "$g" -gt "$most_inflight" ] && most_inflight=$g
    sleep 0.2
  done
  wait $flood; wait $client
  read -r _ asked _ lost_cached _ lost_internal _ lost_uncached _ slow _ worst _ p95 _ noede _ wrong < "$dir/client-$name"
  local sent; sent=$(sed -n 's/.*Queries sent: *\([0-9]*\).*/\1/p' "$dir/dnsperf-$name")
  echo "  ($name: dnsperf sent ${sent:-?} queries in ${SECONDS_OF_STORM} s; the client asked $asked rounds;"
  echo "   open files $fds_before before, $most_fds at most; upstream queries in flight at most $most_inflight of $bound;"
  echo "   uncached answers: 95th percentile ${p95} ms, slowest ${worst} ms, $slow of $asked over 100 ms;"
  echo "   UDP receive-buffer drops in the namespace $(in_ns awk '$1 == "Udp6RcvbufErrors" { print $2 }' /proc/net/snmp6),"
  echo "   sixpn socket errors $(in_ns curl -s "http://[fdaa::3]:$mport/metrics" | awk '$1 == "sixpn_socket_errors_total" { print int($2) }'))"
  expect_match "$name: the storm ran (dnsperf sent queries)" '^[0-9]{4,}$' "${sent:-0}"
  expect_eq "$name: the other organization's cached name: no loss" "0" "$lost_cached"
  expect_eq "$name: the other organization's .internal name: no loss" "0" "$lost_internal"
  expect_eq "$name: every answer the client got was right" "0" "$wrong"
  # Every one answered: the unanswered ones seen before (1 in about 170) were NSD's default response
  # rate limiting dropping sixpn's queries (its upstream timeouts and TCP retries counted them), now off
  # in nsd_conf; the upstream timeouts below show that the upstream dropped none.
  check "$name: its uncached names answered, or SERVFAIL with an EDE ($lost_uncached of $asked unanswered)" \
    test "$lost_uncached" -eq 0
  expect_eq "$name: the upstream answered every query sixpn sent (no upstream timeout)" "0" \
    "$(in_ns curl -s "http://[fdaa::3]:$mport/metrics" | awk '$1 ~ /^sixpn_forwarder_upstream_timeouts_total/ { n += $2 } END { print n + 0 }')"
  # Within 100 ms; measured as the 95th percentile, and every one within a second: this 2-core
  # machine also runs the flood and NSD (the figures above say how far the slowest one went).
  check "$name: ... within 100 ms (95th percentile ${p95} ms)" test "$p95" -le 100
  check "$name: ... and none past a second (slowest ${worst} ms)" test "$worst" -le 1000
  expect_eq "$name: no SERVFAIL without an Extended DNS Error" "0" "$noede"
  check "$name: open files stayed under the bound ($most_fds <= $fds_before + $bound)" test "$most_fds" -le $((fds_before + bound))
  check "$name: upstream queries in flight never passed --upstream-inflight ($most_inflight <= $bound)" test "$most_inflight" -le "$bound"
  check "$name: sixpn never ran out of descriptors (no EMFILE in its log)" bash -c "! grep -qi 'too many open files' $dir/serve-$name.log"
  check "$name: sixpn is still running" kill -0 "$pid"
}

after_storm() {  # every kind of query answers normally
  local name=$1
  expect_eq "$name, after: .internal" "fdaa:0:2:0:1:0:9:2" "$(in_ns dig +short +time=2 +tries=1 -b $CLIENT @fdaa::3 web.internal AAAA)"
  expect_eq "$name, after: a cached name" "2001:db8::c" "$(in_ns dig +short +time=2 +tries=1 -b $CLIENT @fdaa::3 cached.storm.test AAAA)"
  expect_eq "$name, after: an uncached name goes upstream again" "192.0.2.1" \
    "$(in_ns dig +short +time=2 +tries=1 -b $CLIENT @fdaa::3 after-$name.storm.test A)"
  expect_eq "$name, after: over TCP" "fdaa:0:2:0:1:0:9:2" "$(in_ns dig +short +tcp +time=2 +tries=1 -b $CLIENT @fdaa::3 web.internal AAAA)"
}

# --- 1. An explicit bound ---------------------------------------------------
BOUND=64
ip netns exec "$ns" "$SIXPN" serve --db "$db" --listen '[fdaa::3]:53' --upstream '[::1]:5300' --threads 2 --instance-qps 0 --org-qps 0 \
  --metrics '[fdaa::3]:9153' --upstream-inflight $BOUND > "$dir/serve-bounded.log" 2>&1 &
pid=$!; on_exit "kill $pid; sleep 0.2; kill -9 $pid"
check "sixpn serve --upstream-inflight $BOUND answers" wait_for 10 in_ns dig +time=1 +tries=1 -b $CLIENT @fdaa::3 web.internal AAAA
expect_match "it logs its descriptor budget" "open-file limit [0-9]+.*$BOUND upstream queries in flight" "$(cat "$dir/serve-bounded.log")"
in_ns dig +short +time=2 +tries=1 -b $CLIENT @fdaa::3 cached.storm.test AAAA >/dev/null  # into the cache
storm bounded $pid 9153 $BOUND
refused=$(in_ns curl -s "http://[fdaa::3]:9153/metrics" | awk '$1 == "sixpn_forwarder_no_slot_total" { print int($2) }')
echo "  (questions refused for want of an upstream slot: ${refused:-0})"
expect_match "sixpn_forwarder_no_slot_total counted the questions past the bound" '^[1-9][0-9]*$' "${refused:-0}"
after_storm bounded
kill $pid; wait $pid 2>/dev/null

# --- 2. ulimit -n 256: sized from the limit ------------------------------------
ip netns exec "$ns" bash -c "ulimit -n 256 && exec $SIXPN serve --db $db --listen '[fdaa::3]:53' --upstream '[::1]:5300' --threads 2 --instance-qps 0 --org-qps 0 --metrics '[fdaa::3]:9154'" \
  > "$dir/serve-ulimit.log" 2>&1 &
pid=$!; on_exit "kill $pid; sleep 0.2; kill -9 $pid"
check "with ulimit -n 256, sixpn serve starts and answers" wait_for 10 in_ns dig +time=1 +tries=1 -b $CLIENT @fdaa::3 web.internal AAAA
budget=$(grep -o 'open-file limit 256[^"]*' "$dir/serve-ulimit.log" | head -1)
echo "  ($budget)"
BOUND=$(printf '%s' "$budget" | sed -n 's/.* \([0-9]*\) upstream queries in flight.*/\1/p')
expect_match "it sizes the upstream bound from the limit of 256" '^[0-9]+$' "$BOUND"
in_ns dig +short +time=2 +tries=1 -b $CLIENT @fdaa::3 cached.storm.test AAAA >/dev/null
storm ulimit $pid 9154 "${BOUND:-0}"
after_storm ulimit
kill $pid; wait $pid 2>/dev/null

out=$(ip netns exec "$ns" bash -c "ulimit -n 64 && exec $SIXPN serve --db $db --listen '[fdaa::3]:5399' --upstream '[::1]:5300' --threads 8" 2>&1); rc=$?
expect_match "with ulimit -n 64 and 8 threads it refuses to start, and says why" "open-file limit is 64.*raise it" "$out"
expect_eq "  ... in one line" "1" "$(printf '%s\n' "$out" | grep -vc '^$')"
check "  ... with a non-zero exit" test "$rc" -ne 0
