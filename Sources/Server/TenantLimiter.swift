import Atomics

/// `--instance-qps` and `--org-qps` (0: off): the UDP queries per second an
/// instance (/112) and an organization (/48) may send, each bucket holding
/// `burstSeconds` of its rate (at least one query).
///
/// `--org-upstream-inflight` and `--org-upstream-qps` (0: off): the forwarded
/// queries one organization may have in flight, and send per second.
public struct QueryBudgets: Sendable, Equatable {
    public var instanceQPS: Int
    public var organizationQPS: Int
    public var burstSeconds: Double
    public var upstreamInFlight: Int
    public var upstreamQPS: Int

    public init(instanceQPS: Int, organizationQPS: Int, burstSeconds: Double = 1, upstreamInFlight: Int = 0,
                upstreamQPS: Int = 0) {
        self.instanceQPS = instanceQPS
        self.organizationQPS = organizationQPS
        self.burstSeconds = burstSeconds
        self.upstreamInFlight = upstreamInFlight
        self.upstreamQPS = upstreamQPS
    }

    /// Generous enough that no well-behaved app meets them.
    public static let defaults = QueryBudgets(instanceQPS: 2_000, organizationQPS: 10_000)
    public static let off = QueryBudgets(instanceQPS: 0, organizationQPS: 0)
    public var isOff: Bool { instanceQPS == 0 && organizationQPS == 0 && !limitsUpstream }
    public var limitsUpstream: Bool { upstreamInFlight > 0 || upstreamQPS > 0 }
}

/// Per-instance (/112) and per-organization (/48) budgets for UDP queries
/// (`--instance-qps`, `--org-qps`): one token bucket per instance and one per
/// organization, shared by every UDP worker.
///
/// Each bucket is one 64-bit word, the GCRA form of a token bucket (its
/// "theoretical arrival time": the earliest instant the bucket is full again).
/// A query at `now` conforms when that time is no further ahead than the burst
/// allows; it then moves on by one query's interval, with a relaxed
/// compare-and-swap. No lock, no allocation: the tables are allocated once,
/// a fixed number of slots (4 probes each, open addressing), so memory stays
/// bounded however many sources appear. A slot whose bucket is full again
/// (its time has passed) holds nothing worth keeping and is taken over by the
/// next key that needs one; when all 4 of a key's slots are busy with other
/// tenants that are spending their budgets right now, the query is admitted
/// unlimited (counted as `crowded`), never charged to a stranger's bucket.
///
/// An attacker spraying source addresses cannot make more buckets than it
/// has instances: the network guarantees the /112 (see docs/architecture.md,
/// "Why a source address that reaches fdaa::3 is the instance's own"), and
/// every address of an organization's /48 is that one organization.
///
/// Each organization's slot also counts its queries and its limited
/// queries, which ``MetricsCollector`` reads once a second (the top
/// organizations by rate, and one warning line per organization the first
/// time it is limited).
final class TenantLimiter: @unchecked Sendable {
    /// Why a query was not admitted.
    enum Verdict: Equatable {
        case admitted
        /// Over its instance's budget.
        case instance
        /// Over its organization's budget.
        case organization
    }

    /// Slots per table (a power of two): 8,192 organizations and 16,384
    /// instances; a slot is one 64-byte cache line (no false sharing between
    /// tenants), 1.5 MiB in all.
    static let organizationSlots = 8_192
    static let instanceSlots = 16_384
    static let probes = 4

    let budgets: QueryBudgets
    /// What the query path uses: plain pointers and numbers, copied without
    /// reference counting (this object owns the memory and frees it).
    let buckets: TenantBuckets

