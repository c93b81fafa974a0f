import DNSWire
import Testing
@testable import Forwarder

/// Checking an upstream reply against the question it must answer, and reading its TTLs.
@Suite struct UpstreamReplyTests {
    let query = try! Message(parsing: ForwarderTests.query("Host.Example.com"))
    var key: CacheKey {
        CacheKey(name: try! DNSName("host.example.com").wire, type: .a, class: .internet, flags: 0)
    }

    func read(_ bytes: [UInt8], id: UInt16? = nil) throws(UpstreamReply.Rejection) -> UpstreamReply {
        var result: Result<UpstreamReply, UpstreamReply.Rejection> = .failure(.malformed)
        bytes.withUnsafeBytes { b in
            do throws(UpstreamReply.Rejection) {
                result = .success(try UpstreamReply.read(b, id: id ?? query.header.id, key: key, maxTTL: 3600,
                                                         maxNegativeTTL: 600))
            } catch { result = .failure(error) }
        }
        return try result.get()
    }

    @Test func theQuestionMatchesWithoutCase() throws {
        let r = try read(FakeUpstream.reply(to: query, answers: [ForwarderTests.a("host.example.com", 60)]))
        #expect(r.cacheTTL == 60)
        #expect(r.answerCount == 1 && r.ttlOffsets.count == 1)
    }

    @Test func anotherIDIsAMismatch() {
        #expect(throws: UpstreamReply.Rejection.mismatch) {
            try read(FakeUpstream.reply(to: query), id: query.header.id &+ 1)
        }
    }

    @Test func anotherQuestionIsAMismatch() {
        let other = Question(name: try! DNSName("host.example.org"), type: .a)
        #expect(throws: UpstreamReply.Rejection.mismatch) { try read(FakeUpstream.reply(to: query, question: other)) }
        let otherType = Question(name: try! DNSName("host.example.com"), type: .aaaa)
        #expect(throws: UpstreamReply.Rejection.mismatch) { try read(FakeUpstream.reply(to: query, question: otherType)) }
    }

    @Test func aQueryIsNotAReply() {
        #expect(throws: UpstreamReply.Rejection.mismatch) { try read(ForwarderTests.query("host.example.com")) }
    }

    @Test func brokenRecordsAreMalformed() {
        let good = FakeUpstream.reply(to: query, answers: [ForwarderTests.a("host.example.com", 60)])
        #expect(throws: UpstreamReply.Rejection.malformed) { try read(Array(good.dropLast(3))) }
        #expect(throws: UpstreamReply.Rejection.malformed) { try read(good + [0]) }
    }

    @Test func aTTLWithTheTopBitSetMeansZero() throws {
        let r = try read(FakeUpstream.reply(to: query, answers: [ForwarderTests.a("host.example.com", 0x8000_0001)]))
        #expect(r.cacheTTL == 0, "RFC 2181 §8: not cached")
        #expect(r.ttlRewrites.map(\.ttl) == [0])
    }

    @Test func longTTLsAreCapped() throws {
        let r = try read(FakeUpstream.reply(to: query, answers: [ForwarderTests.a("host.example.com", 86_400)]))
        #expect(r.cacheTTL == 3600)
        #expect(r.ttlRewrites.map(\.ttl) == [3600])
    }

    @Test func negativeTTLIsTheSmallerOfSOATTLAndMinimumCapped() throws {
        let soa = FakeUpstream.soa("example.com", ttl: 900, minimum: 1200)
        let r = try read(FakeUpstream.reply(to: query, rcode: .nxDomain, authority: [soa]))
        #expect(r.cacheTTL == 600)
        #expect(r.ttlRewrites.map(\.ttl) == [600], "the SOA is served with the negative TTL")
    }

    @Test func theOPTRecordIsLeftOutOfWhatIsKept() throws {
        let bytes = FakeUpstream.reply(to: query, answers: [ForwarderTests.a("host.example.com", 60)])
        let r = try read(bytes)
        #expect(r.end == bytes.count - ResponseWriter.optSize)
        #expect(r.additionalCount == 0)
    }

    @Test func serverFailureIsNotCached() throws {
        #expect(try read(FakeUpstream.reply(to: query, rcode: .servFail)).cacheTTL == 0)
        #expect(try read(FakeUpstream.reply(to: query, answers: [ForwarderTests.a("host.example.com", 60)],
                                            truncated: true)).cacheTTL == 0)
    }

    @Test func aFORMERRWithoutOPTRejectsEDNSWithOrWithoutTheQuestion() throws {
        for withQuestion in [true, false] {
            let r = try read(FakeUpstream.ednsRejection(to: query, withQuestion: withQuestion))
            #expect(r.rcode == .formErr && !r.hasOPT && r.rejectsEDNS)
            #expect(r.cacheTTL == 0)
        }
        #expect(try read(FakeUpstream.ednsRejection(to: query, rcode: .notImp, withQuestion: false)).rejectsEDNS)
        // With its OPT the server knows EDNS; it rejected something else.
        let withOPT = try read(FakeUpstream.reply(to: query, rcode: .formErr))
        #expect(withOPT.hasOPT && !withOPT.rejectsEDNS)
    }

    @Test func onlyFORMERROrNOTIMPMayComeWithoutTheQuestion() {
        var h = Header(id: query.header.id, flags: Header.qrBit)
        h.setRCodeBits(.servFail)
        let bytes = try! Message(header: h).encoded()
        #expect(throws: UpstreamReply.Rejection.mismatch) { try read(bytes) }
        #expect(throws: UpstreamReply.Rejection.mismatch) {
            try read(FakeUpstream.ednsRejection(to: query, withQuestion: false), id: query.header.id &+ 1)
        }
    }
}
