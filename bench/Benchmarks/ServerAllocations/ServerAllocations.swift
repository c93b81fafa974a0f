import Benchmark
import BenchSupport
import DNSWire
import Dnstap
import Forwarder
import Glibc
import Logging
import Sockets
@_spi(Benchmark) import Server
import ZoneEngine

// One iteration is one query through the Server's real UDP path: a client
// socket on loopback sends it, the worker (WorkerHarness, the real UDPWorker)
// takes it with recvmmsg, answers it (QueryService: QueryAdmission, the zone
// snapshot or the forwarder's cache) into its send slot and sends it with
// sendmmsg, and the client reads the answer. The client's two system calls
// use fixed buffers, so every malloc counted is the server's.

/// A query for `name` (type AAAA unless said, RD, EDNS 1232), as dig sends it.
func query(_ name: String, _ type: RRType = .aaaa) -> [UInt8] {
    try! Message(header: Header(id: 0x4242, flags: Header.rdBit),
                 questions: [Question(name: try! DNSName(name), type: type)],
                 additional: [EDNSRecord(udpPayloadSize: 1232).record]).encoded()
}

/// A zone store over a fresh database: organization 0000000a, app web, three instances.
func benchZone() -> (ZoneStore, String) {
    let path = "/tmp/sixpn-server-alloc-\(getpid()).db"
    for suffix in ["", "-wal", "-shm"] { unlink(path + suffix) }
    try! DatabaseWriter.initialize(path: path)
    let db = try! DatabaseWriter(path: path)
    for (i, region) in ["ams", "iad", "syd"].enumerated() {
        _ = try! db.addInstance(app: "web", region: region, address: "fdaa:0:a:0:\(i + 1):0:10\(i):2")
    }
    return (try! ZoneStore(path: path, ttl: 5, logger: Logger(label: "bench")), path)
}

/// The client side: sends `query` to the worker, lets the worker serve one batch, reads the answer.
struct Client {
    let fd: Int32
    var server: sockaddr_in
    let answer: UnsafeMutableRawBufferPointer

    init(port: UInt16) {
        fd = loopbackSocket().0
        server = sockaddr_in()
        server.sin_family = sa_family_t(AF_INET)
        server.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
        server.sin_port = port.bigEndian
        answer = .allocate(byteCount: 65535, alignment: 16)
    }

    /// Sends `query` to the worker's socket.
    @inline(__always)
    mutating func send(_ query: UnsafeRawBufferPointer) {
        _ = withUnsafePointer(to: &server) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                sendto(fd, query.baseAddress, query.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
    }

    /// Reads one answer; its length (-1 when none came within 2 s).
    @inline(__always)
    func receive() -> Int { BenchSupport.receive(fd, into: answer) }

    /// One round trip; the answer's length (-1 when none came).
    @inline(__always)
    mutating func roundTrip(_ query: UnsafeRawBufferPointer, _ worker: WorkerHarness) -> Int {
        send(query)
        worker.serveOneBatch()
        return receive()
    }

    func close() {
        Glibc.close(fd)
        answer.deallocate()
    }
}

/// Runs `body` over a worker of backend `io` on 127.0.0.1 (`--dev-org 0000000a`) and a client.
func withWorker(forwarder: Forwarder?, io: IOBackend, budgets: QueryBudgets = .off, dnstap: DnstapLog? = nil,
                _ body: (WorkerHarness, inout Client) -> Void) {
    let (zone, path) = benchZone()
    defer { for suffix in ["", "-wal", "-shm"] { unlink(path + suffix) } }
    let worker = try! WorkerHarness(address: .ipv4(127, 0, 0, 1, port: 0), zone: zone, forwarder: forwarder,
                                    developmentNetwork: 0xa, io: io, budgets: budgets, dnstap: dnstap)
    var client = Client(port: worker.port)
    defer { client.close() }
    body(worker, &client)
}

/// The measured part: one query round trip per scaled iteration; the last answer's length.
func measureRoundTrips(_ benchmark: Benchmark, _ client: inout Client, _ worker: WorkerHarness,
                       _ query: UnsafeRawBufferPointer) -> Int {
    var length = 0
    benchmark.startMeasurement()
    for _ in benchmark.scaledIterations {
        length = client.roundTrip(query, worker)
        blackHole(length)
    }
    benchmark.stopMeasurement()
    return length
}

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(metrics: [.mallocCountTotal, .wallClock, .throughput],
                                           // A sample is 1,000 queries through one worker (building a worker and its database per query would dominate).
                                           scalingFactor: .kilo, maxDuration: .seconds(3), maxIterations: 1_000,
                                           thresholds: [.mallocCountTotal: .init(absolute: [.p0: 0, .p50: 0, .p90: 0, .p100: 0])])

