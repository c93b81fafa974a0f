#if canImport(Glibc)
import Glibc
#endif
import DNSWire
import Logging
import Sockets

/// A client query waiting for its answer.
struct Waiter {
    let query: [UInt8]
    let limit: Int
    let reply: @Sendable ([UInt8]) -> Void
    /// When the resolver thread took it (monotonic nanoseconds): its client response timer starts there.
    var arrived: Int64 = 0
}

/// One question being resolved upstream, with every client waiting for it
/// (identical questions in flight share one transaction: coalescing).
final class Transaction {
    let key: CacheKey
    let hash: Int
    let deadline: Int64
    var waiters: [Waiter]
    /// Upstream indices asked so far, in order.
    var tried: [Int] = []
    /// Queries still waiting for a reply (an earlier one stays open while a later one is tried).
    var attempts: [Attempt] = []
    /// When the first waiter's client response timer runs out, while a stale answer may serve it.
    var staleTimer: Int64?
    /// Some waiters were answered stale on their timer: the upstream's answer is a late refresh.
    var servedStale = false

    init(key: CacheKey, hash: Int, deadline: Int64, first: Waiter) {
        self.key = key
        self.hash = hash
        self.deadline = deadline
        self.waiters = [first]
    }
}

/// How a query to an upstream stands to EDNS (RFC 6891 §7).
enum EDNSUse {
    /// With our OPT record.
    case offered
    /// Without, once, because the upstream just rejected our OPT record.
    case fallback
    /// Without, because the upstream is remembered as not speaking EDNS.
    case withheld

    var sendsOPT: Bool { self == .offered }
}

/// One query to one upstream, on its own socket.
final class Attempt {
    unowned let transaction: Transaction
    let upstream: Int
    let fd: Int32
    let id: UInt16
    let edns: EDNSUse
    let sentAt: Int64
    let deadline: Int64
    /// When to also ask the next upstream; nil once that happened.
    var retryAt: Int64?
    /// Set for a query over TCP (after a truncated UDP reply).
    var stream: StreamState?

    init(transaction: Transaction, upstream: Int, fd: Int32, id: UInt16, edns: EDNSUse, sentAt: Int64,
         deadline: Int64, retryAt: Int64?, stream: StreamState? = nil) {
        self.transaction = transaction
        self.upstream = upstream
        self.fd = fd
        self.id = id
        self.edns = edns
        self.sentAt = sentAt
        self.deadline = deadline
        self.retryAt = retryAt
        self.stream = stream
    }
}

/// A DNS exchange over TCP (RFC 7766 §8): a two-octet length, then the message, each way.
struct StreamState {
    var outgoing: [UInt8]
    var written = 0
    var connected = false
    var incoming: [UInt8] = []

    /// The complete message received, once it is all there.
    var message: ArraySlice<UInt8>? {
        guard incoming.count >= 2 else { return nil }
        let length = Int(incoming[0]) << 8 | Int(incoming[1])
        return incoming.count >= 2 + length ? incoming[2..<(2 + length)] : nil
    }
}

/// The resolver thread: takes misses from the inbox, asks upstreams, checks
/// replies, fills the cache and answers the waiting clients. Everything
/// here belongs to that one thread; it is the cache's only writer.
final class Resolver: @unchecked Sendable {
    private let configuration: ForwarderConfiguration
    private let cache: Cache
    private let inbox: Inbox
    private let counters: ForwarderCounters
    private let logger: Logger
    private var upstreams: [Upstream]
    private var transactions: [CacheKey: Transaction] = [:]
    private var attempts: [Int32: Attempt] = [:]
    private var random = SystemRandomNumberGenerator()
    private var buffer = [UInt8](repeating: 0, count: 65_535)
    private let timeout: Int64
    private let staleWindow: Int64
    private let ednsMemory: Int64
    private let clientTimer: Int64
    private var nextSweep: Int64 = 0
    /// Questions that just failed with a stale answer served, until when: RFC 8767 §4's
    /// failure recheck timer (30 s), so that clients get the stale answer at once meanwhile.
    private var failedRecently: [CacheKey: Int64] = [:]
    private static let failureRecheck: Int64 = 30_000_000_000

