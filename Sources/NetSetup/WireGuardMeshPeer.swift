import DNSWire

/// A host of the mesh as another host's WireGuard device sees it: its key, where
/// it listens, and the prefixes routed to it (its swapped /48, and for the peer
/// gateway the peer area's). `sixpn agent` keeps a device's peers equal to the
/// live hosts it learns from the cluster.
public struct MeshPeer: Hashable, Sendable {
    public var publicKey: WireGuardKey
    /// `IPv4:PORT` or `[IPv6]:PORT`.
    public var endpoint: String?
    public var allowedIPs: [IPv6Prefix]

    public init(publicKey: WireGuardKey, endpoint: String?, allowedIPs: [IPv6Prefix]) {
        self.publicKey = publicKey
        self.endpoint = endpoint
        self.allowedIPs = allowedIPs
    }

    /// The /48 that carries host `host`'s instances across the mesh once `swap`
    /// has moved the host ID into bits 16-47: fdaa:HHHH:HHHH::/48.
    public static func swappedPrefix(host: UInt32) -> IPv6Prefix {
        IPv6Prefix(IPv6Address(high: UInt64(0xfdaa) << 48 | UInt64(host) << 16, low: 0), length: 48)
    }
}

extension UserspaceWireGuardDevice {
    /// Adds or updates a mesh peer in one UAPI request: key, endpoint and allowed IPs.
    public func setMeshPeer(_ peer: MeshPeer) throws {
        var request = Self.addPeerRequest(publicKey: peer.publicKey, allowedIPs: peer.allowedIPs)
        if let endpoint = peer.endpoint { request.insert("endpoint=\(endpoint)", at: 2) }
        _ = try UAPISocket.exchange(device: name, request: request)
    }

    /// The public keys of the device's peers.
    public func peerKeys() throws -> [WireGuardKey] {
        try UAPISocket.exchange(device: name, request: ["get=1"])
            .filter { $0.key == "public_key" }
            .compactMap { WireGuardKey(hex: $0.value) }
    }
}
