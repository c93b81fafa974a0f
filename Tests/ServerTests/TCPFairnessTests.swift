import Testing
@testable import Server

private typealias Open = (organization: UInt32, idle: Bool, lastActivity: UInt64)

@Test func aFloodersNewConnectionEvictsOnlyItsOwn() {
    // Organization A holds 6 connections (two idle), B holds 2 (both idle, idle longer than A's).
    let open: [Open] = [(0xb, true, 1), (0xb, true, 2), (0xa, false, 3), (0xa, true, 9), (0xa, false, 4),
                        (0xa, true, 7), (0xa, false, 5), (0xa, false, 6)]
    // A newcomer of A evicts A's idle-longest connection, never B's older idle ones.
    #expect(TCPServer.evictionChoice(open, newcomer: 0xa) == 5)
    // A newcomer of B evicts from A, which holds the most.
    #expect(TCPServer.evictionChoice(open, newcomer: 0xb) == 5)
    // A third organization too.
    #expect(TCPServer.evictionChoice(open, newcomer: 0xc) == 5)
}

@Test func nothingToEvictClosesTheNewcomer() {
    // A holds everything and all of it is busy: B's newcomer is closed, and so is A's.
    let busy: [Open] = (0..<4).map { (0xa, false, UInt64($0)) }
    #expect(TCPServer.evictionChoice(busy, newcomer: 0xb) == nil)
    #expect(TCPServer.evictionChoice(busy, newcomer: 0xa) == nil)
    // A's connections are busy and only B's is idle: A's newcomer may not take it (B holds fewer).
    let bIdle: [Open] = busy + [(0xb, true, 0)]
    #expect(TCPServer.evictionChoice(bIdle, newcomer: 0xa) == nil)
    // ...but B's own newcomer may.
    #expect(TCPServer.evictionChoice(bIdle, newcomer: 0xb) == 4)
}

@Test func oneOrganizationAloneEvictsItsIdleLongest() {
    let open: [Open] = [(0xa, true, 5), (0xa, true, 2), (0xa, false, 1), (0xa, true, 3)]
    #expect(TCPServer.evictionChoice(open, newcomer: 0xa) == 1)
}

@Test func perSourceCountsTheInstance() {
    let a1 = ClientOrigin(network: 0xa, host: 1, instance: 1)
    #expect(TCPServer.sameInstance(a1, ClientOrigin(network: 0xa, host: 1, instance: 1)))
    #expect(!TCPServer.sameInstance(a1, ClientOrigin(network: 0xa, host: 1, instance: 2)))
    #expect(!TCPServer.sameInstance(a1, ClientOrigin(network: 0xa, host: 2, instance: 1)))
    #expect(!TCPServer.sameInstance(a1, ClientOrigin(network: 0xb, host: 1, instance: 1)))
}
