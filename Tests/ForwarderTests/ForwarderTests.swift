import Atomics
import DNSWire
import Glibc
import Logging
import Synchronization
import Testing
@testable import Forwarder
import Sockets

/// The Forwarder against fake upstreams on 127.0.0.1: real sockets, scripted answers.
@Suite(.serialized) struct ForwarderTests {
    static let logger = Logger(label: "test")

    func forwarder(_ upstreams: [FakeUpstream], timeout: Duration = .milliseconds(300), entries: Int = 1000,
                   bytes: Int = 1 << 20, serveStale: Duration = .seconds(60)) throws -> Forwarder {
        try Forwarder(configuration: ForwarderConfiguration(
            upstreams: upstreams.map(\.address), timeout: timeout, cacheEntries: entries, cacheBytes: bytes,
            serveStale: serveStale), logger: Self.logger)
    }

    static func query(_ name: String, _ type: RRType = .a, id: UInt16 = 0x1234, dnssecOK: Bool = false,
                      edns: Bool = true) -> [UInt8] {
        var additional: [Record] = []
        if edns { additional.append(EDNSRecord(udpPayloadSize: 1232, flags: dnssecOK ? EDNS.doBit : 0).record) }
        return try! Message(header: Header(id: id, flags: Header.rdBit), questions: [Question(name: try! DNSName(name), type: type)],
                            additional: additional).encoded()
    }

    /// Resolves through the miss path and parses the reply.
    func resolve(_ f: Forwarder, _ q: [UInt8], limit: Int = 1232) async throws -> (Message, [UInt8]) {
        let bytes = await withCheckedContinuation { c in f.resolve(query: q, limit: limit) { c.resume(returning: $0) } }
        return (try Message(parsing: bytes), bytes)
    }

    /// Answers from the cache (the query path), or nil on a miss.
    func cached(_ f: Forwarder, _ q: [UInt8], limit: Int = 1232) throws -> Message? {
        var out = [UInt8](repeating: 0, count: 65_535)
        let n: Int? = q.withUnsafeBytes { bytes in
            let query = try! Query.parse(bytes)
            return out.withUnsafeMutableBytes { f.answerFromCache(query: query, bytes: bytes, into: $0, limit: limit) }
        }
        guard let n else { return nil }
        return try Message(parsing: Array(out[0..<n]))
    }

    /// An upstream that says NXDOMAIN to everything, with an SOA whose MINIMUM is 1 s.
    static func nxdomainUpstream() throws -> FakeUpstream {
        try FakeUpstream { q, _ in
            [FakeReply(bytes: FakeUpstream.reply(to: q, rcode: .nxDomain,
                                                 authority: [FakeUpstream.soa("example.com", ttl: 300, minimum: 1)]))]
        }
    }

    /// An Extended DNS Error option with `code` and no text.
    static func extendedError(_ code: UInt16) -> EDNSOption {
        EDNSOption(code: EDNSOption.extendedError, data: [UInt8(code >> 8), UInt8(code & 0xff)])
    }

    static func a(_ name: String, _ ttl: UInt32, _ last: UInt8 = 1) -> Record {
        Record(name: try! DNSName(name), type: .a, ttl: ttl, rdata: .a(IPv4Address(192, 0, 2, last)))
    }

    // MARK: Answers and the cache

    @Test func answerIsCachedWithTheClientsIDAndCaseAndTTLsCountDown() async throws {
        // Two names: one lives long enough to watch its TTL count down however slow
        // this machine is; the other expires, however late the test looks again.
        let up = try FakeUpstream { q, _ in
            let long = q.questions.first?.name == (try! DNSName("www.example.com"))
            return [FakeReply(bytes: FakeUpstream.reply(to: q, answers: [Self.a(long ? "www.example.com" : "short.example.com",
                                                                               long ? 30 : 1)]))]
        }
        defer { up.stop() }
        let f = try forwarder([up])
        defer { f.shutdown() }

        let beforeStore = Syscalls.now()
        let (first, _) = try await resolve(f, Self.query("WwW.ExAmple.COM", id: 7))
        let afterStore = Syscalls.now()
        #expect(first.header.id == 7)
        #expect(first.rcode == .noError)
        #expect(first.questions[0].name.wire == (try DNSName("WwW.ExAmple.COM")).wire)
        #expect(first.answers == [Self.a("www.example.com", 30)])
        #expect(first.header.recursionAvailable && !first.header.authoritative)
        _ = try await resolve(f, Self.query("short.example.com"))

        let hit = try #require(try cached(f, Self.query("www.EXAMPLE.com", id: 99)))
        #expect(hit.header.id == 99)
        #expect(hit.questions[0].name.wire == (try DNSName("www.EXAMPLE.com")).wire)
        #expect(hit.answers.first?.rdata == .a(IPv4Address(192, 0, 2, 1)))
        #expect(hit.edns?.udpPayloadSize == 1232)
        #expect(up.udpQueries.load(ordering: .relaxed) == 2)

        try await Task.sleep(for: .milliseconds(1100))
        let beforeLook = Syscalls.now()
        let ttl = try #require(try cached(f, Self.query("www.example.com"))?.answers.first?.ttl)
        let afterLook = Syscalls.now()
        // The age is whole seconds between storing and looking, both known only within bounds.
        let youngest = UInt32((beforeLook - afterStore) / 1_000_000_000), oldest = UInt32((afterLook - beforeStore) / 1_000_000_000)
        #expect(youngest >= 1)
        #expect((30 - oldest)...(30 - youngest) ~= ttl, "counted down by the seconds in the cache")
        #expect(try cached(f, Self.query("short.example.com")) == nil, "expired after its TTL")
        #expect(f.statistics.cacheHits == 2)
        #expect(f.statistics.cacheMisses == 1)
    }

