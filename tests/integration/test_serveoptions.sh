#!/usr/bin/env bash
# sixpn serve --pin: each UDP worker thread (named sixpn-udp-N, as top -H
# shows it) runs on one CPU of the process's set (worker i on the i-th), the server still answers, and a set of one CPU
# (taskset) pins every worker to that CPU. --io: recvmmsg and uring both
# serve (run.sh runs test_server.sh and test_badinput.sh over uring too);
# anything else is refused. The forwarder's flags refuse values out of range.
# A wildcard listen address answers from each of the host's addresses.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
: "${SIXPN:?set SIXPN to the sixpn binary}"

NS=sx-srv-pin
A=fdaa:0:a:0:1:0:1:2
work=$(mktemp -d /tmp/sx-srv-pin.XXXXXX)
on_exit "rm -rf $work"
web_db "$work/db"
new_netns $NS
add_addr $NS fdaa::3
add_addr $NS $A

# The threads' allowed CPUs, one list per line, sorted; worker threads are the pinned ones.
affinities() { for t in /proc/"$1"/task/*; do sed -n 's/^Cpus_allowed_list:\t//p' "$t/status"; done | sort; }

start_bg pin ip netns exec $NS $SIXPN serve --db "$work/db" --listen "[fdaa::3]:53" --threads 2 --pin
pid=$LAST_PID
check "serve --pin answers" wait_for 10 ip netns exec $NS dig +short +time=1 +tries=1 -b $A @fdaa::3 web.internal AAAA
# ip netns exec execs sixpn, so $pid is the server. The process's own CPUs:
all=$(sed -n 's/^Cpus_allowed_list:\t//p' /proc/$pid/status)
first=$(taskset -pc $pid | sed 's/.*: //' | cut -d, -f1 | cut -d- -f1)
lists=$(affinities $pid)
check "a worker is pinned to the first CPU ($first)" grep -qx "$first" <<<"$lists"
single=$(printf '%s\n' "$lists" | grep -cvE '[-,]')
expect_eq "two threads (the workers) have one CPU each, the rest keep $all" 2 "$single"
expect_match "the start-up log says pin=true" "pin=true" "$(cat "${TMPDIR:-/tmp}/pin.$$.log")"
# Threads are named for top -H; the pinned ones are the workers.
names=$(cat /proc/$pid/task/*/comm | sort | tr '\n' ' ')
expect_match "threads named sixpn-udp-0, sixpn-udp-1, sixpn-tcp, sixpn-zone, sixpn-liveness ($names)" \
  "sixpn-liveness sixpn-tcp sixpn-udp-0 sixpn-udp-1 sixpn-zone" "$names"
