import DNSWire
import Testing
@testable import ZoneEngine

/// InternalZone.suffixOffset compares `internal.` as two words: it must find
/// it exactly where a per-octet, label-by-label reading does.
@Suite struct InternalZoneTests {
    /// The plain rule: walk the labels; `internal.` is the last two, if anywhere.
    func reference(_ wire: [UInt8]) -> Int {
        let apex: [UInt8] = [8] + Array("internal".utf8) + [0]
        var i = 0
        while i < wire.count {
            if Array(wire[i...]) == apex { return i }
            i += 1 + Int(wire[i])
        }
        return -1
    }

    func offset(_ wire: [UInt8]) -> Int { wire.withUnsafeBytes { InternalZone.suffixOffset($0) } }

    @Test func namesUnderInternalAndLookAlikes() throws {
        let cases: [(String, Int)] = [
            ("internal", 0), ("app-0001.internal", 9), ("a.b.internal", 4), ("top2.nearest.of.web.internal", 20),
            ("xinternal", -1), ("internal.example", -1), ("internal.internal", 9), ("internax", -1),
            ("internal-", -1), ("example.com", -1), (".", -1),
        ]
        for (text, expected) in cases {
            let wire = try DNSName(text).wire
            #expect(offset(wire) == expected, "\(text)")
            #expect(reference(wire) == expected, "\(text)")
        }
        // The suffix's octets inside one label do not start a label: "a\u{8}internal" is one label.
        let inside: [UInt8] = [10, 0x61, 8] + Array("internal".utf8) + [0]
        #expect(offset(inside) == -1)
        // Upper case is not matched: the name must come lowercased.
        #expect(offset(try DNSName("app.INTERNAL").wire) == -1)
        #expect(offset([]) == -1 && offset(Array(repeating: 0, count: 9)) == -1)
        #expect(InternalZone.suffixOffset(UnsafeRawBufferPointer(start: nil, count: 0)) == -1)
    }

    @Test func agreesWithTheLabelWalkOnManyNames() throws {
        // Labels drawn from pieces of the suffix and its neighbours, so near misses are common.
        let pieces = ["internal", "interna", "l", "x", "a", "internalx", "nternal", "in", "ternal", "\u{8}internal"]
        var seed: UInt64 = 42
        func next(_ n: Int) -> Int {
            seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int(seed >> 33) % n
        }
        for _ in 0..<20_000 {
            var wire: [UInt8] = []
            for _ in 0...next(5) {
                let label = Array(pieces[next(pieces.count)].utf8)
                wire.append(UInt8(label.count))
                wire += label
            }
            wire.append(0)
            #expect(offset(wire) == reference(wire), "\(wire)")
        }
    }
}
