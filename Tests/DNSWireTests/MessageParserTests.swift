import Testing
@testable import DNSWire

/// A message from its header fields and body octets.
func packet(id: UInt16 = 0x1234, flags: UInt16 = 0, qd: UInt16 = 0, an: UInt16 = 0, ns: UInt16 = 0, ar: UInt16 = 0,
            _ body: [UInt8]) -> [UInt8] {
    var out: [UInt8] = []
    for v in [id, flags, qd, an, ns, ar] { out += [UInt8(v >> 8), UInt8(v & 0xff)] }
    return out + body
}

/// `www.example.` as wire octets.
let wwwExample: [UInt8] = [3, 0x77, 0x77, 0x77, 7, 0x65, 0x78, 0x61, 0x6d, 0x70, 0x6c, 0x65, 0]
/// TYPE, CLASS, TTL (300) and RDLENGTH of a record.
func fields(_ type: UInt16, class rrClass: UInt16 = 1, rdLength: Int) -> [UInt8] {
    [UInt8(type >> 8), UInt8(type & 0xff), UInt8(rrClass >> 8), UInt8(rrClass & 0xff), 0, 0, 1, 44,
     UInt8(rdLength >> 8), UInt8(rdLength & 0xff)]
}
/// The question `www.example. IN A`.
let questionWWW = wwwExample + [0, 1, 0, 1]

func parseError(_ bytes: [UInt8]) -> WireError? {
    do { _ = try Message(parsing: bytes); return nil } catch { return error }
}

/// Every way a message can be malformed gives a typed error naming the place.
@Suite struct MessageParserTests {
    @Test func shortHeaderIsTruncatedHeader() {
        for n in 0..<12 {
            #expect(parseError(Array(repeating: 0, count: n)) == WireError(.truncatedHeader, .header, at: 0))
        }
        #expect(parseError(packet([])) == nil)
    }

    @Test func countsTheMessageCannotHoldAreBadCount() {
        #expect(parseError(packet(qd: 1, an: 0xffff, questionWWW))?.code == .badCount)
        #expect(parseError(packet(qd: 5, questionWWW))?.code == .badCount)
    }

    @Test func questionCutShortIsTruncated() {
        #expect(parseError(packet(qd: 1, Array(questionWWW.dropLast(1)) + [0, 0, 0, 0]))?.code == .trailingData)
        #expect(parseError(packet(qd: 1, Array(wwwExample.prefix(6)))) == WireError(.truncated, .questionName, at: 16))
    }

