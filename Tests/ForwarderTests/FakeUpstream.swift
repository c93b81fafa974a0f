import Atomics
import DNSWire
import Glibc
import Synchronization
@testable import Forwarder
import Sockets

/// One datagram (or TCP message) a fake upstream sends back.
struct FakeReply: Sendable {
    var bytes: [UInt8]
    var delay: Duration = .zero
    /// Sent from a second socket: another source port than the one queried.
    var fromOtherPort = false
}

/// A scriptable DNS server on 127.0.0.1 (UDP and TCP on one port), for
/// tests that need a real socket on the other side: slow, silent, spoofing.
final class FakeUpstream: @unchecked Sendable {
    typealias Handler = @Sendable (_ query: Message, _ tcp: Bool) -> [FakeReply]

    let address: SocketAddress
    let udpQueries = ManagedAtomic<Int>(0)
    let tcpQueries = ManagedAtomic<Int>(0)
    private let udp: Int32
    private let other: Int32
    private let tcp: Int32
    private let handler: Mutex<Handler>
    private let stopped = ManagedAtomic<Bool>(false)
    private var thread: pthread_t = 0

    init(_ handler: @escaping Handler) throws {
        self.handler = Mutex(handler)
        udp = try Syscalls.socket(family: AF_INET, stream: false, nonBlocking: true)
        try Syscalls.bind(udp, .ipv4(127, 0, 0, 1, port: 0))
        address = try Syscalls.localAddress(udp)
        other = try Syscalls.socket(family: AF_INET, stream: false, nonBlocking: true)
        try Syscalls.bind(other, .ipv4(127, 0, 0, 1, port: 0))
        tcp = try Syscalls.socket(family: AF_INET, stream: true, nonBlocking: true)
        try Syscalls.bind(tcp, address)
        try Syscalls.listen(tcp, backlog: 64)
        thread = try Syscalls.startThread { [unowned self] in self.serve() }
    }

    func setHandler(_ h: @escaping Handler) { handler.withLock { $0 = h } }

    func stop() {
        guard stopped.compareExchange(expected: false, desired: true, ordering: .relaxed).exchanged else { return }
        Syscalls.join(thread)
        for fd in [udp, other, tcp] { Syscalls.close(fd) }
    }

    deinit { stop() }

    private func serve() {
        var pending: [(at: Int64, bytes: [UInt8], fd: Int32, to: SocketAddress)] = []
        var buffer = [UInt8](repeating: 0, count: 65_535)
        while !stopped.load(ordering: .relaxed) {
            var fds = [pollfd(fd: udp, events: Int16(POLLIN), revents: 0), pollfd(fd: tcp, events: Int16(POLLIN), revents: 0)]
            _ = try? Syscalls.poll(&fds, count: fds.count, milliseconds: 10)
            let now = Syscalls.now()
            for p in pending where p.at <= now {
                let (to, length) = p.to.storage
                try? p.bytes.withUnsafeBytes { try Syscalls.sendTo(p.fd, $0, address: to, length: length) }
            }
            pending.removeAll { $0.at <= now }
            if let (n, from) = (try? buffer.withUnsafeMutableBytes { try Syscalls.receiveFrom(udp, into: $0) }) ?? nil,
               let query = try? Message(parsing: Array(buffer[0..<n])) {
                udpQueries.wrappingIncrement(ordering: .relaxed)
                for r in handler.withLock({ $0 })(query, false) {
                    pending.append((now + r.delay.nanoseconds, r.bytes, r.fromOtherPort ? other : udp, from))
                }
            }
            if let c = (try? Syscalls.accept(tcp)) ?? nil { serveStream(c.fd) }
        }
    }

    /// One query over TCP: read it whole, answer, close.
    private func serveStream(_ fd: Int32) {
        defer { Syscalls.close(fd) }
        var incoming: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65_535)
        let end = Syscalls.now() + 2_000_000_000
        while Syscalls.now() < end {
            var fds = [pollfd(fd: fd, events: Int16(POLLIN), revents: 0)]
            _ = try? Syscalls.poll(&fds, count: fds.count, milliseconds: 10)
            guard let n = (try? buffer.withUnsafeMutableBytes { try Syscalls.receive(fd, into: $0) }) ?? nil else { continue }
            if n == 0 { return }
            incoming += buffer[0..<n]
            guard incoming.count >= 2, incoming.count >= 2 + (Int(incoming[0]) << 8 | Int(incoming[1])),
                  let query = try? Message(parsing: Array(incoming[2...])) else { continue }
            tcpQueries.wrappingIncrement(ordering: .relaxed)
            for r in handler.withLock({ $0 })(query, true) {
                let framed = [UInt8(r.bytes.count >> 8), UInt8(r.bytes.count & 0xff)] + r.bytes
                _ = try? framed.withUnsafeBytes { try Syscalls.send(fd, $0) }
            }
            return
        }
    }

    // MARK: Building replies

    /// A response to `query`: its ID and question, QR, RD, RA, and an OPT when it had one.
    static func reply(to query: Message, rcode: RCode = .noError, answers: [Record] = [], authority: [Record] = [],
                      additional: [Record] = [], truncated: Bool = false, id: UInt16? = nil,
                      question: Question? = nil) -> [UInt8] {
        var h = Header(id: id ?? query.header.id, flags: Header.qrBit | Header.rdBit | Header.raBit)
        h.setRCodeBits(rcode)
        h.set(Header.tcBit, truncated)
        var extra = additional
        if let e = query.edns { extra.append(EDNSRecord(udpPayloadSize: 1232, flags: e.flags & EDNS.doBit).record) }
        let m = Message(header: h, questions: [question ?? query.questions[0]], answers: answers,
                        authority: authority, additional: extra)
        return try! m.encoded()
    }

    /// What a server that does not know EDNS answers a query with OPT (RFC 6891 §7):
    /// `rcode` (FORMERR or NOTIMP) and no OPT; with or without the question, as such servers vary.
    static func ednsRejection(to query: Message, rcode: RCode = .formErr, withQuestion: Bool = true) -> [UInt8] {
        var h = Header(id: query.header.id, flags: Header.qrBit | Header.rdBit)
        h.setRCodeBits(rcode)
        return try! Message(header: h, questions: withQuestion ? query.questions : []).encoded()
    }

    /// A server without EDNS: `rejection` for a query with OPT; otherwise `answers` without OPT,
    /// TC over UDP when the reply is longer than 512 octets (RFC 1035 §4.2.1), whole over TCP.
    static func withoutEDNS(_ query: Message, tcp: Bool, answers: [Record],
                            rejection: RCode = .formErr, withQuestion: Bool = true) -> [UInt8] {
        if query.edns != nil { return ednsRejection(to: query, rcode: rejection, withQuestion: withQuestion) }
        let whole = reply(to: query, answers: answers)
        return tcp || whole.count <= 512 ? whole : reply(to: query, truncated: true)
    }

    static func soa(_ zone: String, ttl: UInt32, minimum: UInt32) -> Record {
        let z = try! DNSName(zone)
        return Record(name: z, type: .soa, ttl: ttl, rdata: .soa(SOA(
            mname: try! z.prepending("ns"), rname: try! z.prepending("hostmaster"),
            serial: 1, refresh: 3600, retry: 600, expire: 86400, minimum: minimum)))
    }
}
