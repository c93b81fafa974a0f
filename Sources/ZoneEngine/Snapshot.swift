import Atomics
import DNSWire
import Glibc

/// One name of one organization, and what it answers: the header of a block
/// in the snapshot's arena, followed there by the name's octets and, when no
/// other name shares them, by its records. So a lookup that finds its slot
/// reads one place in memory for the name and, mostly, the answer.
struct NameEntry: BitwiseCopyable {
    enum Kind: UInt8 {
        /// AAAA records (possibly none: then NODATA).
        case aaaa
        /// TXT records.
        case txt
        /// The name exists and has no records of any type (an empty non-terminal).
        case empty
        /// `nearest.of.<app>`: no records itself; `top<N>.` below it is answered at query time
        /// from the app's AAAA records (`records...`) and instance facts (`firstInstance`).
        case nearest
    }

    var network: UInt32
    var recordsOffset: UInt32
    var recordsLength: UInt32
    var recordCount: UInt32
    var firstInstance: UInt32
    var nameLength: UInt8
    var kind: Kind

    /// Octets from the start of a block to its name.
    static let size = MemoryLayout<NameEntry>.stride
}

/// One address of the reverse zone and the name block whose name its PTR
/// record names: `<id>.vm.<app>.internal.` for an instance,
/// `<name>._peer.internal.` for a peer. The name is not stored twice: a
/// million instances cost 24 MB here.
struct ReverseEntry: BitwiseCopyable {
    var address: IPv6Address
    var nameBlock: UInt32
}

/// Where an instance is, for ordering `top<N>.nearest.of` answers.
struct InstancePlace: BitwiseCopyable {
    var host: UInt32
    var region: UInt32
}

/// An immutable, prepared view of the whole database. Safe to read from any thread.
///
/// Every answer is encoded when the snapshot is built: the query path finds
/// the name in an open-addressing table keyed by (network ID, name octets) and
/// copies bytes. Only `top<N>.nearest.of.<app>` picks records at query time,
/// and it too only copies prepared records. Nothing on that path allocates or locks.
public final class Snapshot: @unchecked Sendable, AtomicReference {
    /// Size of one prepared AAAA record: pointer owner, TYPE, CLASS, TTL, RDLENGTH, address.
    static let aaaaRecordSize = 28

    // Immutable after init; released in deinit.
    private let memory: [LargeMemory]
    private let arena: UnsafeMutablePointer<UInt8>
    private let slots: UnsafeMutablePointer<UInt64>
    private let slotMask: Int
    private let places: UnsafeMutablePointer<InstancePlace>
    private let hostRegions: UnsafeMutablePointer<UInt64>
    private let hostMask: Int
    /// The reverse zone: every answered address, sorted.
    private let reverse: UnsafeMutablePointer<ReverseEntry>
    private let reverseCount: Int

    /// `internal. SOA` and `internal. NS` as answers (owner 0xC00C), and the SOA
    /// for AUTHORITY in negative answers (owner `internal.`, TTL = RFC 2308 negative TTL).
    private let soaAnswer: UnsafeRawBufferPointer
    private let nsAnswer: UnsafeRawBufferPointer
    private let negativeSOA: UnsafeRawBufferPointer
    /// The reverse zone `a.a.d.f.ip6.arpa.` answers its apex with the same
    /// SOA and NS (their owner is the question); its negative answers need this.
    private let reverseNegativeSOA: UnsafeRawBufferPointer

    /// Names held, over all organizations.
    public let nameCount: Int
    /// Organizations held.
    public let organizationCount: Int
    /// Started instances answered.
    public let instanceCount: Int
    /// Rows left out because they break docs/schema.md's rules.
    public let skippedRows: Int
    /// TTL of every answer record.
    public let ttl: UInt32
    /// TTL of negative answers: min(SOA TTL, SOA MINIMUM) (RFC 2308 §5).
    public let negativeTTL: UInt32
    /// The SOA serial: when the snapshot was built, in seconds since 1970.
    public let serial: UInt32

