import Testing
@testable import DNSWire

/// Packets made by real tools (dig, kdig, NSD 4.6, Knot 3.2): each parses, and
/// writing it back with our compressor gives the very octets the tool or
/// server sent (one Knot answer aside, see below).
@Suite struct GoldenFixtureTests {
    /// Knot lets a later owner point into an SRV target; we (like NSD) do not.
    static let compressedDifferently: Set<String> = ["knot-srv"]

    @Test(arguments: Fixture.names)
    func queryReencodesByteExact(_ fixture: String) throws {
        let bytes = try Fixture.query(fixture)
        let message = try Message(parsing: bytes)
        #expect(try message.encoded() == bytes)
    }

    @Test(arguments: Fixture.names.filter { !compressedDifferently.contains($0) })
    func answerReencodesByteExact(_ fixture: String) throws {
        let bytes = try Fixture.answer(fixture)
        let message = try Message(parsing: bytes)
        let again = try message.encoded()
        #expect(again == bytes, "\(fixture): first difference at \(firstDifference(again, bytes) ?? -1)")
    }
}

extension GoldenFixtureTests {
    /// Knot 3.2 writes the glue owner `ns1.fixtures.example` as a pointer into
    /// the SRV target (offset 62). That is legal, but RFC 3597 §4 asks us not to
    /// compress names in SRV RDATA, and NSD and we do not use them as targets
    /// either: we write `ns1` and a pointer to the question's `fixtures.example`,
    /// 4 octets more. The message decodes, encodes and decodes to the same thing.
    @Test func knotPointsIntoSRVTargetsWhichWeDoNot() throws {
        let knot = try Fixture.answer("knot-srv")
        let m = try Message(parsing: knot)
        let ours = try m.encoded()
        #expect(try Message(parsing: ours) == m)
        #expect(ours.count == knot.count + 4)
        let srvTarget = 12 + 28 + 4 + 2 + 10 + 6
        #expect(srvTarget == 62 && knot[84] == 0xc0 && Int(knot[85]) == srvTarget)
        #expect(Array(ours[84..<88]) == [3, 0x6e, 0x73, 0x31] && Array(ours[88..<90]) == [0xc0, 22])
    }
}

func firstDifference(_ a: [UInt8], _ b: [UInt8]) -> Int? {
    for i in 0..<min(a.count, b.count) where a[i] != b[i] { return i }
    return a.count == b.count ? nil : min(a.count, b.count)
}
