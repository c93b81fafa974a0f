#!/usr/bin/env bash
# The Debian package (`make deb`): its contents and Depends (dpkg-deb), lintian without
# errors, installed on this machine with apt-get (policy-rc.d keeps it from starting),
# the user, directory, units and conffile it adds, the binary running with only Debian's
# libraries, systemd-analyze verify and security on the unit (the score printed), the
# service started the way the unit starts it (user sixpn, only CAP_NET_BIND_SERVICE,
# /etc/default/sixpn's flags) answering on port 53 in a namespace, then a purge that
# leaves nothing of what the install added. DEB= names the package; by default the
# newest sixpn_*.deb in the repository root, built by packaging/build-deb.sh when absent.
# Run (as root) by `make test` on a package of its debug build, and by `make deb-test` on the
# release package: see docs/testing.md.
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
. "$root/tests/integration/lib.sh"

deb=${DEB:-$(ls -t "$root"/sixpn_*.deb 2>/dev/null | head -1)}
if [ -z "$deb" ]; then
  deb=$("$root/packaging/build-deb.sh" | tail -1) || { fail "packaging/build-deb.sh"; exit 1; }
fi
check "the package exists: $(basename "$deb")" test -f "$deb"
if dpkg-query -W -f='${Status}' sixpn 2>/dev/null | grep -q installed; then
  fail "sixpn is already installed on this machine; this test installs and purges it"; exit 1
fi

# Contents.
contents=$(dpkg-deb -c "$deb" | awk '{print $6}' | sed 's|^\./|/|')
for f in /usr/bin/sixpn /lib/systemd/system/sixpn.service /lib/systemd/system/sixpn-agent.service /etc/default/sixpn \
         /usr/share/man/man1/sixpn.1.gz /usr/share/man/man1/sixpn.serve.1.gz /usr/share/man/man1/sixpn.agent.1.gz \
         /usr/share/bash-completion/completions/sixpn /usr/share/zsh/vendor-completions/_sixpn \
         /usr/share/fish/vendor_completions.d/sixpn.fish /usr/share/doc/sixpn/copyright; do
  check "the package holds $f" grep -qx "$f" <<<"$contents"
done
depends=$(dpkg-deb -f "$deb" Depends)
for lib in libc6 libsqlite3-0 liburing2 libbpf1 libmnl0 adduser; do
  expect_match "Depends: names $lib" "(^|, )$lib( |,|$)" "$depends"
done
expect_eq "/etc/default/sixpn is a conffile" "/etc/default/sixpn" "$(dpkg-deb -I "$deb" conffiles)"
lint=$(lintian --no-tag-display-limit "$deb" 2>&1)
expect_eq "lintian: no errors" "" "$(grep '^E:' <<<"$lint")"
echo "    lintian: $(grep -c '^W:' <<<"$lint") warnings"

# Install, with services kept from starting (as install-deps.sh does for NSD and Knot).
prc=/usr/sbin/policy-rc.d
saved=""
if [ -e "$prc" ]; then saved=$(mktemp); cp -p "$prc" "$saved"; fi
printf '#!/bin/sh\nexit 101\n' > "$prc"; chmod 755 "$prc"
on_exit "if [ -n '$saved' ]; then mv -f '$saved' $prc; else rm -f $prc; fi"
on_exit "dpkg-query -W sixpn >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq sixpn"
before_users=$(getent passwd | cut -d: -f1 | sort)
# Every path outside dpkg's and apt's own records, to compare with after the purge.
paths() { find /etc /lib/systemd /usr /var/lib -xdev \( -path /var/lib/dpkg -o -path /var/lib/apt -o -path /var/lib/man-db \) -prune -o -print 2>/dev/null | sort; }
paths > "$root/.build/sxo-paths-before"
on_exit "rm -f '$root/.build/sxo-paths-before'"
check "apt-get install ./$(basename "$deb")" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$deb"
listed=$(dpkg -L sixpn)
check "dpkg -L lists /usr/bin/sixpn" grep -qx /usr/bin/sixpn <<<"$listed"
check "dpkg -L lists the serve unit" grep -qx /lib/systemd/system/sixpn.service <<<"$listed"
check "dpkg -L lists the man page of serve" grep -qx /usr/share/man/man1/sixpn.serve.1.gz <<<"$listed"
expect_eq "sixpn --version runs" "$("$root/packaging/version.sh")" "$(/usr/bin/sixpn --version)"
expect_eq "it links nothing outside Debian's libraries (no /opt/swift)" "" "$(ldd /usr/bin/sixpn | grep -E 'not found|/opt/')"
expect_match "the sixpn system user" "^sixpn:x:[0-9]{3}:[0-9]+:.*:/var/lib/sixpn:/usr/sbin/nologin$" "$(getent passwd sixpn)"
expect_eq "/var/lib/sixpn, the user's, mode 750" "sixpn sixpn 750" "$(stat -c '%U %G %a' /var/lib/sixpn)"
check "the bash completion knows serve's flags" grep -q -- '--wait-for-db' /usr/share/bash-completion/completions/sixpn
check "man sixpn.serve says --lameduck" sh -c "zcat /usr/share/man/man1/sixpn.serve.1.gz | grep -q lameduck"

