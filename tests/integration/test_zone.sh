#!/usr/bin/env bash
# sixpn db: the exact commands and flags operators and tests rely on; bad input
# exits non-zero with one line on stderr and leaves the database as it was.
# A schema version 1 database is migrated in place and keeps answering. Then
# the names that process groups, stopped instances, metadata and dead hosts
# make, asked with dig and through glibc (getent) of a server in namespaces
# this test creates.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

dir=$(mktemp -d /tmp/sx-zone.XXXXXX)
on_exit "rm -rf $dir"
db=$dir/zone.sqlite

check "db init creates a database" "$SIXPN" db init --db "$db"
expect_eq "it is in WAL mode" "wal" "$(sqlite3 "$db" 'PRAGMA journal_mode')"
expect_eq "with schema version 3" "3" "$(sqlite3 "$db" 'PRAGMA user_version')"
check "db init again is harmless" "$SIXPN" db init --db "$db"

check "add-instance" "$SIXPN" db add-instance --db "$db" --app web --region ams --address fdaa:0:2a:0:b:1234:abcd:2
check "add-instance with --id" "$SIXPN" db add-instance --db "$db" --app Web --region IAD --address fdaa:0:2a:0:c::2 --id first
check "add-peer" "$SIXPN" db add-peer --db "$db" --name laptop --address fdaa:0:2a:0:ff::101 \
  --public-key xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=
check "another organization" "$SIXPN" db add-instance --db "$db" --app web --region ams --address fdaa:0:2b:0:b::2

expected="org 0000002a 0000002a
instance 0000002a web 1234abcd ams 0000000b fdaa:0:2a:0:b:1234:abcd:2 started
instance 0000002a web first iad 0000000c fdaa:0:2a:0:c::2 started
peer 0000002a laptop fdaa:0:2a:0:ff::101 xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg="
expect_eq "list --network shows one organization" "$expected" "$("$SIXPN" db list --db "$db" --network 2a)"
expect_eq "list shows both" "5" "$("$SIXPN" db list --db "$db" | grep -c '^instance\|^org')"

before=$("$SIXPN" db list --db "$db")
sum_before=$(sqlite3 "$db" .dump | md5sum)
bad() {  # bad DESCRIPTION ARGS...: must fail, with exactly one line on stderr
  local d=$1; shift
  local err rc
  err=$("$SIXPN" db "$@" --db "$db" 2>&1 >/dev/null); rc=$?
  if [ "$rc" -eq 1 ] && [ "${err#sixpn db: }" != "$err" ] && [ "$(printf '%s\n' "$err" | wc -l)" -eq 1 ] && [ -n "$err" ]; then
    pass "$d fails in one line: $err"
  else
    fail "$d: exit $rc, stderr [$err]"
  fi
}
bad "an address outside fdaa::/16" add-instance --app web --region ams --address 2001:db8::1
bad "network ID 0" add-instance --app web --region ams --address fdaa:0:0:0:1::1
bad "an app name that is not a label" add-instance --app 'we b' --region ams --address fdaa:0:2a:0:d::1
bad "a region that is not a label" add-instance --app web --region ams- --address fdaa:0:2a:0:d::1
bad "a duplicate address" add-instance --app api --region ams --address fdaa:0:2a:0:b:1234:abcd:2
bad "a duplicate ID" add-instance --app web --region ams --address fdaa:0:2a:0:d::1 --id first
bad "removing an unknown instance" remove-instance --address fdaa:0:2a:0:d::1
bad "a peer name that is not a label" add-peer --name 'lap.top' --address fdaa:0:2a:0:ff::102
bad "a duplicate peer" add-peer --name laptop --address fdaa:0:2a:0:ff::103
bad "a bad public key" add-peer --name phone --address fdaa:0:2a:0:ff::104 --public-key nope
bad "removing an unknown peer" remove-peer --name phone --network 2a
bad "a bad network ID" list --network zz
expect_eq "bad input left the database as it was" "$before" "$("$SIXPN" db list --db "$db")"
expect_eq "... byte for byte" "$sum_before" "$(sqlite3 "$db" .dump | md5sum)"

err=$("$SIXPN" db add-instance --db "$dir/none.sqlite" --app web --region ams --address fdaa:0:1::1 2>&1 >/dev/null)
expect_match "a missing database says how to create it" "db init" "$err"

