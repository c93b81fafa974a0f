import Synchronization

/// `sixpn_query_duration_seconds`, the time an answer spent inside the
/// server, as a Prometheus histogram over the buckets the threads count in
/// (``WorkerCounters/Slot/latencyBounds``).
///
/// Not a swift-metrics Timer: swift-prometheus records one observation per
/// call (a lock and a walk over every bucket), so replaying a second's
/// answers one by one cost the collector about 100 ns per answer, 10 ms a
/// second at 100,000 answers per second, in one burst that delayed the
/// workers it preempted. Here the collector adds each bucket's count once a
/// second, under one lock.
final class LatencyHistogram: Sendable {
    private struct State {
        /// Answers per bucket (not cumulative); the last counts those above every bound.
        var buckets = [UInt64](repeating: 0, count: WorkerCounters.Slot.latencySlots)
        /// Each answer counted at its bucket's bound (the last at 5 s): an upper bound of the true sum.
        var sumNanoseconds: UInt64 = 0
    }

    let name: String
    private let state = Mutex(State())

    init(name: String) {
        self.name = name
    }

    /// Adds `count` answers to bucket `slot`.
    func add(slot: Int, count: UInt64) {
        let bound = slot < WorkerCounters.Slot.latencyBounds.count ? WorkerCounters.Slot.latencyBounds[slot] : 5_000_000_000
        state.withLock {
            $0.buckets[slot] &+= count
            $0.sumNanoseconds &+= count &* bound
        }
    }

    /// The histogram in the Prometheus text format: cumulative buckets, sum, count.
    func exposition() -> String {
        let s = state.withLock { $0 }
        var text = "# TYPE \(name) histogram\n"
        var cumulative: UInt64 = 0
        for (i, bound) in WorkerCounters.Slot.latencyBounds.enumerated() {
            cumulative &+= s.buckets[i]
            text += "\(name)_bucket{le=\"\(Self.seconds(bound))\"} \(cumulative)\n"
        }
        cumulative &+= s.buckets[WorkerCounters.Slot.latencyBounds.count]
        text += "\(name)_bucket{le=\"+Inf\"} \(cumulative)\n"
        text += "\(name)_sum \(Self.seconds(s.sumNanoseconds))\n"
        text += "\(name)_count \(cumulative)\n"
        return text
    }

    /// Nanoseconds as decimal seconds, exactly: 10000 -> "0.00001", 2500000000 -> "2.5".
    static func seconds(_ ns: UInt64) -> String {
        let whole = ns / 1_000_000_000, fraction = ns % 1_000_000_000
        guard fraction > 0 else { return "\(whole)" }
        var digits = String(fraction)
        digits = String(repeating: "0", count: 9 - digits.count) + digits
        while digits.hasSuffix("0") { digits.removeLast() }
        return "\(whole).\(digits)"
    }
}
