import DNSWire
import Testing
@testable import NetSetup

/// Runs the compiled C programs in the kernel on hand-made frames
/// (BPF_PROG_TEST_RUN; needs root, as every NetSetup test machine has).
@Suite struct TrafficProgramTests {
    static let ok: UInt32 = 0    // TC_ACT_OK
    static let shot: UInt32 = 2  // TC_ACT_SHOT

    /// Ethernet + IPv6 + UDP with a correct checksum.
    static func frame(from src: String, to dst: String, payload: [UInt8] = Array("hello".utf8)) -> [UInt8] {
        let s = IPv6Address(src)!.bytes, d = IPv6Address(dst)!.bytes
        let udpLength = UInt16(8 + payload.count)
        var udp: [UInt8] = [0x30, 0x39, 0x00, 0x35, UInt8(udpLength >> 8), UInt8(udpLength & 0xff), 0, 0] + payload
        let sum = checksum(source: s, destination: d, upperLayer: udp)
        udp[6] = UInt8(sum >> 8)
        udp[7] = UInt8(sum & 0xff)
        let ipv6: [UInt8] = [0x60, 0, 0, 0, UInt8(udpLength >> 8), UInt8(udpLength & 0xff), 17, 64] + s + d
        let ethernet: [UInt8] = [2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 0x86, 0xdd]
        return ethernet + ipv6 + udp
    }

    /// RFC 8200 §8.1: one's-complement sum over the pseudo-header and the UDP datagram.
    static func checksum(source: [UInt8], destination: [UInt8], upperLayer: [UInt8]) -> UInt16 {
        let length = UInt32(upperLayer.count)
        var words = source + destination
        words += [UInt8(length >> 24), UInt8(length >> 16 & 0xff), UInt8(length >> 8 & 0xff), UInt8(length & 0xff)]
        words += [0, 0, 0, 17] + upperLayer
        if words.count % 2 == 1 { words.append(0) }
        var sum: UInt32 = 0
        for i in stride(from: 0, to: words.count, by: 2) { sum += UInt32(words[i]) << 8 | UInt32(words[i + 1]) }
        while sum > 0xffff { sum = (sum & 0xffff) + (sum >> 16) }
        let c = ~UInt16(sum)
        return c == 0 ? 0xffff : c
    }

    static func addresses(_ frame: [UInt8]) -> (String, String) {
        (IPv6Address(bytes: frame[22..<38])!.description, IPv6Address(bytes: frame[38..<54])!.description)
    }

    /// The checksum over the frame's own addresses and UDP bytes, with the
    /// checksum field zeroed, against the one it carries.
    static func checksumHolds(_ frame: [UInt8]) -> Bool {
        var udp = Array(frame[54...])
        let carried = UInt16(udp[6]) << 8 | UInt16(udp[7])
        udp[6] = 0
        udp[7] = 0
        return checksum(source: Array(frame[22..<38]), destination: Array(frame[38..<54]), upperLayer: udp) == carried
    }

    @Test func swapExchangesNetworkAndHostChunksOfBothAddresses() throws {
        let f = Self.frame(from: "fdaa:0:1:0:a:0:3:1", to: "fdaa:0:1:0:b:0:4:1")
        let (verdict, out, _) = try TrafficControl.run(.swap, .egress, frame: f)
        #expect(verdict == Self.ok)
        #expect(Self.addresses(out) == ("fdaa:0:a:0:1:0:3:1", "fdaa:0:b:0:1:0:4:1"))
        #expect(out[54...] == f[54...])  // the UDP header and payload are untouched
    }

    @Test func swappedPacketKeepsAValidChecksumWithoutRewritingIt() throws {
        let f = Self.frame(from: "fdaa:1234:5678:9abc:def0:1:2:3", to: "fdaa:1111:2222:3333:4444:5:6:7")
        #expect(Self.checksumHolds(f))
        let (_, out, _) = try TrafficControl.run(.swap, .egress, frame: f)
        #expect(Self.addresses(out).0 == "fdaa:9abc:def0:1234:5678:1:2:3")
        #expect(Self.checksumHolds(out))
    }

    @Test func ingressSwapUndoesEgressSwap() throws {
        let f = Self.frame(from: "fdaa:0:1:0:a:0:3:1", to: "fdaa:0:2:0:b:0:4:1")
        let (_, there, _) = try TrafficControl.run(.swap, .egress, frame: f)
        let (_, back, _) = try TrafficControl.run(.swap, .ingress, frame: there)
        #expect(back == f)
    }

    @Test func swapLeavesAddressesOutsideFdaaAlone() throws {
        let f = Self.frame(from: "2001:db8::1", to: "fdaa:0:1:0:b:0:4:1")
        let (_, out, _) = try TrafficControl.run(.swap, .egress, frame: f)
        #expect(Self.addresses(out) == ("2001:db8::1", "fdaa:0:b:0:1:0:4:1"))
        let other = Self.frame(from: "2001:db8::1", to: "2001:db8::2")
        #expect(try TrafficControl.run(.swap, .egress, frame: other).packet == other)
    }

