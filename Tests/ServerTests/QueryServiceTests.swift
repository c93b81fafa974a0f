#if canImport(Glibc)
import Glibc
#endif
import DNSWire
import Forwarder
import Logging
import Testing
import ZoneEngine
@testable import Server

/// A zone store over a fresh database: org 0000000a has app web (two
/// instances), org 0000000b has app secret.
func testZone() throws -> (ZoneStore, String) {
    let path = "/tmp/sixpn-responder-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).db"
    try DatabaseWriter.initialize(path: path)
    let db = try DatabaseWriter(path: path)
    _ = try db.addInstance(app: "web", region: "ams", address: "fdaa:0:a:0:1:0:101:2")
    _ = try db.addInstance(app: "web", region: "iad", address: "fdaa:0:a:0:2:0:102:2")
    _ = try db.addInstance(app: "secret", region: "lhr", address: "fdaa:0:b:0:7:0:301:2")
    return (try ZoneStore(path: path, ttl: 5, logger: Logger(label: "test")), path)
}

/// A query service without a forwarder, counting into `counters`.
func testService(_ zone: ZoneStore, forwarder: Forwarder? = nil, counters: WorkerCounters = WorkerCounters(),
                 chaos: ChaosAnswers = .thisServer) -> QueryService {
    QueryService(zone: zone, forwarder: forwarder, trust: ClientTrust(), state: ServerState(), counters: counters,
                 chaos: chaos)
}

/// What `service` makes of `bytes` from `origin` (a forwarded reply would go nowhere: no socket).
func answer(_ service: QueryService, _ bytes: [UInt8], from origin: ClientOrigin, _ transport: Transport = .udp,
            into out: UnsafeMutableRawBufferPointer) -> QueryResult {
    var nowhere = sockaddr_in6()
    return withUnsafeBytes(of: &nowhere) { source in
        bytes.withUnsafeBytes {
            service.answer($0, from: origin, transport: transport,
                           route: .datagram(fd: -1, source: source.baseAddress!, sourceLength: 0),
                           snapshot: service.zone.current, into: out)
        }
    }
}

/// Answers `query` from `origin` and returns the reply's header and length (nil when nothing goes back).
func respond(_ query: TestQuery, from origin: ClientOrigin, _ transport: Transport = .udp,
             zone: ZoneStore, counters: WorkerCounters = WorkerCounters()) -> (Header, Int)? {
    let out = UnsafeMutableRawBufferPointer.allocate(byteCount: 65535, alignment: 8)
    defer { out.deallocate() }
    guard case .reply(let n) = answer(testService(zone, counters: counters), query.bytes, from: origin, transport,
                                      into: out) else { return nil }
    return (try! Header(from: UnsafeRawBufferPointer(out)), n)
}

func removeDatabase(_ path: String) {
    for suffix in ["", "-wal", "-shm"] { unlink(path + suffix) }
}

let orgA = ClientOrigin(network: 0xa, host: 1)
let orgB = ClientOrigin(network: 0xb, host: 7)

@Test func internalAnswersAreAuthoritativeAndCounted() throws {
    let (zone, path) = try testZone()
    defer { removeDatabase(path) }
    let counters = WorkerCounters()
    let r = try #require(respond(TestQuery(name: "web.internal"), from: orgA, zone: zone, counters: counters))
    #expect(r.0.authoritative && r.0.recursionDesired && !r.0.recursionAvailable)
    #expect(r.0.rcodeBits == 0 && r.0.anCount == 2)
    #expect(r.0.id == 0x1234)
    #expect(counters.value(WorkerCounters.Slot.answer(type: .aaaa, rcode: .noError)) == 1)
}

@Test func eachOrganizationSeesOnlyItsOwnApps() throws {
    let (zone, path) = try testZone()
    defer { removeDatabase(path) }
    #expect(respond(TestQuery(name: "secret.internal"), from: orgA, zone: zone)?.0.rcodeBits == 3)
    #expect(respond(TestQuery(name: "web.internal"), from: orgB, zone: zone)?.0.rcodeBits == 3)
    #expect(respond(TestQuery(name: "secret.internal"), from: orgB, zone: zone)?.0.anCount == 1)
}

@Test func namesOutsideInternalAreRefusedWithoutUpstreams() throws {
    let (zone, path) = try testZone()
    defer { removeDatabase(path) }
    let r = try #require(respond(TestQuery(name: "example.com", type: 1), from: orgA, zone: zone))
    #expect(r.0.rcodeBits == 5 && !r.0.authoritative && r.0.qdCount == 1)
}

@Test func otherClassesAndZoneTransfersUnderInternalAreRefused() throws {
    let (zone, path) = try testZone()
    defer { removeDatabase(path) }
    #expect(respond(TestQuery(name: "web.internal", type: 16, qclass: 3), from: orgA, zone: zone)?.0.rcodeBits == 5)
    #expect(respond(TestQuery(name: "internal", type: 252), from: orgA, .tcp, zone: zone)?.0.rcodeBits == 5)
}

@Test func upperCaseQuestionsAreAnswered() throws {
    let (zone, path) = try testZone()
    defer { removeDatabase(path) }
    #expect(respond(TestQuery(name: "WEB.Internal"), from: orgA, zone: zone)?.0.anCount == 2)
}

@Test func responsesAreDroppedAndCountedAsMalformed() throws {
    let (zone, path) = try testZone()
    defer { removeDatabase(path) }
    let counters = WorkerCounters()
    #expect(respond(TestQuery(flags: Header.qrBit), from: orgA, zone: zone, counters: counters) == nil)
    #expect(counters.value(WorkerCounters.Slot.droppedMalformed) == 1)
}

