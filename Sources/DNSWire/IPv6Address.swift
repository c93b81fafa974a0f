/// A 128-bit IPv6 address, stored as 16 network-order bytes inline (no heap).
///
/// Text forms follow RFC 4291 §2.2 on input (including an embedded IPv4 tail)
/// and RFC 5952 on output (lowercase, longest zero run compressed).
public struct IPv6Address: Hashable, Sendable, Comparable, BitwiseCopyable, CustomStringConvertible {
    /// The address as two big-endian 64-bit halves: `high` holds bytes 0-7.
    public var high: UInt64
    public var low: UInt64

    public init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }

    /// Builds an address from exactly 16 bytes in network order.
    public init?<C: Collection>(bytes: C) where C.Element == UInt8 {
        guard bytes.count == 16 else { return nil }
        var h: UInt64 = 0, l: UInt64 = 0
        for (i, b) in bytes.enumerated() {
            if i < 8 { h = h << 8 | UInt64(b) } else { l = l << 8 | UInt64(b) }
        }
        self.init(high: h, low: l)
    }

    /// The address as 8 groups of 16 bits.
    public var groups: [UInt16] {
        (0..<8).map { group(at: $0) }
    }

    /// Group `i` (0...7) of the address.
    @inlinable
    public func group(at i: Int) -> UInt16 {
        let word = i < 4 ? high : low
        return UInt16(truncatingIfNeeded: word >> UInt64((3 - i % 4) * 16))
    }

    /// Byte `i` (0...15) of the address in network order.
    @inlinable
    public func byte(at i: Int) -> UInt8 {
        let word = i < 8 ? high : low
        return UInt8(truncatingIfNeeded: word >> UInt64((7 - i % 8) * 8))
    }

    /// The 16 bytes in network order.
    public var bytes: [UInt8] {
        (0..<16).map { byte(at: $0) }
    }

    /// Calls `body` with the 16 network-order bytes, without allocating.
    @inlinable
    public func withBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        var tuple = (high.bigEndian, low.bigEndian)
        return try withUnsafeBytes(of: &tuple) { try body($0) }
    }

    /// Parses the RFC 4291 text form. Returns nil for anything else
    /// (zone IDs and prefix lengths are not part of an address).
    public init?(_ text: some StringProtocol) {
        var groups: [UInt16] = []
        var gapIndex: Int? = nil
        let utf8 = Array(text.utf8)
        guard !utf8.isEmpty, utf8.count <= 45 else { return nil }
        var i = 0
        if utf8.starts(with: [UInt8(ascii: ":"), UInt8(ascii: ":")]) {
            gapIndex = 0
            i = 2
            if i == utf8.count { self.init(high: 0, low: 0); return }
        } else if utf8[0] == UInt8(ascii: ":") {
            return nil
        }
        while i < utf8.count {
            // One group, or an IPv4 tail.
            var j = i
            var value: UInt32 = 0
            var digits = 0
            while j < utf8.count, let d = Self.hexValue(utf8[j]) {
                value = value << 4 | UInt32(d)
                digits += 1
                j += 1
                if digits > 4 { return nil }
            }
            if j < utf8.count, utf8[j] == UInt8(ascii: ".") {
                guard let v4 = IPv4Address(utf8: utf8[i...])?.rawValue else { return nil }
                groups.append(UInt16(v4 >> 16))
                groups.append(UInt16(v4 & 0xffff))
                i = utf8.count
                break
            }
            guard digits > 0 else { return nil }
            groups.append(UInt16(value))
            i = j
            if i == utf8.count { break }
            guard utf8[i] == UInt8(ascii: ":") else { return nil }
            i += 1
            if i < utf8.count, utf8[i] == UInt8(ascii: ":") {
                guard gapIndex == nil else { return nil }
                gapIndex = groups.count
                i += 1
                if i == utf8.count { break }
            } else if i == utf8.count {
                return nil
            }
        }
        if let gap = gapIndex {
            guard groups.count <= 7 else { return nil }
            groups.insert(contentsOf: repeatElement(0, count: 8 - groups.count), at: gap)
        }
        guard groups.count == 8 else { return nil }
        var h: UInt64 = 0, l: UInt64 = 0
        for (k, g) in groups.enumerated() {
            if k < 4 { h = h << 16 | UInt64(g) } else { l = l << 16 | UInt64(g) }
        }
        self.init(high: h, low: l)
    }

    private static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
        default: return nil
        }
    }

    /// RFC 5952 text: lowercase hex, no leading zeros, the longest run
    /// (first on a tie) of two or more zero groups written as "::".
    public var description: String {
        let g = groups
        var bestStart = -1, bestLen = 0
        var k = 0
        while k < 8 {
            if g[k] == 0 {
                var e = k
                while e < 8, g[e] == 0 { e += 1 }
                if e - k > bestLen { bestStart = k; bestLen = e - k }
                k = e
            } else {
                k += 1
            }
        }
        if bestLen < 2 { bestStart = -1 }
        var out = ""
        var idx = 0
        while idx < 8 {
            if idx == bestStart {
                out += "::"
                idx += bestLen
                continue
            }
            if !out.isEmpty, !out.hasSuffix(":") { out += ":" }
            out += String(g[idx], radix: 16)
            idx += 1
        }
        return out
    }

    @inlinable
    public static func < (a: IPv6Address, b: IPv6Address) -> Bool {
        (a.high, a.low) < (b.high, b.low)
    }
}
