#!/usr/bin/env bash
# What operators and orchestrators see of sixpn serve, besides DNS: GET /health and
# GET /ready on the metrics listener in each state (before the database exists with
# --wait-for-db, serving, during the --lameduck after SIGTERM), and systemd's notify
# protocol through a listener on NOTIFY_SOCKET: no READY=1 before the database loads,
# READY=1 only once the server answers (the listener asks it at that moment), WATCHDOG=1
# at half of WATCHDOG_USEC, RELOADING=1 then READY=1 around SIGHUP, STOPPING=1 on
# SIGTERM, and exit 0 after the lameduck.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
: "${SIXPN:?set SIXPN to the sixpn binary}"

NS=sxo-ops
A=fdaa:0:a:0:1:0:1:2
work=$(mktemp -d /tmp/sxo-ops.XXXXXX)
chmod 755 "$work"
on_exit "rm -rf $work"
new_netns $NS
add_addr $NS fdaa::3
add_addr $NS $A

# http PATH: "CODE BODY" from the metrics listener.
http() {
  local code
  code=$(ip netns exec $NS curl -s -m 2 -o "$work/body" -w '%{http_code}' "http://[::1]:9153$1")
  echo "$code $(head -1 "$work/body")"
}
notes() { cut -d' ' -f2- "$work/notify.log"; }
count() { grep -c -- "$1" "$work/notify.log"; }

start_bg notify ip netns exec $NS python3 "$here/notify_listener.py" "$work/notify.sock" "$work/notify.log" \
  --probe fdaa::3 $A web.internal
check "the notify listener is up" wait_for 5 test -S "$work/notify.sock"

# The database does not exist yet: with --wait-for-db sixpn waits, alive but not ready.
start_bg ops ip netns exec $NS env NOTIFY_SOCKET="$work/notify.sock" WATCHDOG_USEC=1000000 \
  $SIXPN serve --db "$work/db" --listen "[fdaa::3]:53" --threads 2 --metrics "[::1]:9153" --wait-for-db --lameduck 2000
pid=$LAST_PID
log="${TMPDIR:-/tmp}/ops.$$.log"
check "/health answers before the database exists" wait_for 10 sh -c "ip netns exec $NS curl -sf -m 1 http://[::1]:9153/health"
expect_eq "/health: 200 while waiting for the database" "200 OK" "$(http /health)"
expect_eq "/ready: 503 while the database has never loaded" "503 database not loaded" "$(http /ready)"
expect_eq "/metrics: 200 while waiting" "200" "$(http /metrics | cut -d' ' -f1)"
expect_eq "other paths: 404" "404" "$(http /nothing | cut -d' ' -f1)"
expect_eq "POST: 405" "405" "$(ip netns exec $NS curl -s -m 2 -o /dev/null -w '%{http_code}' -X POST 'http://[::1]:9153/health')"
sleep 1
expect_eq "no READY=1 while the database is missing" "0" "$(count 'READY=1')"
expect_match "systemd's status says what it waits for" "STATUS=waiting for the database $work/db" "$(notes)"
expect_match "the log says it waits" "waiting for the database" "$(cat "$log")"
check "it does not answer DNS yet" sh -c "! ip netns exec $NS dig +short +time=1 +tries=1 -b $A @fdaa::3 web.internal AAAA | grep -q '^fdaa'"

web_db "$work/db.new"
mv "$work/db.new" "$work/db"
check "READY=1 once the database appears" wait_for 10 grep -q 'READY=1' "$work/notify.log"
expect_match "the server answered at the moment READY=1 came" "READY=1.*probe=answered" "$(grep 'READY=1' "$work/notify.log" | head -1)"
expect_eq "/ready: 200 once loaded and the workers answer" "200 OK" "$(http /ready)"
expect_eq "/health: 200 while serving" "200 OK" "$(http /health)"
expect_eq "dig gets the answer" "fdaa:0:a:0:1:0:101:2" "$(ip netns exec $NS dig +short +time=1 +tries=1 -b $A @fdaa::3 web.internal AAAA)"

