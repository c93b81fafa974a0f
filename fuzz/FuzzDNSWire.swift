// libFuzzer entry point over DNSWire, compiled together with Sources/DNSWire
// into one module by fuzz/run.sh (so it needs no import).
//
// Each input is parsed as a whole message and as a query. Parsing may throw
// but must never trap, and whatever parses must satisfy the invariants below;
// a broken invariant is a crash that libFuzzer reports and saves.

/// A response buffer reused across inputs, as a server worker would.
nonisolated(unsafe) let responseBuffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 65535, alignment: 8)

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzDNSWire(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = UnsafeRawBufferPointer(start: size == 0 ? nil : data, count: size)
    checkMessage(bytes)
    checkQuery(bytes)
    return 0
}

/// A message that parses re-encodes, compressed or not, to a message that
/// parses back equal, and re-encoding that gives the same octets.
func checkMessage(_ bytes: UnsafeRawBufferPointer) {
    guard let m = try? Message(parsing: bytes) else { return }
    _ = m.description  // the text form must never trap either
    for compress in [true, false] {
        guard let wire = try? m.encoded(compress: compress) else {
            fatalError("a parsed message does not encode (compress: \(compress))")
        }
        guard let back = try? Message(parsing: wire) else { fatalError("an encoded message does not parse") }
        precondition(back == m, "round trip changed the message")
        precondition((try? back.encoded(compress: compress)) == wire, "re-encoding is not stable")
    }
}

/// Query.parse accepts every one-question message the full parser accepts
/// and reads the same facts; a response written for it always parses.
func checkQuery(_ bytes: UnsafeRawBufferPointer) {
    let full = try? Message(parsing: bytes)
    guard let q = try? Query.parse(bytes) else {
        precondition(full == nil || full!.questions.count != 1, "Query.parse rejects a valid one-question message")
        return
    }
    if let m = full {
        precondition(q.type == m.questions[0].type && q.class == m.questions[0].class, "question differs")
        precondition(q.nameLength == m.questions[0].name.wire.count, "name length differs")
        precondition(q.edns?.udpPayloadSize == m.edns?.udpPayloadSize && q.edns?.flags == m.edns?.flags,
                     "EDNS differs")
    }
    // Answer it the way the server does, within the client's limit (at least 512).
    let limit = max(512, Int(q.edns?.udpPayloadSize ?? 512))
    var w = ResponseWriter(buffer: responseBuffer, limit: limit)
    let edns = q.edns.map { EDNS(udpPayloadSize: 1232, flags: $0.flags) }
    guard w.start(query: q, bytes: bytes, rcode: q.edns.map { $0.version > 0 ? .badVers : .noError } ?? .noError,
                  authoritative: true, recursionAvailable: false, edns: edns) else { return }
    let record: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                 UInt8, UInt8) = (0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 5, 0, 4, 192, 0, 2, 1)
    withUnsafeBytes(of: record) { r in
        for _ in 0..<40 { _ = w.append(.answer, records: r, count: 1) }
    }
    let n = w.finish()
    precondition(n <= limit, "response longer than the limit")
    guard let response = try? Message(parsing: UnsafeRawBufferPointer(rebasing: responseBuffer[0..<n])) else {
        fatalError("a written response does not parse")
    }
    precondition(response.questions.count == 1 && response.header.id == q.header.id, "response question/ID")
}
