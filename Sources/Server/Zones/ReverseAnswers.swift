import DNSWire
import ZoneEngine

/// `a.a.d.f.ip6.arpa.`, the 6PN's reverse zone: answered from the snapshot
/// for the querier's organization, never forwarded
/// (``Snapshot/answerReverse(name:apexAt:type:network:into:)``), through
/// ``authoritativeReply`` as `internal.` is.
struct ReverseAnswers {
    let recursionAvailable: Bool

    /// Rarer than `internal.` names, so kept out of line.
    func answer(_ q: AdmittedQuery, apexAt: Int, snapshot: Snapshot,
                into out: UnsafeMutableRawBufferPointer) -> ZoneOutcome {
        authoritativeReply(q, recursionAvailable: recursionAvailable, into: out) { w in
            snapshot.answerReverse(name: q.name, apexAt: apexAt, type: q.query.type, network: q.origin.network,
                                   into: &w)
        }
    }
}
