import DNSWire
import Glibc

/// The octets of an organization's zones: name blocks, records, and each
/// part's facts (see ``AppPiece``), written once and never changed, read by
/// every zone made from them. An update that touches a few apps appends
/// their new parts after `count` and makes a new zone over the same storage;
/// readers of the zone before read only below the end it had. When the
/// appended parts do not fit, the organization's live parts are copied into
/// a new storage (``SnapshotBuilder``), and the old one is freed with the
/// last zone that reads it.
final class OrgStorage: @unchecked Sendable {
    let base: UnsafeMutablePointer<UInt8>
    let capacity: Int
    /// Octets written; only the thread that builds zones writes.
    var count: Int

    /// Storage for `capacity` octets (not zeroed), or nil when malloc fails.
    init?(capacity: Int) {
        guard let m = malloc(max(capacity, 16)) else { return nil }
        base = m.assumingMemoryBound(to: UInt8.self)
        self.capacity = capacity
        count = 0
    }

    deinit { free(base) }
}

/// One organization's prepared answers: its ``OrgStorage``, which zones
/// of the same organization share, and what is the zone's own: the name
/// table, the host -> region table and the reverse zone's sorted
/// addresses. A snapshot after a change shares every untouched
/// organization's ``OrgZone`` with the snapshot before it. ``view`` is the
/// part the query path reads, copied into each snapshot's organization table.
///
/// The storage holds a part per app (``pieces``, in app name order) and
/// the organization's own part (``orgPart``: `_apps`, `_instances`,
/// `all._instances`, the peers), each in one range; where they lie in the
/// storage does not matter, and an update leaves the ranges of the apps
/// it did not touch where they were.
final class OrgZone: @unchecked Sendable {
    let view: OrgView
    let storage: OrgStorage
    /// Names held: the live parts' name blocks.
    let nameCount: Int
    /// Instances answered by the names that list instances (started, on a live host).
    let instanceCount: Int
    /// Rows left out because they break docs/schema.md's rules.
    let skippedRows: Int
    /// Each app's part, in app name order.
    let pieces: [AppPiece]
    /// The organization's own part (no app ID, no list text).
    let orgPart: AppPiece
    /// The blocks of `_apps`, `_instances` and `all._instances`, whose
    /// records hold the lists the pieces' text ranges point into (when the
    /// list fits in a message; see ``NameEntry/isOversize``).
    let lists: (apps: Int, instances: Int, allInstances: Int)
    /// The organization's peers as read (valid ones), and how many rows were
    /// left out: an update that touched only apps' rows takes them from here.
    let peers: [Peer]
    let peersSkipped: Int
    /// Octets of the storage that live parts take (the rest is parts replaced since the last copy).
    let liveBytes: Int
    private let memory: UnsafeMutableRawPointer

    var network: UInt32 { view.network }
    var reverse: UnsafeBufferPointer<ReverseEntry> { UnsafeBufferPointer(start: view.reverse, count: Int(view.reverseCount)) }
    var slotCount: Int { Int(view.slotMask) + 1 }

    /// A zone over `storage`, whose parts are `pieces` and `orgPart`, with
    /// `reverse` (sorted) copied into its own memory. Its name table is
    /// `old`'s with the names of `dead` parts taken out and those of
    /// `added` put in, when `old` is given and its table has the size this
    /// zone needs; otherwise it is filled from every part.
    init?(network: UInt32, storage: OrgStorage, pieces: [AppPiece], orgPart: AppPiece,
          reverse: UnsafeBufferPointer<ReverseEntry>, lists: (apps: Int, instances: Int, allInstances: Int),
          peers: [Peer], peersSkipped: Int, instanceCount: Int, skippedRows: Int,
          tableFrom old: OrgZone? = nil, dead: [AppPiece] = [], added: [AppPiece] = []) {
        let arena = storage.base
        var names = orgPart.blockCount
        for p in pieces { names += p.blockCount }
        // Each part lists a host once; the table is sized for all of them, repeats across parts included.
        let hostFacts = pieces.reduce(0) { $0 + $1.hostFirstCount }
        let slotCount = Self.tableSize(for: names)
        let hostCount = Self.tableSize(for: hostFacts)
        let hostsAt = slotCount * 8
        let reverseAt = hostsAt + hostCount * 8
        guard let m = malloc(reverseAt + reverse.count * MemoryLayout<ReverseEntry>.stride) else { return nil }
        memory = m
        let incremental = old.map { $0.slotCount == slotCount && $0.storage === storage } ?? false
        if incremental, let old {
            m.copyMemory(from: old.view.slots, byteCount: hostsAt)
        } else {
            memset(m, 0, hostsAt)
        }
        memset(m + hostsAt, 0, hostCount * 8)
        if let r = reverse.baseAddress {
            (m + reverseAt).copyMemory(from: r, byteCount: reverse.count * MemoryLayout<ReverseEntry>.stride)
        }
        let view = OrgView(
            network: network, slotMask: UInt32(slotCount - 1), hostMask: UInt32(hostCount - 1),
            reverseCount: UInt32(reverse.count), arena: arena,
            slots: m.bindMemory(to: UInt64.self, capacity: slotCount),
            reverse: (m + reverseAt).bindMemory(to: ReverseEntry.self, capacity: reverse.count),
            hostRegions: (m + hostsAt).bindMemory(to: UInt64.self, capacity: hostCount))
        if incremental {
            for p in dead { for s in p.blocks(arena) { view.remove(slot: s) } }
            for p in added { for s in p.blocks(arena) { view.insert(slot: s) } }
        } else {
            for p in pieces { for s in p.blocks(arena) { view.insert(slot: s) } }
            for s in orgPart.blocks(arena) { view.insert(slot: s) }
        }
        // A host's region is its first instance's in part order.
        for p in pieces { for f in p.hostFirsts(arena) { view.insert(host: f.host, region: f.region) } }
        self.view = view
        self.storage = storage
        nameCount = names
        self.instanceCount = instanceCount
        self.skippedRows = skippedRows
        self.pieces = pieces
        self.orgPart = orgPart
        self.lists = lists
        self.peers = peers
        self.peersSkipped = peersSkipped
        liveBytes = Self.liveBytes(pieces, orgPart)
    }

