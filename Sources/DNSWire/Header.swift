/// The fixed 12-octet message header (RFC 1035 §4.1.1).
public struct Header: Hashable, Sendable {
    public var id: UInt16
    /// QR, OPCODE, AA, TC, RD, RA, Z, AD, CD and RCODE, as on the wire.
    public var flags: UInt16
    public var qdCount: UInt16
    public var anCount: UInt16
    public var nsCount: UInt16
    public var arCount: UInt16

    public static let size = 12

    public init(id: UInt16 = 0, flags: UInt16 = 0, qdCount: UInt16 = 0, anCount: UInt16 = 0,
                nsCount: UInt16 = 0, arCount: UInt16 = 0) {
        self.id = id
        self.flags = flags
        self.qdCount = qdCount
        self.anCount = anCount
        self.nsCount = nsCount
        self.arCount = arCount
    }

    /// Reads a header from the first 12 octets of `bytes`.
    ///
    /// Two loads rather than twelve octets, inlined: every query reads its header twice.
    @inlinable @inline(__always)
    public init(from bytes: UnsafeRawBufferPointer) throws(WireError) {
        guard bytes.count >= Header.size, let p = bytes.baseAddress else {
            throw WireError(.truncatedHeader, .header, at: 0)
        }
        let head = UInt64(bigEndian: p.loadUnaligned(as: UInt64.self))                  // ID, flags, QD, AN
        let tail = UInt32(bigEndian: p.loadUnaligned(fromByteOffset: 8, as: UInt32.self))  // NS, AR
        self.init(id: UInt16(truncatingIfNeeded: head >> 48), flags: UInt16(truncatingIfNeeded: head >> 32),
                  qdCount: UInt16(truncatingIfNeeded: head >> 16), anCount: UInt16(truncatingIfNeeded: head),
                  nsCount: UInt16(truncatingIfNeeded: tail >> 16), arCount: UInt16(truncatingIfNeeded: tail))
    }

    public static let qrBit: UInt16 = 0x8000
    public static let aaBit: UInt16 = 0x0400
    public static let tcBit: UInt16 = 0x0200
    public static let rdBit: UInt16 = 0x0100
    public static let raBit: UInt16 = 0x0080
    public static let adBit: UInt16 = 0x0020
    public static let cdBit: UInt16 = 0x0010

    @inlinable public var isResponse: Bool { flags & Header.qrBit != 0 }
    @inlinable public var opcode: Opcode { Opcode(rawValue: UInt8((flags >> 11) & 0xf)) }
    @inlinable public var authoritative: Bool { flags & Header.aaBit != 0 }
    @inlinable public var truncated: Bool { flags & Header.tcBit != 0 }
    @inlinable public var recursionDesired: Bool { flags & Header.rdBit != 0 }
    @inlinable public var recursionAvailable: Bool { flags & Header.raBit != 0 }
    @inlinable public var authenticData: Bool { flags & Header.adBit != 0 }
    @inlinable public var checkingDisabled: Bool { flags & Header.cdBit != 0 }
    /// The 4 header bits of RCODE (an OPT record may extend it).
    @inlinable public var rcodeBits: UInt16 { flags & 0xf }

    @inlinable
    public mutating func set(_ bit: UInt16, _ on: Bool) {
        if on { flags |= bit } else { flags &= ~bit }
    }

    @inlinable
    public mutating func setRCodeBits(_ rcode: RCode) {
        flags = (flags & ~0xf) | rcode.headerBits
    }

    /// Writes the header into the first 12 octets of `out`, which must be large enough.
    @inlinable @inline(__always)
    public func write(to out: UnsafeMutableRawBufferPointer) {
        precondition(out.count >= Header.size, "Header.write: fewer than 12 octets")
        let p = out.baseAddress.unsafelyUnwrapped
        let head = UInt64(id) << 48 | UInt64(flags) << 32 | UInt64(qdCount) << 16 | UInt64(anCount)
        p.storeBytes(of: head.bigEndian, as: UInt64.self)
        p.storeBytes(of: (UInt32(nsCount) << 16 | UInt32(arCount)).bigEndian, toByteOffset: 8, as: UInt32.self)
    }
}
