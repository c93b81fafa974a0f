// libFuzzer over the whole query service: the trust rule, admission, routing
// and every zone (`internal.` and the 6PN reverse zone over a real snapshot
// of two organizations, class CH, the forwarder's cache) through the real
// QueryService, as UDP and as TCP, from arbitrary source addresses.
// fuzz/run.sh builds it with `swift build -Xswiftc -sanitize=fuzzer,address
// -Xswiftc -DFUZZING` (every module instrumented), and `main` hands over to
// libFuzzer's driver; a plain build is a replay driver that runs the files
// named on its command line through the same checks.
//
// An input is one octet of set-up, then the DNS message. The set-up octet:
// bit 0 TCP (else UDP); bits 1-2 the source: 0 organization a, 1
// organization b, 2 organization c (which has no data), 3 the message's
// first 16 octets are the source address (anything: most are not 6PN and
// must get nothing back), the message then starting after them.
//
// Invariants per input (a broken one traps, and libFuzzer saves the input):
//   - a source outside fdaa::/16 gets no reply at all;
//   - a reply never exceeds the limit the transport and the query's EDNS allow
//     (UDP: 512, or the EDNS size within 512...1232; TCP: 65535);
//   - a reply parses with DNSWire, with the query's ID;
//   - a reply never carries another organization's data: none of its
//     records holds another organization's address, app, region or peer.
import DNSWire
import Forwarder
import Glibc
import Logging
@_spi(Fuzzing) import Server
import Sockets
import ZoneEngine

/// One organization's data, and what in a reply would show it.
struct Organization {
    let network: UInt32
    let addresses: [IPv6Address]
    /// Labels only this organization has (apps, regions, peers, instance IDs).
    let labels: [String]
}

let organizations = [
    Organization(network: 0xa, addresses: ["fdaa:0:a:0:1:0:101:2", "fdaa:0:a:0:2:0:102:2", "fdaa:0:a:ffff:ffff::1"]
                 .map { IPv6Address($0)! }, labels: ["web", "ams", "iad", "office", "a0101", "a0102"]),
    Organization(network: 0xb, addresses: ["fdaa:0:b:0:7:0:301:2", "fdaa:0:b:ffff:ffff::1"].map { IPv6Address($0)! },
                 labels: ["secret", "lhr", "hidden", "b0301"]),
]

/// The database, the zone store and a forwarder whose cache holds a few
/// names, made once per process.
final class World: @unchecked Sendable {
    let harness: QueryServiceHarness
    let upstream: Int32

    init() {
        let path = "/tmp/sixpn-fuzz-service-\(getpid()).db"
        for suffix in ["", "-wal", "-shm"] { unlink(path + suffix) }
        try! DatabaseWriter.initialize(path: path)
        let db = try! DatabaseWriter(path: path)
        _ = try! db.addInstance(app: "web", region: "ams", address: "fdaa:0:a:0:1:0:101:2", id: "a0101")
        _ = try! db.addInstance(app: "web", region: "iad", address: "fdaa:0:a:0:2:0:102:2", id: "a0102")
        _ = try! db.addInstance(app: "secret", region: "lhr", address: "fdaa:0:b:0:7:0:301:2", id: "b0301")
        try! db.addPeer(name: "office", address: "fdaa:0:a:ffff:ffff::1")
        try! db.addPeer(name: "hidden", address: "fdaa:0:b:ffff:ffff::1")
        let logger = Logger(label: "fuzz") { _ in SwiftLogNoOpLogHandler() }
        let zone = try! ZoneStore(path: path, ttl: 5, logger: logger)
        // An upstream on loopback that answers every question under fuzz.test with one AAAA, and
        // anything else NXDOMAIN: enough to fill the cache before the run and to answer misses during it.
        upstream = try! Syscalls.socket(family: AF_INET, stream: false, nonBlocking: false)
        try! Syscalls.bind(upstream, .ipv4(127, 0, 0, 1, port: 0))
        let address = try! Syscalls.localAddress(upstream)
        let fd = upstream
        _ = try! Syscalls.startThread { World.serveUpstream(fd) }
        // A small cache: every random name the fuzzer asks is a miss that the upstream answers and the
        // cache keeps, and the run must stay within libFuzzer's memory limit however long it is.
        let forwarder = try! Forwarder(configuration: ForwarderConfiguration(upstreams: [address], cacheEntries: 2_000,
                                                                             cacheBytes: 1 << 20), logger: logger)
        harness = QueryServiceHarness(zone: zone, forwarder: forwarder)
        for name in ["www.fuzz.test", "mail.fuzz.test", "nope.example"] { warm(forwarder, name) }
    }

