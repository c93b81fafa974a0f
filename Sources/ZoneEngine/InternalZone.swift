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
        return labelStarts(at: start, in: name) ? start : -1
    }
}

/// Whether a label of the wire-format `name` starts at `offset`: the labels
/// are walked from the first (a zone's suffix octets found by comparing
/// words may lie inside a longer label).
@inlinable
func labelStarts(at offset: Int, in name: UnsafeRawBufferPointer) -> Bool {
    var i = 0
    while i < offset { i &+= 1 &+ Int(name[i]) }  // i stays below offset + 256: no overflow
    return i == offset
}
