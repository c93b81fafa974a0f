#if canImport(Glibc)
import Glibc
#endif
import DNSWire
import Logging
import Sockets

/// The resolver thread: takes misses from the inbox, asks upstreams, checks
/// replies, fills the cache and answers the waiting clients. Everything
/// here belongs to that one thread; it is the cache's only writer.
final class Resolver: @unchecked Sendable {
    let configuration: ForwarderConfiguration
    let cache: Cache
    let inbox: Inbox
    let counters: ForwarderCounters
    let logger: Logger
    var upstreams: [Upstream]
    var transactions: [CacheKey: Transaction] = [:]
    var attempts: [Int32: Attempt] = [:]
    var random = SystemRandomNumberGenerator()
    var buffer = [UInt8](repeating: 0, count: 65_535)
    let timeout: Int64
    let staleWindow: Int64
    let ednsMemory: Int64
    let clientTimer: Int64
    private var nextSweep: Int64 = 0
    /// Questions that just failed with a stale answer served, until when: RFC 8767 §4's
    /// failure recheck timer (30 s), so that clients get the stale answer at once meanwhile.
    var failedRecently: [CacheKey: Int64] = [:]
    static let failureRecheck: Int64 = 30_000_000_000
    /// The most attempts (upstream sockets) open at once.
    let maxInFlight: Int
    /// Running out of descriptors is logged once a minute, and counted always.
    var descriptorWarning = OncePer(nanoseconds: 60_000_000_000)

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
        self.maxInFlight = max(1, configuration.upstreamInFlight)
    }

    /// Runs until the inbox is closed; then answers every waiting client SERVFAIL.
    /// The upstream transports are in UpstreamTransport.swift, serving stale in ServeStale.swift.
    func run() {
        var fds: [pollfd] = []
        var requests: [Waiter] = []
        while true {
            var now = Syscalls.now()
            fds.removeAll(keepingCapacity: true)
            fds.append(pollfd(fd: inbox.wakeFD, events: Int16(POLLIN), revents: 0))
            var wake = now + 250_000_000
            for a in attempts.values {
                fds.append(pollfd(fd: a.fd, events: Int16(Resolver.writing(a) ? POLLOUT : POLLIN), revents: 0))
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

    private func accept(_ waiter: Waiter, now: Int64) {
        var w = waiter
        w.arrived = now
        let request = w.request
        guard request.query.type != .axfr, request.query.type != .ixfr, !upstreams.isEmpty else {
            return w.reply(request.errorReply(.refused))
        }
        let key = request.key
        let hash = Cache.hash(key)
        var staleOnTimer = false
        if let e = cache.find(key, hash: hash) {
            if now < e.fields.pointee.freshUntil { return serve(w, from: e, now: now, stale: false) }
            if recheckingAfterFailure(key, entry: e, now: now) {
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
    func serve(_ w: Waiter, from e: CacheEntry, now: Int64, stale: Bool) {
        w.reply(w.request.reply(from: e, now: now, staleTTL: stale ? configuration.staleTTL : nil))
    }

    // MARK: Upstreams

    /// Sends the transaction's question to the best upstream not yet asked; false when none is left,
    /// or when no upstream query may be sent now (`starved`: every slot taken, or no descriptor left).
    func askNext(_ t: Transaction, now: Int64) -> Bool {
        while let i = upstreams.choose(excluding: t.tried, now: now) {
            guard hasSlot(for: t) else { return false }
            t.tried.append(i)
            switch ask(t, upstream: i, edns: upstreams[i].speaksEDNS(now: now) ? .offered : .withheld, now: now) {
            case .sent: return true
            case .failed: continue
            case .noDescriptor: return false
            }
        }
        return false
    }

    /// Whether one more upstream socket may be opened for `t`; marks it starved when not.
    func hasSlot(for t: Transaction) -> Bool {
        if attempts.count < maxInFlight { return true }
        t.starved = true
        return false
    }

    /// Checks one message from an upstream. Returns false when it was dropped
    /// (another ID or question), true when it ended the attempt.
    func handle(reply message: UnsafeRawBufferPointer, from a: Attempt, now: Int64) -> Bool {
        let t = a.transaction
        configuration.tap?.received(response: message, from: upstreams[a.upstream].address, tcp: a.stream != nil,
                                    nanosecondsAgo: now - a.sentAt)
        let checked = try? UpstreamReply.read(message, id: a.id, key: t.key, maxTTL: configuration.maxTTL,
                                              maxNegativeTTL: configuration.maxNegativeTTL)
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
        let entry = CacheEntry(key: t.key, hash: t.hash, message: message, reply: reply, now: now,
                               staleWindow: staleWindow)
        if let org = t.waiters.first?.request.organization { entry.fields.pointee.owner = UInt64(org) | 1 << 32 }
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
    func retryWithoutEDNS(_ a: Attempt, rcode: RCode, now: Int64) -> Bool {
        let t = a.transaction
        guard transactions[t.key] === t else { return true }
        counters.ednsFallbacks.wrappingIncrement(ordering: .relaxed)
        upstreams[a.upstream].ednsFallbacks.increment()
        logger.debug("upstream \(upstreams[a.upstream].address) answered \(rcode) to EDNS: asking again without")
        if a.stream != nil {
            openStream(t, upstream: a.upstream, edns: .fallback, now: now)
        } else if !hasSlot(for: t) || ask(t, upstream: a.upstream, edns: .fallback, now: now) != .sent {
            afterFailure(t, now: now)
        }
        return true
    }

    /// An attempt ended without an answer: go on with another upstream, or give up
    /// when none is left and nothing else is on its way.
    func afterFailure(_ t: Transaction, now: Int64) {
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

    func timedOut(_ a: Attempt, now: Int64) {
        close(a)
        counters.timeouts.wrappingIncrement(ordering: .relaxed)
        upstreams[a.upstream].failed(now: now, timeout: timeout, downtime: configuration.downtime.nanoseconds)
    }

    func close(_ a: Attempt) {
        guard attempts.removeValue(forKey: a.fd) != nil else { return }
        Syscalls.close(a.fd)
        a.transaction.attempts.removeAll { $0 === a }
        counters.inFlight.store(attempts.count, ordering: .relaxed)
    }

    private func servFail(_ t: Transaction) {
        finish(t)
        for w in t.waiters { w.reply(w.request.errorReply(.servFail)) }
    }

    /// Forgets the transaction and closes what it still has open.
    func finish(_ t: Transaction) {
        for a in t.attempts { close(a) }
        transactions.removeValue(forKey: t.key)
    }

    // MARK: Upkeep

    func countUpstreamsWithoutEDNS() {
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
