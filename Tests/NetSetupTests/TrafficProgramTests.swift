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

    @Test func isolateDropsTrafficBetweenOrganizations() throws {
        let f = Self.frame(from: "fdaa:0:1:0:a:0:3:1", to: "fdaa:0:2:0:a:0:4:1")
        #expect(try TrafficControl.run(.isolate, .ingress, frame: f).verdict == Self.shot)
        #expect(try TrafficControl.run(.isolate, .egress, frame: f).verdict == Self.shot)
    }

    @Test func isolatePassesTrafficInsideAnOrganization() throws {
        let f = Self.frame(from: "fdaa:0:1:0:a:0:3:1", to: "fdaa:0:1:0:b:0:4:1")
        #expect(try TrafficControl.run(.isolate, .ingress, frame: f).verdict == Self.ok)
        #expect(try TrafficControl.run(.isolate, .egress, frame: f).verdict == Self.ok)
    }

    @Test func everyOrganizationReachesTheDNSServerAndHearsBack() throws {
        let query = Self.frame(from: "fdaa:0:1:0:a:0:3:1", to: "fdaa::3")
        let answer = Self.frame(from: "fdaa::3", to: "fdaa:0:2:0:a:0:3:1")
        #expect(try TrafficControl.run(.isolate, .ingress, frame: query).verdict == Self.ok)
        #expect(try TrafficControl.run(.isolate, .egress, frame: answer).verdict == Self.ok)
    }

    @Test func anInstanceCannotSpoofTheDNSServerToReachAnotherOrganization() throws {
        let spoofed = Self.frame(from: "fdaa::3", to: "fdaa:0:2:0:a:0:3:1")
        #expect(try TrafficControl.run(.isolate, .ingress, frame: spoofed).verdict == Self.shot)
    }

    @Test func isolateIgnoresNonSixPNTraffic() throws {
        let f = Self.frame(from: "fe80::1", to: "fdaa:0:2:0:a:0:3:1")
        #expect(try TrafficControl.run(.isolate, .ingress, frame: f).verdict == Self.ok)
    }
}
