import Testing
@testable import DNSWire

/// Query.lowercasedName works eight octets at a time: it must agree with the
/// plain per-octet rule for every octet value, at every position and name
/// length, and write nothing past the name.
@Suite struct LowercasedNameTests {
    /// The rule as RFC 4343 states it: only ASCII `A`-`Z` change.
    func reference(_ name: [UInt8]) -> [UInt8] {
        name.map { (0x41...0x5a).contains($0) ? $0 + 0x20 : $0 }
    }

    /// Lowercases `name` placed at offset 12 of a message that ends with it
    /// (so a read past the name would be a read past the message), into a
    /// buffer with guard octets after the name's length.
    func lowercase(_ name: [UInt8]) -> (out: [UInt8], guardIntact: Bool) {
        let message = [UInt8](repeating: 0, count: Header.size) + name
        let query = Query(header: Header(qdCount: 1), nameLength: name.count, type: .aaaa, class: .internet,
                          questionEnd: message.count, edns: nil)
        var out = [UInt8](repeating: 0xee, count: name.count + 16)
        let n = message.withUnsafeBytes { b in out.withUnsafeMutableBytes { query.lowercasedName(from: b, into: $0) } }
        #expect(n == name.count)
        return (Array(out.prefix(n)), out[n...].allSatisfy { $0 == 0xee })
    }

    @Test func everyOctetValueAtEveryPositionOfEveryLength() {
        for length in 1...255 {
            // 256 rotations put each octet value in every lane of every eight-octet step.
            for rotation in 0..<256 {
                let name = (0..<length).map { UInt8(truncatingIfNeeded: $0 &+ rotation) }
                let (out, guardIntact) = lowercase(name)
                guard out == reference(name), guardIntact else {
                    Issue.record("length \(length), rotation \(rotation): \(out) != \(reference(name))")
                    return
                }
            }
        }
    }

    @Test func caseBoundaryOctetsAreLeftAlone() {
        // The octets just outside A-Z, their images with the high bit set, and A-Z with it.
        let edges: [UInt8] = [0x40, 0x5b, 0x60, 0x7b, 0xc0, 0xc1, 0xda, 0xdb, 0xe1, 0xfa, 0x80, 0xff, 0x00, 0x3f]
        for length in 1...24 {
            for e in edges {
                let name = [UInt8](repeating: e, count: length)
                #expect(lowercase(name).out == name, "octet \(e) x \(length)")
            }
        }
        #expect(lowercase(Array("AZ@[`{az".utf8)).out == Array("az@[`{az".utf8))
    }

    @Test func wellFormedNamesOfEveryLengthThroughParse() throws {
        // Names of 1...255 octets made of labels up to 63 octets, label text
        // drawn from every octet value; parsed from a real query, then lowercased.
        var seed: UInt64 = 0x9e37_79b9_7f4a_7c15
        func next() -> UInt64 {
            seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return seed >> 33
        }
        for length in [1] + Array(3...255) {  // no name is 2 octets long
            var wire: [UInt8] = []
            var left = length - 1  // octets before the root label
            while left > 0 {
                var take = min(63, left - 1, 1 + Int(next() % 63))
                if left - 1 - take == 1 { take += take > 1 ? -1 : 1 }  // one octet cannot hold a label
                wire.append(UInt8(take))
                for _ in 0..<take { wire.append(UInt8(truncatingIfNeeded: next())) }
                left -= 1 + take
            }
            wire.append(0)
            try #require(wire.count == length, "built \(wire.count) for \(length)")
            let message = [0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0] + wire + [0, 28, 0, 1]
            let query = try message.withUnsafeBytes { b throws(WireError) in try Query.parse(b) }
            #expect(query.nameLength == length)
            var out = [UInt8](repeating: 0xee, count: 256)
            let n = message.withUnsafeBytes { b in out.withUnsafeMutableBytes { query.lowercasedName(from: b, into: $0) } }
            #expect(Array(out.prefix(n)) == reference(wire), "length \(length)")
            #expect(out[n...].allSatisfy { $0 == 0xee })
        }
    }
}