    init(_ budgets: QueryBudgets) {
        self.budgets = budgets
        buckets = TenantBuckets(
            organizations: BucketTable(slots: Self.organizationSlots, qps: budgets.organizationQPS,
                                       burstSeconds: budgets.burstSeconds, upstreamQPS: budgets.upstreamQPS),
            instances: budgets.instanceQPS > 0
                ? BucketTable(slots: Self.instanceSlots, qps: budgets.instanceQPS, burstSeconds: budgets.burstSeconds) : nil,
            upstreamInFlight: UInt64(max(0, budgets.upstreamInFlight)))
    }

    deinit {
        buckets.organizations.deallocate()
        buckets.instances?.deallocate()
    }

    func admit(_ origin: ClientOrigin, now: UInt64) -> Verdict { buckets.admit(origin, now: now) }
    func admitUpstream(_ origin: ClientOrigin, now: UInt64) -> (admitted: Bool, slot: Int?) {
        buckets.admitUpstream(origin, now: now)
    }
    func releaseUpstream(_ slot: Int) { buckets.releaseUpstream(slot) }

    /// What ``MetricsCollector`` reads once a second: each organization with
    /// a slot, its queries and limited queries since the last call (the
    /// counts are taken and reset).
    func takeOrganizationCounts(_ body: (_ network: UInt32, _ queries: UInt64, _ limitedInstance: UInt64,
                                         _ limitedOrganization: UInt64, _ limitedUpstream: UInt64) -> Void) {
        let organizations = buckets.organizations
        organizations.forEachKey { slot, key in
            let q = organizations.take(slot, BucketTable.Word.queries)
            let i = organizations.take(slot, BucketTable.Word.limitedInstance)
            let o = organizations.take(slot, BucketTable.Word.limitedOrganization)
            let u = organizations.take(slot, BucketTable.Word.limitedUpstream)
            if q > 0 || i > 0 || o > 0 || u > 0 { body(UInt32(truncatingIfNeeded: key), q, i, o, u) }
        }
    }

    /// Queries admitted unlimited because every slot of their key was busy.
    var crowded: UInt64 {
        buckets.organizations.crowded.load(ordering: .relaxed) &+ (buckets.instances?.crowded.load(ordering: .relaxed) ?? 0)
    }
}

/// The query path's side of ``TenantLimiter``: every field a number or a
/// pointer into the limiter's tables, so a worker holds a copy and charges
/// a query without touching a reference count.
struct TenantBuckets: @unchecked Sendable {
    let organizations: BucketTable
    let instances: BucketTable?
    /// `--org-upstream-inflight` (0: off).
    let upstreamInFlight: UInt64
    var limitsUpstream: Bool { upstreamInFlight > 0 || organizations.upstreamInterval > 0 }

    /// Charges one UDP query from `origin` at `now` (monotonic nanoseconds)
    /// to its instance's and its organization's buckets.
    @inline(__always)
    func admit(_ origin: ClientOrigin, now: UInt64) -> TenantLimiter.Verdict {
        // The organization's slot is found even when only instances are limited: it counts.
        let orgKey = UInt64(origin.network) | 1 << 63
        let org = organizations.slot(for: orgKey, now: now)
        if let org { organizations.count(org, BucketTable.Word.queries) }
        if let instances {
            let key = Self.instanceKey(origin)
            if let slot = instances.slot(for: key, now: now), !instances.take(slot, now: now) {
                if let org { organizations.count(org, BucketTable.Word.limitedInstance) }
                return .instance
            }
        }
        if organizations.limits, let org, !organizations.take(org, now: now) {
            organizations.count(org, BucketTable.Word.limitedOrganization)
            return .organization
        }
        return .admitted
    }

