#if canImport(Glibc)
import Glibc
#endif
import DNSWire
import Dnstap
import Forwarder
import Sockets
import ZoneEngine

/// Where a forwarded query's reply goes when it comes (on the forwarder's
/// thread): each transport says how its bytes get back.
enum ReplyRoute {
    /// A datagram from socket `fd` to the address the query came from
    /// (`source`, valid only for the call: copied when the query is forwarded).
    case datagram(fd: Int32, source: UnsafeRawPointer, sourceLength: socklen_t)
    /// Onto a TCP connection, which the TCP thread writes; `peer` is its `sockaddr` (for dnstap).
    case stream(connection: UInt64, server: TCPServer, peer: UnsafeRawPointer)

    /// The querier's `sockaddr`.
    var peer: UnsafeRawPointer {
        switch self {
        case .datagram(_, let source, _): source
        case .stream(_, _, let peer): peer
        }
    }
}

/// Where a query service's dnstap messages go: its thread's own ring, and the shared one for
/// the replies to forwarded queries (which come on the forwarder's thread).
struct ClientTap {
    let own: DnstapProducer
    let shared: DnstapProducer
}

/// What became of one message.
enum QueryResult {
    /// The reply is in the output buffer, this many octets long.
    case reply(Int)
    /// Nothing goes back (dropped: untrusted, malformed beyond a header, or a reply that could not be written).
    case none
    /// Gone upstream: its reply takes the ``ReplyRoute`` later.
    case forwarded
}

/// One query, whichever transport carried it: trust the source, admit the
/// message (QueryAdmission), route its name to the zone that owns it
/// (``Zone``), let that zone write the whole reply, and count it; a miss in
/// the forwarder's cache goes upstream and its reply takes the transport's
/// ``ReplyRoute``. The transports (``UDPWorker``, ``UringWorker``,
/// ``TCPServer``) only move bytes (as Knot's `udp-handler.c` and
/// `tcp-handler.c` both drive `process_query_layer()`).
///
/// One per transport thread: it owns a scratch buffer for the lowercased
/// name, and nothing on the path of a zone's answer or a cache hit
/// allocates or locks.
final class QueryService: @unchecked Sendable {
    let zone: ZoneStore
    let trust: ClientTrust
    let counters: WorkerCounters
    let state: ServerState
    let forwarder: Forwarder?
    /// The UDP budgets per instance and organization (nil: `--instance-qps 0 --org-qps 0`), shared by every worker.
    let limiter: TenantLimiter?
    /// The limiter's tables as the query path reads them (no reference counting per query).
    private let buckets: TenantBuckets?
    /// Limited queries so far on this thread: every ``slip``-th one is answered with TC, the rest dropped.
    private var limitedSoFar: UInt32 = 0
    /// One limited query in this many is answered with TC (so a real client retries over TCP); the rest are dropped.
    static let slip: UInt32 = 2
    private let recursionAvailable: Bool
    private let name: UnsafeMutableRawBufferPointer
    private let internalAnswers: InternalAnswers
    private let reverseAnswers: ReverseAnswers
    private let chaos: ChaosAnswers
    private let forwardZone: ForwardZone
    /// `--dnstap`: every query and its reply are copied here (nil: off, one branch per query).
    let dnstap: ClientTap?

    init(zone: ZoneStore, forwarder: Forwarder?, trust: ClientTrust, state: ServerState,
         counters: WorkerCounters = WorkerCounters(), chaos: ChaosAnswers = .thisServer,
         limiter: TenantLimiter? = nil, dnstap: ClientTap? = nil) {
        self.zone = zone
        self.dnstap = dnstap
        self.limiter = limiter
        self.buckets = limiter?.buckets
        self.trust = trust
        self.counters = counters
        self.state = state
        self.forwarder = forwarder
        self.recursionAvailable = forwarder != nil
        self.name = .allocate(byteCount: 256, alignment: 8)
        self.internalAnswers = InternalAnswers(recursionAvailable: forwarder != nil)
        self.reverseAnswers = ReverseAnswers(recursionAvailable: forwarder != nil)
        self.chaos = chaos
        self.forwardZone = ForwardZone(forwarder: forwarder, counters: counters, recursionAvailable: forwarder != nil)
    }

    deinit { name.deallocate() }

    /// The organization a source `sockaddr` speaks for, or nil (counted as
    /// untrusted on `transport`) when it is not a 6PN address.
    @inline(__always)
    func origin(of source: UnsafeRawPointer, transport: Transport) -> ClientOrigin? {
        guard let origin = trust.origin(of: source) else {
            counters.add(transport == .udp ? WorkerCounters.Slot.droppedUntrustedUDP
                                           : WorkerCounters.Slot.droppedUntrustedTCP)
            return nil
        }
        return origin
    }

