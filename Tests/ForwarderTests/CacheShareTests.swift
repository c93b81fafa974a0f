import DNSWire
import Logging
import Testing
@testable import Forwarder

/// Issue 15: one organization's misses cannot evict more than its share of the cache.
@Suite struct CacheShareTests {
    static let logger = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }

    func resolve(_ f: Forwarder, _ name: String, organization: UInt32) async throws -> Message {
        var request = ForwardRequest(parsing: ForwarderTests.query(name), limit: 1232)
        request.organization = organization
        let bytes = await withCheckedContinuation { c in f.resolve(request) { c.resume(returning: $0) } }
        return try Message(parsing: bytes)
    }

    func cached(_ f: Forwarder, _ name: String) -> Bool {
        (try? ForwarderTests().cached(f, ForwarderTests.query(name))) != nil
    }

    @Test func aStormOfOneOrganizationKeepsWithinItsShareAndOthersEntriesStay() async throws {
        let up = try FakeUpstream { q, _ in
            [FakeReply(bytes: FakeUpstream.reply(to: q, answers: [
                Record(name: q.questions[0].name, type: .a, ttl: 300, rdata: .a(IPv4Address(192, 0, 2, 1)))]))]
        }
        defer { up.stop() }
        var configuration = ForwarderConfiguration(upstreams: [up.address], cacheEntries: 10, cacheBytes: 1 << 20)
        configuration.organizationCacheShare = 50
        let f = try Forwarder(configuration: configuration, logger: Self.logger)
        defer { f.shutdown() }
        // Organization B's hot names, then A's storm of 40 names into a cache of 10.
        for i in 0..<4 { _ = try await resolve(f, "hot\(i).b.example", organization: 0xb) }
        for i in 0..<3 { _ = try await resolve(f, "early\(i).a.example", organization: 0xa) }
        for i in 0..<40 { _ = try await resolve(f, "r\(i).a.example", organization: 0xa) }
        for i in 0..<4 { #expect(cached(f, "hot\(i).b.example"), "B's hot name \(i) is still cached") }
        // A keeps its share (5 of 10): its oldest entries and its newest, its own newest made room.
        let held = f.cache.held[UInt64(0xa) | 1 << 32]?.entries ?? 0
        #expect(held <= 6 && held >= 5, "A holds \(held) entries")
        #expect(cached(f, "r39.a.example"), "A's newest answer is cached")
        #expect(cached(f, "early0.a.example"), "A's older entries stay: its newest make room")
    }

    @Test func aCacheOfOneOrganizationIsAllItsOwn() async throws {
        let up = try FakeUpstream { q, _ in
            [FakeReply(bytes: FakeUpstream.reply(to: q, answers: [
                Record(name: q.questions[0].name, type: .a, ttl: 300, rdata: .a(IPv4Address(192, 0, 2, 1)))]))]
        }
        defer { up.stop() }
        let f = try Forwarder(configuration: ForwarderConfiguration(upstreams: [up.address], cacheEntries: 10,
                                                                    cacheBytes: 1 << 20), logger: Self.logger)
        defer { f.shutdown() }
        for i in 0..<30 { _ = try await resolve(f, "n\(i).a.example", organization: 0xa) }
        #expect(f.cache.held[UInt64(0xa) | 1 << 32]?.entries == 10, "no other tenant: the whole cache, CLOCK as before")
    }
}
