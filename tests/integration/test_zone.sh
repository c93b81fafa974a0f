#!/usr/bin/env bash
# sixpn db: the exact commands and flags operators and tests rely on; bad input
# exits non-zero with one line on stderr and leaves the database as it was.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

dir=$(mktemp -d /tmp/sx-zone.XXXXXX)
on_exit "rm -rf $dir"
db=$dir/zone.sqlite

check "db init creates a database" "$SIXPN" db init --db "$db"
expect_eq "it is in WAL mode" "wal" "$(sqlite3 "$db" 'PRAGMA journal_mode')"
expect_eq "with schema version 1" "1" "$(sqlite3 "$db" 'PRAGMA user_version')"
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
