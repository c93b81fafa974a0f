import Benchmark
import BenchSupport
import DNSWire
import Forwarder
import Glibc
import Logging
import Sockets

/// `www.example.test AAAA` with EDNS (1232 octets), as the Server hands it to the Forwarder.
let query: [UInt8] = try! Message(
    header: Header(id: 0x4242, flags: Header.rdBit),
    questions: [Question(name: try! DNSName("WWW.Example.TEST"), type: .aaaa)],
    additional: [EDNSRecord(udpPayloadSize: 1232).record]).encoded()

/// A Forwarder whose cache holds the answer to `query`.
func warmForwarder() -> Forwarder {
    let (fd, sin) = loopbackSocket()
    let upstream = SocketAddress(sin)
    let forwarder = try! Forwarder(configuration: ForwarderConfiguration(upstreams: [upstream]),
                                   logger: Logger(label: "bench"))
    let done = UnsafeMutablePointer<sem_t>.allocate(capacity: 1)
    sem_init(done, 0, 0)
    let doneAddress = Int(bitPattern: done)  // a plain number crosses into the @Sendable closure
    forwarder.resolve(query: query, limit: 1232) { _ in sem_post(UnsafeMutablePointer<sem_t>(bitPattern: doneAddress)!) }
    answerOneQuery(on: fd)
    sem_wait(done)
    close(fd)
    return forwarder
}

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(metrics: [.mallocCountTotal, .wallClock, .throughput],
                                           maxDuration: .seconds(3), maxIterations: 100_000,
                                           thresholds: [.mallocCountTotal: .init(absolute: [.p0: 0, .p50: 0, .p90: 0, .p100: 0])])

    // One iteration is one cache hit as a worker does it: Query.parse over the
    // receive buffer, then answerFromCache into a reused send buffer (copy,
    // patch ID, question case and TTLs, OPT).
    Benchmark("ForwarderCacheHit") { benchmark in
        let forwarder = warmForwarder()
        defer { forwarder.shutdown() }
        let send = UnsafeMutableRawBufferPointer.allocate(byteCount: 65535, alignment: 16)
        defer { send.deallocate() }
        var length = 0
        query.withUnsafeBytes { bytes in
            benchmark.startMeasurement()
            for _ in benchmark.scaledIterations {
                if let q = try? Query.parse(bytes) {
                    length = forwarder.answerFromCache(query: q, bytes: bytes, into: send, limit: 1232) ?? 0
                }
                blackHole(length)
            }
            benchmark.stopMeasurement()
        }
        // Outside the measurement: it was a hit with the three records.
        require(length > 0 && send[7] == 3, "the cache did not answer")
    }
}
