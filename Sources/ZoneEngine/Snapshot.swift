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

    var recordsOffset: UInt32
    var recordsLength: UInt32
    var recordCount: UInt32
    var firstInstance: UInt32
    var nameLength: UInt8
    var kind: Kind

    /// Octets from the start of a block to its name.
    static let size = MemoryLayout<NameEntry>.stride

    /// Records larger than any DNS message (a list of tens of thousands of
    /// instances): only their size and count are kept, `recordsOffset` is 0,
    /// and an answer is TC without them, as it would be if they were stored.
    var isOversize: Bool { recordsLength > 65535 }
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
/// the querier's organization in one open-addressing table (keyed by network
/// ID), the name in that organization's own table, and copies bytes. Only
/// `top<N>.nearest.of.<app>` picks records at query time, and it too only
/// copies prepared records. Nothing on that path allocates or locks.
///
/// Each organization's answers live in an ``OrgZone`` of their own: a
/// snapshot made after a change holds the same zones as the one before,
/// except the organizations the change touched.
public final class Snapshot: @unchecked Sendable, AtomicReference {
    /// Size of one prepared AAAA record: pointer owner, TYPE, CLASS, TTL, RDLENGTH, address.
    static let aaaaRecordSize = 28

    /// The organizations in 256 buckets by network hash: what keeps their memory alive.
    let buckets: [OrgBucket]
    /// Each bucket's table, where the query path finds it without touching the bucket object.
    private let tables: UnsafeMutablePointer<(slots: UnsafeMutablePointer<OrgView>, mask: Int)>

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
    /// Instances answered by the names that list instances (started, on a live host).
    public let instanceCount: Int
    /// Rows left out because they break docs/schema.md's rules.
    public let skippedRows: Int
    /// TTL of every answer record.
    public let ttl: UInt32
    /// TTL of negative answers: min(SOA TTL, SOA MINIMUM) (RFC 2308 §5).
    public let negativeTTL: UInt32
    /// The SOA serial: when the snapshot was built, in seconds since 1970.
    public let serial: UInt32

    /// SOA MINIMUM of `internal.`: negative answers live min(this, TTL) seconds.
    static let soaMinimum: UInt32 = 60

    /// A snapshot of these organizations.
    convenience init(zones: some Sequence<OrgZone>, ttl: UInt32, serial: UInt32 = UInt32(truncatingIfNeeded: time(nil))) {
        self.init(buckets: OrgBucket.grouping(zones), ttl: ttl, serial: serial)
    }

    /// This snapshot with the organizations in `changes` replaced (nil:
    /// removed) or added; every other bucket is shared, not copied.
    func replacing(_ changes: [UInt32: OrgZone?], serial: UInt32 = UInt32(truncatingIfNeeded: time(nil))) -> Snapshot {
        var touched = [[UInt32: OrgZone?]](repeating: [:], count: OrgBucket.count)
        for (network, zone) in changes { touched[OrgBucket.index(OrgBucket.hash(network))].updateValue(zone, forKey: network) }
        var next = buckets
        for (i, changes) in touched.enumerated() where !changes.isEmpty { next[i] = buckets[i].replacing(changes) }
        return Snapshot(buckets: next, ttl: ttl, serial: serial)
    }

    /// The zone of one organization (an update reuses it; tests check what a change shares).
    func zone(_ network: UInt32) -> OrgZone? {
        let bucket = buckets[OrgBucket.index(OrgBucket.hash(network))]
        return bucket.networks.firstIndex(of: network).map { bucket.zones[$0] }
    }

