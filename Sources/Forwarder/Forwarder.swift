#if canImport(Glibc)
import Glibc
#endif
import Atomics
import DNSWire
import Logging
import Sockets

/// Answers every name sixpn is not authoritative for: from its cache on the
/// query path, else by asking the upstreams on its own resolver thread.
///
/// Threads: any number of workers call ``answerFromCache(query:bytes:into:limit:)``
/// at once (no lock, no allocation: see ``Cache``); misses go through
/// ``resolve(query:limit:reply:)`` to the one resolver thread, which is the
/// cache's only writer.
public final class Forwarder: Sendable {
    public let configuration: ForwarderConfiguration
    let cache: Cache
    private let inbox: Inbox
    private let counters: ForwarderCounters
    private let thread: pthread_t
    private let stopped = ManagedAtomic<Bool>(false)

    /// Starts the resolver thread. With no upstreams every forwarded query is
    /// answered REFUSED (and a warning says so once).
    public init(configuration: ForwarderConfiguration, logger: Logger) throws {
        self.configuration = configuration
        cache = Cache(maxEntries: configuration.cacheEntries, maxBytes: configuration.cacheBytes,
                      organizationShare: configuration.organizationCacheShare)
        counters = ForwarderCounters(inFlightLimit: configuration.upstreamInFlight)
        inbox = try Inbox()
        let resolver = Resolver(configuration: configuration, cache: cache, inbox: inbox, counters: counters,
                                logger: logger)
        thread = try Syscalls.startThread {
            Syscalls.nameThisThread("sixpn-forward")
            // The workers answer from the zone and the cache at once; this thread's work (one
            // organization's storm of misses, within its budget) may wait behind theirs, so a
            // worker that wakes for another tenant's question does not wait for its time slice.
            Syscalls.setThisThreadsNice(Self.nice)
            resolver.run()
        }
        if configuration.upstreams.isEmpty {
            logger.warning("no upstream nameservers: names outside internal. will be answered REFUSED")
        } else {
            logger.info("forwarding to \(configuration.upstreams.map(\.description).joined(separator: ", "))")
        }
    }

    /// The resolver thread's nice value (the workers run at the process's own).
    static let nice: Int32 = 10

    deinit { shutdown() }

    /// Query path, allocation-free and lock-free: answers from a fresh cache
    /// entry into `out` (at most `limit` octets; sections that do not fit are
    /// left out whole, with TC when that is the answer or authority), with
    /// the client's ID, flags and question case, the TTLs counted down and
    /// the OPT `edns` that admission chose. `name` is the question name,
    /// lowercased. Returns the response's length, or nil on a miss.
    @inline(__always)
    public func answerFromCache(query: Query, bytes: UnsafeRawBufferPointer, name: UnsafeRawBufferPointer,
                                edns: EDNS?, into out: UnsafeMutableRawBufferPointer, limit: Int) -> Int? {
        cache.answer(query: query, bytes: bytes, name: name, edns: edns, into: out, limit: min(limit, out.count))
    }

    /// Whether a miss would find the upstream capacity used up: every slot
    /// for an upstream query taken, or as many misses already waiting for the
    /// resolver thread. Two relaxed loads; a worker asks it on a miss only.
    @inline(__always)
    public var saturated: Bool {
        let limit = configuration.upstreamInFlight
        return counters.inFlight.load(ordering: .relaxed) >= limit || inbox.depth.load(ordering: .relaxed) >= limit
    }

    /// A miss while ``saturated``, answered on the worker at once instead of
    /// queued behind the storm: the expired answer when the cache still may
    /// serve it (RFC 8767, TTL `staleTTL`, EDE 3), else SERVFAIL with EDE 0
    /// "upstream queries at capacity". Returns the reply's length. No lock,
    /// no allocation.
    public func answerAtCapacity(query: Query, bytes: UnsafeRawBufferPointer, name: UnsafeRawBufferPointer,
                                 edns: EDNS?, into out: UnsafeMutableRawBufferPointer, limit: Int) -> Int {
        counters.refusedNoSlot.wrappingIncrement(ordering: .relaxed)
        if configuration.serveStale > .zero,
           let n = cache.answer(query: query, bytes: bytes, name: name, edns: edns, into: out,
                                limit: min(limit, out.count), staleTTL: configuration.staleTTL) {
            counters.staleAnswers.wrappingIncrement(ordering: .relaxed)
            return n
        }
        return ResponseWriter.error(.servFail, header: query.header, query: query, bytes: bytes, edns: edns,
                                    extendedError: ExtendedDNSError.other, extendedErrorText: .upstreamCapacity,
                                    recursionAvailable: true, limit: min(limit, out.count), into: out)
    }

    /// A miss: resolves off the query path. `reply` is called exactly once, on
    /// any thread, with the complete response for the client: its ID and
    /// question case, at most `request.limit` octets; SERVFAIL when every
    /// upstream failed and nothing stale may be served, REFUSED with no upstreams.
    public func resolve(_ request: ForwardRequest, reply: @escaping @Sendable ([UInt8]) -> Void) {
        if !inbox.post(Waiter(request: request, reply: reply)) {
            // Shut down: answer SERVFAIL here rather than never.
            reply(request.errorReply(.servFail))
        }
    }

    /// Stops the resolver thread; clients still waiting get SERVFAIL. Idempotent.
    public func shutdown() {
        guard stopped.compareExchange(expected: false, desired: true, ordering: .relaxed).exchanged else { return }
        inbox.close()
        Syscalls.join(thread)
    }

    /// The counts so far (cache size is refreshed by the resolver thread as it changes the cache).
    public var statistics: ForwarderStatistics { counters.statistics(cache: cache) }
}