    // The instance behind the link in the isolate tests: org 1, host a, instance 3.
    static let ownPrefix = IPv6Prefix("fdaa:0:1:0:a:0:3:0/112")!

    static func isolate(_ direction: TCDirection, _ frame: [UInt8],
                        prefixes: [IPv6Prefix] = [ownPrefix]) throws -> UInt32 {
        try TrafficControl.run(.isolate, direction, frame: frame, prefixes: prefixes).verdict
    }

    @Test func isolateDropsTrafficBetweenOrganizations() throws {
        let f = Self.frame(from: "fdaa:0:1:0:a:0:3:1", to: "fdaa:0:2:0:a:0:4:1")
        #expect(try Self.isolate(.ingress, f) == Self.shot)
        #expect(try Self.isolate(.egress, f) == Self.shot)
    }

    @Test func isolatePassesTrafficInsideAnOrganization() throws {
        let f = Self.frame(from: "fdaa:0:1:0:a:0:3:1", to: "fdaa:0:1:0:b:0:4:1")
        #expect(try Self.isolate(.ingress, f) == Self.ok)
        #expect(try Self.isolate(.egress, f) == Self.ok)
    }

    @Test func everyOrganizationReachesTheDNSServerAndHearsBack() throws {
        let query = Self.frame(from: "fdaa:0:1:0:a:0:3:1", to: "fdaa::3")
        let answer = Self.frame(from: "fdaa::3", to: "fdaa:0:2:0:a:0:3:1")
        #expect(try Self.isolate(.ingress, query) == Self.ok)
        #expect(try Self.isolate(.egress, answer) == Self.ok)
    }

    @Test func anInstanceCannotSpoofTheDNSServerToReachAnotherOrganization() throws {
        let spoofed = Self.frame(from: "fdaa::3", to: "fdaa:0:2:0:a:0:3:1")
        #expect(try Self.isolate(.ingress, spoofed) == Self.shot)
        // Even with fdaa::3 among the link's prefixes, the one-way exception holds.
        #expect(try Self.isolate(.ingress, spoofed, prefixes: [Self.ownPrefix, IPv6Prefix("fdaa::3/128")!]) == Self.shot)
    }

    @Test func aSourceOfAnotherOrganizationIsForgedWhateverItsDestination() throws {
        // The hole this closes: both addresses in org 2, so the network rule alone passed it.
        for destination in ["fdaa:0:2:0:b:0:4:1", "fdaa::3", "fdaa:0:1:0:a:0:9:1", "2001:db8::1"] {
            let f = Self.frame(from: "fdaa:0:2:0:a:0:4:1", to: destination)
            #expect(try Self.isolate(.ingress, f) == Self.shot, "from org 2 to \(destination)")
        }
    }

    @Test func anotherInstanceOfTheSameOrganizationCannotBeImpersonated() throws {
        // Same organization, same host, the next instance: one bit outside the /112.
        let f = Self.frame(from: "fdaa:0:1:0:a:0:4:1", to: "fdaa:0:1:0:a:0:9:1")
        #expect(try Self.isolate(.ingress, f) == Self.shot)
        #expect(try Self.isolate(.ingress, Self.frame(from: "fdaa:0:1:0:a:0:3:ffff", to: "fdaa:0:1:0:a:0:9:1")) == Self.ok)
    }

    @Test func everyPrefixOfTheLinkIsItsOwn() throws {
        let prefixes = [Self.ownPrefix, IPv6Prefix("2001:db8:1::/64")!]
        let public6 = Self.frame(from: "2001:db8:1::7", to: "2001:db8:2::1")
        #expect(try Self.isolate(.ingress, public6, prefixes: prefixes) == Self.ok)
        #expect(try Self.isolate(.ingress, public6) == Self.shot)
        // All 16 slots are read: the last one still matches.
        let sixteen = (0..<15).map { IPv6Prefix("fdaa:0:9:0:a:0:\($0 + 1):0/112")! } + [Self.ownPrefix]
        #expect(try Self.isolate(.ingress, Self.frame(from: "fdaa:0:1:0:a:0:3:1", to: "fdaa::3"), prefixes: sixteen) == Self.ok)
    }

