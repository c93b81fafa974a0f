import DNSWire

/// The reverse zone of the 6PN, `a.a.d.f.ip6.arpa.` (fdaa::/16): sixpn
/// answers its PTR names itself, for the querier's organization, and never
/// forwards them. A private address asked of a public resolver would leak
/// the network's layout and could only come back NXDOMAIN (RFC 6303 §4.2 has
/// recursive servers keep ULA reverse names local for that reason).
public enum ReverseZone {
    /// `a.a.d.f.ip6.arpa.` in wire format.
    static let apex: [UInt8] = [1, 0x61, 1, 0x61, 1, 0x64, 1, 0x66, 3] + Array("ip6".utf8) + [4] + Array("arpa".utf8) + [0]

    /// Nibble labels an address has below the apex (32 nibbles, 4 of them in `fdaa`).
    static let nibblesBelowApex = 28

    /// Where `a.a.d.f.ip6.arpa.` starts inside a lowercased wire-format
    /// `name` (on a label boundary), or -1. Asked only of names that are
    /// not under `internal.`, before they would go upstream.
    @inlinable
    public static func suffixOffset(_ name: UnsafeRawBufferPointer) -> Int {
        let n = name.count
        guard n >= 18, let base = name.baseAddress else { return -1 }
        let start = n - 18
        // "\1a\1a\1d\1f" and "\3ip6\4arpa\0" as they lie in memory, on either byte order.
        guard base.loadUnaligned(fromByteOffset: start, as: UInt64.self) == UInt64(littleEndian: 0x6601_6401_6101_6101),
              base.loadUnaligned(fromByteOffset: start + 8, as: UInt64.self) == UInt64(littleEndian: 0x7072_6104_3670_6903),
              base.loadUnaligned(fromByteOffset: start + 16, as: UInt16.self) == UInt16(littleEndian: 0x0061)
        else { return -1 }
        return labelStarts(at: start, in: name) ? start : -1
    }

    /// The address bits a name below the apex spells, and how many of the
    /// 32 nibbles it gives (4 and up: `fdaa` is the apex's own). Nil when a
    /// label is not one hex digit or there are more than 32 nibbles: no such
    /// name exists. `name` is lowercased; its apex starts at `apexAt`.
    static func prefix(_ name: UnsafeRawBufferPointer, apexAt: Int) -> (address: IPv6Address, nibbles: Int)? {
        guard apexAt % 2 == 0, apexAt / 2 <= nibblesBelowApex else { return nil }
        var high = UInt64(SixPNAddress.prefix) << 48
        var low: UInt64 = 0
        let nibbles = 4 + apexAt / 2
        // The first label is the last nibble given.
        var position = nibbles - 1
        var i = 0
        while i < apexAt {
            guard name[i] == 1 else { return nil }
            let c = name[i + 1]
            let v: UInt64
            switch c {
            case 0x30...0x39: v = UInt64(c - 0x30)
            case 0x61...0x66: v = UInt64(c - 0x61 + 10)
            default: return nil
            }
            if position < 16 { high |= v << UInt64(60 - 4 * position) } else { low |= v << UInt64(60 - 4 * (position - 16)) }
            position -= 1
            i += 2
        }
        return (IPv6Address(high: high, low: low), nibbles)
    }
}
