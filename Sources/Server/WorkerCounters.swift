import Atomics
import DNSWire

/// The counters one thread keeps while it answers: plain 64-bit slots that
/// only that thread writes (a relaxed load and store, no lock and no atomic
/// read-modify-write), read once a second by ``MetricsCollector``.
///
/// Threads that share one set (forwarded replies arrive on any thread) use
/// ``addShared(_:_:)``, an atomic add.
public final class WorkerCounters: @unchecked Sendable {
    @usableFromInline let slots: UnsafeMutablePointer<UnsafeAtomic<UInt64>.Storage>

    public init() {
        slots = .allocate(capacity: Slot.count)
        slots.initialize(repeating: UnsafeAtomic<UInt64>.Storage(0), count: Slot.count)
    }

    deinit {
        slots.deallocate()
    }

    /// Adds `n` to a slot that only the calling thread writes.
    @inlinable @inline(__always)
    public func add(_ slot: Int, _ n: UInt64 = 1) {
        let a = UnsafeAtomic<UInt64>(at: slots + slot)
        a.store(a.load(ordering: .relaxed) &+ n, ordering: .relaxed)
    }

    /// Adds `n` to a slot that several threads write.
    @inlinable
    public func addShared(_ slot: Int, _ n: UInt64 = 1) {
        UnsafeAtomic<UInt64>(at: slots + slot).wrappingIncrement(by: n, ordering: .relaxed)
    }

    /// The slot's value, from any thread.
    public func value(_ slot: Int) -> UInt64 {
        UnsafeAtomic<UInt64>(at: slots + slot).load(ordering: .relaxed)
    }

    /// Counts one answered query by its type and response code.
    @inlinable @inline(__always)
    public func countAnswer(type: RRType?, rcode: RCode) {
        add(Slot.answer(type: type, rcode: rcode))
    }

    /// Counts `n` answers that waited `nanoseconds` inside the server.
    @inlinable @inline(__always)
    public func countLatency(nanoseconds: UInt64, answers n: UInt64) {
        add(Slot.latencyBase + Slot.latencyBucket(nanoseconds: nanoseconds), n)
    }

    /// The layout of the slots.
    public enum Slot {
        /// Types counted by name; every other type is "other".
        public static let types: [(RRType?, String)] = [
            (.a, "A"), (.ns, "NS"), (.cname, "CNAME"), (.soa, "SOA"), (.ptr, "PTR"), (.mx, "MX"),
            (.txt, "TXT"), (.aaaa, "AAAA"), (.srv, "SRV"), (.any, "ANY"), (RRType(0), "other"), (nil, "none"),
        ]
        public static let rcodes: [String] = ["NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED",
                                              "BADVERS", "other"]

        // Always inlined, like the three below: a call here made the caller retain
        // and release its counters around it, once per query (callgrind).
        @inlinable @inline(__always)
        public static func typeIndex(_ type: RRType?) -> Int {
            guard let t = type else { return 11 }
            switch t.rawValue {
            case 1: return 0
            case 2: return 1
            case 5: return 2
            case 6: return 3
            case 12: return 4
            case 15: return 5
            case 16: return 6
            case 28: return 7
            case 33: return 8
            case 255: return 9
            default: return 10
            }
        }

        @inlinable @inline(__always)
        public static func rcodeIndex(_ rcode: RCode) -> Int {
            switch rcode.rawValue {
            case 0...5: return Int(rcode.rawValue)
            case 16: return 6
            default: return 7
            }
        }

        @inlinable @inline(__always)
        public static func answer(type: RRType?, rcode: RCode) -> Int {
            typeIndex(type) * 8 + rcodeIndex(rcode)
        }

        /// Upper bounds of the latency buckets, in nanoseconds; one more slot counts the rest.
        public static let latencyBounds: [UInt64] = [
            10_000, 25_000, 50_000, 100_000, 250_000, 500_000, 1_000_000, 2_500_000, 5_000_000,
            10_000_000, 25_000_000, 50_000_000, 100_000_000, 250_000_000, 500_000_000, 1_000_000_000,
            2_500_000_000,
        ]

        @inlinable
        public static func latencyBucket(nanoseconds ns: UInt64) -> Int {
            // Unrolled over the first few bounds: almost every answer lands there.
            if ns <= 10_000 { return 0 }
            if ns <= 25_000 { return 1 }
            if ns <= 50_000 { return 2 }
            if ns <= 100_000 { return 3 }
            var i = 4
            var bound: UInt64 = 250_000
            while i < 17 {
                if ns <= bound { return i }
                i += 1
                // 250µs, 500µs, 1ms, 2.5ms, 5ms, ... : alternately x2 and x2.5.
                bound = i % 3 == 1 ? bound * 5 / 2 : bound * 2
            }
            return 17
        }

        public static let answerSlots = 12 * 8
        public static let latencyBase = answerSlots
        public static let latencySlots = 18
        public static let droppedUntrustedUDP = latencyBase + latencySlots
        public static let droppedUntrustedTCP = droppedUntrustedUDP + 1
        public static let droppedMalformed = droppedUntrustedUDP + 2
        public static let truncated = droppedUntrustedUDP + 3
        public static let forwarded = droppedUntrustedUDP + 4
        public static let cacheHits = droppedUntrustedUDP + 5
        public static let tcpAccepted = droppedUntrustedUDP + 6
        public static let tcpEvicted = droppedUntrustedUDP + 7
        public static let tcpTimedOut = droppedUntrustedUDP + 8
        /// A receive or send the kernel refused (the datagram is skipped).
        public static let socketErrors = droppedUntrustedUDP + 9
        /// TCP accepts that failed for want of a file descriptor (EMFILE, ENFILE).
        public static let descriptorErrors = droppedUntrustedUDP + 10
        /// Turns of the thread's loop (at least one every 250 ms while it runs): what
        /// ``Liveness`` reads to tell a worker that answers from one that is stuck. Not exported.
        public static let heartbeat = droppedUntrustedUDP + 11
        /// UDP queries over their instance's budget (`--instance-qps`), over their organization's (`--org-qps`),
        /// and how many of those were answered with TC (the rest were dropped).
        public static let limitedInstanceUDP = droppedUntrustedUDP + 12
        public static let limitedOrganizationUDP = droppedUntrustedUDP + 13
        public static let limitedSlipped = droppedUntrustedUDP + 14
        /// TCP connections closed on accept: past `--tcp-per-source` for their instance, and with
        /// every slot taken and nothing the newcomer may evict.
        public static let limitedTCPPerSource = droppedUntrustedUDP + 15
        public static let tcpRefusedFull = droppedUntrustedUDP + 16
        /// Forwarded queries past their organization's upstream caps, answered stale or SERVFAIL at once.
        public static let limitedUpstream = droppedUntrustedUDP + 17
        public static let count = droppedUntrustedUDP + 18
    }
}
