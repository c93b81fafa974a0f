#if canImport(Glibc)
import Glibc
#endif
import DNSWire
import Dnstap
import Forwarder
import Logging
import ZoneEngine
import Sockets

/// What `sixpn serve` runs with.
public struct ServerConfiguration: Sendable {
    public var databasePath: String
    public var listen: [SocketAddress]
    /// How names outside `internal.` are forwarded: the upstreams (none: those
    /// names are REFUSED), the upstream timeout, the cache's bounds and serve-stale.
    public var forwarding: ForwarderConfiguration
    /// The upstreams of ``forwarding``.
    public var upstreams: [SocketAddress] {
        get { forwarding.upstreams }
        set { forwarding.upstreams = newValue }
    }
    /// UDP workers (one thread and one SO_REUSEPORT socket per listen address each).
    public var threads: Int
    /// TTL of `internal.` answers.
    public var ttl: UInt32
    /// Where Prometheus scrapes `GET /metrics`; nil for none.
    public var metrics: SocketAddress?
    /// `--dev-org`: loopback sources are taken as this organization.
    public var developmentNetwork: UInt32?
    /// `--pin`: UDP worker i runs only on the i-th CPU this process may use.
    public var pin = false
    /// `--io`: how the UDP workers move datagrams.
    public var io = IOBackend.recvmmsg
    /// `--upstream-inflight`: the most queries to upstreams in flight; nil sizes it from the open-file limit.
    public var upstreamInFlight: Int?
    /// `--instance-qps`, `--org-qps`: UDP queries per second per instance and per organization (0: off).
    public var budgets = QueryBudgets.defaults
    /// `--tcp-per-source`: TCP connections one instance (/112) may hold at once (0: no limit).
    public var tcpPerSource = 32
    /// `--lameduck`: after SIGTERM, how long it goes on answering with `GET /health` at 503 before it stops.
    public var lameduck: Duration = .zero
    /// `--wait-for-db`: a database that cannot be loaded at start-up is waited for (`GET /ready`
    /// 503 meanwhile, no READY=1 to systemd) instead of being a start-up error.
    public var waitForDatabase = false
    /// `--dnstap`: where every query and response (and the forwarder's upstream traffic) is
    /// sent as dnstap; nil: off.
    public var dnstap: DnstapDestination?
    /// Serves ``metrics``'s HTTP (`GET /metrics`, `/health`, `/ready`); required when ``metrics`` is set.
    public var statusEndpoint: StatusEndpointFactory?

    /// `[fdaa::3]:53`: the address every instance's resolv.conf names.
    public static let defaultListen = SocketAddress.ipv6(IPv6Address("fdaa::3")!, port: 53)

    /// The number of online cores.
    public static var cores: Int { max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))) }

    public init(databasePath: String, listen: [SocketAddress] = [defaultListen], upstreams: [SocketAddress] = [],
                threads: Int = ServerConfiguration.cores, ttl: UInt32 = 5, metrics: SocketAddress? = nil,
                developmentNetwork: UInt32? = nil) {
        self.databasePath = databasePath
        self.listen = listen
        self.forwarding = ForwarderConfiguration(upstreams: upstreams)
        self.threads = threads
        self.ttl = ttl
        self.metrics = metrics
        self.developmentNetwork = developmentNetwork
    }
}

/// A start-up failure, said in one line: what could not be done, where, and why.
public struct ServerError: Error, Sendable, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// The DNS server: UDP workers, the TCP thread, the metrics endpoint and the
/// database watcher, started together and stopped together.
///
/// Threads: `threads` UDP workers (see ``UDPWorker``), one TCP thread (see
/// ``TCPServer``), the ``Liveness`` watcher; all are dedicated pthreads.
/// The status endpoint's HTTP runs on its own event loop (swift-nio), and
/// Dispatch runs the once-a-second metrics collector. Signals are taken with
/// sigwait(2) by the thread that calls ``runUntilStopped()``, which also
/// tells systemd (``SystemdNotify``): READY=1 once everything answers,
/// RELOADING=1 and READY=1 around SIGHUP, STOPPING=1 on SIGTERM.
public final class Server: @unchecked Sendable {
    public let configuration: ServerConfiguration
    let logger: Logger
    let state = ServerState()
    /// What `GET /health` and `GET /ready` say.
    public let health = ServerHealth()
    private let notify = SystemdNotify()
    private var liveness: Liveness?
    /// SIGTERM or SIGINT came while it waited for the database: ``runUntilStopped()`` returns at once.
    private var stoppedBeforeServing = false
    private var zone: ZoneStore?
    private var forwarder: Forwarder?
    private var dnstap: DnstapLog?
    /// The addresses it answers on: the configuration's, each wildcard replaced by the host's addresses.
    public private(set) var listening: [SocketAddress] = []
    private var udpSockets: [Int32] = []
    private var tcpListeners: [Int32] = []
    private var workers: [any DatagramWorker] = []
    private var tcp: TCPServer?
    private var statusEndpoint: (any StatusEndpoint)?
    private var collector: MetricsCollector?
    private var threads: [ServerThread] = []
    private var tcpThread: ServerThread?

