/// The database's rows as `sixpn db list` shows them, typed: what tools such
/// as NetSetup read, instead of parsing the list's text.
public struct DatabaseContents: Sendable, Equatable {
    public struct Organization: Sendable, Equatable {
        public var network: UInt32
        public var name: String

        public init(network: UInt32, name: String) {
            self.network = network
            self.name = name
        }
    }

    public struct Instance: Sendable, Equatable {
        public var network: UInt32
        public var app: String
        public var id: String
        public var region: String
        public var host: UInt32
        public var address: SixPNAddress
        public var started: Bool

        public init(network: UInt32, app: String, id: String, region: String, host: UInt32, address: SixPNAddress,
                    started: Bool) {
            (self.network, self.app, self.id, self.region) = (network, app, id, region)
            (self.host, self.address, self.started) = (host, address, started)
        }
    }

    public struct Peer: Sendable, Equatable {
        public var network: UInt32
        public var name: String
        public var address: SixPNAddress
        /// Base64, as stored; nil when the peer has none yet.
        public var publicKey: String?

        public init(network: UInt32, name: String, address: SixPNAddress, publicKey: String?) {
            (self.network, self.name, self.address, self.publicKey) = (network, name, address, publicKey)
        }
    }

    /// Ordered by network; instances then by app, region and ID; peers by name.
    public var organizations: [Organization] = []
    public var instances: [Instance] = []
    public var peers: [Peer] = []

    public init() {}

    /// One thing per line, in that order:
    ///
    ///     org NETWORK NAME
    ///     instance NETWORK APP ID REGION HOST ADDRESS started|stopped
    ///     peer NETWORK NAME ADDRESS KEY|-
    public var lines: [String] {
        organizations.map { "org \(hex8($0.network)) \($0.name)" }
            + instances.map { i in
                "instance \(hex8(i.network)) \(i.app) \(i.id) \(i.region) \(hex8(i.host)) \(i.address) "
                    + (i.started ? "started" : "stopped")
            }
            + peers.map { "peer \(hex8($0.network)) \($0.name) \($0.address) \($0.publicKey ?? "-")" }
    }
}
