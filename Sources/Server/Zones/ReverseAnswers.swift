import DNSWire
import ZoneEngine

/// `a.a.d.f.ip6.arpa.`, the 6PN's reverse zone: answered from the snapshot
/// for the querier's organization, never forwarded
/// (``Snapshot/answerReverse(name:apexAt:type:network:into:)``). Class IN
/// only, no zone transfers, as for `internal.`.
struct ReverseAnswers {
    let recursionAvailable: Bool

    /// Rarer than `internal.` names, so kept out of line.
    func answer(_ q: AdmittedQuery, apexAt: Int, snapshot: Snapshot,
                into out: UnsafeMutableRawBufferPointer) -> ZoneOutcome {
        guard q.query.class == .internet, q.query.type != .axfr, q.query.type != .ixfr else {
            return .refused(q, recursionAvailable: recursionAvailable, into: out)
        }
        var w = ResponseWriter(buffer: out, limit: q.limit)
        guard w.start(query: q.query, bytes: q.packet, rcode: .noError, authoritative: true,
                      recursionAvailable: recursionAvailable, edns: q.edns) else { return .drop }
        let rcode = snapshot.answerReverse(name: q.name, apexAt: apexAt, type: q.query.type,
                                           network: q.origin.network, into: &w)
        w.setRCode(rcode)
        return .reply(length: w.finish(), rcode: rcode)
    }
}
