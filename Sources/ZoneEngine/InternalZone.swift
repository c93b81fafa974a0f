/// The `internal.` zone: the names sixpn answers itself rather than forwarding.
public enum InternalZone {
    /// `internal.` in wire format.
    static let apex: [UInt8] = [8] + Array("internal".utf8) + [0]

    /// True when a lowercased wire-format name is `internal.` or below it.
    @inlinable
    public static func contains(lowercasedName name: UnsafeRawBufferPointer) -> Bool {
        suffixOffset(name) >= 0
    }

    /// Where `internal.` starts inside a lowercased wire-format `name` (on a
    /// label boundary), or -1.
    ///
    /// Every query asks this once (the Server's route, which hands the offset
    /// to ``Snapshot/answer(name:internalAt:type:network:host:rotation:into:)``),
    /// so the suffix is compared as two words, not ten octets, before the
    /// walk over the labels ahead of it checks that it starts a label.
    @inlinable
    public static func suffixOffset(_ name: UnsafeRawBufferPointer) -> Int {
        let n = name.count
        guard n >= 10, let base = name.baseAddress else { return -1 }
        let start = n - 10
        // "\u{8}interna" and "l\u{0}" as they lie in memory, on either byte order.
        guard base.loadUnaligned(fromByteOffset: start, as: UInt64.self) == UInt64(littleEndian: 0x616e_7265_746e_6908),
              base.loadUnaligned(fromByteOffset: start + 8, as: UInt16.self) == UInt16(littleEndian: 0x006c)
        else { return -1 }
        var i = 0
        while i < start { i &+= 1 &+ Int(name[i]) }  // i stays below start + 256: no overflow
        return i == start ? start : -1
    }
}
