import DNSWire
import ZoneEngine

/// `internal.`: every name is answered from the snapshot for the querier's
/// organization (``Snapshot/answer(name:internalAt:type:network:host:rotation:into:)``),
/// authoritatively, whatever RD says. Only class IN is served; like Knot,
/// other classes get REFUSED (no zone of that class here), and so do zone
/// transfers, which sixpn never offers.
struct InternalAnswers: ~Copyable {
    let recursionAvailable: Bool
    /// Answers so far, this thread's: where each AAAA RRset starts (cyclic order).
    private let turn: UnsafeMutablePointer<UInt32>

    init(recursionAvailable: Bool) {
        self.recursionAvailable = recursionAvailable
        turn = .allocate(capacity: 1)
        turn.initialize(to: 0)
    }

    deinit { turn.deallocate() }

    @inline(__always)
    func answer(_ q: AdmittedQuery, apexAt: Int, snapshot: Snapshot,
                into out: UnsafeMutableRawBufferPointer) -> ZoneOutcome {
        guard q.query.class == .internet, q.query.type != .axfr, q.query.type != .ixfr else {
            return .refused(q, recursionAvailable: recursionAvailable, into: out)
        }
        var w = ResponseWriter(buffer: out, limit: q.limit)
        guard w.start(query: q.query, bytes: q.packet, rcode: .noError, authoritative: true,
                      recursionAvailable: recursionAvailable, edns: q.edns) else { return .drop }
        let rotation = turn.pointee
        turn.pointee = rotation &+ 1
        let rcode = snapshot.answer(name: q.name, internalAt: apexAt, type: q.query.type, network: q.origin.network,
                                    host: q.origin.host, rotation: rotation, into: &w)
        w.setRCode(rcode)
        return .reply(length: w.finish(), rcode: rcode)
    }
}
