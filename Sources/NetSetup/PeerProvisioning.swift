import DNSWire
import ZoneEngine

/// Why a peer could not be created or removed, in one line.
public struct PeerError: Error, Equatable, CustomStringConvertible {
    public let message: String
    public var description: String { message }
    public init(message: String) { self.message = message }
}

/// What `wg peer create` made: the record and the gateway's configuration.
public struct CreatedPeer: Sendable {
    public let record: PeerRecord
    public let prefix: IPv6Prefix
    public let config: WireGuardQuickConfig
}

/// Creates and removes customers' WireGuard peers: a key pair, a /120 in the
/// organization's peer area (`PeerArea`), the peer on the host's device, the
/// record in the database. Either both the device and the database change,
/// or neither: checks come first, the database insert (which rejects a taken
/// name or address atomically) comes next, and a failure on the device undoes
/// it. Removal goes the other way round, device first.
public struct PeerProvisioning {
    public let directory: any PeerDirectory
    public let device: (any WireGuardDevice)?

    public init(directory: any PeerDirectory, device: (any WireGuardDevice)?) {
        self.directory = directory
        self.device = device
    }

    /// Creates peer `name` in `network`. `hostPublicKey` is needed only when
    /// there is no device to read it from.
    public func create(network: UInt32, name: String, region: String?, endpoint: String?,
                       hostPublicKey: WireGuardKey?, keys: WireGuardKeyPair = WireGuardKeyPair(),
                       capacity: UInt64 = PeerArea.slotCount) throws -> CreatedPeer {
        let org = NetworkID.format(network)
        let name = name.lowercased()  // as the database keeps it
        guard try directory.organizationExists(network) else {
            throw PeerError(message: "no organization has network ID \(org)")
        }
        if try directory.peers(network: network).contains(where: { $0.name == name }) {
            throw PeerError(message: "network \(org) already has a peer named \(name)")
        }
        if let endpoint { try Self.checkEndpoint(endpoint) }
        if let region, !Self.isLabel(region) {
            throw PeerError(message: "region \"\(region)\" is not a DNS label (1-63 letters, digits or '-')")
        }
        guard let hostKey = try hostPublicKey ?? device?.publicKey() else {
            throw PeerError(message: "no host public key: give --dev (the host's WireGuard device) or --host-key")
        }
        guard let slot = PeerArea.firstFreeSlot(network: network, used: try directory.addresses(network: network),
                                                capacity: capacity) else {
            throw PeerError(message: "network \(org) has no free /120 left in its peer area")
        }
        let prefix = PeerArea.prefix(network: network, slot: slot)
        let record = PeerRecord(network: network, name: name, address: PeerArea.peerAddress(network: network, slot: slot),
                                publicKey: keys.publicKey)

        try directory.add(record)
        if let device {
            do {
                try device.addPeer(publicKey: keys.publicKey, allowedIPs: [prefix])
            } catch {
                do {
                    try directory.remove(network: network, name: name)
                } catch let undo {
                    throw PeerError(message: "\(error); and peer \(name) stays in the database: \(undo)")
                }
                throw error
            }
        }

        let orgPrefix = IPv6Prefix(record.address.address, length: 48)
        let dns = IPv6Address(high: orgPrefix.address.high, low: 3)
        var comments = ["sixpn peer \(name) of network \(org)"]
        if let region { comments.append("region \(region)") }
        let config = WireGuardQuickConfig(
            address: record.address.address,
            privateKey: keys.privateKey, dns: dns.description, hostPublicKey: hostKey,
            endpoint: endpoint, allowedIPs: orgPrefix, comments: comments)
        return CreatedPeer(record: record, prefix: prefix, config: config)
    }

    /// Removes peer `name` of `network` from the device (when given) and the database.
    public func remove(network: UInt32, name: String) throws {
        let org = NetworkID.format(network)
        guard let peer = try directory.peers(network: network).first(where: { $0.name == name.lowercased() }) else {
            throw PeerError(message: "network \(org) has no peer named \(name)")
        }
        guard let device, let key = peer.publicKey else {
            try directory.remove(network: network, name: name)
            return
        }
        try device.removePeer(publicKey: key)
        do {
            try directory.remove(network: network, name: name)
        } catch {
            // Put the device entry back, so the database still tells the truth.
            let allowed = IPv6Prefix(peer.address.address, length: PeerArea.slot(of: peer.address) != nil ? 120 : 128)
            do {
                try device.addPeer(publicKey: key, allowedIPs: [allowed])
            } catch let undo {
                throw PeerError(message: "\(error); and peer \(name) could not be put back on \(device.name): \(undo)")
            }
            throw error
        }
    }

    /// Letters, digits and inner hyphens, 1-63 octets (RFC 1123), as region names are.
    static func isLabel(_ text: String) -> Bool {
        let u = Array(text.utf8)
        return (1...63).contains(u.count) && u.first != 0x2d && u.last != 0x2d
            && u.allSatisfy { (0x30...0x39).contains($0) || (0x61...0x7a).contains($0 | 0x20) || $0 == 0x2d }
    }

    /// `HOST:PORT` or `[IPv6]:PORT`, with a port in 1...65535.
    static func checkEndpoint(_ text: String) throws {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]),
              (1...65535).contains(port), colon != text.startIndex else {
            throw PeerError(message: "endpoint \"\(text)\" is not HOST:PORT")
        }
        let host = text[..<colon]
        if host.contains(":") {
            guard host.hasPrefix("["), host.hasSuffix("]"), IPv6Address(host.dropFirst().dropLast()) != nil else {
                throw PeerError(message: "endpoint \"\(text)\": an IPv6 host goes in brackets, [ADDR]:PORT")
            }
        }
    }
}
