# Shared by the bench scripts that run sixpn in a namespace of their own
# (latency.sh, profile.sh, run.sh allocations, fairness.sh, large-org.sh,
# zone-scale/serve-churn.sh). Source it.

# bench_netns NS CLIENT: a fresh namespace NS with lo up, the server's fdaa::3
# and the load's source CLIENT on it. The caller's EXIT trap deletes it.
bench_netns() {
  ip netns del "$1" 2>/dev/null || true
  ip netns add "$1"
  ip -n "$1" link set lo up
  ip -n "$1" addr add fdaa::3/128 dev lo nodad
  ip -n "$1" addr add "$2/128" dev lo nodad
}

# The server-CPU-under-churn scripts (large-org.sh, zone-scale/serve-churn.sh):
# bench_serve NS DB LOG starts `sixpn serve` ($bin) on DB in a fresh namespace NS
# (lo up, fdaa::4 on it), one worker, no upstream, and sets spid; the caller's
# EXIT trap kills $spid and deletes NS.
bench_serve() {
  ip netns del "$1" 2>/dev/null || true
  ip netns add "$1"
  ip -n "$1" link set lo up
  ip -n "$1" addr add fdaa::4/128 dev lo nodad
  ip netns exec "$1" "$bin" serve --db "$2" --threads 1 --listen '[fdaa::4]:53' --upstream '[::1]:9' > "$3" 2>&1 &
  spid=$!
}
# The server's CPU so far, in clock ticks (utime + stime).
bench_serve_cpu() { awk '{print $14 + $15}' "/proc/$spid/stat"; }
# Waits (up to 60 s) until the server's CPU stops growing: its first build is done.
bench_serve_settle() {
  local prev=-1 now hz; hz=$(getconf CLK_TCK)
  for _ in $(seq 60); do
    sleep 1; now=$(bench_serve_cpu)
    [ $((now - prev)) -lt $((hz / 10)) ] && return; prev=$now
  done
}
# bench_serve_idle SECONDS: prints the server's CPU over SECONDS with nothing happening.
bench_serve_idle() {
  local c0 c1 hz; hz=$(getconf CLK_TCK)
  c0=$(bench_serve_cpu); sleep "$1"; c1=$(bench_serve_cpu)
  echo "idle:  $(( (c1 - c0) * 1000 / hz / $1 )) ms of server CPU per second"
}
# bench_serve_perf SECONDS FREQ: with PERF=FILE set, records the server for SECONDS - 1
# in the background (call graph: PERFG, default -g; "--call-graph dwarf" sees into SQLite).
bench_serve_perf() {
  [ -n "${PERF:-}" ] || return 0
  perf record -F "$2" ${PERFG:--g} -p "$spid" -o "$PERF" -- sleep $(($1 - 1)) >/dev/null 2>&1 &
}
