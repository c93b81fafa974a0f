#if canImport(Glibc)
import Glibc
#endif
import CSocketBatch

/// Every socket, pipe and clock call that the Forwarder and the Server make,
/// each wrapped once: a typed ``Errno`` instead of -1, and the transient
/// results (EAGAIN, EINTR, a receive timeout) turned into "nothing yet"
/// (nil or 0) rather than errors, so callers never look at `errno` or rebind
/// a pointer. What runs per query is `@inlinable`, so that it costs across
/// modules what it cost inside one.
public enum Syscalls {
    // MARK: Sockets

    /// A close-on-exec datagram or stream socket for `family`; `nonBlocking`
    /// for the event loops that never wait in a call.
    public static func socket(family: Int32, stream: Bool, nonBlocking: Bool) throws(Errno) -> Int32 {
        var type = Int32(stream ? SOCK_STREAM.rawValue : SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue)
        if nonBlocking { type |= Int32(SOCK_NONBLOCK.rawValue) }
        let fd = Glibc.socket(family, type, 0)
        guard fd >= 0 else { throw Errno("socket") }
        return fd
    }

    public static func setOption(_ fd: Int32, _ level: Int32, _ name: Int32, _ value: Int32) throws(Errno) {
        var v = value
        guard setsockopt(fd, level, name, &v, socklen_t(MemoryLayout<Int32>.size)) == 0 else {
            throw Errno("setsockopt")
        }
    }

