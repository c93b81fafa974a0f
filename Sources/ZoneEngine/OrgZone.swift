import DNSWire
import Glibc

/// One organization's prepared answers, in one block of memory that no
/// other organization's change touches: a snapshot after a change shares
/// every untouched organization's ``OrgZone`` with the snapshot before it.
///
/// The block holds the byte arena (name blocks and records), the name
/// table, the instances' places for `top<N>.nearest.of`, the reverse
/// zone's sorted addresses and the host -> region table. ``view`` is the
/// part the query path reads, copied into each snapshot's organization table.
///
/// The arena is laid out app by app (in name order), then the
/// organization's own names; ``pieces`` says where each app's part lies,
/// with its name blocks' offsets (``blocks``) and the facts behind the
/// organization's lists, so that an update that does not touch an app
/// copies its part into the next zone instead of reading it again.
final class OrgZone: @unchecked Sendable {
    let view: OrgView
    /// Names held.
    let nameCount: Int
    /// Instances answered by the names that list instances (started, on a live host).
    let instanceCount: Int
    /// Rows left out because they break docs/schema.md's rules.
    let skippedRows: Int
    /// Each app's part, in app name order.
    let pieces: [AppPiece]
    /// The blocks of `_apps`, `_instances` and `all._instances`, whose
    /// records hold the lists the pieces' text ranges point into.
    let lists: (apps: Int, instances: Int, allInstances: Int)
    /// The organization's peers as read (valid ones), and how many rows were
    /// left out: an update that touched only apps' rows takes them from here.
    let peers: [Peer]
    let peersSkipped: Int
    /// The arena offset of every name block, in the order they were written.
    let blocks: UnsafeBufferPointer<UInt32>
    /// Every instance's (host, region), in read order (a host's first
    /// instance gives its region in the host table).
    let hostFirsts: UnsafeBufferPointer<InstancePlace>
    private let arenaCount: Int
    private let placeCount: Int
    private let memory: UnsafeMutableRawPointer

    var network: UInt32 { view.network }
    var arena: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: view.arena, count: arenaCount) }
    var places: UnsafeBufferPointer<InstancePlace> { UnsafeBufferPointer(start: view.places, count: placeCount) }
    var reverse: UnsafeBufferPointer<ReverseEntry> { UnsafeBufferPointer(start: view.reverse, count: Int(view.reverseCount)) }

    /// Copies what a builder prepared into one allocation of exactly its size.
    init?(network: UInt32, arena: UnsafeRawBufferPointer, blocks: UnsafeBufferPointer<UInt32>,
          places: UnsafeBufferPointer<InstancePlace>, reverse: UnsafeBufferPointer<ReverseEntry>,
          hostFirsts: UnsafeBufferPointer<InstancePlace>, hostRegions: [UInt32: UInt32],
          pieces: [AppPiece], lists: (apps: Int, instances: Int, allInstances: Int),
          peers: [Peer], peersSkipped: Int, instanceCount: Int, skippedRows: Int) {
        let slotCount = Self.tableSize(for: blocks.count)
        let hostCount = Self.tableSize(for: hostRegions.count)
        func aligned(_ n: Int) -> Int { (n + 15) & ~15 }
        let slotsAt = aligned(arena.count)
        let placesAt = slotsAt + slotCount * 8
        let reverseAt = aligned(placesAt + places.count * MemoryLayout<InstancePlace>.stride)
        let hostsAt = aligned(reverseAt + reverse.count * MemoryLayout<ReverseEntry>.stride)
        let blocksAt = hostsAt + hostCount * 8
        let firstsAt = aligned(blocksAt + blocks.count * 4)
        let size = firstsAt + hostFirsts.count * MemoryLayout<InstancePlace>.stride
        guard let m = calloc(1, size) else { return nil }
        memory = m
        func copy<T>(_ b: UnsafeBufferPointer<T>, to at: Int) {
            if let p = b.baseAddress { (m + at).copyMemory(from: p, byteCount: b.count * MemoryLayout<T>.stride) }
        }
        if let a = arena.baseAddress { m.copyMemory(from: a, byteCount: arena.count) }
        copy(places, to: placesAt)
        copy(reverse, to: reverseAt)
        copy(blocks, to: blocksAt)
        copy(hostFirsts, to: firstsAt)
        self.blocks = UnsafeBufferPointer(start: (m + blocksAt).bindMemory(to: UInt32.self, capacity: blocks.count),
                                          count: blocks.count)
        self.hostFirsts = UnsafeBufferPointer(
            start: (m + firstsAt).bindMemory(to: InstancePlace.self, capacity: hostFirsts.count), count: hostFirsts.count)
        arenaCount = arena.count
        placeCount = places.count
        let view = OrgView(
            network: network, slotMask: UInt32(slotCount - 1), hostMask: UInt32(hostCount - 1),
            reverseCount: UInt32(reverse.count), arena: m.assumingMemoryBound(to: UInt8.self),
            slots: (m + slotsAt).bindMemory(to: UInt64.self, capacity: slotCount),
            places: (m + placesAt).bindMemory(to: InstancePlace.self, capacity: places.count),
            reverse: (m + reverseAt).bindMemory(to: ReverseEntry.self, capacity: reverse.count),
            hostRegions: (m + hostsAt).bindMemory(to: UInt64.self, capacity: hostCount))
        for b in blocks { view.insert(block: Int(b)) }
        for (host, region) in hostRegions { view.insert(host: host, region: region) }
        self.view = view
        nameCount = blocks.count
        self.instanceCount = instanceCount
        self.skippedRows = skippedRows
        self.pieces = pieces
        self.lists = lists
        self.peers = peers
        self.peersSkipped = peersSkipped
    }

    deinit { free(memory) }

    /// A power of two that keeps an open-addressing table's load under 1/2.
    static func tableSize(for n: Int) -> Int {
        var size = 16
        while size < n * 2 { size <<= 1 }
        return size
    }
}

