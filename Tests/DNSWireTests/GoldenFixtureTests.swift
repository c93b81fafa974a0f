import Testing
@testable import DNSWire

/// Packets made by real tools (dig, kdig, NSD 4.6): each parses, and writing
/// it back with our compressor gives the very octets the tool or server sent.
@Suite struct GoldenFixtureTests {
    @Test(arguments: Fixture.names)
    func queryReencodesByteExact(_ fixture: String) throws {
        let bytes = try Fixture.query(fixture)
        let message = try Message(parsing: bytes)
        #expect(try message.encoded() == bytes)
    }

    @Test(arguments: Fixture.names)
    func answerReencodesByteExact(_ fixture: String) throws {
        let bytes = try Fixture.answer(fixture)
        let message = try Message(parsing: bytes)
        let again = try message.encoded()
        #expect(again == bytes, "\(fixture): first difference at \(firstDifference(again, bytes) ?? -1)")
    }
}

func firstDifference(_ a: [UInt8], _ b: [UInt8]) -> Int? {
    for i in 0..<min(a.count, b.count) where a[i] != b[i] { return i }
    return a.count == b.count ? nil : min(a.count, b.count)
}