/// Answers `query` with the given CH answers; the reply's bytes (nil when dropped).
func chaosReply(_ query: TestQuery, _ chaos: ChaosAnswers) -> [UInt8]? {
    let out = UnsafeMutableRawBufferPointer.allocate(byteCount: 65535, alignment: 8)
    defer { out.deallocate() }
    let (zone, path) = try! testZone()
    defer { removeDatabase(path) }
    guard case .reply(let n) = answer(testService(zone, chaos: chaos), query.bytes, from: orgA, into: out) else {
        return nil
    }
    return Array(out[0..<n])
}

@Test func classChaosAnswersTheServersIdentityAndVersion() throws {
    let chaos = ChaosAnswers(identity: "host-7.example", version: "sixpn 9.9")
    for (name, text) in [("id.server", "host-7.example"), ("HOSTNAME.bind", "host-7.example"),
                         ("version.server", "sixpn 9.9"), ("Version.Bind", "sixpn 9.9")] {
        for type: UInt16 in [16, 255] {
            let bytes = try #require(chaosReply(TestQuery(name: name, type: type, qclass: 3), chaos))
            let m = try Message(parsing: bytes)
            #expect(m.header.authoritative && m.header.rcodeBits == 0, "\(name) \(type)")
            #expect(m.questions.first?.name.description == name + ".", "the question keeps the client's case")
            let record = try #require(m.answers.first)
            #expect(m.answers.count == 1 && record.class == .chaos && record.type == .txt && record.ttl == 0)
            #expect(record.rdata == .txt([Array(text.utf8)]), "\(name) says \(text)")
        }
    }
}

@Test func otherChaosQuestionsAreRefusedNotForwarded() throws {
    let chaos = ChaosAnswers(identity: "h", version: "v")
    for (name, type) in [("id.server", UInt16(1)), ("authors.bind", 16), ("example.com", 16), ("server", 16)] {
        let bytes = try #require(chaosReply(TestQuery(name: name, type: type, qclass: 3), chaos))
        let m = try Message(parsing: bytes)
        #expect(m.header.rcodeBits == 5 && m.answers.isEmpty, "\(name) type \(type) is REFUSED")
    }
}

@Test func theServersIdentityIsThisHostsName() {
    var buffer = [CChar](repeating: 0, count: 256)
    gethostname(&buffer, 255)
    let host = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    let expected = ChaosAnswers(identity: host, version: "sixpn " + sixpnVersion)
    #expect(ChaosAnswers.thisServer.identity == expected.identity)
    #expect(ChaosAnswers.thisServer.version == expected.version)
}

@Test func reverseNamesOfThe6PNAreAnsweredHereForTheQueriersOrganization() throws {
    let (zone, path) = try testZone()
    defer { removeDatabase(path) }
    // fdaa:0:a:0:1:0:101:2, nibbles reversed.
    let instance = "2.0.0.0.1.0.1.0.0.0.0.0.1.0.0.0.0.0.0.0.a.0.0.0.0.0.0.0.a.a.d.f.ip6.arpa"
    let counters = WorkerCounters()
    let own = try #require(respond(TestQuery(name: instance, type: 12), from: orgA, zone: zone, counters: counters))
    #expect(own.0.authoritative && own.0.rcodeBits == 0 && own.0.anCount == 1)
    #expect(counters.value(WorkerCounters.Slot.answer(type: .ptr, rcode: .noError)) == 1)
    // Another organization's address: NXDOMAIN, from here, not REFUSED as an outside name is without upstreams.
    let other = try #require(respond(TestQuery(name: instance, type: 12), from: orgB, zone: zone))
    #expect(other.0.authoritative && other.0.rcodeBits == 3 && other.0.anCount == 0)
    #expect(respond(TestQuery(name: "1.0.0.0.d.f.ip6.arpa", type: 12), from: orgA, zone: zone)?.0.rcodeBits == 5)
    #expect(respond(TestQuery(name: instance, type: 12, qclass: 3), from: orgA, zone: zone)?.0.rcodeBits == 5)
}

@Test func withoutRDAnOutsideNameIsRefusedNotForwardedNorReadFromTheCache() throws {
    let (zone, path) = try testZone()
    defer { removeDatabase(path) }
    // An upstream that is never asked: the service only decides; port 9 (discard) answers nothing.
    let forwarder = try Forwarder(configuration: ForwarderConfiguration(upstreams: [.ipv4(127, 0, 0, 1, port: 9)]),
                                  logger: Logger(label: "test"))
    defer { forwarder.shutdown() }
    let service = testService(zone, forwarder: forwarder)
    let out = UnsafeMutableRawBufferPointer.allocate(byteCount: 65535, alignment: 8)
    defer { out.deallocate() }
    func route(_ q: TestQuery) -> QueryResult { answer(service, q.bytes, from: orgA, into: out) }
    guard case .forwarded = route(TestQuery(name: "example.com")) else { Issue.record("RD set: not forwarded"); return }
    guard case .reply = route(TestQuery(flags: 0, name: "example.com")) else { Issue.record("RD clear: no reply"); return }
    let h = try Header(from: UnsafeRawBufferPointer(out))
    #expect(h.rcodeBits == 5 && !h.recursionDesired && h.recursionAvailable && h.anCount == 0)
    // internal. is answered either way: it is sixpn's own data.
    guard case .reply = route(TestQuery(flags: 0, name: "web.internal")) else { Issue.record("internal: no reply"); return }
    #expect(try Header(from: UnsafeRawBufferPointer(out)).anCount == 2)
}
