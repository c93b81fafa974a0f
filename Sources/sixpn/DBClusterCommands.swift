import ArgumentParser
import Cluster
import Glibc
import ZoneEngine

/// `sixpn db ... --etcd`: the same commands, written to the cluster in etcd
/// transactions (Cluster's `ClusterWriter`) instead of the local database.
enum DBCluster {
    /// Runs `body` with a writer when --etcd is given: true when it did (the command is done).
    static func run(_ options: DBCommand.DBOption,
                    _ body: @escaping @Sendable (ClusterWriter) async throws -> Void) throws -> Bool {
        do {
            guard let c = try options.etcd.configuration() else { return false }
            try runBlocking { try await EtcdClient.with(c) { try await body(ClusterWriter(store: $0)) } }
        } catch {
            throw failOneLine("sixpn db", error)
        }
        return true
    }

    static func addInstance(_ w: ClusterWriter, _ c: DBCommand.AddInstance) async throws {
        var pairs: [(key: String, value: String)] = []
        for m in c.metadata {
            guard let eq = m.firstIndex(of: "=") else { throw DatabaseError(.badInput, "metadata \"\(m)\" is not KEY=VALUE") }
            pairs.append((String(m[..<eq]), String(m[m.index(after: eq)...])))
        }
        let added = try await w.addInstance(app: c.app, region: c.region, address: c.address, id: c.id, started: !c.stopped,
                                            processGroup: c.processGroup, metadata: pairs)
        let f = added.fields
        if !added.hostJoined {
            var warning = "sixpn db: warning: host \(NetworkID.format(f.sixPN.host)) has not joined the cluster; "
                + "instance \(f.text) is answered once it does\n"
            warning.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
        }
        print("instance \(NetworkID.format(f.sixPN.network)) \(f.app) \(f.id) \(f.region) \(f.text)")
    }

    static func setState(_ w: ClusterWriter, address: String, state: String) async throws {
        guard state == "started" || state == "stopped" else {
            throw DatabaseError(.badInput, "state \"\(state)\" is neither started nor stopped")
        }
        try await w.setState(address: address, started: state == "started")
    }

    static func list(_ w: ClusterWriter, network: String?) async throws {
        let filter = try network.map { (n: String) throws(DatabaseError) in try NetworkID.parse(n) }
        for line in try await w.contents(network: filter).lines { print(line) }
    }
}
