#if canImport(Glibc)
import Glibc
#endif
import CSocketBatch
import Sockets

/// One UDP worker of the recvmmsg backend (`--io recvmmsg`): a thread with
/// its own SO_REUSEPORT socket per listen address and its own receive and
/// send buffers.
///
/// A batch of datagrams comes in with one recvmmsg, the zone snapshot is read
/// once for the batch, each datagram is answered in place into its send slot
/// (``QueryService``), and the answers go out with one sendmmsg. Nothing
/// on that path allocates, locks or touches another worker's memory; only a
/// forwarded cache miss leaves it (and may allocate).
final class UDPWorker: DatagramWorker, @unchecked Sendable {
    static let batchSize = 32
    /// Receive slot size: a query bigger than this is malformed anyway (it is read truncated and gets FORMERR).
    static let receiveSlot = 4096
    static let sendSlot = QueryAdmission.maximumUDPPayload

    let sockets: [Int32]
    let service: QueryService
    var counters: WorkerCounters { service.counters }
    private var state: ServerState { service.state }

    private let receiveHeaders: UnsafeMutablePointer<sixpn_mmsghdr>
    private let receiveVectors: UnsafeMutablePointer<iovec>
    private let receiveBuffers: UnsafeMutableRawPointer
    private let sources: UnsafeMutablePointer<sockaddr_storage>
    private let sendHeaders: UnsafeMutablePointer<sixpn_mmsghdr>
    private let sendVectors: UnsafeMutablePointer<iovec>
    private let sendBuffers: UnsafeMutableRawPointer
    private let pollSet: UnsafeMutablePointer<pollfd>

    init(sockets: [Int32], service: QueryService) {
        self.sockets = sockets
        self.service = service
        let n = Self.batchSize
        receiveHeaders = .allocate(capacity: n)
        receiveVectors = .allocate(capacity: n)
        receiveBuffers = .allocate(byteCount: n * Self.receiveSlot, alignment: 64)
        sources = .allocate(capacity: n)
        sendHeaders = .allocate(capacity: n)
        sendVectors = .allocate(capacity: n)
        sendBuffers = .allocate(byteCount: n * Self.sendSlot, alignment: 64)
        pollSet = .allocate(capacity: max(sockets.count, 1))
        for i in 0..<n {
            receiveVectors[i] = iovec(iov_base: receiveBuffers + i * Self.receiveSlot, iov_len: Self.receiveSlot)
            sources[i] = sockaddr_storage()
            var h = sixpn_mmsghdr()
            h.msg_hdr.msg_name = UnsafeMutableRawPointer(sources + i)
            h.msg_hdr.msg_namelen = socklen_t(MemoryLayout<sockaddr_storage>.size)
            h.msg_hdr.msg_iov = receiveVectors + i
            h.msg_hdr.msg_iovlen = 1
            receiveHeaders[i] = h
            sendVectors[i] = iovec(iov_base: sendBuffers + i * Self.sendSlot, iov_len: 0)
            var s = sixpn_mmsghdr()
            s.msg_hdr.msg_iov = sendVectors + i
            s.msg_hdr.msg_iovlen = 1
            sendHeaders[i] = s
        }
        for (i, fd) in sockets.enumerated() {
            pollSet[i] = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        }
    }

    deinit {
        receiveHeaders.deallocate()
        receiveVectors.deallocate()
        receiveBuffers.deallocate()
        sources.deallocate()
        sendHeaders.deallocate()
        sendVectors.deallocate()
        sendBuffers.deallocate()
        pollSet.deallocate()
    }

    /// Serves until the server stops. With one socket it blocks in recvmmsg
    /// (the socket's receive timeout bounds the wait, so a stop is noticed);
    /// with several it polls them first.
    func run() {
        while !state.stopping.load(ordering: .relaxed) {
            counters.add(WorkerCounters.Slot.heartbeat)
            if sockets.count == 1 {
                serveBatch(sockets[0], wait: true)
                continue
            }
            guard let ready = try? Syscalls.poll(pollSet, count: sockets.count, milliseconds: 250), ready > 0 else {
                continue
            }
            for i in 0..<sockets.count where pollSet[i].revents != 0 {
                serveBatch(sockets[i], wait: false)
            }
        }
    }

    /// Receives one batch on `fd`, answers it and sends the answers.
    /// Internal (not private) so that ``WorkerHarness`` drives this very code in the allocation benchmark.
    @inline(__always)
    func serveBatch(_ fd: Int32, wait: Bool) {
        for i in 0..<Self.batchSize {
            receiveHeaders[i].msg_hdr.msg_namelen = socklen_t(MemoryLayout<sockaddr_storage>.size)
        }
        let received: Int
        do { received = try Syscalls.receiveBatch(fd, receiveHeaders, count: Self.batchSize, wait: wait) } catch {
            counters.add(WorkerCounters.Slot.socketErrors)
            return
        }
        guard received > 0 else { return }
        let started = monotonicNanoseconds()
        let snapshot = service.zone.current
        var replies = 0
        for i in 0..<received {
            let source = UnsafeRawPointer(sources + i)
            guard let origin = service.origin(of: source, transport: .udp) else { continue }
            let out = UnsafeMutableRawBufferPointer(start: sendBuffers + replies * Self.sendSlot, count: Self.sendSlot)
            guard case .reply(let length) = service.answer(
                UnsafeRawBufferPointer(start: receiveBuffers + i * Self.receiveSlot, count: Int(receiveHeaders[i].msg_len)),
                truncated: receiveHeaders[i].msg_hdr.msg_flags & Int32(MSG_TRUNC) != 0, from: origin, transport: .udp,
                route: .datagram(fd: fd, source: source, sourceLength: receiveHeaders[i].msg_hdr.msg_namelen),
                snapshot: snapshot, into: out) else { continue }
            sendVectors[replies].iov_len = length
            sendHeaders[replies].msg_hdr.msg_name = UnsafeMutableRawPointer(sources + i)
            sendHeaders[replies].msg_hdr.msg_namelen = receiveHeaders[i].msg_hdr.msg_namelen
            replies += 1
        }
        var sent = 0
        while sent < replies {
            do {
                sent += try Syscalls.sendBatch(fd, sendHeaders + sent, count: replies - sent)
            } catch {
                // The kernel refused this one datagram (e.g. no route back): skip it, send the rest.
                counters.add(WorkerCounters.Slot.socketErrors)
                sent += 1
            }
        }
        if replies > 0 {
            counters.countLatency(nanoseconds: monotonicNanoseconds() &- started, answers: UInt64(replies))
        }
    }
}
