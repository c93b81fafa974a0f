import DNSWire

/// The question a cache entry and an upstream query are for: lowercased
/// name, type, class, and the client's DO and CD bits (a validating
/// upstream answers differently with them set, so they are part of the key).
struct CacheKey: Hashable, Sendable {
    /// The uncompressed wire-format name, lowercased (RFC 4343).
    var name: [UInt8]
    var type: RRType
    var `class`: RRClass
    /// ``CacheKey/doBit`` and ``CacheKey/cdBit``.
    var flags: UInt16

    static let doBit: UInt16 = 1
    static let cdBit: UInt16 = 2

    /// The key of a parsed client query.
    init(query: Query, bytes: UnsafeRawBufferPointer) {
        var name = [UInt8](repeating: 0, count: query.nameLength)
        name.withUnsafeMutableBytes { _ = query.lowercasedName(from: bytes, into: $0) }
        self.init(name: name, type: query.type, class: query.class, flags: CacheKey.flags(of: query))
    }

    init(name: [UInt8], type: RRType, class: RRClass, flags: UInt16) {
        self.name = name
        self.type = type
        self.class = `class`
        self.flags = flags
    }

    @inline(__always)
    static func flags(of query: Query) -> UInt16 {
        (query.edns?.dnssecOK == true ? doBit : 0) | (query.header.checkingDisabled ? cdBit : 0)
    }
}

/// An upstream response, checked against the question it must answer, with
/// what the cache needs: where the sections end, where every TTL field is,
/// and how long the answer may be kept (RFC 2181 §8, RFC 2308 §5).
struct UpstreamReply {
    var header: Header
    /// The 4-bit RCODE.
    var rcode: RCode
    /// Offsets: end of the question, of the answer and authority sections,
    /// and of the records kept (everything before the OPT record).
    var questionEnd: Int
    var answerEnd: Int
    var authorityEnd: Int
    var end: Int
    var answerCount: Int
    var authorityCount: Int
    var additionalCount: Int
    /// Where each kept record's TTL field is.
    var ttlOffsets: [UInt16]
    /// TTL fields to rewrite before storing (a TTL over the cap, the SOA of a negative answer).
    var ttlRewrites: [(offset: Int, ttl: UInt32)]
    /// How long the answer may be cached; 0 when it may not be.
    var cacheTTL: UInt32
    /// The reply had an OPT record: its sender speaks EDNS.
    var hasOPT = false

    /// FORMERR or NOTIMP without an OPT record, to a query that had one: what a
    /// server that does not know EDNS answers (RFC 6891 §7; BIND and dig read it so).
    /// One that sends OPT back knows EDNS and rejected something else.
    var rejectsEDNS: Bool { (rcode == .formErr || rcode == .notImp) && !hasOPT }

    /// Why a datagram is not the reply we wait for.
    enum Rejection: Error {
        /// Not a response, another ID or another question: maybe spoofed.
        case mismatch
        /// Our question, but the records do not parse.
        case malformed
    }

    /// Checks `bytes` against our query (`id`, lowercased `name`, type and class) and reads its layout.
    static func read(_ bytes: UnsafeRawBufferPointer, id: UInt16, key: CacheKey,
                     maxTTL: UInt32, maxNegativeTTL: UInt32) throws(Rejection) -> UpstreamReply {
        guard let header = try? Header(from: bytes), header.isResponse, header.id == id,
              header.opcode == .query else { throw .mismatch }
        if header.qdCount == 0 {
            // Servers that do not know EDNS often answer FORMERR (or NOTIMP) without
            // the question. Taken on the ID and the connected socket's address and port
            // alone, as Unbound does; such a reply can only move the query on.
            let rcode = RCode(header.rcodeBits)
            guard rcode == .formErr || rcode == .notImp, header.anCount == 0, header.nsCount == 0 else {
                throw .mismatch
            }
            do {
                return try layout(bytes, header: header, questionEnd: Header.size, key: key,
                                  maxTTL: maxTTL, maxNegativeTTL: maxNegativeTTL)
            } catch {
                throw .malformed
            }
        }
        guard header.qdCount == 1 else { throw .mismatch }
        let r = WireReader(bytes)
        let questionMatches: Bool = withUnsafeTemporaryAllocation(byteCount: 256, alignment: 1) { name in
            guard let (end, length) = try? r.copyName(at: Header.size, .questionName, lowercase: true, into: name),
                  end == Header.size + length, length == key.name.count,
                  key.name.withUnsafeBytes({ $0.elementsEqual(UnsafeRawBufferPointer(rebasing: name[0..<length])) }),
                  let type = try? r.u16(at: end, .questionType), type == key.type.rawValue,
                  let cls = try? r.u16(at: end + 2, .questionClass), cls == key.class.rawValue else { return false }
            return true
        }
        guard questionMatches else { throw .mismatch }
        do {
            return try layout(bytes, header: header, questionEnd: Header.size + key.name.count + 4, key: key,
                              maxTTL: maxTTL, maxNegativeTTL: maxNegativeTTL)
        } catch {
            throw .malformed
        }
    }

