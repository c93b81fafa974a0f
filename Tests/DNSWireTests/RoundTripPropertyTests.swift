import Testing
@testable import DNSWire

/// A small, seeded generator (SplitMix64), so a failure names a seed that reproduces it.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9e37_79b9_7f4a_7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }
}

/// Random messages that the parser accepts: names drawn from a few shared
/// suffixes (so compression has work to do) in mixed case, every typed RDATA,
/// opaque RDATA, at most one OPT.
struct MessageGenerator {
    var rng: SeededGenerator

    mutating func int(_ range: ClosedRange<Int>) -> Int { Int.random(in: range, using: &rng) }
    mutating func bool() -> Bool { Bool.random(using: &rng) }
    mutating func bytes(_ count: Int) -> [UInt8] { (0..<count).map { _ in UInt8.random(in: 0...255, using: &rng) } }

    mutating func label() -> [UInt8] {
        switch int(0...9) {
        case 0: return bytes(int(1...63))                                  // any octets, dots and zeros included
        case 1: return Array(repeating: 0x78, count: 63)
        default: return (0..<int(1...8)).map { _ in Array("abcXYZ-_09".utf8)[int(0...9)] }
        }
    }

    mutating func name() -> DNSName {
        let suffixes: [[UInt8]] = [[0], [8] + Array("internal".utf8) + [0], [7] + Array("ExAmple".utf8) + [3, 0x63, 0x6f, 0x6d, 0]]
        var wire = suffixes[int(0...2)]
        for _ in 0..<int(0...4) {
            let l = label()
            guard wire.count + l.count + 1 <= 255 else { break }
            wire = [UInt8(l.count)] + l + wire
        }
        return DNSName(uncheckedWire: wire)
    }

    mutating func rdata(for type: RRType) -> RData {
        switch type {
        case .a: return .a(IPv4Address(rawValue: UInt32.random(in: 0...UInt32.max, using: &rng)))
        case .aaaa: return .aaaa(IPv6Address(high: rng.next(), low: rng.next()))
        case .ns: return .ns(name())
        case .cname: return .cname(name())
        case .ptr: return .ptr(name())
        case .soa:
            return .soa(SOA(mname: name(), rname: name(), serial: UInt32.random(in: 0...UInt32.max, using: &rng),
                            refresh: 1, retry: 2, expire: UInt32.max, minimum: UInt32(int(0...86400))))
        case .mx: return .mx(preference: UInt16(int(0...65535)), exchange: name())
        case .txt: return .txt((0..<int(1...4)).map { _ in bytes(int(0...1) == 0 ? int(0...10) : int(0...255)) })
        case .srv: return .srv(SRV(priority: UInt16(int(0...65535)), weight: 0, port: 53, target: name()))
        default: return .opaque(bytes(int(0...40)))
        }
    }

    mutating func record() -> Record {
        let types: [RRType] = [.a, .aaaa, .ns, .cname, .ptr, .soa, .mx, .txt, .srv, RRType(65400), RRType(99), .any]
        let type = types[int(0...(types.count - 1))]
        // Class CH keeps A/AAAA/SRV opaque, as the parser reads them.
        let rrClass: RRClass = int(0...5) == 0 ? .chaos : .internet
        let data = RData.isTyped(type, class: rrClass) ? rdata(for: type) : .opaque(bytes(int(0...20)))
        return Record(name: name(), type: type, class: rrClass, ttl: UInt32.random(in: 0...UInt32.max, using: &rng),
                      rdata: data)
    }

