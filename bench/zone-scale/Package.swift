// swift-tools-version: 6.1
// The zone scale benchmark: load time, memory and lookup time of a ZoneEngine
// snapshot of a large database. A package of its own so
// that the main build never builds it. Run ./run.sh; the figures are in the
// README (zone section).
import PackageDescription

let package = Package(
    name: "zone-scale",
    dependencies: [
        .package(name: "sixpn", path: "../.."),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
    ],
    targets: [
        .executableTarget(
            name: "zone-scale-bench",
            dependencies: [
                .product(name: "ZoneEngine", package: "sixpn"),
                .product(name: "DNSWire", package: "sixpn"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
