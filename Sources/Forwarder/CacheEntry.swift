#if canImport(Glibc)
import Glibc
#endif
import Atomics
import DNSWire

/// One cached answer: a single heap block holding the upstream response's
/// wire bytes, the offset of each TTL field and the key, so that serving it
/// is copying octets and patching a few fields.
///
/// Layout: two atomic words (the hash chain's `next`, the CLOCK bit), the
/// ``Fields``, the lowercased name, the TTL offsets, the message (header,
/// question, then the records that came before the OPT record). Everything
/// but the two atomic words and the LRU links is written once, before the
/// entry is published, and never again; the LRU links belong to the writer.
struct CacheEntry: Equatable {
    let base: UnsafeMutableRawPointer

    struct Fields {
        /// The writer's LRU list; readers never touch these.
        var older: UnsafeMutableRawPointer?
        var newer: UnsafeMutableRawPointer?
        var hash: Int
        var storedAt: Int64
        var freshUntil: Int64
        var staleUntil: Int64
        var byteCount: Int
        var type: UInt16
        var `class`: UInt16
        var keyFlags: UInt16
        var nameLength: UInt16
        var ttlCount: UInt16
        var messageLength: UInt16
        var questionEnd: UInt16
        var answerEnd: UInt16
        var authorityEnd: UInt16
        var answerCount: UInt16
        var authorityCount: UInt16
        var additionalCount: UInt16
        var rcode: UInt16
        var replyFlags: UInt16
        /// The organization whose miss brought it in, as `network | 1 << 32`; 0: none known.
        var owner: UInt64 = 0
    }

    private static let atomicsSize = 2 * MemoryLayout<Int>.stride
    private static let fieldsOffset = atomicsSize
    private static let nameOffset = fieldsOffset + MemoryLayout<Fields>.stride

    init(_ base: UnsafeMutableRawPointer) { self.base = base }

    /// Copies a checked upstream reply into a new block (not yet published).
    init(key: CacheKey, hash: Int, message: UnsafeRawBufferPointer, reply: UpstreamReply,
         now: Int64, staleWindow: Int64) {
        let nameLength = key.name.count
        let ttlAt = CacheEntry.nameOffset + (nameLength + 1) & ~1
        let messageAt = ttlAt + 2 * reply.ttlOffsets.count
        let size = messageAt + reply.end
        base = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 16)
        base.initializeMemory(as: UnsafeAtomic<Int>.Storage.self, repeating: .init(0), count: 2)
        let fresh = now + Int64(reply.cacheTTL) * 1_000_000_000
        base.advanced(by: CacheEntry.fieldsOffset).initializeMemory(as: Fields.self, to: Fields(
            older: nil, newer: nil, hash: hash, storedAt: now, freshUntil: fresh,
            staleUntil: fresh + staleWindow, byteCount: size,
            type: key.type.rawValue, class: key.class.rawValue, keyFlags: key.flags,
            nameLength: UInt16(nameLength), ttlCount: UInt16(reply.ttlOffsets.count),
            messageLength: UInt16(reply.end), questionEnd: UInt16(reply.questionEnd),
            answerEnd: UInt16(reply.answerEnd), authorityEnd: UInt16(reply.authorityEnd),
            answerCount: UInt16(reply.answerCount), authorityCount: UInt16(reply.authorityCount),
            additionalCount: UInt16(reply.additionalCount), rcode: reply.rcode.rawValue,
            replyFlags: reply.header.flags))
        key.name.withUnsafeBytes { base.advanced(by: CacheEntry.nameOffset).copyMemory(from: $0.baseAddress!, byteCount: nameLength) }
        reply.ttlOffsets.withUnsafeBytes { base.advanced(by: ttlAt).copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
        let m = base.advanced(by: messageAt)
        m.copyMemory(from: message.baseAddress!, byteCount: reply.end)
        for rewrite in reply.ttlRewrites { m.storeBytes(of: rewrite.ttl.bigEndian, toByteOffset: rewrite.offset, as: UInt32.self) }
    }

    func free() {
        base.deallocate()
    }

    // MARK: Shared words

    /// The next entry in the hash chain (pointer bits, 0 at the end).
    @inline(__always)
    var next: UnsafeAtomic<Int> { UnsafeAtomic(at: base.assumingMemoryBound(to: UnsafeAtomic<Int>.Storage.self)) }

