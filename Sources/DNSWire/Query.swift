/// The EDNS(0) facts of an OPT record (RFC 6891 §6.1).
public struct EDNS: Hashable, Sendable {
    /// The requestor's UDP payload size (the OPT CLASS field).
    public var udpPayloadSize: UInt16
    /// The upper 8 bits of the extended RCODE (the TTL field's first octet).
    public var extendedRCode: UInt8
    public var version: UInt8
    /// The flags field (DO is 0x8000; the rest are Z and must be ignored).
    public var flags: UInt16
    /// Offset and length of the option octets (the OPT RDATA) in the message.
    public var optionsOffset: Int
    public var optionsLength: Int

    public static let doBit: UInt16 = 0x8000

    /// 1232 octets: the largest UDP payload that fits the IPv6 minimum MTU
    /// with its headers (DNS Flag Day 2020). sixpn's one figure for what it
    /// advertises, to clients and to upstreams, and answers over UDP at most.
    public static let flagDayPayloadSize: UInt16 = 1232

    /// The OPT a reply to a query carrying this one has: `payloadSize`,
    /// version 0, DO echoed (RFC 3225 §3), no options and no other flags,
    /// whatever the query's were (RFC 6891 §6.1.4, §7).
    @inlinable
    public func reply(payloadSize: UInt16 = EDNS.flagDayPayloadSize) -> EDNS {
        EDNS(udpPayloadSize: payloadSize, version: 0, flags: flags & EDNS.doBit)
    }

    public init(udpPayloadSize: UInt16, extendedRCode: UInt8 = 0, version: UInt8 = 0, flags: UInt16 = 0,
                optionsOffset: Int = 0, optionsLength: Int = 0) {
        self.udpPayloadSize = udpPayloadSize
        self.extendedRCode = extendedRCode
        self.version = version
        self.flags = flags
        self.optionsOffset = optionsOffset
        self.optionsLength = optionsLength
    }

    /// DNSSEC OK (RFC 3225).
    @inlinable public var dnssecOK: Bool { flags & EDNS.doBit != 0 }
}

/// A query, read in place from the receive buffer: the header, the one
/// question and the EDNS facts. Nothing is copied and nothing allocated.
///
/// The question name of a valid query is never compressed (a pointer could
/// only point into the header, which ``WireReader`` rejects), so it is the
/// octets `nameOffset ..< nameOffset + nameLength`, with the client's case.
public struct Query: Sendable {
    public var header: Header
    /// Where the question name starts: always 12.
    public var nameOffset: Int { Header.size }
    /// Octets of the question name, root label included.
    public var nameLength: Int
    public var type: RRType
    public var `class`: RRClass
    /// Offset just past the question: the question is `12 ..< questionEnd`.
    public var questionEnd: Int
    /// The OPT record's facts, when the query has one.
    public var edns: EDNS?

