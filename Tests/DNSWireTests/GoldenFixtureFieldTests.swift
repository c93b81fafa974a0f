import Testing
@testable import DNSWire

/// What each golden packet says, field by field (the zone is Fixtures/fixtures.zone).
@Suite struct GoldenFixtureFieldTests {
    let ttl: UInt32 = 300

    func exchange(_ fixture: String) throws -> (query: Message, answer: Message) {
        let q = try Message(parsing: Fixture.query(fixture))
        let a = try Message(parsing: Fixture.answer(fixture))
        #expect(a.header.id == q.header.id)
        #expect(!q.header.isResponse && a.header.isResponse)
        #expect(a.questions == q.questions)
        return (q, a)
    }

    @Test func digAAAAQueryAndThreeRecordAnswer() throws {
        let (q, a) = try exchange("dig-aaaa")
        #expect(q.questions == [Question(name: try name("www.fixtures.example"), type: .aaaa)])
        #expect(q.header.recursionDesired && q.header.authenticData)
        let edns = try #require(q.edns)
        #expect(edns.udpPayloadSize == 1232 && edns.version == 0 && !edns.dnssecOK)
        // dig 9.18 sends a DNS cookie: an 8-octet client cookie (RFC 7873).
        #expect(edns.options.map(\.code) == [EDNSOption.cookie] && edns.options[0].data.count == 8)

        #expect(a.header.authoritative && a.rcode == .noError)
        let www = try name("www.fixtures.example")
        #expect(a.answers == [
            Record(name: www, type: .aaaa, ttl: ttl, rdata: .aaaa(IPv6Address("fdaa:0:1:a7b:1c2d:0:3e4f:2")!)),
            Record(name: www, type: .aaaa, ttl: ttl, rdata: .aaaa(IPv6Address("fdaa:0:1:a7b:1c2d:0:3e50:2")!)),
            Record(name: www, type: .aaaa, ttl: ttl, rdata: .aaaa(IPv6Address("fdaa:0:1:a7b:2e3f:0:4a5b:2")!)),
        ])
        #expect(a.authority == [Record(name: try name("fixtures.example"), type: .ns, ttl: ttl,
                                       rdata: .ns(try name("ns1.fixtures.example")))])
        let ns1 = try name("ns1.fixtures.example")
        #expect(Array(a.additional.prefix(2)) == [
            Record(name: ns1, type: .a, ttl: ttl, rdata: .a(IPv4Address(192, 0, 2, 53))),
            Record(name: ns1, type: .aaaa, ttl: ttl, rdata: .aaaa(IPv6Address("2001:db8::53")!)),
        ])
        #expect(a.edns == EDNSRecord(udpPayloadSize: 1232))
    }

    @Test func mixedCaseQuestionKeepsItsCaseInTheAnswer() throws {
        let (q, a) = try exchange("dig-0x20")
        #expect(q.questions[0].name.wire == Array("\u{3}WwW\u{8}FiXtUrEs\u{7}ExAmPlE\u{0}".utf8))
        #expect(q.questions[0].name == (try name("www.fixtures.example")))
        // NSD points every owner at the question, so the owners carry the client's case too.
        #expect(a.answers.count == 3)
        for r in a.answers { #expect(r.name.wire == q.questions[0].name.wire) }
    }

    @Test func noEDNSQueryGetsSOAWithoutOPT() throws {
        let (q, a) = try exchange("dig-noedns-soa")
        #expect(q.edns == nil && q.additional.isEmpty && a.edns == nil)
        #expect(a.answers == [Record(name: try name("fixtures.example"), type: .soa, ttl: ttl, rdata: .soa(SOA(
            mname: try name("ns1.fixtures.example"), rname: try name("hostmaster.fixtures.example"),
            serial: 2026112501, refresh: 3600, retry: 900, expire: 604800, minimum: 60)))])
    }

    @Test func nsAnswerCarriesGlue() throws {
        let (_, a) = try exchange("dig-ns")
        #expect(a.answers.map(\.rdata) == [.ns(try name("ns1.fixtures.example"))])
        #expect(a.additional.map(\.type) == [.a, .aaaa, .opt])
    }

    @Test func mxAnswer() throws {
        let (_, a) = try exchange("dig-mx")
        #expect(a.answers.map(\.rdata) == [.mx(preference: 10, exchange: try name("mail.fixtures.example"))])
        #expect(a.additional.first?.rdata == .a(IPv4Address(192, 0, 2, 25)))
    }

    @Test func txtWithTwoStrings() throws {
        let (_, a) = try exchange("dig-txt")
        #expect(a.answers.map(\.rdata) == [.txt([Array("hello".utf8), Array("world".utf8)])])
    }

    @Test func txtOver255OctetsComesAsTwoStrings() throws {
        let (_, a) = try exchange("dig-txt-long")
        let text = Array(String(repeating: "0123456789abcdefghijklmnopqrstuvwxyz", count: 9).utf8.prefix(300))
        #expect(a.answers.map(\.rdata) == [RData.txt(splitting: text)])
        guard case .txt(let strings) = a.answers[0].rdata else { Issue.record("not TXT"); return }
        #expect(strings.map(\.count) == [255, 45])
    }

    @Test func cnameFollowedToAAAA() throws {
        let (_, a) = try exchange("dig-cname")
        #expect(a.answers.map(\.type) == [.cname, .aaaa, .aaaa, .aaaa])
        #expect(a.answers[0].rdata == .cname(try name("www.fixtures.example")))
        #expect(a.answers[1].name == (try name("www.fixtures.example")))
    }

    @Test func cnameToNameWithoutTheTypeIsNoData() throws {
        let (_, a) = try exchange("dig-cname-nodata")
        #expect(a.rcode == .noError && a.answers.map(\.type) == [.cname])
        #expect(a.authority.map(\.type) == [.soa])
    }

    @Test func ptrAnswer() throws {
        let (_, a) = try exchange("dig-ptr")
        #expect(a.answers.map(\.rdata) == [.ptr(try name("www.fixtures.example"))])
    }

    @Test func srvTargetIsWrittenUncompressed() throws {
        let bytes = try Fixture.answer("dig-srv")
        let (_, a) = try exchange("dig-srv")
        let target = try name("ns1.fixtures.example")
        #expect(a.answers.map(\.rdata) == [.srv(SRV(priority: 0, weight: 5, port: 53, target: target))])
        // Header, question (a 28-octet name, TYPE, CLASS), owner pointer, TYPE, CLASS, TTL;
        // then RDLENGTH: 6 octets of numbers and the whole 22-octet name.
        let rdlengthAt = 12 + 28 + 4 + 2 + 2 + 2 + 4
        #expect(bytes[rdlengthAt] == 0 && bytes[rdlengthAt + 1] == 6 + 22)
        #expect(Array(bytes[(rdlengthAt + 8)..<(rdlengthAt + 8 + 22)]) == target.wire)
    }

    @Test func unknownTypeIsKeptOpaque() throws {
        let (q, a) = try exchange("dig-unknown")
        #expect(q.questions[0].type == RRType(65400) && RRType(65400).description == "TYPE65400")
        #expect(a.answers == [Record(name: try name("unknown.fixtures.example"), type: RRType(65400), ttl: ttl,
                                     rdata: .opaque([0xde, 0xad, 0xbe, 0xef, 0x01, 0x02]))])
    }

    @Test func nxdomainHasSOAInAuthority() throws {
        let (_, a) = try exchange("dig-nxdomain")
        #expect(a.rcode == .nxDomain && a.answers.isEmpty)
        guard case .soa(let soa) = try #require(a.authority.first).rdata else { Issue.record("no SOA"); return }
        #expect(soa.minimum == 60 && soa.serial == 2026112501)
    }

    @Test func oversizedAnswerWithoutEDNSIsTruncated() throws {
        let (q, a) = try exchange("dig-tc")
        #expect(q.edns == nil)
        #expect(a.header.truncated && a.answers.isEmpty && a.authority.isEmpty && a.additional.isEmpty)
        #expect(try Fixture.answer("dig-tc").count == 12 + 26)
    }

    @Test func dnssecOKIsEchoed() throws {
        let (q, a) = try exchange("kdig-do")
        #expect(q.edns?.dnssecOK == true && a.edns?.dnssecOK == true)
    }

    @Test func ednsVersion1GetsBADVERS() throws {
        let (q, a) = try exchange("kdig-badvers")
        #expect(q.edns?.version == 1)
        #expect(a.rcode == .badVers && a.header.rcodeBits == 0 && a.edns?.extendedRCode == 1)
        #expect(a.edns?.version == 0 && a.answers.isEmpty)
    }

    @Test func nsidOptionRoundTrips() throws {
        let (q, a) = try exchange("kdig-nsid")
        #expect(q.edns?.options == [EDNSOption(code: 3, data: [])])
        #expect(a.edns?.options == [EDNSOption(code: 3, data: Array("sixpn-fixtures".utf8))])
    }

    @Test func bigAnswerWithLargeBuffer() throws {
        let (q, a) = try exchange("kdig-big")
        #expect(q.edns?.udpPayloadSize == 4096)
        #expect(a.answers.count == 40 && !a.header.truncated)
        #expect(a.answers.last?.rdata == .aaaa(IPv6Address("2001:db8::40")!))
    }

    @Test func knotKeepsTheClientsCaseAndAnswersMinimally() throws {
        let (q, a) = try exchange("knot-0x20")
        #expect(q.questions[0].name.wire == Array("\u{3}WwW\u{8}FiXtUrEs\u{7}ExAmPlE\u{0}".utf8))
        #expect(a.answers.count == 3 && a.answers.allSatisfy { $0.name.wire == q.questions[0].name.wire })
        // Knot leaves out the NS RRset and glue that NSD adds.
        #expect(a.authority.isEmpty && a.additional.map(\.type) == [.opt])
    }

    @Test func knotAnswersMatchNSDsRecordForRecord() throws {
        for (knot, nsd) in [("knot-mx", "dig-mx"), ("knot-cname", "dig-cname"), ("knot-txt-long", "dig-txt-long"),
                            ("knot-unknown", "dig-unknown"), ("knot-srv", "dig-srv"), ("knot-ns", "dig-ns")] {
            let k = try exchange(knot).answer, n = try exchange(nsd).answer
            #expect(k.answers == n.answers, "\(knot)")
        }
        let nx = try exchange("knot-nxdomain").answer
        #expect(nx.rcode == .nxDomain && nx.authority.map(\.type) == [.soa])
    }

    /// The hot-path reader agrees with the full parser on every real query.
    @Test(arguments: Fixture.names)
    func queryParseAgreesWithMessage(_ fixture: String) throws {
        let bytes = try Fixture.query(fixture)
        let m = try Message(parsing: bytes)
        let q = try bytes.withUnsafeBytes { b throws(WireError) in try Query.parse(b) }
        #expect(q.header == m.header)
        #expect(q.type == m.questions[0].type && q.class == m.questions[0].class)
        #expect(q.nameLength == m.questions[0].name.wire.count)
        #expect(q.edns?.udpPayloadSize == m.edns?.udpPayloadSize)
        #expect(q.edns?.version == m.edns?.version && q.edns?.flags == m.edns?.flags)
    }
}
