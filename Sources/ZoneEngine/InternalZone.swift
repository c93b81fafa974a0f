/// The `internal.` zone: the names sixpn answers itself rather than forwarding.
public enum InternalZone {
    /// `internal.` in wire format.
    static let apex: [UInt8] = [8] + Array("internal".utf8) + [0]

    /// True when a lowercased wire-format name is `internal.` or below it.
    @inlinable
    public static func contains(lowercasedName name: UnsafeRawBufferPointer) -> Bool {
        suffixOffset(name) >= 0
    }

    /// Where `internal.` starts inside `name` (on a label boundary), or -1.
    @usableFromInline
    static func suffixOffset(_ name: UnsafeRawBufferPointer) -> Int {
        let n = name.count
        guard n >= 10 else { return -1 }
        let start = n - 10
        // "\u{8}internal\u{0}"
        guard name[start] == 8, name[start + 1] == 0x69, name[start + 2] == 0x6e, name[start + 3] == 0x74,
              name[start + 4] == 0x65, name[start + 5] == 0x72, name[start + 6] == 0x6e, name[start + 7] == 0x61,
              name[start + 8] == 0x6c, name[start + 9] == 0 else { return -1 }
        var i = 0
        while i < start { i += 1 + Int(name[i]) }
        return i == start ? start : -1
    }
}