    /// Set by readers on a hit, cleared by the writer's CLOCK hand.
    @inline(__always)
    var referenced: UnsafeAtomic<Int> {
        UnsafeAtomic(at: base.advanced(by: MemoryLayout<Int>.stride).assumingMemoryBound(to: UnsafeAtomic<Int>.Storage.self))
    }

    @inline(__always)
    var fields: UnsafeMutablePointer<Fields> {
        base.advanced(by: CacheEntry.fieldsOffset).assumingMemoryBound(to: Fields.self)
    }

    // MARK: Immutable parts

    @inline(__always)
    private var ttlAt: Int { CacheEntry.nameOffset + (Int(fields.pointee.nameLength) + 1) & ~1 }

    @inline(__always)
    private var message: UnsafeRawPointer {
        UnsafeRawPointer(base.advanced(by: ttlAt + 2 * Int(fields.pointee.ttlCount)))
    }

    /// True when this entry is for `name` (lowercased), type, class and key flags.
    @inline(__always)
    func matches(hash: Int, name: UnsafeRawBufferPointer, type: RRType, class cls: RRClass, flags: UInt16) -> Bool {
        let f = fields.pointee
        guard f.hash == hash, f.type == type.rawValue, f.class == cls.rawValue, f.keyFlags == flags,
              Int(f.nameLength) == name.count else { return false }
        return memcmp(base.advanced(by: CacheEntry.nameOffset), name.baseAddress!, name.count) == 0
    }

    /// Writes the answer for `query` into `out`: the client's ID, flags and
    /// question (its case), the cached records with their TTLs counted down
    /// (or `staleTTL` each, when given, with an Extended DNS Error saying the
    /// answer is stale), and the OPT record `edns` that admission chose.
    /// Sections go in whole or not at all; a left-out answer or authority
    /// section sets TC. Allocates nothing.
    func answer(query: Query, bytes: UnsafeRawBufferPointer, edns: EDNS?, into out: UnsafeMutableRawBufferPointer,
                limit: Int, now: Int64, staleTTL: UInt32?) -> Int {
        let f = fields.pointee
        var w = ResponseWriter(buffer: out, limit: limit)
        guard w.start(query: query, bytes: bytes, rcode: RCode(f.rcode), authoritative: false,
                      recursionAvailable: true, edns: edns) else {
            w.setFlag(Header.tcBit, true)
            return w.finish()
        }
        // A stale answer says so, to a client that can read it (RFC 8914 §4.4, §4.20).
        if staleTTL != nil {
            w.addExtendedError(RCode(f.rcode) == .nxDomain ? ExtendedDNSError.staleNXDomain : ExtendedDNSError.staleAnswer)
        }
        // RFC 6840 §5.8: AD only for a client that asked with DO or AD.
        let wantsAD = query.edns?.dnssecOK == true || query.header.authenticData
        w.setFlag(Header.adBit, wantsAD && f.replyFlags & Header.adBit != 0)
        let m = message
        func section(_ from: UInt16, _ to: UInt16) -> UnsafeRawBufferPointer {
            UnsafeRawBufferPointer(start: m.advanced(by: Int(from)), count: Int(to) - Int(from))
        }
        if w.append(.answer, records: section(f.questionEnd, f.answerEnd), count: Int(f.answerCount)),
           w.append(.authority, records: section(f.answerEnd, f.authorityEnd), count: Int(f.authorityCount)) {
            w.append(.additional, records: section(f.authorityEnd, f.messageLength), count: Int(f.additionalCount))
        }
        let written = w.position
        let age = UInt32(clamping: max(0, now - f.storedAt) / 1_000_000_000)
        let offsets = UnsafeRawPointer(base.advanced(by: ttlAt))
        for i in 0..<Int(f.ttlCount) {
            let at = Int(offsets.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))
            guard at + 4 <= written else { break }
            let original = UInt32(bigEndian: m.loadUnaligned(fromByteOffset: at, as: UInt32.self))
            let ttl = staleTTL ?? (original > age ? original - age : 0)
            out.storeBytes(of: ttl.bigEndian, toByteOffset: at, as: UInt32.self)
        }
        return w.finish()
    }
}
