extension Message {
    /// Parses a whole message strictly and totally: every octet is accounted
    /// for, and anything malformed is a ``WireError`` naming the field and
    /// the offset, never a trap.
    ///
    /// Rejected: a short header; section counts the message cannot hold;
    /// reserved label types; compression pointers that do not point strictly
    /// backwards (so no loops) or that point into the header; names over 255
    /// octets; an RDLENGTH past the end; typed RDATA that does not fill its
    /// RDLENGTH exactly; an OPT record outside the additional section, with a
    /// non-root owner, or a second one; octets after the last record.
    public init(parsing bytes: UnsafeRawBufferPointer) throws(WireError) {
        var p = MessageParser(WireReader(bytes))
        self = try p.parse()
    }

    /// Parses a whole message held in an array (see ``init(parsing:)-(UnsafeRawBufferPointer)``).
    public init(parsing bytes: [UInt8]) throws(WireError) {
        var result: Result<Message, WireError> = .failure(WireError(.truncatedHeader, .header, at: 0))
        bytes.withUnsafeBytes { b in
            do throws(WireError) { result = .success(try Message(parsing: b)) } catch { result = .failure(error) }
        }
        self = try result.get()
    }
}

/// The reading half of ``Message``: one pass over the message, front to back.
struct MessageParser {
    let r: WireReader
    var sawOPT = false

    init(_ r: WireReader) { self.r = r }

    /// The fewest octets a question (root name, TYPE, CLASS) and a record
    /// (plus TTL and RDLENGTH) can take.
    static let minimumQuestion = 5
    static let minimumRecord = 11

    mutating func parse() throws(WireError) -> Message {
        let header = try Header(from: r.bytes)
        let qd = Int(header.qdCount)
        let an = Int(header.anCount), ns = Int(header.nsCount), ar = Int(header.arCount)
        // Reject counts the message cannot hold before reserving room for them.
        guard Header.size + qd * Self.minimumQuestion + (an + ns + ar) * Self.minimumRecord <= r.count else {
            throw WireError(.badCount, .header, at: 4)
        }
        var pos = Header.size
        var questions: [Question] = []
        questions.reserveCapacity(qd)
        for _ in 0..<qd {
            let (name, end) = try readName(at: pos, .questionName)
            let type = RRType(try r.u16(at: end, .questionType))
            let cls = RRClass(try r.u16(at: end + 2, .questionClass))
            questions.append(Question(name: name, type: type, class: cls))
            pos = end + 4
        }
        let answers = try readSection(.answer, count: an, at: &pos)
        let authority = try readSection(.authority, count: ns, at: &pos)
        let additional = try readSection(.additional, count: ar, at: &pos)
        guard pos == r.count else { throw WireError(.trailingData, .header, at: pos) }
        return Message(header: header, questions: questions, answers: answers,
                       authority: authority, additional: additional)
    }

    mutating func readSection(_ section: Section, count: Int, at pos: inout Int) throws(WireError) -> [Record] {
        var records: [Record] = []
        records.reserveCapacity(count)
        for _ in 0..<count {
            records.append(try readRecord(section, at: &pos))
        }
        return records
    }

    mutating func readRecord(_ section: Section, at pos: inout Int) throws(WireError) -> Record {
        let owner = pos
        let (name, nameEnd) = try readName(at: pos, .recordName)
        let type = RRType(try r.u16(at: nameEnd, .recordType))
        let cls = RRClass(try r.u16(at: nameEnd + 2, .recordClass))
        let ttl = try r.u32(at: nameEnd + 4, .recordTTL)
        let rdLength = Int(try r.u16(at: nameEnd + 8, .rdLength))
        let start = nameEnd + 10
        guard start + rdLength <= r.count else { throw WireError(.badRDLength, .rdLength, at: nameEnd + 8) }
        if type == .opt {
            // RFC 6891 §6.1.1: one OPT at most, in the additional section, and its
            // owner "MUST be 0": the root label itself, not a pointer to one.
            guard section == .additional, !sawOPT, nameEnd == owner + 1, name.wire.count == 1 else {
                throw WireError(.badOPT, .recordType, at: nameEnd)
            }
            sawOPT = true
        }
        let rdata = try readRData(type: type, class: cls, from: start, to: start + rdLength)
        pos = start + rdLength
        return Record(name: name, type: type, class: cls, ttl: ttl, rdata: rdata)
    }

