import DNSWire
import Forwarder
import Logging
import Sockets
import Testing

/// The bound on upstream queries in flight (issue: a storm of uncached names
/// must not run sixpn out of descriptors): past it, a stale answer or SERVFAIL
/// with EDE 0 at once, and nothing more goes upstream.
@Suite struct UpstreamBoundTests {
    static let logger = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }

    /// A long upstream timeout, so that queries held by a silent upstream stay in flight however
    /// slowly a loaded machine runs the test; "at once" is then anything well under it.
    static let timeout: Duration = .seconds(20)
    static let atOnce: Int64 = 5_000_000_000

    func bounded(_ up: FakeUpstream, inFlight: Int) throws -> Forwarder {
        try Forwarder(configuration: ForwarderConfiguration(upstreams: [up.address], timeout: Self.timeout,
                                                            cacheEntries: 100, cacheBytes: 1 << 20,
                                                            upstreamInFlight: inFlight), logger: Self.logger)
    }

    func resolve(_ f: Forwarder, _ name: String) async throws -> (Message, Int64) {
        let start = Syscalls.now()
        let bytes = await withCheckedContinuation { c in
            f.resolve(query: ForwarderTests.query(name), limit: 1232) { c.resume(returning: $0) }
        }
        return (try Message(parsing: bytes), Syscalls.now() - start)
    }

    @Test func pastTheBoundAQuestionGetsSERVFAILAtOnceAndNothingGoesUpstream() async throws {
        let up = try FakeUpstream { _, _ in [] }  // silent: the first two stay in flight
        defer { up.stop() }
        let f = try bounded(up, inFlight: 2)
        defer { f.shutdown() }
        f.resolve(query: ForwarderTests.query("a.example.com"), limit: 1232) { _ in }
        f.resolve(query: ForwarderTests.query("b.example.com"), limit: 1232) { _ in }
        try await Self.until { f.statistics.upstreamInFlight == 2 }
        for name in ["c.example.com", "d.example.com", "e.example.com"] {
            let (m, elapsed) = try await resolve(f, name)
            #expect(m.rcode == .servFail, "\(name)")
            #expect(elapsed < Self.atOnce, "at once, not after the upstream timeout: \(elapsed) ns")
            let code = m.edns?.options.first.map { Int($0.data[0]) << 8 | Int($0.data[1]) }
            #expect(code == Int(ExtendedDNSError.other), "RFC 8914 §4.1, Other Error")
            let text = m.edns?.options.first.map { String(decoding: $0.data.dropFirst(2), as: UTF8.self) }
            #expect(text == "upstream queries at capacity")
        }
        let s = f.statistics
        #expect(s.upstreamInFlight == 2 && s.upstreamInFlightLimit == 2)
        #expect(s.refusedNoSlot == 3)
        #expect(up.udpQueries.load(ordering: .relaxed) == 2, "only the two in flight reached the upstream")
    }

    @Test func pastTheBoundAnExpiredAnswerIsServedStaleInstead() async throws {
        let up = try FakeUpstream { q, _ in
            [FakeReply(bytes: FakeUpstream.reply(to: q, answers: [
                Record(name: q.questions[0].name, type: .a, class: .internet, ttl: 1, rdata: .a(IPv4Address(192, 0, 2, 7)))]))]
        }
        defer { up.stop() }
        let f = try bounded(up, inFlight: 1)
        defer { f.shutdown() }
        _ = try await resolve(f, "s.example.com")   // cached, TTL 1 s
        try await Task.sleep(for: .milliseconds(1200))
        up.setHandler { _, _ in [] }                  // from now on the upstream is silent
        f.resolve(query: ForwarderTests.query("hold.example.com"), limit: 1232) { _ in }  // takes the one slot
        try await Self.until { f.statistics.upstreamInFlight == 1 }
        let (m, elapsed) = try await resolve(f, "s.example.com")
        #expect(m.rcode == .noError && m.answers.first?.rdata == .a(IPv4Address(192, 0, 2, 7)))
        #expect(elapsed < Self.atOnce)
        #expect(f.statistics.refusedNoSlot == 1 && f.statistics.staleAnswers == 1)
    }

    /// Waits (up to 10 s) for `condition`.
    static func until(_ condition: () -> Bool) async throws {
        for _ in 0..<1000 where !condition() { try await Task.sleep(for: .milliseconds(10)) }
        #expect(condition(), "the forwarder did not get there within 10 s")
    }

    @Test func aSlotIsFreeAgainOnceTheReplyCame() async throws {
        let up = try FakeUpstream { q, _ in [FakeReply(bytes: FakeUpstream.reply(to: q, rcode: .nxDomain))] }
        defer { up.stop() }
        let f = try bounded(up, inFlight: 1)
        defer { f.shutdown() }
        for i in 0..<5 {
            let (m, _) = try await resolve(f, "n\(i).example.com")
            #expect(m.rcode == .nxDomain, "one at a time, each gets the slot")
        }
        #expect(f.statistics.refusedNoSlot == 0 && f.statistics.upstreamInFlight == 0)
    }
}
