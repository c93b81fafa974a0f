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
        let high = Self.networkPrefixHigh(network) | UInt64(host >> 16)
        let lowWord = UInt64(host & 0xffff) << 48 | UInt64(instance) << 16 | UInt64(low)
        self.address = IPv6Address(high: high, low: lowWord)
    }

    @inlinable
    public static func isSixPN(_ a: IPv6Address) -> Bool {
        isSixPN(high: a.high)
    }

    // The layout, over an address's two big-endian 64-bit halves: the one
    // place that knows where each field sits (the Server's trust rule, the
    // reverse zone and the snapshot read it through these).

    /// Whether an address whose first 64 bits are `high` is inside fdaa::/16.
    @inlinable @inline(__always)
    public static func isSixPN(high: UInt64) -> Bool { high >> 48 == UInt64(prefix) }
    /// The network ID (bits 16-47) of an address whose first 64 bits are `high`.
    @inlinable @inline(__always)
    public static func network(high: UInt64) -> UInt32 { UInt32(truncatingIfNeeded: high >> 16) }
    /// The host ID (bits 48-79) of an address with these halves.
    @inlinable @inline(__always)
    public static func host(high: UInt64, low: UInt64) -> UInt32 {
        UInt32(truncatingIfNeeded: (high & 0xffff) << 16 | low >> 48)
    }
    /// The first 64 bits of an organization's /48, `fdaa:NNNN:NNNN::`, and the mask of the /48 in them.
    @inlinable @inline(__always)
    public static func networkPrefixHigh(_ network: UInt32) -> UInt64 { UInt64(prefix) << 48 | UInt64(network) << 16 }
    public static let networkPrefixMask: UInt64 = 0xffff_ffff_ffff_0000

    /// The organization's network ID (bits 16-47).
    public var network: UInt32 { Self.network(high: address.high) }
    /// The host ID (bits 48-79).
    public var host: UInt32 { Self.host(high: address.high, low: address.low) }
    /// The instance ID (bits 80-111).
    public var instance: UInt32 { UInt32(truncatingIfNeeded: address.low >> 16) }
    /// The 16 free bits (112-127).
    public var low: UInt16 { UInt16(truncatingIfNeeded: address.low) }

    /// The organization's /48 prefix address (fdaa:NNNN:NNNN::).
    public var networkPrefix: IPv6Address {
        IPv6Address(high: address.high & Self.networkPrefixMask, low: 0)
    }
    /// The instance's /112 prefix address.
    public var instancePrefix: IPv6Address {
        IPv6Address(high: address.high, low: address.low & ~0xffff)
    }

    public var description: String { address.description }
}

extension SixPNAddress {
    /// Parses the text form from raw UTF-8 octets without allocating (``IPv6Address/init(utf8:)``,
    /// the one parser); nil when it is not an address in fdaa::/16.
    init?(utf8 s: UnsafeRawBufferPointer) {
        guard let a = IPv6Address(utf8: s) else { return nil }
        self.init(a)
    }
}
