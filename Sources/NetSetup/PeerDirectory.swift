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
        try !lines(network: network).isEmpty
    }

    public func addresses(network: UInt32) throws -> [SixPNAddress] {
        try lines(network: network).compactMap { fields in
            switch fields.first {
            case "instance" where fields.count >= 7: return SixPNAddress(fields[6])
            case "peer" where fields.count >= 4: return SixPNAddress(fields[3])
            default: return nil
            }
        }
    }

    public func peers(network: UInt32?) throws -> [PeerRecord] {
        try lines(network: network).compactMap { f -> PeerRecord? in
            // peer NETWORK NAME ADDRESS KEY|-
            guard f.count == 5, f[0] == "peer", let n = UInt32(f[1], radix: 16), let a = SixPNAddress(f[3]) else {
                return nil
            }
            return PeerRecord(network: n, name: String(f[2]), address: a, publicKey: WireGuardKey(base64: f[4]))
        }
    }

    public func add(_ peer: PeerRecord) throws {
        try writer.addPeer(name: peer.name, address: peer.address.description, publicKey: peer.publicKey?.base64)
    }

    public func remove(network: UInt32, name: String) throws {
        try writer.removePeer(name: name, network: network)
    }

    /// `DatabaseWriter.list`'s lines, split into fields.
    private func lines(network: UInt32?) throws -> [[Substring]] {
        // (A `catch where` on this typed throw crashes the 6.3 compiler's SIL verifier.)
        let result: [String]
        do {
            result = try writer.list(network: network)
        } catch {
            guard error.kind == .notFound, network != nil else { throw error }
            return []
        }
        return result.map { $0.split(separator: " ") }
    }
}