    private static func layout(_ bytes: UnsafeRawBufferPointer, header: Header, questionEnd: Int, key: CacheKey,
                               maxTTL: UInt32, maxNegativeTTL: UInt32) throws(WireError) -> UpstreamReply {
        let r = WireReader(bytes)
        let an = Int(header.anCount), ns = Int(header.nsCount), ar = Int(header.arCount)
        var reply = UpstreamReply(header: header, rcode: RCode(header.rcodeBits), questionEnd: questionEnd,
                                  answerEnd: questionEnd, authorityEnd: questionEnd, end: questionEnd, answerCount: an, authorityCount: ns,
                                  additionalCount: 0, ttlOffsets: [], ttlRewrites: [], cacheTTL: 0)
        reply.ttlOffsets.reserveCapacity(an + ns + ar)
        var pos = questionEnd
        var keptEnd = -1
        var minTTL = UInt32.max
        var answersTheType = false
        var soa: (ttlOffset: Int, ttl: UInt32, minimum: UInt32)? = nil
        var extendedRCode: UInt8 = 0
        for i in 0..<(an + ns + ar) {
            if i == an { reply.answerEnd = pos }
            if i == an + ns { reply.authorityEnd = pos }
            let recordStart = pos
            pos = try r.skipName(at: pos, .recordName).end
            let type = RRType(try r.u16(at: pos, .recordType))
            let rawTTL = try r.u32(at: pos + 4, .recordTTL)
            let rdLength = Int(try r.u16(at: pos + 8, .rdLength))
            let ttlOffset = pos + 4
            pos += 10 + rdLength
            guard pos <= bytes.count else { throw WireError(.badRDLength, .rdLength, at: ttlOffset + 4) }
            if type == .opt {
                guard i >= an + ns, keptEnd == -1 else { throw WireError(.badOPT, .recordType, at: ttlOffset - 4) }
                keptEnd = recordStart
                extendedRCode = UInt8(rawTTL >> 24)
                continue
            }
            guard keptEnd == -1 else { continue }  // records after the OPT are left out
            // RFC 2181 §8: a TTL with the top bit set means zero.
            let ttl = rawTTL > 0x7fff_ffff ? 0 : rawTTL
            reply.ttlOffsets.append(UInt16(ttlOffset))
            if ttl > maxTTL || ttl != rawTTL { reply.ttlRewrites.append((ttlOffset, min(ttl, maxTTL))) }
            if i < an + ns { minTTL = min(minTTL, ttl) }
            if i < an, type == key.type || key.type == .any { answersTheType = true }
            if i >= an, i < an + ns, type == .soa, soa == nil {
                guard rdLength >= 22 else { throw WireError(.badRData, .rdata, at: ttlOffset + 6) }
                soa = (ttlOffset, ttl, try r.u32(at: pos - 4, .rdata))
            }
            if i >= an + ns { reply.additionalCount += 1 }
        }
        guard pos == bytes.count else { throw WireError(.trailingData, .header, at: pos) }
        // Sections that are empty up to the end never reached their boundary in the loop.
        if ns + ar == 0 { reply.answerEnd = pos }
        if ar == 0 { reply.authorityEnd = pos }
        reply.end = keptEnd == -1 ? pos : keptEnd
        reply.hasOPT = keptEnd != -1

        guard extendedRCode == 0, !header.truncated,
              reply.rcode == .noError || reply.rcode == .nxDomain else { return reply }
        var ttl = min(minTTL, maxTTL)
        if reply.rcode == .nxDomain || !answersTheType {
            // RFC 2308 §5: a negative answer lives min(SOA TTL, SOA MINIMUM); without an SOA it is not kept.
            guard let soa else { return reply }
            let negative = min(soa.ttl, soa.minimum, maxNegativeTTL)
            reply.ttlRewrites.removeAll { $0.offset == soa.ttlOffset }
            reply.ttlRewrites.append((soa.ttlOffset, negative))
            ttl = min(ttl, negative)
        }
        reply.cacheTTL = ttl == .max ? 0 : ttl
        return reply
    }
}