check "remove-instance" "$SIXPN" db remove-instance --db "$db" --address fdaa:0:2a:0:c::2
check "remove-peer" "$SIXPN" db remove-peer --db "$db" --name laptop --network 0x2a
expect_eq "what is left" "org 0000002a 0000002a
instance 0000002a web 1234abcd ams 0000000b fdaa:0:2a:0:b:1234:abcd:2 started" "$("$SIXPN" db list --db "$db" --network 2a)"

echo "-- process groups, stopped instances, metadata, set-state"
check "add-instance --process-group --metadata (twice)" "$SIXPN" db add-instance --db "$db" --app web --region iad \
  --address fdaa:0:2a:0:c::3 --id w3 --process-group worker --metadata role=primary --metadata Zone=Z1
check "add-instance --stopped" "$SIXPN" db add-instance --db "$db" --app web --region syd --address fdaa:0:2a:0:d::4 --id w4 --stopped
expect_eq "the group and metadata are stored (labels lower-cased)" "worker|role=primary,zone=z1" \
  "$(sqlite3 "$db" "SELECT i.process_group || '|' || group_concat(m.key || '=' || m.value, ',') FROM instances i JOIN metadata m ON m.address = i.address WHERE i.address = 'fdaa:0:2a:0:c::3' ORDER BY m.key")"
expect_eq "the stopped one is listed stopped" "instance 0000002a web w4 syd 0000000d fdaa:0:2a:0:d::4 stopped" \
  "$("$SIXPN" db list --db "$db" --network 2a | grep 'fdaa:0:2a:0:d::4')"
check "set-state started" "$SIXPN" db set-state --db "$db" --address fdaa:0:2a:0:d::4 --state started
expect_eq "... is started" "1" "$(sqlite3 "$db" "SELECT started FROM instances WHERE address = 'fdaa:0:2a:0:d::4'")"
check "set-state stopped" "$SIXPN" db set-state --db "$db" --address fdaa:0:2a:0:d::4 --state stopped
expect_eq "... is stopped" "0" "$(sqlite3 "$db" "SELECT started FROM instances WHERE address = 'fdaa:0:2a:0:d::4'")"
before=$("$SIXPN" db list --db "$db")
sum_before=$(sqlite3 "$db" .dump | md5sum)
bad "a process group that is not a label" add-instance --app web --region ams --address fdaa:0:2a:0:d::5 --process-group 'a b'
bad "metadata without =" add-instance --app web --region ams --address fdaa:0:2a:0:d::5 --metadata role
bad "a metadata value that is not a label" add-instance --app web --region ams --address fdaa:0:2a:0:d::5 --metadata role=a.b
bad "a metadata key given twice" add-instance --app web --region ams --address fdaa:0:2a:0:d::5 --metadata k=a --metadata k=b
bad "the reserved region process" add-instance --app web --region process --address fdaa:0:2a:0:d::5
bad "set-state to something else" set-state --address fdaa:0:2a:0:d::4 --state paused
bad "set-state of an unknown instance" set-state --address fdaa:0:2a:0:d::99 --state started
expect_eq "bad input left the database as it was" "$before" "$("$SIXPN" db list --db "$db")"
expect_eq "... byte for byte" "$sum_before" "$(sqlite3 "$db" .dump | md5sum)"

echo "-- a schema version 1 database is migrated in place by the first writer"
old=$dir/v1.sqlite
sqlite3 "$old" >/dev/null <<'SQL'
PRAGMA journal_mode = WAL;
CREATE TABLE orgs (network_id INTEGER PRIMARY KEY CHECK (network_id BETWEEN 1 AND 4294967295), name TEXT NOT NULL UNIQUE);
CREATE TABLE apps (id INTEGER PRIMARY KEY, network_id INTEGER NOT NULL REFERENCES orgs (network_id) ON DELETE CASCADE,
                   name TEXT NOT NULL, UNIQUE (network_id, name));
CREATE TABLE instances (app_id INTEGER NOT NULL REFERENCES apps (id) ON DELETE CASCADE, id TEXT NOT NULL, region TEXT NOT NULL,
                        host_id INTEGER NOT NULL CHECK (host_id BETWEEN 0 AND 4294967295), address TEXT NOT NULL UNIQUE,
                        started INTEGER NOT NULL DEFAULT 1 CHECK (started IN (0, 1)), UNIQUE (app_id, id));
CREATE INDEX instances_in_order ON instances (app_id, region, id, host_id, address, started);
CREATE TABLE peers (network_id INTEGER NOT NULL REFERENCES orgs (network_id) ON DELETE CASCADE, name TEXT NOT NULL,
                    address TEXT NOT NULL UNIQUE, public_key TEXT, PRIMARY KEY (network_id, name));