    /// Resolves `name` AAAA once and waits, so that the cache holds its answer.
    private func warm(_ forwarder: Forwarder, _ name: String) {
        let query = try! Message(header: Header(id: 1, flags: Header.rdBit),
                                 questions: [Question(name: try! DNSName(name), type: .aaaa)],
                                 additional: [EDNSRecord(udpPayloadSize: 1232).record]).encoded()
        let parsed = query.withUnsafeBytes { try! Query.parse($0) }
        let lowered = try! DNSName(name.lowercased()).wire
        let request = query.withUnsafeBytes { q in
            lowered.withUnsafeBytes {
                ForwardRequest(query: parsed, bytes: q, lowercasedName: $0, edns: parsed.edns?.reply(), limit: 1232)
            }
        }
        let done = UnsafeMutablePointer<sem_t>.allocate(capacity: 1)
        sem_init(done, 0, 0)
        let address = Int(bitPattern: done)
        forwarder.resolve(request) { _ in sem_post(UnsafeMutablePointer<sem_t>(bitPattern: address)!) }
        sem_wait(done)
        sem_destroy(done)
        done.deallocate()
    }

    private static func serveUpstream(_ fd: Int32) {
        var buffer = [UInt8](repeating: 0, count: 4096)
        var peer = sockaddr_storage()
        while true {
            var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let n = buffer.withUnsafeMutableBytes { b in
                withUnsafeMutablePointer(to: &peer) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { recvfrom(fd, b.baseAddress, b.count, 0, $0, &length) }
                }
            }
            guard n > 0, let query = try? Message(parsing: Array(buffer[0..<n])), let q = query.questions.first else { continue }
            var reply = Message(header: Header(id: query.header.id, flags: Header.qrBit | Header.rdBit | Header.raBit),
                                questions: query.questions)
            if q.name.description.hasSuffix("fuzz.test.") && q.type == .aaaa {
                reply.answers = [Record(name: q.name, type: .aaaa, class: .internet, ttl: 3600,
                                        rdata: .aaaa(IPv6Address("2001:db8::1")!))]
            } else {
                reply.header.flags |= RCode.nxDomain.rawValue & 0xf
            }
            if let e = query.edns { reply.additional = [EDNSRecord(udpPayloadSize: 1232, flags: e.flags).record] }
            guard let wire = try? reply.encoded() else { continue }
            _ = wire.withUnsafeBytes { w in
                withUnsafePointer(to: &peer) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { sendto(fd, w.baseAddress, w.count, 0, $0, length) }
                }
            }
        }
    }
}

let world = World()
/// What the inputs got, for the replay driver's summary.
nonisolated(unsafe) var replies = (replied: 0, withAnswers: 0)
nonisolated(unsafe) let replyBuffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 65535, alignment: 8)

