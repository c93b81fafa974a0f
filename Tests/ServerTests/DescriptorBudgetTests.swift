import Testing
@testable import Server

@Test func aLargeLimitGivesTheDefaults() throws {
    let b = try DescriptorBudget.plan(limit: 1 << 20, limitBefore: 1024, threads: 2, addresses: 2, metrics: true,
                                      forwarding: true, requested: nil)
    #expect(b.tcpConnections == 256 && b.upstreamInFlight == 1024)
    #expect(b.description.hasPrefix("open-file limit 1048576 (raised from 1024)"))
}

@Test func aSmallLimitIsSharedOutAndEverythingFits() throws {
    let b = try DescriptorBudget.plan(limit: 256, limitBefore: 256, threads: 2, addresses: 1, metrics: true,
                                      forwarding: true, requested: nil)
    #expect(b.fixed + b.tcpConnections + b.upstreamInFlight <= 256)
    #expect(b.tcpConnections >= 8 && b.upstreamInFlight >= DescriptorBudget.minimumUpstreamInFlight)
}

@Test func aLimitTooSmallForTheListenersIsRefusedInOneLine() {
    #expect(throws: ServerError.self) {
        try DescriptorBudget.plan(limit: 64, limitBefore: 64, threads: 8, addresses: 2, metrics: false,
                                  forwarding: true, requested: nil)
    }
    do {
        _ = try DescriptorBudget.plan(limit: 64, limitBefore: 64, threads: 8, addresses: 2, metrics: false,
                                      forwarding: true, requested: nil)
    } catch {
        #expect(!error.description.contains("\n") && error.description.contains("raise it"))
    }
}

@Test func aRequestedBoundPastTheLimitIsRefused() throws {
    #expect(throws: ServerError.self) {
        try DescriptorBudget.plan(limit: 256, limitBefore: 256, threads: 1, addresses: 1, metrics: false,
                                  forwarding: true, requested: 10_000)
    }
    let b = try DescriptorBudget.plan(limit: 256, limitBefore: 256, threads: 1, addresses: 1, metrics: false,
                                      forwarding: true, requested: 20)
    #expect(b.upstreamInFlight == 20)
}

@Test func withoutUpstreamsNoDescriptorGoesToThem() throws {
    let b = try DescriptorBudget.plan(limit: 4096, limitBefore: 4096, threads: 2, addresses: 1, metrics: false,
                                      forwarding: false, requested: nil)
    #expect(b.upstreamInFlight == 0 && b.tcpConnections == 256)
}
