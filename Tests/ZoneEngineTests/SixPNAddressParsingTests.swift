import DNSWire
import Testing
@testable import ZoneEngine

@Suite struct SixPNAddressParsingTests {
    private func parse(_ text: String) -> SixPNAddress? {
        Array(text.utf8).withUnsafeBytes { SixPNAddress(utf8: $0) }
    }

    /// The builder's allocation-free path agrees with the text initializer on every form.
    @Test func rawParserAgreesWithIPv6Address() {
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<2000 {
            var groups = (0..<8).map { _ in UInt16.random(in: 0...0xffff, using: &rng) }
            groups[0] = 0xfdaa
            for k in 1..<8 where Bool.random(using: &rng) { groups[k] = 0 }   // runs of zeros to compress
            let a = IPv6Address(bytes: groups.flatMap { [UInt8($0 >> 8), UInt8($0 & 0xff)] })!
            let full = groups.map { String($0, radix: 16) }.joined(separator: ":")
            #expect(parse(a.description)?.address == a, "\(a)")
            #expect(parse(full)?.address == a, "\(full)")
            #expect(parse(full.uppercased())?.address == a, "\(full)")
        }
    }

    @Test(arguments: ["", "fdaa", "fdaa::1::2", "fdaa:1:2:3:4:5:6:7:8", "fdaa:12345::", "fdaa:0:1:", ":fdaa::1",
                      "fdaa:g::", "fdaa::1.2.3.256", "fdaa:1:2:3:4:5:6:1.2.3.4", "2001:db8::1", "fdaa:0:1:0:1:0:1", "::"])
    func rawParserRejectsWhatIsNotA6PNAddress(text: String) {
        #expect(parse(text) == nil)
    }

    @Test func rawParserAcceptsTheShortForms() {
        #expect(parse("fdaa::")?.address == IPv6Address("fdaa::"))
        #expect(parse("fdaa::1")?.address == IPv6Address("fdaa::1"))
        #expect(parse("fdaa:0:1::")?.network == 1)
        // One parser for both (IPv6Address(utf8:)): an IPv4 tail reads as its last 32 bits.
        #expect(parse("fdaa::1.2.3.4")?.address == IPv6Address("fdaa::102:304"))
    }
}
