#if canImport(Glibc)
import Glibc
#endif
import Sockets

/// A minimal HTTP/1.1 responder for Prometheus: `GET /metrics` gets the
/// metrics in the text exposition format, anything else 404 or 405; one
/// request per connection. It runs on its own thread and serves scrapers,
/// not the public, so it handles one connection at a time with short timeouts.
final class MetricsEndpoint: @unchecked Sendable {
    let listener: Int32
    /// The response body of `GET /metrics`.
    let exposition: @Sendable () -> String
    let state: ServerState

    /// Binds and listens on `address` (errors are start-up errors).
    init(address: SocketAddress, exposition: @escaping @Sendable () -> String, state: ServerState) throws(Errno) {
        let fd = try Syscalls.socket(family: address.family, stream: true, nonBlocking: false)
        do {
            try Syscalls.setOption(fd, SOL_SOCKET, SO_REUSEADDR, 1)
            try Syscalls.bind(fd, address)
            try Syscalls.listen(fd, backlog: 16)
            try Syscalls.setNonBlocking(fd)
        } catch {
            Syscalls.close(fd)
            throw error
        }
        self.listener = fd
        self.exposition = exposition
        self.state = state
    }

    func run() {
        var fds = [pollfd(fd: listener, events: Int16(POLLIN), revents: 0)]
        while !state.stopping.load(ordering: .relaxed) {
            guard let n = try? Syscalls.poll(&fds, count: 1, milliseconds: 250), n > 0 else { continue }
            while let accepted = try? Syscalls.accept(listener) {
                serve(accepted.fd)
                Syscalls.close(accepted.fd)
            }
        }
        Syscalls.close(listener)
    }

    private func serve(_ fd: Int32) {
        var request: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 2048)
        var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        let deadline = monotonicNanoseconds() + 2_000_000_000
        // Read up to the end of the request head (or 8 KiB, or 2 s).
        while request.count < 8192, !request.containsHeadEnd, monotonicNanoseconds() < deadline {
            guard let ready = try? Syscalls.poll(&pfd, count: 1, milliseconds: 200), ready > 0 else { continue }
            let got: Int?
            do { got = try chunk.withUnsafeMutableBytes { b throws(Errno) in try Syscalls.receive(fd, into: b) } } catch {
                return
            }
            guard let n = got else { continue }
            if n == 0 { break }
            request += chunk[0..<n]
        }
        let line = String(decoding: request.prefix { $0 != 13 && $0 != 10 }, as: UTF8.self)
        let parts = line.split(separator: " ")
        let response: String
        if parts.count == 3, parts[0] == "GET", parts[1] == "/metrics" || parts[1].hasPrefix("/metrics?") {
            let body = exposition()
            response = "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
                + "Content-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n" + body
        } else if parts.count == 3, parts[0] != "GET" {
            response = "HTTP/1.1 405 Method Not Allowed\r\nAllow: GET\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        } else {
            response = "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        }
        var bytes = Array(response.utf8)[...]
        while !bytes.isEmpty, monotonicNanoseconds() < deadline {
            let n = bytes.withUnsafeBytes { b in
                do throws(Errno) { return try Syscalls.send(fd, b) ?? 0 } catch { return -1 }
            }
            if n < 0 { return }
            if n == 0 {
                pfd.events = Int16(POLLOUT)
                _ = try? Syscalls.poll(&pfd, count: 1, milliseconds: 200)
                continue
            }
            bytes = bytes.dropFirst(n)
        }
    }
}

extension [UInt8] {
    fileprivate var containsHeadEnd: Bool {
        guard count >= 4 else { return false }
        for i in 0...(count - 4) where self[i] == 13 && self[i + 1] == 10 && self[i + 2] == 13 && self[i + 3] == 10 {
            return true
        }
        return false
    }
}
