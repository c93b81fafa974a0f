/// The data of a resource record, typed for the types sixpn reads and writes,
/// opaque for every other (RFC 3597).
///
/// Which case a parsed record gets: A, AAAA and SRV are typed only in class
/// IN (their layout is defined for IN alone); NS, CNAME, PTR, SOA, MX and TXT
/// in every class; OPT always. Everything else, and an empty RDATA in class
/// ANY or NONE (the "delete" forms of RFC 2136 §2.5), is `.opaque`, kept octet
/// for octet and written back unchanged, with no name inside it ever
/// compressed or decompressed (RFC 3597 §4).
public enum RData: Hashable, Sendable {
    case a(IPv4Address)
    case aaaa(IPv6Address)
    case ns(DNSName)
    case cname(DNSName)
    case ptr(DNSName)
    case soa(SOA)
    case mx(preference: UInt16, exchange: DNSName)
    /// One or more character-strings of at most 255 octets each (RFC 1035 §3.3.14).
    case txt([[UInt8]])
    case srv(SRV)
    /// The options of an OPT pseudo-record; its other fields live in the
    /// record's CLASS and TTL (see ``EDNSRecord``).
    case opt([EDNSOption])
    /// RDATA of a type (or class) this module does not interpret.
    case opaque([UInt8])

    /// A TXT RDATA holding `text`, split into as many 255-octet
    /// character-strings as it needs (one empty string for empty text).
    public static func txt(splitting text: [UInt8]) -> RData {
        guard !text.isEmpty else { return .txt([[]]) }
        var strings: [[UInt8]] = []
        var i = 0
        while i < text.count {
            let end = min(i + 255, text.count)
            strings.append(Array(text[i..<end]))
            i = end
        }
        return .txt(strings)
    }

    /// The type whose RDATA layout this case is, or nil for `.opaque`.
    public var typedType: RRType? {
        switch self {
        case .a: .a
        case .aaaa: .aaaa
        case .ns: .ns
        case .cname: .cname
        case .ptr: .ptr
        case .soa: .soa
        case .mx: .mx
        case .txt: .txt
        case .srv: .srv
        case .opt: .opt
        case .opaque: nil
        }
    }

    /// True when a record of `type` and `class` is read as a typed case
    /// (the rule in the type's description).
    public static func isTyped(_ type: RRType, class rrClass: RRClass) -> Bool {
        switch type {
        case .a, .aaaa, .srv: rrClass == .internet
        case .ns, .cname, .ptr, .soa, .mx, .txt, .opt: true
        default: false
        }
    }
}

/// Start of authority RDATA (RFC 1035 §3.3.13).
public struct SOA: Hashable, Sendable {
    public var mname: DNSName
    public var rname: DNSName
    public var serial: UInt32
    public var refresh: UInt32
    public var retry: UInt32
    public var expire: UInt32
    /// The negative-caching TTL (RFC 2308 §4).
    public var minimum: UInt32

    public init(mname: DNSName, rname: DNSName, serial: UInt32, refresh: UInt32, retry: UInt32,
                expire: UInt32, minimum: UInt32) {
        self.mname = mname
        self.rname = rname
        self.serial = serial
        self.refresh = refresh
        self.retry = retry
        self.expire = expire
        self.minimum = minimum
    }
}

/// Service location RDATA (RFC 2782). Its target is never compressed on output.
public struct SRV: Hashable, Sendable {
    public var priority: UInt16
    public var weight: UInt16
    public var port: UInt16
    public var target: DNSName

    public init(priority: UInt16, weight: UInt16, port: UInt16, target: DNSName) {
        self.priority = priority
        self.weight = weight
        self.port = port
        self.target = target
    }
}

/// One EDNS option, kept opaque: its code and its data (RFC 6891 §6.1.2).
public struct EDNSOption: Hashable, Sendable {
    public var code: UInt16
    public var data: [UInt8]

    public init(code: UInt16, data: [UInt8]) {
        self.code = code
        self.data = data
    }

    /// DNS cookie (RFC 7873).
    public static let cookie: UInt16 = 10
    /// Padding (RFC 7830).
    public static let padding: UInt16 = 12
    /// Extended DNS Error (RFC 8914).
    public static let extendedError: UInt16 = 15
}

/// INFO-CODEs of Extended DNS Errors (RFC 8914 §4) that sixpn sends.
public enum ExtendedDNSError {
    /// §4.4: the answer is stale (RFC 8767), its upstreams unreachable.
    public static let staleAnswer: UInt16 = 3
    /// §4.20: a stale NXDOMAIN.
    public static let staleNXDomain: UInt16 = 19
    /// §4.23: no upstream could be reached (every one timed out or failed).
    public static let noReachableAuthority: UInt16 = 22
    /// §4.1: none of the others; RFC 8914 asks for an EXTRA-TEXT with it.
    public static let other: UInt16 = 0
}

/// The EXTRA-TEXTs (RFC 8914 §2) sixpn's Extended DNS Errors carry, by number,
/// so that a ``ResponseWriter`` holds one octet for one.
public enum ExtendedErrorText: UInt8, Sendable {
    case none = 0
    /// With ``ExtendedDNSError/other``: every slot for an upstream query is taken.
    case upstreamCapacity = 1

    public var text: StaticString {
        switch self {
        case .none: ""
        case .upstreamCapacity: "upstream queries at capacity"
        }
    }
}