PRAGMA user_version = 1;
INSERT INTO orgs VALUES (42, '0000002a');
INSERT INTO apps VALUES (1, 42, 'old');
INSERT INTO instances VALUES (1, 'o1', 'ams', 11, 'fdaa:0:2a:0:b:0:1:2', 1);
SQL
v1_list=$("$SIXPN" db list --db "$old")
expect_eq "list reads it (and migrates it)" "org 0000002a 0000002a
instance 0000002a old o1 ams 0000000b fdaa:0:2a:0:b:0:1:2 started" "$v1_list"
expect_eq "it is version 3 now" "3" "$(sqlite3 "$old" 'PRAGMA user_version')"
expect_eq "its instance is in process group app" "app" "$(sqlite3 "$old" "SELECT process_group FROM instances")"
check "a new-style instance goes in" "$SIXPN" db add-instance --db "$old" --app old --region ams --address fdaa:0:2a:0:b:0:2:2 --process-group worker

echo "-- the new names, from a server in a namespace (dig; glibc through resolv.conf)"
NS=sx-zone-dns      # the server on fdaa::3, and dig's clients on its loopback
CL=sx-zone-cli      # a client of organization 2a behind a veth, for glibc
A=fdaa:0:2a:0:e:0:99:1      # organization 2a
B=fdaa:0:2b:0:e:0:99:1      # organization 2b
G=fdaa:0:2a:0:5:0:1:2       # organization 2a, in $CL
"$SIXPN" db add-instance --db "$db" --app web --region ams --address fdaa:0:2a:0:f::5 --id w5 --process-group worker --metadata role=replica >/dev/null
"$SIXPN" db add-instance --db "$db" --app web --region ams --address fdaa:0:2b:0:f::6 --id x6 --metadata role=primary >/dev/null
new_netns $NS
new_netns $CL
add_addr $NS fdaa::3
add_addr $NS $A
add_addr $NS $B
ip -n $NS link add sxzone0 type veth peer name sxzone1 netns $CL
ip -n $CL addr add $G/128 dev lo nodad
ip -n $NS addr add fe80::1/64 dev sxzone0 nodad
ip -n $CL addr add fe80::2/64 dev sxzone1 nodad
ip -n $NS link set sxzone0 up
ip -n $CL link set sxzone1 up
ip -n $CL -6 route add fdaa::/16 via fe80::1 dev sxzone1 src $G
ip -n $NS -6 route add $G/128 via fe80::2 dev sxzone0
mkdir -p /etc/netns/$NS /etc/netns/$CL
on_exit "rm -rf /etc/netns/$NS /etc/netns/$CL"
# resolv.conf names only sixpn itself: nothing is forwarded anywhere.
echo "nameserver fdaa::3" > /etc/netns/$NS/resolv.conf
echo "nameserver fdaa::3" > /etc/netns/$CL/resolv.conf
start_bg sx-zone-serve ip netns exec $NS "$SIXPN" serve --db "$db" --threads 1
dq() { ip netns exec $NS dig @fdaa::3 +time=1 +tries=1 "$@" 2>&1; }
short() { dq "$@" +short | sort | tr '\n' ' ' | sed 's/ $//'; }
status() { dq "$@" | sed -n 's/.*status: \([A-Z]*\).*/\1/p' | head -1; }
answers() { dq "$@" | sed -n 's/.*ANSWER: \([0-9]*\),.*/\1/p'; }
check "the server answers within 10 s" wait_for 10 dq -b $A web.internal AAAA

expect_eq "worker.process.web.internal AAAA" "fdaa:0:2a:0:c::3 fdaa:0:2a:0:f::5" "$(short -b $A worker.process.web.internal AAAA)"
expect_eq "app.process.web.internal AAAA" "fdaa:0:2a:0:b:1234:abcd:2" "$(short -b $A app.process.web.internal AAAA)"
expect_eq "another organization's group: its own" "NXDOMAIN" "$(status -b $B worker.process.web.internal AAAA)"
expect_eq "primary.role.kv._metadata.web.internal AAAA" "fdaa:0:2a:0:c::3" "$(short -b $A primary.role.kv._metadata.web.internal AAAA)"
expect_eq "... from organization 2b: its own" "fdaa:0:2b:0:f::6" "$(short -b $B primary.role.kv._metadata.web.internal AAAA)"
expect_eq "z1.zone.kv._metadata.web.internal from 2b: NXDOMAIN" "NXDOMAIN" "$(status -b $B z1.zone.kv._metadata.web.internal AAAA)"
expect_match "vms.web.internal leaves the stopped one out" '^"1234abcd ams,w5 ams,w3 iad"$' "$(short -b $A vms.web.internal TXT)"
expect_match "all.vms.web.internal lists it" 'w4 syd' "$(short -b $A all.vms.web.internal TXT)"
expect_eq "all.regions.web.internal" '"ams,iad,syd"' "$(short -b $A all.regions.web.internal TXT)"
expect_match "all._instances.internal" 'instance=w4,app=web,ip=fdaa:0:2a:0:d::4,region=syd' "$(short -b $A all._instances.internal TXT)"
for name in web.internal worker.process.web.internal process.web.internal primary.role.kv._metadata.web.internal \
            role.kv._metadata.web.internal kv._metadata.web.internal _metadata.web.internal all.vms.web.internal \
            all._instances.internal w3.vm.web.internal top1.nearest.of.web.internal; do
  expect_eq "$name A is NODATA" "NOERROR 0" "$(status -b $A $name A) $(answers -b $A $name A)"
