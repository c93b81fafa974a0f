import Testing
@testable import DNSWire

/// Records prepared ahead of time, owned by a pointer to the question name.
@Suite struct RecordEncoderTests {
    @Test func aaaaOwnedByTheQuestionName() throws {
        let a = IPv6Address("fdaa:0:1:a7b:1c2d:0:3e4f:2")!
        let bytes = try RecordEncoder.encode(owner: .questionName, type: .aaaa, ttl: 5, rdata: .aaaa(a))
        #expect(bytes == [0xc0, 0x0c, 0, 28, 0, 1, 0, 0, 0, 5, 0, 16] + a.bytes)
    }

    @Test func rrsetSharesOwnerClassAndTTL() throws {
        let rdatas: [RData] = [.txt([[0x61]]), .txt([[0x62]])]
        let bytes = try RecordEncoder.encode(owner: .name(try name("x.internal")), type: .txt, ttl: 5, rdatas: rdatas)
        let one = try RecordEncoder.encode(owner: .name(try name("x.internal")), type: .txt, ttl: 5, rdata: rdatas[0])
        #expect(bytes.count == 2 * one.count && Array(bytes.prefix(one.count)) == one)
    }

    @Test func namesInRDataAreWrittenWhole() throws {
        let target = try name("internal")
        let bytes = try RecordEncoder.encode(owner: .questionName, type: .cname, ttl: 5, rdata: .cname(target))
        #expect(Array(bytes.suffix(target.wire.count)) == target.wire)
    }

    @Test func preparedRecordsParseInsideAResponse() throws {
        let q = Question(name: try name("App.Internal"), type: .aaaa)
        let rec = try RecordEncoder.encode(owner: .questionName, type: .aaaa, ttl: 5, rdata: .aaaa(IPv6Address(high: 1, low: 2)))
        var bytes = try Message(header: Header(id: 1, flags: Header.qrBit), questions: [q]).encoded()
        bytes[7] = 1  // ANCOUNT
        bytes += rec
        let m = try Message(parsing: bytes)
        #expect(m.answers == [Record(name: q.name, type: .aaaa, ttl: 5, rdata: .aaaa(IPv6Address(high: 1, low: 2)))])
        #expect(m.answers[0].name.wire == q.name.wire)
    }

    @Test func aFailedAppendLeavesTheBufferAsItWas() throws {
        var out: [UInt8] = [1, 2, 3]
        #expect(throws: WireError.self) {
            try RecordEncoder.append(owner: .questionName, type: .txt, ttl: 5,
                                     rdata: .txt([[0x61], Array(repeating: 0, count: 256)]), to: &out)
        }
        #expect(out == [1, 2, 3])
        let tooLong = DNSName(uncheckedWire: Array(repeating: [63] + Array(repeating: UInt8(0x61), count: 63), count: 4)
                                .flatMap { $0 } + [0])
        #expect(throws: WireError(.nameTooLong, .output, at: 3)) {
            try RecordEncoder.append(owner: .name(tooLong), type: .a, ttl: 5, rdata: .a(IPv4Address(rawValue: 1)), to: &out)
        }
        #expect(out == [1, 2, 3])
    }

    @Test func badPointersAndMismatchedRDataAreRefused() {
        #expect(throws: WireError.self) { try RecordEncoder.encode(owner: .pointer(11), type: .a, ttl: 0, rdata: .a(IPv4Address(rawValue: 0))) }
        #expect(throws: WireError.self) { try RecordEncoder.encode(owner: .pointer(0x4000), type: .a, ttl: 0, rdata: .a(IPv4Address(rawValue: 0))) }
        #expect(throws: WireError.self) { try RecordEncoder.encode(owner: .questionName, type: .aaaa, ttl: 0, rdata: .a(IPv4Address(rawValue: 0))) }
    }
}
