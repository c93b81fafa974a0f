import Atomics
import DNSWire
import Testing
@testable import Forwarder

/// Upstreams that do not speak EDNS (RFC 6891 §7): asked again without OPT, remembered for a while.
extension ForwarderTests {
    /// Counts the queries an upstream got with and without OPT.
    final class OPTCounts: Sendable {
        let with = ManagedAtomic<Int>(0)
        let without = ManagedAtomic<Int>(0)

        func note(_ q: Message) {
            (q.edns != nil ? with : without).wrappingIncrement(ordering: .relaxed)
        }
        var both: (Int, Int) { (with.load(ordering: .relaxed), without.load(ordering: .relaxed)) }
    }

    /// A server without EDNS that answers an A record for any name.
    static func upstreamWithoutEDNS(_ counts: OPTCounts) throws -> FakeUpstream {
        try FakeUpstream { q, tcp in
            counts.note(q)
            return [FakeReply(bytes: FakeUpstream.withoutEDNS(q, tcp: tcp, answers: [a(q.questions[0].name.description, 60)]))]
        }
    }

    /// A 2 s timeout: however slow this machine, the next upstream is not asked before the first's FORMERR is read.
    func ednsForwarder(_ upstreams: [FakeUpstream], memory: Duration = .seconds(900)) throws -> Forwarder {
        try Forwarder(configuration: ForwarderConfiguration(
            upstreams: upstreams.map(\.address), timeout: .seconds(2), ednsMemory: memory),
            logger: Self.logger)
    }

    @Test func anUpstreamWithoutEDNSIsAskedAgainWithoutOPTAndRemembered() async throws {
        let counts = OPTCounts()
        let up = try Self.upstreamWithoutEDNS(counts)
        defer { up.stop() }
        let f = try ednsForwarder([up])
        defer { f.shutdown() }

        let (m, _) = try await resolve(f, Self.query("old.example.com", id: 5, dnssecOK: true))
        #expect(m.rcode == .noError && m.header.id == 5)
        #expect(m.answers.first?.rdata == .a(IPv4Address(192, 0, 2, 1)))
        // The client's EDNS is answered by us: our OPT, our payload size, its DO bit.
        #expect(m.edns?.udpPayloadSize == 1232)
        #expect(m.edns?.dnssecOK == true)
        #expect(counts.both == (1, 1), "one query with OPT (FORMERR), one without")
        #expect(f.statistics.ednsFallbacks == 1)
        #expect(f.statistics.upstreamsWithoutEDNS == 1)

        // Remembered: the next question goes without OPT at once.
        let (next, _) = try await resolve(f, Self.query("older.example.com"))
        #expect(next.rcode == .noError && next.answers.count == 1)
        #expect(counts.both == (1, 2))
        #expect(f.statistics.ednsFallbacks == 1)
        #expect(f.statistics.upstreamQueries == 3)

        // A client without EDNS gets no OPT back.
        let (plain, _) = try await resolve(f, Self.query("plain.example.com", edns: false))
        #expect(plain.answers.count == 1 && plain.edns == nil)
    }

    @Test func withoutEDNSALargeAnswerComesOverTCPAndTheClientsLimitStillHolds() async throws {
        let counts = OPTCounts()
        let answers = (1...60).map { Self.a("big.example.com", 60, UInt8($0)) }
        let up = try FakeUpstream { q, tcp in
            counts.note(q)
            return [FakeReply(bytes: FakeUpstream.withoutEDNS(q, tcp: tcp, answers: answers))]
        }
        defer { up.stop() }
        let f = try ednsForwarder([up])
        defer { f.shutdown() }
        let (m, _) = try await resolve(f, Self.query("big.example.com"), limit: 4096)
        #expect(m.answers.count == 60, "TC over UDP at 512 octets, then whole over TCP")
        #expect(m.edns?.udpPayloadSize == 1232)
        #expect(up.tcpQueries.load(ordering: .relaxed) == 1)
        #expect(counts.both == (1, 2), "the TCP query had no OPT either")
        let small = try #require(try cached(f, Self.query("big.example.com"), limit: 512))
        #expect(small.header.truncated && small.answers.isEmpty)
    }