    init(configuration: ForwarderConfiguration, cache: Cache, inbox: Inbox, counters: ForwarderCounters,
         logger: Logger) {
        self.configuration = configuration
        self.cache = cache
        self.inbox = inbox
        self.counters = counters
        self.logger = logger
        self.upstreams = configuration.upstreams.map(Upstream.init(address:))
        self.timeout = configuration.timeout.nanoseconds
        self.staleWindow = configuration.serveStale.nanoseconds
        self.ednsMemory = configuration.ednsMemory.nanoseconds
        self.clientTimer = configuration.clientResponseTimer.nanoseconds
    }

    /// Runs until the inbox is closed; then answers every waiting client SERVFAIL.
    func run() {
        var fds: [pollfd] = []
        var requests: [Waiter] = []
        while true {
            var now = Syscalls.now()
            fds.removeAll(keepingCapacity: true)
            fds.append(pollfd(fd: inbox.wakeFD, events: Int16(POLLIN), revents: 0))
            var wake = now + 250_000_000
            for a in attempts.values {
                let writing = a.stream.map { !$0.connected || $0.written < $0.outgoing.count } ?? false
                fds.append(pollfd(fd: a.fd, events: Int16(writing ? POLLOUT : POLLIN), revents: 0))
                wake = min(wake, a.deadline, a.retryAt ?? .max, a.transaction.deadline)
            }
            for t in transactions.values { wake = min(wake, t.staleTimer ?? .max) }
            let timeout = Int32(clamping: max(0, (wake - now + 999_999) / 1_000_000))
            _ = try? fds.withUnsafeMutableBufferPointer { b throws(Errno) in
                try Syscalls.poll(b.baseAddress!, count: b.count, milliseconds: timeout)
            }
            now = Syscalls.now()

            if fds[0].revents != 0 { Syscalls.drainWakePipe(inbox.wakeFD) }
            let open = inbox.take(into: &requests)
            for r in requests { accept(r, now: now) }
            requests.removeAll(keepingCapacity: true)
            for p in fds.dropFirst() where p.revents != 0 {
                if let a = attempts[p.fd] { ready(a, now: now) }
            }
            expire(now: now)
            housekeeping(now: now)
            if !open { break }
        }
        for t in Array(transactions.values) { servFail(t) }
        cache.epochs.reclaim()
    }

    // MARK: Clients

    private func accept(_ request: Waiter, now: Int64) {
        var w = request
        w.arrived = now
        let parsed: Query? = w.query.withUnsafeBytes { try? Query.parse($0) }
        guard let query = parsed, query.header.opcode == .query, !query.header.isResponse else {
            return respond(w, rcode: parsed == nil ? .formErr : .notImp)
        }
        guard query.type != .axfr, query.type != .ixfr, !upstreams.isEmpty else {
            return respond(w, rcode: .refused)
        }
        let key = w.query.withUnsafeBytes { CacheKey(query: query, bytes: $0) }
        let hash = Cache.hash(key)
        var staleOnTimer = false
        if let e = cache.find(key, hash: hash) {
            if now < e.fields.pointee.freshUntil { return serve(w, from: e, now: now, stale: false) }
            if let until = failedRecently[key], now < until, now < e.fields.pointee.staleUntil {
                counters.staleAnswers.wrappingIncrement(ordering: .relaxed)
                return serve(w, from: e, now: now, stale: true)
            }
            staleOnTimer = clientTimer > 0 && now < e.fields.pointee.staleUntil
        }
        // RFC 8767 §5: with a stale answer at hand, this client waits for the upstreams only so long.
        let timer: Int64? = staleOnTimer ? now + clientTimer : nil
        if let t = transactions[key] {
            t.waiters.append(w)
            if let timer, t.staleTimer == nil { t.staleTimer = timer }
            counters.coalesced.wrappingIncrement(ordering: .relaxed)
            return
        }
        let t = Transaction(key: key, hash: hash, deadline: now + 2 * timeout, first: w)
        t.staleTimer = timer
        transactions[key] = t
        if !askNext(t, now: now) { fail(t, now: now) }
    }

