import ArgumentParser
import Forwarder
import Glibc
import Logging
import Server
import Sockets
import ZoneEngine

/// `sixpn serve`: answers `.internal` names from the database for 6PN clients
/// and forwards every other name.
struct ServeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Answer .internal names for 6PN sources from the database; forward every other name.",
        discussion: """
            Only sources in fdaa::/16 are answered, each for its own organization (the address's network ID).
            SIGHUP reloads the database at once (it is also watched); SIGTERM finishes what is in flight and exits 0.
            """)

    @Option(name: .customLong("db"), help: "The SQLite database (docs/schema.md).")
    var database: String

    @Option(name: .customLong("listen"), help: "ADDR:PORT or [ADDR]:PORT to answer on, UDP and TCP (repeatable; default [fdaa::3]:53).")
    var listen: [String] = []

    @Option(name: .customLong("upstream"), help: "ADDR:PORT or [ADDR]:PORT to forward other names to (repeatable; default: /etc/resolv.conf's nameservers other than sixpn itself; none: REFUSED).")
    var upstream: [String] = []

    @Option(help: "UDP worker threads (default: the number of cores).")
    var threads: Int?

    @Flag(help: "Pin UDP worker i to the i-th CPU this process may use (pthread_setaffinity_np).")
    var pin = false

    @Option(help: "How UDP workers move datagrams: recvmmsg (batches) or uring (io_uring: multishot receive, one system call per round).")
    var io: String = IOBackend.recvmmsg.rawValue

    @Option(help: "TTL of .internal answers, in seconds.")
    var ttl: UInt32 = 5

    @Option(help: "ADDR:PORT or [ADDR]:PORT for Prometheus: GET /metrics.")
    var metrics: String?

    @Option(name: .customLong("dev-org"), help: "Development only: answer loopback sources as this organization (network ID, hex).")
    var devOrg: String?

    func run() throws {
        Server.blockSignals()
        let listenAddresses = try listen.isEmpty ? [ServerConfiguration.defaultListen] : listen.map(address)
        var upstreams = try upstream.map(address)
        if upstream.isEmpty {
            upstreams = (try? ResolvConf.upstreams(excluding: listenAddresses)) ?? []
        }
        var config = ServerConfiguration(databasePath: database, listen: listenAddresses, upstreams: upstreams)
        if let threads { config.threads = threads }
        config.ttl = ttl
        config.pin = pin
        guard let backend = IOBackend(rawValue: io) else { throw fatal("--io: \"\(io)\" is not recvmmsg or uring") }
        config.io = backend
        config.metrics = try metrics.map(address)
        if let devOrg {
            do { config.developmentNetwork = try NetworkID.parse(devOrg) } catch { throw fatal("--dev-org: \(error.message)") }
        }
        try serve(config, command: "serve")
    }

    private func address(_ text: String) throws -> SocketAddress {
        do { return try SocketAddress(text) } catch { throw fatal(error.description) }
    }

    private func fatal(_ message: String) -> ExitCode { sixpnFatal("serve", message) }
}

/// Starts the server, then waits for SIGTERM; a start-up failure is one line
/// on stderr and exit status 1.
func serve(_ configuration: ServerConfiguration, command: String, whenReady: () -> Void = {}) throws {
    bootstrapLogging()
    let server = Server(configuration: configuration, logger: Logger(label: "sixpn"))
    do {
        try server.start()
    } catch {
        throw sixpnFatal(command, error.description)
    }
    whenReady()
    server.runUntilStopped()
}

/// Writes "sixpn COMMAND: MESSAGE" to stderr and returns the failure exit code to throw.
func sixpnFatal(_ command: String, _ message: String) -> ExitCode {
    var line = "sixpn \(command): \(message)\n"
    line.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
    return ExitCode.failure
}

/// Structured logs on stderr (swift-log), once per process.
func bootstrapLogging() {
    _ = loggingBootstrapped
}

private let loggingBootstrapped: Bool = {
    LoggingSystem.bootstrap(StreamLogHandler.standardError)
    return true
}()
