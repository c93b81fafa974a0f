extension Message {
    /// Writes the message in wire format.
    ///
    /// With `compress`, names are compressed (RFC 1035 §4.1.4) where that is
    /// allowed: question and owner names, and the names inside NS, CNAME,
    /// PTR, SOA and MX RDATA. Never inside SRV RDATA (RFC 2782) or opaque
    /// RDATA (RFC 3597 §4). A suffix is matched octet for octet, so the case
    /// of every name is written exactly as given; each pointer goes to the
    /// first place the suffix was written. For the answers NSD writes this
    /// gives the same octets (the golden fixtures check it).
    ///
    /// The header's counts are taken from the sections. Throws what the
    /// parser would reject: counts over 65535, a message over 65535 octets,
    /// RDATA whose case does not match the record's type, an empty TXT or a
    /// character-string over 255 octets, a misplaced or second OPT record.
    public func encoded(compress: Bool = true) throws(WireError) -> [UInt8] {
        var w = WireWriter(compress: compress)
        var h = header
        guard questions.count <= 0xffff, answers.count <= 0xffff, authority.count <= 0xffff,
              additional.count <= 0xffff else { throw WireError(.badCount, .header, at: 4) }
        h.qdCount = UInt16(questions.count)
        h.anCount = UInt16(answers.count)
        h.nsCount = UInt16(authority.count)
        h.arCount = UInt16(additional.count)
        w.u16(h.id); w.u16(h.flags); w.u16(h.qdCount); w.u16(h.anCount); w.u16(h.nsCount); w.u16(h.arCount)
        for q in questions {
            try w.name(q.name, compressible: true)
            w.u16(q.type.rawValue)
            w.u16(q.class.rawValue)
        }
        var sawOPT = false
        for (section, records) in [(Section.answer, answers), (.authority, authority), (.additional, additional)] {
            for r in records {
                if r.type == .opt {
                    guard section == .additional, !sawOPT, r.name.wire == [0] else {
                        throw WireError(.badOPT, .recordType, at: w.bytes.count)
                    }
                    sawOPT = true
                }
                try w.record(owner: r.name, type: r.type, class: r.class, ttl: r.ttl, rdata: r.rdata)
            }
        }
        guard w.bytes.count <= 0xffff else { throw WireError(.noSpace, .output, at: 0xffff) }
        return w.bytes
    }
}

/// Appends wire format to an array, compressing names when asked to.
///
/// Not for the query path (it grows an array and keeps a table of suffixes):
/// for tools, tests, the forwarder and for preparing records ahead of time.
struct WireWriter {
    var bytes: [UInt8] = []
    /// Where each name suffix was first written; nil when not compressing.
    var suffixes: [[UInt8]: Int]?

    init(compress: Bool) {
        suffixes = compress ? [:] : nil
    }

    mutating func u8(_ v: UInt8) { bytes.append(v) }

    mutating func u16(_ v: UInt16) {
        bytes.append(UInt8(v >> 8))
        bytes.append(UInt8(truncatingIfNeeded: v))
    }

    mutating func u32(_ v: UInt32) {
        u16(UInt16(v >> 16))
        u16(UInt16(truncatingIfNeeded: v))
    }

    /// Writes `name`; where compressing and `compressible`, its longest suffix
    /// already in the message becomes a pointer, and its own suffixes become
    /// targets for later pointers (when they start below 0x4000). A name in
    /// a place that is never compressed (SRV) is not a target either, as in
    /// NSD: nothing points into RDATA that a middlebox may not understand.
    mutating func name(_ name: DNSName, compressible: Bool) throws(WireError) {
        let wire = name.wire
        guard wire.count <= 255 else { throw WireError(.nameTooLong, .output, at: bytes.count) }
        var i = 0
        while true {
            // DNSName(uncheckedWire:) is trusted by the caller; check the walk anyway.
            guard i < wire.count else { throw WireError(.badName, .output, at: bytes.count) }
            let n = Int(wire[i])
            if n == 0 { break }
            guard n <= 63, i + 1 + n < wire.count else { throw WireError(.badName, .output, at: bytes.count) }
            if compressible, suffixes != nil {
                let suffix = Array(wire[i...])
                if let target = suffixes![suffix] {
                    u16(0xc000 | UInt16(target))
                    return
                }
                if bytes.count < 0x4000 { suffixes![suffix] = bytes.count }
            }
            bytes.append(contentsOf: wire[i...(i + n)])
            i += 1 + n
        }
        bytes.append(0)
    }

    /// Writes one record after its owner: TYPE, CLASS, TTL, RDLENGTH and RDATA.
    mutating func record(owner: DNSName, type: RRType, class rrClass: RRClass, ttl: UInt32,
                         rdata: RData) throws(WireError) {
        try name(owner, compressible: true)
        try fields(type: type, class: rrClass, ttl: ttl, rdata: rdata)
    }

    /// Everything of a record after its owner name.
    mutating func fields(type: RRType, class rrClass: RRClass, ttl: UInt32, rdata: RData) throws(WireError) {
        if let t = rdata.typedType, t != type { throw WireError(.badRData, .rdata, at: bytes.count) }
        if type == .opt, rdata.typedType == nil { throw WireError(.badOPT, .rdata, at: bytes.count) }
        u16(type.rawValue)
        u16(rrClass.rawValue)
        u32(ttl)
        let lengthAt = bytes.count
        u16(0)
        try self.rdata(rdata)
        let length = bytes.count - lengthAt - 2
        guard length <= 0xffff else { throw WireError(.badRDLength, .rdLength, at: lengthAt) }
        bytes[lengthAt] = UInt8(length >> 8)
        bytes[lengthAt + 1] = UInt8(truncatingIfNeeded: length)
    }

    mutating func rdata(_ rdata: RData) throws(WireError) {
        switch rdata {
        case .a(let a):
            u32(a.rawValue)
        case .aaaa(let a):
            a.withBytes { bytes.append(contentsOf: $0) }
        case .ns(let n), .cname(let n), .ptr(let n):
            try name(n, compressible: true)
        case .soa(let s):
            try name(s.mname, compressible: true)
            try name(s.rname, compressible: true)
            u32(s.serial); u32(s.refresh); u32(s.retry); u32(s.expire); u32(s.minimum)
        case .mx(let preference, let exchange):
            u16(preference)
            try name(exchange, compressible: true)
        case .srv(let s):
            u16(s.priority); u16(s.weight); u16(s.port)
            try name(s.target, compressible: false)
        case .txt(let strings):
            guard !strings.isEmpty else { throw WireError(.badRData, .rdata, at: bytes.count) }
            for s in strings {
                guard s.count <= 255 else { throw WireError(.badRData, .rdata, at: bytes.count) }
                u8(UInt8(s.count))
                bytes.append(contentsOf: s)
            }
        case .opt(let options):
            for o in options {
                guard o.data.count <= 0xffff else { throw WireError(.badOPT, .optOption, at: bytes.count) }
                u16(o.code)
                u16(UInt16(o.data.count))
                bytes.append(contentsOf: o.data)
            }
        case .opaque(let data):
            bytes.append(contentsOf: data)
        }
    }
}
