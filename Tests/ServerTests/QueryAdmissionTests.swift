import DNSWire
import Testing
@testable import Server

/// A query as a client sends it: header, one question, optionally an OPT record.
struct TestQuery {
    var id: UInt16 = 0x1234
    var flags: UInt16 = Header.rdBit
    var qdCount: UInt16 = 1
    var name = "app.internal"
    var type: UInt16 = 28
    var qclass: UInt16 = 1
    /// (payload size, version, flags, options RDATA)
    var opt: (UInt16, UInt8, UInt16, [UInt8])? = nil

    var bytes: [UInt8] {
        var b: [UInt8] = []
        func u16(_ v: UInt16) { b.append(UInt8(v >> 8)); b.append(UInt8(truncatingIfNeeded: v)) }
        u16(id); u16(flags); u16(qdCount); u16(0); u16(0); u16(opt == nil ? 0 : 1)
        for label in name.split(separator: ".") {
            b.append(UInt8(label.utf8.count))
            b.append(contentsOf: label.utf8)
        }
        b.append(0)
        u16(type); u16(qclass)
        if let (size, version, fl, options) = opt {
            b.append(0); u16(41); u16(size)
            b.append(0); b.append(version); u16(fl)
            u16(UInt16(options.count)); b.append(contentsOf: options)
        }
        return b
    }
}

/// Runs admission over `packet` with a 64 KiB output buffer.
func admit(_ packet: [UInt8], _ transport: Transport = .udp, recursion: Bool = false)
    -> (admission: String, reply: [UInt8], limit: Int, edns: EDNS?) {
    let out = UnsafeMutableRawBufferPointer.allocate(byteCount: 65535, alignment: 8)
    defer { out.deallocate() }
    return packet.withUnsafeBytes { p in
        switch QueryAdmission.admit(p, transport: transport, recursionAvailable: recursion, into: out) {
        case .drop: return ("drop", [], 0, nil)
        case .replied(let n, let rcode, _): return (rcode.description, Array(out[0..<n]), 0, nil)
        case .query(_, let limit, let edns): return ("query", [], limit, edns)
        }
    }
}

func header(_ reply: [UInt8]) -> Header { reply.withUnsafeBytes { try! Header(from: $0) } }

@Test func shorterThanAHeaderIsDropped() {
    #expect(admit([0x12, 0x34, 0x01, 0x00, 0, 1]).admission == "drop")
}

@Test func responsesAreDropped() {
    #expect(admit(TestQuery(flags: Header.qrBit).bytes).admission == "drop")
}

@Test func malformedQuestionIsFormErrWithItsIDAndNoQuestion() {
    var q = TestQuery().bytes
    q.removeLast(3)  // the question's type and class are cut short
    let r = admit(q)
    #expect(r.admission == "FORMERR")
    let h = header(r.reply)
    #expect(h.id == 0x1234)
    #expect(h.isResponse && h.recursionDesired)
    #expect(h.qdCount == 0 && h.anCount == 0 && h.arCount == 0)
    #expect(r.reply.count == Header.size)
}

@Test func twoQuestionsAreFormErr() {
    var q = TestQuery().bytes
    q[5] = 2
    #expect(admit(q).admission == "FORMERR")
    var none = TestQuery().bytes
    none[5] = 0
    #expect(admit(none).admission == "FORMERR")
}

@Test func trailingGarbageIsFormErr() {
    #expect(admit(TestQuery().bytes + [1, 2, 3]).admission == "FORMERR")
}

@Test func opcodeOtherThanQueryIsNotImpWithTheQuestion() {
    let r = admit(TestQuery(flags: 15 << 11).bytes)
    #expect(r.admission == "NOTIMP")
    let h = header(r.reply)
    #expect(h.opcode.rawValue == 15 && h.qdCount == 1 && h.rcodeBits == 4)
    #expect(Array(r.reply[12...]) == Array(TestQuery(flags: 15 << 11).bytes[12...]))
}

@Test func ednsVersionOneIsBadVersWithAnOPTOfVersionZero() {
    let r = admit(TestQuery(opt: (4096, 1, 0, [0, 100, 0, 2, 0xab, 0xcd])).bytes)
    #expect(r.admission == "BADVERS")
    let h = header(r.reply)
    #expect(h.rcodeBits == 0 && h.qdCount == 1 && h.anCount == 0 && h.arCount == 1)
    // The OPT record closes the reply: root, TYPE 41, CLASS, TTL = ext-rcode 1, version 0, no options.
    let opt = Array(r.reply.suffix(11))
    #expect(opt[0] == 0 && opt[1] == 0 && opt[2] == 41)
    #expect(opt[5] == 1 && opt[6] == 0)
    #expect(opt[9] == 0 && opt[10] == 0)
}

@Test func answerSizeFollowsTheClientsEDNSSize() {
    #expect(admit(TestQuery().bytes).limit == 512)
    #expect(admit(TestQuery(opt: (4096, 0, 0, [])).bytes).limit == 1232)
    #expect(admit(TestQuery(opt: (1000, 0, 0, [])).bytes).limit == 1000)
    #expect(admit(TestQuery(opt: (100, 0, 0, [])).bytes).limit == 512)
    #expect(admit(TestQuery().bytes, .tcp).limit == 65535)
    #expect(admit(TestQuery(opt: (512, 0, 0, [])).bytes, .tcp).limit == 65535)
}

@Test func unknownEDNSFlagsAndOptionsAreNotEchoedButDOIs() {
    let r = admit(TestQuery(opt: (1232, 0, 0x8000 | 0x0080, [0, 100, 0, 0])).bytes)
    #expect(r.admission == "query")
    #expect(r.edns?.flags == EDNS.doBit)
    #expect(r.edns?.version == 0 && r.edns?.optionsLength == 0)
    #expect(r.edns?.udpPayloadSize == 1232)
    let plain = admit(TestQuery(opt: (1232, 0, 0x0080, [])).bytes)
    #expect(plain.edns?.flags == 0)
}

@Test func errorRepliesSayWhetherRecursionIsAvailable() {
    var q = TestQuery().bytes
    q[5] = 2
    #expect(header(admit(q, recursion: true).reply).recursionAvailable)
    #expect(!header(admit(q, recursion: false).reply).recursionAvailable)
}

@Test func latencyBucketsMatchTheirBounds() {
    let bounds = WorkerCounters.Slot.latencyBounds
    for (i, bound) in bounds.enumerated() {
        #expect(WorkerCounters.Slot.latencyBucket(nanoseconds: bound) == i)
        #expect(WorkerCounters.Slot.latencyBucket(nanoseconds: bound + 1) == i + 1)
    }
    #expect(WorkerCounters.Slot.latencyBucket(nanoseconds: 0) == 0)
}
