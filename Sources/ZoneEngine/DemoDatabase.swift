import Glibc

/// The database `sixpn demo` serves: two organizations, several apps in
/// several regions, a few instances each, and one WireGuard peer.
public enum DemoDatabase {
    /// Networks of the two demo organizations.
    public static let networks: [UInt32] = [0x0000_0001, 0x0000_0002]

    /// Writes the demo database at `path`, replacing whatever was there.
    public static func create(at path: String) throws(DatabaseError) {
        for suffix in ["", "-wal", "-shm"] { unlink(path + suffix) }
        try DatabaseWriter.initialize(path: path)
        let db = try DatabaseWriter(path: path)
        // (network, host, instance, app, region)
        let instances: [(UInt32, UInt32, UInt32, String, String)] = [
            (1, 0x0a01, 0x1001, "web", "ams"), (1, 0x0a02, 0x1002, "web", "ams"),
            (1, 0x0b01, 0x1003, "web", "iad"), (1, 0x0c01, 0x1004, "web", "syd"),
            (1, 0x0a01, 0x2001, "api", "ams"), (1, 0x0b01, 0x2002, "api", "iad"),
            (1, 0x0b02, 0x3001, "db", "iad"), (1, 0x0b01, 0x3002, "db", "iad"),
            (2, 0x0a02, 0x4001, "web", "ams"), (2, 0x0d01, 0x4002, "web", "lhr"),
            (2, 0x0d01, 0x5001, "worker", "lhr"), (2, 0x0c01, 0x5002, "worker", "syd"),
        ]
        for (network, host, instance, app, region) in instances {
            let address = SixPNAddress(network: network, host: host, instance: instance, low: 2)
            try db.addInstance(app: app, region: region, address: address.description)
        }
        // The first /120 of the organization's peer area (host ffffffff, see
        // NetSetup's PeerArea), where `sixpn wg peer create` would put it.
        let peer = SixPNAddress(network: 1, host: 0xffff_ffff, instance: 0, low: 0x0001)
        try db.addPeer(name: "laptop", address: peer.description,
                       publicKey: "xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=")
    }
}
