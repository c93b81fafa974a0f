import DNSWire
import Testing
@testable import ZoneEngine

/// The reverse name of `address` (`x.x....a.a.d.f.ip6.arpa`), or only its first `nibbles` nibbles.
func reverseName(_ address: String, nibbles: Int = 32) -> String {
    let a = IPv6Address(address)!
    let hex = a.bytes.flatMap { [$0 >> 4, $0 & 0xf] }.prefix(nibbles).map { String($0, radix: 16) }
    return (hex.reversed() + ["ip6", "arpa"]).joined(separator: ".")
}

/// Two organizations; org 1 has two instances (one stopped) and a peer.
private func fixture() throws -> TemporaryDatabase {
    let t = try TemporaryDatabase()
    let w = try t.writer()
    try w.addInstance(app: "web", region: "ams", address: "fdaa:0:1:0:a1:0:1:2", id: "w1")
    try w.addInstance(app: "web", region: "iad", address: "fdaa:0:1:0:b1:0:3:2", id: "w3")
    try w.addInstance(app: "web", region: "iad", address: "fdaa:0:1:0:b1:0:5:2", id: "w5", started: false)
    try w.addPeer(name: "laptop", address: "fdaa:0:1:0:ff:0:0:101")
    try w.addInstance(app: "db", region: "lhr", address: "fdaa:0:2:0:d1:0:8:2", id: "x2")
    return t
}

private let inOrg1 = "fdaa:0:1:0:a1:0:9:1"
private let inOrg2 = "fdaa:0:2:0:a1:0:7:2"

@Suite struct ReverseZoneTests {
    let t: TemporaryDatabase
    let s: Snapshot

    init() throws {
        t = try fixture()
        s = try snapshot(of: t.path)
    }

    @Test func anInstancesAddressNamesItsVMName() throws {
        let r = try s.ask(reverseName("fdaa:0:1:0:a1:0:1:2"), .ptr, from: inOrg1)
        #expect(r.rcode == .noError && r.message.header.authoritative)
        #expect(r.ptr == ["w1.vm.web.internal."])
        #expect(r.message.answers.first?.ttl == 5)
        #expect(try s.ask(reverseName("fdaa:0:1:0:b1:0:3:2"), .ptr, from: inOrg1).ptr == ["w3.vm.web.internal."])
        #expect(try s.ask(reverseName("fdaa:0:2:0:d1:0:8:2"), .ptr, from: inOrg2).ptr == ["x2.vm.db.internal."])
        #expect(try s.ask(reverseName("fdaa:0:1:0:a1:0:1:2"), .any, from: inOrg1).ptr == ["w1.vm.web.internal."])
    }

    @Test func aPeersAddressNamesThePeer() throws {
        #expect(try s.ask(reverseName("fdaa:0:1:0:ff:0:0:101"), .ptr, from: inOrg1).ptr == ["laptop._peer.internal."])
    }

    @Test func anotherOrganizationsAddressIsNXDOMAIN() throws {
        let r = try s.ask(reverseName("fdaa:0:2:0:d1:0:8:2"), .ptr, from: inOrg1)
        #expect(r.isNXDomain)
        #expect(r.message.authority.first?.name == (try DNSName("a.a.d.f.ip6.arpa")))
        #expect(try s.ask(reverseName("fdaa:0:1:0:ff:0:0:101"), .ptr, from: inOrg2).isNXDomain)
        // Nor is another organization's /48 an empty non-terminal.
        #expect(try s.ask(reverseName("fdaa:0:2::", nibbles: 12), .ptr, from: inOrg1).isNXDomain)
        #expect(try s.ask(reverseName("fdaa:0:2:0:d1::", nibbles: 20), .ptr, from: inOrg1).isNXDomain)
    }

    @Test func unknownAndStoppedAddressesAreNXDOMAIN() throws {
        #expect(try s.ask(reverseName("fdaa:0:1:0:b1:0:5:2"), .ptr, from: inOrg1).isNXDomain, "stopped")
        #expect(try s.ask(reverseName("fdaa:0:1:0:a1:0:1:3"), .ptr, from: inOrg1).isNXDomain)
        #expect(try s.ask(reverseName("fdaa::3"), .ptr, from: inOrg1).isNXDomain)
    }

