import DNSWire
import ZoneEngine

/// `internal.`: every name is answered from the snapshot for the querier's
/// organization (``Snapshot/answer(name:internalAt:type:network:host:rotation:into:)``),
/// authoritatively, whatever RD says (``authoritativeReply``: class IN only,
/// no zone transfers).
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
        authoritativeReply(q, recursionAvailable: recursionAvailable, into: out) { w in
            let rotation = turn.pointee
            turn.pointee = rotation &+ 1
            return snapshot.answer(name: q.name, internalAt: apexAt, type: q.query.type, network: q.origin.network,
                                   host: q.origin.host, rotation: rotation, into: &w)
        }
    }
}
