/// An instance's fields checked by docs/schema.md's rules and normalized (labels
/// in lower case, the address in RFC 5952 text): what every writer stores, the
/// local `sixpn db`, the cluster's `sixpn db --etcd` and `sixpn agent` alike,
/// with the same one-line errors.
public struct InstanceFields: Sendable, Equatable {
    public let sixPN: SixPNAddress
    /// The address as stored.
    public let text: String
    public let app: String
    public let region: String
    public let id: String

    /// `id` defaults to the address's instance bits as 8 hex digits.
    public init(app: String, region: String, address: String, id: String?) throws(DatabaseError) {
        sixPN = try Self.address(address)
        text = sixPN.address.description
        self.app = try Label.normalized(app, what: "app name")
        self.region = try Label.normalized(region, what: "region")
        guard !Label.reservedRegions.contains(self.region) else {
            throw DatabaseError(.badInput, "region \"\(self.region)\" is reserved (it names a record under <app>.internal)")
        }
        self.id = try Label.normalized(id ?? hex8(sixPN.instance), what: "instance ID")
    }

    /// A process group: a DNS label.
    public static func processGroup(_ text: String) throws(DatabaseError) -> String {
        try Label.normalized(text, what: "process group")
    }

    /// Metadata pairs: keys and values DNS labels (`<value>.<key>.kv._metadata.<app>.internal`), no key twice.
    public static func metadata(_ pairs: [(key: String, value: String)]) throws(DatabaseError) -> [(key: String, value: String)] {
        var out: [(key: String, value: String)] = []
        for (k, v) in pairs {
            let key = try Label.normalized(k, what: "metadata key")
            guard !out.contains(where: { $0.key == key }) else {
                throw DatabaseError(.badInput, "metadata key \(key) given twice")
            }
            out.append((key, try Label.normalized(v, what: "metadata value")))
        }
        return out
    }

    /// A 6PN address with a network ID, or the error every writer gives.
    public static func address(_ text: String) throws(DatabaseError) -> SixPNAddress {
        guard let a = SixPNAddress(text) else {
            throw DatabaseError(.badInput, "address \"\(text)\" is not an IPv6 address inside fdaa::/16")
        }
        guard a.network != 0 else { throw DatabaseError(.badInput, "address \(text) has network ID 0") }
        return a
    }
}

/// A WireGuard peer's fields, checked and normalized as `InstanceFields` are.
public struct PeerFields: Sendable, Equatable {
    public let sixPN: SixPNAddress
    public let text: String
    public let name: String
    public let publicKey: String?

    public init(name: String, address: String, publicKey: String?) throws(DatabaseError) {
        sixPN = try InstanceFields.address(address)
        text = sixPN.address.description
        self.name = try Label.normalized(name, what: "peer name")
        if let k = publicKey, !Self.isWireGuardKey(k) {
            throw DatabaseError(.badInput, "public key \"\(k)\" is not a WireGuard key (44 characters of base64)")
        }
        self.publicKey = publicKey
    }

    static func isWireGuardKey(_ k: String) -> Bool {
        let u = Array(k.utf8)
        guard u.count == 44, u[43] == UInt8(ascii: "=") else { return false }
        return u[..<43].allSatisfy { c in
            (0x41...0x5a).contains(c) || (0x61...0x7a).contains(c) || (0x30...0x39).contains(c) || c == 0x2b || c == 0x2f
        }
    }
}
