import DNSWire

/// A 6PN address: fdaa::/16, then a 32-bit network ID (the organization),
/// a 32-bit host ID, a 32-bit instance ID and 16 free bits.
///
///     fdaa:NNNN:NNNN:HHHH:HHHH:IIII:IIII:xxxx
///
/// Each instance owns a /112 and each organization a /48.
public struct SixPNAddress: Hashable, Sendable, CustomStringConvertible {
    /// The 16-bit ULA prefix every 6PN address starts with.
    public static let prefix: UInt16 = 0xfdaa

    public let address: IPv6Address

    /// Accepts any address inside fdaa::/16.
    public init?(_ address: IPv6Address) {
        guard Self.isSixPN(address) else { return nil }
        self.address = address
    }

    /// Parses the text form; nil when it is not an IPv6 address in fdaa::/16.
    public init?(_ text: some StringProtocol) {
        guard let a = IPv6Address(text) else { return nil }
        self.init(a)
    }

    /// Builds the address of an instance (its /112's ::0 address, plus `low`).
    public init(network: UInt32, host: UInt32, instance: UInt32, low: UInt16 = 0) {
        let high = UInt64(Self.prefix) << 48 | UInt64(network) << 16 | UInt64(host >> 16)
        let lowWord = UInt64(host & 0xffff) << 48 | UInt64(instance) << 16 | UInt64(low)
        self.address = IPv6Address(high: high, low: lowWord)
    }

    @inlinable
    public static func isSixPN(_ a: IPv6Address) -> Bool {
        a.high >> 48 == UInt64(prefix)
    }

    /// The organization's network ID (bits 16-47).
    public var network: UInt32 { UInt32(truncatingIfNeeded: address.high >> 16) }
    /// The host ID (bits 48-79).
    public var host: UInt32 {
        UInt32(truncatingIfNeeded: (address.high & 0xffff) << 16 | address.low >> 48)
    }
    /// The instance ID (bits 80-111).
    public var instance: UInt32 { UInt32(truncatingIfNeeded: address.low >> 16) }
    /// The 16 free bits (112-127).
    public var low: UInt16 { UInt16(truncatingIfNeeded: address.low) }

    /// The organization's /48 prefix address (fdaa:NNNN:NNNN::).
    public var networkPrefix: IPv6Address {
        IPv6Address(high: address.high & ~0xffff, low: 0)
    }
    /// The instance's /112 prefix address.
    public var instancePrefix: IPv6Address {
        IPv6Address(high: address.high, low: address.low & ~0xffff)
    }

    public var description: String { address.description }
}

extension SixPNAddress {
    /// Parses the RFC 4291 text form from raw UTF-8 octets without allocating
    /// (the snapshot builder reads a million of them straight out of SQLite).
    /// Hex groups and at most one `::`; an embedded IPv4 tail is never a 6PN address.
    init?(utf8 s: UnsafeRawBufferPointer) {
        let n = s.count
        guard n >= 2, n <= 39 else { return nil }
        let parsed: IPv6Address? = withUnsafeTemporaryAllocation(of: UInt16.self, capacity: 8) { g in
            var count = 0, gap = -1, i = 0
            if s[0] == 0x3a {
                guard s[1] == 0x3a else { return nil }
                gap = 0
                i = 2
            }
            while i < n {
                var v: UInt16 = 0
                var digits = 0
                digitLoop: while i < n {
                    let c = s[i]
                    let d: UInt8
                    switch c {
                    case 0x30...0x39: d = c - 0x30
                    case 0x61...0x66: d = c - 0x61 + 10
                    case 0x41...0x46: d = c - 0x41 + 10
                    default: break digitLoop
                    }
                    guard digits < 4 else { return nil }
                    v = v << 4 | UInt16(d)
                    digits += 1
                    i += 1
                }
                guard digits > 0, count < 8 else { return nil }
                g[count] = v
                count += 1
                if i == n { break }
                guard s[i] == 0x3a, i + 1 < n else { return nil }
                i += 1
                if s[i] == 0x3a {
                    guard gap < 0 else { return nil }
                    gap = count
                    i += 1
                    if i == n { break }
                }
            }
            guard gap < 0 ? count == 8 : count < 8 else { return nil }
            // Groups after the gap move to the end; the gap fills with zeros.
            let fill = gap < 0 ? 0 : 8 - count
            var high: UInt64 = 0, low: UInt64 = 0
            for k in 0..<8 {
                let v: UInt16 = gap < 0 || k < gap ? g[k] : k < gap + fill ? 0 : g[k - fill]
                if k < 4 { high = high << 16 | UInt64(v) } else { low = low << 16 | UInt64(v) }
            }
            return IPv6Address(high: high, low: low)
        }
        guard let parsed else { return nil }
        self.init(parsed)
    }
}