    /// Charges one forwarded query of `origin`'s organization at `now` to its upstream caps: the
    /// organization's slot, whose in-flight count now includes it (give it back with
    /// ``releaseUpstream(_:)`` when the reply comes), or nil when it is over either cap (counted
    /// on the slot) or its slots are crowded (then not limited, and there is nothing to release).
    /// Used only when ``limitsUpstream``.
    func admitUpstream(_ origin: ClientOrigin, now: UInt64) -> (admitted: Bool, slot: Int?) {
        let orgKey = UInt64(origin.network) | 1 << 63
        guard let org = organizations.slot(for: orgKey, now: now) else { return (true, nil) }
        if upstreamInFlight > 0, organizations.load(org, BucketTable.Word.inFlight) >= upstreamInFlight {
            organizations.count(org, BucketTable.Word.limitedUpstream)
            return (false, nil)
        }
        if organizations.upstreamInterval > 0, !organizations.take(org, now: now, upstream: true) {
            organizations.count(org, BucketTable.Word.limitedUpstream)
            return (false, nil)
        }
        organizations.count(org, BucketTable.Word.inFlight)
        return (true, org)
    }

    /// A forwarded query's reply came (or it failed): its organization has one fewer in flight.
    func releaseUpstream(_ slot: Int) {
        organizations.release(slot, BucketTable.Word.inFlight)
    }

    /// A 64-bit key for an instance's /112 (network, host, instance: 96 bits,
    /// mixed down; never 0, which marks an empty slot).
    @inline(__always)
    static func instanceKey(_ o: ClientOrigin) -> UInt64 {
        let a = (UInt64(o.network) << 32 | UInt64(o.host)) &* 0x9e37_79b9_7f4a_7c15
        return (a ^ (a >> 29) ^ UInt64(o.instance) &* 0xbf58_476d_1ce4_e5b9) | 1
    }
}

/// A fixed table of GCRA buckets, each slot one cache line of 64-bit
/// atomics (``Word``), found by open addressing over ``TenantLimiter/probes``
/// slots from the key's hash. A value of pointers and numbers: its owner
/// (``TenantLimiter``) calls ``deallocate()`` once no worker can use it.
struct BucketTable: @unchecked Sendable {
    enum Word {
        static let key = 0
        static let arrival = 1
        static let queries = 2
        static let limitedInstance = 3
        static let limitedOrganization = 4
        /// The organization's forwarded queries: its upstream GCRA time, in flight, over a cap.
        static let upstreamArrival = 5
        static let inFlight = 6
        static let limitedUpstream = 7
        static let stride = 8
    }

    private let words: UnsafeMutablePointer<UnsafeAtomic<UInt64>.Storage>
    private let mask: Int
    /// Nanoseconds per query at the budget's rate (0: this table only counts).
    let interval: UInt64
    /// How far ahead of now the arrival time may run: the burst, less one query.
    let tolerance: UInt64
    var limits: Bool { interval > 0 }
    /// The same for `--org-upstream-qps` (organization table only; 0: off).
    let upstreamInterval: UInt64
    let upstreamTolerance: UInt64
    let crowded: UnsafeAtomic<UInt64>

    init(slots: Int, qps: Int, burstSeconds: Double, upstreamQPS: Int = 0) {
        precondition(slots > 0 && slots & (slots - 1) == 0, "a power of two")
        mask = slots - 1
        words = .allocate(capacity: slots * Word.stride)
        words.initialize(repeating: UnsafeAtomic<UInt64>.Storage(0), count: slots * Word.stride)
        (interval, tolerance) = Self.gcra(qps: qps, burstSeconds: burstSeconds)
        (upstreamInterval, upstreamTolerance) = Self.gcra(qps: upstreamQPS, burstSeconds: burstSeconds)
        crowded = .create(0)
    }

    /// GCRA's interval and tolerance for `qps` with a burst of `burstSeconds` of it (0: off).
    static func gcra(qps: Int, burstSeconds: Double) -> (interval: UInt64, tolerance: UInt64) {
        guard qps > 0 else { return (0, 0) }
        let interval = max(1, 1_000_000_000 / UInt64(qps))
        let burst = max(1, UInt64((Double(qps) * burstSeconds).rounded()))
        return (interval, interval * (burst - 1))
    }

    func deallocate() {
        words.deallocate()
        crowded.destroy()
    }