/// A peer of the organization: its name's label and its address.
typealias Peer = (name: [UInt8], address: IPv6Address)

/// Where one app's part of an ``OrgZone`` lies: its octets in the arena
/// (name blocks and the records only they point to), its entries in the
/// zone's blocks, places and host facts, and its text in the
/// organization's `_apps`, `_instances` and `all._instances` lists.
struct AppPiece {
    var id: Int64
    var arena: Range<Int>
    var blocks: Range<Int>
    var places: Range<Int>
    var hostFirsts: Range<Int>
    var apps: Range<Int>
    var instances: Range<Int>
    var allInstances: Range<Int>
    var instanceCount: Int
    var skippedRows: Int
}

/// What the query path needs of one organization: plain pointers into its
/// ``OrgZone``'s memory, kept alive by the snapshot that holds the zone.
/// A slot of the snapshot's organization table; network 0 marks it empty.
struct OrgView: BitwiseCopyable {
    var network: UInt32
    var slotMask: UInt32
    var hostMask: UInt32
    var reverseCount: UInt32
    var arena: UnsafeMutablePointer<UInt8>
    var slots: UnsafeMutablePointer<UInt64>
    var places: UnsafeMutablePointer<InstancePlace>
    var reverse: UnsafeMutablePointer<ReverseEntry>
    var hostRegions: UnsafeMutablePointer<UInt64>

    @inline(__always)
    func bytes(_ offset: UInt32, _ length: UInt32) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: arena + Int(offset), count: Int(length))
    }

    @inline(__always)
    func entry(at block: Int) -> NameEntry {
        UnsafeRawPointer(arena + block).loadUnaligned(as: NameEntry.self)
    }

    /// True when the block at `block` holds `name`.
    @inline(__always)
    func block(_ block: Int, holds name: UnsafeRawBufferPointer) -> Bool {
        Int(entry(at: block).nameLength) == name.count
            && memcmp(arena + block + NameEntry.size, name.baseAddress!, name.count) == 0
    }

    /// The arena offset of the block for `name`, by open addressing with
    /// linear probing. A slot holds 32 bits of the hash and the offset.
    @inline(__always)
    func lookup(_ name: UnsafeRawBufferPointer) -> Int? {
        let h = NameHash.hash(name)
        let tag = h >> 32
        var i = Int(truncatingIfNeeded: h) & Int(slotMask)
        while true {
            let s = slots[i]
            if s == 0 { return nil }
            if s >> 32 == tag {
                let b = Int(truncatingIfNeeded: s & 0xffff_ffff)
                if block(b, holds: name) { return b }
            }
            i = (i + 1) & Int(slotMask)
        }
    }

    /// The region index of a host in this organization, or UInt32.max when none of its instances is there.
    @inline(__always)
    func hostRegion(_ host: UInt32) -> UInt32 {
        var i = Int(truncatingIfNeeded: NameHash.mix(UInt64(host))) & Int(hostMask)
        while true {
            let s = hostRegions[i]
            if s == 0 { return .max }
            if UInt32(truncatingIfNeeded: s >> 32) == host { return UInt32(truncatingIfNeeded: s & 0xffff_ffff) - 1 }
            i = (i + 1) & Int(hostMask)
        }
    }

    /// Adds the block at `b` (never 0); a name already present keeps its first block.
    fileprivate func insert(block b: Int) {
        let entry = entry(at: b)
        let name = bytes(UInt32(b + NameEntry.size), UInt32(entry.nameLength))
        let h = NameHash.hash(name)
        let tag = h >> 32
        var i = Int(truncatingIfNeeded: h) & Int(slotMask)
        while slots[i] != 0 {
            if slots[i] >> 32 == tag, block(Int(truncatingIfNeeded: slots[i] & 0xffff_ffff), holds: name) { return }
            i = (i + 1) & Int(slotMask)
        }
        slots[i] = tag << 32 | UInt64(b)
    }

    fileprivate func insert(host: UInt32, region: UInt32) {
        var i = Int(truncatingIfNeeded: NameHash.mix(UInt64(host))) & Int(hostMask)
        while hostRegions[i] != 0 { i = (i + 1) & Int(hostMask) }
        hostRegions[i] = UInt64(host) << 32 | UInt64(region + 1)
    }
}