    init(parts: SnapshotParts) throws(SQLiteError) {
        defer { parts.blocks.release() }
        guard let slotMemory = Self.makeTable(capacityFor: parts.blockCount),
              let hostMemory = Self.makeTable(capacityFor: parts.hostRegions.count) else {
            for m in [parts.arena, parts.places, parts.reverse] { m.release() }
            throw SQLiteError(code: 7, message: "cannot reserve memory for the name table", context: "build snapshot")
        }
        memory = [parts.arena, parts.places, parts.reverse, slotMemory.memory, hostMemory.memory]
        arena = parts.arena.base.assumingMemoryBound(to: UInt8.self)
        nameCount = parts.blockCount
        places = parts.places.base.assumingMemoryBound(to: InstancePlace.self)
        (slots, slotMask) = (slotMemory.table, slotMemory.mask)
        (hostRegions, hostMask) = (hostMemory.table, hostMemory.mask)
        reverse = parts.reverse.base.assumingMemoryBound(to: ReverseEntry.self)
        reverseCount = parts.reverseCount
        organizationCount = parts.organizationCount
        instanceCount = parts.instanceCount
        skippedRows = parts.skippedRows
        ttl = parts.ttl
        negativeTTL = parts.negativeTTL
        serial = parts.serial
        soaAnswer = Self.copy(parts.soaAnswer)
        nsAnswer = Self.copy(parts.nsAnswer)
        negativeSOA = Self.copy(parts.negativeSOA)
        reverseNegativeSOA = Self.copy(parts.reverseNegativeSOA)
        let blocks = parts.blocks.base.assumingMemoryBound(to: UInt32.self)
        for i in 0..<parts.blockCount { insert(block: Int(blocks[i])) }
        for (host, region) in parts.hostRegions { insert(host: host, region: region) }
    }

    deinit {
        for m in memory { m.release() }
        soaAnswer.deallocate()
        nsAnswer.deallocate()
        negativeSOA.deallocate()
        reverseNegativeSOA.deallocate()
    }

    // MARK: - The query path

    /// Appends the answer to an `internal.` question and returns its RCODE.
    ///
    /// `name`: the lowercased, uncompressed wire-format question name.
    /// `network`, `host`: from the querier's 6PN source address.
    /// The writer was started with NOERROR and AA; records are appended as
    /// whole RRsets (TC when they do not fit). Allocates nothing, takes no lock.
    /// A name outside `internal.` is REFUSED with nothing written.
    ///
    /// `rotation`: an AAAA RRset of several instances starts at record
    /// `rotation % count` and wraps around (cyclic order, as BIND's
    /// rrset-order), so that clients that take the first address (glibc
    /// without other preferences does) spread over the instances. The
    /// Server passes a per-worker count of answers; 0 is the stored order.
    /// `top<N>.nearest.of` keeps its own, deterministic order.
    public func answer(name: UnsafeRawBufferPointer, type: RRType, network: UInt32, host: UInt32,
                       rotation: UInt32 = 0, into writer: inout ResponseWriter) -> RCode {
        answer(name: name, internalAt: InternalZone.suffixOffset(name), type: type, network: network, host: host,
               rotation: rotation, into: &writer)
    }

    /// The same, for a caller that has already found where `internal.`
    /// starts in `name` (``InternalZone/suffixOffset(_:)``, -1 for nowhere):
    /// the Server's route does, and the name is not walked twice.
    public func answer(name: UnsafeRawBufferPointer, internalAt apexAt: Int, type: RRType, network: UInt32,
                       host: UInt32, rotation: UInt32, into writer: inout ResponseWriter) -> RCode {
        guard apexAt >= 0 else { return .refused }
        if apexAt == 0 { return answerApex(type: type, soa: soaAnswer, ns: nsAnswer, negative: negativeSOA, into: &writer) }

        if let e = lookup(network: network, name: name) {
            let entry = self.entry(at: e)
            let wanted: NameEntry.Kind? = type == .aaaa ? .aaaa : type == .txt ? .txt : nil
            if entry.recordCount > 0, entry.kind == wanted || (type == .any && (entry.kind == .aaaa || entry.kind == .txt)) {
                let first = entry.kind == .aaaa && entry.recordCount > 1 ? rotation % entry.recordCount : 0
                if first != 0 {
                    appendRotated(entry, from: Int(first), into: &writer)
                } else {
                    writer.append(.answer, records: bytes(entry.recordsOffset, entry.recordsLength),
                                  count: Int(entry.recordCount))
                }
            } else {
                writer.append(.authority, records: negativeSOA, count: 1)
            }
            return .noError
        }

        // top<N>.nearest.of.<app>.internal: N from the first label, the app from the rest.
        let first = Int(name[0])
        if let n = Self.topCount(name, labelLength: first),
           let e = lookup(network: network, name: UnsafeRawBufferPointer(rebasing: name[(1 + first)...])),
           entry(at: e).kind == .nearest {
            if type == .aaaa || type == .any {
                appendNearest(entry(at: e), count: n, host: host, into: &writer)
            } else {
                writer.append(.authority, records: negativeSOA, count: 1)
            }
            return .noError
        }
        writer.append(.authority, records: negativeSOA, count: 1)
        return .nxDomain
    }

