#!/usr/bin/env bash
# Regenerates Sources/Dnstap/Generated from Sources/Dnstap/Proto/dnstap.proto.
# Run only after changing the .proto; the generated Swift is committed. It needs
# `protoc` and protoc-gen-swift, which scripts/gen-etcd-proto.sh builds once
# into $PLUGINS (default ../protoc-plugins): run that first on a fresh machine.
#
#   PLUGINS=/path/to/a/folder scripts/gen-dnstap-proto.sh
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
plugins=${PLUGINS:-$here/../protoc-plugins}
command -v protoc >/dev/null || { echo "gen-dnstap-proto: needs protoc (apt-get install protobuf-compiler)" >&2; exit 1; }
[ -x "$plugins/.build/release/protoc-gen-swift" ] ||
  { echo "gen-dnstap-proto: no $plugins/.build/release/protoc-gen-swift (scripts/gen-etcd-proto.sh builds it)" >&2; exit 1; }

proto=$here/Sources/Dnstap/Proto
out=$here/Sources/Dnstap/Generated
rm -rf "$out"; mkdir -p "$out"
protoc --proto_path="$proto" \
  --plugin=protoc-gen-swift="$plugins/.build/release/protoc-gen-swift" \
  --swift_opt=Visibility=Internal --swift_out="$out" \
  dnstap.proto
echo "gen-dnstap-proto: wrote $(ls "$out" | tr '\n' ' ')" >&2
