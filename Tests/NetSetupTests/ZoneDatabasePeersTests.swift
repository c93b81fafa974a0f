import Foundation
import Testing
import ZoneEngine
@testable import NetSetup

/// PeerProvisioning over ZoneEngine's real database.
@Suite struct ZoneDatabasePeersTests {
    static func database() throws -> String {
        let path = NSTemporaryDirectory() + "sx-net-\(UUID().uuidString).db"
        try DatabaseWriter.initialize(path: path)
        try DatabaseWriter(path: path).addInstance(app: "web", region: "ams", address: "fdaa:0:2a:0:10:0:1:1")
        return path
    }

    static func remove(_ path: String) {
        for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
    }

    @Test func peerIsRegisteredListedAndRemoved() throws {
        let path = try Self.database()
        defer { Self.remove(path) }
        let peers = try ZoneDatabasePeers(path: path)
        let dev = MemoryDevice()
        let made = try PeerProvisioning(directory: peers, device: dev)
            .create(network: 0x2a, name: "Office", region: nil, endpoint: nil, hostPublicKey: nil)
        #expect(try peers.peers(network: 0x2a) == [made.record])
        #expect(try peers.peers(network: nil).map(\.name) == ["office"])
        #expect(try DatabaseWriter(path: path).list(network: 0x2a).contains(
            "peer 0000002a office fdaa:0:2a:ffff:ffff::1 \(made.record.publicKey!.base64)"))
        try PeerProvisioning(directory: peers, device: dev).remove(network: 0x2a, name: "office")
        #expect(try peers.peers(network: 0x2a).isEmpty)
        #expect(dev.peers.isEmpty)
    }

    @Test func unknownOrganizationIsNotCreatedOnTheWay() throws {
        let path = try Self.database()
        defer { Self.remove(path) }
        let peers = try ZoneDatabasePeers(path: path)
        #expect(try peers.organizationExists(0x2a))
        #expect(try !peers.organizationExists(0x2b))
        #expect(throws: PeerError.self) {
            try PeerProvisioning(directory: peers, device: nil)
                .create(network: 0x2b, name: "office", region: nil, endpoint: nil, hostPublicKey: MemoryDevice().key)
        }
        #expect(try DatabaseWriter(path: path).list().allSatisfy { !$0.contains("0000002b") })
    }

    @Test func anInstanceInThePeerAreaTakesItsSlot() throws {
        let path = try Self.database()
        defer { Self.remove(path) }
        try DatabaseWriter(path: path).addInstance(app: "odd", region: "ams", address: "fdaa:0:2a:ffff:ffff::5")
        let made = try PeerProvisioning(directory: ZoneDatabasePeers(path: path), device: nil)
            .create(network: 0x2a, name: "office", region: nil, endpoint: nil, hostPublicKey: MemoryDevice().key)
        #expect(made.prefix.description == "fdaa:0:2a:ffff:ffff::100/120")
    }

    @Test func badPeerNameLeavesNothingOnTheDevice() throws {
        let path = try Self.database()
        defer { Self.remove(path) }
        let dev = MemoryDevice()
        #expect(throws: DatabaseError.self) {
            try PeerProvisioning(directory: ZoneDatabasePeers(path: path), device: dev)
                .create(network: 0x2a, name: "not a label", region: nil, endpoint: nil, hostPublicKey: nil)
        }
        #expect(dev.peers.isEmpty)
    }
}
