import ArgumentParser
import NetSetup
import ZoneEngine

/// `sixpn wg peer ...`: customers' WireGuard peers.
struct WGCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "wg",
        abstract: "WireGuard peers that join customers' networks to their organization's 6PN.",
        subcommands: [Peer.self]
    )

    struct Peer: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create, remove and list peers (a /120 each in host ffffffff of the organization's /48).",
            subcommands: [Create.self, Remove.self, List.self]
        )
    }

    struct Create: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Make a key pair and a /120, add the peer to the device and the database, print its wg-quick file.")
        @Option(help: "The SQLite database file.") var db: String?
        @OptionGroup var etcd: EtcdOptions
        @Option(help: "The organization's network ID (hex, with or without 0x).") var network: String
        @Option(help: "The peer's name (a DNS label; it answers as NAME._peer.internal).") var name: String
        @Option(help: "The region the peer connects through (a DNS label), noted in the file.") var region: String?
        @Option(help: "The host's WireGuard device to add the peer to (kernel or userspace).") var dev: String?
        @Option(help: "The host's endpoint as the peer reaches it, HOST:PORT or [ADDR]:PORT.") var endpoint: String?
        @Option(name: .customLong("host-key"),
                help: "The host's WireGuard public key (base64), when there is no --dev to read it from.")
        var hostKey: String?

        func run() throws {
            let created = try OneLineFailure.wrap("sixpn wg peer create") {
                let network = try NetworkID.parse(network)
                var key: WireGuardKey?
                if let hostKey {
                    guard let k = WireGuardKey(base64: hostKey) else {
                        throw PeerError(message: "--host-key \"\(hostKey)\" is not a WireGuard key (44 characters of base64)")
                    }
                    key = k
                }
                let provisioning = PeerProvisioning(directory: try peerDirectory(db: db, etcd: etcd),
                                                    device: try dev.map { try WireGuardDevices.open($0) })
                return try provisioning.create(network: network, name: name, region: region, endpoint: endpoint,
                                               hostPublicKey: key)
            }
            print(created.config.text, terminator: "")
        }
    }

    struct Remove: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove a peer from the device (when given) and the database.")
        @Option(help: "The SQLite database file.") var db: String?
        @OptionGroup var etcd: EtcdOptions
        @Option(help: "The organization's network ID (hex, with or without 0x).") var network: String
        @Option(help: "The peer's name.") var name: String
        @Option(help: "The host's WireGuard device to remove the peer from.") var dev: String?

        func run() throws {
            try OneLineFailure.wrap("sixpn wg peer remove") {
                let provisioning = PeerProvisioning(directory: try peerDirectory(db: db, etcd: etcd),
                                                    device: try dev.map { try WireGuardDevices.open($0) })
                try provisioning.remove(network: try NetworkID.parse(network), name: name)
            }
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print peers, one per line: NETWORK NAME ADDRESS/120 PUBLIC-KEY.")
        @Option(help: "The SQLite database file.") var db: String?
        @OptionGroup var etcd: EtcdOptions
        @Option(help: "Only this organization (network ID, hex).") var network: String?

        func run() throws {
            let peers = try OneLineFailure.wrap("sixpn wg peer list") {
                try peerDirectory(db: db, etcd: etcd).peers(network: try network.map { try NetworkID.parse($0) })
            }
            for p in peers {
                print(NetworkID.format(p.network), p.name, "\(p.address)/\(PeerArea.slot(of: p.address) == nil ? 128 : 120)",
                      p.publicKey?.base64 ?? "-")
            }
        }
    }
}