# Watchdog: WATCHDOG_USEC=1000000 asks for a ping every 0.5 s.
before=$(count 'WATCHDOG=1'); sleep 3; after=$(count 'WATCHDOG=1')
pings=$((after - before))
check "WATCHDOG=1 about every 0.5 s: $pings pings in 3 s (5 to 7 expected)" test "$pings" -ge 5 -a "$pings" -le 7

# SIGHUP: RELOADING=1, then READY=1 again.
kill -HUP $pid
check "RELOADING=1 on SIGHUP" wait_for 5 grep -q 'RELOADING=1|MONOTONIC_USEC=' "$work/notify.log"
expect_match "... then READY=1" "RELOADING=1\|MONOTONIC_USEC=[0-9]+ ?[^ ]*$" "$(grep -v WATCHDOG "$work/notify.log" | grep -A1 RELOADING | head -1)"
check "... then READY=1 again" wait_for 5 sh -c "grep -v WATCHDOG '$work/notify.log' | grep -A1 RELOADING | tail -1 | grep -q 'READY=1'"

# SIGTERM: STOPPING=1 at once, /health 503 and DNS still answered through the 2 s lameduck.
kill -TERM $pid
term_at=$(date +%s.%N)
check "STOPPING=1 on SIGTERM" wait_for 2 grep -q 'STOPPING=1' "$work/notify.log"
expect_eq "/health: 503 during the lameduck" "503 shutting down" "$(http /health)"
expect_eq "/ready: 503 during the lameduck" "503 shutting down" "$(http /ready)"
expect_eq "DNS still answered during the lameduck" "fdaa:0:a:0:1:0:101:2" \
  "$(ip netns exec $NS dig +short +time=1 +tries=1 -b $A @fdaa::3 web.internal AAAA)"
pings_then=$(count 'WATCHDOG=1'); sleep 0.8
expect_eq "no WATCHDOG=1 after STOPPING=1" "$pings_then" "$(count 'WATCHDOG=1')"
wait $pid; rc=$?
took=$(awk -v a="$term_at" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }')
expect_eq "exit status 0 after the lameduck" "0" "$rc"
check "it stopped after the 2 s lameduck, not before (${took} s)" awk -v t="$took" 'BEGIN { exit !(t >= 1.9 && t < 6) }'
check "/health gone after exit" sh -c "! ip netns exec $NS curl -s -m 1 http://[::1]:9153/health"

# SIGTERM while still waiting for the database: exit 0 at once, without READY=1.
: > "$work/notify.log"
start_bg wait2 ip netns exec $NS env NOTIFY_SOCKET="$work/notify.sock" \
  $SIXPN serve --db "$work/none" --listen "[fdaa::3]:53" --metrics "[::1]:9153" --wait-for-db
pid2=$LAST_PID
check "a second server waits for its database" wait_for 10 sh -c "ip netns exec $NS curl -s -m 1 http://[::1]:9153/ready | grep -q 'not loaded'"
kill -TERM $pid2; wait $pid2; rc=$?
expect_eq "SIGTERM while waiting: exit 0" "0" "$rc"
expect_eq "... and never READY=1" "0" "$(count 'READY=1')"

# Without --wait-for-db a missing database is still a start-up error, in one line.
out=$(ip netns exec $NS $SIXPN serve --db "$work/none" --listen "[fdaa::3]:53" 2>&1); rc=$?
expect_eq "no database, no --wait-for-db: exit 1, one line" "1 sixpn serve: cannot serve $work/none: $work/none is missing" "$rc $out"
out=$($SIXPN serve --db "$work/db" --lameduck=-5 2>&1); rc=$?
expect_eq "--lameduck out of range is refused" "1 sixpn serve: --lameduck: -5 is not between 0 and 600000 milliseconds" "$rc $out"
