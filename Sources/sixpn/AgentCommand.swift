import ArgumentParser
import Cluster
import Logging
import Operations
import Sockets
import ZoneEngine

/// `sixpn agent`: one per host; keeps the host's database, membership and mesh in step with etcd.
struct AgentCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "agent",
        abstract: "Keep this host's database a replica of the cluster (etcd), register the host, build the WireGuard mesh.",
        discussion: "Keys, values, leases, TLS and failure behaviour: docs/cluster.md.")

    @OptionGroup var etcd: EtcdOptions
    @Option(help: "The SQLite database that `sixpn serve` answers from (created when missing).") var db: String
    @Option(name: .customLong("host-id"), help: "This host's 32-bit host ID (hex): bits 48-79 of its instances' addresses.")
    var hostID: String
    @Option(help: "This host's region (a DNS label).") var region: String?
    @Option(name: .customLong("lease-ttl"), help: "Seconds the host stays alive in the cluster after its agent stops.")
    var leaseTTL: Int64 = 10
    @Option(name: .customLong("wg-dev"), help: "The mesh's userspace WireGuard device: its peers are kept equal to the other live hosts.")
    var wgDev: String?
    @Option(name: .customLong("wg-endpoint"), help: "Where the other hosts reach this host's mesh device, IPv4:PORT or [IPv6]:PORT.")
    var wgEndpoint: String?
    @Flag(name: .customLong("peer-gateway"), help: "This host terminates customers' WireGuard peers (the mesh routes the peer area here).")
    var peerGateway = false
    @Option(name: .customLong("list-page-size"), help: "Keys per page when the agent lists the cluster (a first sync, or after a compaction).")
    var listPageSize = 50_000
    @Option(help: "ADDR:PORT or [ADDR]:PORT for Prometheus: GET /metrics.") var metrics: String?
    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel = "info"

    func validate() throws {
        guard etcd.urls != nil else { throw ValidationError("--etcd URL[,URL...] is required") }
        guard (1...3600).contains(leaseTTL) else { throw ValidationError("--lease-ttl must be 1 to 3600 seconds") }
        guard (100...1_000_000).contains(listPageSize) else { throw ValidationError("--list-page-size must be 100 to 1,000,000 keys") }
        guard (wgDev == nil) == (wgEndpoint == nil) else { throw ValidationError("--wg-dev and --wg-endpoint come together") }
        guard Logger.Level(rawValue: logLevel) != nil else {
            throw ValidationError("--log-level: \"\(logLevel)\" is not trace, debug, info, notice, warning, error or critical")
        }
    }

    func run() throws {
        do {
            let etcdConfiguration = try etcd.configuration()!
            let host = try NetworkID.parse(hostID)
            // The region is a label by the same rule as an instance's.
            if let region { _ = try InstanceFields(app: "region", region: region, address: "fdaa:0:1::", id: nil) }
            bootstrapLogging(level: Logger.Level(rawValue: logLevel)!)
            var log = Logger(label: "sixpn.agent")
            log[metadataKey: "host"] = "\(NetworkID.format(host))"
            let logger = log
            let configuration = AgentConfiguration(
                databasePath: db, hostID: host, region: region?.lowercased(), leaseTTL: leaseTTL,
                wireGuardDevice: wgDev, wireGuardEndpoint: wgEndpoint, peerGateway: peerGateway, listPageSize: listPageSize)
            let listen = try metrics.map { m throws(ClusterError) in try AgentMetrics.parseListen(m) }
            // Serves until the process ends.
            let endpoint = try listen.map { l throws(Errno) in
                _ = AgentMetrics.registry  // bootstrapped before the agent makes its metrics
                return try HTTPEndpoint(host: l.host, port: l.port, respond: AgentMetrics.respond)
            }
            defer { endpoint?.close() }
            try runBlocking {
                try await EtcdClient.with(etcdConfiguration) { client in
                    try await ClusterAgent(store: client, configuration: configuration, logger: logger).run()
                }
            }
        } catch {
            throw failOneLine("sixpn agent", error)
        }
    }
}