    /// Answers one waiter from an entry.
    private func serve(_ w: Waiter, from e: CacheEntry, now: Int64, stale: Bool) {
        var out = [UInt8](repeating: 0, count: max(512, min(w.limit, 65_535)))
        let n = w.query.withUnsafeBytes { bytes -> Int in
            guard let q = try? Query.parse(bytes) else { return 0 }
            return out.withUnsafeMutableBytes {
                e.answer(query: q, bytes: bytes, into: $0, limit: w.limit, now: now,
                         staleTTL: stale ? configuration.staleTTL : nil, payloadSize: configuration.ednsPayloadSize)
            }
        }
        out.removeLast(out.count - n)
        w.reply(out)
    }

    /// Answers one waiter with an RCODE and no records.
    /// With `extendedError`, an Extended DNS Error (RFC 8914) for a client that sent EDNS.
    private func respond(_ w: Waiter, rcode: RCode, extendedError: UInt16? = nil) {
        var out = [UInt8](repeating: 0, count: max(512, min(w.limit, 65_535)))
        let n = w.query.withUnsafeBytes { bytes -> Int in
            out.withUnsafeMutableBytes { buffer in
                var writer = ResponseWriter(buffer: buffer, limit: w.limit)
                if let q = try? Query.parse(bytes) {
                    let edns = q.edns.map { EDNS(udpPayloadSize: configuration.ednsPayloadSize, flags: $0.flags & EDNS.doBit) }
                    if writer.start(query: q, bytes: bytes, rcode: rcode, authoritative: false,
                                    recursionAvailable: true, edns: edns), let extendedError {
                        writer.addExtendedError(extendedError)
                    }
                } else if let h = try? Header(from: bytes) {
                    writer.startWithoutQuestion(id: h.id, queryFlags: h.flags, rcode: rcode)
                } else {
                    return 0
                }
                return writer.finish()
            }
        }
        out.removeLast(out.count - n)
        if n > 0 { w.reply(out) }
    }

    // MARK: Upstreams

    /// Sends the transaction's question to the best upstream not yet asked; false when none is left.
    private func askNext(_ t: Transaction, now: Int64) -> Bool {
        while let i = upstreams.choose(excluding: t.tried, now: now) {
            t.tried.append(i)
            if ask(t, upstream: i, edns: upstreams[i].speaksEDNS(now: now) ? .offered : .withheld, now: now) {
                return true
            }
        }
        return false
    }

    /// Sends the transaction's question to upstream `i` over UDP; false when it could not be sent.
    private func ask(_ t: Transaction, upstream i: Int, edns: EDNSUse, now: Int64) -> Bool {
        let id = UInt16.random(in: .min ... .max, using: &random)
        let query = UpstreamQuery.make(id: id, key: t.key, payloadSize: configuration.ednsPayloadSize,
                                       edns: edns.sendsOPT)
        do {
            let fd = try openUDP(to: upstreams[i].address)
            do {
                guard try query.withUnsafeBytes({ try Syscalls.send(fd, $0) }) == query.count else {
                    throw Errno("send", EAGAIN)
                }
            } catch {
                Syscalls.close(fd)
                throw error
            }
            if upstreams[i].probeDue { upstreams[i].probing() }
            let retry = upstreams[i].retransmitAfter(timeout: timeout)
            let a = Attempt(transaction: t, upstream: i, fd: fd, id: id, edns: edns, sentAt: now,
                            deadline: min(now + timeout, t.deadline), retryAt: now + retry)
            t.attempts.append(a)
            attempts[fd] = a
            upstreams[i].queries.increment()
            counters.upstreamQueries.wrappingIncrement(ordering: .relaxed)
            return true
        } catch {
            logger.warning("cannot query upstream \(upstreams[i].address): \(error)")
            upstreams[i].failed(now: now, timeout: timeout, downtime: configuration.downtime.nanoseconds)
            return false
        }
    }

