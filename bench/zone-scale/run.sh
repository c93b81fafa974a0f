#!/usr/bin/env bash
# The zone scale benchmark: writes a 1,000-instance and a 1,000,000-instance
# database (100,000 apps, 10,000 organizations) with generate.py, then loads
# each into a ZoneEngine snapshot and times lookups over the same number of
# questions; then, at 1,000,000, a running ZoneStore under changes (commit ->
# answered for single changes and at 1,000/s, the updates' CPU, lookups per
# CPU-second with and without churn (in two 10 s phases and in alternating
# quarter-second slices, the writer alone beside), memory after 300,000 more changes; see
# Churn.swift). Figures go to the README's zone section and
# docs/performance.md by hand, with the date and machine. Databases are kept
# in $ZONE_SCALE_DIR (default /tmp/sixpn-zone-scale); the churn changes the
# large one's started flags.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
dir=${ZONE_SCALE_DIR:-/tmp/sixpn-zone-scale}
mkdir -p "$dir"
export PATH=/opt/swift/usr/bin:$PATH
swift build -c release --package-path "$here" >&2
bench=$(swift build -c release --package-path "$here" --show-bin-path)/zone-scale-bench
[ -f "$dir/small.sqlite" ] || python3 "$here/generate.py" "$dir/small.sqlite" --orgs 10 --apps 100 --instances 1000
[ -f "$dir/large.sqlite" ] || python3 "$here/generate.py" "$dir/large.sqlite" --orgs 10000 --apps 100000 --instances 1000000
"$bench" "$dir/small.sqlite" 20
echo
"$bench" "$dir/large.sqlite" 20
echo
"$bench" churn "$dir/large.sqlite" 10 300000
