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
        var string = String(text)
        guard let a = string.withUTF8({ IPv6Address(utf8: UnsafeRawBufferPointer($0)) }) else { return nil }
        self = a
    }

    /// The same over raw UTF-8 octets, without allocating: the one IPv6 text
    /// parser (the snapshot builder reads a million addresses straight out of
    /// SQLite with it). Hex groups of 1-4 digits, at most one `::`, and an
    /// embedded IPv4 tail (`::ffff:192.0.2.1`) as the last 32 bits.
    public init?(utf8 s: UnsafeRawBufferPointer) {
        let n = s.count
        guard n >= 2, n <= 45 else { return nil }
        let parsed: IPv6Address? = withUnsafeTemporaryAllocation(of: UInt16.self, capacity: 8) { g in
            var count = 0, gap = -1, i = 0
            if s[0] == UInt8(ascii: ":") {
                guard s[1] == UInt8(ascii: ":") else { return nil }
                gap = 0
                i = 2
            }
            while i < n {
                let start = i
                var v: UInt16 = 0
                var digits = 0
                while i < n, let d = Self.hexValue(s[i]) {
                    guard digits < 4 else { return nil }
                    v = v << 4 | UInt16(d)
                    digits += 1
                    i += 1
                }
                if i < n, s[i] == UInt8(ascii: ".") {
                    // An IPv4 tail: the last two groups, and the end of the text.
                    guard count <= 6, let v4 = IPv4Address(utf8: UnsafeRawBufferPointer(rebasing: s[start..<n])) else {
                        return nil
                    }
                    g[count] = UInt16(v4.rawValue >> 16)
                    g[count + 1] = UInt16(truncatingIfNeeded: v4.rawValue)
                    count += 2
                    break
                }
                guard digits > 0, count < 8 else { return nil }
                g[count] = v
                count += 1
                if i == n { break }
                guard s[i] == UInt8(ascii: ":"), i + 1 < n else { return nil }
                i += 1
                if s[i] == UInt8(ascii: ":") {
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
        self = parsed
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
        var bestStart = -1, bestLen = 0
        var k = 0
        while k < 8 {
            if group(at: k) == 0 {
                var e = k
                while e < 8, group(at: e) == 0 { e += 1 }
                if e - k > bestLen { bestStart = k; bestLen = e - k }
                k = e
            } else {
                k += 1
            }
        }
        if bestLen < 2 { bestStart = -1 }
        // At most 39 characters, written in place: one allocation (none up to 15).
        return String(unsafeUninitializedCapacity: 39) { out in
            var n = 0
            var idx = 0
            while idx < 8 {
                if idx == bestStart {
                    out[n] = UInt8(ascii: ":")
                    out[n + 1] = UInt8(ascii: ":")
                    n += 2
                    idx += bestLen
                    continue
                }
                if n > 0, out[n - 1] != UInt8(ascii: ":") {
                    out[n] = UInt8(ascii: ":")
                    n += 1
                }
                let v = group(at: idx)
                var shift = 12
                while shift > 0, (v >> shift) & 0xf == 0 { shift -= 4 }
                while shift >= 0 {
                    let d = UInt8(truncatingIfNeeded: (v >> shift) & 0xf)
                    out[n] = d < 10 ? UInt8(ascii: "0") + d : UInt8(ascii: "a") + d - 10
                    n += 1
                    shift -= 4
                }
                idx += 1
            }
            return n
        }
    }

    @inlinable
    public static func < (a: IPv6Address, b: IPv6Address) -> Bool {
        (a.high, a.low) < (b.high, b.low)
    }
}
