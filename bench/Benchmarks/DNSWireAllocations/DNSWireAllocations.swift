import Benchmark
import DNSWire

/// `dig www.fixtures.example AAAA` exactly as dig 9.18 sent it (with EDNS and a
/// cookie): Tests/DNSWireTests/Fixtures/dig-aaaa.query.hex.
let digQuery: [UInt8] = [
    0xb7, 0x1a, 0x01, 0x20, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x03, 0x77, 0x77, 0x77,
    0x08, 0x66, 0x69, 0x78, 0x74, 0x75, 0x72, 0x65, 0x73, 0x07, 0x65, 0x78, 0x61, 0x6d, 0x70, 0x6c,
    0x65, 0x00, 0x00, 0x1c, 0x00, 0x01, 0x00, 0x00, 0x29, 0x04, 0xd0, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x0c, 0x00, 0x0a, 0x00, 0x08, 0x0e, 0xea, 0x47, 0xee, 0xac, 0x9e, 0x42, 0xad,
]

/// Three prepared AAAA records owned by the question name (0xC00C), as
/// ZoneEngine keeps them.
let threeAAAA: [UInt8] = {
    var out: [UInt8] = []
    for instance in 1...3 {
        let address = IPv6Address(high: 0xfdaa_0000_0001_0a7b, low: 0x1c2d_0000_0000_0000 | UInt64(instance) << 16)
        try! RecordEncoder.append(owner: .questionName, type: .aaaa, ttl: 5, rdata: .aaaa(address), to: &out)
    }
    return out
}()

let benchmarks: @Sendable () -> Void = {
    // One iteration is one query; the threshold is zero allocations at every percentile.
    Benchmark.defaultConfiguration = .init(metrics: [.mallocCountTotal, .wallClock, .throughput],
                                           maxDuration: .seconds(3), maxIterations: 100_000,
                                           thresholds: [.mallocCountTotal: .init(absolute: [.p0: 0, .p50: 0, .p90: 0, .p100: 0])])

    // The whole hot path for one query: Query.parse over the receive buffer,
    // then a response (header, question, the RRset, OPT) into a reused send buffer.
    Benchmark("QueryParseAndThreeAAAAResponse") { benchmark in
        let send = UnsafeMutableRawBufferPointer.allocate(byteCount: 65535, alignment: 16)
        defer { send.deallocate() }
        let recv = UnsafeMutableRawBufferPointer.allocate(byteCount: 65535, alignment: 16)
        defer { recv.deallocate() }
        digQuery.withUnsafeBytes { recv.copyMemory(from: $0) }
        let query = UnsafeRawBufferPointer(rebasing: recv[0..<digQuery.count])
        threeAAAA.withUnsafeBytes { records in
            benchmark.startMeasurement()
            for _ in benchmark.scaledIterations {
                var length = 0
                if let q = try? Query.parse(query) {
                    var w = ResponseWriter(buffer: send, limit: Int(q.edns?.udpPayloadSize ?? 512))
                    let edns = q.edns.map { EDNS(udpPayloadSize: 1232, flags: $0.flags) }
                    if w.start(query: q, bytes: query, rcode: .noError, authoritative: true,
                               recursionAvailable: false, edns: edns) {
                        w.append(.answer, records: records, count: 3)
                    }
                    length = w.finish()
                }
                blackHole(length)
            }
            benchmark.stopMeasurement()
        }
        // Outside the measurement: the response is the one we meant to measure.
        precondition(send[7] == 3, "the response does not hold 3 answers")
    }

    // The control: the full Message parser copies names and records into
    // arrays, so it must allocate. alloc.sh checks that it does, which shows
    // the malloc counter is really counting.
    Benchmark("ControlMessageParse") { benchmark in
        digQuery.withUnsafeBytes { query in
            benchmark.startMeasurement()
            for _ in benchmark.scaledIterations {
                blackHole(try? Message(parsing: query))
            }
            benchmark.stopMeasurement()
        }
    }
}