    @Test func nxdomainIsCachedForTheSOAMinimum() async throws {
        let up = try Self.nxdomainUpstream()
        defer { up.stop() }
        let f = try forwarder([up])
        defer { f.shutdown() }
        let (m, _) = try await resolve(f, Self.query("nope.example.com"))
        #expect(m.rcode == .nxDomain)
        #expect(m.authority.first?.ttl == 1, "RFC 2308: min(SOA TTL, MINIMUM)")
        let hit = try #require(try cached(f, Self.query("NOPE.example.com")))
        #expect(hit.rcode == .nxDomain)
        #expect(hit.authority.first?.type == .soa)
        try await Task.sleep(for: .milliseconds(1100))
        #expect(try cached(f, Self.query("nope.example.com")) == nil)
    }

    @Test func nodataWithoutSOAIsNotCached() async throws {
        let up = try FakeUpstream { q, _ in [FakeReply(bytes: FakeUpstream.reply(to: q))] }
        defer { up.stop() }
        let f = try forwarder([up])
        defer { f.shutdown() }
        let (m, _) = try await resolve(f, Self.query("empty.example.com"))
        #expect(m.rcode == .noError && m.answers.isEmpty)
        #expect(try cached(f, Self.query("empty.example.com")) == nil)
    }

    @Test func theDOBitIsPartOfTheKeyAndForwarded() async throws {
        let up = try FakeUpstream { q, _ in
            let last: UInt8 = q.edns?.dnssecOK == true ? 2 : 1
            return [FakeReply(bytes: FakeUpstream.reply(to: q, answers: [Self.a("k.example.com", 60, last)]))]
        }
        defer { up.stop() }
        let f = try forwarder([up])
        defer { f.shutdown() }
        _ = try await resolve(f, Self.query("k.example.com"))
        #expect(try cached(f, Self.query("k.example.com", dnssecOK: true)) == nil)
        let (withDO, _) = try await resolve(f, Self.query("k.example.com", dnssecOK: true))
        #expect(withDO.answers.first?.rdata == .a(IPv4Address(192, 0, 2, 2)))
        #expect(withDO.edns?.dnssecOK == true)
        #expect(try cached(f, Self.query("k.example.com"))?.answers.first?.rdata == .a(IPv4Address(192, 0, 2, 1)))
        #expect(try cached(f, Self.query("k.example.com", dnssecOK: true))?.answers.first?.rdata == .a(IPv4Address(192, 0, 2, 2)))
        #expect(up.udpQueries.load(ordering: .relaxed) == 2)
    }

    @Test func theCacheKeepsToItsEntryBound() async throws {
        let up = try FakeUpstream { q, _ in
            [FakeReply(bytes: FakeUpstream.reply(to: q, answers: [Record(name: q.questions[0].name, type: .a, ttl: 60,
                                                                         rdata: .a(IPv4Address(192, 0, 2, 1)))]))]
        }
        defer { up.stop() }
        let f = try forwarder([up], entries: 3)
        defer { f.shutdown() }
        for i in 0..<3 { _ = try await resolve(f, Self.query("n\(i).example.com")) }
        // n0 is used, so CLOCK gives it a second chance; n1 is the oldest unused.
        #expect(try cached(f, Self.query("n0.example.com")) != nil)
        for i in 3..<5 { _ = try await resolve(f, Self.query("n\(i).example.com")) }
        #expect(f.statistics.cacheEntries == 3)
        #expect(try cached(f, Self.query("n0.example.com")) != nil)
        #expect(try cached(f, Self.query("n1.example.com")) == nil)
        #expect(try cached(f, Self.query("n4.example.com")) != nil)
    }

