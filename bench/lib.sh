# Shared by the bench scripts that run sixpn in a namespace of their own
# (latency.sh, profile.sh, run.sh allocations). Source it.

# bench_netns NS CLIENT: a fresh namespace NS with lo up, the server's fdaa::3
# and the load's source CLIENT on it. The caller's EXIT trap deletes it.
bench_netns() {
  ip netns del "$1" 2>/dev/null || true
  ip netns add "$1"
  ip -n "$1" link set lo up
  ip -n "$1" addr add fdaa::3/128 dev lo nodad
  ip -n "$1" addr add "$2/128" dev lo nodad
}
