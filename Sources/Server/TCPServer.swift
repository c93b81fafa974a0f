#if canImport(Glibc)
import Glibc
#endif
import DNSWire
import Forwarder
import Logging
import Synchronization
import ZoneEngine
import Sockets

/// DNS over TCP (RFC 7766) on one thread with poll(2): TCP carries the
/// answers too big for UDP and the odd client that insists, not the load.
///
/// Each connection reads length-prefixed queries, possibly pipelined, and
/// answers each as soon as it is ready: `internal.` names and cache hits at
/// once, forwarded ones when the upstream replies (so out of order). A
/// connection idle for `idleTimeout` is closed. One instance (/112) may hold
/// at most `perSource` connections (`--tcp-per-source`); a new one past that
/// is closed. When `maxConnections` are open, a new one evicts an idle
/// connection of the organization that holds the most, never of one that
/// holds fewer than the newcomer's (``evictionChoice``), so a flooder's new
/// connections only ever push out its own; none such: the new one is closed.
/// Untrusted peers are closed on accept.
final class TCPServer: @unchecked Sendable {
    struct Limits: Sendable {
        var maxConnections = 256
        /// `--tcp-per-source`: connections one instance (/112) may hold at once; 0: no limit.
        var perSource = 32
        var idleTimeoutNanoseconds: UInt64 = 10_000_000_000
        /// Replies queued for a client that does not read: stop reading its queries past this.
        var maxQueuedOutput = 256 * 1024
        /// How long a stopping server waits for forwarded replies before closing connections.
        var drainNanoseconds: UInt64 = 3_000_000_000
    }

    private final class Connection {
        let id: UInt64
        let fd: Int32
        let origin: ClientOrigin
        /// The peer's address (for dnstap), where a pointer to it stays valid.
        let peer: UnsafeMutablePointer<sockaddr_storage>
        var framing = TCPFraming()
        var output = TCPOutput()
        /// Forwarded queries whose replies have not come yet.
        var pending = 0
        var lastActivity: UInt64
        var peerClosed = false
        var failed = false

        init(id: UInt64, fd: Int32, origin: ClientOrigin, peer: sockaddr_storage, now: UInt64) {
            self.id = id
            self.fd = fd
            self.origin = origin
            self.peer = .allocate(capacity: 1)
            self.peer.initialize(to: peer)
            self.lastActivity = now
        }

        deinit { peer.deallocate() }

        var isIdle: Bool { pending == 0 && output.pending == 0 && !framing.hasPartialMessage }
    }

    private struct Completion {
        let connection: UInt64
        let reply: [UInt8]
    }

    let listeners: [Int32]
    let service: QueryService
    var counters: WorkerCounters { service.counters }
    var state: ServerState { service.state }
    let limits: Limits
    private let wake: (read: Int32, write: Int32)
    private let completions = Mutex<[Completion]>([])
    private var connections: [Connection] = []
    private var nextID: UInt64 = 1
    private let out: UnsafeMutableRawBufferPointer
    private let logger: Logger
    /// After a failed accept (no descriptor left, say), the listeners rest until then: a listener
    /// whose queue stays full would otherwise make poll return at once, again and again.
    private var acceptPausedUntil: UInt64 = 0
    private var descriptorWarning = OncePer(nanoseconds: 60_000_000_000)
    static let acceptPause: UInt64 = 100_000_000

    init(listeners: [Int32], zone: ZoneStore, forwarder: Forwarder?, trust: ClientTrust, state: ServerState,
         limits: Limits = Limits(), limiter: TenantLimiter? = nil, dnstap: ClientTap? = nil, logger: Logger) throws(Errno) {
        self.listeners = listeners
        // The limiter's UDP budgets do not apply here (TCP is where a TC sends a client); its upstream caps do.
        self.service = QueryService(zone: zone, forwarder: forwarder, trust: trust, state: state, limiter: limiter,
                                    dnstap: dnstap)
        self.limits = limits
        self.logger = logger
        self.wake = try Syscalls.wakePipe()
        self.out = .allocate(byteCount: QueryAdmission.maximumTCPMessage, alignment: 8)
    }

    deinit {
        out.deallocate()
        Syscalls.close(wake.read)
        Syscalls.close(wake.write)
    }

    /// Wakes the loop (a forwarded reply arrived, or the server stops).
    func poke() {
        Syscalls.wake(wake.write)
    }

