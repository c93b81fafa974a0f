#if canImport(Glibc)
import Glibc
#endif
import DNSWire
import Testing
import ZoneEngine
@testable import Server

/// A sockaddr_storage holding an IPv6 source address.
func ipv6Source(_ text: String, port: UInt16 = 40000) -> sockaddr_storage {
    var s = sockaddr_storage()
    withUnsafeMutableBytes(of: &s) { raw in
        var sin6 = sockaddr_in6()
        sin6.sin6_family = sa_family_t(AF_INET6)
        sin6.sin6_port = port.bigEndian
        IPv6Address(text)!.withBytes { b in withUnsafeMutableBytes(of: &sin6.sin6_addr) { $0.copyMemory(from: b) } }
        withUnsafeBytes(of: &sin6) { raw.copyMemory(from: $0) }
    }
    return s
}

/// A sockaddr_storage holding an IPv4 source address.
func ipv4Source(_ a: UInt8, _ b: UInt8, _ c: UInt8, _ d: UInt8) -> sockaddr_storage {
    var s = sockaddr_storage()
    withUnsafeMutableBytes(of: &s) { raw in
        var sin = sockaddr_in()
        sin.sin_family = sa_family_t(AF_INET)
        sin.sin_port = UInt16(53).bigEndian
        sin.sin_addr.s_addr = (UInt32(a) << 24 | UInt32(b) << 16 | UInt32(c) << 8 | UInt32(d)).bigEndian
        withUnsafeBytes(of: &sin) { raw.copyMemory(from: $0) }
    }
    return s
}

@Test func sixPNSourceGivesItsNetworkHostAndInstance() {
    let address = SixPNAddress(network: 0x1234_5678, host: 0x9abc_def0, instance: 7, low: 2)
    let origin = ClientTrust().origin(of: ipv6Source(address.description))
    #expect(origin == ClientOrigin(network: 0x1234_5678, host: 0x9abc_def0, instance: 7))
}

@Test func benchClientIsOrganizationOne() {
    #expect(ClientTrust().origin(of: ipv6Source("fdaa:0:1:0:1:0:1:2")) == ClientOrigin(network: 1, host: 1, instance: 1))
}

@Test func sourcesOutsideSixPNAreUntrusted() {
    let trust = ClientTrust()
    for text in ["fd00::1", "fdab::1", "2001:db8::1", "::1", "fe80::1", "::ffff:10.0.0.1"] {
        #expect(trust.origin(of: ipv6Source(text)) == nil, "\(text)")
    }
    #expect(trust.origin(of: ipv4Source(127, 0, 0, 1)) == nil)
    #expect(trust.origin(of: ipv4Source(10, 1, 2, 3)) == nil)
}

@Test func devOrgMapsLoopbackOnly() {
    let trust = ClientTrust(developmentNetwork: 42)
    let expected = ClientOrigin(network: 42, host: 0)
    #expect(trust.origin(of: ipv6Source("::1")) == expected)
    #expect(trust.origin(of: ipv6Source("::ffff:127.0.0.1")) == expected)
    #expect(trust.origin(of: ipv4Source(127, 0, 0, 1)) == expected)
    #expect(trust.origin(of: ipv4Source(127, 9, 9, 9)) == expected)
    #expect(trust.origin(of: ipv4Source(192, 168, 1, 1)) == nil)
    #expect(trust.origin(of: ipv6Source("::2")) == nil)
    #expect(trust.origin(of: ipv6Source("fd00::1")) == nil)
    // A real 6PN source keeps its own organization even in development.
    #expect(trust.origin(of: ipv6Source("fdaa:0:7:0:3::1")) == ClientOrigin(network: 7, host: 3))
}
