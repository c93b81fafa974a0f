import Testing
import ZoneEngine
@testable import NetSetup

/// An in-memory database of organizations and peers.
final class MemoryPeers: PeerDirectory {
    var orgs: Set<UInt32>
    var records: [PeerRecord] = []
    var instances: [SixPNAddress] = []

    init(orgs: Set<UInt32>) { self.orgs = orgs }

    func organizationExists(_ network: UInt32) throws -> Bool { orgs.contains(network) }
    func addresses(network: UInt32) throws -> [SixPNAddress] {
        (instances + records.map(\.address)).filter { $0.network == network }
    }
    func peers(network: UInt32?) throws -> [PeerRecord] { records.filter { network == nil || $0.network == network } }
    func add(_ peer: PeerRecord) throws {
        guard !records.contains(where: { $0.network == peer.network && $0.name == peer.name }) else {
            throw PeerError(message: "duplicate")
        }
        records.append(peer)
    }
    func remove(network: UInt32, name: String) throws {
        records.removeAll { $0.network == network && $0.name == name }
    }
}

/// A WireGuard device that records its peers and can be told to fail.
final class MemoryDevice: WireGuardDevice {
    let name = "wgtest"
    let key = WireGuardKeyPair().publicKey
    var peers: [WireGuardKey: [IPv6Prefix]] = [:]
    var failing = false

    func publicKey() throws -> WireGuardKey { key }
    func addPeer(publicKey: WireGuardKey, allowedIPs: [IPv6Prefix]) throws {
        if failing { throw WireGuardError.rejected(device: name, errno: 5) }
        peers[publicKey] = allowedIPs
    }
    func removePeer(publicKey: WireGuardKey) throws { peers[publicKey] = nil }
}

@Suite struct PeerProvisioningTests {
    @Test func createdPeerIsOnTheDeviceAndInTheDirectory() throws {
        let db = MemoryPeers(orgs: [0x2a])
        let dev = MemoryDevice()
        let p = PeerProvisioning(directory: db, device: dev)
        let made = try p.create(network: 0x2a, name: "office", region: "ams", endpoint: "198.51.100.1:51820",
                                hostPublicKey: nil)
        #expect(made.record.address.description == "fdaa:0:2a:ffff:ffff::1")
        #expect(made.prefix.description == "fdaa:0:2a:ffff:ffff::/120")
        #expect(db.records == [made.record])
        #expect(dev.peers[made.record.publicKey!] == [made.prefix])
        #expect(made.config.hostPublicKey == dev.key)
        #expect(made.config.text.contains("DNS = fdaa:0:2a::3\n"))
        #expect(made.config.text.contains("AllowedIPs = fdaa:0:2a::/48\n"))
        #expect(made.config.text.contains("Address = fdaa:0:2a:ffff:ffff::1/120\n"))

        let second = try p.create(network: 0x2a, name: "home", region: nil, endpoint: nil, hostPublicKey: nil)
        #expect(second.prefix.description == "fdaa:0:2a:ffff:ffff::100/120")
    }

    @Test func deviceFailureLeavesNoPeerInTheDirectory() {
        let db = MemoryPeers(orgs: [0x2a])
        let dev = MemoryDevice()
        dev.failing = true
        #expect(throws: WireGuardError.self) {
            try PeerProvisioning(directory: db, device: dev)
                .create(network: 0x2a, name: "office", region: nil, endpoint: nil, hostPublicKey: nil)
        }
        #expect(db.records.isEmpty)
        #expect(dev.peers.isEmpty)
    }

    @Test func unknownOrganizationTakenNameAndFullAreaAreRefusedBeforeAnyChange() throws {
        let db = MemoryPeers(orgs: [0x2a])
        let dev = MemoryDevice()
        let p = PeerProvisioning(directory: db, device: dev)
        #expect(throws: PeerError(message: "no organization has network ID 0000002b")) {
            try p.create(network: 0x2b, name: "office", region: nil, endpoint: nil, hostPublicKey: nil)
        }
        _ = try p.create(network: 0x2a, name: "office", region: nil, endpoint: nil, hostPublicKey: nil)
        #expect(throws: PeerError(message: "network 0000002a already has a peer named office")) {
            try p.create(network: 0x2a, name: "office", region: nil, endpoint: nil, hostPublicKey: nil)
        }
        #expect(throws: PeerError(message: "network 0000002a has no free /120 left in its peer area")) {
            try p.create(network: 0x2a, name: "home", region: nil, endpoint: nil, hostPublicKey: nil, capacity: 1)
        }
        #expect(throws: PeerError.self) {
            try p.create(network: 0x2a, name: "x", region: nil, endpoint: "fd00::1:51820", hostPublicKey: nil)
        }
        #expect(throws: PeerError.self) {
            try p.create(network: 0x2a, name: "x", region: "not a label", endpoint: nil, hostPublicKey: nil)
        }
        #expect(db.records.count == 1)
        #expect(dev.peers.count == 1)
    }

    @Test func removeTakesThePeerOffTheDeviceAndOutOfTheDirectory() throws {
        let db = MemoryPeers(orgs: [0x2a])
        let dev = MemoryDevice()
        let p = PeerProvisioning(directory: db, device: dev)
        _ = try p.create(network: 0x2a, name: "office", region: nil, endpoint: nil, hostPublicKey: nil)
        try p.remove(network: 0x2a, name: "office")
        #expect(db.records.isEmpty)
        #expect(dev.peers.isEmpty)
        #expect(throws: PeerError(message: "network 0000002a has no peer named office")) {
            try p.remove(network: 0x2a, name: "office")
        }
    }
}

extension PeerProvisioningTests {
    /// A directory whose removals fail.
    final class StuckPeers: PeerDirectory {
        let inner = MemoryPeers(orgs: [0x2a])
        func organizationExists(_ network: UInt32) throws -> Bool { try inner.organizationExists(network) }
        func addresses(network: UInt32) throws -> [SixPNAddress] { try inner.addresses(network: network) }
        func peers(network: UInt32?) throws -> [PeerRecord] { try inner.peers(network: network) }
        func add(_ peer: PeerRecord) throws { try inner.add(peer) }
        func remove(network: UInt32, name: String) throws { throw PeerError(message: "database is locked") }
    }

    @Test func removeThatTheDatabaseRefusesLeavesThePeerOnTheDevice() throws {
        let db = StuckPeers()
        let dev = MemoryDevice()
        let p = PeerProvisioning(directory: db, device: dev)
        let made = try p.create(network: 0x2a, name: "office", region: nil, endpoint: nil, hostPublicKey: nil)
        #expect(throws: PeerError(message: "database is locked")) { try p.remove(network: 0x2a, name: "office") }
        #expect(dev.peers[made.record.publicKey!] == [made.prefix])
        #expect(db.inner.records.count == 1)
    }
}
