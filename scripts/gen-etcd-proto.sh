#!/usr/bin/env bash
# Regenerates Sources/Cluster/Generated from Sources/Cluster/Proto/etcd.proto.
# Run only after changing the .proto; the generated Swift is committed, so a
# fresh clone (and CI) never builds the protoc plugins (about 10 minutes).
#
#   PLUGINS=/path/to/a/folder scripts/gen-etcd-proto.sh
#
# It needs `protoc` (Debian's protobuf-compiler) and builds, once, into
# $PLUGINS (default ../protoc-plugins, outside the repository), the two
# plugins at the versions Package.swift uses: protoc-gen-swift
# (swift-protobuf) and protoc-gen-grpc-swift-2 (grpc-swift-protobuf).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
plugins=${PLUGINS:-$here/../protoc-plugins}
export PATH=/opt/swift/usr/bin:$PATH
command -v protoc >/dev/null || { echo "gen-etcd-proto: needs protoc (apt-get install protobuf-compiler)" >&2; exit 1; }

if [ ! -x "$plugins/.build/release/protoc-gen-grpc-swift-2" ] || [ ! -x "$plugins/.build/release/protoc-gen-swift" ]; then
  mkdir -p "$plugins/Sources/Empty"
  cat > "$plugins/Package.swift" <<'SWIFT'
// swift-tools-version: 6.1
import PackageDescription
let package = Package(
    name: "protoc-plugins",
    dependencies: [
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0"),
        .package(url: "https://github.com/grpc/grpc-swift-protobuf", from: "2.4.1"),
    ],
    targets: [.target(name: "Empty")]
)
SWIFT
  echo "public let empty = 0" > "$plugins/Sources/Empty/Empty.swift"
  (cd "$plugins" && swift build -c release --product protoc-gen-swift && swift build -c release --product protoc-gen-grpc-swift-2)
fi

proto=$here/Sources/Cluster/Proto
out=$here/Sources/Cluster/Generated
rm -rf "$out"; mkdir -p "$out"
protoc --proto_path="$proto" \
  --plugin=protoc-gen-swift="$plugins/.build/release/protoc-gen-swift" \
  --plugin=protoc-gen-grpc-swift="$plugins/.build/release/protoc-gen-grpc-swift-2" \
  --swift_opt=Visibility=Internal --swift_out="$out" \
  --grpc-swift_opt=Visibility=Internal,Server=false,Client=true --grpc-swift_out="$out" \
  etcd.proto
echo "gen-etcd-proto: wrote $(ls "$out" | tr '\n' ' ')" >&2
