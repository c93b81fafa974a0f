/// A 256th of a snapshot's organizations (those whose network ID hashes to
/// it) and their open-addressing table: the unit a change copies. A
/// snapshot made after a change shares every bucket the change did not
/// touch with the snapshot before it, so publishing costs the touched
/// buckets (a few dozen organizations each at 10,000) and 256 references,
/// not a copy of every organization's slot.
final class OrgBucket: @unchecked Sendable {
    static let count = 256

    let zones: [OrgZone]
    /// The zones' network IDs in the same order: a search of the bucket
    /// reads this array, not every zone object.
    let networks: [UInt32]
    /// Open addressing over the zones' views, keyed by network ID (never 0, so 0 marks a free slot).
    let slots: UnsafeMutablePointer<OrgView>
    let mask: Int
    let nameCount: Int
    let instanceCount: Int
    let skippedRows: Int

    /// The bucket of an empty share, one for all of them.
    static let empty = OrgBucket(zones: [])

    /// A network ID's hash: one multiply (Fibonacci hashing), whose high
    /// bits are well mixed; a query pays for it on every answer.
    @inline(__always)
    static func hash(_ network: UInt32) -> UInt64 { UInt64(network) &* 0x9e37_79b9_7f4a_7c15 }

    /// The bucket of a network's hash: its top 8 bits.
    @inline(__always)
    static func index(_ hash: UInt64) -> Int { Int(truncatingIfNeeded: hash >> 56) }

    /// The first slot to probe in a bucket's table: the 32 bits below the bucket's.
    @inline(__always)
    static func slot(_ hash: UInt64, _ mask: Int) -> Int { Int(truncatingIfNeeded: hash >> 24) & mask }

    init(zones: [OrgZone]) {
        self.zones = zones
        networks = zones.map(\.network)
        let size = OrgZone.tableSize(for: zones.count)
        slots = .allocate(capacity: size)
        UnsafeMutableRawPointer(slots).initializeMemory(as: UInt8.self, repeating: 0, count: size * MemoryLayout<OrgView>.stride)
        mask = size - 1
        var names = 0, instances = 0, skipped = 0
        for zone in zones {
            var i = Self.slot(Self.hash(zone.network), mask)
            while slots[i].network != 0 { i = (i + 1) & mask }
            slots[i] = zone.view
            names += zone.nameCount
            instances += zone.instanceCount
            skipped += zone.skippedRows
        }
        (nameCount, instanceCount, skippedRows) = (names, instances, skipped)
    }

    deinit { slots.deallocate() }

    /// Every zone in its bucket.
    static func grouping(_ zones: some Sequence<OrgZone>) -> [OrgBucket] {
        var shares = [[OrgZone]](repeating: [], count: count)
        for zone in zones { shares[index(hash(zone.network))].append(zone) }
        return shares.map { $0.isEmpty ? empty : OrgBucket(zones: $0) }
    }

    /// This bucket with the organizations in `changes` replaced (nil: removed) or added.
    func replacing(_ changes: [UInt32: OrgZone?]) -> OrgBucket {
        // A bucket's share of an update is one organization or a few: a scan of
        // their IDs, not a hash of every zone's, finds the zones kept.
        let replaced = Array(changes.keys)
        var next: [OrgZone] = []
        next.reserveCapacity(zones.count + changes.count)
        for (k, network) in networks.enumerated() where !replaced.contains(network) { next.append(zones[k]) }
        for case let zone? in changes.values { next.append(zone) }
        return next.isEmpty ? Self.empty : OrgBucket(zones: next)
    }
}
