import ArgumentParser
import Glibc
import ZoneEngine

/// `sixpn db ...`: writes and lists the database that `sixpn serve` answers from.
struct DBCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "db",
        abstract: "Create, change and list the service-discovery database (docs/schema.md).",
        subcommands: [Init.self, AddInstance.self, RemoveInstance.self, SetState.self, AddPeer.self, RemovePeer.self, List.self]
    )

    struct DBOption: ParsableArguments {
        @Option(name: .customLong("db"), help: "The SQLite database file.")
        var file: String?
        @OptionGroup var etcd: EtcdOptions
        var path: String { file ?? "" }

        func validate() throws {
            guard (file == nil) != (etcd.urls == nil) else { throw ValidationError("give either --db FILE or --etcd URL[,URL...]") }
        }
    }

    struct Init: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create an empty database (WAL mode) with the current schema.")
        @OptionGroup var db: DBOption
        func run() throws {
            guard db.etcd.urls == nil else { throw ValidationError("init makes a local database; the cluster needs none") }
            try report { () throws(DatabaseError) in try DatabaseWriter.initialize(path: db.path) }
        }
    }

    struct AddInstance: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "add-instance",
            abstract: "Add an instance; its organization and app are created when new.")
        @OptionGroup var db: DBOption
        @Option(help: "The app's name (a DNS label).") var app: String
        @Option(help: "The region's name (a DNS label).") var region: String
        @Option(help: "The instance's 6PN address; gives the network and host IDs.") var address: String
        @Option(help: "The instance ID (default: the address's instance bits, 8 hex digits).") var id: String?
        @Option(name: .customLong("process-group"), help: "The instance's process group (a DNS label).")
        var processGroup: String = "app"
        @Flag(help: "Add it stopped: listed only by the all. names until `db set-state` starts it.")
        var stopped = false
        @Option(help: ArgumentHelp("A metadata pair (key and value are DNS labels); repeatable.", valueName: "key=value"))
        var metadata: [String] = []
        func run() throws {
            let command = self
            if try DBCluster.run(db, { try await DBCluster.addInstance($0, command) }) { return }
            try report { () throws(DatabaseError) in
                var pairs: [(key: String, value: String)] = []
                for m in metadata {
                    guard let eq = m.firstIndex(of: "=") else {
                        throw DatabaseError(.badInput, "metadata \"\(m)\" is not KEY=VALUE")
                    }
                    pairs.append((String(m[..<eq]), String(m[m.index(after: eq)...])))
                }
                let added = try DatabaseWriter(path: db.path).addInstance(
                    app: app, region: region, address: address, id: id, started: !stopped,
                    processGroup: processGroup, metadata: pairs)
                print("instance \(NetworkID.format(added.network)) \(added.app) \(added.id) \(added.region) \(added.address)")
            }
        }
    }

    struct RemoveInstance: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "remove-instance", abstract: "Remove the instance with this address.")
        @OptionGroup var db: DBOption
        @Option(help: "The instance's 6PN address.") var address: String
        func run() throws {
            let address = address
            if try DBCluster.run(db, { try await $0.removeInstance(address: address) }) { return }
            try report { () throws(DatabaseError) in try DatabaseWriter(path: db.path).removeInstance(address: address) }
        }
    }

    struct SetState: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "set-state", abstract: "Start or stop the instance with this address (stopped: only in the all. names).")
        @OptionGroup var db: DBOption
        @Option(help: "The instance's 6PN address.") var address: String
        @Option(help: "started or stopped.") var state: String
        func run() throws {
            let (address, state) = (address, state)
            if try DBCluster.run(db, { try await DBCluster.setState($0, address: address, state: state) }) { return }
            try report { () throws(DatabaseError) in
                guard state == "started" || state == "stopped" else {
                    throw DatabaseError(.badInput, "state \"\(state)\" is neither started nor stopped")
                }
                try DatabaseWriter(path: db.path).setState(address: address, started: state == "started")
            }
        }
    }

    struct AddPeer: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "add-peer", abstract: "Add a WireGuard peer to the organization its address belongs to.")
        @OptionGroup var db: DBOption
        @Option(help: "The peer's name (a DNS label).") var name: String
        @Option(help: "The peer's 6PN address.") var address: String
        @Option(name: .customLong("public-key"), help: "The peer's WireGuard public key (base64).") var publicKey: String?
        func run() throws {
            let (name, address, publicKey) = (name, address, publicKey)
            if try DBCluster.run(db, { try await $0.addPeer(name: name, address: address, publicKey: publicKey) }) { return }
            try report { () throws(DatabaseError) in
                try DatabaseWriter(path: db.path).addPeer(name: name, address: address, publicKey: publicKey)
            }
        }
    }

    struct RemovePeer: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "remove-peer", abstract: "Remove an organization's peer.")
        @OptionGroup var db: DBOption
        @Option(help: "The peer's name.") var name: String
        @Option(help: "The organization's network ID (hex).") var network: String
        func run() throws {
            let (name, network) = (name, network)
            if try DBCluster.run(db, { try await $0.removePeer(name: name, network: NetworkID.parse(network)) }) { return }
            try report { () throws(DatabaseError) in
                try DatabaseWriter(path: db.path).removePeer(name: name, network: NetworkID.parse(network))
            }
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print organizations, instances and peers, one per line.")
        @OptionGroup var db: DBOption
        @Option(help: "Only this organization (network ID, hex).") var network: String?
        func run() throws {
            let network = network
            if try DBCluster.run(db, { try await DBCluster.list($0, network: network) }) { return }
            try report { () throws(DatabaseError) in
                let filter = try network.map { (n: String) throws(DatabaseError) in try NetworkID.parse(n) }
                for line in try DatabaseWriter(path: db.path).list(network: filter) { print(line) }
            }
        }
    }
}

/// Runs a database command; a failure becomes one line on stderr and exit status 1.
private func report(_ body: () throws(DatabaseError) -> Void) throws {
    do {
        try body()
    } catch {
        var line = "sixpn db: \(error.message)\n"
        line.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
        throw ExitCode.failure
    }
}