    private func answerApex(type: RRType, soa: UnsafeRawBufferPointer, ns: UnsafeRawBufferPointer,
                            negative: UnsafeRawBufferPointer, into writer: inout ResponseWriter) -> RCode {
        switch type {
        case .soa: writer.append(.answer, records: soa, count: 1)
        case .ns: writer.append(.answer, records: ns, count: 1)
        case .any:
            let mark = writer.mark
            if !(writer.append(.answer, records: soa, count: 1) && writer.append(.answer, records: ns, count: 1)) {
                writer.rollback(to: mark)
                writer.setFlag(Header.tcBit, true)
            }
        default: writer.append(.authority, records: negative, count: 1)
        }
        return .noError
    }

    /// Appends the answer to a question under `a.a.d.f.ip6.arpa.` (its apex
    /// at `apexAt` in the lowercased `name`, ``ReverseZone/suffixOffset(_:)``)
    /// and returns its RCODE.
    ///
    /// An address of the querier's organization that the zone answers (a
    /// started instance, a peer) has a PTR record naming it under
    /// `internal.`; a shorter name that leads to such addresses is an empty
    /// non-terminal (NODATA, RFC 8020); everything else, another
    /// organization's addresses included, is NXDOMAIN. The prefix is
    /// looked up in the sorted addresses by binary search: no allocation, no lock.
    public func answerReverse(name: UnsafeRawBufferPointer, apexAt: Int, type: RRType, network: UInt32,
                              into writer: inout ResponseWriter) -> RCode {
        guard apexAt >= 0 else { return .refused }
        if apexAt == 0 {
            return answerApex(type: type, soa: soaAnswer, ns: nsAnswer, negative: reverseNegativeSOA, into: &writer)
        }
        guard let (asked, nibbles) = ReverseZone.prefix(name, apexAt: apexAt) else {
            writer.append(.authority, records: reverseNegativeSOA, count: 1)
            return .nxDomain
        }
        // The querier's /48, and the bits the name gives: they must agree where both say something.
        let org = UInt64(0xfdaa) << 48 | UInt64(network) << 16
        let orgMask: UInt64 = 0xffff_ffff_ffff_0000
        let bits = 4 * nibbles
        let highMask: UInt64 = bits >= 64 ? .max : .max << UInt64(64 - bits)
        let lowMask: UInt64 = bits <= 64 ? 0 : .max << UInt64(128 - bits)
        guard (asked.high ^ org) & highMask & orgMask == 0 else {
            writer.append(.authority, records: reverseNegativeSOA, count: 1)
            return .nxDomain
        }
        let first = IPv6Address(high: asked.high | org, low: asked.low)
        let last = IPv6Address(high: first.high | ~(highMask | orgMask), low: first.low | ~lowMask)
        let i = firstReverse(atLeast: first)
        guard i < reverseCount, !(last < reverse[i].address) else {
            writer.append(.authority, records: reverseNegativeSOA, count: 1)
            return .nxDomain
        }
        if bits == 128, type == .ptr || type == .any {
            appendPTR(naming: Int(reverse[i].nameBlock), into: &writer)
        } else {
            writer.append(.authority, records: reverseNegativeSOA, count: 1)
        }
        return .noError
    }

