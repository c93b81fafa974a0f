// The named values below are computed and @inlinable, not `static let`: another module reads a
// `static let` through a swift_once addressor on every use, and the query path uses several per answer.

/// A resource record TYPE (RFC 1035 §3.2.2, IANA registry).
public struct RRType: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt16
    @inlinable public init(rawValue: UInt16) { self.rawValue = rawValue }
    @inlinable public init(_ rawValue: UInt16) { self.rawValue = rawValue }

    @inlinable public static var a: RRType { RRType(1) }
    @inlinable public static var ns: RRType { RRType(2) }
    @inlinable public static var cname: RRType { RRType(5) }
    @inlinable public static var soa: RRType { RRType(6) }
    @inlinable public static var ptr: RRType { RRType(12) }
    @inlinable public static var mx: RRType { RRType(15) }
    @inlinable public static var txt: RRType { RRType(16) }
    @inlinable public static var aaaa: RRType { RRType(28) }
    @inlinable public static var srv: RRType { RRType(33) }
    @inlinable public static var opt: RRType { RRType(41) }
    @inlinable public static var ixfr: RRType { RRType(251) }
    @inlinable public static var axfr: RRType { RRType(252) }
    @inlinable public static var any: RRType { RRType(255) }

    static let names: [UInt16: String] = [
        1: "A", 2: "NS", 5: "CNAME", 6: "SOA", 12: "PTR", 15: "MX", 16: "TXT",
        28: "AAAA", 33: "SRV", 41: "OPT", 251: "IXFR", 252: "AXFR", 255: "ANY",
    ]

    /// The mnemonic, or `TYPEnnn` (RFC 3597 §5).
    public var description: String { Self.names[rawValue] ?? "TYPE\(rawValue)" }
}

/// A resource record CLASS.
public struct RRClass: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt16
    @inlinable public init(rawValue: UInt16) { self.rawValue = rawValue }
    @inlinable public init(_ rawValue: UInt16) { self.rawValue = rawValue }

    @inlinable public static var internet: RRClass { RRClass(1) }
    @inlinable public static var chaos: RRClass { RRClass(3) }
    @inlinable public static var none: RRClass { RRClass(254) }
    @inlinable public static var any: RRClass { RRClass(255) }

    public var description: String {
        switch rawValue {
        case 1: "IN"
        case 3: "CH"
        case 254: "NONE"
        case 255: "ANY"
        default: "CLASS\(rawValue)"
        }
    }
}

/// A response code, 12 bits wide once EDNS's extended bits are added (RFC 6891 §6.1.3).
public struct RCode: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt16
    @inlinable public init(rawValue: UInt16) { self.rawValue = rawValue }
    @inlinable public init(_ rawValue: UInt16) { self.rawValue = rawValue }

    @inlinable public static var noError: RCode { RCode(0) }
    @inlinable public static var formErr: RCode { RCode(1) }
    @inlinable public static var servFail: RCode { RCode(2) }
    @inlinable public static var nxDomain: RCode { RCode(3) }
    @inlinable public static var notImp: RCode { RCode(4) }
    @inlinable public static var refused: RCode { RCode(5) }
    /// EDNS version not supported (needs an OPT record to carry its upper bits).
    @inlinable public static var badVers: RCode { RCode(16) }

    /// The 4 bits that go in the header.
    @inlinable public var headerBits: UInt16 { rawValue & 0xf }
    /// The 8 bits that go in the OPT record's extended RCODE field.
    @inlinable public var extendedBits: UInt8 { UInt8(truncatingIfNeeded: rawValue >> 4) }

    public var description: String {
        switch rawValue {
        case 0: "NOERROR"
        case 1: "FORMERR"
        case 2: "SERVFAIL"
        case 3: "NXDOMAIN"
        case 4: "NOTIMP"
        case 5: "REFUSED"
        case 16: "BADVERS"
        default: "RCODE\(rawValue)"
        }
    }
}

/// The OPCODE field of the header.
public struct Opcode: RawRepresentable, Hashable, Sendable {
    public var rawValue: UInt8
    @inlinable public init(rawValue: UInt8) { self.rawValue = rawValue }
    @inlinable public static var query: Opcode { Opcode(rawValue: 0) }
    @inlinable public static var notify: Opcode { Opcode(rawValue: 4) }
    @inlinable public static var update: Opcode { Opcode(rawValue: 5) }
}

/// The sections of a message.
public enum Section: Int, Sendable {
    case answer = 0, authority = 1, additional = 2
}
