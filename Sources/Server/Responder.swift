import DNSWire
import Forwarder
import ZoneEngine

/// What a thread does with a message once the responder has looked at it.
public enum Response {
    /// Nothing goes back.
    case drop
    /// The reply is in the output buffer, this many octets long.
    case reply(Int)
    /// A cache miss: the query must go upstream, and its reply (at most
    /// `limit` octets) to the client when it comes. `type` is for counting.
    case forward(limit: Int, type: RRType)
}

/// Answers one message: protocol checks, then the route by name: under
/// `internal.` and the 6PN's reverse zone `a.a.d.f.ip6.arpa.` the zone
/// snapshot; class CH, sixpn's own identity and version; otherwise the
/// forwarder's cache (REFUSED without a forwarder, or when the query does not
/// ask for recursion).
/// One per thread; it owns a small scratch buffer for the lowercased name, so
/// nothing is allocated per query.
public struct Responder: ~Copyable {
    public let forwarder: Forwarder?
    public let counters: WorkerCounters
    /// Whether there is a forwarder, decided once (testing the optional retained it per query).
    @usableFromInline let recursionAvailable: Bool
    @usableFromInline let name: UnsafeMutableRawBufferPointer
    /// What class CH questions get (the server's identity and version).
    let chaos: ChaosAnswers
    /// `internal.` answers so far, this thread's: where each AAAA RRset starts (``Snapshot/answer``).
    @usableFromInline let turn: UnsafeMutablePointer<UInt32>

    public init(forwarder: Forwarder?, counters: WorkerCounters, chaos: ChaosAnswers = .thisServer) {
        self.forwarder = forwarder
        self.counters = counters
        self.recursionAvailable = forwarder != nil
        self.name = .allocate(byteCount: 256, alignment: 8)
        self.chaos = chaos
        self.turn = .allocate(capacity: 1)
        turn.initialize(to: 0)
    }

    deinit {
        name.deallocate()
        turn.deallocate()
    }

    /// Answers `packet` from `origin` into `out`, reading `snapshot` for
    /// `internal.` names. Counts the answer (forwarded ones are counted when
    /// their reply comes).
    @inlinable
    public func respond(to packet: UnsafeRawBufferPointer, from origin: ClientOrigin, transport: Transport,
                        snapshot: Snapshot, into out: UnsafeMutableRawBufferPointer) -> Response {
        switch QueryAdmission.admit(packet, transport: transport, recursionAvailable: recursionAvailable, into: out) {
        case .drop:
            counters.add(WorkerCounters.Slot.droppedMalformed)
            return .drop
        case .replied(let length, let rcode, let type):
            counters.countAnswer(type: type, rcode: rcode)
            return .reply(length)
        case .query(let query, let limit, let edns):
            let nameLength = query.lowercasedName(from: packet, into: name)
            let lowered = UnsafeRawBufferPointer(rebasing: name[0..<nameLength])
            let internalAt = InternalZone.suffixOffset(lowered)
            if internalAt >= 0 {
                // Only class IN is served; like Knot, other classes get REFUSED (no zone of that class here),
                // and so do zone transfers, which sixpn never offers.
                guard query.class == .internet, query.type != .axfr, query.type != .ixfr else {
                    return refuse(query, packet, limit, edns, recursionAvailable, out)
                }
                var w = ResponseWriter(buffer: out, limit: limit)
                guard w.start(query: query, bytes: packet, rcode: .noError, authoritative: true,
                              recursionAvailable: recursionAvailable, edns: edns) else { return .drop }
                let rotation = turn.pointee
                turn.pointee = rotation &+ 1
                let rcode = snapshot.answer(name: lowered, internalAt: internalAt, type: query.type,
                                            network: origin.network, host: origin.host, rotation: rotation, into: &w)
                w.setRCode(rcode)
                if w.header.truncated { counters.add(WorkerCounters.Slot.truncated) }
                counters.countAnswer(type: query.type, rcode: rcode)
                return .reply(w.finish())
            }
            let reverseAt = ReverseZone.suffixOffset(lowered)
            if reverseAt >= 0 {
                return answerReverse(query, lowered, reverseAt, origin, packet, limit, edns, snapshot, out)
            }
            if query.class == .chaos {
                return answerChaos(query, lowered, packet, limit, edns, out)
            }
            // Without RD nothing is forwarded, nor read from the cache that every organization's
            // queries fill: a probe with RD clear would tell one organization, unseen, what names
            // another resolves (cache snooping). REFUSED, as Knot Resolver and CoreDNS's refusenord do.
            guard let forwarder, query.header.recursionDesired else {
                return refuse(query, packet, limit, edns, recursionAvailable, out)
            }
            if let n = forwarder.answerFromCache(query: query, bytes: packet, into: out, limit: limit) {
                counters.add(WorkerCounters.Slot.cacheHits)
                counters.countAnswer(type: query.type, rcode: RCode(UInt16(out[3] & 0xf)))
                return .reply(n)
            }
            counters.add(WorkerCounters.Slot.forwarded)
            return .forward(limit: limit, type: query.type)
        }
    }

