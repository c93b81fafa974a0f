#!/usr/bin/env bash
# Builds sixpn_<version>_amd64.deb in the repository root (`make deb`) with dpkg-deb:
# a release binary with the Swift runtime linked in statically (so it needs only Debian's
# own libraries, which dpkg-shlibdeps turns into Depends:), the systemd units and
# /etc/default/sixpn from this folder, maintainer scripts that add and (on purge) remove
# the sixpn user and /var/lib/sixpn, and man pages and bash/zsh/fish completions that
# swift-argument-parser writes from the command's own definitions.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
SWIFT=${SWIFT:-swift}
here=packaging

# release for `make deb`. `make test` packages its own debug build (SIXPN_DEB_CONFIG=debug):
# the test checks the package, not the code's speed, and a release build of its own takes
# about 30 minutes on two cores where relinking the debug build takes about a minute.
config=${SIXPN_DEB_CONFIG:-release}
# swift-argument-parser's man-page writer (its generate-manual plugin runs the same tool,
# but builds every product first). Built before the static link below, as an ordinary build.
$SWIFT build -c "$config" --product generate-manual
bin=$($SWIFT build -c "$config" --show-bin-path)
if [ "$config" = release ]; then
  $SWIFT build -c release --product sixpn --static-swift-stdlib
else
  # Relinking a debug build statically recompiles the targets that import Foundation (their
  # link entries name Foundation's static archives) but not the rest, whose entries name only
  # libFoundation: so the archives Foundation's static libraries need are named here, as one
  # group (CoreFoundation needs _FoundationICU after it; which object pulls CoreFoundation in
  # first differs between builds, and a fresh clone in CI failed on the order alone). The
  # objects this writes would break the next ordinary (dynamic) link of the same build, so
  # they are removed once the binary is staged, and that build compiles them again.
  stamp=$(mktemp)
  trap 'rm -f "$stamp"' EXIT
  $SWIFT build -c debug --product sixpn --static-swift-stdlib \
    -Xlinker --start-group -Xlinker -lCoreFoundation -Xlinker -l_FoundationICU \
    -Xlinker -l_FoundationCollections -Xlinker -l_FoundationCShims -Xlinker -lswiftSynchronization \
    -Xlinker --end-group
fi

version=$("$here/version.sh")
arch=$(dpkg --print-architecture)
# `make deb` writes the package to the repository root; `make test`'s debug one goes under .build.
out=${SIXPN_DEB_DIR:-.}
deb="$out/sixpn_${version}_${arch}.deb"
mkdir -p "$out"
# Reproducible dates: the last commit's, or SOURCE_DATE_EPOCH.
# Who the package and changelog name, as Debian's tools take it (DEBFULLNAME, DEBEMAIL).
maintainer="${DEBFULLNAME:-sixpn maintainers} <${DEBEMAIL:-sixpn@example.org}>"
epoch=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}
day=$(date -u -d "@$epoch" +%Y-%m-%d)

stage=.build/deb/sixpn
rm -rf .build/deb
mkdir -p "$stage/DEBIAN" "$stage/usr/bin" "$stage/lib/systemd/system" "$stage/etc/default" \
  "$stage/usr/share/man/man1" "$stage/usr/share/doc/sixpn" "$stage/usr/share/bash-completion/completions" \
  "$stage/usr/share/zsh/vendor-completions" "$stage/usr/share/fish/vendor_completions.d"

install -m 0755 "$bin/sixpn" "$stage/usr/bin/sixpn"
if [ "$config" != release ]; then
  find "$bin" -newer "$stamp" \( -name '*.o' -o -path "$bin/sixpn" \) -delete
fi
strip --strip-unneeded --remove-section=.comment --remove-section=.note "$stage/usr/bin/sixpn"
install -m 0644 "$here/sixpn.service" "$here/sixpn-agent.service" "$stage/lib/systemd/system/"
install -m 0644 "$here/default" "$stage/etc/default/sixpn"

# One page per command (sixpn.1, sixpn.serve.1, sixpn.db.add-instance.1, ...).
"$bin/generate-manual" "$stage/usr/bin/sixpn" --multi-page --date "$day" --output-directory "$stage/usr/share/man/man1"
"$stage/usr/bin/sixpn" --generate-completion-script bash | sed '1{/^#!/d}' > "$stage/usr/share/bash-completion/completions/sixpn"
"$stage/usr/bin/sixpn" --generate-completion-script zsh > "$stage/usr/share/zsh/vendor-completions/_sixpn"
"$stage/usr/bin/sixpn" --generate-completion-script fish > "$stage/usr/share/fish/vendor_completions.d/sixpn.fish"

install -m 0644 "$here/copyright" "$stage/usr/share/doc/sixpn/copyright"
install -m 0644 README.md docs/operations.md "$stage/usr/share/doc/sixpn/"
printf 'sixpn (%s) unstable; urgency=medium\n\n  * Built from commit %s.\n\n -- %s  %s\n' \
  "$version" "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)" "$maintainer" "$(date -u -R -d "@$epoch")" \
  > "$stage/usr/share/doc/sixpn/changelog"
gzip -9n "$stage/usr/share/doc/sixpn/changelog" "$stage/usr/share/doc/sixpn/operations.md" "$stage"/usr/share/man/man1/*.1

# Depends: what the binary links (dpkg-shlibdeps reads the libraries' shlibs files), and adduser for postinst.
mkdir -p .build/deb/shlibs/debian
printf 'Source: sixpn\n\nPackage: sixpn\nArchitecture: any\n' > .build/deb/shlibs/debian/control
shlibs=$(cd .build/deb/shlibs && dpkg-shlibdeps -O "$root/$stage/usr/bin/sixpn" | sed -n 's/^shlibs:Depends=//p')

install -m 0755 "$here/postinst" "$here/prerm" "$here/postrm" "$stage/DEBIAN/"
echo /etc/default/sixpn > "$stage/DEBIAN/conffiles"
size=$(du -sk --exclude=DEBIAN "$stage" | cut -f1)
cat > "$stage/DEBIAN/control" <<CONTROL
Package: sixpn
Version: $version
Architecture: $arch
Maintainer: $maintainer
Installed-Size: $size
Depends: adduser, $shlibs
Section: net
Priority: optional
Description: DNS server for private IPv6 (6PN) networks
 sixpn answers .internal names for the instances of each organization on a
 private IPv6 network (fdaa::/16) from a SQLite database that service
 discovery writes, forwards every other name through a cache, and sets up
 the BPF programs and WireGuard peers that network runs on.
 .
 This package runs "sixpn serve" under systemd (sixpn.service) as the sixpn
 user with only CAP_NET_BIND_SERVICE; "sixpn agent" (sixpn-agent.service)
 keeps the database in step with a cluster's etcd.
CONTROL
(cd "$stage" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | sort -z | xargs -0 md5sum) > "$stage/DEBIAN/md5sums"
find "$stage" -type d -exec chmod 0755 {} +

dpkg-deb --root-owner-group -Zxz --build "$stage" "$deb" >/dev/null
echo "$(cd "$(dirname "$deb")" && pwd)/$(basename "$deb")"
