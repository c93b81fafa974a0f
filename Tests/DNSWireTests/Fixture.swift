import Foundation
import Testing
import DNSWire

/// A golden packet from Fixtures/ (see Fixtures/README.md for how each was made).
enum Fixture {
    /// The octets of `Fixtures/<name>.hex`.
    static func bytes(_ name: String) throws -> [UInt8] {
        let base = try #require(Bundle.module.resourceURL).appendingPathComponent("Fixtures")
        let text = try String(contentsOf: base.appendingPathComponent(name + ".hex"), encoding: .utf8)
        return try #require(hexBytes(text), "\(name).hex is not hex")
    }

    /// Every fixture's name (without `.query.hex` / `.answer.hex`).
    static let names = [
        "dig-aaaa", "dig-0x20", "dig-noedns-soa", "dig-ns", "dig-mx", "dig-txt", "dig-txt-long", "dig-cname",
        "dig-cname-nodata", "dig-ptr", "dig-srv", "dig-unknown", "dig-nxdomain", "dig-tc",
        "kdig-do", "kdig-badvers", "kdig-nsid", "kdig-big",
        "knot-0x20", "knot-mx", "knot-ns", "knot-srv", "knot-cname", "knot-txt-long", "knot-nxdomain", "knot-unknown",
    ]

    static func query(_ name: String) throws -> [UInt8] { try bytes(name + ".query") }
    static func answer(_ name: String) throws -> [UInt8] { try bytes(name + ".answer") }
}

/// Hex text (whitespace ignored) to octets; nil when it is not hex.
func hexBytes(_ text: String) -> [UInt8]? {
    let digits = Array(text.utf8.filter { $0 != 0x20 && $0 != 0x0a })
    guard digits.count % 2 == 0 else { return nil }
    func nibble(_ c: UInt8) -> UInt8? {
        switch c {
        case 0x30...0x39: c - 0x30
        case 0x61...0x66: c - 0x61 + 10
        case 0x41...0x46: c - 0x41 + 10
        default: nil
        }
    }
    var out: [UInt8] = []
    out.reserveCapacity(digits.count / 2)
    var i = 0
    while i < digits.count {
        guard let h = nibble(digits[i]), let l = nibble(digits[i + 1]) else { return nil }
        out.append(h << 4 | l)
        i += 2
    }
    return out
}

/// A name from text, for tests (a bad literal fails the test, not the process).
func name(_ text: String) throws -> DNSName { try DNSName(text) }
