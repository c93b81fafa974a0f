#if canImport(Glibc)
import Glibc
#endif
import CSocketBatch
import Forwarder

/// A failed system call: which call, on what, and the errno it returned.
public struct Errno: Error, Hashable, Sendable, CustomStringConvertible {
    public let call: String
    public let code: Int32

    @usableFromInline
    init(_ call: String, _ code: Int32 = errno) {
        self.call = call
        self.code = code
    }

    public static let addressInUse = EADDRINUSE
    public static let addressNotAvailable = EADDRNOTAVAIL
    public static let permissionDenied = EACCES

    /// The C library's text for the code.
    public var reason: String { String(cString: strerror(code)) }
    public var description: String { "\(call): \(reason)" }
}

/// The system calls the server makes, each wrapped once: a typed ``Errno``
/// instead of -1, and the transient results (EAGAIN, EINTR, a receive
/// timeout) turned into "nothing yet" rather than errors, so callers above
/// this file never look at `errno`.
enum Syscalls {
    /// A datagram or stream socket for `family`, close-on-exec.
    static func socket(family: Int32, stream: Bool) throws(Errno) -> Int32 {
        let type = Int32(stream ? SOCK_STREAM.rawValue : SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue)
        let fd = Glibc.socket(family, type, 0)
        guard fd >= 0 else { throw Errno("socket") }
        return fd
    }

    static func setOption(_ fd: Int32, _ level: Int32, _ name: Int32, _ value: Int32) throws(Errno) {
        var v = value
        guard setsockopt(fd, level, name, &v, socklen_t(MemoryLayout<Int32>.size)) == 0 else {
            throw Errno("setsockopt")
        }
    }