    /// One PTR record, owner the question (0xC00C), naming the name of the block at `block`; TC when it does not fit.
    private func appendPTR(naming block: Int, into writer: inout ResponseWriter) {
        let length = Int(entry(at: block).nameLength)
        guard 12 + length <= writer.remaining else {
            writer.setFlag(Header.tcBit, true)
            return
        }
        // Owner 0xC00C, TYPE PTR, CLASS IN, TTL, RDLENGTH: the record up to its name.
        let t = ttl
        let fixed: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) = (
            0xc0, 0x0c, 0, 12, 0, 1, UInt8(t >> 24), UInt8(truncatingIfNeeded: t >> 16),
            UInt8(truncatingIfNeeded: t >> 8), UInt8(truncatingIfNeeded: t), 0, UInt8(length))
        withUnsafeBytes(of: fixed) { _ = writer.append(.answer, records: $0, count: 1) }
        writer.append(.answer, records: bytes(UInt32(block + NameEntry.size), UInt32(length)), count: 0)
    }

    /// The index of the first reverse entry whose address is `address` or above (`reverseCount` for none).
    private func firstReverse(atLeast address: IPv6Address) -> Int {
        var low = 0, high = reverseCount
        while low < high {
            let mid = (low + high) / 2
            if reverse[mid].address < address { low = mid + 1 } else { high = mid }
        }
        return low
    }

    /// Copies the `count` instances nearest `host`: same host, then same
    /// region, then the rest; within each, in the app's (region, ID) order.
    /// The AAAA RRset of `entry` from record `first` on, then the records
    /// before it: two copies, one whole RRset (TC when it does not fit).
    @inline(__always)
    private func appendRotated(_ entry: NameEntry, from first: Int, into writer: inout ResponseWriter) {
        let total = Int(entry.recordCount)
        let size = total * Self.aaaaRecordSize
        guard size <= writer.remaining else {
            writer.setFlag(Header.tcBit, true)
            return
        }
        let records = arena + Int(entry.recordsOffset)
        let split = first * Self.aaaaRecordSize
        writer.append(.answer, records: UnsafeRawBufferPointer(start: records + split, count: size - split),
                      count: total - first)
        writer.append(.answer, records: UnsafeRawBufferPointer(start: records, count: split), count: first)
    }

    private func appendNearest(_ entry: NameEntry, count n: Int, host: UInt32, into writer: inout ResponseWriter) {
        let total = Int(entry.recordCount)
        let want = min(n, total)
        guard want > 0 else {
            writer.append(.authority, records: negativeSOA, count: 1)
            return
        }
        guard want * Self.aaaaRecordSize <= writer.remaining else {
            writer.setFlag(Header.tcBit, true)
            return
        }
        let region = hostRegion(host)
        let place = places + Int(entry.firstInstance)
        let records = arena + Int(entry.recordsOffset)
        var written = 0
        for pass in 0..<3 {
            for i in 0..<total {
                let p = place[i]
                let take: Bool
                switch pass {
                case 0: take = p.host == host
                case 1: take = p.host != host && p.region == region
                default: take = p.host != host && p.region != region
                }
                guard take else { continue }
                writer.append(.answer, records: UnsafeRawBufferPointer(start: records + i * Self.aaaaRecordSize,
                                                                       count: Self.aaaaRecordSize), count: 1)
                written += 1
                if written == want { return }
            }
        }
    }

    /// N of a `top<N>` label: 1 or more, without leading zeros; nil otherwise.
    /// Values too large to matter come back as Int.max ("all").
    @inline(__always)
    static func topCount(_ name: UnsafeRawBufferPointer, labelLength: Int) -> Int? {
        guard labelLength >= 4, name[1] == 0x74, name[2] == 0x6f, name[3] == 0x70, name[4] != 0x30 else { return nil }
        var n = 0
        for i in 4...labelLength {
            let d = name[i] &- 0x30
            guard d < 10 else { return nil }
            n = n > 100_000_000 ? Int.max : n * 10 + Int(d)
        }
        return n
    }

    @inline(__always)
    private func bytes(_ offset: UInt32, _ length: UInt32) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: arena + Int(offset), count: Int(length))
    }

    @inline(__always)
    private func entry(at block: Int) -> NameEntry {
        UnsafeRawPointer(arena + block).loadUnaligned(as: NameEntry.self)
    }

    /// True when the block at `block` holds (network, name).
    @inline(__always)
    private func block(_ block: Int, holds network: UInt32, _ name: UnsafeRawBufferPointer) -> Bool {
        let entry = entry(at: block)
        return entry.network == network && Int(entry.nameLength) == name.count
            && memcmp(arena + block + NameEntry.size, name.baseAddress!, name.count) == 0
    }

    /// The arena offset of the block for (network, name), by open addressing
    /// with linear probing. A slot holds 32 bits of the hash and the offset.
    @inline(__always)
    func lookup(network: UInt32, name: UnsafeRawBufferPointer) -> Int? {
        let h = NameHash.hash(network: network, name: name)
        let tag = h >> 32
        var i = Int(truncatingIfNeeded: h) & slotMask
        while true {
            let s = slots[i]
            if s == 0 { return nil }
            if s >> 32 == tag {
                let b = Int(truncatingIfNeeded: s & 0xffff_ffff)
                if block(b, holds: network, name) { return b }
            }
            i = (i + 1) & slotMask
        }
    }

    /// The region index of a host, or UInt32.max when the database does not know it.
    @inline(__always)
    func hostRegion(_ host: UInt32) -> UInt32 {
        var i = Int(truncatingIfNeeded: NameHash.mix(UInt64(host))) & hostMask
        while true {
            let s = hostRegions[i]
            if s == 0 { return .max }
            if UInt32(truncatingIfNeeded: s >> 32) == host { return UInt32(truncatingIfNeeded: s & 0xffff_ffff) - 1 }
            i = (i + 1) & hostMask
        }
    }

    // MARK: - Building

    /// A zeroed table of a power-of-two size that keeps the load under 1/2.
    private static func makeTable(capacityFor n: Int)
        -> (memory: LargeMemory, table: UnsafeMutablePointer<UInt64>, mask: Int)? {
        var size = 16
        while size < n * 2 { size <<= 1 }
        guard let m = LargeMemory.reserve(size * MemoryLayout<UInt64>.stride) else { return nil }
        return (m, m.base.bindMemory(to: UInt64.self, capacity: size), size - 1)
    }

    /// Adds the block at `b` (never 0); a name already present keeps its first block.
    private func insert(block b: Int) {
        let entry = entry(at: b)
        let name = bytes(UInt32(b + NameEntry.size), UInt32(entry.nameLength))
        let h = NameHash.hash(network: entry.network, name: name)
        let tag = h >> 32
        var i = Int(truncatingIfNeeded: h) & slotMask
        while slots[i] != 0 {
            if slots[i] >> 32 == tag, block(Int(truncatingIfNeeded: slots[i] & 0xffff_ffff), holds: entry.network, name) {
                return
            }
            i = (i + 1) & slotMask
        }
        slots[i] = tag << 32 | UInt64(b)
    }

    private func insert(host: UInt32, region: UInt32) {
        var i = Int(truncatingIfNeeded: NameHash.mix(UInt64(host))) & hostMask
        while hostRegions[i] != 0 { i = (i + 1) & hostMask }
        hostRegions[i] = UInt64(host) << 32 | UInt64(region + 1)
    }

    private static func copy(_ bytes: [UInt8]) -> UnsafeRawBufferPointer {
        let p = UnsafeMutableRawBufferPointer.allocate(byteCount: max(bytes.count, 1), alignment: 8)
        bytes.withUnsafeBytes { p.copyMemory(from: $0) }
        return UnsafeRawBufferPointer(rebasing: p[..<bytes.count])
    }
}

