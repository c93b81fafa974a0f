import Testing
@testable import DNSWire

/// WireReader's bounds: every read either returns the octets it names or
/// throws `.truncated` at the offset asked for, right up to the last octet.
@Suite struct WireReaderTests {
    func read<T>(_ bytes: [UInt8], _ f: (WireReader) throws(WireError) -> T) -> Result<T, WireError> {
        bytes.withUnsafeBytes { b in
            do throws(WireError) { return .success(try f(WireReader(b))) } catch { return .failure(error) }
        }
    }

    @Test func integerReadsStopExactlyAtTheEnd() {
        let bytes: [UInt8] = [0x01, 0x02, 0x03, 0x04, 0x05]
        #expect(read(bytes) { r throws(WireError) in try r.u8(at: 4, .rdata) } == .success(0x05))
        #expect(read(bytes) { r throws(WireError) in try r.u16(at: 3, .rdata) } == .success(0x0405))
        #expect(read(bytes) { r throws(WireError) in try r.u32(at: 1, .recordTTL) } == .success(0x0203_0405))
        #expect(read(bytes) { r throws(WireError) in try r.u8(at: 5, .rdata) } == .failure(WireError(.truncated, .rdata, at: 5)))
        #expect(read(bytes) { r throws(WireError) in try r.u16(at: 4, .rdLength) } == .failure(WireError(.truncated, .rdLength, at: 4)))
        #expect(read(bytes) { r throws(WireError) in try r.u32(at: 2, .recordTTL) } == .failure(WireError(.truncated, .recordTTL, at: 2)))
        for o in [-1, Int.min, Int.max, Int.max - 1] {
            #expect(read(bytes) { r throws(WireError) in try r.u16(at: o, .rdata) } == .failure(WireError(.truncated, .rdata, at: o)))
            #expect(read(bytes) { r throws(WireError) in try r.u32(at: o, .rdata) } == .failure(WireError(.truncated, .rdata, at: o)))
        }
        #expect(read([]) { r throws(WireError) in try r.u16(at: 0, .rdata) } == .failure(WireError(.truncated, .rdata, at: 0)))
    }

    @Test func namesAreWalkedToTheirEndOrTheFirstBrokenRule() {
        let header = [UInt8](repeating: 0, count: 12)
        func walk(_ tail: [UInt8], at offset: Int = 12) -> Result<[Int], WireError> {
            read(header + tail) { r throws(WireError) in
                let (end, length) = try r.skipName(at: offset, .recordName)
                return [end, length]
            }
        }
        // "a.bc." ends exactly at the end of the message.
        #expect(walk([1, 0x61, 2, 0x62, 0x63, 0]) == .success([18, 6]))
        #expect(walk([1, 0x61, 2, 0x62, 0x63]) == .failure(WireError(.truncated, .recordName, at: 17)))
        #expect(walk([1, 0x61, 2, 0x62]) == .failure(WireError(.truncated, .recordName, at: 14)))
        #expect(walk([0x41, 0]) == .failure(WireError(.reservedLabelType, .recordName, at: 12)))
        #expect(walk([0x81, 0]) == .failure(WireError(.reservedLabelType, .recordName, at: 12)))
        #expect(walk([], at: 12) == .failure(WireError(.truncated, .recordName, at: 12)))
        #expect(walk([0], at: -1) == .failure(WireError(.truncated, .recordName, at: -1)))
        // A pointer back to "a.bc." at 12: the name ends after the pointer, its length is the target's.
        #expect(walk([1, 0x61, 2, 0x62, 0x63, 0, 1, 0x78, 0xc0, 12], at: 18) == .success([22, 8]))
        #expect(walk([1, 0x61, 0xc0], at: 12) == .failure(WireError(.truncated, .recordName, at: 14)))
        #expect(walk([0xc0, 12]) == .failure(WireError(.badPointer, .recordName, at: 12)))  // to itself
        #expect(walk([0, 0xc0, 11], at: 13) == .failure(WireError(.badPointer, .recordName, at: 13)))  // into the header
        // 127 labels of one octet and the root: 255 octets, the most a name may have; one more is too long.
        let longest: [UInt8] = Array(repeating: [1, 0x61], count: 127).flatMap { $0 } + [0]
        #expect(walk(longest) == .success([12 + 255, 255]))
        #expect(walk([1, 0x62] + longest) == .failure(WireError(.nameTooLong, .recordName, at: 12 + 2 + 126 * 2)))  // at the 127th "a"
    }
}