    /// Makes blocking receives (and accept) return after `milliseconds`,
    /// so that a blocked thread notices shutdown.
    public static func setReceiveTimeout(_ fd: Int32, milliseconds: Int) throws(Errno) {
        var tv = timeval(tv_sec: milliseconds / 1000, tv_usec: (milliseconds % 1000) * 1000)
        guard setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size)) == 0 else {
            throw Errno("setsockopt(SO_RCVTIMEO)")
        }
    }

    /// Makes blocking sends return after `milliseconds` (nil, as for a non-blocking socket), so that a
    /// thread writing to a peer that stopped reading notices shutdown.
    public static func setSendTimeout(_ fd: Int32, milliseconds: Int) throws(Errno) {
        var tv = timeval(tv_sec: milliseconds / 1000, tv_usec: (milliseconds % 1000) * 1000)
        guard setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size)) == 0 else {
            throw Errno("setsockopt(SO_SNDTIMEO)")
        }
    }

    public static func setNonBlocking(_ fd: Int32) throws(Errno) {
        let flags = fcntl(fd, F_GETFL)
        guard flags >= 0, fcntl(fd, F_SETFL, flags | O_NONBLOCK) == 0 else { throw Errno("fcntl(O_NONBLOCK)") }
    }

    public static func bind(_ fd: Int32, _ address: SocketAddress) throws(Errno) {
        guard address.withSockAddr({ Glibc.bind(fd, $0, $1) }) == 0 else { throw Errno("bind \(address)") }
    }

    /// Connects; on a non-blocking socket "in progress" is success (completion
    /// shows as writable, and ``pendingError(_:)`` says how it ended).
    public static func connect(_ fd: Int32, _ address: SocketAddress) throws(Errno) {
        let rc = address.withSockAddr { Glibc.connect(fd, $0, $1) }
        guard rc == 0 || errno == EINPROGRESS else { throw Errno("connect \(address)") }
    }

    /// Connects a blocking AF_UNIX stream socket to the socket file at `path`.
    public static func connect(_ fd: Int32, unixPath path: String) throws(Errno) {
        var a = sockaddr_un()
        a.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        let room = MemoryLayout.size(ofValue: a.sun_path)
        guard bytes.count < room else { throw Errno("connect \(path) (a path of \(room - 1) octets at most)", ENAMETOOLONG) }
        withUnsafeMutableBytes(of: &a.sun_path) { $0.copyBytes(from: bytes) }
        let rc = withUnsafePointer(to: &a) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard rc == 0 else { throw Errno("connect \(path)") }
    }

    public static func listen(_ fd: Int32, backlog: Int32) throws(Errno) {
        guard Glibc.listen(fd, backlog) == 0 else { throw Errno("listen") }
    }

    /// The address a socket is bound to (its port, for port 0 in tests).
    public static func localAddress(_ fd: Int32) throws(Errno) -> SocketAddress {
        var s = sockaddr_storage()
        var len = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let rc = withUnsafeMutablePointer(to: &s) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
        }
        guard rc == 0, let a = SocketAddress(storage: s) else { throw Errno("getsockname") }
        return a
    }

    /// The pending error of a socket (SO_ERROR): how a non-blocking connect ended.
    public static func pendingError(_ fd: Int32) -> Int32 {
        var value: Int32 = 0
        var len = socklen_t(MemoryLayout<Int32>.size)
        _ = getsockopt(fd, SOL_SOCKET, SO_ERROR, &value, &len)
        return value
    }

    /// A new connection, non-blocking and close-on-exec, with its peer's
    /// address; nil when none is waiting (or it was aborted before we took it).
    public static func accept(_ fd: Int32) throws(Errno) -> (fd: Int32, peer: sockaddr_storage)? {
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

    public static func close(_ fd: Int32) {
        _ = Glibc.close(fd)
    }

    /// Stops reads and writes on a socket: wakes a thread blocked on it.
    public static func shutdown(_ fd: Int32) {
        _ = Glibc.shutdown(fd, Int32(SHUT_RDWR))
    }

    // MARK: Streams and connected sockets

    /// Sends what the socket takes now (never SIGPIPE); nil when it takes nothing (it would block).
    public static func send(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) throws(Errno) -> Int? {
        let n = Glibc.send(fd, bytes.baseAddress, bytes.count, Int32(MSG_NOSIGNAL))
        if n >= 0 { return n }
        switch errno {
        case EAGAIN, EWOULDBLOCK, EINTR: return nil
        default: throw Errno("send")
        }
    }

    /// Receives what is there; nil when nothing is, 0 at end of stream.
    public static func receive(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer) throws(Errno) -> Int? {
        let n = recv(fd, buffer.baseAddress, buffer.count, 0)
        if n >= 0 { return n }
        switch errno {
        case EAGAIN, EWOULDBLOCK, EINTR: return nil
        default: throw Errno("recv")
        }
    }

    // MARK: Datagrams

    /// Receives one datagram and its sender; nil when nothing is there.
    public static func receiveFrom(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer) throws(Errno)
        -> (count: Int, from: SocketAddress)? {
        var s = sockaddr_storage()
        var len = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let n = withUnsafeMutablePointer(to: &s) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { recvfrom(fd, buffer.baseAddress, buffer.count, 0, $0, &len) }
        }
        if n >= 0, let from = SocketAddress(storage: s) { return (n, from) }
        if n < 0, errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR { return nil }
        throw Errno("recvfrom")
    }

    /// One datagram to `address`, without waiting (the forwarded slow path).
    @inlinable
    public static func sendTo(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, address: sockaddr_storage,
                              length: socklen_t) throws(Errno) {
        var a = address
        let rc = withUnsafePointer(to: &a) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.sendto(fd, bytes.baseAddress, bytes.count, Int32(MSG_DONTWAIT), $0, length)
            }
        }
        guard rc >= 0 else { throw Errno("sendto") }
    }

    /// Receives up to `count` datagrams into the prepared headers.
    /// With `wait`, blocks for the first (up to the socket's receive timeout)
    /// and takes whatever else is already queued. 0 when nothing came.
    @inlinable @inline(__always)
    public static func receiveBatch(_ fd: Int32, _ headers: UnsafeMutablePointer<sixpn_mmsghdr>, count: Int,
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
    @inlinable @inline(__always)
    public static func sendBatch(_ fd: Int32, _ headers: UnsafeMutablePointer<sixpn_mmsghdr>,
                                 count: Int) throws(Errno) -> Int {
        while true {
            let n = sixpn_sendmmsg(fd, headers, UInt32(count), 0)
            if n > 0 { return Int(n) }
            if n < 0, errno == EINTR { continue }
            throw Errno("sendmmsg")
        }
    }

    // MARK: Waiting

    /// Waits up to `milliseconds` for events on `fds` (their `revents` say
    /// what came); 0 on timeout or a signal.
    public static func poll(_ fds: UnsafeMutablePointer<pollfd>, count: Int, milliseconds: Int32) throws(Errno) -> Int {
        let n = Glibc.poll(fds, nfds_t(count), milliseconds)
        if n >= 0 { return Int(n) }
        if errno == EINTR { return 0 }
        throw Errno("poll")
    }

    /// A non-blocking, close-on-exec pipe: another thread's way to wake a poll loop.
    public static func wakePipe() throws(Errno) -> (read: Int32, write: Int32) {
        var fds: (Int32, Int32) = (-1, -1)
        let rc = withUnsafeMutableBytes(of: &fds) { pipe($0.baseAddress!.assumingMemoryBound(to: Int32.self)) }
        guard rc == 0 else { throw Errno("pipe") }
        for fd in [fds.0, fds.1] {
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            do throws(Errno) { try setNonBlocking(fd) } catch {
                Glibc.close(fds.0)
                Glibc.close(fds.1)
                throw error
            }
        }
        return fds
    }

    /// Wakes the reader of a wake pipe (a full pipe already will).
    public static func wake(_ pipeWrite: Int32) {
        var one: UInt8 = 1
        _ = Glibc.write(pipeWrite, &one, 1)
    }

    /// Empties a wake pipe, so that the next poll waits again.
    public static func drainWakePipe(_ pipeRead: Int32) {
        var scratch: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
        while withUnsafeMutableBytes(of: &scratch, { Glibc.read(pipeRead, $0.baseAddress, $0.count) }) > 0 {}
    }

    // MARK: Time

    /// Monotonic nanoseconds (a vDSO call: no system call, no allocation).
    @inlinable @inline(__always)
    public static func now() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Int64(ts.tv_sec) &* 1_000_000_000 &+ Int64(ts.tv_nsec)
    }

    /// The wall clock (CLOCK_REALTIME, a vDSO call): seconds and nanoseconds since the epoch.
    @inlinable @inline(__always)
    public static func wallClock() -> (seconds: Int64, nanoseconds: UInt32) {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return (Int64(ts.tv_sec), UInt32(truncatingIfNeeded: ts.tv_nsec))
    }

    /// Raises the soft open-file limit (RLIMIT_NOFILE) to the hard one and
    /// returns both as they were and as they are now.
    public static func raiseOpenFileLimit() throws(Errno) -> (before: Int, now: Int) {
        var limit = rlimit()
        guard getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit) == 0 else { throw Errno("getrlimit NOFILE") }
        let before = Int(clamping: limit.rlim_cur)
        if limit.rlim_cur < limit.rlim_max {
            limit.rlim_cur = limit.rlim_max
            guard setrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit) == 0 else {
                throw Errno("setrlimit NOFILE")
            }
        }
        return (before, Int(clamping: limit.rlim_cur))
    }
}