    @Test func theCacheKeepsToItsByteBound() async throws {
        let up = try FakeUpstream { q, _ in
            [FakeReply(bytes: FakeUpstream.reply(to: q, answers: [Record(name: q.questions[0].name, type: .txt, ttl: 60,
                                                                         rdata: .txt(splitting: Array(repeating: 0x61, count: 1000)))]))]
        }
        defer { up.stop() }
        let f = try forwarder([up], bytes: 5000)
        defer { f.shutdown() }
        for i in 0..<10 { _ = try await resolve(f, Self.query("t\(i).example.com", .txt)) }
        let s = f.statistics
        #expect(s.cacheBytes <= 5000)
        #expect(s.cacheEntries >= 3 && s.cacheEntries <= 4)
    }

    @Test func anAnswerTooLargeForTheLimitIsTruncated() async throws {
        let answers = (1...60).map { Self.a("big.example.com", 60, UInt8($0)) }
        let up = try FakeUpstream { q, _ in [FakeReply(bytes: FakeUpstream.reply(to: q, answers: answers))] }
        defer { up.stop() }
        let f = try forwarder([up])
        defer { f.shutdown() }
        let (full, _) = try await resolve(f, Self.query("big.example.com"), limit: 4096)
        #expect(full.answers.count == 60)
        let small = try #require(try cached(f, Self.query("big.example.com"), limit: 512))
        #expect(small.header.truncated)
        #expect(small.answers.isEmpty, "whole RRsets only")
        #expect(small.questions.count == 1)
    }

    @Test func readersRacingEvictionsOnlyEverSeeTheirOwnAnswer() async throws {
        // 20 names, room for 4: every insert evicts, so entries are retired and
        // freed while four threads keep reading. Each name has its own address.
        let up = try FakeUpstream { q, _ in
            let name = q.questions[0].name
            let n = UInt8(String(decoding: name.labels[0].dropFirst(), as: UTF8.self))!
            return [FakeReply(bytes: FakeUpstream.reply(to: q, answers: [
                Record(name: name, type: .a, ttl: 60, rdata: .a(IPv4Address(192, 0, 2, n)))]))]
        }
        defer { up.stop() }
        let f = try forwarder([up], entries: 4)
        defer { f.shutdown() }
        let queries = (0..<20).map { Self.query("n\($0).example.com", id: UInt16($0)) }
        let stop = ManagedAtomic<Bool>(false)
        let hits = ManagedAtomic<Int>(0)
        let wrong = ManagedAtomic<Int>(0)
        let readers = try (0..<4).map { r in
            try Syscalls.startThread {
                var out = [UInt8](repeating: 0, count: 1232)
                var i = r
                while !stop.load(ordering: .relaxed) {
                    i = (i + 7) % 20
                    let n = queries[i].withUnsafeBytes { bytes in
                        out.withUnsafeMutableBytes { f.answerFromCache(query: try! Query.parse(bytes), bytes: bytes, into: $0, limit: 1232) }
                    }
                    guard let n else { continue }
                    hits.wrappingIncrement(ordering: .relaxed)
                    // ID, and the A record's last octet, must be this name's.
                    let m = try? Message(parsing: Array(out[0..<n]))
                    if m?.header.id != UInt16(i) || m?.answers.first?.rdata != .a(IPv4Address(192, 0, 2, UInt8(i))) {
                        wrong.wrappingIncrement(ordering: .relaxed)
                    }
                }
            }
        }
        let end = Syscalls.now() + 1_500_000_000
        var k = 0
        while Syscalls.now() < end {
            _ = try await resolve(f, queries[k % 20])
            k += 1
        }
        stop.store(true, ordering: .relaxed)
        for t in readers { Syscalls.join(t) }
        #expect(hits.load(ordering: .relaxed) > 100)
        #expect(wrong.load(ordering: .relaxed) == 0)
        #expect(f.statistics.cacheEntries <= 4)
        f.shutdown()  // the resolver thread is gone: its state may be read here
        #expect(f.cache.epochs.pending < k, "retired entries were freed as the run went")
    }

    // MARK: Upstream behaviour

