import Glibc

/// The cross-platform WireGuard configuration protocol (UAPI) that userspace
/// implementations (wireguard-go, boringtun) serve on a Unix socket per device:
/// a request of `key=value` lines ending in an empty line, answered by
/// `key=value` lines ending in `errno=N` and an empty line.
/// See https://www.wireguard.com/xplatform/.
public enum UAPISocket {
    public static func path(device: String) -> String { "/var/run/wireguard/\(device).sock" }

    /// True when the device's UAPI socket exists.
    public static func exists(device: String) -> Bool {
        var st = stat()
        return stat(path(device: device), &st) == 0 && (st.st_mode & S_IFMT) == S_IFSOCK
    }

    /// Sends one request (`get=1` or `set=1` and its lines) and returns the
    /// reply's lines before `errno=`; throws when errno is not 0.
    static func exchange(device: String, request: [String]) throws(WireGuardError) -> [(key: Substring, value: Substring)] {
        let path = path(device: device)
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw .system(device: device, operation: "socket", errno: errno) }
        defer { close(fd) }

        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        let pathBytes = Array(path.utf8)
        guard pathBytes.count < MemoryLayout.size(ofValue: addr.sun_path) else {
            throw .system(device: device, operation: "connect \(path)", errno: ENAMETOOLONG)
        }
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in
            raw.copyBytes(from: pathBytes)
            raw[pathBytes.count] = 0
        }
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard rc == 0 else { throw .system(device: device, operation: "connect \(path)", errno: errno) }

        // A reply never waits long; do not hang on a stuck daemon.
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))

        let text = Array((request.joined(separator: "\n") + "\n\n").utf8)
        var sent = 0
        while sent < text.count {
            let n = text[sent...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { throw .system(device: device, operation: "write \(path)", errno: errno) }
            sent += n
        }

        var reply = [UInt8]()
        var buffer = [UInt8](repeating: 0, count: 4096)
        while !reply.ends(with: [10, 10]) {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n == 0 { break }
            guard n > 0 else { throw .system(device: device, operation: "read \(path)", errno: errno) }
            reply += buffer[..<n]
        }
        return try parseReply(reply, device: device)
    }

    /// Splits a reply into its lines and checks its final `errno=`.
    static func parseReply(_ reply: [UInt8], device: String) throws(WireGuardError) -> [(key: Substring, value: Substring)] {
        let text = String(decoding: reply, as: UTF8.self)
        var lines: [(key: Substring, value: Substring)] = []
        for line in text.split(separator: "\n") {
            guard let eq = line.firstIndex(of: "=") else {
                throw .protocolError(device: device, reason: "reply line without '=': \(line)")
            }
            let key = line[..<eq], value = line[line.index(after: eq)...]
            if key == "errno" {
                guard value == "0" else {
                    throw .rejected(device: device, errno: Int32(value) ?? -1)
                }
                return lines
            }
            lines.append((key, value))
        }
        throw .protocolError(device: device, reason: "reply ended without errno=")
    }
}

extension Array where Element == UInt8 {
    fileprivate func ends(with suffix: [UInt8]) -> Bool {
        count >= suffix.count && self[(count - suffix.count)...].elementsEqual(suffix)
    }
}
