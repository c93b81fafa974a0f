@testable import Dnstap
import Foundation
import Glibc
import Logging
import Sockets
import Testing

@Suite(.serialized) struct DnstapLogTests {
    let logger = Logger(label: "test")

    /// Waits up to two seconds for `condition`.
    func eventually(_ condition: () -> Bool) -> Bool {
        for _ in 0..<200 {
            if condition() { return true }
            usleep(10_000)
        }
        return condition()
    }

    @Test func anExchangeAndAnUpstreamQueryReachTheReaderAsDnstap() throws {
        let reader = try FakeReader()
        try reader.start()
        let log = DnstapLog(destination: .unix(path: reader.path), identity: "host-a", version: "sixpn test", logger: logger)
        let worker = log.makeProducer()
        try log.start()
        #expect(eventually { log.connectionCount == 1 })

        var peer = sockaddrFor("fdaa:0:1:a7b:1::2", port: 40000)
        let query: [UInt8] = [0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1]
        let response: [UInt8] = [0x12, 0x34, 0x85, 0x80, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1]
        withUnsafeBytes(of: &peer) { p in
            query.withUnsafeBytes { q in
                response.withUnsafeBytes { r in
                    worker.clientExchange(query: q, response: r, peer: p.baseAddress!, tcp: false, received: (1_700_000_000, 5))
                }
            }
        }
        query.withUnsafeBytes { log.shared.forwarderQuery($0, upstream: .ipv4(10, 0, 0, 9, port: 53), tcp: true) }
        #expect(eventually { log.written == 3 })
        log.stop()
        reader.join()
        #expect(reader.stopped, "STOP, answered by FINISH")

        let messages = try reader.frames.map { try Dnstap_Dnstap(serializedBytes: $0) }
        #expect(messages.count == 3)
        #expect(messages.allSatisfy { $0.identity == Data("host-a".utf8) && $0.version == Data("sixpn test".utf8) && $0.type == .message })
        let byType = Dictionary(uniqueKeysWithValues: messages.map { ($0.message.type, $0.message) })
        let cq = try #require(byType[.clientQuery]), cr = try #require(byType[.clientResponse])
        let fq = try #require(byType[.forwarderQuery])
        var expectedAddress = in6_addr()
        _ = inet_pton(AF_INET6, "fdaa:0:1:a7b:1::2", &expectedAddress)
        let address = withUnsafeBytes(of: &expectedAddress) { Data($0) }
        #expect(cq.queryAddress == address && cq.queryPort == 40000 && cq.socketFamily == .inet6 && cq.socketProtocol == .udp)
        #expect(cq.queryMessage == Data(query) && cq.queryTimeSec == 1_700_000_000 && cq.queryTimeNsec == 5)
        #expect(cr.responseMessage == Data(response) && cr.queryAddress == address && cr.hasResponseTimeSec)
        #expect(fq.responseAddress == Data([10, 0, 0, 9]) && fq.responsePort == 53 && fq.socketProtocol == .tcp)
        #expect(fq.queryMessage == Data(query) && fq.socketFamily == .inet)
        #expect(log.dropped == 0)
    }

    @Test func withNoReaderMessagesAreDroppedAndCountedAndNothingWaits() throws {
        let log = DnstapLog(destination: .unix(path: "/tmp/sxd-dnstap-nobody-\(getpid()).sock"), identity: "h",
                            version: "v", ringCapacity: 8, logger: logger)
        let worker = log.makeProducer()
        try log.start()
        var peer = sockaddrFor("fdaa::2", port: 1)
        let query: [UInt8] = Array(repeating: 0, count: 30)
        let started = Syscalls.now()
        withUnsafeBytes(of: &peer) { p in
            query.withUnsafeBytes { q in
                for _ in 0..<1000 { worker.clientExchange(query: q, response: q, peer: p.baseAddress!, tcp: false, received: (0, 0)) }
            }
        }
        #expect(Syscalls.now() - started < 100_000_000, "a thousand messages never wait for a reader")
        #expect(eventually { log.dropped == 2000 })
        #expect(log.written == 0)
        log.stop()
    }
}
