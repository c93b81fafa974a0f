import DNSWire
import Testing
@testable import Forwarder

/// RFC 8767 §5's client response timer: with a stale answer at hand, a client
/// waits for a slow upstream only so long; the upstream's answer still refreshes the cache.
extension ForwarderTests {
    /// A 5 s timeout, so that the slow upstream's answer is awaited, not given up on.
    func forwarder(_ upstreams: [FakeUpstream], clientTimer: Duration) throws -> Forwarder {
        try Forwarder(configuration: ForwarderConfiguration(
            upstreams: upstreams.map(\.address), timeout: .seconds(5), serveStale: .seconds(60),
            clientResponseTimer: clientTimer), logger: Self.logger)
    }

    /// Looks in the cache until `address` is the answer there, for at most 10 s.
    func waitForCachedAnswer(_ f: Forwarder, _ name: String, _ address: IPv4Address) async throws -> Message? {
        for _ in 0..<200 {
            if let m = try cached(f, Self.query(name)), m.answers.first?.rdata == .a(address) { return m }
            try await Task.sleep(for: .milliseconds(50))
        }
        return nil
    }

    @Test func aSlowUpstreamLetsTheClientHaveTheStaleAnswerFirstThenRefreshesTheCache() async throws {
        let up = try FakeUpstream { q, _ in [FakeReply(bytes: FakeUpstream.reply(to: q, answers: [Self.a("late.example.com", 1, 1)]))] }
        defer { up.stop() }
        let f = try forwarder([up], clientTimer: .milliseconds(200))
        defer { f.shutdown() }
        _ = try await resolve(f, Self.query("late.example.com"))
        try await Task.sleep(for: .milliseconds(1100))  // at least the TTL: expired now
        up.setHandler { q, _ in
            [FakeReply(bytes: FakeUpstream.reply(to: q, answers: [Self.a("late.example.com", 60, 2)]), delay: .seconds(3))]
        }

        // Two clients: the second joins the first's upstream query; each has its own timer.
        async let first = resolve(f, Self.query("late.example.com", id: 9))
        async let second = resolve(f, Self.query("late.example.com", id: 10))
        for (m, id) in [(try await first.0, UInt16(9)), (try await second.0, 10)] {
            // The old address, TTL 30: served stale, before the upstream's new answer (which would say .2, TTL 60).
            #expect(m.header.id == id && m.rcode == .noError)
            #expect(m.answers.first?.rdata == .a(IPv4Address(192, 0, 2, 1)))
            #expect(m.answers.first?.ttl == 30)
        }
        #expect(f.statistics.staleOnClientTimer == 2)

        // The query went on: its answer lands in the cache.
        let refreshed = try await waitForCachedAnswer(f, "late.example.com", IPv4Address(192, 0, 2, 2))
        #expect(refreshed != nil, "the late answer refreshed the cache")
        let s = f.statistics
        #expect(s.refreshedAfterStale == 1)
        #expect(s.staleAnswers == 2)
        #expect(s.coalesced == 1)
        #expect(s.upstreamTimeouts == 0)
        #expect(up.udpQueries.load(ordering: .relaxed) == 2, "one upstream query for both clients")
    }

    @Test func withNothingStaleTheClientWaitsForTheSlowUpstream() async throws {
        let up = try FakeUpstream { q, _ in
            [FakeReply(bytes: FakeUpstream.reply(to: q, answers: [Self.a("new.example.com", 60)]), delay: .milliseconds(400))]
        }
        defer { up.stop() }
        let f = try forwarder([up], clientTimer: .milliseconds(50))
        defer { f.shutdown() }
        let (m, _) = try await resolve(f, Self.query("new.example.com"))
        #expect(m.answers.first?.ttl == 60)
        #expect(f.statistics.staleOnClientTimer == 0)
        #expect(f.statistics.staleAnswers == 0)
    }

    @Test func aZeroClientResponseTimerWaitsForTheUpstream() async throws {
        let up = try FakeUpstream { q, _ in [FakeReply(bytes: FakeUpstream.reply(to: q, answers: [Self.a("wait.example.com", 1, 1)]))] }
        defer { up.stop() }
        let f = try forwarder([up], clientTimer: .zero)
        defer { f.shutdown() }
        _ = try await resolve(f, Self.query("wait.example.com"))
        try await Task.sleep(for: .milliseconds(1100))
        up.setHandler { q, _ in
            [FakeReply(bytes: FakeUpstream.reply(to: q, answers: [Self.a("wait.example.com", 60, 2)]), delay: .milliseconds(300))]
        }
        let (m, _) = try await resolve(f, Self.query("wait.example.com"))
        #expect(m.answers.first?.rdata == .a(IPv4Address(192, 0, 2, 2)), "the new answer, not the stale one")
        #expect(f.statistics.staleAnswers == 0)
    }
}