/// One input (libFuzzer's callback, also under its usual name).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzQueryService(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard size >= 1, let data else { return 0 }
    let setup = data[0]
    let tcp = setup & 1 != 0
    var address: IPv6Address
    var messageStart = 1
    var asker: UInt32? = nil
    switch (setup >> 1) & 3 {
    case 0, 1, 2:
        let network: UInt32 = [0xa, 0xb, 0xc][Int((setup >> 1) & 3)]
        asker = network
        address = IPv6Address(high: 0xfdaa_0000_0000_0000 | UInt64(network) << 16 | 1, low: 0x0000_0001_0000_0002)
    default:
        guard size >= 17 else { return 0 }
        address = IPv6Address(bytes: UnsafeRawBufferPointer(start: data + 1, count: 16))!
        if address.high >> 48 == 0xfdaa { asker = UInt32(truncatingIfNeeded: address.high >> 16) }
        messageStart = 17
    }
    let source = SocketAddress(host: .v6(address, scopeID: 0), port: 5353).sockaddrIn6!
    let message = UnsafeRawBufferPointer(start: data + messageStart, count: size - messageStart)
    let reply = world.harness.answer(message, source: source, tcp: tcp, into: replyBuffer)
    guard let n = reply else { return 0 }
    replies.replied += 1
    if n >= 8, replyBuffer[6] != 0 || replyBuffer[7] != 0 { replies.withAnswers += 1 }
    guard let network = asker else { fatalError("a source outside fdaa::/16 got a reply") }
    check(message, reply: UnsafeRawBufferPointer(rebasing: replyBuffer[0..<n]), tcp: tcp, network: network)
    return 0
}

/// The invariants every reply holds (see the top of this file).
func check(_ message: UnsafeRawBufferPointer, reply: UnsafeRawBufferPointer, tcp: Bool, network: UInt32) {
    let query = try? Query.parse(message)
    let limit = tcp ? 65535 : query?.edns.map { max(512, min(Int($0.udpPayloadSize), 1232)) } ?? 512
    precondition(reply.count <= limit, "a reply of \(reply.count) octets over the limit \(limit)")
    guard let m = try? Message(parsing: reply) else { fatalError("a reply does not parse with DNSWire") }
    let id = message.count >= 2 ? UInt16(message[0]) << 8 | UInt16(message[1]) : 0
    precondition(m.header.id == id, "a reply with another ID")
    for org in organizations where org.network != network {
        for record in m.answers + m.authority + m.additional {
            switch record.rdata {
            case .aaaa(let a):
                precondition(!org.addresses.contains(a), "organization \(network) got \(org.network)'s address \(a)")
            default:
                let text = "\(record.rdata)".lowercased()
                for label in org.labels where text.split(whereSeparator: { !$0.isLetter && !$0.isNumber }).contains(Substring(label)) {
                    fatalError("organization \(network) got \(org.network)'s \(label) in \(record)")
                }
            }
        }
    }
}

#if FUZZING
/// libFuzzer's driver (LLVM 11 and later), for a program whose `main` is its own:
/// SwiftPM links an executable's `@main` as `main`, so libFuzzer's `main` is not used.
@_extern(c, "LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(_ argc: UnsafeMutablePointer<Int32>,
                         _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
                         _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt) -> CInt
#endif

@main
enum Main {
    static func main() {
        #if FUZZING
        var argc = CommandLine.argc
        var argv = CommandLine.unsafeArgv
        exit(LLVMFuzzerRunDriver(&argc, &argv, fuzzQueryService))
        #else
        // Without libFuzzer: runs each file named on the command line through the same checks.
        for path in CommandLine.arguments.dropFirst() {
            guard let f = fopen(path, "rb") else { fatalError("cannot open \(path)") }
            var bytes: [UInt8] = []
            var chunk = [UInt8](repeating: 0, count: 65536)
            while true {
                let n = fread(&chunk, 1, chunk.count, f)
                if n <= 0 { break }
                bytes += chunk[0..<n]
            }
            fclose(f)
            _ = bytes.withUnsafeBufferPointer { fuzzQueryService($0.baseAddress, $0.count) }
        }
        print("replayed \(CommandLine.arguments.count - 1) inputs: \(replies.replied) replies, \(replies.withAnswers) with answers")
        #endif
    }
}
