// swift-tools-version: 6.1
// sixpn: a DNS server for private IPv6 (6PN) networks. See docs/architecture.md.
import PackageDescription

let package = Package(
    name: "sixpn",
    products: [
        .executable(name: "sixpn", targets: ["sixpn"]),
        .library(name: "DNSWire", targets: ["DNSWire"]),
        .library(name: "ZoneEngine", targets: ["ZoneEngine"]),
        .library(name: "Sockets", targets: ["Sockets"]),
        .library(name: "Forwarder", targets: ["Forwarder"]),
        .library(name: "Server", targets: ["Server"]),
        .library(name: "NetSetup", targets: ["NetSetup"]),
        .library(name: "Cluster", targets: ["Cluster"]),
        .library(name: "Operations", targets: ["Operations"]),
        .library(name: "Dnstap", targets: ["Dnstap"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-crypto", from: "4.5.2"),
        .package(url: "https://github.com/apple/swift-atomics", from: "1.3.0"),
        // The etcd client (Cluster only; the DNS path never links these, except swift-protobuf,
        // which Dnstap uses to encode its messages).
        .package(url: "https://github.com/grpc/grpc-swift-2", from: "2.4.3"),
        .package(url: "https://github.com/grpc/grpc-swift-nio-transport", from: "2.9.2"),
        .package(url: "https://github.com/grpc/grpc-swift-protobuf", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.3"),
    ],
    targets: [
        // Thin system-library modules: one C library each, wrapped once in Swift.
        .systemLibrary(name: "CSQLite", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"])]),
        // recvmmsg/sendmmsg and affinity, which Glibc's Swift module hides behind _GNU_SOURCE, and mallopt.
        .systemLibrary(name: "CSocketBatch"),
        .systemLibrary(name: "CBPF", pkgConfig: "libbpf", providers: [.apt(["libbpf-dev"])]),
        .systemLibrary(name: "CMNL", pkgConfig: "libmnl", providers: [.apt(["libmnl-dev"])]),
        // liburing through a small C target: liburing.h clashes with the Glibc module and is mostly
        // static inline, so Sources/CURing/uring.c includes it and exports plain functions.
        .target(name: "CURing", linkerSettings: [.linkedLibrary("uring")]),

        // The DNS message format. Standard library only.
        .target(name: "DNSWire"),

        // SQLite -> immutable per-organization snapshot -> prepared answers.
        .target(name: "ZoneEngine", dependencies: [
            "DNSWire", "CSQLite", "Sockets",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Atomics", package: "swift-atomics"),
        ]),

        // Socket addresses and the Glibc socket, pipe, clock and thread calls, wrapped once.
        .target(name: "Sockets", dependencies: ["DNSWire", "CSocketBatch"]),

        // Upstream queries, cache, serve-stale.
        .target(name: "Forwarder", dependencies: [
            "DNSWire", "Sockets",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Metrics", package: "swift-metrics"),
            .product(name: "Atomics", package: "swift-atomics"),
        ]),

        // --dnstap: per-thread rings, the writer thread, Frame Streams to a reader. swift-protobuf
        // for the messages (Proto/dnstap.proto is the source of Generated/: scripts/gen-dnstap-proto.sh);
        // no gRPC.
        .target(name: "Dnstap", dependencies: [
            "Sockets",
            .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Atomics", package: "swift-atomics"),
        ], exclude: ["Proto"]),

        // Sockets, worker threads, TCP, trust, routing, metrics.
        .target(name: "Server", dependencies: [
            "DNSWire", "ZoneEngine", "Sockets", "Forwarder", "Dnstap", "CSocketBatch", "CURing",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Metrics", package: "swift-metrics"),
            .product(name: "Prometheus", package: "swift-prometheus"),
            .product(name: "Atomics", package: "swift-atomics"),
        ]),

        // 6PN addresses on hosts, BPF programs, WireGuard peers.
        .target(name: "NetSetup", dependencies: [
            "ZoneEngine", "CBPF", "CMNL",
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "Logging", package: "swift-log"),
        ], exclude: ["bpf"], plugins: ["BPFBuild"]),

        // Compiles NetSetup's BPF programs (clang -target bpf) into the build.
        .plugin(name: "BPFBuild", capability: .buildTool()),

        // etcd (gRPC, TLS) -> the host's SQLite, host membership, the WireGuard mesh.
        // Proto/etcd.proto is the source of Generated/ (scripts/gen-etcd-proto.sh).
        .target(name: "Cluster", dependencies: [
            "ZoneEngine", "NetSetup",
            .product(name: "GRPCCore", package: "grpc-swift-2"),
            .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
            .product(name: "GRPCProtobuf", package: "grpc-swift-protobuf"),
            .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Metrics", package: "swift-metrics"),
            .product(name: "Prometheus", package: "swift-prometheus"),
        ], exclude: ["Proto"]),

        // What operators poll beside DNS: the --metrics listeners' HTTP (serve's /metrics,
        // /health, /ready; the agent's /metrics) on swift-nio. Kept out of Server so that the
        // query path (and the fuzzer's instrumented build) never links NIO.
        .target(name: "Operations", dependencies: [
            "Sockets",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
        ]),

        // The command line: argument parsing only.
        .executableTarget(name: "sixpn", dependencies: [
            "DNSWire", "ZoneEngine", "Sockets", "Forwarder", "Server", "NetSetup", "Cluster", "Operations", "Dnstap",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
        ]),

        // libFuzzer over the whole query service (fuzz/run.sh builds it with -sanitize=fuzzer,address
        // and -DFUZZING; a plain build makes the replay driver).
        .executableTarget(name: "FuzzQueryService", dependencies: [
            "DNSWire", "ZoneEngine", "Sockets", "Forwarder", "Server",
            .product(name: "Logging", package: "swift-log"),
        ], path: "fuzz/QueryService", swiftSettings: [.enableExperimentalFeature("Extern")]),

        .testTarget(name: "DNSWireTests", dependencies: ["DNSWire"], resources: [.copy("Fixtures")]),
        .testTarget(name: "ZoneEngineTests", dependencies: ["ZoneEngine", "DNSWire"]),
        .testTarget(name: "SocketsTests", dependencies: ["Sockets", "DNSWire"]),
        .testTarget(name: "ForwarderTests", dependencies: ["Forwarder", "Sockets", "DNSWire"]),
        .testTarget(name: "ServerTests", dependencies: ["Server", "Forwarder", "Sockets", "ZoneEngine", "DNSWire"]),
        .testTarget(name: "DnstapTests", dependencies: ["Dnstap", "Sockets"]),
        .testTarget(name: "NetSetupTests", dependencies: ["NetSetup", "ZoneEngine"]),
        .testTarget(name: "ClusterTests", dependencies: ["Cluster", "ZoneEngine", .product(name: "Logging", package: "swift-log")]),
        .testTarget(name: "OperationsTests", dependencies: ["Operations", "Sockets"]),
    ],
    swiftLanguageModes: [.v6]
)
