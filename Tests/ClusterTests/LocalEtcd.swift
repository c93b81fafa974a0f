import Foundation
@testable import Cluster

/// A real single-member etcd on loopback, in a temporary folder, for one test:
/// started on a free port, killed (by its PID) and removed at the end.
final class LocalEtcd: @unchecked Sendable {
    let folder: String
    let port: Int
    private let process = Process()

    init() throws {
        folder = NSTemporaryDirectory() + "sx-cl-etcd-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        // Two ports in a range no other test here uses, varied per test so parallel tests do not collide.
        port = 23_000 + Int.random(in: 0..<2_000) * 2
        process.executableURL = URL(fileURLWithPath: "/usr/bin/etcd")
        process.arguments = [
            "--name", "t", "--data-dir", folder + "/data",
            "--listen-client-urls", "http://127.0.0.1:\(port)", "--advertise-client-urls", "http://127.0.0.1:\(port)",
            "--listen-peer-urls", "http://127.0.0.1:\(port + 1)", "--initial-advertise-peer-urls", "http://127.0.0.1:\(port + 1)",
            "--initial-cluster", "t=http://127.0.0.1:\(port + 1)", "--log-level", "error",
        ]
        process.standardOutput = FileHandle(forWritingAtPath: "/dev/null")
        process.standardError = FileHandle(forWritingAtPath: "/dev/null")
        try process.run()
    }

    var configuration: EtcdConfiguration {
        try! EtcdConfiguration(urls: "http://127.0.0.1:\(port)", caCertificate: nil, certificate: nil, key: nil,
                               requestTimeout: .seconds(10))
    }

    /// A database path in the folder.
    func databasePath(_ name: String) -> String { folder + "/\(name).db" }

    deinit {
        process.terminate()
        process.waitUntilExit()
        try? FileManager.default.removeItem(atPath: folder)
    }
}
