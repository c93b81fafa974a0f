import ArgumentParser
import Dnstap
import Forwarder
import Glibc
import Logging
import Operations
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
            Under systemd (Type=notify) it sends READY=1 once it answers, RELOADING=1 and READY=1 around SIGHUP,
            STOPPING=1 on SIGTERM, and WATCHDOG=1 while every worker thread turns when WatchdogSec= is set.
            """)

    @Option(name: .customLong("db"), help: "The SQLite database (docs/schema.md).")
    var database: String

    @Option(name: .customLong("listen"), help: "ADDR:PORT or [ADDR]:PORT to answer on, UDP and TCP (repeatable; default [fdaa::3]:53; [::]:PORT or 0.0.0.0:PORT: each of the host's addresses of that family at start-up).")
    var listen: [String] = []

    @Option(name: .customLong("upstream"), help: "ADDR:PORT or [ADDR]:PORT to forward other names to (repeatable; default: /etc/resolv.conf's nameservers other than sixpn itself; none: REFUSED).")
    var upstream: [String] = []

    @Option(name: .customLong("upstream-timeout"), help: ArgumentHelp(
        "Milliseconds one upstream gets before the next is asked; a client has its answer, a stale one or SERVFAIL within twice this (default 1500).",
        valueName: "ms"))
    var upstreamTimeout: Int?

    @Option(name: .customLong("cache-entries"), help: ArgumentHelp(
        "The most forwarded answers the cache holds (default 100000).", valueName: "n"))
    var cacheEntries: Int?

    @Option(name: .customLong("cache-bytes"), help: ArgumentHelp(
        "The most memory the cache's answers take: octets, or a number with K, M or G (KiB, MiB, GiB; default 64M).",
        valueName: "size"))
    var cacheBytes: String?

    @Option(name: .customLong("serve-stale"), help: ArgumentHelp(
        "Seconds past its TTL an answer may still be served when every upstream fails (RFC 8767; default 86400; 0: never).",
        valueName: "seconds"))
    var serveStale: Int?

    @Option(name: .customLong("stale-client-timeout"), help: ArgumentHelp(
        "Milliseconds a client whose answer has expired waits for the upstreams before it gets the expired one, TTL 30 (RFC 8767 §5; default 1800; 0: only when every upstream failed).",
        valueName: "ms"))
    var staleClientTimeout: Int?

    @Option(name: .customLong("upstream-inflight"), help: ArgumentHelp(
        "The most queries to upstreams in flight at once, one socket each; a question past it gets a stale answer or SERVFAIL at once (default: 1024, or less when the open-file limit is lower).",
        valueName: "n"))
    var upstreamInFlight: Int?

    @Option(name: .customLong("instance-qps"), help: ArgumentHelp(
        "UDP queries per second one instance (its /112) may send, with a burst of one second's worth; past it one query in 2 is answered with TC (the client retries over TCP) and the rest dropped (default 2000; 0: no limit).",
        valueName: "n"))
    var instanceQPS: Int?

    @Option(name: .customLong("org-qps"), help: ArgumentHelp(
        "UDP queries per second one organization (its /48, all its instances on this host) may send, as --instance-qps (default 10000; 0: no limit).",
        valueName: "n"))
    var orgQPS: Int?

    @Option(name: .customLong("tcp-per-source"), help: ArgumentHelp(
        "TCP connections one instance (its /112) may hold open at once; a new one past it is closed (default 32; 0: no limit).",
        valueName: "n"))
    var tcpPerSource: Int?

    @Option(name: .customLong("org-upstream-inflight"), help: ArgumentHelp(
        "Forwarded queries one organization may have waiting on the upstreams at once; past it a miss gets a stale answer or SERVFAIL with an Extended DNS Error at once (default 0: no cap but --upstream-inflight).",
        valueName: "n"))
    var orgUpstreamInFlight: Int?

    @Option(name: .customLong("org-upstream-qps"), help: ArgumentHelp(
        "Forwarded queries per second one organization may send upstream, as --org-upstream-inflight (default 0: no cap).",
        valueName: "n"))
    var orgUpstreamQPS: Int?

    @Option(name: .customLong("org-cache-share"), help: ArgumentHelp(
        "Percent of the forwarder's cache one organization's answers may hold once it is full and shared; past it, its own newest entries make room (default 50; 100: no share).",
        valueName: "percent"))
    var orgCacheShare: Int?

    @Option(help: "UDP worker threads (default: the number of cores).")
    var threads: Int?

    @Flag(help: "Pin UDP worker i to the i-th CPU this process may use (pthread_setaffinity_np).")
    var pin = false

    @Option(help: "How UDP workers move datagrams: recvmmsg (batches) or uring (io_uring: multishot receive, one system call per round).")
    var io: String = IOBackend.recvmmsg.rawValue

    @Option(help: "TTL of .internal answers, in seconds.")
    var ttl: UInt32 = 5

    @Option(help: "ADDR:PORT or [ADDR]:PORT for HTTP: GET /metrics (Prometheus), GET /health (200; 503 from SIGTERM on) and GET /ready (200 once the database is loaded and the workers answer).")
    var metrics: String?

    @Option(help: ArgumentHelp(
        "Write every query and response, and the upstream traffic, as dnstap (Frame Streams) to a reader: unix:PATH or tcp:ADDR:PORT (off by default; never slows answering: when the reader lags or is absent, messages are dropped and counted in sixpn_dnstap_dropped_total).",
        valueName: "unix:PATH|tcp:ADDR:PORT"))
    var dnstap: String?

    @Option(help: ArgumentHelp(
        "Milliseconds it goes on answering after SIGTERM, with GET /health at 503, before it stops (default 0).",
        valueName: "ms"))
    var lameduck: Int?

    @Flag(name: .customLong("wait-for-db"), help: "When the database is missing or unreadable at start-up, wait for it (GET /ready answers 503, systemd gets no READY=1) instead of exiting 1.")
    var waitForDatabase = false

    @Option(name: .customLong("log-level"), help: ArgumentHelp(
        "The least severe log message written: trace, debug, info, notice, warning, error or critical.",
        valueName: "LEVEL"))
    var logLevel = "info"

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
        try applyForwardingOptions(to: &config.forwarding)
        if let threads { config.threads = threads }
        config.upstreamInFlight = try upstreamInFlight.map { try within("--upstream-inflight", $0, 1...1_000_000, "queries") }
        if let n = try instanceQPS.map({ try within("--instance-qps", $0, 0...10_000_000, "queries per second") }) {
            config.budgets.instanceQPS = n
        }
        if let n = try orgQPS.map({ try within("--org-qps", $0, 0...10_000_000, "queries per second") }) {
            config.budgets.organizationQPS = n
        }
        if let n = try orgUpstreamInFlight.map({ try within("--org-upstream-inflight", $0, 0...1_000_000, "queries") }) {
            config.budgets.upstreamInFlight = n
        }
        if let n = try orgUpstreamQPS.map({ try within("--org-upstream-qps", $0, 0...10_000_000, "queries per second") }) {
            config.budgets.upstreamQPS = n
        }
        if let n = try tcpPerSource.map({ try within("--tcp-per-source", $0, 0...65_535, "connections") }) {
            config.tcpPerSource = n
        }
        config.ttl = ttl
        config.pin = pin
        guard let backend = IOBackend(rawValue: io) else { throw fatal("--io: \"\(io)\" is not recvmmsg or uring") }
        config.io = backend
        config.metrics = try metrics.map(address)
        if let dnstap {
            do { config.dnstap = try DnstapDestination(dnstap) } catch { throw fatal(error.description) }
        }
        if let ms = try lameduck.map({ try within("--lameduck", $0, 0...600_000, "milliseconds") }) {
            config.lameduck = .milliseconds(ms)
        }
        config.waitForDatabase = waitForDatabase
        if let devOrg {
            do { config.developmentNetwork = try NetworkID.parse(devOrg) } catch { throw fatal("--dev-org: \(error.message)") }
        }
        guard let level = Logger.Level(rawValue: logLevel) else {
            throw fatal("--log-level: \"\(logLevel)\" is not trace, debug, info, notice, warning, error or critical")
        }
        try serve(config, command: "serve", logLevel: level)
    }

    /// The forwarder's flags, each checked against the range it makes sense in.
    private func applyForwardingOptions(to f: inout ForwarderConfiguration) throws {
        if let ms = try upstreamTimeout.map({ try within("--upstream-timeout", $0, 10...60_000, "milliseconds") }) {
            f.timeout = .milliseconds(ms)
        }
        if let n = try orgCacheShare.map({ try within("--org-cache-share", $0, 1...100, "percent") }) {
            f.organizationCacheShare = n
        }
        if let n = try cacheEntries.map({ try within("--cache-entries", $0, 1...10_000_000, "entries") }) {
            f.cacheEntries = n
        }
        if let text = cacheBytes {
            guard let octets = Self.octets(text) else {
                throw fatal("--cache-bytes: \"\(text)\" is not a size (octets, or a number with K, M or G)")
            }
            f.cacheBytes = try within("--cache-bytes", octets, 65_536...(64 << 30), "octets")
        }
        if let s = try serveStale.map({ try within("--serve-stale", $0, 0...(30 * 86_400), "seconds") }) {
            f.serveStale = .seconds(s)
        }
        if let ms = try staleClientTimeout.map({ try within("--stale-client-timeout", $0, 0...60_000, "milliseconds") }) {
            f.clientResponseTimer = .milliseconds(ms)
        }
    }

    private func within(_ flag: String, _ value: Int, _ range: ClosedRange<Int>, _ unit: String) throws -> Int {
        guard range.contains(value) else {
            throw fatal("\(flag): \(value) is not between \(range.lowerBound) and \(range.upperBound) \(unit)")
        }
        return value
    }

    /// "65536", "512K", "64M", "1G" (binary multiples, either case) as octets; nil for anything else.
    static func octets(_ text: String) -> Int? {
        let shifts: [Character: Int] = ["k": 10, "m": 20, "g": 30]
        var digits = Substring(text)
        var shift = 0
        if let last = text.last, let s = shifts[Character(last.lowercased())] {
            shift = s
            digits = digits.dropLast()
        }
        guard !digits.isEmpty, digits.allSatisfy({ $0.isASCII && $0.isNumber }), let n = Int(digits),
              n <= Int.max >> shift else { return nil }
        return n << shift
    }

    private func address(_ text: String) throws -> SocketAddress {
        do { return try SocketAddress(text) } catch { throw fatal(error.description) }
    }

    private func fatal(_ message: String) -> ExitCode { sixpnFatal("serve", message) }
}

/// Starts the server, then waits for SIGTERM; a start-up failure is one line
/// on stderr and exit status 1.
func serve(_ configuration: ServerConfiguration, command: String, logLevel: Logger.Level = .info,
           whenReady: () -> Void = {}) throws {
    bootstrapLogging(level: logLevel)
    var configuration = configuration
    configuration.statusEndpoint = { address, pages throws(Errno) in
        try HTTPEndpoint(host: address.hostDescription, port: Int(address.port), respond: pages.reply)
    }
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

/// Structured logs on stderr (swift-log), from `level` up. Once per process:
/// `serve` is the one caller, before any logger exists.
func bootstrapLogging(level: Logger.Level) {
    LoggingSystem.bootstrap { label in
        var handler = StreamLogHandler.standardError(label: label)
        handler.logLevel = level
        return handler
    }
}

extension HTTPEndpoint: StatusEndpoint {}
