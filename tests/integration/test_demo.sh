#!/usr/bin/env bash
# sixpn demo (what `make demo` runs), in a namespace of its own: it creates
# its database in an empty directory, serves it on 127.0.0.1:5353 and
# [::1]:5353, and every dig/kdig command it prints answers as its comment
# says (NOERROR with an answer, or the NXDOMAIN/BADVERS it promises). The
# forwarded example (example.com) is not run: the namespace has no upstream.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
: "${SIXPN:?set SIXPN to the sixpn binary}"

NS=sx-demo
work=$(mktemp -d /tmp/sx-demo.XXXXXX)
on_exit "rm -rf $work"
new_netns $NS
mkdir -p /etc/netns/$NS
on_exit "rm -rf /etc/netns/$NS"
# Its only nameserver is this namespace's own port 53, where nothing listens: nothing leaves it.
echo "nameserver 127.0.0.1" > /etc/netns/$NS/resolv.conf

start_bg sixpn-demo ip netns exec $NS bash -c "cd $work && exec $SIXPN demo > $work/out 2>&1"
check "the demo says it is ready within 20 s" wait_for 20 grep -q 'Ctrl-C stops it' "$work/out"
check "it created ./sixpn-demo.db" test -s "$work/sixpn-demo.db"
expect_match "it says it answers on both loopbacks" 'answering on 127\.0\.0\.1:5353 and \[::1\]:5353' "$(cat "$work/out")"

n=0
while IFS= read -r line; do
  cmd=${line%%#*}
  cmd=${cmd%"${cmd##*[![:space:]]}"}
  comment=${line#*#}
  [ "$comment" = "$line" ] && comment=""
  case "$cmd" in *example.com*) continue ;; esac
  n=$((n + 1))
  want=NOERROR
  case "$comment" in *NXDOMAIN*) want=NXDOMAIN ;; *BADVERS*) want=BADVERS ;; esac
  # shellcheck disable=SC2086  # the printed command, split into words as a shell would
  if [[ $cmd == kdig* ]]; then out=$(ip netns exec $NS $cmd +time=2 +retry=0 2>&1); else out=$(ip netns exec $NS $cmd +time=2 +tries=1 2>&1); fi
  status=$(printf '%s\n' "$out" | sed -n 's/.*status: \([A-Z]*\).*/\1/p' | head -1)
  expect_eq "[$cmd] status" "$want" "$status"
  if [ "$want" = NOERROR ]; then
    expect_match "[$cmd] has an answer" 'ANSWER: [1-9]|ANSWER SECTION' "$out"
  fi
done < <(grep -E '^[[:space:]]*k?dig ' "$work/out" | sed 's/^[[:space:]]*//')
check "the demo printed at least 10 commands to try (ran $n)" test "$n" -ge 10
