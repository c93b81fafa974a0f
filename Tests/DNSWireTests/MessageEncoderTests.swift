import Testing
@testable import DNSWire

/// Writing messages: compression where RFC 1035 allows it, never where it does not.
@Suite struct MessageEncoderTests {
    func response(_ answers: [Record], question: String = "www.example") throws -> Message {
        Message(header: Header(id: 7, flags: Header.qrBit), questions: [Question(name: try name(question), type: .a)],
                answers: answers)
    }

    @Test func ownerAndRDataNamesPointAtTheirFirstOccurrence() throws {
        let m = try response([
            Record(name: try name("www.example"), type: .cname, ttl: 60, rdata: .cname(try name("ftp.example"))),
            Record(name: try name("ftp.example"), type: .mx, ttl: 60, rdata: .mx(preference: 5, exchange: try name("example"))),
        ])
        let bytes = try m.encoded()
        let expected = packet(id: 7, flags: 0x8000, qd: 1, an: 2, questionWWW
            + [0xc0, 12] + fields(5, class: 1, rdLength: 6).ttl(60) + [3, 0x66, 0x74, 0x70, 0xc0, 16]
            + [0xc0, 41] + fields(15, class: 1, rdLength: 4).ttl(60) + [0, 5, 0xc0, 16])
        #expect(bytes == expected)
        #expect(try Message(parsing: bytes) == m)
    }

    @Test func srvTargetsAndOpaqueRDataAreNeverCompressed() throws {
        let target = try name("www.example")
        let m = try response([
            Record(name: try name("www.example"), type: .srv, ttl: 1, rdata: .srv(SRV(priority: 1, weight: 2, port: 3, target: target))),
            Record(name: try name("www.example"), type: RRType(99), ttl: 1, rdata: .opaque([0xc0, 12])),
        ])
        let bytes = try m.encoded()
        let srvRData = Array(bytes[(12 + 17 + 12)...].prefix(6 + 13))
        #expect(srvRData == [0, 1, 0, 2, 0, 3] + target.wire)
        #expect(Array(bytes.suffix(2)) == [0xc0, 12])
        #expect(try Message(parsing: bytes) == m)
    }

    @Test func compressionMatchesOctetsSoCaseIsKept() throws {
        // "WWW.example" is equal to "www.example" but is not written as a pointer to it.
        let m = try response([Record(name: try name("WWW.example"), type: .a, ttl: 1, rdata: .a(IPv4Address(1, 2, 3, 4)))])
        let bytes = try m.encoded()
        #expect(Array(bytes[29..<33]) == [3, 0x57, 0x57, 0x57])
        let back = try Message(parsing: bytes)
        #expect(back.answers[0].name.wire == (try name("WWW.example")).wire)
        #expect(back.answers[0].name == back.questions[0].name)
    }

    @Test func uncompressedOutputParsesToTheSameMessage() throws {
        let wire = try Fixture.answer("dig-aaaa")
        let m = try Message(parsing: wire)
        let plain = try m.encoded(compress: false)
        // Written whole instead of as pointers: 5 owners under www/ns1 (22 octets each, +20),
        // the NS owner (18, +16) and the NS target's "fixtures.example." (18, +16).
        #expect(plain.count == wire.count + 5 * 20 + 16 + 16)
        #expect(try Message(parsing: plain) == m)
    }

    @Test func whatTheParserRejectsTheEncoderRefuses() throws {
        let root = DNSName.root
        let opt = EDNSRecord(udpPayloadSize: 1232).record
        func fails(_ m: Message) -> WireError.Code? {
            do { _ = try m.encoded(); return nil } catch { return error.code }
        }
        #expect(fails(try response([Record(name: root, type: .a, ttl: 0, rdata: .aaaa(IPv6Address(high: 0, low: 1)))])) == .badRData)
        #expect(fails(try response([Record(name: root, type: .txt, ttl: 0, rdata: .txt([]))])) == .badRData)
        #expect(fails(try response([Record(name: root, type: .txt, ttl: 0, rdata: .txt([Array(repeating: 0, count: 256)]))])) == .badRData)
        #expect(fails(try response([opt])) == .badOPT)
        #expect(fails(Message(header: Header(), additional: [opt, opt])) == .badOPT)
        #expect(fails(Message(header: Header(), additional: [Record(name: try name("x"), type: .opt, ttl: 0, rdata: .opt([]))])) == .badOPT)
        #expect(fails(Message(header: Header(), additional: [Record(name: root, type: .opt, ttl: 0, rdata: .opaque([]))])) == .badOPT)
        #expect(fails(Message(header: Header(), additional: [opt])) == nil)
        let huge = Record(name: root, type: RRType(99), ttl: 0, rdata: .opaque(Array(repeating: 0, count: 65536)))
        #expect(fails(Message(header: Header(), answers: [huge])) == .badRDLength)
    }

    @Test func rdataSplitsLongTextInto255OctetStrings() {
        #expect(RData.txt(splitting: []) == .txt([[]]))
        guard case .txt(let s) = RData.txt(splitting: Array(repeating: 0x61, count: 511)) else { Issue.record(); return }
        #expect(s.map(\.count) == [255, 255, 1])
    }

    @Test func headerCountsComeFromTheSections() throws {
        var m = try response([])
        m.header.anCount = 9
        let back = try Message(parsing: m.encoded())
        #expect(back.header.anCount == 0 && back == m)
    }
}

extension Array where Element == UInt8 {
    /// These record fields with the TTL replaced.
    func ttl(_ ttl: UInt32) -> [UInt8] {
        var f = self
        f[4] = UInt8(ttl >> 24); f[5] = UInt8(ttl >> 16 & 0xff); f[6] = UInt8(ttl >> 8 & 0xff); f[7] = UInt8(ttl & 0xff)
        return f
    }
}