    @Test func shorterNamesAboveAnAddressAreEmptyNonTerminals() throws {
        // RFC 8020: NXDOMAIN would deny everything below, so a name that leads to an address is NODATA.
        for nibbles in [5, 8, 12, 16, 20, 24, 28, 31] {
            #expect(try s.ask(reverseName("fdaa:0:1:0:a1:0:1:2", nibbles: nibbles), .ptr, from: inOrg1).isNoData,
                    "\(nibbles) nibbles")
        }
        // Below the /48 but off every address: nothing there.
        #expect(try s.ask(reverseName("fdaa:0:1:0:c1::", nibbles: 20), .ptr, from: inOrg1).isNXDomain)
        #expect(try s.ask(reverseName("fdaa:0:1:0:a1:0:1:2", nibbles: 31), .ptr, from: inOrg2).isNXDomain)
    }

    @Test func anAddressAskedWithAnotherTypeIsNODATA() throws {
        #expect(try s.ask(reverseName("fdaa:0:1:0:a1:0:1:2"), .aaaa, from: inOrg1).isNoData)
        #expect(try s.ask(reverseName("fdaa:0:1:0:a1:0:1:2"), .txt, from: inOrg1).isNoData)
    }

    @Test func theApexHasSOAAndNS() throws {
        let soa = try s.ask("a.a.d.f.ip6.arpa", .soa, from: inOrg1)
        let apex = try DNSName("a.a.d.f.ip6.arpa")
        #expect(soa.message.answers.map(\.type) == [.soa] && soa.message.answers.first?.name == apex)
        #expect(try s.ask("a.a.d.f.ip6.arpa", .ns, from: inOrg1).message.answers.map(\.rdata) == [.ns(try DNSName("internal"))])
        #expect(try s.ask("a.a.d.f.ip6.arpa", .ptr, from: inOrg1).isNoData)
    }

    @Test(arguments: ["x.a.a.d.f.ip6.arpa", "10.0.0.0.0.a.a.d.f.ip6.arpa", "g.a.a.d.f.ip6.arpa",
                      "0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.a.a.d.f.ip6.arpa"])
    func namesThatAreNoAddressAreNXDOMAIN(name: String) throws {
        #expect(try s.ask(name, .ptr, from: inOrg1).isNXDomain, "\(name)")
    }

    @Test func hexDigitsInAnyCase() throws {
        let upper = reverseName("fdaa:0:1:0:ff:0:0:101").uppercased()
        let r = try s.ask(upper, .ptr, from: inOrg1)
        #expect(r.ptr == ["laptop._peer.internal."])
        #expect(r.message.answers.first?.name.wire == (try DNSName(upper)).wire, "the client's case is kept")
    }

    @Test func anOrganizationWithOnlyPeersIsFoundEvenWhenItIsReadLast() throws {
        // Organizations with apps are read first, in network order; one with only peers comes after them.
        let t = try TemporaryDatabase()
        let w = try t.writer()
        try w.addInstance(app: "web", region: "ams", address: "fdaa:0:9:0:a1:0:1:2", id: "w1")
        try w.addPeer(name: "gw", address: "fdaa:0:5:0:ff:0:0:101")
        let s = try snapshot(of: t.path)
        #expect(try s.ask(reverseName("fdaa:0:5:0:ff:0:0:101"), .ptr, from: "fdaa:0:5::1").ptr == ["gw._peer.internal."])
        #expect(try s.ask(reverseName("fdaa:0:9:0:a1:0:1:2"), .ptr, from: "fdaa:0:9::1").ptr == ["w1.vm.web.internal."])
    }

    @Test func randomNamesUnderTheApexGetAnAnswerNeverACrash() throws {
        // Names made from org 1's answered addresses with a few labels changed, dropped or added,
        // and names of 0-40 random labels; a PTR comes exactly for all 28 nibbles of such an address.
        var rng = SystemRandomNumberGenerator()
        let alphabet = Array("0123456789abcdefABCDEFgxz-".utf8)
        let own = Set(["fdaa:0:1:0:a1:0:1:2", "fdaa:0:1:0:b1:0:3:2", "fdaa:0:1:0:ff::101"].map { IPv6Address($0)! })
        func randomLabel() -> String {
            String(decoding: (0..<Int.random(in: 1...3, using: &rng)).map { _ in alphabet.randomElement(using: &rng)! },
                   as: UTF8.self)
        }
        var answered = 0
        for _ in 0..<3000 {
            var labels: [String]
            if Bool.random(using: &rng) {
                labels = reverseName(own.randomElement(using: &rng)!.description).split(separator: ".").prefix(28).map(String.init)
                for _ in 0..<Int.random(in: 0...2, using: &rng) {
                    let i = Int.random(in: 0..<labels.count, using: &rng)
                    switch Int.random(in: 0..<4, using: &rng) {
                    case 0: labels[i] = randomLabel()
                    case 1: labels.remove(at: i)
                    case 2: labels.insert(randomLabel(), at: i)
                    default: labels[i] = labels[i].uppercased()
                    }
                    if labels.isEmpty { break }
                }
            } else {
                labels = (0..<Int.random(in: 0...40, using: &rng)).map { _ in randomLabel() }
            }
            let name = (labels + ["a.a.d.f.ip6.arpa"]).joined(separator: ".")
            let r = try s.ask(name, .ptr, from: inOrg1)
            #expect(r.rcode == .noError || r.rcode == .nxDomain, "\(name): \(r.rcode)")
            #expect(r.message.answers.count + r.message.authority.count == 1, "\(name)")
            let hex = "fdaa" + labels.reversed().joined()
            let address = labels.count == 28 && labels.allSatisfy({ $0.count == 1 && $0.first!.isHexDigit })
                ? IPv6Address(bytes: stride(from: 0, to: 32, by: 2).map { UInt8(hex.dropFirst($0).prefix(2), radix: 16)! })
                : nil
            let expected = address.map { own.contains($0) } ?? false
            #expect(r.message.answers.count == (expected ? 1 : 0), "\(name)")
            if expected { answered += 1 }
        }
        #expect(answered > 100, "the mutations left some names whole (\(answered))")
    }

    @Test func theApexIsFoundOnlyOnALabelBoundary() throws {
        func offset(_ text: String) throws -> Int {
            try DNSName(text).wire.withUnsafeBytes { ReverseZone.suffixOffset($0) }
        }
        #expect(try offset("a.a.d.f.ip6.arpa") == 0)
        #expect(try offset("1.a.a.d.f.ip6.arpa") == 2)
        #expect(try offset("d.f.ip6.arpa") == -1)
        #expect(try offset("b.a.d.f.ip6.arpa") == -1)
        #expect(try offset("a.a.d.f.ip6.arpa.example") == -1)
        #expect(try offset("example.com") == -1)
        // The suffix's octets inside one longer label do not start a label.
        let inside: [UInt8] = [18, 0x78] + ReverseZone.apex.dropLast() + [0]
        #expect(inside.withUnsafeBytes { ReverseZone.suffixOffset($0) } == -1)
    }
}