    /// Only the table of buckets and the zone's own records are made here: the buckets are shared.
    init(buckets: [OrgBucket], ttl: UInt32, serial: UInt32) {
        precondition(buckets.count == OrgBucket.count)
        self.buckets = buckets
        self.ttl = ttl
        self.serial = serial
        tables = .allocate(capacity: OrgBucket.count)
        var organizations = 0, names = 0, instances = 0, skipped = 0
        for (i, b) in buckets.enumerated() {
            tables[i] = (b.slots, b.mask)
            organizations += b.zones.count
            names += b.nameCount
            instances += b.instanceCount
            skipped += b.skippedRows
        }
        organizationCount = organizations
        nameCount = names
        instanceCount = instances
        skippedRows = skipped

        negativeTTL = min(ttl, Self.soaMinimum)
        let apex = DNSName(uncheckedWire: InternalZone.apex)
        let soa = RData.soa(SOA(mname: apex, rname: try! apex.prepending("hostmaster"), serial: serial,
                                refresh: 3600, retry: 600, expire: 86400, minimum: Self.soaMinimum))
        // These encodings cannot fail: fixed, valid names and a pointer to offset 12.
        soaAnswer = Self.copy(try! RecordEncoder.encode(owner: .questionName, type: .soa, ttl: ttl, rdata: soa))
        nsAnswer = Self.copy(try! RecordEncoder.encode(owner: .questionName, type: .ns, ttl: ttl, rdata: .ns(apex)))
        negativeSOA = Self.copy(try! RecordEncoder.encode(owner: .name(apex), type: .soa, ttl: negativeTTL, rdata: soa))
        let reverseApex = DNSName(uncheckedWire: ReverseZone.apex)
        reverseNegativeSOA = Self.copy(try! RecordEncoder.encode(owner: .name(reverseApex), type: .soa,
                                                                 ttl: negativeTTL, rdata: soa))
    }

    deinit {
        tables.deallocate()
        soaAnswer.deallocate()
        nsAnswer.deallocate()
        negativeSOA.deallocate()
        reverseNegativeSOA.deallocate()
    }

