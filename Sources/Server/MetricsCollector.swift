import CoreMetrics
import Dispatch
import Dnstap
import Forwarder
import Logging
import Metrics
import Prometheus
import Sockets
import ZoneEngine

/// Publishes the threads' plain counters to swift-metrics once a second, so
/// that the query path never calls into a metrics backend (which locks).
///
/// Names (Prometheus): `sixpn_queries_total{type,rcode}`,
/// `sixpn_query_duration_seconds` (histogram), `sixpn_dropped_total{reason,transport}`,
/// `sixpn_truncated_total`, `sixpn_forwarded_total`, `sixpn_forwarder_cache_hits_total`,
/// `sixpn_forwarder_in_flight`, `sixpn_tcp_connections_total{event}`, `sixpn_socket_errors_total`,
/// `sixpn_snapshot_age_seconds`, `sixpn_reload_errors_total`, `sixpn_dnstap_dropped_total` and
/// `sixpn_dnstap_written_total` (with `--dnstap`: messages lost, and written to the reader),
/// `sixpn_limited_total{reason,transport}`, `sixpn_limited_truncated_total` (the limited queries
/// answered with TC), `sixpn_top_organization_queries_per_second{org}` (the 10 organizations that
/// sent the most UDP queries over the last minute, and no other), and the forwarder's cache,
/// EDNS-fallback and serve-stale figures as `sixpn_forwarder_*` (it publishes its
/// per-upstream figures itself).
final class MetricsCollector: @unchecked Sendable {
    private let sources: [WorkerCounters]
    private let zone: ZoneStore
    private let state: ServerState
    private let logger: Logger
    private let forwarder: Forwarder?
    private let limiter: TenantLimiter?
    private let tenants = TenantStatistics()
    private var lastForwarder: ForwarderStatistics?
    private let forwarderCounters: [(KeyPath<ForwarderStatistics, Int>, CoreMetrics.Counter)] = [
        (\.cacheMisses, CoreMetrics.Counter(label: "sixpn_forwarder_cache_misses_total")),
        (\.tcpRetries, CoreMetrics.Counter(label: "sixpn_forwarder_tcp_retries_total")),
        (\.coalesced, CoreMetrics.Counter(label: "sixpn_forwarder_coalesced_total")),
        (\.staleAnswers, CoreMetrics.Counter(label: "sixpn_forwarder_stale_answers_total")),
        (\.droppedReplies, CoreMetrics.Counter(label: "sixpn_forwarder_dropped_replies_total")),
        (\.ednsFallbacks, CoreMetrics.Counter(label: "sixpn_forwarder_edns_fallbacks_total")),
        (\.staleOnClientTimer, CoreMetrics.Counter(label: "sixpn_forwarder_stale_client_timer_total")),
        (\.refreshedAfterStale, CoreMetrics.Counter(label: "sixpn_forwarder_stale_refreshed_total")),
        (\.refusedNoSlot, CoreMetrics.Counter(label: "sixpn_forwarder_no_slot_total")),
        (\.descriptorErrors, CoreMetrics.Counter(label: "sixpn_descriptor_errors_total", dimensions: [("where", "upstream")])),
    ]
    private let cacheEntries = CoreMetrics.Gauge(label: "sixpn_forwarder_cache_entries")
    private let cacheBytes = CoreMetrics.Gauge(label: "sixpn_forwarder_cache_bytes")
    private let upstreamsWithoutEDNS = CoreMetrics.Gauge(label: "sixpn_forwarder_upstreams_without_edns")
    private let upstreamInFlight = CoreMetrics.Gauge(label: "sixpn_forwarder_upstream_in_flight")
    private let upstreamInFlightLimit = CoreMetrics.Gauge(label: "sixpn_forwarder_upstream_in_flight_limit")
    private let queue = DispatchQueue(label: "sixpn.metrics")
    private var timer: DispatchSourceTimer?
    private var last = [UInt64](repeating: 0, count: WorkerCounters.Slot.count)
    private var lastReloadErrors = 0

    private let answers: [CoreMetrics.Counter]
    private let latency = ServerMetrics.latency
    private let plain: [(slot: Int, counter: CoreMetrics.Counter)]
    private let snapshotAge = CoreMetrics.Gauge(label: "sixpn_snapshot_age_seconds")
    private let reloadErrors = CoreMetrics.Counter(label: "sixpn_reload_errors_total")
    private let inFlight = CoreMetrics.Gauge(label: "sixpn_forwarder_in_flight")

    private let dnstap: DnstapLog?
    private var lastDnstap: (dropped: UInt64, written: UInt64) = (0, 0)
    /// Made only with `--dnstap`, so that a server without it does not export them.
    private let dnstapCounters: (dropped: CoreMetrics.Counter, written: CoreMetrics.Counter)?

