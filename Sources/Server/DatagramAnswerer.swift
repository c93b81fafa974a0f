#if canImport(Glibc)
import Glibc
#endif
import DNSWire
import Forwarder
import ZoneEngine
import Sockets

/// What every UDP backend does with one received datagram, whichever way it
/// came in (recvmmsg in ``UDPWorker``, io_uring in ``UringWorker``): check its
/// source, answer it into the caller's send slot, or hand it to the forwarder.
///
/// One per worker thread; nothing on its `.internal` or cache-hit path
/// allocates or locks.
final class DatagramAnswerer: @unchecked Sendable {
    let zone: ZoneStore
    let trust: ClientTrust
    let responder: Responder
    let counters: WorkerCounters
    let state: ServerState

    init(zone: ZoneStore, forwarder: Forwarder?, trust: ClientTrust, state: ServerState) {
        self.zone = zone
        self.trust = trust
        self.state = state
        let counters = WorkerCounters()
        self.counters = counters
        self.responder = Responder(forwarder: forwarder, counters: counters)
    }

    /// Answers `packet` from `source` (a sockaddr of `sourceLength` octets)
    /// into `out`: the reply's length, or nil when nothing goes back now
    /// (dropped, or forwarded: that reply leaves later from `fd`).
    /// `truncated`: the datagram was longer than the receive slot.
    @inline(__always)
    func answer(_ packet: UnsafeRawBufferPointer, truncated: Bool, source: UnsafeRawPointer, sourceLength: socklen_t,
                fd: Int32, snapshot: Snapshot, into out: UnsafeMutableRawBufferPointer) -> Int? {
        guard let origin = trust.origin(of: source) else {
            counters.add(WorkerCounters.Slot.droppedUntrustedUDP)
            return nil
        }
        let response = truncated ? tooLong(packet, into: out)
            : responder.respond(to: packet, from: origin, transport: .udp, snapshot: snapshot, into: out)
        switch response {
        case .drop:
            return nil
        case .reply(let length):
            return length
        case .forward(let limit, let type):
            forward(packet, limit: limit, type: type, fd: fd, source: source, sourceLength: sourceLength)
            return nil
        }
    }

    /// A datagram longer than the receive slot: FORMERR when it has a header.
    private func tooLong(_ packet: UnsafeRawBufferPointer, into out: UnsafeMutableRawBufferPointer) -> Response {
        guard let header = try? Header(from: packet), !header.isResponse else { return .drop }
        var w = ResponseWriter(buffer: out, limit: QueryAdmission.classicUDPPayload)
        w.startWithoutQuestion(id: header.id, queryFlags: header.flags, rcode: .formErr)
        counters.countAnswer(type: nil, rcode: .formErr)
        return .reply(w.finish())
    }

    /// The slow path: sends the query upstream and the reply, when it comes,
    /// from this socket to the client.
    private func forward(_ packet: UnsafeRawBufferPointer, limit: Int, type: RRType, fd: Int32,
                         source: UnsafeRawPointer, sourceLength: socklen_t) {
        guard let forwarder = responder.forwarder else { return }
        var client = sockaddr_storage()
        let clientLength = min(sourceLength, socklen_t(MemoryLayout<sockaddr_storage>.size))
        withUnsafeMutableBytes(of: &client) { $0.copyMemory(from: UnsafeRawBufferPointer(start: source, count: Int(clientLength))) }
        let state = self.state
        let started = monotonicNanoseconds()
        state.inFlight.wrappingIncrement(ordering: .relaxed)
        forwarder.resolve(query: Array(packet), limit: limit) { [client] reply in
            reply.withUnsafeBytes { bytes in
                do { try Syscalls.sendTo(fd, bytes, address: client, length: clientLength) } catch {
                    state.sharedCounters.addShared(WorkerCounters.Slot.socketErrors)
                }
            }
            Self.countForwarded(reply, type: type, started: started, state: state)
        }
    }

    /// Counts a forwarded reply (any thread).
    static func countForwarded(_ reply: [UInt8], type: RRType, started: UInt64, state: ServerState) {
        let c = state.sharedCounters
        let rcode = reply.count >= Header.size ? RCode(UInt16(reply[3] & 0xf)) : .servFail
        c.addShared(WorkerCounters.Slot.answer(type: type, rcode: rcode))
        c.addShared(WorkerCounters.Slot.latencyBase
                    + WorkerCounters.Slot.latencyBucket(nanoseconds: monotonicNanoseconds() &- started))
        state.inFlight.wrappingDecrement(ordering: .relaxed)
    }
}
