// swift-tools-version: 6.1
// Allocation benchmark for the DNSWire hot path (ordo-one/benchmark's malloc counters).
// A package of its own so that the main build never pulls in the benchmark tooling.
// Run it with ./alloc.sh (or `swift package --package-path bench benchmark`).
import PackageDescription

let package = Package(
    name: "sixpn-bench",
    dependencies: [
        // Named, so that the product reference does not depend on the folder the repository is cloned into.
        .package(name: "sixpn", path: ".."),
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
    ],
    targets: [
        // What more than one benchmark needs: a loopback socket and a one-shot fake upstream.
        .target(
            name: "BenchSupport",
            dependencies: [.product(name: "DNSWire", package: "sixpn")],
            path: "Benchmarks/BenchSupport"
        ),
        .executableTarget(
            name: "DNSWireAllocations",
            dependencies: [
                .product(name: "DNSWire", package: "sixpn"),
                .product(name: "Benchmark", package: "benchmark"),
            ],
            path: "Benchmarks/DNSWireAllocations",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        // The Server's real UDP path (recvmmsg -> QueryService -> sendmmsg) over loopback sockets.
        .executableTarget(
            name: "ServerAllocations",
            dependencies: [
                "BenchSupport",
                .product(name: "DNSWire", package: "sixpn"),
                .product(name: "Sockets", package: "sixpn"),
                .product(name: "Forwarder", package: "sixpn"),
                .product(name: "Server", package: "sixpn"),
                .product(name: "Dnstap", package: "sixpn"),
                .product(name: "ZoneEngine", package: "sixpn"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Benchmark", package: "benchmark"),
            ],
            path: "Benchmarks/ServerAllocations",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
    ],
    swiftLanguageModes: [.v6]
)