    init(sources: [WorkerCounters], zone: ZoneStore, forwarder: Forwarder?, state: ServerState,
         limiter: TenantLimiter? = nil, dnstap: DnstapLog? = nil, logger: Logger) {
        self.sources = sources
        self.dnstap = dnstap
        dnstapCounters = dnstap.map { _ in
            (dropped: CoreMetrics.Counter(label: "sixpn_dnstap_dropped_total"),
             written: CoreMetrics.Counter(label: "sixpn_dnstap_written_total"))
        }
        self.limiter = limiter
        self.forwarder = forwarder
        self.zone = zone
        self.state = state
        self.logger = logger
        var answers: [CoreMetrics.Counter] = []
        for (_, type) in WorkerCounters.Slot.types {
            for rcode in WorkerCounters.Slot.rcodes {
                answers.append(CoreMetrics.Counter(label: "sixpn_queries_total", dimensions: [("type", type), ("rcode", rcode)]))
            }
        }
        self.answers = answers
        typealias S = WorkerCounters.Slot
        plain = [
            (S.droppedUntrustedUDP, CoreMetrics.Counter(label: "sixpn_dropped_total",
                                            dimensions: [("reason", "untrusted"), ("transport", "udp")])),
            (S.droppedUntrustedTCP, CoreMetrics.Counter(label: "sixpn_dropped_total",
                                            dimensions: [("reason", "untrusted"), ("transport", "tcp")])),
            (S.droppedMalformed, CoreMetrics.Counter(label: "sixpn_dropped_total",
                                         dimensions: [("reason", "malformed"), ("transport", "any")])),
            (S.truncated, CoreMetrics.Counter(label: "sixpn_truncated_total")),
            (S.forwarded, CoreMetrics.Counter(label: "sixpn_forwarded_total")),
            (S.cacheHits, CoreMetrics.Counter(label: "sixpn_forwarder_cache_hits_total")),
            (S.tcpAccepted, CoreMetrics.Counter(label: "sixpn_tcp_connections_total", dimensions: [("event", "accepted")])),
            (S.tcpEvicted, CoreMetrics.Counter(label: "sixpn_tcp_connections_total", dimensions: [("event", "evicted")])),
            (S.tcpTimedOut, CoreMetrics.Counter(label: "sixpn_tcp_connections_total", dimensions: [("event", "timed_out")])),
            (S.socketErrors, CoreMetrics.Counter(label: "sixpn_socket_errors_total")),
            (S.descriptorErrors, CoreMetrics.Counter(label: "sixpn_descriptor_errors_total", dimensions: [("where", "accept")])),
            (S.limitedInstanceUDP, CoreMetrics.Counter(label: "sixpn_limited_total",
                                           dimensions: [("reason", "instance"), ("transport", "udp")])),
            (S.limitedOrganizationUDP, CoreMetrics.Counter(label: "sixpn_limited_total",
                                               dimensions: [("reason", "organization"), ("transport", "udp")])),
            (S.limitedSlipped, CoreMetrics.Counter(label: "sixpn_limited_truncated_total")),
            (S.limitedTCPPerSource, CoreMetrics.Counter(label: "sixpn_limited_total",
                                            dimensions: [("reason", "tcp_per_source"), ("transport", "tcp")])),
            (S.limitedUpstream, CoreMetrics.Counter(label: "sixpn_limited_total",
                                        dimensions: [("reason", "org_upstream"), ("transport", "any")])),
            (S.tcpRefusedFull, CoreMetrics.Counter(label: "sixpn_tcp_connections_total", dimensions: [("event", "refused_full")])),
        ]
    }

    func start() {
        // The Prometheus "info" convention: a gauge of 1 whose labels say what runs.
        CoreMetrics.Gauge(label: "sixpn_build_info", dimensions: [("version", sixpnVersion)]).record(1)
        let t = DispatchSource.makeTimerSource(queue: queue)
        t.schedule(deadline: .now() + .seconds(1), repeating: .seconds(1))
        t.setEventHandler { [self] in collect() }
        timer = t
        t.resume()
    }

    func stop() {
        queue.sync {
            timer?.cancel()
            timer = nil
            collect()
        }
    }