pinned=$(for t in /proc/$pid/task/*; do grep -qP '^Cpus_allowed_list:\t\d+$' "$t/status" && cat "$t/comm"; done | sort | tr '\n' ' ')
expect_eq "the two pinned threads are the workers" "sixpn-udp-0 sixpn-udp-1 " "$pinned"

# Only CPU 0 allowed: both workers pin to it.
start_bg pin1 ip netns exec $NS taskset -c 0 $SIXPN serve --db "$work/db" --listen "[fdaa::3]:5353" --threads 2 --pin
pid1=$LAST_PID
check "serve --pin under taskset answers" wait_for 10 ip netns exec $NS dig +short +time=1 +tries=1 -p 5353 -b $A @fdaa::3 web.internal AAAA
expect_eq "every thread is on CPU 0" "0" "$(affinities $pid1 | sort -u)"

# --io
start_bg io ip netns exec $NS $SIXPN serve --db "$work/db" --listen "[fdaa::3]:5354" --threads 1 --io recvmmsg
check "serve --io recvmmsg answers" wait_for 10 ip netns exec $NS dig +short +time=1 +tries=1 -p 5354 -b $A @fdaa::3 web.internal AAAA
start_bg uring ip netns exec $NS $SIXPN serve --db "$work/db" --listen "[fdaa::3]:5355" --threads 2 --io uring --pin
check "serve --io uring --pin answers" wait_for 10 ip netns exec $NS dig +short +time=1 +tries=1 -p 5355 -b $A @fdaa::3 web.internal AAAA
expect_match "the start-up log says io=uring" "io=uring" "$(cat "${TMPDIR:-/tmp}/uring.$$.log")"
# 2,000 queries from 20 clients at once, over both workers' rings: every one answered.
for q in $(seq 1 500); do printf 'web.internal AAAA\nnope.internal AAAA\n'; done > "$work/queries"
ip netns exec $NS dnsperf -s fdaa::3 -p 5355 -a $A -d "$work/queries" -n 2 -c 20 -t 2 > "$work/dnsperf" 2>&1
expect_match "dnsperf over io_uring: 2000 sent, 2000 answered" "Queries completed: +2000 \(100.00%\)" "$(cat "$work/dnsperf")"
expect_match "... half of them NXDOMAIN" "NXDOMAIN 1000 " "$(cat "$work/dnsperf")"
out=$($SIXPN serve --db "$work/db" --listen 127.0.0.1:5355 --io epoll 2>&1); rc=$?
expect_eq "--io epoll is refused" "1 sixpn serve: --io: \"epoll\" is not recvmmsg or uring" "$rc $out"

# The forwarder's flags: out-of-range values and sizes that are not sizes are refused, one line each.
refused() {  # refused EXPECTED-LINE ARG...
  local expected=$1 out rc; shift
  out=$($SIXPN serve --db "$work/db" --listen 127.0.0.1:5356 --upstream 127.0.0.1:5399 "$@" 2>&1); rc=$?
  expect_eq "$* is refused" "1 sixpn serve: $expected" "$rc $out"
}
refused '--cache-bytes: "12X" is not a size (octets, or a number with K, M or G)' --cache-bytes 12X
refused '--cache-bytes: 1024 is not between 65536 and 68719476736 octets' --cache-bytes 1K
refused '--cache-entries: 0 is not between 1 and 10000000 entries' --cache-entries 0
refused '--upstream-timeout: 0 is not between 10 and 60000 milliseconds' --upstream-timeout 0
refused '--serve-stale: -1 is not between 0 and 2592000 seconds' --serve-stale=-1
refused '--stale-client-timeout: 70000 is not between 0 and 60000 milliseconds' --stale-client-timeout 70000
refused '--log-level: "chatty" is not trace, debug, info, notice, warning, error or critical' --log-level chatty

# --log-level warning: it serves, and writes none of its start-up info lines.
start_bg quiet ip netns exec $NS $SIXPN serve --db "$work/db" --listen "[fdaa::3]:5358" --threads 1 --log-level warning
check "serve --log-level warning answers" wait_for 10 ip netns exec $NS dig +short +time=1 +tries=1 -p 5358 -b $A @fdaa::3 web.internal AAAA
expect_eq "... and logged nothing below warning" "0" "$(grep -c ' info \| notice \| debug ' "${TMPDIR:-/tmp}/quiet.$$.log")"
expect_match "the default level logs the start-up (info)" " info sixpn" "$(cat "${TMPDIR:-/tmp}/io.$$.log")"

# A wildcard listen address stands for the host's addresses as they are at start-up (each bound
# on its own), so a UDP reply leaves from the address the client asked: dig drops any other.
start_bg wild ip netns exec $NS $SIXPN serve --db "$work/db" --listen "[::]:5357" --threads 1
check "serve --listen [::]:5357 answers on fdaa::3" wait_for 10 ip netns exec $NS dig +short +time=1 +tries=1 -p 5357 -b $A @fdaa::3 web.internal AAAA
check "... and on the instance address $A" wait_for 3 ip netns exec $NS dig +short +time=1 +tries=1 -p 5357 -b $A @$A internal SOA
expect_match "... having said which addresses it stands for" 'addresses=\[.*"\[fdaa::3\]:5357".*stands for this host.s addresses' \
  "$(cat "${TMPDIR:-/tmp}/wild.$$.log")"
expect_eq "... and bound no wildcard" "" "$(ip netns exec $NS ss -Huln 'sport = :5357' | awk '$4 ~ /^\[::\]:/ || $4 ~ /^\*:/')"
