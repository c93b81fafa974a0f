/// A 32-bit IPv4 address, held inline (the RDATA of an A record).
public struct IPv4Address: Hashable, Sendable, CustomStringConvertible {
    /// The address in host order: `a.b.c.d` is `a << 24 | b << 16 | c << 8 | d`.
    public var rawValue: UInt32

    public init(rawValue: UInt32) { self.rawValue = rawValue }

    public init(_ a: UInt8, _ b: UInt8, _ c: UInt8, _ d: UInt8) {
        rawValue = UInt32(a) << 24 | UInt32(b) << 16 | UInt32(c) << 8 | UInt32(d)
    }

    /// Parses dotted-quad text: four decimal octets, no sign, no leading zeros
    /// (which some parsers read as octal).
    public init?(_ text: some StringProtocol) {
        self.init(utf8: text.utf8)
    }

    /// The same, over UTF-8 octets (IPv6Address uses it for an embedded IPv4 tail).
    init?(utf8: some Sequence<UInt8>) {
        var value: UInt32 = 0, octet: UInt32 = 0, digits = 0, dots = 0
        for c in utf8 {
            if c == UInt8(ascii: ".") {
                guard digits > 0, dots < 3 else { return nil }
                value = value << 8 | octet
                octet = 0; digits = 0; dots += 1
            } else if c >= UInt8(ascii: "0"), c <= UInt8(ascii: "9") {
                guard !(digits == 1 && octet == 0) else { return nil }
                octet = octet * 10 + UInt32(c - UInt8(ascii: "0"))
                digits += 1
                guard octet <= 255 else { return nil }
            } else {
                return nil
            }
        }
        guard digits > 0, dots == 3 else { return nil }
        rawValue = value << 8 | octet
    }

    /// The four octets in network order.
    public var bytes: [UInt8] {
        [UInt8(rawValue >> 24), UInt8(truncatingIfNeeded: rawValue >> 16),
         UInt8(truncatingIfNeeded: rawValue >> 8), UInt8(truncatingIfNeeded: rawValue)]
    }

    public var description: String { bytes.map { String($0) }.joined(separator: ".") }
}
