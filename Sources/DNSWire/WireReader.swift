/// Bounds-checked reads over a borrowed message, without copying it.
///
/// Every read checks its bounds once and throws a ``WireError`` naming the
/// field and offset; nothing here allocates. The caller keeps the bytes alive.
public struct WireReader {
    public let bytes: UnsafeRawBufferPointer

    @inlinable
    public init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    @inlinable public var count: Int { bytes.count }

    // The reads are always inlined: the query path makes several per query and a call costs more than
    // the read. Bounds are compared without overflow (count - n may be negative, never o + n).

    @inlinable @inline(__always)
    public func u8(at o: Int, _ field: WireError.Field) throws(WireError) -> UInt8 {
        guard o >= 0, o < bytes.count else { throw WireError(.truncated, field, at: o) }
        return bytes.baseAddress.unsafelyUnwrapped.load(fromByteOffset: o, as: UInt8.self)
    }

    @inlinable @inline(__always)
    public func u16(at o: Int, _ field: WireError.Field) throws(WireError) -> UInt16 {
        guard o >= 0, o <= bytes.count &- 2 else { throw WireError(.truncated, field, at: o) }
        return UInt16(bigEndian: bytes.baseAddress.unsafelyUnwrapped.loadUnaligned(fromByteOffset: o, as: UInt16.self))
    }

    @inlinable @inline(__always)
    public func u32(at o: Int, _ field: WireError.Field) throws(WireError) -> UInt32 {
        guard o >= 0, o <= bytes.count &- 4 else { throw WireError(.truncated, field, at: o) }
        return UInt32(bigEndian: bytes.baseAddress.unsafelyUnwrapped.loadUnaligned(fromByteOffset: o, as: UInt32.self))
    }

    /// Walks the (possibly compressed) name at `offset` and checks it.
    ///
    /// Rules: labels of at most 63 octets; no reserved label types; a
    /// compression pointer must point strictly before the label that holds it
    /// and before every earlier jump (so loops are impossible) and past the
    /// header; the uncompressed name is at most 255 octets.
    ///
    /// - Returns: `end`, the offset just past the name where it sits, and
    ///   `length`, the octets of the name written out uncompressed.
    @inlinable @inline(__always)
    public func skipName(at offset: Int, _ field: WireError.Field) throws(WireError) -> (end: Int, length: Int) {
        try walkName(at: offset, field) { _, _ in }
    }

    /// Copies the name at `offset`, uncompressed, into `out` (255 octets suffice),
    /// folding ASCII upper case to lower case when `lowercase` is set (RFC 4343).
    @inlinable
    public func copyName(at offset: Int, _ field: WireError.Field, lowercase: Bool,
                         into out: UnsafeMutableRawBufferPointer) throws(WireError) -> (end: Int, length: Int) {
        var w = 0
        let r = try walkName(at: offset, field) { (label: UnsafeRawBufferPointer, lengthOctet: UInt8) in
            out[w] = lengthOctet
            w += 1
            for b in label {
                out[w] = lowercase && b &- 0x41 < 26 ? b | 0x20 : b
                w += 1
            }
        }
        return r
    }

    /// Calls `body` with each label (and its length octet), the root label last
    /// (empty). Throws on the first rule the name breaks.
    @inlinable
    public func walkName(at offset: Int, _ field: WireError.Field,
                         _ body: (UnsafeRawBufferPointer, UInt8) -> Void) throws(WireError) -> (end: Int, length: Int) {
        let count = bytes.count
        guard offset >= 0, offset < count, let base = bytes.baseAddress else {
            throw WireError(.truncated, field, at: offset)
        }
        // Every position below stays within 0...count (a jump goes backwards), so plain &+ cannot overflow.
        var pos = offset
        var end = -1
        var length = 0
        var limit = offset  // a pointer must point before this
        while true {
            guard pos < count else { throw WireError(.truncated, field, at: pos) }
            let len = base.load(fromByteOffset: pos, as: UInt8.self)
            switch len & 0xc0 {
            case 0x00:
                let n = Int(len)
                let next = pos &+ 1 &+ n
                guard next <= count else { throw WireError(.truncated, field, at: pos) }
                length &+= 1 &+ n
                guard length <= 255 else { throw WireError(.nameTooLong, field, at: pos) }
                body(UnsafeRawBufferPointer(start: base + pos + 1, count: n), len)
                pos = next
                if n == 0 {
                    return (end == -1 ? pos : end, length)
                }
            case 0xc0:
                guard pos &+ 2 <= count else { throw WireError(.truncated, field, at: pos) }
                let target = Int(len & 0x3f) << 8 | Int(base.load(fromByteOffset: pos &+ 1, as: UInt8.self))
                guard target >= Header.size, target < limit, target < pos else {
                    throw WireError(.badPointer, field, at: pos)
                }
                if end == -1 { end = pos &+ 2 }
                limit = target
                pos = target
            default:
                throw WireError(.reservedLabelType, field, at: pos)
            }
        }
    }
}
