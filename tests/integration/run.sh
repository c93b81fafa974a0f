#!/usr/bin/env bash
# Runs every tests/integration/test_*.sh with the given sixpn binary and
# prints the total as "N passed, N failed". Needs root (network namespaces).
set -u
here=$(cd "$(dirname "$0")" && pwd)
bin=$(cd "$(dirname "${1:?usage: run.sh PATH-TO-SIXPN}")" && pwd)/$(basename "$1")
[ -x "$bin" ] || { echo "run.sh: $bin is not an executable" >&2; exit 2; }
[ "$(id -u)" -eq 0 ] || { echo "run.sh: the namespace tests need root" >&2; exit 2; }
total_p=0; total_f=0
# run_one FILE [LABEL] [ENV=VALUE...]: runs one test file and adds up its results.
run_one() {
  local t=$1 label=$2; shift 2
  echo "== $label"
  rf=$(mktemp)
  env "$@" SIXPN="$bin" RESULT_FILE="$rf" timeout 600 bash "$t"
  rc=$?
  read -r p f < "$rf" 2>/dev/null || { p=0; f=0; }
  rm -f "$rf"
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
    echo "  FAIL $label exited $rc"; f=1
  fi
  total_p=$((total_p + p)); total_f=$((total_f + f))
}
for t in "$here"/test_*.sh; do
  [ -e "$t" ] || continue
  run_one "$t" "$(basename "$t")"
done
# The UDP path again over the io_uring backend (sixpn serve --io uring): every
# name form, glibc, truncation, untrusted sources, the malformed-packet burst, and the dnstap log.
for t in test_server.sh test_badinput.sh test_dnstap.sh; do
  run_one "$here/$t" "$t (--io uring)" SIXPN_IO=uring
done
echo "integration: $total_p passed, $total_f failed"
[ "$total_f" -eq 0 ]
