import Atomics

/// What one ring slot says about the message(s) in it; the octets follow it in the slot.
/// Plain values only, so that filling a slot is stores into memory allocated once.
struct TapEntry {
    enum Kind: UInt8 {
        /// A query and the reply written at once: CLIENT_QUERY and CLIENT_RESPONSE.
        case clientExchange
        /// A query with no reply yet (forwarded) or none at all (dropped): CLIENT_QUERY.
        case clientQuery
        /// A forwarded query's reply: CLIENT_RESPONSE (with the query's time).
        case clientResponse
        case forwarderQuery
        case forwarderResponse
    }

    var kind: Kind
    var tcp: Bool
    /// 4 or 6: how many of ``address``'s octets count (16 for 6, the first 4 for 4).
    var family: UInt8
    var port: UInt16
    var address: (UInt64, UInt64)
    var querySeconds: Int64
    var queryNanoseconds: UInt32
    var responseNanoseconds: UInt32
    var responseSeconds: Int64
    /// The query's octets come first after the entry, then the response's.
    var queryLength: UInt32
    var responseLength: UInt32

    /// Where the octets start in a slot.
    static let headerSize = (MemoryLayout<TapEntry>.size + 15) & ~15
}

/// A single-producer, single-consumer ring of fixed-size slots, allocated
/// once: the producer (one worker thread) fills a slot in place and publishes
/// it with one release store, the consumer (the writer thread) reads it and
/// gives it back with another. Nothing locks, nothing allocates; a full ring
/// refuses (the caller counts a drop) and never waits.
final class TapRing: @unchecked Sendable {
    static let slotSize = 4096
    /// Octets a slot holds after its entry: a query and its response together must fit.
    static let payloadCapacity = slotSize - TapEntry.headerSize

    let capacity: Int
    private let mask: Int
    private let slots: UnsafeMutableRawPointer
    /// head (next slot the producer fills) and tail (next slot the consumer reads), a cache line apart.
    private let indices: UnsafeMutablePointer<UnsafeAtomic<Int>.Storage>
    /// Messages the producer could not put in (ring full, or too long for a slot); only it writes.
    private let droppedStorage: UnsafeMutablePointer<UnsafeAtomic<UInt64>.Storage>

    /// `capacity` is rounded up to a power of two.
    init(capacity: Int) {
        var c = 1
        while c < capacity { c <<= 1 }
        self.capacity = c
        mask = c - 1
        slots = .allocate(byteCount: c * Self.slotSize, alignment: 64)
        indices = .allocate(capacity: 16)
        indices.initialize(repeating: UnsafeAtomic<Int>.Storage(0), count: 16)
        droppedStorage = .allocate(capacity: 1)
        droppedStorage.initialize(to: UnsafeAtomic<UInt64>.Storage(0))
    }

    deinit {
        slots.deallocate()
        indices.deallocate()
        droppedStorage.deallocate()
    }

    private var head: UnsafeAtomic<Int> { UnsafeAtomic(at: indices) }
    private var tail: UnsafeAtomic<Int> { UnsafeAtomic(at: indices + 8) }
    private var droppedCounter: UnsafeAtomic<UInt64> { UnsafeAtomic(at: droppedStorage) }

    /// Producer: the next free slot, or nil when the ring is full.
    @inline(__always)
    func reserve() -> UnsafeMutableRawPointer? {
        let h = head.load(ordering: .relaxed)
        guard h &- tail.load(ordering: .acquiring) < capacity else { return nil }
        return slots + (h & mask) * Self.slotSize
    }

    /// Producer: publishes the slot ``reserve()`` gave.
    @inline(__always)
    func commit() {
        head.store(head.load(ordering: .relaxed) &+ 1, ordering: .releasing)
    }

    /// Producer: counts `n` messages it could not put in.
    @inline(__always)
    func countDrop(_ n: UInt64) {
        droppedCounter.store(droppedCounter.load(ordering: .relaxed) &+ n, ordering: .relaxed)
    }

    /// Any thread: the drops counted so far.
    var dropped: UInt64 { droppedCounter.load(ordering: .relaxed) }

    /// Consumer: the oldest filled slot, or nil when there is none.
    func peek() -> UnsafeRawPointer? {
        let t = tail.load(ordering: .relaxed)
        guard t != head.load(ordering: .acquiring) else { return nil }
        return UnsafeRawPointer(slots + (t & mask) * Self.slotSize)
    }

    /// Consumer: gives the slot ``peek()`` showed back to the producer.
    func release() {
        tail.store(tail.load(ordering: .relaxed) &+ 1, ordering: .releasing)
    }
}