    /// Reads RDATA `start ..< end`; typed RDATA must fill it exactly.
    func readRData(type: RRType, class cls: RRClass, from start: Int, to end: Int) throws(WireError) -> RData {
        let length = end - start
        let typed = RData.isTyped(type, class: cls)
            && !(length == 0 && type != .opt && (cls == .any || cls == .none))
        guard typed else { return .opaque(Array(r.bytes[start..<end])) }

        func exact(_ at: Int) throws(WireError) {
            guard at == end else { throw WireError(.badRData, .rdata, at: start) }
        }
        func name(at o: Int) throws(WireError) -> (DNSName, Int) {
            let (n, e) = try readName(at: o, .rdata)
            guard e <= end else { throw WireError(.badRData, .rdata, at: o) }
            return (n, e)
        }

        switch type {
        case .a:
            try exact(start + 4)
            return .a(IPv4Address(rawValue: try r.u32(at: start, .rdata)))
        case .aaaa:
            try exact(start + 16)
            var high: UInt64 = 0, low: UInt64 = 0
            for i in 0..<8 { high = high << 8 | UInt64(r.bytes[start + i]) }
            for i in 8..<16 { low = low << 8 | UInt64(r.bytes[start + i]) }
            return .aaaa(IPv6Address(high: high, low: low))
        case .ns, .cname, .ptr:
            let (n, e) = try name(at: start)
            try exact(e)
            return type == .ns ? .ns(n) : type == .cname ? .cname(n) : .ptr(n)
        case .soa:
            let (mname, e1) = try name(at: start)
            let (rname, e2) = try name(at: e1)
            try exact(e2 + 20)
            return .soa(SOA(mname: mname, rname: rname, serial: try r.u32(at: e2, .rdata),
                            refresh: try r.u32(at: e2 + 4, .rdata), retry: try r.u32(at: e2 + 8, .rdata),
                            expire: try r.u32(at: e2 + 12, .rdata), minimum: try r.u32(at: e2 + 16, .rdata)))
        case .mx:
            guard length >= 3 else { throw WireError(.badRData, .rdata, at: start) }
            let (n, e) = try name(at: start + 2)
            try exact(e)
            return .mx(preference: try r.u16(at: start, .rdata), exchange: n)
        case .srv:
            guard length >= 7 else { throw WireError(.badRData, .rdata, at: start) }
            // RFC 2782 forbids compressing the target; RFC 3597 §4 asks
            // receivers to accept it anyway, so readName follows pointers here.
            let (n, e) = try name(at: start + 6)
            try exact(e)
            return .srv(SRV(priority: try r.u16(at: start, .rdata), weight: try r.u16(at: start + 2, .rdata),
                            port: try r.u16(at: start + 4, .rdata), target: n))
        case .txt:
            // One or more <character-string>s that end exactly at RDLENGTH.
            guard length >= 1 else { throw WireError(.badRData, .rdata, at: start) }
            var strings: [[UInt8]] = []
            var o = start
            while o < end {
                let n = Int(r.bytes[o])
                guard o + 1 + n <= end else { throw WireError(.badRData, .rdata, at: o) }
                strings.append(Array(r.bytes[(o + 1)..<(o + 1 + n)]))
                o += 1 + n
            }
            return .txt(strings)
        case .opt:
            // (code, length, data) triples that fill RDATA exactly.
            var options: [EDNSOption] = []
            var o = start
            while o < end {
                guard o + 4 <= end else { throw WireError(.badOPT, .optOption, at: o) }
                let code = try r.u16(at: o, .optOption)
                let n = Int(try r.u16(at: o + 2, .optOption))
                guard o + 4 + n <= end else { throw WireError(.badOPT, .optOption, at: o) }
                options.append(EDNSOption(code: code, data: Array(r.bytes[(o + 4)..<(o + 4 + n)])))
                o += 4 + n
            }
            return .opt(options)
        default:
            return .opaque(Array(r.bytes[start..<end]))
        }
    }

    /// Reads a (possibly compressed) name and copies it out uncompressed, case kept.
    func readName(at offset: Int, _ field: WireError.Field) throws(WireError) -> (DNSName, end: Int) {
        var wire: [UInt8] = []
        wire.reserveCapacity(32)
        let (end, _) = try r.walkName(at: offset, field) { label, lengthOctet in
            wire.append(lengthOctet)
            wire.append(contentsOf: label)
        }
        return (DNSName(uncheckedWire: wire), end)
    }
}
