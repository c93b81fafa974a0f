import DNSWire
import Glibc

/// A one-shot upstream on 127.0.0.1: answers the first query it gets with
/// three AAAA records (TTL 3600), so that the cache holds a real upstream answer.
public func answerOneQuery(on fd: Int32) {
    var buffer = [UInt8](repeating: 0, count: 4096)
    var from = sockaddr_storage()
    var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
    var n: Int
    repeat {
        n = withUnsafeMutablePointer(to: &from) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { recvfrom(fd, &buffer, buffer.count, 0, $0, &length) }
        }
    } while n < 0 && errno == EINTR
    require(n > 0, "the upstream got no query within 2 s (errno \(errno))")
    let q = try! Message(parsing: Array(buffer[0..<n]))
    let answers = (1...3).map {
        Record(name: q.questions[0].name, type: .aaaa, ttl: 3600, rdata: .aaaa(IPv6Address(high: 0x2001_0db8 << 32, low: UInt64($0))))
    }
    let reply = try! Message(header: Header(id: q.header.id, flags: Header.qrBit | Header.rdBit | Header.raBit),
                             questions: q.questions, answers: answers,
                             additional: [EDNSRecord(udpPayloadSize: 1232).record]).encoded()
    _ = withUnsafePointer(to: &from) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { sendto(fd, reply, reply.count, 0, $0, length) }
    }
}

/// Reads one datagram from `fd` into `buffer`; its length, or -1 when none came
/// within the socket's receive timeout.
///
/// Interrupted reads are retried: a thread that drives an io_uring (the
/// benchmarks drive the worker's ring from the client's own thread) has its
/// blocking calls interrupted whenever the ring queues completion work for it
/// (COOP_TASKRUN signals the thread without a real signal), and a socket with
/// SO_RCVTIMEO reports that as EINTR instead of restarting the call.
@inline(__always)
public func receive(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer) -> Int {
    var n: Int
    repeat { n = recv(fd, buffer.baseAddress, buffer.count, 0) } while n < 0 && errno == EINTR
    return n
}

/// A UDP socket on 127.0.0.1 with a receive timeout, and its address.
public func loopbackSocket() -> (Int32, sockaddr_in) {
    let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
    var sin = sockaddr_in()
    sin.sin_family = sa_family_t(AF_INET)
    sin.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    withUnsafeMutablePointer(to: &sin) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            _ = bind(fd, $0, length)
            _ = getsockname(fd, $0, &length)
        }
    }
    var tv = timeval(tv_sec: 2, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    return (fd, sin)
}

/// Stops the benchmark with `message` unless `condition` holds. Unlike
/// `precondition`, which traps without its message in a release build, this
/// says why a run failed: on standard error, and appended to the file named
/// by BENCH_FAILURES (the benchmark tool does not pass on its children's
/// standard error, so bench/alloc.sh shows that file when a run fails).
public func require(_ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String) {
    guard !condition() else { return }
    let line = "benchmark: \(message())\n"
    _ = line.withCString { write(2, $0, strlen($0)) }
    if let path = getenv("BENCH_FAILURES") {
        let fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        _ = line.withCString { write(fd, $0, strlen($0)) }
        close(fd)
    }
    exit(1)
}
