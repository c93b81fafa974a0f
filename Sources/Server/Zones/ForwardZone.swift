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
        guard let n = forwarder.answerFromCache(query: q.query, bytes: q.packet, name: q.name, edns: q.edns,
                                                into: out, limit: q.limit) else { return .forward }
        counters.add(WorkerCounters.Slot.cacheHits)
        return .reply(length: n, rcode: RCode(UInt16(out[3] & 0xf)))
    }
}