/// What a ``SnapshotBuilder`` hands to a ``Snapshot``; the snapshot takes ownership of the pointers.
struct SnapshotParts {
    var arena: LargeMemory
    /// Arena offsets of the name blocks (released once they are in the table).
    var blocks: LargeMemory
    var blockCount: Int
    var places: LargeMemory
    var hostRegions: [(UInt32, UInt32)]
    var soaAnswer: [UInt8]
    var nsAnswer: [UInt8]
    var negativeSOA: [UInt8]
    var reverse: LargeMemory
    var reverseCount: Int
    var reverseNegativeSOA: [UInt8]
    var organizationCount: Int
    var instanceCount: Int
    var skippedRows: Int
    var ttl: UInt32
    var negativeTTL: UInt32
    var serial: UInt32
}

/// The hash of a (network ID, name) key: 8 octets at a time, multiply and rotate.
enum NameHash {
    @inline(__always)
    static func mix(_ x: UInt64) -> UInt64 {
        var z = x &+ 0x9e37_79b9_7f4a_7c15
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }

    @inline(__always)
    static func hash(network: UInt32, name: UnsafeRawBufferPointer) -> UInt64 {
        var h = UInt64(network) &* 0x9e37_79b9_7f4a_7c15 ^ UInt64(name.count)
        let base = name.baseAddress!
        var i = 0
        while i + 8 <= name.count {
            h = (h.rotateLeft5 ^ base.loadUnaligned(fromByteOffset: i, as: UInt64.self)) &* 0x517c_c1b7_2722_0a95
            i += 8
        }
        var tail: UInt64 = 0
        var shift: UInt64 = 0
        while i < name.count {
            tail |= UInt64(base.load(fromByteOffset: i, as: UInt8.self)) << shift
            shift += 8
            i += 1
        }
        h = (h.rotateLeft5 ^ tail) &* 0x517c_c1b7_2722_0a95
        return mix(h)
    }
}

private extension UInt64 {
    var rotateLeft5: UInt64 { self << 5 | self >> 59 }
}
