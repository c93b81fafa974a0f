import Atomics

/// What the Forwarder has done, as numbers: readable from any thread.
public struct ForwarderStatistics: Hashable, Sendable {
    /// Answers served from the cache on the query path, and lookups that missed.
    public var cacheHits: Int
    public var cacheMisses: Int
    /// Answers (entries) in the cache and the octets they take.
    public var cacheEntries: Int
    public var cacheBytes: Int
    /// Queries sent upstream (UDP and TCP), and those that got no reply in time.
    public var upstreamQueries: Int
    public var upstreamTimeouts: Int
    /// Truncated UDP replies retried over TCP.
    public var tcpRetries: Int
    /// Clients that joined a question already on its way upstream.
    public var coalesced: Int
    /// Stale answers served (RFC 8767): because every upstream failed, or on the client response timer.
    public var staleAnswers: Int
    /// Replies dropped because their ID or question did not match (maybe spoofed).
    public var droppedReplies: Int
    /// Queries asked again without OPT after an upstream rejected it (FORMERR or NOTIMP without OPT).
    public var ednsFallbacks: Int
    /// Upstreams asked without EDNS now, because they answered only without it.
    public var upstreamsWithoutEDNS: Int
    /// Of ``staleAnswers``, those served on RFC 8767 §5's client response timer while the upstream query went on.
    public var staleOnClientTimer: Int
    /// Upstream answers that came after their clients had a stale answer, and refreshed the cache.
    public var refreshedAfterStale: Int
    /// Queries to upstreams in flight now (each holds a socket), and the bound on them.
    public var upstreamInFlight: Int
    public var upstreamInFlightLimit: Int
    /// Questions that found every upstream slot taken (answered stale, or SERVFAIL with EDE 0).
    public var refusedNoSlot: Int
    /// Sockets the resolver could not open: no file descriptor left (EMFILE, ENFILE).
    public var descriptorErrors: Int
}

/// The resolver thread's counters. The Server exports them (with the cache
/// hits and misses) as `sixpn_forward_*`; per-upstream figures, which do not
/// fit here, go to swift-metrics from ``Upstream``.
final class ForwarderCounters: Sendable {
    let upstreamQueries = ManagedAtomic<Int>(0)
    let timeouts = ManagedAtomic<Int>(0)
    let tcpRetries = ManagedAtomic<Int>(0)
    let coalesced = ManagedAtomic<Int>(0)
    let staleAnswers = ManagedAtomic<Int>(0)
    let dropped = ManagedAtomic<Int>(0)
    let ednsFallbacks = ManagedAtomic<Int>(0)
    let upstreamsWithoutEDNS = ManagedAtomic<Int>(0)
    let staleOnClientTimer = ManagedAtomic<Int>(0)
    let refreshedAfterStale = ManagedAtomic<Int>(0)
    let inFlight = ManagedAtomic<Int>(0)
    let refusedNoSlot = ManagedAtomic<Int>(0)
    let descriptorErrors = ManagedAtomic<Int>(0)
    let inFlightLimit: Int

    init(inFlightLimit: Int) { self.inFlightLimit = inFlightLimit }
    let entries = ManagedAtomic<Int>(0)
    let bytes = ManagedAtomic<Int>(0)

    /// Resolver thread: publishes the cache's size after a change.
    func noteSize(of cache: Cache) {
        entries.store(cache.count, ordering: .relaxed)
        bytes.store(cache.bytes, ordering: .relaxed)
    }

    func statistics(cache: Cache) -> ForwarderStatistics {
        ForwarderStatistics(
            cacheHits: cache.lookups.total(Cache.hitCounter), cacheMisses: cache.lookups.total(Cache.missCounter),
            cacheEntries: entries.load(ordering: .relaxed), cacheBytes: bytes.load(ordering: .relaxed),
            upstreamQueries: upstreamQueries.load(ordering: .relaxed), upstreamTimeouts: timeouts.load(ordering: .relaxed),
            tcpRetries: tcpRetries.load(ordering: .relaxed), coalesced: coalesced.load(ordering: .relaxed),
            staleAnswers: staleAnswers.load(ordering: .relaxed), droppedReplies: dropped.load(ordering: .relaxed),
            ednsFallbacks: ednsFallbacks.load(ordering: .relaxed),
            upstreamsWithoutEDNS: upstreamsWithoutEDNS.load(ordering: .relaxed),
            staleOnClientTimer: staleOnClientTimer.load(ordering: .relaxed),
            refreshedAfterStale: refreshedAfterStale.load(ordering: .relaxed),
            upstreamInFlight: inFlight.load(ordering: .relaxed), upstreamInFlightLimit: inFlightLimit,
            refusedNoSlot: refusedNoSlot.load(ordering: .relaxed),
            descriptorErrors: descriptorErrors.load(ordering: .relaxed))
    }
}
