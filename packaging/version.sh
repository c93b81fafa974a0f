#!/bin/sh
# sixpn's version (Sources/Server/Version.swift), for the package's name and tests.
sed -n 's/^public let sixpnVersion = "\(.*\)"$/\1/p' "$(dirname "$0")/../Sources/Server/Version.swift"