    @inline(__always)
    private func word(_ slot: Int, _ w: Int) -> UnsafeAtomic<UInt64> {
        UnsafeAtomic<UInt64>(at: words + (slot * Word.stride + w))
    }

    /// The slot that holds `key`'s bucket, taking over an empty or idle one
    /// (full again: nothing to remember) when `key` has none; nil when every
    /// probe is busy with another key.
    @inline(__always)
    func slot(for key: UInt64, now: UInt64) -> Int? {
        let start = Int(truncatingIfNeeded: (key &* 0x9e37_79b9_7f4a_7c15) >> 40) & mask
        for p in 0..<TenantLimiter.probes {
            let s = (start + p) & mask
            if word(s, Word.key).load(ordering: .relaxed) == key { return s }
        }
        for p in 0..<TenantLimiter.probes {
            let s = (start + p) & mask
            let held = word(s, Word.key).load(ordering: .relaxed)
            // Idle: full again, nothing forwarded in flight (its release finds the slot it left).
            guard held == 0 || (word(s, Word.arrival).load(ordering: .relaxed) <= now
                                && word(s, Word.upstreamArrival).load(ordering: .relaxed) <= now
                                && word(s, Word.inFlight).load(ordering: .relaxed) == 0) else { continue }
            if word(s, Word.key).compareExchange(expected: held, desired: key, ordering: .relaxed).exchanged {
                // A new owner starts full, with none of the last owner's counts.
                word(s, Word.arrival).store(now, ordering: .relaxed)
                word(s, Word.upstreamArrival).store(now, ordering: .relaxed)
                word(s, Word.queries).store(0, ordering: .relaxed)
                word(s, Word.limitedInstance).store(0, ordering: .relaxed)
                word(s, Word.limitedOrganization).store(0, ordering: .relaxed)
                word(s, Word.limitedUpstream).store(0, ordering: .relaxed)
                return s
            }
        }
        crowded.wrappingIncrement(ordering: .relaxed)
        return nil
    }

    /// Takes one query's token from `slot`'s bucket: false when it is empty.
    /// A compare-and-swap lost to another worker is tried again a few times,
    /// then the query is let through (the race is rare and costs at most a query).
    /// `upstream`: the organization's forwarded-query bucket instead (`--org-upstream-qps`).
    @inline(__always)
    func take(_ slot: Int, now: UInt64, upstream: Bool = false) -> Bool {
        let arrival = word(slot, upstream ? Word.upstreamArrival : Word.arrival)
        let (interval, tolerance) = upstream ? (upstreamInterval, upstreamTolerance) : (self.interval, self.tolerance)
        var old = arrival.load(ordering: .relaxed)
        for _ in 0..<4 {
            let t = max(old, now)
            if t &- now > tolerance { return false }
            let (done, current) = arrival.compareExchange(expected: old, desired: t &+ interval, ordering: .relaxed)
            if done { return true }
            old = current
        }
        return true
    }

    @inline(__always)
    func count(_ slot: Int, _ w: Int) {
        word(slot, w).wrappingIncrement(ordering: .relaxed)
    }

    @inline(__always)
    func release(_ slot: Int, _ w: Int) {
        word(slot, w).wrappingDecrement(ordering: .relaxed)
    }

    func load(_ slot: Int, _ w: Int) -> UInt64 {
        word(slot, w).load(ordering: .relaxed)
    }

    /// The word's count, reset to 0.
    func take(_ slot: Int, _ w: Int) -> UInt64 {
        word(slot, w).exchange(0, ordering: .relaxed)
    }

    /// Every slot that holds a key (read from the collector's thread).
    func forEachKey(_ body: (_ slot: Int, _ key: UInt64) -> Void) {
        for s in 0...mask {
            let k = word(s, Word.key).load(ordering: .relaxed)
            if k != 0 { body(s, k) }
        }
    }
}