    /// Makes blocking receives (and accept) return after `milliseconds`,
    /// so that a blocked thread notices shutdown.
    static func setReceiveTimeout(_ fd: Int32, milliseconds: Int) throws(Errno) {
        var tv = timeval(tv_sec: milliseconds / 1000, tv_usec: (milliseconds % 1000) * 1000)
        guard setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size)) == 0 else {
            throw Errno("setsockopt(SO_RCVTIMEO)")
        }
    }

    static func setNonBlocking(_ fd: Int32) throws(Errno) {
        let flags = fcntl(fd, F_GETFL)
        guard flags >= 0, fcntl(fd, F_SETFL, flags | O_NONBLOCK) == 0 else { throw Errno("fcntl(O_NONBLOCK)") }
    }

    static func bind(_ fd: Int32, _ address: SocketAddress) throws(Errno) {
        let rc = address.withSockAddr { Glibc.bind(fd, $0, $1) }
        guard rc == 0 else { throw Errno("bind") }
    }

    static func listen(_ fd: Int32, backlog: Int32) throws(Errno) {
        guard Glibc.listen(fd, backlog) == 0 else { throw Errno("listen") }
    }

    /// The port a socket was bound to (for port 0 in tests).
    static func localPort(_ fd: Int32) throws(Errno) -> UInt16 {
        var s = sockaddr_storage()
        var len = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let rc = withUnsafeMutablePointer(to: &s) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
        }
        guard rc == 0, let a = SocketAddress(storage: s) else { throw Errno("getsockname") }
        return a.port
    }

    /// A new connection, non-blocking, with its peer's address; nil when none is waiting.
    static func accept(_ fd: Int32) throws(Errno) -> (fd: Int32, peer: sockaddr_storage)? {
        var s = sockaddr_storage()
        var len = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let c = withUnsafeMutablePointer(to: &s) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.accept(fd, $0, &len) }
        }
        if c >= 0 {
            do throws(Errno) { try setNonBlocking(c) } catch { Glibc.close(c); throw error }
            _ = fcntl(c, F_SETFD, FD_CLOEXEC)
            return (c, s)
        }
        switch errno {
        case EAGAIN, EWOULDBLOCK, EINTR, ECONNABORTED: return nil
        default: throw Errno("accept")
        }
    }

    /// Receives up to `count` datagrams into the prepared headers.
    /// With `wait`, blocks for the first (up to the socket's receive timeout)
    /// and takes whatever else is already queued. 0 when nothing came.
    @inline(__always)
    static func receiveBatch(_ fd: Int32, _ headers: UnsafeMutablePointer<sixpn_mmsghdr>, count: Int,
                             wait: Bool) throws(Errno) -> Int {
        let flags = wait ? Int32(MSG_WAITFORONE) : Int32(MSG_DONTWAIT)
        let n = sixpn_recvmmsg(fd, headers, UInt32(count), flags, nil)
        if n >= 0 { return Int(n) }
        switch errno {
        case EAGAIN, EWOULDBLOCK, EINTR: return 0
        default: throw Errno("recvmmsg")
        }
    }

    /// Sends `count` prepared datagrams; returns how many went (at least 1
    /// unless it throws). A datagram the kernel refuses outright is reported
    /// as an error for the caller to skip.
    @inline(__always)
    static func sendBatch(_ fd: Int32, _ headers: UnsafeMutablePointer<sixpn_mmsghdr>, count: Int) throws(Errno) -> Int {
        while true {
            let n = sixpn_sendmmsg(fd, headers, UInt32(count), 0)
            if n > 0 { return Int(n) }
            if n < 0, errno == EINTR { continue }
            throw Errno("sendmmsg")
        }
    }

    /// One datagram to `address` (the forwarded slow path).
    static func sendTo(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, address: sockaddr_storage,
                       length: socklen_t) throws(Errno) {
        var a = address
        let rc = withUnsafePointer(to: &a) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.sendto(fd, bytes.baseAddress, bytes.count, Int32(MSG_DONTWAIT), $0, length)
            }
        }
        guard rc >= 0 else { throw Errno("sendto") }
    }

    /// Reads what is there; nil when nothing is (EAGAIN), 0 at end of stream.
    static func read(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer) throws(Errno) -> Int? {
        let n = Glibc.read(fd, buffer.baseAddress, buffer.count)
        if n >= 0 { return n }
        switch errno {
        case EAGAIN, EWOULDBLOCK, EINTR: return nil
        default: throw Errno("read")
        }
    }

    /// Writes what the socket takes; 0 when it takes nothing now.
    static func write(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) throws(Errno) -> Int {
        let n = Glibc.send(fd, bytes.baseAddress, bytes.count, Int32(MSG_NOSIGNAL))
        if n >= 0 { return n }
        switch errno {
        case EAGAIN, EWOULDBLOCK, EINTR: return 0
        default: throw Errno("send")
        }
    }

    /// Waits up to `milliseconds` for events on `fds`; 0 on timeout or a signal.
    static func poll(_ fds: UnsafeMutablePointer<pollfd>, count: Int, milliseconds: Int32) throws(Errno) -> Int {
        let n = Glibc.poll(fds, nfds_t(count), milliseconds)
        if n >= 0 { return Int(n) }
        if errno == EINTR { return 0 }
        throw Errno("poll")
    }

    /// A non-blocking pipe for waking a poll loop from another thread.
    static func wakePipe() throws(Errno) -> (read: Int32, write: Int32) {
        var fds: (Int32, Int32) = (-1, -1)
        let rc = withUnsafeMutableBytes(of: &fds) { pipe($0.baseAddress!.assumingMemoryBound(to: Int32.self)) }
        guard rc == 0 else { throw Errno("pipe") }
        for fd in [fds.0, fds.1] {
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            try setNonBlocking(fd)
        }
        return fds
    }

    static func wake(_ pipeWrite: Int32) {
        var one: UInt8 = 1
        _ = Glibc.write(pipeWrite, &one, 1)
    }

    static func drainWakePipe(_ pipeRead: Int32) {
        var scratch: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
        while withUnsafeMutableBytes(of: &scratch, { Glibc.read(pipeRead, $0.baseAddress, $0.count) }) > 0 {}
    }

    static func close(_ fd: Int32) {
        _ = Glibc.close(fd)
    }

    /// Stops reads and writes on a socket: wakes a thread blocked on it.
    static func shutdown(_ fd: Int32) {
        _ = Glibc.shutdown(fd, Int32(SHUT_RDWR))
    }
}
