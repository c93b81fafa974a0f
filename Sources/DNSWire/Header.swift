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
    @inlinable
    public init(from bytes: UnsafeRawBufferPointer) throws(WireError) {
        guard bytes.count >= Header.size else { throw WireError(.truncatedHeader, .header, at: 0) }
        @inline(__always) func u16(_ o: Int) -> UInt16 {
            UInt16(bytes[o]) << 8 | UInt16(bytes[o + 1])
        }
        self.init(id: u16(0), flags: u16(2), qdCount: u16(4), anCount: u16(6), nsCount: u16(8), arCount: u16(10))
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
    public mutating func setOpcode(_ op: Opcode) {
        flags = (flags & ~0x7800) | UInt16(op.rawValue & 0xf) << 11
    }

    @inlinable
    public mutating func setRCodeBits(_ rcode: RCode) {
        flags = (flags & ~0xf) | rcode.headerBits
    }

    /// Writes the header into the first 12 octets of `out`, which must be large enough.
    @inlinable
    public func write(to out: UnsafeMutableRawBufferPointer) {
        @inline(__always) func put(_ v: UInt16, _ o: Int) {
            out[o] = UInt8(v >> 8)
            out[o + 1] = UInt8(truncatingIfNeeded: v)
        }
        put(id, 0); put(flags, 2); put(qdCount, 4); put(anCount, 6); put(nsCount, 8); put(arCount, 10)
    }
}