    /// Answers `packet` from `origin` into `out`, reading `snapshot` for the
    /// zones it serves. A forwarded query's reply takes `route` when it comes.
    /// `truncated`: the datagram was longer than the receive slot.
    /// With `--dnstap` the query and its reply are copied into this thread's ring.
    @inline(__always)
    func answer(_ packet: UnsafeRawBufferPointer, truncated: Bool = false, from origin: ClientOrigin,
                transport: Transport, route: ReplyRoute, snapshot: Snapshot,
                into out: UnsafeMutableRawBufferPointer) -> QueryResult {
        guard let dnstap else {
            return answerQuery(packet, truncated: truncated, from: origin, transport: transport, route: route,
                               snapshot: snapshot, into: out)
        }
        let received = Syscalls.wallClock()
        let result = answerQuery(packet, truncated: truncated, from: origin, transport: transport, route: route,
                                 snapshot: snapshot, into: out)
        if case .reply(let length) = result {
            dnstap.own.clientExchange(query: packet, response: UnsafeRawBufferPointer(rebasing: out[0..<length]),
                                      peer: route.peer, tcp: transport == .tcp, received: received)
        } else {
            dnstap.own.clientQuery(packet, peer: route.peer, tcp: transport == .tcp, received: received)
        }
        return result
    }

    @inline(__always)
    private func answerQuery(_ packet: UnsafeRawBufferPointer, truncated: Bool, from origin: ClientOrigin,
                             transport: Transport, route: ReplyRoute, snapshot: Snapshot,
                             into out: UnsafeMutableRawBufferPointer) -> QueryResult {
        switch QueryAdmission.admit(packet, transport: transport, truncated: truncated,
                                    recursionAvailable: recursionAvailable, into: out) {
        case .drop:
            counters.add(WorkerCounters.Slot.droppedMalformed)
            return .none
        case .replied(let length, let rcode, let type):
            counters.countAnswer(type: type, rcode: rcode)
            return .reply(length)
        case .query(let query, let limit, let edns):
            if transport == .udp, let buckets {
                let verdict = buckets.admit(origin, now: monotonicNanoseconds())
                if verdict != .admitted {
                    return overBudget(verdict, query: query, packet: packet, limit: limit, edns: edns, into: out)
                }
            }
            let nameLength = query.lowercasedName(from: packet, into: name)
            let q = AdmittedQuery(query: query, packet: packet, name: UnsafeRawBufferPointer(rebasing: name[0..<nameLength]),
                                  limit: limit, edns: edns, origin: origin)
            let outcome: ZoneOutcome
            switch Zone.route(q.name, class: query.class) {
            case .internal(let apexAt): outcome = internalAnswers.answer(q, apexAt: apexAt, snapshot: snapshot, into: out)
            case .reverse(let apexAt): outcome = reverseAnswers.answer(q, apexAt: apexAt, snapshot: snapshot, into: out)
            case .chaos: outcome = chaos.answer(q, recursionAvailable: recursionAvailable, into: out)
            case .forward: outcome = forwardZone.answer(q, into: out)
            }
            switch outcome {
            case .reply(let length, let rcode):
                if out[2] & UInt8(Header.tcBit >> 8) != 0 { counters.add(WorkerCounters.Slot.truncated) }
                counters.countAnswer(type: query.type, rcode: rcode)
                return .reply(length)
            case .drop:
                return .none
            case .forward:
                var upstreamSlot: Int? = nil
                if let buckets, buckets.limitsUpstream {
                    let (admitted, slot) = buckets.admitUpstream(origin, now: monotonicNanoseconds())
                    guard admitted else { return overUpstreamCap(q, into: out) }
                    upstreamSlot = slot
                }
                forward(q, route: route, upstreamSlot: upstreamSlot)
                return .forwarded
            }
        }
    }

    /// A UDP query over its instance's or organization's budget: counted by
    /// reason, and every ``slip``-th one answered with an empty TC reply (the
    /// question, no records: a real client asks again over TCP, which is not
    /// limited), the others dropped.
    private func overBudget(_ verdict: TenantLimiter.Verdict, query: Query, packet: UnsafeRawBufferPointer,
                            limit: Int, edns: EDNS?, into out: UnsafeMutableRawBufferPointer) -> QueryResult {
        counters.add(verdict == .instance ? WorkerCounters.Slot.limitedInstanceUDP
                                          : WorkerCounters.Slot.limitedOrganizationUDP)
        limitedSoFar &+= 1
        guard limitedSoFar % Self.slip == 0 else { return .none }
        var w = ResponseWriter(buffer: out, limit: limit)
        _ = w.start(query: query, bytes: packet, rcode: .noError, authoritative: false,
                    recursionAvailable: recursionAvailable, edns: edns)
        w.setFlag(Header.tcBit, true)
        counters.add(WorkerCounters.Slot.limitedSlipped)
        return .reply(w.finish())
    }