    /// A UDP socket bound to a random port (RFC 5452 §9.2: the port is half the
    /// guessing), connected to the upstream so that the kernel drops datagrams
    /// from any other address or port and reports a closed port at once.
    private func openUDP(to upstream: SocketAddress) throws(Errno) -> Int32 {
        let fd = try Syscalls.socket(family: upstream.family, stream: false, nonBlocking: true)
        let any: SocketAddress = upstream.family == AF_INET
            ? SocketAddress(host: .v4(0), port: 0)
            : SocketAddress(host: .v6(IPv6Address(high: 0, low: 0), scopeID: 0), port: 0)
        var bound = false
        for _ in 0..<10 where !bound {
            var local = any
            local.port = UInt16.random(in: 1024 ... .max, using: &random)
            bound = (try? Syscalls.bind(fd, local)) != nil
        }
        do {
            if !bound { try Syscalls.bind(fd, any) }  // every try was in use: the kernel picks
            try Syscalls.connect(fd, upstream)
        } catch {
            Syscalls.close(fd)
            throw error
        }
        return fd
    }

    /// A socket is ready: a reply to read, or a TCP exchange to continue.
    private func ready(_ a: Attempt, now: Int64) {
        if a.stream != nil { return continueStream(a, now: now) }
        while true {
            let received: Int?
            do {
                received = try buffer.withUnsafeMutableBytes { try Syscalls.receive(a.fd, into: $0) }
            } catch {
                // ICMP port unreachable: nothing listens there. Count it and move on at once.
                close(a)
                upstreams[a.upstream].failed(now: now, timeout: timeout, downtime: configuration.downtime.nanoseconds)
                return afterFailure(a.transaction, now: now)
            }
            guard let n = received else { return }
            if handle(reply: buffer[0..<n], from: a, now: now) { return }
        }
    }

    /// Checks one message from an upstream. Returns false when it was dropped
    /// (another ID or question), true when it ended the attempt.
    private func handle(reply message: ArraySlice<UInt8>, from a: Attempt, now: Int64) -> Bool {
        let t = a.transaction
        let checked: UpstreamReply? = message.withUnsafeBytes { bytes in
            try? UpstreamReply.read(bytes, id: a.id, key: t.key, maxTTL: configuration.maxTTL,
                                    maxNegativeTTL: configuration.maxNegativeTTL)
        }
        guard let reply = checked else {
            counters.dropped.wrappingIncrement(ordering: .relaxed)
            logger.debug("dropped a reply from \(upstreams[a.upstream].address) that does not match the query")
            return false
        }
        upstreams[a.upstream].answered(after: now - a.sentAt)
        close(a)
        if reply.hasOPT, upstreams[a.upstream].sentOPT(now: now, memory: ednsMemory) { countUpstreamsWithoutEDNS() }
        if a.edns == .offered, reply.rejectsEDNS {
            // RFC 6891 §7: a server that does not know EDNS; ask it once more without.
            return retryWithoutEDNS(a, rcode: reply.rcode, now: now)
        }
        if reply.header.truncated {
            guard a.stream == nil else { afterFailure(t, now: now); return true }  // TC over TCP: broken upstream
            counters.tcpRetries.wrappingIncrement(ordering: .relaxed)
            openStream(t, upstream: a.upstream, edns: a.edns, now: now)
            return true
        }
        guard reply.rcode == .noError || reply.rcode == .nxDomain else {
            // SERVFAIL, REFUSED, FORMERR, NOTIMP: this upstream cannot help; another may.
            afterFailure(t, now: now)
            return true
        }
        if a.edns == .fallback, upstreams[a.upstream].answeredOnlyWithoutEDNS(now: now, memory: ednsMemory) {
            countUpstreamsWithoutEDNS()
            logger.notice("upstream \(upstreams[a.upstream].address) does not speak EDNS: asking it without for \(configuration.ednsMemory)")
        }
        let entry = message.withUnsafeBytes {
            CacheEntry(key: t.key, hash: t.hash, message: $0, reply: reply, now: now, staleWindow: staleWindow)
        }
        finish(t)
        // Into the cache first: a client that has its answer may ask again at once.
        failedRecently.removeValue(forKey: t.key)
        // Counted before the entry is visible, so that whoever finds it sees the count.
        if t.servedStale, reply.cacheTTL > 0 { counters.refreshedAfterStale.wrappingIncrement(ordering: .relaxed) }
        let kept = reply.cacheTTL > 0 && cache.insert(entry, key: t.key)
        counters.noteSize(of: cache)
        for w in t.waiters { serve(w, from: entry, now: now, stale: false) }
        if !kept { entry.free() }
        return true
    }