    @Test func aFORMERRWithoutTheQuestionOrANOTIMPAlsoFallsBack() async throws {
        for (rcode, withQuestion) in [(RCode.formErr, false), (RCode.notImp, true)] {
            let counts = OPTCounts()
            let up = try FakeUpstream { q, tcp in
                counts.note(q)
                return [FakeReply(bytes: FakeUpstream.withoutEDNS(q, tcp: tcp, answers: [Self.a("q.example.com", 60)],
                                                                  rejection: rcode, withQuestion: withQuestion))]
            }
            defer { up.stop() }
            let f = try ednsForwarder([up])
            defer { f.shutdown() }
            let (m, _) = try await resolve(f, Self.query("q.example.com"))
            #expect(m.rcode == .noError && m.answers.count == 1, "\(rcode), question: \(withQuestion)")
            #expect(counts.both == (1, 1))
            #expect(f.statistics.ednsFallbacks == 1)
            #expect(f.statistics.droppedReplies == 0)
        }
    }

    @Test func aFallbackThatFailsTooIsNotRetriedAgain() async throws {
        let counts = OPTCounts()
        // FORMERR to everything, with OPT or without: the fallback is asked once, then the next upstream.
        let broken = try FakeUpstream { q, _ in
            counts.note(q)
            return [FakeReply(bytes: FakeUpstream.ednsRejection(to: q))]
        }
        let good = try FakeUpstream { q, _ in [FakeReply(bytes: FakeUpstream.reply(to: q, answers: [Self.a("b.example.com", 60)]))] }
        defer { broken.stop(); good.stop() }
        let f = try ednsForwarder([broken, good])
        defer { f.shutdown() }
        let (m, _) = try await resolve(f, Self.query("b.example.com"))
        #expect(m.rcode == .noError && m.answers.count == 1)
        #expect(counts.both == (1, 1))
        #expect(f.statistics.ednsFallbacks == 1)
        #expect(f.statistics.upstreamsWithoutEDNS == 0, "it answered nothing without EDNS either")

        // Alone, it gets the same two queries and the client SERVFAIL.
        let alone = try ednsForwarder([broken])
        defer { alone.shutdown() }
        let (failed, _) = try await resolve(alone, Self.query("c.example.com"))
        #expect(failed.rcode == .servFail)
        #expect(counts.both == (2, 2))
    }

    @Test func aFORMERRWithOPTIsNotAnEDNSProblem() async throws {
        let counts = OPTCounts()
        // FakeUpstream.reply echoes OPT: this server knows EDNS and rejects something else.
        let up = try FakeUpstream { q, _ in
            counts.note(q)
            return [FakeReply(bytes: FakeUpstream.reply(to: q, rcode: .formErr))]
        }
        defer { up.stop() }
        let f = try ednsForwarder([up])
        defer { f.shutdown() }
        let (m, _) = try await resolve(f, Self.query("x.example.com"))
        #expect(m.rcode == .servFail)
        #expect(counts.both == (1, 0))
        #expect(f.statistics.ednsFallbacks == 0)
    }

    @Test func anUpstreamSeenWithOPTIsNotMarkedByOneFORMERR() async throws {
        let counts = OPTCounts()
        // Answers with OPT, except for one name, which it FORMERRs (as a forger or a broken path might).
        let up = try FakeUpstream { q, tcp in
            counts.note(q)
            let name = q.questions[0].name.description
            if name.hasPrefix("odd") {
                return [FakeReply(bytes: FakeUpstream.withoutEDNS(q, tcp: tcp, answers: [Self.a(name, 60)]))]
            }
            return [FakeReply(bytes: FakeUpstream.reply(to: q, answers: [Self.a(name, 60)]))]
        }
        defer { up.stop() }
        let f = try ednsForwarder([up])
        defer { f.shutdown() }
        _ = try await resolve(f, Self.query("fine.example.com"))
        let (odd, _) = try await resolve(f, Self.query("odd.example.com"))
        #expect(odd.answers.count == 1, "still answered, by the fallback")
        #expect(f.statistics.ednsFallbacks == 1)
        #expect(f.statistics.upstreamsWithoutEDNS == 0)
        _ = try await resolve(f, Self.query("fine2.example.com"))
        #expect(counts.both == (3, 1), "the next question still carries OPT")
    }

    @Test func theMemoryOfLackingEDNSRunsOut() async throws {
        let counts = OPTCounts()
        let up = try Self.upstreamWithoutEDNS(counts)
        defer { up.stop() }
        let f = try ednsForwarder([up], memory: .milliseconds(200))
        defer { f.shutdown() }
        _ = try await resolve(f, Self.query("m1.example.com"))
        #expect(counts.both == (1, 1))
        // However late this runs, the 200 ms are over: OPT is offered again (and rejected again).
        try await Task.sleep(for: .milliseconds(400))
        let (m, _) = try await resolve(f, Self.query("m2.example.com"))
        #expect(m.answers.count == 1)
        #expect(counts.both == (2, 2))
        #expect(f.statistics.ednsFallbacks == 2)
    }
}
