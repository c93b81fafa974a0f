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
