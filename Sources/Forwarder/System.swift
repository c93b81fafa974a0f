#if canImport(Glibc)
import Glibc
#endif

/// A failed system call: which call and the errno it returned.
struct SystemCallError: Error, Hashable, Sendable, CustomStringConvertible {
    let call: String
    let code: Int32

    init(_ call: String, _ code: Int32 = errno) {
        self.call = call
        self.code = code
    }

    var description: String { "\(call): \(String(cString: strerror(code)))" }
}

/// Every Glibc call the Forwarder makes, each wrapped once: a typed error
/// instead of -1, and "nothing yet" (EAGAIN, EINTR) as nil rather than an
/// error, so the code above never looks at `errno` or rebinds a pointer.
enum System {
    // MARK: Sockets

    /// A non-blocking, close-on-exec UDP or TCP socket for `family`.
    static func socket(family: Int32, stream: Bool) throws(SystemCallError) -> Int32 {
        let type = Int32(stream ? SOCK_STREAM.rawValue : SOCK_DGRAM.rawValue)
            | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue)
        let fd = Glibc.socket(family, type, 0)
        guard fd >= 0 else { throw SystemCallError("socket") }
        return fd
    }

    static func bind(_ fd: Int32, _ address: SocketAddress) throws(SystemCallError) {
        guard address.withSockAddr({ Glibc.bind(fd, $0, $1) }) == 0 else { throw SystemCallError("bind \(address)") }
    }

    /// Connects; for TCP "in progress" is success (completion shows as writable).
    static func connect(_ fd: Int32, _ address: SocketAddress) throws(SystemCallError) {
        let rc = address.withSockAddr { Glibc.connect(fd, $0, $1) }
        guard rc == 0 || errno == EINPROGRESS else { throw SystemCallError("connect \(address)") }
    }

    /// The address a socket is bound to.
    static func localAddress(_ fd: Int32) throws(SystemCallError) -> SocketAddress {
        var s = sockaddr_storage()
        var len = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let rc = withUnsafeMutablePointer(to: &s) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
        }
        guard rc == 0, let a = SocketAddress(storage: s) else { throw SystemCallError("getsockname") }
        return a
    }

    /// The pending error of a socket (SO_ERROR): how a non-blocking connect ended.
    static func pendingError(_ fd: Int32) -> Int32 {
        var value: Int32 = 0
        var len = socklen_t(MemoryLayout<Int32>.size)
        _ = getsockopt(fd, SOL_SOCKET, SO_ERROR, &value, &len)
        return value
    }

    /// Sends on a connected socket; nil when it would block.
    static func send(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) throws(SystemCallError) -> Int? {
        let n = Glibc.send(fd, bytes.baseAddress, bytes.count, Int32(MSG_NOSIGNAL))
        if n >= 0 { return n }
        if errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR { return nil }
        throw SystemCallError("send")
    }

    /// Receives from a connected socket; nil when nothing is there, 0 at end of stream.
    static func receive(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer) throws(SystemCallError) -> Int? {
        let n = recv(fd, buffer.baseAddress, buffer.count, 0)
        if n >= 0 { return n }
        if errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR { return nil }
        throw SystemCallError("recv")
    }

    /// Receives one datagram and its sender; nil when nothing is there.
    static func receiveFrom(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer) throws(SystemCallError)
        -> (count: Int, from: SocketAddress)? {
        var s = sockaddr_storage()
        var len = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let n = withUnsafeMutablePointer(to: &s) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { recvfrom(fd, buffer.baseAddress, buffer.count, 0, $0, &len) }
        }
        if n >= 0, let from = SocketAddress(storage: s) { return (n, from) }
        if n < 0, errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR { return nil }
        throw SystemCallError("recvfrom")
    }

    /// Sends one datagram to `address`.
    static func send(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, to address: SocketAddress) throws(SystemCallError) {
        let n = address.withSockAddr { sendto(fd, bytes.baseAddress, bytes.count, Int32(MSG_NOSIGNAL), $0, $1) }
        guard n >= 0 else { throw SystemCallError("sendto \(address)") }
    }

    /// Listens for TCP connections.
    static func listen(_ fd: Int32) throws(SystemCallError) {
        guard Glibc.listen(fd, 64) == 0 else { throw SystemCallError("listen") }
    }

    /// A new connection (made non-blocking); nil when none is waiting.
    static func accept(_ fd: Int32) throws(SystemCallError) -> Int32? {
        let c = Glibc.accept(fd, nil, nil)
        if c >= 0 {
            _ = fcntl(c, F_SETFL, fcntl(c, F_GETFL) | O_NONBLOCK)
            return c
        }
        if errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR { return nil }
        throw SystemCallError("accept")
    }

    static func close(_ fd: Int32) {
        _ = Glibc.close(fd)
    }

    // MARK: Waiting

    /// Waits up to `milliseconds` for the events asked for in `fds` (their `revents` say what came).
    static func poll(_ fds: inout [pollfd], milliseconds: Int32) {
        _ = fds.withUnsafeMutableBufferPointer { Glibc.poll($0.baseAddress, nfds_t($0.count), milliseconds) }
    }

    /// A non-blocking pipe: another thread's way to wake the loop.
    static func pipe() throws(SystemCallError) -> (read: Int32, write: Int32) {
        var fds: [Int32] = [0, 0]
        guard Glibc.pipe(&fds) == 0 else { throw SystemCallError("pipe") }
        for fd in fds {
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        }
        return (fds[0], fds[1])
    }

    /// Wakes the reader of a pipe (a full pipe already will).
    static func signal(pipe fd: Int32) {
        var one: UInt8 = 1
        _ = Glibc.write(fd, &one, 1)
    }

    static func drain(pipe fd: Int32) {
        var buffer: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
        while withUnsafeMutableBytes(of: &buffer, { Glibc.read(fd, $0.baseAddress, $0.count) }) > 0 {}
    }

    // MARK: Time, CPUs, threads

    /// Monotonic nanoseconds (a vDSO call: no syscall, no allocation).
    @inline(__always)
    static func now() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
    }

    /// A small number that differs between threads, for spreading shared
    /// counters over cache lines (sched_getcpu is not in Swift's Glibc).
    @inline(__always)
    static func threadSpread() -> UInt {
        (UInt(pthread_self()) >> 12) &* 0x9E37_79B9_7F4A_7C15
    }

    /// Starts a joinable thread running `body`.
    static func startThread(_ body: @escaping @Sendable () -> Void) throws(SystemCallError) -> pthread_t {
        final class Box: @unchecked Sendable {
            let body: @Sendable () -> Void
            init(_ body: @escaping @Sendable () -> Void) { self.body = body }
        }
        let box = Unmanaged.passRetained(Box(body)).toOpaque()
        var thread = pthread_t()
        let rc = pthread_create(&thread, nil, { arg in
            let box = Unmanaged<Box>.fromOpaque(arg!).takeRetainedValue()
            box.body()
            return nil
        }, box)
        guard rc == 0 else {
            Unmanaged<Box>.fromOpaque(box).release()
            throw SystemCallError("pthread_create", rc)
        }
        return thread
    }

    static func join(_ thread: pthread_t) {
        _ = pthread_join(thread, nil)
    }
}
