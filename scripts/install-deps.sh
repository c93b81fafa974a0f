#!/usr/bin/env bash
# Installs, non-interactively, the Debian packages that building, testing,
# fuzzing and benchmarking sixpn need, when any of them is missing.
# Safe to run again: it does nothing when everything is present.
set -euo pipefail

PKGS=(
  # build: the C libraries behind the system-library targets
  libsqlite3-dev liburing-dev libbpf-dev libmnl-dev pkg-config
  # tests: real clients, real upstreams, real WireGuard and tc
  bind9-dnsutils knot-dnsutils nsd knot unbound dnsperf
  wireguard-go wireguard-tools iproute2 iputils-ping sqlite3 libc-bin curl
  # dnstap's readers (test_dnstap.sh, bench/run.sh dnstap): fstrm_capture; dnstap-read is in bind9-dnsutils
  fstrm-bin
  # the cluster: a real etcd (3.4) and the certificates its TLS test makes
  etcd-server etcd-client openssl
  python3
  # the Debian package: built with dpkg-deb (dpkg-shlibdeps for Depends), checked with lintian
  # and systemd-analyze, installed with apt-get and run with setpriv (util-linux)
  dpkg-dev lintian systemd adduser util-linux
)

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: missing packages (${missing[*]}); run as root to install them" >&2
  exit 1
fi

echo "install-deps: installing ${missing[*]}" >&2
# The daemons' postinst scripts must not start services on a build machine.
prc=/usr/sbin/policy-rc.d
saved=""
if [ -e "$prc" ]; then saved=$(mktemp); cp -p "$prc" "$saved"; fi
printf '#!/bin/sh\nexit 101\n' > "$prc"; chmod 755 "$prc"
restore() { if [ -n "$saved" ]; then mv -f "$saved" "$prc"; else rm -f "$prc"; fi; }
trap restore EXIT

export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
