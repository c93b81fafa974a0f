import Glibc
import Sockets
import Testing

@Suite struct InterfacesTests {
    @Test func theHostsIPv4AddressesIncludeLoopbackWithThePortAsked() throws {
        let found = try Syscalls.interfaceAddresses(family: AF_INET, port: 5353)
        #expect(found.contains(.ipv4(127, 0, 0, 1, port: 5353)))
        #expect(found.allSatisfy { $0.family == AF_INET && $0.port == 5353 && !$0.isUnspecified })
        #expect(Set(found).count == found.count, "each address once")
    }

    @Test func ipv6AddressesAreOnlyIPv6() throws {
        let found = try Syscalls.interfaceAddresses(family: AF_INET6, port: 53)
        #expect(found.allSatisfy { $0.family == AF_INET6 && $0.port == 53 && !$0.isUnspecified })
    }
}
