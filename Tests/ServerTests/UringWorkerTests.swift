#if canImport(Glibc)
import Glibc
#endif
import Sockets
import Testing
@_spi(Benchmark) @testable import Server

/// Binds a plain UDP socket (no SO_REUSEPORT) on 127.0.0.1:`port`; the errno when it cannot.
private func bindPlain(port: UInt16) -> Int32 {
    let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
    defer { close(fd) }
    var sin = sockaddr_in()
    sin.sin_family = sa_family_t(AF_INET)
    sin.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
    sin.sin_port = port.bigEndian
    let rc = withUnsafePointer(to: &sin) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    return rc == 0 ? 0 : errno
}

/// A stopped io_uring worker lets go of its socket at once: the port is free
/// for a socket without SO_REUSEPORT. (Left to the ring's own teardown, which
/// runs later in the kernel, the socket stayed bound, and a new SO_REUSEPORT
/// socket could share the port with it and lose datagrams to it.)
@Test func aStoppedUringWorkerFreesItsPortAtOnce() throws {
    guard UringSupport.probe().usable else {
        Issue.record("this kernel has no usable io_uring: \(UringSupport.probe())")
        return
    }
    let (zone, path) = try testZone()
    defer { removeDatabase(path) }
    for _ in 0..<20 {
        var port: UInt16 = 0
        do {
            let harness = try WorkerHarness(address: .ipv4(127, 0, 0, 1, port: 0), zone: zone, forwarder: nil,
                                            developmentNetwork: 0xa, io: .uring)
            port = harness.port
            #expect(bindPlain(port: port) == EADDRINUSE, "bound while the worker holds it")
        }
        #expect(bindPlain(port: port) == 0, "port \(port) is free once the worker is gone")
    }
}
