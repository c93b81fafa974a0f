import NetSetup
import ZoneEngine

/// `sixpn wg peer ... --etcd`: customers' peers registered in the cluster
/// through `ClusterWriter`, for NetSetup's `PeerProvisioning`, whose calls are
/// synchronous: each one connects, does its work and closes.
public struct EtcdPeerDirectory: PeerDirectory {
    public let configuration: EtcdConfiguration

    public init(configuration: EtcdConfiguration) {
        self.configuration = configuration
    }

    private func withWriter<T: Sendable>(_ body: @escaping @Sendable (ClusterWriter) async throws -> T) throws -> T {
        let c = configuration
        return try runBlocking { try await EtcdClient.with(c) { try await body(ClusterWriter(store: $0)) } }
    }

    public func organizationExists(_ network: UInt32) throws -> Bool {
        try !addresses(network: network).isEmpty
    }

    public func addresses(network: UInt32) throws -> [SixPNAddress] {
        try withWriter { try await $0.addresses(network: network) }
    }

    public func peers(network: UInt32?) throws -> [PeerRecord] {
        let contents: DatabaseContents
        do {
            contents = try withWriter { try await $0.contents(network: network) }
        } catch let e as DatabaseError where e.kind == .notFound {
            return []
        }
        return contents.peers.map {
            PeerRecord(network: $0.network, name: $0.name, address: $0.address,
                       publicKey: $0.publicKey.flatMap { WireGuardKey(base64: $0) })
        }
    }

    public func add(_ peer: PeerRecord) throws {
        try withWriter { try await $0.addPeer(name: peer.name, address: peer.address.description, publicKey: peer.publicKey?.base64) }
    }

    public func remove(network: UInt32, name: String) throws {
        try withWriter { try await $0.removePeer(name: name, network: network) }
    }
}
