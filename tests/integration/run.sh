#!/usr/bin/env bash
# Runs every tests/integration/test_*.sh with the given sixpn binary and
# prints the total as "N passed, N failed". Needs root (network namespaces).
set -u
here=$(cd "$(dirname "$0")" && pwd)
bin=$(cd "$(dirname "${1:?usage: run.sh PATH-TO-SIXPN}")" && pwd)/$(basename "$1")
[ -x "$bin" ] || { echo "run.sh: $bin is not an executable" >&2; exit 2; }
[ "$(id -u)" -eq 0 ] || { echo "run.sh: the namespace tests need root" >&2; exit 2; }
total_p=0; total_f=0; broken=0
for t in "$here"/test_*.sh; do
  [ -e "$t" ] || continue
  echo "== $(basename "$t")"
  rf=$(mktemp)
  SIXPN="$bin" RESULT_FILE="$rf" timeout 600 bash "$t"
  rc=$?
  read -r p f < "$rf" 2>/dev/null || { p=0; f=0; }
  rm -f "$rf"
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
    echo "  FAIL $(basename "$t") exited $rc"; f=1
  fi
  total_p=$((total_p + p)); total_f=$((total_f + f))
done
echo "integration: $total_p passed, $total_f failed"
[ "$total_f" -eq 0 ]