    func run() {
        var fds: [pollfd] = []
        var listening = true
        var drainDeadline: UInt64 = 0
        while true {
            counters.add(WorkerCounters.Slot.heartbeat)
            let now = monotonicNanoseconds()
            if state.stopping.load(ordering: .relaxed) {
                if listening {
                    // Stop accepting; answer what was read; wait a little for forwarded replies.
                    listening = false
                    drainDeadline = now + limits.drainNanoseconds
                    for c in connections { c.peerClosed = true }
                }
                if connections.allSatisfy({ $0.pending == 0 && $0.output.pending == 0 }) || now > drainDeadline {
                    for c in connections { Syscalls.close(c.fd) }
                    connections.removeAll()
                    return
                }
            }

            fds.removeAll(keepingCapacity: true)
            fds.append(pollfd(fd: wake.read, events: Int16(POLLIN), revents: 0))
            let accepting = listening && now >= acceptPausedUntil
            if accepting {
                for l in listeners { fds.append(pollfd(fd: l, events: Int16(POLLIN), revents: 0)) }
            }
            let wait = listening && !accepting ? Int32(min(500, (acceptPausedUntil - now) / 1_000_000 + 1)) : 500
            let firstConnection = fds.count
            for c in connections {
                var events: Int16 = 0
                if !c.peerClosed && c.output.pending < limits.maxQueuedOutput { events |= Int16(POLLIN) }
                if c.output.pending > 0 { events |= Int16(POLLOUT) }
                fds.append(pollfd(fd: c.fd, events: events, revents: 0))
            }
            let ready: Int
            do {
                ready = try fds.withUnsafeMutableBufferPointer { b throws(Errno) in
                    try Syscalls.poll(b.baseAddress!, count: b.count, milliseconds: wait)
                }
            } catch {
                continue
            }

            if ready > 0 {
                if fds[0].revents != 0 {
                    Syscalls.drainWakePipe(wake.read)
                }
                if accepting {
                    for (i, l) in listeners.enumerated() where fds[1 + i].revents != 0 { acceptAll(l) }
                }
                // Connections accepted just now are not in `fds`; they are polled next round.
                for i in firstConnection..<fds.count where fds[i].revents != 0 {
                    let c = connections[i - firstConnection]
                    let events = fds[i].revents
                    if events & Int16(POLLIN | POLLHUP | POLLERR) != 0 { readQueries(c) }
                    if events & Int16(POLLOUT) != 0 || c.output.pending > 0 { flush(c) }
                }
            }
            deliverCompletions()
            sweep(now: monotonicNanoseconds())
        }
    }

    private func acceptAll(_ listener: Int32) {
        while true {
            let accepted: (fd: Int32, peer: sockaddr_storage)?
            do { accepted = try Syscalls.accept(listener) } catch {
                let now = monotonicNanoseconds()
                acceptPausedUntil = now + Self.acceptPause
                if error.isDescriptorExhaustion {
                    counters.add(WorkerCounters.Slot.descriptorErrors)
                    if descriptorWarning.due(now: Int64(now)) {
                        logger.warning("no file descriptor left to accept a TCP connection: \(error); accepting again in 100 ms (logged once a minute; sixpn_descriptor_errors_total counts them)")
                    }
                } else {
                    counters.add(WorkerCounters.Slot.socketErrors)
                }
                return
            }
            guard let (fd, peer) = accepted else { return }
            guard let origin = withUnsafeBytes(of: peer, { service.origin(of: $0.baseAddress!, transport: .tcp) }) else {
                Syscalls.close(fd)
                continue
            }
            let now = monotonicNanoseconds()
            if limits.perSource > 0,
               connections.lazy.filter({ Self.sameInstance($0.origin, origin) }).count >= limits.perSource {
                counters.add(WorkerCounters.Slot.limitedTCPPerSource)
                Syscalls.close(fd)
                continue
            }
            if connections.count >= limits.maxConnections {
                guard let victim = Self.evictionChoice(
                    connections.map { (organization: $0.origin.network, idle: $0.isIdle, lastActivity: $0.lastActivity) },
                    newcomer: origin.network) else {
                    counters.add(WorkerCounters.Slot.tcpRefusedFull)
                    Syscalls.close(fd)
                    continue
                }
                counters.add(WorkerCounters.Slot.tcpEvicted)
                Syscalls.close(connections[victim].fd)
                connections.remove(at: victim)
            }
            counters.add(WorkerCounters.Slot.tcpAccepted)
            connections.append(Connection(id: nextID, fd: fd, origin: origin, peer: peer, now: now))
            nextID += 1
        }
    }