    @Test func identicalQueriesInFlightGoUpstreamOnce() async throws {
        let up = try FakeUpstream { q, _ in
            [FakeReply(bytes: FakeUpstream.reply(to: q, answers: [Self.a("same.example.com", 60)]), delay: .milliseconds(150))]
        }
        defer { up.stop() }
        let f = try forwarder([up])
        defer { f.shutdown() }
        let ids = try await withThrowingTaskGroup(of: UInt16.self) { group in
            for i in 0..<20 {
                group.addTask { try await self.resolve(f, Self.query("same.example.com", id: UInt16(i))).0.header.id }
            }
            return try await group.reduce(into: [UInt16]()) { $0.append($1) }
        }
        #expect(Set(ids) == Set(0..<20))
        #expect(up.udpQueries.load(ordering: .relaxed) == 1)
        #expect(f.statistics.coalesced == 19)
    }

    @Test func repliesWithAnotherIDOrQuestionOrPortAreDropped() async throws {
        let up = try FakeUpstream { q, _ in
            let good = FakeUpstream.reply(to: q, answers: [Self.a("target.example.com", 60, 1)])
            let forged = [Self.a("target.example.com", 60, 66)]
            return [
                FakeReply(bytes: FakeUpstream.reply(to: q, answers: forged, id: q.header.id &+ 1)),
                FakeReply(bytes: FakeUpstream.reply(to: q, answers: forged,
                                                    question: Question(name: try! DNSName("other.example.com"), type: .a))),
                FakeReply(bytes: FakeUpstream.reply(to: q, answers: forged), fromOtherPort: true),
                FakeReply(bytes: good, delay: .milliseconds(50)),
            ]
        }
        defer { up.stop() }
        let f = try forwarder([up])
        defer { f.shutdown() }
        let (m, _) = try await resolve(f, Self.query("target.example.com"))
        #expect(m.answers.first?.rdata == .a(IPv4Address(192, 0, 2, 1)))
        // The other-port reply never reaches the socket (it is connected); the other two are counted.
        #expect(f.statistics.droppedReplies == 2)
    }

    @Test func aSilentUpstreamIsSkippedForTheNext() async throws {
        let silent = try FakeUpstream { _, _ in [] }
        let good = try FakeUpstream { q, _ in [FakeReply(bytes: FakeUpstream.reply(to: q, answers: [Self.a("x.example.com", 60)]))] }
        defer { silent.stop(); good.stop() }
        let f = try forwarder([silent, good])
        defer { f.shutdown() }
        let start = Syscalls.now()
        let (m, _) = try await resolve(f, Self.query("x.example.com"))
        #expect(m.rcode == .noError && m.answers.count == 1)
        #expect(Syscalls.now() - start < 600_000_000, "within twice the timeout")
        #expect(silent.udpQueries.load(ordering: .relaxed) == 1)
        // The silent one has the worse RTT now: the next question goes to the good one first.
        _ = try await resolve(f, Self.query("y.example.com"))
        #expect(silent.udpQueries.load(ordering: .relaxed) == 1)
    }

    @Test func aClosedPortFailsOverAtOnce() async throws {
        let closed = try FakeUpstream { _, _ in [] }
        let closedAddress = closed.address
        closed.stop()
        let good = try FakeUpstream { q, _ in [FakeReply(bytes: FakeUpstream.reply(to: q, answers: [Self.a("c.example.com", 60)]))] }
        defer { good.stop() }
        let f = try Forwarder(configuration: ForwarderConfiguration(upstreams: [closedAddress, good.address],
                                                                    timeout: .seconds(2)), logger: Self.logger)
        defer { f.shutdown() }
        let start = Syscalls.now()
        let (m, _) = try await resolve(f, Self.query("c.example.com"))
        #expect(m.answers.count == 1)
        #expect(Syscalls.now() - start < 1_000_000_000, "ICMP port unreachable, not a 2 s timeout")
    }

    @Test func aTruncatedReplyIsRetriedOverTCP() async throws {
        let answers = (1...100).map { Self.a("tc.example.com", 60, UInt8($0)) }
        let up = try FakeUpstream { q, tcp in
            [FakeReply(bytes: tcp ? FakeUpstream.reply(to: q, answers: answers) : FakeUpstream.reply(to: q, truncated: true))]
        }
        defer { up.stop() }
        let f = try forwarder([up])
        defer { f.shutdown() }
        let (m, _) = try await resolve(f, Self.query("tc.example.com"), limit: 65_535)
        #expect(m.answers.count == 100)
        #expect(up.tcpQueries.load(ordering: .relaxed) == 1)
        #expect(f.statistics.tcpRetries == 1)
        // Over UDP to a client with 1232 octets, the cached answer is truncated, TC set.
        #expect(try cached(f, Self.query("tc.example.com"))?.header.truncated == true)
    }