    public init(configuration: ServerConfiguration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
    }

    /// Blocks SIGTERM, SIGINT and SIGHUP in the calling thread and every
    /// thread started after it, so that only ``runUntilStopped()`` takes them.
    /// Call first, before anything starts a thread.
    public static func blockSignals() {
        var set = Self.signalSet
        pthread_sigmask(SIG_BLOCK, &set, nil)
        signal(SIGPIPE, SIG_IGN)
    }

    private static var signalSet: sigset_t {
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGTERM)
        sigaddset(&set, SIGINT)
        sigaddset(&set, SIGHUP)
        return set
    }

    /// Binds every socket (so address errors come first), opens the database
    /// and starts every thread.
    /// Nothing is left running when it throws.
    public func start() throws(ServerError) {
        let c = configuration
        guard c.threads >= 1 else { throw ServerError("--threads must be at least 1") }
        guard !c.listen.isEmpty else { throw ServerError("no listen address") }
        if c.io == .uring {
            // Refused before anything starts, and said why: the kernel's answer first.
            let support = UringSupport.probe()
            guard support.usable else { throw ServerError("--io uring: this kernel cannot: \(support)") }
        }
        do {
            try open()
        } catch is StopRequested {
            logger.info("stopping before the database loaded")
            stoppedBeforeServing = true
            stopEverything()
        } catch {
            stopEverything()
            throw error as? ServerError ?? ServerError("\(error)")
        }
    }

    /// SIGTERM or SIGINT while waiting for the database.
    private struct StopRequested: Error {}

    private func open() throws {
        let c = configuration
        Self.blockSignals()
        _ = ServerMetrics.registry  // bootstrapped before ZoneStore and the Forwarder make their metrics
        let listen = try expandingWildcards(c.listen)
        listening = listen
        // Shared out before anything is bound (a configuration that cannot fit is refused first),
        // logged once everything started (a start-up error stays one line).
        let budget = try descriptorBudget(addresses: listen.count)
        // TCP first: its listener is exclusive (no SO_REUSEPORT), so a port another
        // server holds fails here even when that server also uses SO_REUSEPORT for UDP.
        for address in listen {
            tcpListeners.append(try bound(address, "TCP") { () throws(Errno) in try Self.tcpListener(address) })
        }
        var perWorker = [[Int32]](repeating: [], count: c.threads)
        for address in listen {
            for w in 0..<c.threads {
                let fd = try bound(address, "UDP") { () throws(Errno) in try Self.udpSocket(address) }
                udpSockets.append(fd)
                perWorker[w].append(fd)
            }
        }
        if let m = c.metrics {
            guard let factory = c.statusEndpoint else { throw ServerError("--metrics: no HTTP endpoint in this build") }
            let pages = StatusPages(exposition: ServerMetrics.exposition, health: health)
            statusEndpoint = try bound(m, "metrics HTTP") { () throws(Errno) in try factory(m, pages) }
        }

        let zone = try loadDatabase()
        self.zone = zone
        let dnstap = c.dnstap.map {
            DnstapLog(destination: $0, identity: ChaosAnswers.hostName(), version: "sixpn " + sixpnVersion, logger: logger)
        }
        self.dnstap = dnstap
        func clientTap() -> ClientTap? { dnstap.map { ClientTap(own: $0.makeProducer(), shared: $0.shared) } }
        if !c.upstreams.isEmpty {
            var forwarding = c.forwarding
            forwarding.upstreamInFlight = budget.upstreamInFlight
            forwarding.tap = dnstap.map { DnstapUpstreams($0.shared) }
            do {
                forwarder = try Forwarder(configuration: forwarding, logger: logger)
            } catch {
                throw ServerError("cannot start forwarding to \(c.upstreams.map(\.description).joined(separator: ", ")): \(error)")
            }
        }

        let trust = ClientTrust(developmentNetwork: c.developmentNetwork)
        // One table of buckets shared by every UDP worker (see TenantLimiter: one client socket lands on
        // one worker, so a budget split per worker would give it a fraction of its budget).
        let limiter = c.budgets.isOff ? nil : TenantLimiter(c.budgets)
        for sockets in perWorker {
            let service = QueryService(zone: zone, forwarder: forwarder, trust: trust, state: state, limiter: limiter,
                                       dnstap: clientTap())
            switch c.io {
            case .recvmmsg:
                workers.append(UDPWorker(sockets: sockets, service: service))
            case .uring:
                do {
                    workers.append(try UringWorker(sockets: sockets, service: service))
                } catch {
                    throw ServerError("--io uring: cannot set up a worker's ring: \(error)")
                }
            }
        }
        let tcp: TCPServer
        do {
            tcp = try TCPServer(listeners: tcpListeners, zone: zone, forwarder: forwarder, trust: trust, state: state,
                                limits: TCPServer.Limits(maxConnections: budget.tcpConnections, perSource: c.tcpPerSource),
                                limiter: limiter, dnstap: clientTap(), logger: logger)
        } catch {
            throw ServerError("cannot start the TCP thread: \(error)")
        }
        self.tcp = tcp
        let collector = MetricsCollector(sources: workers.map(\.counters) + [tcp.counters, state.sharedCounters],
                                         zone: zone, forwarder: forwarder, state: state, limiter: limiter,
                                         dnstap: dnstap, logger: logger)
        self.collector = collector

        if let dnstap {
            do { try dnstap.start() } catch { throw ServerError("--dnstap: cannot start the writer thread: \(error)") }
        }
        do {
            for (i, worker) in workers.enumerated() {
                threads.append(try ServerThread.start { Syscalls.nameThisThread("sixpn-udp-\(i)"); worker.run() })
            }
        } catch {
            throw ServerError("cannot start threads: \(error)")
        }
        for case let worker as UringWorker in workers {
            do { try worker.waitUntilStarted() } catch {
                throw ServerError("--io uring: a worker cannot take its ring: \(error)")
            }
        }
        if c.pin {
            do {
                for (i, thread) in threads.enumerated() { try thread.pin(index: i) }
            } catch {
                throw ServerError("--pin: cannot pin the UDP workers: \(error)")
            }
        }
        do {
            tcpThread = try ServerThread.start { Syscalls.nameThisThread("sixpn-tcp"); tcp.run() }
        } catch {
            throw ServerError("cannot start threads: \(error)")
        }
        do { try zone.start() } catch { throw ServerError("cannot start the database watcher: \(error)") }
        logger.info("\(budget)")
        collector.start()
        let liveness = Liveness(workers: workers.map(\.counters) + [tcp.counters], health: health, notify: notify)
        self.liveness = liveness
        do { try liveness.start() } catch { throw ServerError("cannot start threads: \(error)") }
        if !liveness.waitUntilAnswering(timeout: 5_000_000_000) {
            throw ServerError("the worker threads did not start within 5 s")
        }
        health.enter(.serving)
        var metadata: Logger.Metadata = [
            "listen": .array(listening.map { .string($0.description) }),
            "threads": .stringConvertible(c.threads),
            "database": .string(c.databasePath),
            "upstreams": .array(c.upstreams.map { .string($0.description) }),
            "metrics": .string(c.metrics?.description ?? "off"),
            "dev-org": .string(c.developmentNetwork.map { String($0) } ?? "off"),
            "pin": .stringConvertible(c.pin),
            "io": .string(c.io.rawValue),
            "lameduck": .stringConvertible(c.lameduck),
            "instance-qps": .string(c.budgets.instanceQPS == 0 ? "off" : String(c.budgets.instanceQPS)),
            "org-qps": .string(c.budgets.organizationQPS == 0 ? "off" : String(c.budgets.organizationQPS)),
            "tcp-per-source": .string(c.tcpPerSource == 0 ? "off" : String(c.tcpPerSource)),
            "org-upstream-inflight": .string(c.budgets.upstreamInFlight == 0 ? "off" : String(c.budgets.upstreamInFlight)),
            "org-upstream-qps": .string(c.budgets.upstreamQPS == 0 ? "off" : String(c.budgets.upstreamQPS)),
            "systemd": .string(notify.socketPath == nil ? "no" : notify.watchdogInterval.map { "watchdog \($0)" } ?? "yes"),
        ]
        if forwarder != nil {
            let f = c.forwarding
            metadata["upstream-timeout"] = .stringConvertible(f.timeout)
            metadata["cache-entries"] = .stringConvertible(f.cacheEntries)
            metadata["cache-bytes"] = .stringConvertible(f.cacheBytes)
            metadata["serve-stale"] = .stringConvertible(f.serveStale)
            metadata["stale-client-timeout"] = .stringConvertible(f.clientResponseTimer)
        }
        logger.info("serving", metadata: metadata)
        notify.send("READY=1\nSTATUS=serving")
    }

    /// The first snapshot. A database that cannot be loaded is a start-up error, or with
    /// `--wait-for-db` is tried again every 250 ms (the status endpoint already answers,
    /// /ready with 503) until it loads or SIGTERM or SIGINT comes.
    private func loadDatabase() throws -> ZoneStore {
        let c = configuration
        var warned = false
        while true {
            do {
                let zone = try ZoneStore(path: c.databasePath, ttl: c.ttl, logger: logger)
                if warned { logger.notice("the database loaded", metadata: ["database": .string(c.databasePath)]) }
                return zone
            } catch {
                // ZoneStore says what and where: "cannot serve PATH: ..."
                guard c.waitForDatabase else { throw ServerError("\(error)") }
                if !warned {
                    logger.warning("waiting for the database (--wait-for-db); /ready answers 503 until it loads",
                                   metadata: ["error": .string("\(error)")])
                    notify.send("STATUS=waiting for the database \(c.databasePath)")
                    warned = true
                }
            }
            if let signal = Self.waitForSignal(milliseconds: 250), signal != SIGHUP { throw StopRequested() }
        }
    }

    /// A blocked SIGTERM, SIGINT or SIGHUP taken within `milliseconds`, or nil.
    private static func waitForSignal(milliseconds: Int) -> Int32? {
        var set = signalSet
        var timeout = timespec(tv_sec: milliseconds / 1000, tv_nsec: (milliseconds % 1000) * 1_000_000)
        let signal = sigtimedwait(&set, nil, &timeout)
        return signal > 0 ? signal : nil
    }

    /// `listen` with each wildcard (`[::]`, `0.0.0.0`) replaced by this host's
    /// addresses of its family, as they are now, as BIND does for "any": a
    /// socket bound to a wildcard sends each UDP reply from whatever address
    /// the kernel picks, and a resolver that asked another one (glibc
    /// connects its socket to the server's address) never sees it. Addresses
    /// added later are not answered until sixpn restarts; the log says so.
    private func expandingWildcards(_ listen: [SocketAddress]) throws(ServerError) -> [SocketAddress] {
        var expanded: [SocketAddress] = []
        for address in listen {
            guard address.isUnspecified else {
                if !expanded.contains(address) { expanded.append(address) }
                continue
            }
            let found: [SocketAddress]
            do {
                found = try Syscalls.interfaceAddresses(family: address.family, port: address.port)
            } catch {
                throw ServerError("cannot list this host's addresses for \(address): \(error)")
            }
            guard !found.isEmpty else {
                throw ServerError("cannot listen on \(address): no interface of this host that is up has such an address")
            }
            logger.notice("""
                \(address) stands for this host's addresses as they are now; one added later is not \
                answered until sixpn restarts
                """, metadata: ["addresses": .array(found.map { .string($0.description) })])
            for a in found where !expanded.contains(a) { expanded.append(a) }
        }
        return expanded
    }

    /// Runs `body`, turning a socket error into one line that names the address.
    private func bound<T>(_ address: SocketAddress, _ what: String, _ body: () throws(Errno) -> T) throws(ServerError) -> T {
        do {
            return try body()
        } catch {
            let why = switch error.code {
            case Errno.addressInUse: "the port is in use"
            case Errno.addressNotAvailable: "the address is not on this host"
            case Errno.permissionDenied: "no permission (ports below 1024 need root or CAP_NET_BIND_SERVICE)"
            default: error.description
            }
            throw ServerError("cannot listen (\(what)) on \(address): \(why)")
        }
    }

    static func udpSocket(_ address: SocketAddress) throws(Errno) -> Int32 {
        let fd = try Syscalls.socket(family: address.family, stream: false, nonBlocking: false)
        do {
            try Syscalls.setOption(fd, SOL_SOCKET, SO_REUSEPORT, 1)
            if address.family == AF_INET6 { try Syscalls.setOption(fd, Int32(IPPROTO_IPV6), IPV6_V6ONLY, 1) }
            // Room for bursts; the kernel caps it at net.core.rmem_max.
            try? Syscalls.setOption(fd, SOL_SOCKET, SO_RCVBUF, 4 << 20)
            try Syscalls.setReceiveTimeout(fd, milliseconds: 250)
            try Syscalls.bind(fd, address)
        } catch {
            Syscalls.close(fd)
            throw error
        }
        return fd
    }

    static func tcpListener(_ address: SocketAddress) throws(Errno) -> Int32 {
        let fd = try Syscalls.socket(family: address.family, stream: true, nonBlocking: false)
        do {
            try Syscalls.setOption(fd, SOL_SOCKET, SO_REUSEADDR, 1)
            if address.family == AF_INET6 { try Syscalls.setOption(fd, Int32(IPPROTO_IPV6), IPV6_V6ONLY, 1) }
            try Syscalls.bind(fd, address)
            try Syscalls.listen(fd, backlog: 128)
            try Syscalls.setNonBlocking(fd)
        } catch {
            Syscalls.close(fd)
            throw error
        }
        return fd
    }

    /// Raises the open-file limit to its hard limit and shares it out (``DescriptorBudget``).
    private func descriptorBudget(addresses: Int) throws(ServerError) -> DescriptorBudget {
        let c = configuration
        let limits: (before: Int, now: Int)
        do { limits = try Syscalls.raiseOpenFileLimit() } catch { throw ServerError("\(error)") }
        return try DescriptorBudget.plan(limit: limits.now, limitBefore: limits.before, threads: c.threads,
                                         addresses: addresses, metrics: c.metrics != nil,
                                         forwarding: !c.upstreams.isEmpty, requested: c.upstreamInFlight)
    }

    /// Waits for SIGTERM or SIGINT (reloading the database on SIGHUP), then
    /// stops: no new queries, the ones in flight answered, then return.
    public func runUntilStopped() {
        if stoppedBeforeServing { return }
        var set = Self.signalSet
        while true {
            var signal: Int32 = 0
            guard sigwait(&set, &signal) == 0 else { continue }
            if signal == SIGHUP {
                logger.info("SIGHUP: reloading the database")
                notify.reloading()
                zone?.reloadNow()
                notify.send("READY=1\nSTATUS=serving")
                continue
            }
            logger.info("stopping", metadata: ["signal": .string(signal == SIGTERM ? "SIGTERM" : "SIGINT")])
            break
        }
        notify.send("STOPPING=1\nSTATUS=stopping")
        health.enter(.stopping)
        lameduck()
        stop()
    }

    /// Goes on answering for `--lameduck` while /health says 503, so that load balancers
    /// take this server out first; a second SIGTERM or SIGINT ends it early.
    private func lameduck() {
        let total = configuration.lameduck.nanoseconds
        guard total > 0 else { return }
        logger.info("lameduck: answering on while /health says 503", metadata: ["for": .stringConvertible(configuration.lameduck)])
        let end = monotonicNanoseconds() + UInt64(total)
        while true {
            let now = monotonicNanoseconds()
            guard now < end else { return }
            let left = Int((end - now) / 1_000_000) + 1
            if let signal = Self.waitForSignal(milliseconds: min(left, 250)), signal != SIGHUP { return }
        }
    }

    /// Stops accepting, finishes what is in flight, and releases everything.
    public func stop() {
        stopEverything()
        logger.info("stopped")
    }

    private func stopEverything() {
        health.enter(.stopping)
        state.stopping.store(true, ordering: .relaxed)
        liveness?.stop()
        liveness = nil
        for t in threads { t.join() }
        threads.removeAll()
        tcp?.poke()
        tcpThread?.join()
        tcpThread = nil
        // Forwarded UDP queries: give their replies a moment to come back.
        let deadline = monotonicNanoseconds() + 3_000_000_000
        while state.inFlight.load(ordering: .relaxed) > 0, monotonicNanoseconds() < deadline {
            usleep(10_000)
        }
        forwarder?.shutdown()
        forwarder = nil
        // After every thread that logs to it: what the rings hold is written, then STOP.
        dnstap?.stop()
        for fd in udpSockets + tcpListeners { Syscalls.close(fd) }
        udpSockets.removeAll()
        tcpListeners.removeAll()
        collector?.stop()
        zone?.stop()
        // Last: /health says 503 until the very end.
        statusEndpoint?.close()
        statusEndpoint = nil
    }
}