    /// The upstream answered our OPT record with FORMERR or NOTIMP and none of its
    /// own: asks it the same question once more without OPT, the same way (UDP or
    /// TCP). A fallback is never itself retried, so this cannot loop.
    private func retryWithoutEDNS(_ a: Attempt, rcode: RCode, now: Int64) -> Bool {
        let t = a.transaction
        guard transactions[t.key] === t else { return true }
        counters.ednsFallbacks.wrappingIncrement(ordering: .relaxed)
        upstreams[a.upstream].ednsFallbacks.increment()
        logger.debug("upstream \(upstreams[a.upstream].address) answered \(rcode) to EDNS: asking again without")
        if a.stream != nil {
            openStream(t, upstream: a.upstream, edns: .fallback, now: now)
        } else if !ask(t, upstream: a.upstream, edns: .fallback, now: now) {
            afterFailure(t, now: now)
        }
        return true
    }

    /// Retries a truncated answer over TCP to the same upstream (RFC 7766 §5), asked as the UDP query was.
    private func openStream(_ t: Transaction, upstream i: Int, edns: EDNSUse, now: Int64) {
        let id = UInt16.random(in: .min ... .max, using: &random)
        let query = UpstreamQuery.make(id: id, key: t.key, payloadSize: configuration.ednsPayloadSize,
                                       edns: edns.sendsOPT)
        do {
            let fd = try Syscalls.socket(family: upstreams[i].address.family, stream: true, nonBlocking: true)
            do { try Syscalls.connect(fd, upstreams[i].address) } catch { Syscalls.close(fd); throw error }
            let a = Attempt(transaction: t, upstream: i, fd: fd, id: id, edns: edns, sentAt: now,
                            deadline: min(now + timeout, t.deadline), retryAt: nil,
                            stream: StreamState(outgoing: [UInt8(query.count >> 8), UInt8(query.count & 0xff)] + query))
            t.attempts.append(a)
            attempts[fd] = a
            upstreams[i].queries.increment()
            counters.upstreamQueries.wrappingIncrement(ordering: .relaxed)
        } catch {
            logger.warning("cannot open TCP to upstream \(upstreams[i].address): \(error)")
            afterFailure(t, now: now)
        }
    }

    private func continueStream(_ a: Attempt, now: Int64) {
        guard var s = a.stream else { return }
        do {
            if !s.connected {
                let error = Syscalls.pendingError(a.fd)
                guard error == 0 else { throw Errno("connect \(upstreams[a.upstream].address)", error) }
                s.connected = true
            }
            if s.written < s.outgoing.count {
                let sent = try s.outgoing[s.written...].withUnsafeBytes { try Syscalls.send(a.fd, $0) } ?? 0
                s.written += sent
                a.stream = s
                return
            }
            guard let n = try buffer.withUnsafeMutableBytes({ try Syscalls.receive(a.fd, into: $0) }) else {
                a.stream = s
                return
            }
            guard n > 0 else { throw Errno("recv (connection closed)", ECONNRESET) }
            s.incoming += buffer[0..<n]
            a.stream = s
            if let message = s.message, !handle(reply: message, from: a, now: now) {
                throw Errno("a reply that does not match the query", EPROTO)
            }
        } catch {
            logger.info("TCP to upstream \(upstreams[a.upstream].address) failed: \(error)")
            close(a)
            afterFailure(a.transaction, now: now)
        }
    }

    /// An attempt ended without an answer: go on with another upstream, or give up
    /// when none is left and nothing else is on its way.
    private func afterFailure(_ t: Transaction, now: Int64) {
        guard transactions[t.key] === t else { return }
        if !askNext(t, now: now), t.attempts.isEmpty { fail(t, now: now) }
    }

