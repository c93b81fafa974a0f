import DNSWire
import Glibc
import Sockets
import Testing
@testable import Forwarder

@Suite struct ResolvConfTests {
    let text = """
        # generated
        search example.internal
        nameserver 192.0.2.1
        nameserver   2001:db8::2 # trailing comment
        ; nameserver 192.0.2.99
        nameserver fdaa::3
        nameserver not-an-address
        options edns0
        nameserver 127.0.0.1
        """

    @Test func readsNameserverLinesInOrder() {
        #expect(ResolvConf.nameservers(text: text).map(\.description) ==
                ["192.0.2.1:53", "[2001:db8::2]:53", "[fdaa::3]:53", "127.0.0.1:53"])
    }

    @Test func upstreamsLeaveOutSixpnsOwnListenAddresses() throws {
        let path = "/tmp/sixpn-resolvconf-test-\(getpid())"
        let f = fopen(path, "w")!
        fputs(text, f)
        fclose(f)
        defer { unlink(path) }
        let listen = [try SocketAddress("[fdaa::3]:53"), try SocketAddress("0.0.0.0:53")]
        #expect(try ResolvConf.upstreams(path: path, excluding: listen).map(\.description) ==
                ["192.0.2.1:53", "[2001:db8::2]:53"])
    }

    @Test func aWildcardListenAddressLeavesOutEveryAddressOfThisHost() throws {
        let own = try #require(try Syscalls.interfaceAddresses(family: AF_INET, port: 53).first { !$0.isLoopback },
                               "this host has an IPv4 address besides loopback")
        let path = "/tmp/sixpn-resolvconf-own-\(getpid())"
        let f = fopen(path, "w")!
        fputs("nameserver \(own.hostDescription)\nnameserver 192.0.2.1\n", f)
        fclose(f)
        defer { unlink(path) }
        #expect(try ResolvConf.upstreams(path: path, excluding: [try SocketAddress("0.0.0.0:53")]).map(\.description)
                == ["192.0.2.1:53"], "\(own) is this host's: the wildcard stands for it")
        #expect(try ResolvConf.upstreams(path: path, excluding: [try SocketAddress("0.0.0.0:5353")]).count == 2,
                "another port is another server")
    }

    @Test func aMissingFileSaysWhich() {
        #expect(throws: ResolvConfError.self) { try ResolvConf.nameservers(path: "/nonexistent/resolv.conf") }
    }
}
