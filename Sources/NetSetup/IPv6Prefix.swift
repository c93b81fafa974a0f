import DNSWire

/// An IPv6 prefix: an address whose bits past `length` are zero, and the length.
public struct IPv6Prefix: Hashable, Sendable, CustomStringConvertible {
    public let address: IPv6Address
    public let length: Int

    /// Masks `address` down to its first `length` bits.
    public init(_ address: IPv6Address, length: Int) {
        precondition((0...128).contains(length), "prefix length \(length) is outside 0...128")
        let (h, l) = Self.mask(length)
        self.address = IPv6Address(high: address.high & h, low: address.low & l)
        self.length = length
    }

    /// Parses "ADDR/LEN"; nil when either part is malformed.
    public init?(_ text: some StringProtocol) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let a = IPv6Address(parts[0]), let n = Int(parts[1]), (0...128).contains(n) else {
            return nil
        }
        self.init(a, length: n)
    }

    public func contains(_ a: IPv6Address) -> Bool {
        let (h, l) = Self.mask(length)
        return a.high & h == address.high && a.low & l == address.low
    }

    public var description: String { "\(address)/\(length)" }

    /// The 128-bit mask of a `length`-bit prefix, as high and low halves.
    static func mask(_ length: Int) -> (UInt64, UInt64) {
        let h: UInt64 = length >= 64 ? ~0 : (length == 0 ? 0 : ~0 << UInt64(64 - length))
        let l: UInt64 = length <= 64 ? 0 : (length == 128 ? ~0 : ~0 << UInt64(128 - length))
        return (h, l)
    }
}
