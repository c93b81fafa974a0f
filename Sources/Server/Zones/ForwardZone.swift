import DNSWire
import Forwarder

/// Every other name: the forwarder's cache on the query path, else upstream.
/// REFUSED without a forwarder, and without RD: then nothing is forwarded,
/// nor read from the cache that every organization's queries fill, since a
/// probe with RD clear would tell one organization, unseen, what names
/// another resolves (cache snooping; Knot Resolver and CoreDNS's
/// `refusenord` refuse too).
struct ForwardZone {
    let forwarder: Forwarder?
    let counters: WorkerCounters
    /// Whether there is a forwarder, decided once (testing the optional retains it).
    let recursionAvailable: Bool

    @inline(__always)
    func answer(_ q: AdmittedQuery, into out: UnsafeMutableRawBufferPointer) -> ZoneOutcome {
        guard let forwarder, q.query.header.recursionDesired else {
            return .refused(q, recursionAvailable: recursionAvailable, into: out)
        }
        if let n = forwarder.answerFromCache(query: q.query, bytes: q.packet, name: q.name, edns: q.edns,
                                             into: out, limit: q.limit) {
            counters.add(WorkerCounters.Slot.cacheHits)
            return .reply(length: n, rcode: RCode(UInt16(out[3] & 0xf)))
        }
        guard forwarder.saturated else { return .forward }
        return atCapacity(forwarder, q, into: out)
    }

    /// A miss while every upstream slot is taken: answered here and now (stale, or SERVFAIL with an
    /// Extended DNS Error), not queued behind the storm for the resolver thread. Out of line.
    private func atCapacity(_ forwarder: Forwarder, _ q: AdmittedQuery, into out: UnsafeMutableRawBufferPointer) -> ZoneOutcome {
        let n = forwarder.answerAtCapacity(query: q.query, bytes: q.packet, name: q.name, edns: q.edns, into: out,
                                           limit: q.limit)
        return .reply(length: n, rcode: RCode(UInt16(out[3] & 0xf)))
    }
}
