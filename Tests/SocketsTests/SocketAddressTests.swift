import DNSWire
import Glibc
import Sockets
import Testing

@Suite struct SocketAddressTests {
    @Test func parsesIPv4WithPort() throws {
        let a = try SocketAddress("127.0.0.1:5353")
        #expect(a == .ipv4(127, 0, 0, 1, port: 5353))
        #expect(a.description == "127.0.0.1:5353")
        #expect(a.family == AF_INET)
    }

    @Test func bareAddressesTakeTheDefaultPort() throws {
        #expect(try SocketAddress("10.0.0.1", defaultPort: 53) == .ipv4(10, 0, 0, 1, port: 53))
        #expect(try SocketAddress("fdaa::3", defaultPort: 53) == .ipv6(IPv6Address("fdaa::3")!, port: 53))
        #expect(try SocketAddress("[fdaa::3]") == .ipv6(IPv6Address("fdaa::3")!, port: 53))
    }

    @Test func parsesBracketedIPv6WithPort() throws {
        let a = try SocketAddress("[2001:DB8::1]:853")
        #expect(a == .ipv6(IPv6Address("2001:db8::1")!, port: 853))
        #expect(a.description == "[2001:db8::1]:853")
    }

    @Test func parsesANumericScope() throws {
        let a = try SocketAddress("[fe80::1%7]:53")
        #expect(a.host == .v6(IPv6Address("fe80::1")!, scopeID: 7))
        #expect(a.description == "[fe80::1%7]:53")
    }

    @Test(arguments: ["", "1.2.3.4:", "1.2.3.4:0", "1.2.3.4:65536", "1.2.3.4:x", "[::1", "[::1]x", "[1.2.3.4]:53",
                      "01.2.3.4", "1.2.3", "::1:53x", "example.com:53", "[fe80::1%nosuchif0]:53"])
    func rejectsBadText(_ text: String) {
        #expect(throws: SocketAddressError.self) { try SocketAddress(text) }
    }

    @Test func roundTripsThroughSockaddrStorage() throws {
        for text in ["192.0.2.7:53", "[2001:db8::53]:5300", "[fe80::1%3]:53"] {
            let a = try SocketAddress(text)
            let (storage, length) = a.storage
            #expect(SocketAddress(storage: storage) == a)
            #expect(Int(length) == (a.family == AF_INET ? MemoryLayout<sockaddr_in>.size : MemoryLayout<sockaddr_in6>.size))
        }
    }

    @Test func sockaddrFieldsAreInNetworkOrder() throws {
        let sin = try SocketAddress("127.0.0.1:53").sockaddrIn!
        #expect(sin.sin_port == UInt16(53).bigEndian)
        #expect(sin.sin_addr.s_addr == UInt32(0x7f00_0001).bigEndian)
    }

    @Test func knowsLoopbackAndUnspecified() throws {
        #expect(try SocketAddress("127.0.0.53").isLoopback)
        #expect(try SocketAddress("::1").isLoopback)
        #expect(try SocketAddress("[::]:53").isUnspecified)
        #expect(try SocketAddress("0.0.0.0:53").isUnspecified)
        #expect(try !SocketAddress("fdaa::3").isLoopback)
    }
}