    @Test func reservedLabelTypesAreRejected() {
        for bad: UInt8 in [0x40, 0x80, 0x7f, 0xbf] {
            #expect(parseError(packet(qd: 1, [bad, 0x61, 0, 0, 1, 0, 1]))
                    == WireError(.reservedLabelType, .questionName, at: 12))
        }
    }

    @Test func pointerLoopsAndForwardPointersAreRejected() {
        // A pointer to itself.
        #expect(parseError(packet(qd: 1, [0xc0, 12, 0, 1, 0, 1])) == WireError(.badPointer, .questionName, at: 12))
        // A pointer into the header.
        #expect(parseError(packet(qd: 1, [0xc0, 2, 0, 1, 0, 1])) == WireError(.badPointer, .questionName, at: 12))
        // A forward pointer (to the root label after it).
        #expect(parseError(packet(qd: 1, [0xc0, 14, 0, 0, 1, 0, 1]))?.code == .badPointer)
        // a -> b -> a: the second question points back to the first, whose pointer
        // points forward into the second.
        let loop: [UInt8] = [1, 0x61, 0xc0, 20, 0, 1, 0, 1] + [1, 0x62, 0xc0, 12, 0, 1, 0, 1]
        #expect(parseError(packet(qd: 2, loop))?.code == .badPointer)
        // A pointer to a label inside its own name, behind it.
        #expect(parseError(packet(qd: 1, [1, 0x61, 0xc0, 12, 0, 1, 0, 1]))?.code == .badPointer)
    }

    @Test func backwardPointersAreFollowed() throws {
        // The owner of the answer points at the question name, the CNAME target at its "example.".
        let body = questionWWW + [0xc0, 12] + fields(5, rdLength: 6) + [3, 0x66, 0x74, 0x70, 0xc0, 16]
        let m = try Message(parsing: packet(qd: 1, an: 1, body))
        #expect(m.answers[0].name == (try name("www.example")))
        #expect(m.answers[0].rdata == .cname(try name("ftp.example")))
    }

    @Test func namesOver255OctetsAreRejected() {
        // 4 labels of 63 and a label of 2 = 4 * 64 + 3 + 1 = 260 octets.
        let label: [UInt8] = [63] + Array(repeating: 0x61, count: 63)
        let big: [UInt8] = label + label + label + label
        #expect(parseError(packet(qd: 1, big + [2, 0x61, 0x61, 0, 0, 1, 0, 1]))?.code == .nameTooLong)
        // 254 octets is fine: 3 * 64 + 61 + 1.
        let ok: [UInt8] = Array(big.prefix(192)) + [60] + Array(repeating: 0x62, count: 60) + [0, 0, 1, 0, 1]
        #expect(parseError(packet(qd: 1, ok)) == nil)
        // Over 255 only once a pointer is followed: a 192-octet prefix in front of a 64-octet name.
        let first: [UInt8] = Array(big.prefix(64)) + [0, 0, 1, 0, 1]
        let second: [UInt8] = Array(big.prefix(192)) + [0xc0, 12, 0, 1, 0, 1]
        // The error names the label that went over: the first one of the name pointed at.
        #expect(parseError(packet(qd: 2, first + second)) == WireError(.nameTooLong, .questionName, at: 12))
    }

    @Test func rdLengthPastTheEndIsBadRDLength() {
        let body = questionWWW + [0xc0, 12] + fields(1, rdLength: 5) + [1, 2, 3, 4]
        #expect(parseError(packet(qd: 1, an: 1, body)) == WireError(.badRDLength, .rdLength, at: 12 + 17 + 10))
    }

    @Test func octetsAfterTheLastRecordAreTrailingData() {
        let body = questionWWW + [0xc0, 12] + fields(1, rdLength: 4) + [1, 2, 3, 4]
        #expect(parseError(packet(qd: 1, an: 1, body)) == nil)
        #expect(parseError(packet(qd: 1, an: 1, body + [0])) == WireError(.trailingData, .header, at: 12 + 17 + 16))
    }

    @Test func typedRDataMustFillRDLengthExactly() {
        func answer(_ type: UInt16, _ rdata: [UInt8], class rrClass: UInt16 = 1) -> WireError? {
            parseError(packet(qd: 1, an: 1, questionWWW + [0xc0, 12] + fields(type, class: rrClass, rdLength: rdata.count) + rdata))
        }
        #expect(answer(1, [1, 2, 3])?.code == .badRData)
        #expect(answer(1, [1, 2, 3, 4, 5])?.code == .badRData)
        #expect(answer(28, Array(repeating: 0, count: 15))?.code == .badRData)
        #expect(answer(2, [0xc0, 12, 0])?.code == .badRData)             // NS name, one octet over
        #expect(answer(2, [3, 0x66, 0x74])?.code == .truncated)          // NS name, cut short at the end
        #expect(answer(5, [])?.code == .truncated)                       // CNAME with nothing
        #expect(answer(6, [0, 0] + Array(repeating: 0, count: 19))?.code == .badRData)
        #expect(answer(6, [0, 0] + Array(repeating: 0, count: 20)) == nil)
        #expect(answer(15, [0, 10])?.code == .badRData)                  // MX without exchange
        #expect(answer(33, [0, 0, 0, 0, 0, 53])?.code == .badRData)      // SRV without target
        #expect(answer(16, [])?.code == .badRData)                       // TXT needs a string
        #expect(answer(16, [5, 0x61])?.code == .badRData)                // TXT string past RDLENGTH
        #expect(answer(16, [0]) == nil)                                  // one empty string is fine
        // A name inside RDATA that runs past RDLENGTH into the next record.
        let body = questionWWW + [0xc0, 12] + fields(2, rdLength: 2) + [1, 0x61] + [0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0]
        #expect(parseError(packet(qd: 1, an: 2, body))?.code == .badRData)
    }

    @Test func classSpecificTypesOutsideINAndDeletesStayOpaque() throws {
        func rdata(_ type: UInt16, class rrClass: UInt16, _ bytes: [UInt8]) throws -> RData {
            let m = try Message(parsing: packet(qd: 1, an: 1, questionWWW + [0xc0, 12]
                                                + fields(type, class: rrClass, rdLength: bytes.count) + bytes))
            return m.answers[0].rdata
        }
        #expect(try rdata(1, class: 3, [1, 2, 3]) == .opaque([1, 2, 3]))      // CHAOS A is not IN A
        #expect(try rdata(33, class: 3, [9]) == .opaque([9]))
        #expect(try rdata(2, class: 255, []) == .opaque([]))                   // RFC 2136 delete RRset
        #expect(try rdata(16, class: 254, []) == .opaque([]))                  // RFC 2136 delete RR
        #expect(try rdata(16, class: 3, [2, 0x68, 0x69]) == .txt([[0x68, 0x69]]))  // TXT is class-independent
        #expect(try rdata(99, class: 1, [0xc0, 12]) == .opaque([0xc0, 12]))     // never decompressed
    }

    @Test func optRulesAreEnforced() {
        let opt: [UInt8] = [0] + fields(41, class: 1232, rdLength: 0)
        #expect(parseError(packet(qd: 1, ar: 1, questionWWW + opt)) == nil)
        #expect(parseError(packet(qd: 1, ar: 2, questionWWW + opt + opt)) == WireError(.badOPT, .recordType, at: 41))
        #expect(parseError(packet(qd: 1, an: 1, questionWWW + opt))?.code == .badOPT)
        #expect(parseError(packet(qd: 1, ns: 1, questionWWW + opt))?.code == .badOPT)
        #expect(parseError(packet(qd: 1, ar: 1, questionWWW + [0xc0, 12] + fields(41, rdLength: 0)))?.code == .badOPT)
        // The owner must be the root octet itself, not a pointer to a root label (here the root question).
        let rootQuestion: [UInt8] = [0, 0, 2, 0, 1]
        #expect(parseError(packet(qd: 1, ar: 1, rootQuestion + [0xc0, 12] + fields(41, rdLength: 0)))
                == WireError(.badOPT, .recordType, at: 12 + 5 + 2))
        #expect(parseError(packet(qd: 1, ar: 1, rootQuestion + [0] + fields(41, rdLength: 0))) == nil)
        // Options must fill RDATA exactly: a 3-octet stub, and a length past the end.
        #expect(parseError(packet(qd: 1, ar: 1, questionWWW + [0] + fields(41, rdLength: 3) + [0, 10, 0]))
                == WireError(.badOPT, .optOption, at: 12 + 17 + 11))
        #expect(parseError(packet(qd: 1, ar: 1, questionWWW + [0] + fields(41, rdLength: 5) + [0, 10, 0, 2, 1]))?
                .code == .badOPT)
    }

    @Test func edns0FactsAreRead() throws {
        let body = questionWWW + [0] + [0, 41, 0x10, 0x00, 0x01, 0x00, 0x80, 0x00, 0, 8] + [0, 10, 0, 4, 1, 2, 3, 4]
        let m = try Message(parsing: packet(flags: 0x8003, qd: 1, ar: 1, body))
        let e = try #require(m.edns)
        #expect(e.udpPayloadSize == 4096 && e.extendedRCode == 1 && e.version == 0 && e.dnssecOK)
        #expect(e.options == [EDNSOption(code: 10, data: [1, 2, 3, 4])])
        #expect(m.rcode == RCode(0x13))
        #expect(e.record == m.additional[0])
    }

    @Test func errorsSayWhatAndWhere() {
        #expect(WireError(.badPointer, .questionName, at: 12).description == "badPointer in questionName at offset 12")
    }
}
