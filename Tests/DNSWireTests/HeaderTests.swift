import Testing
@testable import DNSWire

/// Header is read and written as whole words: each field must still land on
/// its own two octets, most significant first (RFC 1035 §4.1.1).
@Suite struct HeaderTests {
    let wire: [UInt8] = [0x12, 0x34, 0x85, 0xa3, 0x00, 0x01, 0xfe, 0xdc, 0x80, 0x07, 0x70, 0x01]

    @Test func eachFieldIsReadFromItsOwnOctetsBigEndian() throws {
        let h = try wire.withUnsafeBytes { b throws(WireError) in try Header(from: b) }
        #expect(h == Header(id: 0x1234, flags: 0x85a3, qdCount: 1, anCount: 0xfedc, nsCount: 0x8007, arCount: 0x7001))
        #expect(h.isResponse && h.opcode == .query && h.authoritative && h.recursionDesired && h.rcodeBits == 3)
        // Only the first 12 octets count; the rest of the message is left alone.
        let longer = try (wire + [0xff, 0xff]).withUnsafeBytes { b throws(WireError) in try Header(from: b) }
        #expect(longer == h)
    }

    @Test func writeIsTheInverseOfRead() throws {
        let h = Header(id: 0xbeef, flags: 0x0100, qdCount: 0x0102, anCount: 3, nsCount: 0xff00, arCount: 0x00ff)
        var out = [UInt8](repeating: 0xee, count: 14)
        out.withUnsafeMutableBytes { h.write(to: $0) }
        #expect(out == [0xbe, 0xef, 0x01, 0x00, 0x01, 0x02, 0x00, 0x03, 0xff, 0x00, 0x00, 0xff, 0xee, 0xee])
        #expect(try out.withUnsafeBytes { b throws(WireError) in try Header(from: b) } == h)
        var back = [UInt8](repeating: 0, count: 12)
        let read = try wire.withUnsafeBytes { b throws(WireError) in try Header(from: b) }
        back.withUnsafeMutableBytes { read.write(to: $0) }
        #expect(back == wire)
    }

    @Test func fewerThanTwelveOctetsIsATruncatedHeader() {
        for n in 0..<12 {
            let bytes = Array(wire.prefix(n))
            #expect(throws: WireError(.truncatedHeader, .header, at: 0)) {
                try bytes.withUnsafeBytes { b throws(WireError) in try Header(from: b) }
            }
        }
        #expect(throws: WireError(.truncatedHeader, .header, at: 0)) {
            try Header(from: UnsafeRawBufferPointer(start: nil, count: 0))
        }
    }
}