    // Each benchmark once per UDP backend: recvmmsg (no suffix, the default) and io_uring ("Uring").
    for io in IOBackend.allCases {
        let suffix = io == .recvmmsg ? "" : "Uring"

        // `web.internal AAAA`: three records from the snapshot.
        Benchmark("ServerInternalAAAA" + suffix) { benchmark in
            withWorker(forwarder: nil, io: io) { worker, client in
                let q = query("Web.Internal")
                let length = q.withUnsafeBytes { measureRoundTrips(benchmark, &client, worker, $0) }
                // Outside the measurement: each query got the three records.
                require(length > 0 && client.answer[7] == 3,
                        "the worker did not answer with 3 records (last answer: \(length) octets, \(length > 7 ? client.answer[7] : 0) records)")
            }
        }

        // The same with the tenant budgets on (far above this load: every query charged to its
        // instance's and organization's buckets, none limited).
        Benchmark("ServerInternalAAAALimiter" + suffix) { benchmark in
            withWorker(forwarder: nil, io: io, budgets: QueryBudgets(instanceQPS: 10_000_000, organizationQPS: 10_000_000)) {
                worker, client in
                let q = query("Web.Internal")
                let length = q.withUnsafeBytes { measureRoundTrips(benchmark, &client, worker, $0) }
                require(length > 0 && client.answer[7] == 3, "the worker did not answer with 3 records under the budgets")
                require(worker.counters.value(WorkerCounters.Slot.limitedInstanceUDP) == 0, "a query was limited")
            }
        }

        // The same with `--dnstap`: each query and its answer copied into the worker's ring. The
        // log's writer is not started (it would allocate, encoding, on its own thread, which this
        // process-wide counter would count): of each sample's 1,000 answers the first 256 fill the
        // ring, the rest find it full and are dropped and counted, so both paths are measured.
        Benchmark("ServerInternalAAAADnstap" + suffix) { benchmark in
            let log = DnstapLog(destination: .unix(path: "/nonexistent/dnstap.sock"), identity: "bench", version: "bench",
                                ringCapacity: 256, logger: Logger(label: "bench"))
            withWorker(forwarder: nil, io: io, dnstap: log) { worker, client in
                let q = query("Web.Internal")
                let length = q.withUnsafeBytes { measureRoundTrips(benchmark, &client, worker, $0) }
                require(length > 0 && client.answer[7] == 3, "the worker did not answer with 3 records with --dnstap")
                require(log.dropped > 0, "the full ring dropped nothing")
            }
        }

        // `dig -x` of the first instance: its PTR from the snapshot's reverse zone (a binary search).
        Benchmark("ServerReversePTR" + suffix) { benchmark in
            withWorker(forwarder: nil, io: io) { worker, client in
                let nibbles = IPv6Address("fdaa:0:a:0:1:0:100:2")!.bytes.flatMap { [$0 >> 4, $0 & 0xf] }
                let q = query(nibbles.reversed().map { String($0, radix: 16) }.joined(separator: ".") + ".ip6.arpa", .ptr)
                let length = q.withUnsafeBytes { measureRoundTrips(benchmark, &client, worker, $0) }
                require(length > 0 && client.answer[3] & 0xf == 0 && client.answer[7] == 1,
                        "the worker did not answer the PTR (last answer: \(length) octets)")
            }
        }

        // `www.example.test AAAA` answered from the forwarder's cache (warmed by
        // one real forwarded query through the same worker before measuring).
        Benchmark("ServerCachedForward" + suffix) { benchmark in
            let (upstreamFD, upstreamAddress) = loopbackSocket()
            defer { close(upstreamFD) }
            let forwarder = try! Forwarder(configuration: ForwarderConfiguration(upstreams: [SocketAddress(upstreamAddress)]),
                                           logger: Logger(label: "bench"))
            defer { forwarder.shutdown() }
            withWorker(forwarder: forwarder, io: io) { worker, client in
                let q = query("WWW.Example.TEST")
                let length = q.withUnsafeBytes { bytes in
                    // The miss: the worker forwards, the upstream answers, the reply reaches the client.
                    client.send(bytes)
                    worker.serveOneBatch()
                    answerOneQuery(on: upstreamFD)
                    require(client.receive() > 0, "the forwarded reply did not come within 2 s (errno \(errno))")
                    return measureRoundTrips(benchmark, &client, worker, bytes)
                }
                require(length > 0 && client.answer[7] == 3,
                        "the cache did not answer with 3 records (last answer: \(length) octets, \(length > 7 ? client.answer[7] : 0) records)")
                require(worker.counters.value(WorkerCounters.Slot.cacheHits) > 0, "no cache hit was counted")
            }
        }
    }
}
