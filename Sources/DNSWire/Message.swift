/// One entry of the question section (RFC 1035 §4.1.2).
public struct Question: Hashable, Sendable {
    public var name: DNSName
    public var type: RRType
    public var `class`: RRClass

    public init(name: DNSName, type: RRType, class: RRClass = .internet) {
        self.name = name
        self.type = type
        self.class = `class`
    }
}

/// A resource record (RFC 1035 §4.1.3). The OPT pseudo-record is one too,
/// with its payload size in `class` and its flags in `ttl` (see ``EDNSRecord``).
public struct Record: Hashable, Sendable {
    public var name: DNSName
    public var type: RRType
    public var `class`: RRClass
    public var ttl: UInt32
    public var rdata: RData

    public init(name: DNSName, type: RRType, class: RRClass = .internet, ttl: UInt32, rdata: RData) {
        self.name = name
        self.type = type
        self.class = `class`
        self.ttl = ttl
        self.rdata = rdata
    }
}

/// A whole DNS message, owned: for tools, tests, the forwarder's cache and
/// building zones. The query path uses ``Query`` and ``ResponseWriter`` instead.
///
/// Read one with ``init(parsing:)`` and write one with ``encoded(compress:)``.
/// The header's four counts are whatever was read; encoding writes the real
/// sizes of the sections, and equality ignores the header's counts.
public struct Message: Hashable, Sendable {
    public var header: Header
    public var questions: [Question]
    public var answers: [Record]
    public var authority: [Record]
    /// The additional section, the OPT record included where the message has one.
    public var additional: [Record]

    public init(header: Header, questions: [Question] = [], answers: [Record] = [],
                authority: [Record] = [], additional: [Record] = []) {
        self.header = header
        self.questions = questions
        self.answers = answers
        self.authority = authority
        self.additional = additional
        syncCounts()
    }

    /// Sets the header's counts to the sizes of the sections (saturating at 65535).
    public mutating func syncCounts() {
        header.qdCount = UInt16(clamping: questions.count)
        header.anCount = UInt16(clamping: answers.count)
        header.nsCount = UInt16(clamping: authority.count)
        header.arCount = UInt16(clamping: additional.count)
    }

    /// The EDNS facts of the OPT record, when there is one.
    public var edns: EDNSRecord? {
        for r in additional where r.type == .opt {
            return EDNSRecord(r)
        }
        return nil
    }

    /// The full response code: the header's 4 bits and, with EDNS, the OPT's upper 8 (RFC 6891 §6.1.3).
    public var rcode: RCode {
        RCode(UInt16(edns?.extendedRCode ?? 0) << 4 | header.rcodeBits)
    }

    public static func == (a: Message, b: Message) -> Bool {
        a.header.id == b.header.id && a.header.flags == b.header.flags && a.questions == b.questions
            && a.answers == b.answers && a.authority == b.authority && a.additional == b.additional
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(header.id)
        hasher.combine(header.flags)
        hasher.combine(questions)
        hasher.combine(answers)
        hasher.combine(authority)
        hasher.combine(additional)
    }
}

/// The OPT pseudo-record seen as what it means (RFC 6891 §6.1.2-6.1.3).
public struct EDNSRecord: Hashable, Sendable {
    /// The sender's largest UDP payload (the CLASS field).
    public var udpPayloadSize: UInt16
    /// The upper 8 bits of the 12-bit RCODE (the TTL's first octet).
    public var extendedRCode: UInt8
    public var version: UInt8
    /// DO (0x8000) and the Z bits, as on the wire.
    public var flags: UInt16
    public var options: [EDNSOption]

    public init(udpPayloadSize: UInt16, extendedRCode: UInt8 = 0, version: UInt8 = 0, flags: UInt16 = 0,
                options: [EDNSOption] = []) {
        self.udpPayloadSize = udpPayloadSize
        self.extendedRCode = extendedRCode
        self.version = version
        self.flags = flags
        self.options = options
    }

    /// Reads an OPT record; nil for any other record.
    public init?(_ record: Record) {
        guard record.type == .opt else { return nil }
        let options: [EDNSOption]
        switch record.rdata {
        case .opt(let o): options = o
        default: return nil
        }
        self.init(udpPayloadSize: record.class.rawValue, extendedRCode: UInt8(record.ttl >> 24),
                  version: UInt8(truncatingIfNeeded: record.ttl >> 16),
                  flags: UInt16(truncatingIfNeeded: record.ttl), options: options)
    }

    /// DNSSEC OK (RFC 3225).
    public var dnssecOK: Bool {
        get { flags & EDNS.doBit != 0 }
        set { flags = newValue ? flags | EDNS.doBit : flags & ~EDNS.doBit }
    }

    /// The OPT record that carries these facts: owner root, TYPE 41.
    public var record: Record {
        Record(name: .root, type: .opt, class: RRClass(udpPayloadSize),
               ttl: UInt32(extendedRCode) << 24 | UInt32(version) << 16 | UInt32(flags), rdata: .opt(options))
    }
}
