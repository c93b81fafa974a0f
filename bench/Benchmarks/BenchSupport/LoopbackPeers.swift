import DNSWire
import Glibc

/// A one-shot upstream on 127.0.0.1: answers the first query it gets with
/// three AAAA records (TTL 3600), so that the cache holds a real upstream answer.
public func answerOneQuery(on fd: Int32) {
    var buffer = [UInt8](repeating: 0, count: 4096)
    var from = sockaddr_storage()
    var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
    let n = withUnsafeMutablePointer(to: &from) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { recvfrom(fd, &buffer, buffer.count, 0, $0, &length) }
    }
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
