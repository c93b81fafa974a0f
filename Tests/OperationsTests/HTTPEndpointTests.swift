#if canImport(Glibc)
import Glibc
#endif
import Operations
import Sockets
import Testing

/// The HTTP listener on loopback: what the responder says goes out as HTTP/1.1 (status line,
/// Content-Length, the body), one response per connection; a port in use is an Errno.
@Suite struct HTTPEndpointTests {
    static let respond: HTTPEndpoint.Responder = { method, uri in
        switch (method, uri) {
        case ("GET", "/ready"): (200, "text/plain; charset=utf-8", "OK\n")
        case ("GET", "/health"): (503, "text/plain; charset=utf-8", "shutting down\n")
        case ("GET", _): (404, "text/plain; charset=utf-8", "not found \(uri)\n")
        default: (405, "text/plain; charset=utf-8", "only GET\n")
        }
    }

    @Test func repliesOverHTTP() throws {
        let server = try HTTPEndpoint(host: "127.0.0.1", port: 0, respond: Self.respond)
        defer { server.close() }
        let ready = try request("GET /ready HTTP/1.1\r\nHost: localhost\r\n\r\n", port: server.port)
        #expect(ready.hasPrefix("HTTP/1.1 200 OK\r\n"))
        #expect(ready.lowercased().contains("\r\ncontent-length: 3\r\n"))
        #expect(ready.lowercased().contains("\r\nconnection: close\r\n"))
        #expect(ready.hasSuffix("\r\n\r\nOK\n"))
        #expect(try request("GET /health HTTP/1.1\r\nHost: x\r\n\r\n", port: server.port)
                    .hasPrefix("HTTP/1.1 503 Service Unavailable\r\n"))
        #expect(try request("GET /x?y=1 HTTP/1.0\r\n\r\n", port: server.port).hasSuffix("\r\n\r\nnot found /x?y=1\n"))
        let delete = try request("DELETE /health HTTP/1.1\r\nHost: x\r\n\r\n", port: server.port)
        #expect(delete.hasPrefix("HTTP/1.1 405 Method Not Allowed\r\n"))
        #expect(delete.lowercased().contains("\r\nallow: get\r\n"))
    }

    @Test func portInUseIsAnErrno() throws {
        let first = try HTTPEndpoint(host: "127.0.0.1", port: 0, respond: Self.respond)
        defer { first.close() }
        do {
            let second = try HTTPEndpoint(host: "127.0.0.1", port: first.port, respond: Self.respond)
            second.close()
            Issue.record("a second listener on port \(first.port) was bound")
        } catch {
            #expect(error.code == EADDRINUSE)
            #expect(error.description == "bind 127.0.0.1:\(first.port): Address already in use")
        }
    }

    /// Writes `text` on a new connection and reads until the server closes it.
    func request(_ text: String, port: Int) throws -> String {
        let fd = try Syscalls.socket(family: AF_INET, stream: true, nonBlocking: false)
        defer { Syscalls.close(fd) }
        try Syscalls.setReceiveTimeout(fd, milliseconds: 5000)
        try Syscalls.connect(fd, .ipv4(127, 0, 0, 1, port: UInt16(port)))
        let bytes = Array(text.utf8)
        _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        var reply: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n <= 0 { break }
            reply += chunk[0..<n]
        }
        return String(decoding: reply, as: UTF8.self)
    }
}
