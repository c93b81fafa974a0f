#if canImport(Glibc)
import Glibc
#endif
import DNSWire
import Forwarder
import Logging
import Testing
import ZoneEngine
@testable import Server

private let second: UInt64 = 1_000_000_000

@Test func anInstanceGetsItsBurstThenItsRate() {
    let limiter = TenantLimiter(QueryBudgets(instanceQPS: 10, organizationQPS: 0))
    let a = ClientOrigin(network: 0xa, host: 1, instance: 1)
    let t = 5 * second
    for i in 0..<10 { #expect(limiter.admit(a, now: t) == .admitted, "query \(i) of the burst") }
    #expect(limiter.admit(a, now: t) == .instance)
    // One interval (100 ms) later, one more token.
    #expect(limiter.admit(a, now: t + second / 10) == .admitted)
    #expect(limiter.admit(a, now: t + second / 10) == .instance)
    // Another instance of the same organization has a bucket of its own.
    #expect(limiter.admit(ClientOrigin(network: 0xa, host: 1, instance: 2), now: t) == .admitted)
    // A second later the bucket is full again.
    for _ in 0..<10 { #expect(limiter.admit(a, now: t + 2 * second) == .admitted) }
}

@Test func anOrganizationsInstancesShareItsBudgetAndOthersKeepTheirs() {
    let limiter = TenantLimiter(QueryBudgets(instanceQPS: 10, organizationQPS: 15))
    let t = 5 * second
    for _ in 0..<10 { #expect(limiter.admit(ClientOrigin(network: 0xa, host: 1, instance: 1), now: t) == .admitted) }
    for _ in 0..<5 { #expect(limiter.admit(ClientOrigin(network: 0xa, host: 2, instance: 9), now: t) == .admitted) }
    #expect(limiter.admit(ClientOrigin(network: 0xa, host: 2, instance: 9), now: t) == .organization)
    #expect(limiter.admit(orgB, now: t) == .admitted)
}

@Test func sprayingSourcesInsideOneOrganizationIsStillThatOrganization() {
    let limiter = TenantLimiter(QueryBudgets(instanceQPS: 1_000, organizationQPS: 100))
    let t = 5 * second
    var admitted = 0
    // 50,000 different instances of org A (more than the instance table holds), all at one instant.
    for i in 0..<50_000 {
        let o = ClientOrigin(network: 0xa, host: UInt32(i >> 16), instance: UInt32(i))
        if limiter.admit(o, now: t) == .admitted { admitted += 1 }
    }
    // The organization's burst (100) and no more: once the instance table is busy its queries go
    // unlimited per instance (counted as crowded), but still through the organization's bucket.
    #expect(admitted == 100)
    #expect(limiter.crowded > 0)
    // Organization B is untouched.
    #expect(limiter.admit(orgB, now: t) == .admitted)
}

@Test func budgetsOfZeroAreOff() {
    #expect(QueryBudgets.off.isOff)
    #expect(!QueryBudgets.defaults.isOff)
    #expect(QueryBudgets.defaults.instanceQPS == 2_000 && QueryBudgets.defaults.organizationQPS == 10_000)
    // Only instances limited: an organization's slot still counts, never limits.
    let limiter = TenantLimiter(QueryBudgets(instanceQPS: 5, organizationQPS: 0))
    for i in 0..<1_000 {
        #expect(limiter.admit(ClientOrigin(network: 0xa, host: 1, instance: UInt32(i)), now: second) == .admitted)
    }
}

/// A query service over the test zone with budgets of one query per second
/// per instance (a burst of one): the second UDP query is over.
private func limitedService(_ zone: ZoneStore, counters: WorkerCounters, _ budgets: QueryBudgets) -> QueryService {
    QueryService(zone: zone, forwarder: nil, trust: ClientTrust(), state: ServerState(), counters: counters,
                 limiter: budgets.isOff ? nil : TenantLimiter(budgets))
}

@Test func overBudgetOneInTwoIsTruncatedTheRestDroppedAndTCPStillAnswers() throws {
    let (zone, path) = try testZone()
    defer { removeDatabase(path) }
    let counters = WorkerCounters()
    let service = limitedService(zone, counters: counters, QueryBudgets(instanceQPS: 1, organizationQPS: 0))
    let out = UnsafeMutableRawBufferPointer.allocate(byteCount: 65535, alignment: 8)
    defer { out.deallocate() }
    let query = TestQuery(name: "web.internal").bytes
    guard case .reply = answer(service, query, from: orgA, into: out) else { Issue.record("first query not answered"); return }
    #expect(try Header(from: UnsafeRawBufferPointer(out)).anCount == 2)
    // Over budget: dropped, then a TC reply with the question and no records, then dropped...
    guard case .none = answer(service, query, from: orgA, into: out) else { Issue.record("not dropped"); return }
    guard case .reply(let n) = answer(service, query, from: orgA, into: out) else { Issue.record("no TC"); return }
    let h = try Header(from: UnsafeRawBufferPointer(out))
    #expect(h.flags & Header.tcBit != 0 && h.isResponse && h.id == 0x1234)
    #expect(h.qdCount == 1 && h.anCount == 0 && n == query.count)
    guard case .none = answer(service, query, from: orgA, into: out) else { Issue.record("not dropped"); return }
    // ...and over TCP, where the client goes after a TC, the answer comes.
    guard case .reply = answer(service, query, from: orgA, .tcp, into: out) else { Issue.record("TCP limited"); return }
    #expect(try Header(from: UnsafeRawBufferPointer(out)).anCount == 2)
    // Another organization is not limited.
    guard case .reply = answer(service, TestQuery(name: "secret.internal").bytes, from: orgB, into: out) else {
        Issue.record("org B limited"); return
    }
    #expect(counters.value(WorkerCounters.Slot.limitedInstanceUDP) == 3)
    #expect(counters.value(WorkerCounters.Slot.limitedSlipped) == 1)
    #expect(counters.value(WorkerCounters.Slot.limitedOrganizationUDP) == 0)
}

@Test func withBudgetsOffNothingIsLimitedOrCounted() throws {
    let (zone, path) = try testZone()
    defer { removeDatabase(path) }
    let counters = WorkerCounters()
    let service = limitedService(zone, counters: counters, .off)
    #expect(service.limiter == nil)
    let out = UnsafeMutableRawBufferPointer.allocate(byteCount: 65535, alignment: 8)
    defer { out.deallocate() }
    for _ in 0..<100 {
        guard case .reply = answer(service, TestQuery(name: "web.internal").bytes, from: orgA, into: out) else {
            Issue.record("limited with budgets off"); return
        }
    }
    for slot in [WorkerCounters.Slot.limitedInstanceUDP, WorkerCounters.Slot.limitedOrganizationUDP,
                 WorkerCounters.Slot.limitedSlipped] {
        #expect(counters.value(slot) == 0)
    }
}

@Test func theCollectorWarnsOncePerOrganizationAndKeepsTheTopOrganizations() {
    let limiter = TenantLimiter(QueryBudgets(instanceQPS: 0, organizationQPS: 5))
    let stats = TenantStatistics()
    let logger = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }
    let t = 5 * second
    for _ in 0..<8 { _ = limiter.admit(orgA, now: t) }
    for network in UInt32(0x100)..<UInt32(0x120) { _ = limiter.admit(ClientOrigin(network: network, host: 1), now: t) }
    stats.collect(limiter, logger: logger)
    #expect(stats.warned == [0xa])
    #expect(stats.minute[0xa] == 8)
    for _ in 0..<8 { _ = limiter.admit(orgA, now: t) }
    stats.collect(limiter, logger: logger)
    #expect(stats.warned == [0xa], "warned once, not again")
    #expect(stats.minute[0xa] == 16 && stats.minute[0x100] == 1)
}

@Test func anOrganizationsForwardedQueriesAreCappedInFlightAndPerSecond() {
    let inFlight = TenantLimiter(QueryBudgets(instanceQPS: 0, organizationQPS: 0, upstreamInFlight: 2))
    let t = 5 * second
    let first = inFlight.admitUpstream(orgA, now: t), second_ = inFlight.admitUpstream(orgA, now: t)
    #expect(first.admitted && second_.admitted && first.slot != nil)
    #expect(!inFlight.admitUpstream(orgA, now: t).admitted, "a third in flight is over the cap")
    #expect(inFlight.admitUpstream(orgB, now: t).admitted, "another organization has its own")
    inFlight.releaseUpstream(first.slot!)
    #expect(inFlight.admitUpstream(orgA, now: t).admitted, "a reply came: room for one more")

    let perSecond = TenantLimiter(QueryBudgets(instanceQPS: 0, organizationQPS: 0, upstreamQPS: 3))
    for _ in 0..<3 {
        let a = perSecond.admitUpstream(orgA, now: t)
        #expect(a.admitted)
        perSecond.releaseUpstream(a.slot!)
    }
    #expect(!perSecond.admitUpstream(orgA, now: t).admitted)
    #expect(perSecond.admitUpstream(orgA, now: t + second).admitted)
}

@Test func aMissPastItsOrganizationsUpstreamCapGetsSERVFAILWithAnEDEAtOnce() throws {
    let (zone, path) = try testZone()
    defer { removeDatabase(path) }
    // An upstream that never reads: the forwarded queries stay in flight. (A closed port would
    // refuse at once, and the forwarder could free the slot before the next question is asked.)
    let silent = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
    #expect(silent >= 0)
    defer { close(silent) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) { a in
        a.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(silent, $0, length) == 0 && getsockname(silent, $0, &length) == 0 }
    }
    #expect(bound)
    let port = UInt16(bigEndian: address.sin_port)
    let forwarder = try Forwarder(configuration: ForwarderConfiguration(upstreams: [.ipv4(127, 0, 0, 1, port: port)]),
                                  logger: Logger(label: "test") { _ in SwiftLogNoOpLogHandler() })
    defer { forwarder.shutdown() }
    let counters = WorkerCounters()
    let service = QueryService(zone: zone, forwarder: forwarder, trust: ClientTrust(), state: ServerState(),
                               counters: counters,
                               limiter: TenantLimiter(QueryBudgets(instanceQPS: 0, organizationQPS: 0, upstreamInFlight: 1)))
    let out = UnsafeMutableRawBufferPointer.allocate(byteCount: 65535, alignment: 8)
    defer { out.deallocate() }
    let edns: (UInt16, UInt8, UInt16, [UInt8]) = (1232, 0, 0, [])
    guard case .forwarded = answer(service, TestQuery(name: "a.example.com", opt: edns).bytes, from: orgA, into: out) else {
        Issue.record("the first miss was not forwarded"); return
    }
    for transport in [Transport.udp, .tcp] {
        guard case .reply(let n) = answer(service, TestQuery(name: "b.example.com", opt: edns).bytes, from: orgA, transport,
                                          into: out) else { Issue.record("past the cap: no reply at once"); return }
        let m = try Message(parsing: Array(UnsafeRawBufferPointer(rebasing: out[0..<n])))
        #expect(m.rcode == .servFail)
        #expect(m.edns?.options.first?.code == 15, "an Extended DNS Error (RFC 8914)")
    }
    // Another organization is not held back by A's cap.
    guard case .forwarded = answer(service, TestQuery(name: "c.example.com", opt: edns).bytes, from: orgB, into: out) else {
        Issue.record("org B's miss was not forwarded"); return
    }
    #expect(counters.value(WorkerCounters.Slot.limitedUpstream) == 2)
}
