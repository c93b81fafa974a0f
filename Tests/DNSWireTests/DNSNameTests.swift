import Testing
@testable import DNSWire

/// Names keep their case, compare without it, and hold to the 63/255 limits.
@Suite struct DNSNameTests {
    @Test func textRoundTripsThroughWire() throws {
        let n = try DNSName("WwW.Example.")
        #expect(n.wire == [3, 0x57, 0x77, 0x57, 7] + Array("Example".utf8) + [0])
        #expect(n.description == "WwW.Example.")
        #expect(try DNSName("WwW.Example") == n && DNSName.root.description == "." && (try DNSName(".")) == .root)
    }

    @Test func escapesInAndOut() throws {
        let n = try DNSName(#"a\.b.c\\d.\000.\255"#)
        #expect(n.labels.map { Array($0) } == [[0x61, 0x2e, 0x62], [0x63, 0x5c, 0x64], [0], [255]])
        #expect(n.description == #"a\.b.c\\d.\000.\255."#)
        #expect(throws: WireError.self) { try DNSName(#"a\256"#) }
        #expect(throws: WireError.self) { try DNSName(#"a\"#) }
    }

    @Test func limitsAreEnforced() throws {
        let l63 = String(repeating: "a", count: 63)
        #expect(throws: Never.self) { try DNSName(l63) }
        #expect((try? DNSName(l63 + "a")) == nil)
        #expect((try? DNSName("a..b")) == nil)
        // 4 labels of 63 = 256 octets with the root: one too many.
        #expect((try? DNSName([l63, l63, l63, String(l63.dropFirst(2))].joined(separator: "."))) != nil)
        #expect((try? DNSName([l63, l63, l63, String(l63.dropFirst(1))].joined(separator: "."))) == nil)
        #expect((try? DNSName(wire: [1, 0x61])) == nil)
        #expect((try? DNSName(wire: [1, 0x61, 0, 0])) == nil)
        #expect((try? DNSName(wire: [0xc0, 0])) == nil)
    }

    @Test func equalityAndHashIgnoreASCIICaseOnly() throws {
        let a = try DNSName("MiXeD.example"), b = try DNSName("mixed.EXAMPLE")
        #expect(a == b && a.hashValue == b.hashValue && Set([a, b]).count == 1)
        #expect(a.wire != b.wire)
        // Octets outside A-Z are not folded: 0xC4 and 0xE4 differ.
        #expect(DNSName(uncheckedWire: [1, 0xc4, 0]) != DNSName(uncheckedWire: [1, 0xe4, 0]))
        #expect(a.lowercased.wire == b.lowercased.wire)
    }

    @Test func subdomains() throws {
        let zone = try DNSName("Internal")
        #expect(try DNSName("app.internal").isSubdomain(of: zone))
        #expect(zone.isSubdomain(of: zone) && zone.isSubdomain(of: .root))
        #expect(!(try DNSName("xinternal").isSubdomain(of: zone)))
        // "b.internal" with an escaped dot is one label, not "b" under "internal".
        #expect(!(try DNSName(#"a.b\.internal"#).isSubdomain(of: zone)))
        #expect(try DNSName("app.internal").prepending("_x") == DNSName("_x.app.internal"))
    }
}

@Suite struct IPv4AddressTests {
    @Test func parsesAndPrintsDottedQuads() {
        #expect(IPv4Address("192.0.2.53") == IPv4Address(192, 0, 2, 53))
        #expect(IPv4Address(192, 0, 2, 53).description == "192.0.2.53")
        #expect(IPv4Address(192, 0, 2, 53).bytes == [192, 0, 2, 53])
        #expect(IPv4Address("0.0.0.0") == IPv4Address(rawValue: 0) && IPv4Address("255.255.255.255") == IPv4Address(rawValue: .max))
        #expect(IPv6Address("::ffff:192.0.2.1") == IPv6Address(high: 0, low: 0xffff_c000_0201))
        #expect(IPv6Address("::ffff:192.0.02.1") == nil)
        for bad in ["", "1.2.3", "1.2.3.4.5", "256.1.1.1", "1..2.3", "1.2.3.4.", "01.2.3.4", "1234.1.1.1", "a.b.c.d", " 1.2.3.4"] {
            #expect(IPv4Address(bad) == nil, "\(bad)")
        }
    }
}

@Suite struct IPv6AddressTextTests {
    @Test func printsRFC5952Text() {
        let cases = [
            ("0:0:0:0:0:0:0:0", "::"), ("0:0:0:0:0:0:0:1", "::1"), ("1:0:0:0:0:0:0:0", "1::"),
            ("fdaa:0:2:0:3:1:0:1", "fdaa:0:2:0:3:1:0:1"),        // single zero groups stay
            ("2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"),        // the first of two equal runs
            ("2001:0:0:1:0:0:0:1", "2001:0:0:1::1"),              // the longest run
            ("FDAA:00AB:0C00:ffff:ffff:0:0:a", "fdaa:ab:c00:ffff:ffff::a"),
        ]
        for (text, printed) in cases { #expect(IPv6Address(text)?.description == printed, "\(text)") }
    }
}
