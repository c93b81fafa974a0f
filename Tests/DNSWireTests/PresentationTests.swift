import Testing
@testable import DNSWire

/// Zone-file text for logs and tools, checked against what dig printed for the same packets.
@Suite struct PresentationTests {
    @Test func recordsReadLikeDigsAnswerSection() throws {
        let a = try Message(parsing: Fixture.answer("dig-aaaa"))
        #expect(a.answers[0].description == "www.fixtures.example. 300 IN AAAA fdaa:0:1:a7b:1c2d:0:3e4f:2")
        #expect(a.authority[0].description == "fixtures.example. 300 IN NS ns1.fixtures.example.")
        let soa = try Message(parsing: Fixture.answer("dig-noedns-soa"))
        #expect(soa.answers[0].rdata.description
                == "ns1.fixtures.example. hostmaster.fixtures.example. 2026112501 3600 900 604800 60")
        let srv = try Message(parsing: Fixture.answer("dig-srv"))
        #expect(srv.answers[0].rdata.description == "0 5 53 ns1.fixtures.example.")
        let mx = try Message(parsing: Fixture.answer("dig-mx"))
        #expect(mx.answers[0].rdata.description == "10 mail.fixtures.example.")
    }

    @Test func unknownTypesUseRFC3597Text() throws {
        let a = try Message(parsing: Fixture.answer("dig-unknown"))
        #expect(a.answers[0].description == "unknown.fixtures.example. 300 IN TYPE65400 \\# 6 deadbeef0102")
    }

    @Test func txtIsQuotedAndEscaped() {
        #expect(RData.txt([Array("say \"hi\"".utf8), [0x5c, 0x00, 0xff]]).description == #""say \"hi\"" "\\\000\255""#)
    }

    @Test func optIsShownAsItsEDNSFacts() throws {
        let a = try Message(parsing: Fixture.answer("kdig-nsid"))
        #expect(a.additional.last?.description == "; EDNS version 0, udp 1232, extended rcode 0, options 3:73697870"
                + "6e2d6669787475726573")
        let text = a.description
        #expect(text.hasPrefix(";; opcode 0, NOERROR, id \(a.header.id), flags: qr aa rd"))
        #expect(text.contains(";; ANSWER\nfixtures.example. 300 IN SOA "))
    }
}