    mutating func message() -> Message {
        let header = Header(id: UInt16(int(0...65535)), flags: UInt16(int(0...65535)))
        var additional = (0..<int(0...3)).map { _ in record() }
        if bool() {
            let options = (0..<int(0...3)).map { _ in EDNSOption(code: UInt16(int(0...65535)), data: bytes(int(0...12))) }
            let opt = EDNSRecord(udpPayloadSize: UInt16(int(0...65535)), extendedRCode: UInt8(int(0...255)),
                                 version: UInt8(int(0...1)), flags: UInt16(int(0...65535)), options: options).record
            additional.insert(opt, at: int(0...additional.count))
        }
        return Message(header: header,
                       questions: (0..<int(0...2)).map { _ in Question(name: name(), type: RRType(UInt16(int(0...300))),
                                                                    class: RRClass(UInt16(int(1...4)))) },
                       answers: (0..<int(0...6)).map { _ in record() },
                       authority: (0..<int(0...3)).map { _ in record() },
                       additional: additional)
    }
}

@Suite struct RoundTripPropertyTests {
    /// encode -> parse gives the message back, compressed or not, and
    /// re-encoding the parsed message gives the same octets.
    @Test(arguments: [UInt64(1), 2, 3, 4])
    func randomMessagesRoundTrip(seed: UInt64) throws {
        var gen = MessageGenerator(rng: SeededGenerator(seed: seed))
        for i in 0..<500 {
            let m = gen.message()
            for compress in [true, false] {
                let bytes = try m.encoded(compress: compress)
                let back = try Message(parsing: bytes)
                #expect(back == m, "seed \(seed), message \(i), compress \(compress)")
                #expect(try back.encoded(compress: compress) == bytes, "seed \(seed), message \(i)")
            }
        }
    }

    /// Damaged messages: random flips, cuts and insertions never trap. What
    /// still parses is a valid message that survives its own round trip, and
    /// Query.parse agrees with the full parser on whether there is a query.
    @Test(arguments: [UInt64(11), 12])
    func mutatedMessagesNeverTrap(seed: UInt64) throws {
        var gen = MessageGenerator(rng: SeededGenerator(seed: seed))
        var seeds: [[UInt8]] = try Fixture.names.flatMap { [try Fixture.query($0), try Fixture.answer($0)] }
        for _ in 0..<50 { seeds.append(try gen.message().encoded()) }
        var parsed = 0
        for i in 0..<5000 {
            var bytes = seeds[i % seeds.count]
            for _ in 0..<gen.int(1...4) {
                switch gen.int(0...3) {
                case 0 where !bytes.isEmpty: bytes[gen.int(0...(bytes.count - 1))] ^= UInt8(1 << gen.int(0...7))
                case 1 where !bytes.isEmpty: bytes[gen.int(0...(bytes.count - 1))] = UInt8(gen.int(0...255))
                case 2: bytes.removeLast(min(bytes.count, gen.int(0...8)))
                default: bytes.insert(UInt8(gen.int(0...255)), at: gen.int(0...bytes.count))
                }
            }
            let m: Message
            do { m = try Message(parsing: bytes) } catch { continue }
            parsed += 1
            #expect(try Message(parsing: m.encoded()) == m, "seed \(seed), mutation \(i)")
            // Query.parse checks less inside RDATA, never more: it takes every
            // one-question message the full parser takes, and reads the same facts.
            let q = bytes.withUnsafeBytes { b in try? Query.parse(b) }
            if m.questions.count == 1 {
                #expect(q != nil, "seed \(seed), mutation \(i): Query.parse rejects a valid query")
            }
            if let q {
                #expect(m.questions.count == 1 && q.type == m.questions[0].type && q.class == m.questions[0].class)
                #expect(q.nameLength == m.questions[0].name.wire.count && q.edns?.flags == m.edns?.flags)
            }
        }
        // Some survive (a flipped TTL or address octet); most do not.
        #expect(parsed > 100 && parsed < 5000)
    }

    /// Random octets: typed errors only.
    @Test func randomOctetsNeverTrap() {
        var gen = MessageGenerator(rng: SeededGenerator(seed: 99))
        for _ in 0..<20000 {
            let bytes = gen.bytes(gen.int(0...64))
            _ = try? Message(parsing: bytes)
            _ = bytes.withUnsafeBytes { try? Query.parse($0) }
        }
    }
}