    @Test func whenEveryUpstreamFailsAStaleAnswerIsServedWithTTL30() async throws {
        let up = try FakeUpstream { q, _ in [FakeReply(bytes: FakeUpstream.reply(to: q, answers: [Self.a("s.example.com", 1)]))] }
        defer { up.stop() }
        let f = try forwarder([up])
        defer { f.shutdown() }
        _ = try await resolve(f, Self.query("s.example.com"))
        up.setHandler { _, _ in [] }
        try await Task.sleep(for: .milliseconds(1100))
        let (m, _) = try await resolve(f, Self.query("s.example.com"))
        #expect(m.rcode == .noError)
        #expect(m.answers.first?.ttl == 30)
        #expect(m.edns?.options == [Self.extendedError(ExtendedDNSError.staleAnswer)], "RFC 8914 §4.4: Stale Answer")
        #expect(f.statistics.staleAnswers == 1)
        #expect(f.statistics.upstreamTimeouts >= 1)

        // RFC 8767's failure recheck timer: for 30 s the stale answer comes at once, unasked upstream.
        let asked = up.udpQueries.load(ordering: .relaxed)
        let (m2, _) = try await resolve(f, Self.query("s.example.com"))
        #expect(m2.answers.first?.ttl == 30)
        #expect(up.udpQueries.load(ordering: .relaxed) == asked)
        #expect(f.statistics.staleAnswers == 2)
    }

    @Test func whenEveryUpstreamFailsAndNothingIsStaleTheAnswerIsSERVFAIL() async throws {
        let up = try FakeUpstream { _, _ in [] }
        defer { up.stop() }
        let f = try forwarder([up])
        defer { f.shutdown() }
        let start = Syscalls.now()
        let (m, _) = try await resolve(f, Self.query("dead.example.com", id: 42))
        #expect(Syscalls.now() - start < 700_000_000)
        #expect(m.rcode == .servFail)
        #expect(m.header.id == 42)
        #expect(m.edns?.options == [Self.extendedError(ExtendedDNSError.noReachableAuthority)],
                "RFC 8914 §4.23: No Reachable Authority")
        // A client without EDNS gets the plain SERVFAIL (it could not read the option).
        let (plain, _) = try await resolve(f, Self.query("dead2.example.com", edns: false))
        #expect(plain.rcode == .servFail && plain.edns == nil)
    }

    @Test func aStaleNXDOMAINSaysSo() async throws {
        let up = try Self.nxdomainUpstream()
        defer { up.stop() }
        let f = try forwarder([up])
        defer { f.shutdown() }
        _ = try await resolve(f, Self.query("gone.example.com"))
        up.setHandler { _, _ in [] }
        try await Task.sleep(for: .milliseconds(1100))
        let (m, _) = try await resolve(f, Self.query("gone.example.com"))
        #expect(m.rcode == .nxDomain)
        #expect(m.edns?.options == [Self.extendedError(ExtendedDNSError.staleNXDomain)], "RFC 8914 §4.20")
    }

    @Test func upstreamSERVFAILTriesTheNextUpstream() async throws {
        let broken = try FakeUpstream { q, _ in [FakeReply(bytes: FakeUpstream.reply(to: q, rcode: .servFail))] }
        let good = try FakeUpstream { q, _ in [FakeReply(bytes: FakeUpstream.reply(to: q, answers: [Self.a("sf.example.com", 60)]))] }
        defer { broken.stop(); good.stop() }
        let f = try forwarder([broken, good])
        defer { f.shutdown() }
        let (m, _) = try await resolve(f, Self.query("sf.example.com"))
        #expect(m.rcode == .noError && m.answers.count == 1)
    }

    @Test func withoutUpstreamsTheAnswerIsREFUSED() async throws {
        let f = try forwarder([])
        defer { f.shutdown() }
        let (m, _) = try await resolve(f, Self.query("any.example.com"))
        #expect(m.rcode == .refused)
    }

    @Test func eachUpstreamQueryHasARandomIDAndSourcePort() async throws {
        let seen = Mutex<[UInt16]>([])
        let up = try FakeUpstream { q, _ in
            seen.withLock { $0.append(q.header.id) }
            return [FakeReply(bytes: FakeUpstream.reply(to: q, rcode: .nxDomain,
                                                        authority: [FakeUpstream.soa("example.com", ttl: 60, minimum: 60)]))]
        }
        defer { up.stop() }
        let f = try forwarder([up])
        defer { f.shutdown() }
        for i in 0..<16 { _ = try await resolve(f, Self.query("r\(i).example.com", id: 1)) }
        let ids = seen.withLock { $0 }
        #expect(ids.count == 16)
        #expect(Set(ids).count >= 15, "IDs are random, not the client's")
    }
}