# The unit.
verify=$(systemd-analyze verify --man=no /lib/systemd/system/sixpn.service /lib/systemd/system/sixpn-agent.service 2>&1); rc=$?
expect_eq "systemd-analyze verify passes, with nothing to say" "0 []" \
  "$rc [$(grep -v 'Failed to .*bus\|System has not been booted\|^$' <<<"$verify" | tr '\n' ' ')]"
security=$(systemd-analyze security --offline=true --no-pager /lib/systemd/system/sixpn.service 2>&1)
score=$(sed -n 's/.*Overall exposure level for sixpn.service: //p' <<<"$security")
echo "    systemd-analyze security sixpn.service: $score"
expect_match "systemd-analyze security rates sixpn.service OK or better" "(OK|SAFE)" "$score"
agent_score=$(systemd-analyze security --offline=true --no-pager /lib/systemd/system/sixpn-agent.service 2>&1 \
  | sed -n 's/.*Overall exposure level for sixpn-agent.service: //p')
echo "    systemd-analyze security sixpn-agent.service: $agent_score"

# The service as the unit runs it: user sixpn, only CAP_NET_BIND_SERVICE (ambient and bounding),
# no new privileges, /etc/default/sixpn's flags, in a namespace with fdaa::3. The database is
# written by the sixpn user, as the agent would.
NS=sxo-pkg
A=fdaa:0:a:0:1:0:1:2
new_netns $NS
add_addr $NS fdaa::3
add_addr $NS $A
as_sixpn() { setpriv --reuid=sixpn --regid=sixpn --init-groups "$@"; }
check "the sixpn user writes the database in /var/lib/sixpn" sh -c \
  "$(declare -f as_sixpn); as_sixpn /usr/bin/sixpn db init --db /var/lib/sixpn/sixpn.db && \
   as_sixpn /usr/bin/sixpn db add-instance --db /var/lib/sixpn/sixpn.db --app web --region ams --address fdaa:0:a:0:1:0:101:2"
opts=$(. /etc/default/sixpn; echo "$SIXPN_SERVE_OPTS")
set -f  # $opts split into words as systemd splits it, never globbed ([::1]:9153)
start_bg pkgserve ip netns exec $NS setpriv --reuid=sixpn --regid=sixpn --init-groups --no-new-privs \
  --inh-caps=-all,+net_bind_service --ambient-caps=-all,+net_bind_service --bounding-set=-all,+net_bind_service \
  /usr/bin/sixpn serve $opts
pid=$LAST_PID
set +f
check "the service answers on [fdaa::3]:53 as user sixpn" wait_for 10 \
  sh -c "ip netns exec $NS dig +short +time=1 +tries=1 -b $A @fdaa::3 web.internal AAAA | grep -qx fdaa:0:a:0:1:0:101:2"
expect_eq "... running as sixpn" "sixpn" "$(ps -o user= -p $pid)"
expect_eq "... with CAP_NET_BIND_SERVICE alone (effective)" "0000000000000400" "$(sed -n 's/^CapEff:\t//p' /proc/$pid/status)"
expect_eq "/ready on the default metrics address" "OK" "$(ip netns exec $NS curl -s -m 2 'http://[::1]:9153/ready')"
kill -TERM $pid; wait $pid
expect_eq "SIGTERM: exit 0" "0" "$?"

# Purge: everything the install added goes.
check "apt-get purge sixpn" env DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq sixpn
for f in /usr/bin/sixpn /lib/systemd/system/sixpn.service /etc/default/sixpn /var/lib/sixpn /usr/share/doc/sixpn \
         /usr/share/man/man1/sixpn.1.gz /etc/systemd/system/multi-user.target.wants/sixpn.service; do
  check "purged: $f" test ! -e "$f"
done
check "purged: the sixpn user" sh -c "! getent passwd sixpn"
check "purged: the sixpn group" sh -c "! getent group sixpn"
expect_eq "the users are those before the install" "$before_users" "$(getent passwd | cut -d: -f1 | sort)"
expect_eq "no path the install added is left (/etc, /lib/systemd, /usr, /var/lib)" "" \
  "$(diff <(cat "$root/.build/sxo-paths-before") <(paths) | grep '^[<>]')"
check "dpkg no longer knows sixpn" sh -c "! dpkg-query -W -f='\${Status}' sixpn 2>/dev/null | grep -q ."

# make deb-test fails when a check did.
[ "$FAILED" -eq 0 ]
