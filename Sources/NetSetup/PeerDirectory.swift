import ZoneEngine

/// A WireGuard peer as the database records it.
public struct PeerRecord: Equatable, Sendable {
    public var network: UInt32
    public var name: String
    public var address: SixPNAddress
    public var publicKey: WireGuardKey?

    public init(network: UInt32, name: String, address: SixPNAddress, publicKey: WireGuardKey?) {
        self.network = network
        self.name = name
        self.address = address
        self.publicKey = publicKey
    }
}

/// Where peers are registered, so that `NAME._peer.internal` answers.
/// `ZoneDatabasePeers` is the real one; tests use an in-memory one.
public protocol PeerDirectory {
    func organizationExists(_ network: UInt32) throws -> Bool
    /// Every instance and peer address of the organization (for allocation).
    func addresses(network: UInt32) throws -> [SixPNAddress]
    func peers(network: UInt32?) throws -> [PeerRecord]
    /// Adds the peer; throws when its name or address is taken.
    func add(_ peer: PeerRecord) throws
    /// Removes the peer; throws when there is none of that name.
    func remove(network: UInt32, name: String) throws
}

/// The peers in ZoneEngine's database, written through its `DatabaseWriter`.
public struct ZoneDatabasePeers: PeerDirectory {
    private let writer: DatabaseWriter

    public init(path: String) throws {
        writer = try DatabaseWriter(path: path)
    }

    public func organizationExists(_ network: UInt32) throws -> Bool {
        try contents(network: network) != nil
    }

    public func addresses(network: UInt32) throws -> [SixPNAddress] {
        guard let c = try contents(network: network) else { return [] }
        return c.instances.map(\.address) + c.peers.map(\.address)
    }

    public func peers(network: UInt32?) throws -> [PeerRecord] {
        guard let c = try contents(network: network) else { return [] }
        return c.peers.map {
            PeerRecord(network: $0.network, name: $0.name, address: $0.address,
                       publicKey: $0.publicKey.flatMap { WireGuardKey(base64: $0) })
        }
    }

    public func add(_ peer: PeerRecord) throws {
        try writer.addPeer(name: peer.name, address: peer.address.description, publicKey: peer.publicKey?.base64)
    }

    public func remove(network: UInt32, name: String) throws {
        try writer.removePeer(name: name, network: network)
    }

    /// The database's rows (one organization's with `network`); nil when there is no such organization.
    private func contents(network: UInt32?) throws -> DatabaseContents? {
        // (A `catch where` on this typed throw crashes the 6.3 compiler's SIL verifier.)
        do {
            return try writer.contents(network: network)
        } catch {
            guard error.kind == .notFound, network != nil else { throw error }
            return nil
        }
    }
}