    /// A name under `a.a.d.f.ip6.arpa.`, the 6PN's reverse zone: answered
    /// from the snapshot for the querier's organization, never forwarded
    /// (``Snapshot/answerReverse(name:apexAt:type:network:into:)``). Rarer
    /// than `internal.` names, so kept out of line. It repeats the `internal.`
    /// branch's start and finish on purpose: sharing them through a helper
    /// cost the `internal.` path 47 instructions per answer (a closure) or 9
    /// (two inlined helpers), callgrind, `bench/profile.sh 20000`.
    @usableFromInline
    func answerReverse(_ query: Query, _ lowered: UnsafeRawBufferPointer, _ apexAt: Int, _ origin: ClientOrigin,
                       _ packet: UnsafeRawBufferPointer, _ limit: Int, _ edns: EDNS?, _ snapshot: Snapshot,
                       _ out: UnsafeMutableRawBufferPointer) -> Response {
        guard query.class == .internet, query.type != .axfr, query.type != .ixfr else {
            return refuse(query, packet, limit, edns, recursionAvailable, out)
        }
        var w = ResponseWriter(buffer: out, limit: limit)
        guard w.start(query: query, bytes: packet, rcode: .noError, authoritative: true,
                      recursionAvailable: recursionAvailable, edns: edns) else { return .drop }
        let rcode = snapshot.answerReverse(name: lowered, apexAt: apexAt, type: query.type, network: origin.network,
                                           into: &w)
        w.setRCode(rcode)
        if w.header.truncated { counters.add(WorkerCounters.Slot.truncated) }
        counters.countAnswer(type: query.type, rcode: rcode)
        return .reply(w.finish())
    }

    /// Class CH, never forwarded: the server's identity or version (``ChaosAnswers``), else REFUSED.
    /// Rare, so kept out of line.
    @usableFromInline
    func answerChaos(_ query: Query, _ lowered: UnsafeRawBufferPointer, _ packet: UnsafeRawBufferPointer,
                     _ limit: Int, _ edns: EDNS?, _ out: UnsafeMutableRawBufferPointer) -> Response {
        guard let record = chaos.record(for: lowered, type: query.type) else {
            return refuse(query, packet, limit, edns, recursionAvailable, out)
        }
        var w = ResponseWriter(buffer: out, limit: limit)
        guard w.start(query: query, bytes: packet, rcode: .noError, authoritative: true,
                      recursionAvailable: recursionAvailable, edns: edns) else { return .drop }
        record.withUnsafeBytes { _ = w.append(.answer, records: $0, count: 1) }
        counters.countAnswer(type: query.type, rcode: .noError)
        return .reply(w.finish())
    }

    /// Writes an answerless REFUSED and counts it.
    @inlinable
    func refuse(_ query: Query, _ packet: UnsafeRawBufferPointer, _ limit: Int, _ edns: EDNS?,
                _ recursionAvailable: Bool, _ out: UnsafeMutableRawBufferPointer) -> Response {
        guard case .replied(let length, _, _) = QueryAdmission.reply(.refused, to: query, packet, limit: limit,
                                                                     edns: edns, recursionAvailable, into: out)
        else { return .drop }
        counters.countAnswer(type: query.type, rcode: .refused)
        return .reply(length)
    }
}