    @Test func linkScopedSourcesPass() throws {
        // Neighbour discovery from the instance's link-local address.
        #expect(try Self.isolate(.ingress, Self.frame(from: "fe80::2", to: "fe80::1")) == Self.ok)
        #expect(try Self.isolate(.ingress, Self.frame(from: "febf::2", to: "ff02::1")) == Self.ok)
        // Duplicate address detection: the unspecified source, to a solicited-node group.
        #expect(try Self.isolate(.ingress, Self.frame(from: "::", to: "ff02::1:ff00:1")) == Self.ok)
        // ... but the unspecified source to anything else, or a site-local-looking fec0::, is forged.
        #expect(try Self.isolate(.ingress, Self.frame(from: "::", to: "fdaa:0:1:0:a:0:9:1")) == Self.shot)
        #expect(try Self.isolate(.ingress, Self.frame(from: "fec0::2", to: "fe80::1")) == Self.shot)
    }

    @Test func towardsTheInstanceOnlyTheOrganizationRuleApplies() throws {
        // Egress carries other instances' addresses as sources: that is the point of a network.
        let f = Self.frame(from: "fdaa:0:1:0:b:0:7:1", to: "fdaa:0:1:0:a:0:3:1")
        #expect(try Self.isolate(.egress, f) == Self.ok)
    }

    @Test func ipv4IsOutsideTheSixPNAndPasses() throws {
        var f = Self.frame(from: "fdaa:0:2:0:a:0:4:1", to: "fdaa::3")
        f[12] = 0x08
        f[13] = 0x00  // EtherType IPv4: the bytes after it are not read as IPv6
        #expect(try Self.isolate(.ingress, f) == Self.ok)
    }

    // (A header cut short cannot be tried here: the kernel's test runner refuses
    // an IPv6 frame without a whole header before the program runs.)
    @Test func anUnreadableIPv6PacketFromTheInstanceIsDropped() throws {
        let f = Self.frame(from: "fdaa:0:1:0:a:0:3:1", to: "fdaa::3")
        var wrongVersion = f
        wrongVersion[14] = 0x40  // version 4 in an IPv6 frame
        #expect(try Self.isolate(.ingress, wrongVersion) == Self.shot)
        #expect(try Self.isolate(.egress, wrongVersion) == Self.ok)  // the host's stack drops it anyway
    }

    @Test func attachRefusesIsolateWithoutItsPrefixAndSwapWithOne() throws {
        #expect(throws: LinkPrefixError.self) { try TrafficControl.validate(.isolate, prefixes: []) }
        #expect(throws: LinkPrefixError.self) { try TrafficControl.validate(.swap, prefixes: [Self.ownPrefix]) }
        #expect(throws: LinkPrefixError.self) { try TrafficControl.validate(.isolate, prefixes: [IPv6Prefix("fdaa::/32")!]) }
        let seventeen = (0..<17).map { IPv6Prefix("fdaa:0:1:0:a:0:\($0):0/112")! }
        #expect(throws: LinkPrefixError.self) { try TrafficControl.validate(.isolate, prefixes: seventeen) }
        try TrafficControl.validate(.isolate, prefixes: [Self.ownPrefix, IPv6Prefix("fdaa:0:1::/48")!])
        try TrafficControl.validate(.swap, prefixes: [])
    }

    @Test func linkConfigurationReadsBackWhatTheLoaderWrote() {
        let link = LinkConfiguration(networkHeaderOffset: 14,
                                     prefixes: [Self.ownPrefix, IPv6Prefix("2001:db8::/64")!, IPv6Prefix("fdaa::3/128")!])
        #expect(link.bytes.count == LinkConfiguration.size)
        #expect(LinkConfiguration(bytes: link.bytes) == link)
        #expect(LinkConfiguration(bytes: Array(link.bytes.dropLast())) == nil)
    }

    /// Not a timed assertion: prints the kernel's own figure (BPF_PROG_TEST_RUN,
    /// 1,000,000 runs, runner overhead included) for docs/performance.md.
    @Test func costPerPacketInTheKernel() throws {
        let f = Self.frame(from: "fdaa:0:1:0:a:0:3:1", to: "fdaa:0:1:0:b:0:4:1")
        let sixteen = (0..<15).map { IPv6Prefix("fdaa:0:9:0:a:0:\($0 + 1):0/112")! } + [Self.ownPrefix]
        let runs: Int32 = 1_000_000
        let swap = try TrafficControl.run(.swap, .egress, frame: f, repetitions: runs)
        let one = try TrafficControl.run(.isolate, .ingress, frame: f, prefixes: [Self.ownPrefix], repetitions: runs)
        let last = try TrafficControl.run(.isolate, .ingress, frame: f, prefixes: sixteen, repetitions: runs)
        let egress = try TrafficControl.run(.isolate, .egress, frame: f, prefixes: [Self.ownPrefix], repetitions: runs)
        #expect([one.verdict, last.verdict, egress.verdict] == [Self.ok, Self.ok, Self.ok])
        print("BPF_PROG_TEST_RUN ns/packet: swap \(swap.nanoseconds), isolate ingress 1 prefix \(one.nanoseconds), "
              + "16 prefixes (match in the last) \(last.nanoseconds), isolate egress \(egress.nanoseconds)")
    }
}
