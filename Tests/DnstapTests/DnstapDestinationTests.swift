import Dnstap
import Sockets
import Testing

@Suite struct DnstapDestinationTests {
    @Test func unixAndTCPDestinationsParse() throws {
        #expect(try DnstapDestination("unix:/run/dnstap.sock") == .unix(path: "/run/dnstap.sock"))
        #expect(try DnstapDestination("tcp:127.0.0.1:6000") == .tcp(.ipv4(127, 0, 0, 1, port: 6000)))
        #expect(try DnstapDestination("tcp:[::1]:6000") == .tcp(SocketAddress("[::1]:6000")))
    }

    @Test(arguments: [
        ("file:/tmp/x", "expected unix:PATH or tcp:ADDR:PORT"),
        ("unix:", "no socket path"),
        ("tcp:127.0.0.1", "needs ADDR:PORT"),
        ("tcp:[::1]", "needs ADDR:PORT"),
        ("tcp:nowhere:53", "not an IPv4 or IPv6 address"),
        ("unix:/" + String(repeating: "a", count: 120), "107 octets at most"),
    ])
    func aBadValueIsOneLineSayingWhat(text: String, reason: String) {
        #expect {
            try DnstapDestination(text)
        } throws: { error in
            let line = "\(error)"
            return line.contains(reason) && line.contains(text) && !line.contains("\n")
        }
    }
}