    /// The organization with this network ID, if the snapshot has it: its
    /// bucket's table from the top 8 bits of the hash, the slot from the rest.
    @inline(__always)
    private func organization(_ network: UInt32) -> UnsafeMutablePointer<OrgView>? {
        guard network != 0 else { return nil }
        let h = OrgBucket.hash(network)
        let table = tables[OrgBucket.index(h)]
        var i = OrgBucket.slot(h, table.mask)
        while true {
            let n = table.slots[i].network
            if n == network { return table.slots + i }
            if n == 0 { return nil }
            i = (i + 1) & table.mask
        }
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

        guard let org = organization(network) else {
            writer.append(.authority, records: negativeSOA, count: 1)
            return .nxDomain
        }
        if let e = org.pointee.lookup(name) {
            let entry = org.pointee.entry(at: e)
            let wanted: NameEntry.Kind? = type == .aaaa ? .aaaa : type == .txt ? .txt : nil
            if entry.recordCount > 0, entry.kind == wanted || (type == .any && (entry.kind == .aaaa || entry.kind == .txt)) {
                let first = entry.kind == .aaaa && entry.recordCount > 1 ? rotation % entry.recordCount : 0
                if first != 0 {
                    appendRotated(entry, in: org.pointee, from: Int(first), into: &writer)
                } else {
                    writer.append(.answer, records: org.pointee.bytes(entry.recordsOffset, entry.recordsLength),
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
           let e = org.pointee.lookup(UnsafeRawBufferPointer(rebasing: name[(1 + first)...])),
           org.pointee.entry(at: e).kind == .nearest {
            if type == .aaaa || type == .any {
                appendNearest(org.pointee.entry(at: e), in: org.pointee, count: n, host: host, into: &writer)
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
        let org = SixPNAddress.networkPrefixHigh(network)
        let orgMask = SixPNAddress.networkPrefixMask
        let bits = 4 * nibbles
        let highMask: UInt64 = bits >= 64 ? .max : .max << UInt64(64 - bits)
        let lowMask: UInt64 = bits <= 64 ? 0 : .max << UInt64(128 - bits)
        guard (asked.high ^ org) & highMask & orgMask == 0 else {
            writer.append(.authority, records: reverseNegativeSOA, count: 1)
            return .nxDomain
        }
        let first = IPv6Address(high: asked.high | org, low: asked.low)
        let last = IPv6Address(high: first.high | ~(highMask | orgMask), low: first.low | ~lowMask)
        guard let zone = organization(network) else {
            writer.append(.authority, records: reverseNegativeSOA, count: 1)
            return .nxDomain
        }
        let i = Self.firstReverse(atLeast: first, in: zone.pointee)
        guard i < Int(zone.pointee.reverseCount), !(last < zone.pointee.reverse[i].address) else {
            writer.append(.authority, records: reverseNegativeSOA, count: 1)
            return .nxDomain
        }
        if bits == 128, type == .ptr || type == .any {
            appendPTR(naming: Int(zone.pointee.reverse[i].nameBlock), in: zone.pointee, into: &writer)
        } else {
            writer.append(.authority, records: reverseNegativeSOA, count: 1)
        }
        return .noError
    }

    /// One PTR record, owner the question (0xC00C), naming the name of the block at `block`; TC when it does not fit.
    private func appendPTR(naming block: Int, in org: OrgView, into writer: inout ResponseWriter) {
        let length = Int(org.entry(at: block).nameLength)
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
        writer.append(.answer, records: org.bytes(UInt32(block + NameEntry.size), UInt32(length)), count: 0)
    }

    /// The index of the first reverse entry whose address is `address` or above (`reverseCount` for none).
    private static func firstReverse(atLeast address: IPv6Address, in org: OrgView) -> Int {
        var low = 0, high = Int(org.reverseCount)
        while low < high {
            let mid = (low + high) / 2
            if org.reverse[mid].address < address { low = mid + 1 } else { high = mid }
        }
        return low
    }

    /// Copies the `count` instances nearest `host`: same host, then same
    /// region, then the rest; within each, in the app's (region, ID) order.
    /// The AAAA RRset of `entry` from record `first` on, then the records
    /// before it: two copies, one whole RRset (TC when it does not fit).
    @inline(__always)
    private func appendRotated(_ entry: NameEntry, in org: OrgView, from first: Int, into writer: inout ResponseWriter) {
        let total = Int(entry.recordCount)
        let size = total * Self.aaaaRecordSize
        guard size <= writer.remaining else {
            writer.setFlag(Header.tcBit, true)
            return
        }
        let records = org.arena + Int(entry.recordsOffset)
        let split = first * Self.aaaaRecordSize
        writer.append(.answer, records: UnsafeRawBufferPointer(start: records + split, count: size - split),
                      count: total - first)
        writer.append(.answer, records: UnsafeRawBufferPointer(start: records, count: split), count: first)
    }

    private func appendNearest(_ entry: NameEntry, in org: OrgView, count n: Int, host: UInt32,
                               into writer: inout ResponseWriter) {
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
        let region = org.hostRegion(host)
        let place = org.places(entry)
        let records = org.arena + Int(entry.recordsOffset)
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

    // MARK: - Building

    private static func copy(_ bytes: [UInt8]) -> UnsafeRawBufferPointer {
        let p = UnsafeMutableRawBufferPointer.allocate(byteCount: max(bytes.count, 1), alignment: 8)
        bytes.withUnsafeBytes { p.copyMemory(from: $0) }
        return UnsafeRawBufferPointer(rebasing: p[..<bytes.count])
    }
}

/// The hash of a name (within one organization's table): 8 octets at a time, multiply and rotate.
enum NameHash {
    @inline(__always)
    static func mix(_ x: UInt64) -> UInt64 {
        var z = x &+ 0x9e37_79b9_7f4a_7c15
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }

    @inline(__always)
    static func hash(_ name: UnsafeRawBufferPointer) -> UInt64 {
        var h = UInt64(name.count)
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