    /// The octets these parts take in their storage.
    static func liveBytes(_ pieces: [AppPiece], _ orgPart: AppPiece) -> Int {
        pieces.reduce(orgPart.arena.count) { $0 + $1.arena.count }
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

/// Where one app's part of an organization's storage lies (or the
/// organization's own part: ID 0, no list text): its octets, which end
/// with the offsets of its name blocks and its host facts, and its text in
/// the organization's `_apps`, `_instances` and `all._instances` lists
/// (ranges of the list text; their lengths alone when a list is too large
/// to be stored).
struct AppPiece {
    var id: Int64
    /// The part's octets, from its first name block or record to the end of its facts.
    var arena: Range<Int>
    /// Where its name blocks lie as name-table slots (UInt64 each: hash's high 32 bits, offset), and how many.
    var blockList: Int
    var blockCount: Int
    /// Where its (host, region) facts lie (one per run of a host in the app's rows), and how many.
    var hostFirstList: Int
    var hostFirstCount: Int
    var apps: Range<Int>
    var instances: Range<Int>
    var allInstances: Range<Int>
    var instanceCount: Int
    var skippedRows: Int

    /// Its name blocks as slots, read from `arena` (its storage's base, or the builder's).
    func blocks(_ arena: UnsafeMutablePointer<UInt8>) -> UnsafeBufferPointer<UInt64> {
        UnsafeBufferPointer(start: UnsafeRawPointer(arena + blockList).assumingMemoryBound(to: UInt64.self), count: blockCount)
    }

    func hostFirsts(_ arena: UnsafeMutablePointer<UInt8>) -> UnsafeBufferPointer<InstancePlace> {
        UnsafeBufferPointer(start: UnsafeRawPointer(arena + hostFirstList).assumingMemoryBound(to: InstancePlace.self),
                            count: hostFirstCount)
    }
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

    /// The instance facts of `top<N>.nearest.of`'s entry, from its `firstInstance` (an arena offset, 8-aligned).
    @inline(__always)
    func places(_ entry: NameEntry) -> UnsafePointer<InstancePlace> {
        UnsafeRawPointer(arena + Int(entry.firstInstance)).assumingMemoryBound(to: InstancePlace.self)
    }

    /// True when the block at `block` holds `name`.
    @inline(__always)
    func block(_ block: Int, holds name: UnsafeRawBufferPointer) -> Bool {
        Int(entry(at: block).nameLength) == name.count
            && memcmp(arena + block + NameEntry.size, name.baseAddress!, name.count) == 0
    }

    /// The arena offset of the block for `name`, by open addressing with
    /// linear probing. A slot holds the hash's high 32 bits (whose low bits
    /// also pick the first slot to probe) and the offset.
    @inline(__always)
    func lookup(_ name: UnsafeRawBufferPointer) -> Int? {
        let tag = NameHash.hash(name) >> 32
        var i = Int(truncatingIfNeeded: tag) & Int(slotMask)
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

    /// The name of the block at `b`.
    private func name(ofBlock b: Int) -> UnsafeRawBufferPointer {
        bytes(UInt32(b + NameEntry.size), UInt32(entry(at: b).nameLength))
    }

    /// Adds a block's slot (its name's tag, its offset: never 0); a name
    /// already present keeps its first block.
    fileprivate func insert(slot: UInt64) {
        let tag = slot >> 32
        let b = Int(truncatingIfNeeded: slot & 0xffff_ffff)
        var i = Int(truncatingIfNeeded: tag) & Int(slotMask)
        while slots[i] != 0 {
            if slots[i] >> 32 == tag, block(Int(truncatingIfNeeded: slots[i] & 0xffff_ffff), holds: name(ofBlock: b)) {
                return
            }
            i = (i + 1) & Int(slotMask)
        }
        slots[i] = slot
    }

    /// Takes a block's slot out, when the table holds it, and moves later
    /// slots of its run back so that every lookup still finds them (linear
    /// probing's deletion: no tombstones). A slot's first probe comes from its own tag.
    fileprivate func remove(slot: UInt64) {
        let mask = Int(slotMask)
        var i = Int(truncatingIfNeeded: slot >> 32) & mask
        while slots[i] != slot {
            if slots[i] == 0 { return }
            i = (i + 1) & mask
        }
        var j = i
        while true {
            j = (j + 1) & mask
            let s = slots[j]
            if s == 0 { break }
            let home = Int(truncatingIfNeeded: s >> 32) & mask
            // The slot at j stays when its first probe lies cyclically in (i, j].
            let stays = i <= j ? (i < home && home <= j) : (i < home || home <= j)
            if stays { continue }
            slots[i] = s
            i = j
        }
        slots[i] = 0
    }

    fileprivate func insert(host: UInt32, region: UInt32) {
        var i = Int(truncatingIfNeeded: NameHash.mix(UInt64(host))) & Int(hostMask)
        while hostRegions[i] != 0 {
            if UInt32(truncatingIfNeeded: hostRegions[i] >> 32) == host { return }
            i = (i + 1) & Int(hostMask)
        }
        hostRegions[i] = UInt64(host) << 32 | UInt64(region + 1)
    }
}