done

# A dead host (the cluster agent's hosts row): its instances leave the lists, keep their own names.
sqlite3 "$db" "INSERT INTO hosts (host_id, alive) VALUES (12, 0)"
check "a dead host's instance leaves web.internal" wait_for 2 sh -c "! ip netns exec $NS dig @fdaa::3 +short -b $A web.internal AAAA | grep -q fdaa:0:2a:0:c::3"
expect_eq "... and worker.process" "fdaa:0:2a:0:f::5" "$(short -b $A worker.process.web.internal AAAA)"
expect_eq "... but keeps its vm name" "fdaa:0:2a:0:c::3" "$(short -b $A w3.vm.web.internal AAAA)"
expect_eq "... and its PTR" "w3.vm.web.internal." "$(short -b $A -x fdaa:0:2a:0:c::3)"

echo "-- glibc (getent through /etc/netns/$CL/resolv.conf; ahosts asks A and AAAA)"
expect_eq "getent ahosts worker.process.web.internal" "fdaa:0:2a:0:f::5" \
  "$(ip netns exec $CL getent ahosts worker.process.web.internal | awk '{print $1}' | sort -u)"
expect_eq "getent ahosts replica.role.kv._metadata.web.internal" "fdaa:0:2a:0:f::5" \
  "$(ip netns exec $CL getent ahosts replica.role.kv._metadata.web.internal | awk '{print $1}' | sort -u)"
expect_eq "getent hosts of the vm name" "fdaa:0:2a:0:c::3" \
  "$(ip netns exec $CL getent hosts w3.vm.web.internal | awk '{print $1}')"
check "getent fails for another organization's group" sh -c "! ip netns exec $CL getent ahosts cron.process.web.internal"

echo "-- a running server answers a change within 50 ms"
# Each change: `sixpn db add-instance` (the commit is done when it exits), then the new
# instance's vm name asked every millisecond from organization 2a until it answers.
cat > "$dir/change.py" <<'PY'
import socket, struct, subprocess, sys, time
sixpn, db, source = sys.argv[1], sys.argv[2], sys.argv[3]
def query(name, qid):
    labels = b"".join(bytes([len(l)]) + l.encode() for l in name.split("."))
    return struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0) + labels + b"\x00" + struct.pack(">HH", 28, 1)
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.bind((source, 0)); s.settimeout(0.001)
times = []
for k in range(20):
    subprocess.run([sixpn, "db", "add-instance", "--db", db, "--app", "live", "--region", "ams",
                    "--id", "c%d" % k, "--address", "fdaa:0:2a:0:e:0:%x:2" % (0x100 + k)],
                   check=True, stdout=subprocess.DEVNULL)
    committed = time.monotonic()
    while time.monotonic() - committed < 2:
        s.sendto(query("c%d.vm.live.internal" % k, k), ("fdaa::3", 53))
        try:
            while True:
                r = s.recv(512)
                if struct.unpack(">H", r[:2])[0] == k: break
        except socket.timeout:
            continue
        if r[3] & 0xf == 0 and struct.unpack(">H", r[6:8])[0] == 1: break
    times.append((time.monotonic() - committed) * 1000)
times.sort()
print(len(times), int(times[len(times) // 2]), int(times[-1]))
PY
read -r changes median slowest < <(ip netns exec $NS python3 "$dir/change.py" "$SIXPN" "$db" $A)
echo "  ($changes changes: commit -> answered median ${median} ms, slowest ${slowest} ms)"
check "every change answered within 50 ms (slowest ${slowest} ms)" test "$slowest" -le 50
