import Atomics
import Metrics

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
    /// Stale answers served because every upstream failed (RFC 8767).
    public var staleAnswers: Int
    /// Replies dropped because their ID or question did not match (maybe spoofed).
    public var droppedReplies: Int
}

/// The resolver thread's counters, and their export to swift-metrics.
final class ForwarderCounters: Sendable {
    let upstreamQueries = ManagedAtomic<Int>(0)
    let timeouts = ManagedAtomic<Int>(0)
    let tcpRetries = ManagedAtomic<Int>(0)
    let coalesced = ManagedAtomic<Int>(0)
    let staleAnswers = ManagedAtomic<Int>(0)
    let dropped = ManagedAtomic<Int>(0)
    let entries = ManagedAtomic<Int>(0)
    let bytes = ManagedAtomic<Int>(0)

    private let hitsMetric = Counter(label: "sixpn_forwarder_cache_hits_total")
    private let missesMetric = Counter(label: "sixpn_forwarder_cache_misses_total")
    private let entriesMetric = Gauge(label: "sixpn_forwarder_cache_entries")
    private let bytesMetric = Gauge(label: "sixpn_forwarder_cache_bytes")
    private let staleMetric = Counter(label: "sixpn_forwarder_stale_answers_total")
    private let droppedMetric = Counter(label: "sixpn_forwarder_dropped_replies_total")
    private let coalescedMetric = Counter(label: "sixpn_forwarder_coalesced_queries_total")
    private let tcpMetric = Counter(label: "sixpn_forwarder_tcp_retries_total")
    /// What the last flush reported, so that the next reports the difference (resolver thread only).
    private let lastHits = ManagedAtomic<Int>(0)
    private let lastMisses = ManagedAtomic<Int>(0)
    private let lastStale = ManagedAtomic<Int>(0)
    private let lastDropped = ManagedAtomic<Int>(0)
    private let lastCoalesced = ManagedAtomic<Int>(0)
    private let lastTCP = ManagedAtomic<Int>(0)

    /// Resolver thread, about once a second: hands the new counts to swift-metrics.
    /// The query path only bumps its striped counters; nothing there calls a metrics backend.
    func flush(cache: Cache) {
        noteSize(of: cache)
        entriesMetric.record(cache.count)
        bytesMetric.record(cache.bytes)
        func report(_ counter: Counter, _ now: Int, _ last: ManagedAtomic<Int>) {
            let before = last.exchange(now, ordering: .relaxed)
            if now > before { counter.increment(by: now - before) }
        }
        report(hitsMetric, cache.lookups.total(Cache.hitCounter), lastHits)
        report(missesMetric, cache.lookups.total(Cache.missCounter), lastMisses)
        report(staleMetric, staleAnswers.load(ordering: .relaxed), lastStale)
        report(droppedMetric, dropped.load(ordering: .relaxed), lastDropped)
        report(coalescedMetric, coalesced.load(ordering: .relaxed), lastCoalesced)
        report(tcpMetric, tcpRetries.load(ordering: .relaxed), lastTCP)
    }

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
            staleAnswers: staleAnswers.load(ordering: .relaxed), droppedReplies: dropped.load(ordering: .relaxed))
    }
}
