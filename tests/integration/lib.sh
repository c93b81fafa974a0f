# Shared helpers for the namespace tests. Source it; set SIXPN to the binary.
# Each test file counts its checks; run.sh adds them up.
set -u
PASSED=0
FAILED=0
CLEANUPS=()

pass() { PASSED=$((PASSED + 1)); printf '  ok   %s\n' "$*"; }
fail() { FAILED=$((FAILED + 1)); printf '  FAIL %s\n' "$*"; }

# check "description" command...: passes when the command exits 0.
check() { local d=$1; shift; if "$@" >/dev/null 2>&1; then pass "$d"; else fail "$d"; fi; }
# expect_eq "description" expected actual
expect_eq() { if [ "$2" = "$3" ]; then pass "$1"; else fail "$1: expected [$2], got [$3]"; fi; }
# expect_match "description" regex actual
expect_match() { if printf '%s' "$3" | grep -Eq -- "$2"; then pass "$1"; else fail "$1: [$3] does not match /$2/"; fi; }

# on_exit CMD: run CMD (a string) when the test file exits, last registered first.
on_exit() { CLEANUPS=("$*" "${CLEANUPS[@]+"${CLEANUPS[@]}"}"); }
run_cleanups() { local c; for c in "${CLEANUPS[@]+"${CLEANUPS[@]}"}"; do eval "$c" >/dev/null 2>&1 || true; done; }
finish() {
  run_cleanups
  echo "$PASSED $FAILED" > "${RESULT_FILE:-/dev/null}"
  printf '%s: %d passed, %d failed\n' "$(basename "$0")" "$PASSED" "$FAILED"
}
trap finish EXIT

# new_netns NAME: creates a namespace with lo up, removed at exit.
new_netns() {
  local ns=$1
  ip netns del "$ns" 2>/dev/null || true
  ip netns add "$ns"
  ip -n "$ns" link set lo up
  on_exit "ip netns del $ns"
}

# add_addr NS ADDR: puts a /128 on the namespace's loopback, usable at once.
add_addr() { ip -n "$1" addr add "$2/128" dev lo nodad; }

# start_bg NAME CMD...: starts a process in the background, killed by PID at exit.
start_bg() {
  local name=$1; shift
  "$@" > "${TMPDIR:-/tmp}/$name.$$.log" 2>&1 &
  local pid=$!
  on_exit "kill $pid; sleep 0.2; kill -9 $pid"
  LAST_PID=$pid
}

# wait_for SECONDS CMD...: polls until CMD succeeds or the time is up.
wait_for() {
  # The deadline in microseconds ($EPOCHREALTIME): bash's SECONDS counts whole seconds, so a
  # wait measured with it could end up to a second early.
  local t=$1; shift
  local end=$(( ${EPOCHREALTIME/./} + t * 1000000 ))
  while [ "${EPOCHREALTIME/./}" -lt "$end" ]; do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
  "$@" >/dev/null 2>&1
}

# web_db PATH: a new database in which organization 0000000a has one app, web,
# with one instance (fdaa:0:a:0:1:0:101:2, region ams).
web_db() {
  "$SIXPN" db init --db "$1" >/dev/null
  "$SIXPN" db add-instance --db "$1" --app web --region ams --address fdaa:0:a:0:1:0:101:2 >/dev/null
}

# nsd_conf DIR ADDRESS PORT ZONE: writes DIR/nsd.conf for an NSD that serves ZONE from
# DIR/ZONE.zone on ADDRESS:PORT, with every file of its own in DIR (run it with nsd -d -c).
nsd_conf() {
  local dir=$1 address=$2 port=$3 zone=$4
  cat > "$dir/nsd.conf" <<NSD
server:
  ip-address: $address
  port: $port
  username: ""
  chroot: ""
  zonesdir: "$dir"
  pidfile: "$dir/nsd.pid"
  database: ""
  xfrdfile: "$dir/xfrd.state"
  zonelistfile: "$dir/zone.list"
  logfile: "$dir/nsd.log"
  server-count: 1
  verbosity: 1
  # An upstream for sixpn's tests, not a public authoritative: Debian's NSD limits each /24 (or /56)
  # to 200 answers a second by default (RRL), and would drop or truncate a storm's queries.
  rrl-ratelimit: 0
  rrl-whitelist-ratelimit: 0
remote-control:
  control-enable: no
zone:
  name: $zone
  zonefile: $zone.zone
NSD
}

# nsd_wildcard NS DIR ZONE RECORD...: NSD in namespace NS on [::1]:5300 serving ZONE from DIR: its
# SOA and NS, the RECORDs given (zone-file lines), and `* IN A 192.0.2.1`; checked to answer.
nsd_wildcard() {
  local ns=$1 dir=$2 zone=$3 r; shift 3
  {
    echo '$TTL 3600'
    echo "@ IN SOA ns.$zone. hostmaster.$zone. 1 3600 600 86400 60"
    echo '@ IN NS ns'
    echo 'ns IN AAAA ::1'
    for r in "$@"; do echo "$r"; done
    echo '* IN A 192.0.2.1'
  } > "$dir/$zone.zone"
  nsd_conf "$dir" ::1 5300 "$zone"
  start_bg "nsd.$ns" ip netns exec "$ns" nsd -d -c "$dir/nsd.conf"
  check "NSD answers the wildcard zone" wait_for 10 ip netns exec "$ns" dig +short +time=1 +tries=1 -p 5300 @::1 "x.$zone" A
}

# instance_link INSTANCE-NS HOST-NS VETH ADDR: an instance namespace behind a veth from a host
# namespace: its address on lo, everything 6PN routed to the host (fe80::1), and the host
# routing the instance's /112 back over the veth.
instance_link() {
  local ns=$1 host=$2 veth=$3 address=$4
  ip -n "$host" link add "$veth" type veth peer name eth0 netns "$ns"
  ip -n "$host" addr add fe80::1/64 dev "$veth" nodad
  ip -n "$ns" addr add fe80::2/64 dev eth0 nodad
  ip -n "$host" link set "$veth" up
  ip -n "$ns" link set eth0 up
  add_addr "$ns" "$address"
  ip -n "$ns" -6 route add fdaa::/16 via fe80::1 dev eth0
  ip -n "$host" -6 route add "$address/112" via fe80::2 dev "$veth"
}