    /// Parses a query strictly: exactly one question, every record's name and
    /// RDLENGTH checked, at most one OPT (in the additional section, owned by
    /// the root), and no octet after the last record.
    ///
    /// Throws ``WireError`` with code `.truncatedHeader` when there is no
    /// header to answer with; any other error means the header is readable
    /// (answer FORMERR).
    @inlinable @inline(__always)
    public static func parse(_ bytes: UnsafeRawBufferPointer) throws(WireError) -> Query {
        let header = try Header(from: bytes)
        guard header.qdCount == 1 else { throw WireError(.badCount, .header, at: 4) }
        let r = WireReader(bytes)
        let (nameEnd, nameLength) = try r.skipName(at: Header.size, .questionName)
        guard nameEnd == Header.size + nameLength else {
            throw WireError(.badPointer, .questionName, at: Header.size)
        }
        let type = RRType(try r.u16(at: nameEnd, .questionType))
        let cls = RRClass(try r.u16(at: nameEnd + 2, .questionClass))
        var pos = nameEnd + 4
        let questionEnd = pos

        var edns: EDNS? = nil
        let total = Int(header.anCount) + Int(header.nsCount) + Int(header.arCount)
        let firstAdditional = Int(header.anCount) + Int(header.nsCount)
        for i in 0..<total {
            let ownerOffset = pos
            pos = try r.skipName(at: pos, .recordName).end
            let rtype = try r.u16(at: pos, .recordType)
            let rclass = try r.u16(at: pos + 2, .recordClass)
            let ttl = try r.u32(at: pos + 4, .recordTTL)
            let rdLength = Int(try r.u16(at: pos + 8, .rdLength))
            let rdata = pos + 10
            guard rdata + rdLength <= bytes.count else { throw WireError(.badRDLength, .rdLength, at: pos + 8) }
            if rtype == RRType.opt.rawValue {
                guard i >= firstAdditional, edns == nil, bytes[ownerOffset] == 0 else {
                    throw WireError(.badOPT, .recordType, at: pos)
                }
                // Options are (code, length, data) triples that fill RDATA exactly.
                var o = rdata
                while o < rdata + rdLength {
                    guard o + 4 <= rdata + rdLength else { throw WireError(.badOPT, .optOption, at: o) }
                    let len = Int(UInt16(bytes[o + 2]) << 8 | UInt16(bytes[o + 3]))
                    o += 4 + len
                    guard o <= rdata + rdLength else { throw WireError(.badOPT, .optOption, at: o - len) }
                }
                edns = EDNS(udpPayloadSize: rclass, extendedRCode: UInt8(ttl >> 24),
                            version: UInt8(truncatingIfNeeded: ttl >> 16), flags: UInt16(truncatingIfNeeded: ttl),
                            optionsOffset: rdata, optionsLength: rdLength)
            }
            pos = rdata + rdLength
        }
        guard pos == bytes.count else { throw WireError(.trailingData, .header, at: pos) }
        return Query(header: header, nameLength: nameLength, type: type, class: cls,
                     questionEnd: questionEnd, edns: edns)
    }

    @inlinable
    public init(header: Header, nameLength: Int, type: RRType, class: RRClass, questionEnd: Int, edns: EDNS?) {
        self.header = header
        self.nameLength = nameLength
        self.type = type
        self.class = `class`
        self.questionEnd = questionEnd
        self.edns = edns
    }

    /// Writes the question name, lowercased (RFC 4343), into `out`; returns its length.
    ///
    /// Eight octets a step (every query pays for this; a byte loop cost about
    /// 14 instructions an octet). Only `A`-`Z` change, so length octets
    /// (0...63) pass through as they are. `out` needs `nameLength` octets;
    /// nothing past them is written, nothing past the name is read.
    @inlinable @inline(__always)
    public func lowercasedName(from bytes: UnsafeRawBufferPointer, into out: UnsafeMutableRawBufferPointer) -> Int {
        let n = nameLength
        assert(n <= out.count && nameOffset + n <= bytes.count, "lowercasedName: buffer too small")
        guard n > 0, let base = bytes.baseAddress, let to = out.baseAddress else { return 0 }
        let from = base + nameOffset
        if n >= 8 {
            var i = 0
            while i < n - 8 {
                to.storeBytes(of: Self.lowercased(from.loadUnaligned(fromByteOffset: i, as: UInt64.self)),
                              toByteOffset: i, as: UInt64.self)
                i &+= 8
            }
            // The last eight octets, overlapping the step before: it writes the same values again.
            to.storeBytes(of: Self.lowercased(from.loadUnaligned(fromByteOffset: n - 8, as: UInt64.self)),
                          toByteOffset: n - 8, as: UInt64.self)
        } else {
            for i in 0..<n {
                let b = from.load(fromByteOffset: i, as: UInt8.self)
                to.storeBytes(of: b &- 0x41 < 26 ? b | 0x20 : b, toByteOffset: i, as: UInt8.self)
            }
        }
        return n
    }

    /// `A`-`Z` to `a`-`z` in each octet of `w`, the rest unchanged (SWAR, no
    /// carry between octets: each sum below stays under 0x100).
    @inlinable @inline(__always)
    static func lowercased(_ w: UInt64) -> UInt64 {
        let low7 = w & 0x7f7f_7f7f_7f7f_7f7f
        let atLeastA = low7 &+ 0x3f3f_3f3f_3f3f_3f3f   // 0x80 set where the low 7 bits >= 0x41
        let pastZ = low7 &+ 0x2525_2525_2525_2525      // 0x80 set where they are >= 0x5b
        let upper = atLeastA & ~pastZ & ~w & 0x8080_8080_8080_8080  // and the octet itself < 0x80
        return w | upper >> 2                                // 0x80 >> 2 is the case bit 0x20
    }
}