    /// Whether two origins are the same instance (/112).
    static func sameInstance(_ a: ClientOrigin, _ b: ClientOrigin) -> Bool {
        a.network == b.network && a.host == b.host && a.instance == b.instance
    }

    /// Which open connection a newcomer of organization `newcomer` evicts when every slot is
    /// taken: an idle one (nothing pending, queued or half-read), of the organization that holds
    /// the most connections (the newcomer's counted with the newcomer in), the one idle longest.
    /// Another organization's connection only when that organization holds at least as many as
    /// the newcomer's will, so a flooder's newcomers evict only its own connections. Nil: the
    /// newcomer is closed instead.
    static func evictionChoice(_ open: [(organization: UInt32, idle: Bool, lastActivity: UInt64)],
                               newcomer: UInt32) -> Int? {
        var held: [UInt32: Int] = [:]
        for c in open { held[c.organization, default: 0] += 1 }
        held[newcomer, default: 0] += 1
        let newcomers = held[newcomer]!
        var best: Int? = nil
        for (i, c) in open.enumerated() where c.idle && (c.organization == newcomer || held[c.organization]! >= newcomers) {
            guard let b = best else { best = i; continue }
            let (mine, theirs) = (held[c.organization]!, held[open[b].organization]!)
            if mine > theirs || (mine == theirs && c.lastActivity < open[b].lastActivity) { best = i }
        }
        return best
    }

    /// Reads what the socket has and answers every complete query in it.
    private func readQueries(_ c: Connection) {
        while !c.peerClosed && !c.failed && c.output.pending < limits.maxQueuedOutput {
            let space = c.framing.freeSpace
            guard space.count > 0 else { break }
            let n: Int?
            do { n = try Syscalls.receive(c.fd, into: space) } catch {
                c.failed = true
                return
            }
            guard let n else { break }
            if n == 0 {
                c.peerClosed = true
                break
            }
            c.framing.didRead(n)
            c.lastActivity = monotonicNanoseconds()
            answerQueued(c)
        }
    }

    private func answerQueued(_ c: Connection) {
        let snapshot = service.zone.current
        while let message = c.framing.nextMessage() {
            guard message.count > 0 else {
                c.failed = true  // a zero-length message: not a DNS peer
                return
            }
            let started = monotonicNanoseconds()
            switch service.answer(message, from: c.origin, transport: .tcp,
                                  route: .stream(connection: c.id, server: self, peer: c.peer), snapshot: snapshot, into: out) {
            case .reply(let length):
                c.output.append(message: UnsafeRawBufferPointer(rebasing: out[0..<length]))
                counters.countLatency(nanoseconds: monotonicNanoseconds() &- started, answers: 1)
            case .forwarded:
                c.pending += 1
            case .none:
                continue
            }
        }
        c.framing.compact()
    }

    /// A forwarded query's reply for `connection` (on the forwarder's thread):
    /// queued for this thread, which is woken to write it.
    func complete(connection: UInt64, reply: [UInt8]) {
        completions.withLock { $0.append(Completion(connection: connection, reply: reply)) }
        poke()
    }

    private func deliverCompletions() {
        let done = completions.withLock { list -> [Completion] in
            let taken = list
            list.removeAll()
            return taken
        }
        for completion in done {
            guard let c = connections.first(where: { $0.id == completion.connection }) else { continue }
            c.pending -= 1
            completion.reply.withUnsafeBytes { c.output.append(message: $0) }
            flush(c)
        }
    }

    private func flush(_ c: Connection) {
        guard c.output.pending > 0 else { return }
        let fd = c.fd
        if !c.output.flush({ bytes throws(Errno) in try Syscalls.send(fd, bytes) ?? 0 }) {
            c.failed = true
        }
        c.lastActivity = monotonicNanoseconds()
    }

    /// Closes failed connections, finished ones, and those idle too long.
    private func sweep(now: UInt64) {
        connections.removeAll { c in
            let finished = c.peerClosed && c.pending == 0 && c.output.pending == 0
            let idle = c.isIdle || (c.pending == 0 && c.output.pending == 0)
            let timedOut = idle && now &- c.lastActivity > limits.idleTimeoutNanoseconds
            if timedOut { counters.add(WorkerCounters.Slot.tcpTimedOut) }
            guard c.failed || finished || timedOut else { return false }
            Syscalls.close(c.fd)
            return true
        }
    }
}