    /// Timers: attempts that timed out, retransmissions due, transactions out of time,
    /// clients whose response timer ran out.
    private func expire(now: Int64) {
        for t in Array(transactions.values) {
            if let due = t.staleTimer, now >= due, now < t.deadline { answerStale(t, now: now) }
            if now >= t.deadline {
                for a in t.attempts where now >= a.deadline { timedOut(a, now: now) }
                fail(t, now: now)
                continue
            }
            for a in t.attempts {
                if now >= a.deadline {
                    timedOut(a, now: now)
                } else if let r = a.retryAt, now >= r {
                    a.retryAt = nil
                    _ = askNext(t, now: now)
                }
            }
            if t.attempts.isEmpty { afterFailure(t, now: now) }
        }
    }

    private func timedOut(_ a: Attempt, now: Int64) {
        close(a)
        counters.timeouts.wrappingIncrement(ordering: .relaxed)
        upstreams[a.upstream].failed(now: now, timeout: timeout, downtime: configuration.downtime.nanoseconds)
    }

    private func close(_ a: Attempt) {
        guard attempts.removeValue(forKey: a.fd) != nil else { return }
        Syscalls.close(a.fd)
        a.transaction.attempts.removeAll { $0 === a }
    }

    /// RFC 8767 §5's client response timer: the waiters that have waited
    /// `clientTimer` get the stale answer now; the transaction goes on, and its
    /// answer, when it comes, refreshes the cache for the next client.
    private func answerStale(_ t: Transaction, now: Int64) {
        t.staleTimer = nil
        guard let e = cache.find(t.key, hash: t.hash), now < e.fields.pointee.staleUntil else { return }
        var waiting: [Waiter] = []
        for w in t.waiters {
            if now - w.arrived >= clientTimer {
                // Counted before the client has its answer, so that it sees the count.
                counters.staleAnswers.wrappingIncrement(ordering: .relaxed)
                counters.staleOnClientTimer.wrappingIncrement(ordering: .relaxed)
                t.servedStale = true
                serve(w, from: e, now: now, stale: true)
            } else {
                waiting.append(w)
                t.staleTimer = min(t.staleTimer ?? .max, w.arrived + clientTimer)
            }
        }
        t.waiters = waiting
    }

    /// Every upstream failed: a stale answer when one may be served (RFC 8767), else SERVFAIL.
    private func fail(_ t: Transaction, now: Int64) {
        finish(t)
        if staleWindow > 0, let e = cache.find(t.key, hash: t.hash), now < e.fields.pointee.staleUntil {
            counters.staleAnswers.wrappingIncrement(by: t.waiters.count, ordering: .relaxed)
            failedRecently[t.key] = now + Resolver.failureRecheck
            for w in t.waiters { serve(w, from: e, now: now, stale: true) }
        } else {
            for w in t.waiters { respond(w, rcode: .servFail, extendedError: ExtendedDNSError.noReachableAuthority) }
        }
    }

    private func servFail(_ t: Transaction) {
        finish(t)
        for w in t.waiters { respond(w, rcode: .servFail) }
    }

    /// Forgets the transaction and closes what it still has open.
    private func finish(_ t: Transaction) {
        for a in t.attempts { close(a) }
        transactions.removeValue(forKey: t.key)
    }

    // MARK: Upkeep

    private func countUpstreamsWithoutEDNS() {
        let n = upstreams.reduce(0) { $0 + ($1.ednsLackingUntil != 0 ? 1 : 0) }
        counters.upstreamsWithoutEDNS.store(n, ordering: .relaxed)
    }

    private func housekeeping(now: Int64) {
        cache.epochs.reclaim()
        if now >= nextSweep {
            for i in upstreams.indices {
                guard upstreams[i].forgetLackOfEDNS(now: now) else { continue }
                logger.info("upstream \(upstreams[i].address): asking it with EDNS again")
                countUpstreamsWithoutEDNS()
            }
            failedRecently = failedRecently.filter { $0.value > now }
            cache.sweep(now: now)
            counters.noteSize(of: cache)
            nextSweep = now + 5_000_000_000
        }
    }
}
