import DNSWire

/// A wg-quick configuration file for a customer's gateway: the same text
/// works with wg-quick on Linux and macOS and with the WireGuard apps on
/// Windows and macOS (each reads [Interface] Address and DNS, which `wg`
/// itself does not; strip those for `wg setconf`).
public struct WireGuardQuickConfig: Equatable, Sendable {
    /// The peer's address, written with its /120's length.
    public var address: IPv6Address
    public var prefixLength: Int = 120
    public var privateKey: WireGuardKey
    /// The organization's DNS server, `<org prefix>::3`.
    public var dns: String
    /// The host's WireGuard public key.
    public var hostPublicKey: WireGuardKey
    /// The host's endpoint as the gateway reaches it (`HOST:PORT`); none
    /// leaves the gateway waiting for the host to reach it.
    public var endpoint: String?
    /// Everything the gateway routes into the tunnel: the organization's /48.
    public var allowedIPs: IPv6Prefix
    /// Keeps NAT and firewall state open when the gateway sits behind one.
    public var persistentKeepalive: Int = 15
    /// Lines written as `# ...` at the top (name, region).
    public var comments: [String] = []

    public init(address: IPv6Address, privateKey: WireGuardKey, dns: String, hostPublicKey: WireGuardKey,
                endpoint: String?, allowedIPs: IPv6Prefix, comments: [String] = []) {
        self.address = address
        self.privateKey = privateKey
        self.dns = dns
        self.hostPublicKey = hostPublicKey
        self.endpoint = endpoint
        self.allowedIPs = allowedIPs
        self.comments = comments
    }

    public var text: String {
        var lines = comments.map { "# \($0)" }
        lines += [
            "[Interface]",
            "Address = \(address)/\(prefixLength)",
            "PrivateKey = \(privateKey.base64)",
            "DNS = \(dns)",
            "",
            "[Peer]",
            "PublicKey = \(hostPublicKey.base64)",
        ]
        if let endpoint { lines.append("Endpoint = \(endpoint)") }
        lines += [
            "AllowedIPs = \(allowedIPs)",
            "PersistentKeepalive = \(persistentKeepalive)",
        ]
        return lines.joined(separator: "\n") + "\n"
    }
}