    /// Adds every thread's counts since the last round to the metrics.
    private func collect() {
        typealias S = WorkerCounters.Slot
        var now = [UInt64](repeating: 0, count: S.count)
        for source in sources {
            for slot in 0..<S.count { now[slot] &+= source.value(slot) }
        }
        func delta(_ slot: Int) -> Int64 { Int64(truncatingIfNeeded: now[slot] &- last[slot]) }
        for slot in 0..<S.answerSlots where delta(slot) > 0 { answers[slot].increment(by: delta(slot)) }
        for (slot, counter) in plain where delta(slot) > 0 { counter.increment(by: delta(slot)) }
        // The threads count answers per bucket: added as they are, one lock a second.
        for bucket in 0..<S.latencySlots {
            let n = delta(S.latencyBase + bucket)
            if n > 0 { latency.add(slot: bucket, count: UInt64(n)) }
        }
        last = now

        if let loaded = zone.loadedAt {
            let age = ContinuousClock.now - loaded
            snapshotAge.record(Double(age.nanoseconds) / 1e9)
        }
        let errors = zone.reloadErrors
        if errors > lastReloadErrors {
            reloadErrors.increment(by: Int64(errors - lastReloadErrors))
            logger.error("database reload failed; still serving the last good snapshot",
                         metadata: ["error": .string(zone.lastError ?? "unknown"), "failures": .stringConvertible(errors)])
        }
        lastReloadErrors = errors
        inFlight.record(state.inFlight.load(ordering: .relaxed))
        if let limiter { tenants.collect(limiter, logger: logger) }
        if let dnstap, let counters = dnstapCounters {
            let now = (dropped: dnstap.dropped, written: dnstap.written)
            counters.dropped.increment(by: Int64(truncatingIfNeeded: now.dropped &- lastDnstap.dropped))
            counters.written.increment(by: Int64(truncatingIfNeeded: now.written &- lastDnstap.written))
            lastDnstap = now
        }

        if let f = forwarder?.statistics {
            for (field, counter) in forwarderCounters {
                let d = f[keyPath: field] - (lastForwarder?[keyPath: field] ?? 0)
                if d > 0 { counter.increment(by: Int64(d)) }
            }
            cacheEntries.record(f.cacheEntries)
            cacheBytes.record(f.cacheBytes)
            upstreamsWithoutEDNS.record(f.upstreamsWithoutEDNS)
            upstreamInFlight.record(f.upstreamInFlight)
            upstreamInFlightLimit.record(f.upstreamInFlightLimit)
            lastForwarder = f
        }
    }
}

/// What the collector keeps of the organizations' UDP queries: the last
/// minute's counts, for the top-10 gauge, and which organizations were
/// already warned about (one warning line each, the first time it is limited).
/// Only the collector's queue touches it.
final class TenantStatistics {
    static let top = 10
    static let window = 60
    private var seconds: [[UInt32: UInt64]] = []
    private(set) var minute: [UInt32: UInt64] = [:]
    private var gauges: [UInt32: CoreMetrics.Gauge] = [:]
    private(set) var warned: Set<UInt32> = []

    /// One second's round: takes the limiter's counts, warns about each organization limited for the
    /// first time, and publishes the top organizations by rate over the last minute.
    func collect(_ limiter: TenantLimiter, logger: Logger) {
        var now: [UInt32: UInt64] = [:]
        limiter.takeOrganizationCounts { network, queries, limitedInstance, limitedOrganization, limitedUpstream in
            now[network, default: 0] &+= queries
            guard limitedInstance + limitedOrganization + limitedUpstream > 0, warned.insert(network).inserted else { return }
            let b = limiter.budgets
            if limitedUpstream > 0 && limitedInstance + limitedOrganization == 0 {
                logger.warning("an organization is over its upstream caps: its misses past them get a stale answer or SERVFAIL at once",
                               metadata: ["org": .string(NetworkID.format(network)),
                                          "inflight": .stringConvertible(b.upstreamInFlight), "qps": .stringConvertible(b.upstreamQPS)])
                return
            }
            let reason = limitedOrganization > 0 ? "organization" : "instance"
            let budget = reason == "organization" ? b.organizationQPS : b.instanceQPS
            logger.warning("an organization is over its UDP query budget: queries past it are dropped or answered with TC",
                           metadata: ["org": .string(NetworkID.format(network)), "reason": .string(reason),
                                      "qps": .stringConvertible(budget)])
        }
        for (network, n) in now { minute[network, default: 0] &+= n }
        seconds.append(now)
        if seconds.count > Self.window {
            for (network, n) in seconds.removeFirst() {
                let left = (minute[network] ?? 0) &- n
                minute[network] = left == 0 ? nil : left
            }
        }
        let top = minute.sorted { $0.value > $1.value || ($0.value == $1.value && $0.key < $1.key) }.prefix(Self.top)
        let keep = Set(top.map(\.key))
        for (network, gauge) in gauges where !keep.contains(network) {
            gauge.destroy()
            gauges[network] = nil
        }
        for (network, n) in top {
            let gauge = gauges[network] ?? CoreMetrics.Gauge(label: "sixpn_top_organization_queries_per_second",
                                                             dimensions: [("org", NetworkID.format(network))])
            gauges[network] = gauge
            gauge.record(Double(n) / Double(max(1, seconds.count)))
        }
    }
}

/// The process-wide Prometheus registry, bootstrapped into swift-metrics the
/// first time it is asked for, and the latency histogram served beside it.
public enum ServerMetrics {
    public static let registry: PrometheusCollectorRegistry = {
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        return registry
    }()

    static let latency = LatencyHistogram(name: "sixpn_query_duration_seconds")

    /// Everything `GET /metrics` shows.
    static func exposition() -> String {
        registry.emitToString() + latency.exposition()
    }
}
