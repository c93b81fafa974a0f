import ZoneEngine

/// Where sixpn's records live in etcd (docs/cluster.md is the contract for other writers).
///
///     /sixpn/instances/<address>               an instance (durable)
///     /sixpn/peers/<address>                   a customer's WireGuard peer (durable)
///     /sixpn/hosts/<host ID, 8 hex digits>     a live host (under its lease)
///     /sixpn/names/<network>/instance/<app>/<id>   index: keeps (app, ID) unique
///     /sixpn/names/<network>/peer/<name>           index: keeps a peer's name unique
///
/// Addresses are RFC 5952 text, networks and hosts 8 lower-case hex digits.
public enum ClusterKeys {
    public static let prefix = "/sixpn/"
    static let instances = prefix + "instances/"
    static let peers = prefix + "peers/"
    static let hosts = prefix + "hosts/"
    static let names = prefix + "names/"

    public static func instance(_ address: String) -> String { instances + address }
    public static func peer(_ address: String) -> String { peers + address }
    public static func host(_ id: UInt32) -> String { hosts + NetworkID.format(id) }
    public static func instanceName(network: UInt32, app: String, id: String) -> String {
        names + NetworkID.format(network) + "/instance/" + app + "/" + id
    }
    public static func peerName(network: UInt32, name: String) -> String {
        names + NetworkID.format(network) + "/peer/" + name
    }

    /// What a key under the prefix names.
    public enum Parsed: Equatable, Sendable {
        case instance(address: String)
        case peer(address: String)
        case host(UInt32)
        /// An index key: the agent has nothing to do with it.
        case name
        case unknown
    }

    public static func parse(_ key: String) -> Parsed {
        if let rest = key.dropPrefix(instances) { return .instance(address: rest) }
        if let rest = key.dropPrefix(peers) { return .peer(address: rest) }
        if let rest = key.dropPrefix(hosts) {
            guard rest.utf8.count == 8, let id = UInt32(rest, radix: 16) else { return .unknown }
            return .host(id)
        }
        if key.hasPrefix(names) { return .name }
        return .unknown
    }
}

extension String {
    func dropPrefix(_ p: String) -> String? {
        hasPrefix(p) ? String(utf8.dropFirst(p.utf8.count))! : nil
    }
}