    /// A miss past its organization's upstream caps (`--org-upstream-inflight`, `--org-upstream-qps`):
    /// answered at once as when every upstream slot is taken, stale or SERVFAIL with an Extended DNS
    /// Error, and nothing goes upstream.
    private func overUpstreamCap(_ q: AdmittedQuery, into out: UnsafeMutableRawBufferPointer) -> QueryResult {
        guard let forwarder else { return .none }
        counters.add(WorkerCounters.Slot.limitedUpstream)
        let n = forwarder.answerAtCapacity(query: q.query, bytes: q.packet, name: q.name, edns: q.edns, into: out,
                                           limit: q.limit)
        counters.countAnswer(type: q.query.type, rcode: RCode(UInt16(out[3] & 0xf)))
        return .reply(n)
    }

    /// The slow path: the query goes to the forwarder (parsed once, as a
    /// ``ForwardRequest``), and its reply, when it comes, along `route`.
    /// `upstreamSlot`: its organization's slot in the limiter, given back when the reply comes.
    private func forward(_ q: AdmittedQuery, route: ReplyRoute, upstreamSlot: Int?) {
        guard let forwarder else { return }
        counters.add(WorkerCounters.Slot.forwarded)
        var request = ForwardRequest(query: q.query, bytes: q.packet, lowercasedName: q.name, edns: q.edns, limit: q.limit)
        request.organization = q.origin.network
        var deliver: @Sendable ([UInt8]) -> Void
        switch route {
        case .datagram(let fd, let source, let sourceLength):
            var client = sockaddr_storage()
            let length = min(sourceLength, socklen_t(MemoryLayout<sockaddr_storage>.size))
            withUnsafeMutableBytes(of: &client) { $0.copyMemory(from: UnsafeRawBufferPointer(start: source, count: Int(length))) }
            let state = self.state
            deliver = { [client] reply in
                reply.withUnsafeBytes { bytes in
                    do { try Syscalls.sendTo(fd, bytes, address: client, length: length) } catch {
                        state.sharedCounters.addShared(WorkerCounters.Slot.socketErrors)
                    }
                }
            }
        case .stream(let connection, let server, _):
            deliver = { reply in server.complete(connection: connection, reply: reply) }
        }
        if let tap = dnstap?.shared {
            // The reply is logged as it leaves, with the client's address copied now (the route's is not kept).
            var peer = sockaddr_storage()
            let tcp: Bool, length: Int
            switch route {
            case .datagram(_, _, let sourceLength): (tcp, length) = (false, Int(sourceLength))
            case .stream: (tcp, length) = (true, MemoryLayout<sockaddr_storage>.size)
            }
            withUnsafeMutableBytes(of: &peer) {
                $0.copyMemory(from: UnsafeRawBufferPointer(start: route.peer, count: min(length, $0.count)))
            }
            let received = Syscalls.wallClock(), deliverReply = deliver
            deliver = { [peer] reply in
                deliverReply(reply)
                var p = peer
                reply.withUnsafeBytes { bytes in
                    withUnsafeBytes(of: &p) { tap.clientResponse(bytes, peer: $0.baseAddress!, tcp: tcp, received: received) }
                }
            }
        }
        let state = self.state, type = q.query.type, started = monotonicNanoseconds(), limiter = self.limiter
        state.inFlight.wrappingIncrement(ordering: .relaxed)
        forwarder.resolve(request) { [deliver] reply in
            deliver(reply)
            // Counted on the forwarder's thread, in the shared slots.
            let c = state.sharedCounters
            let rcode = reply.count >= Header.size ? RCode(UInt16(reply[3] & 0xf)) : .servFail
            c.addShared(WorkerCounters.Slot.answer(type: type, rcode: rcode))
            c.addShared(WorkerCounters.Slot.latencyBase
                        + WorkerCounters.Slot.latencyBucket(nanoseconds: monotonicNanoseconds() &- started))
            state.inFlight.wrappingDecrement(ordering: .relaxed)
            if let upstreamSlot, let limiter { limiter.releaseUpstream(upstreamSlot) }
        }
    }
}
