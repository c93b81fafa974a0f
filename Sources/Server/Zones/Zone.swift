import DNSWire
import ZoneEngine

/// A query that passed admission, as every zone sees it.
struct AdmittedQuery {
    let query: Query
    /// The message as it came: replies copy its ID, flags and question (the client's case).
    let packet: UnsafeRawBufferPointer
    /// The question name in wire form, lowercased.
    let name: UnsafeRawBufferPointer
    /// The reply's size limit and OPT record, as admission decided them.
    let limit: Int
    let edns: EDNS?
    /// Whom it is answered for.
    let origin: ClientOrigin
}

/// What a zone did with a query.
enum ZoneOutcome {
    /// Nothing goes back (the question alone did not fit the reply).
    case drop
    /// The zone wrote the whole reply (flags, records, RCODE, OPT): its length, and its RCODE for counting.
    case reply(length: Int, rcode: RCode)
    /// Not in the forwarder's cache: the query goes upstream.
    case forward

    /// An answerless REFUSED: a class or type the zone does not serve, or a
    /// forward the server will not make.
    @inline(__always)
    static func refused(_ q: AdmittedQuery, recursionAvailable: Bool,
                        into out: UnsafeMutableRawBufferPointer) -> ZoneOutcome {
        let n = ResponseWriter.error(.refused, header: q.query.header, query: q.query, bytes: q.packet, edns: q.edns,
                                     recursionAvailable: recursionAvailable, limit: q.limit, into: out)
        return .reply(length: n, rcode: .refused)
    }
}

/// What every zone that is sixpn's own (`internal.`, the reverse zone) does
/// around its records: class IN only and no zone transfers (else REFUSED, as
/// Knot answers for a zone it does not serve in that class), an
/// authoritative header with the question and room for the OPT, then
/// `records` (which returns the RCODE), then the finished reply.
@inline(__always)
func authoritativeReply(_ q: AdmittedQuery, recursionAvailable: Bool, into out: UnsafeMutableRawBufferPointer,
                        _ records: (inout ResponseWriter) -> RCode) -> ZoneOutcome {
    guard q.query.class == .internet, q.query.type != .axfr, q.query.type != .ixfr else {
        return .refused(q, recursionAvailable: recursionAvailable, into: out)
    }
    var w = ResponseWriter(buffer: out, limit: q.limit)
    guard w.start(query: q.query, bytes: q.packet, rcode: .noError, authoritative: true,
                  recursionAvailable: recursionAvailable, edns: q.edns) else { return .drop }
    let rcode = records(&w)
    w.setRCode(rcode)
    return .reply(length: w.finish(), rcode: rcode)
}

/// The zones sixpn answers, found from the question: one switch,
/// statically dispatched, each zone in its own file writing its whole reply
/// (Knot's `query_internet`/`query_chaos`, CoreDNS's zone lookup). Adding a
/// zone is one file and one case here and in ``QueryService``.
enum Zone {
    /// `internal.`: the organization's names, from the snapshot (``InternalAnswers``).
    case `internal`(apexAt: Int)
    /// `a.a.d.f.ip6.arpa.`: the 6PN's reverse zone, from the snapshot, never forwarded (``ReverseAnswers``).
    case reverse(apexAt: Int)
    /// Class CH: sixpn's own identity and version (``ChaosAnswers``).
    case chaos
    /// Everything else: the forwarder's cache, else upstream (``ForwardZone``).
    case forward

    /// `name` is the lowercased question name in wire form.
    @inline(__always)
    static func route(_ name: UnsafeRawBufferPointer, class cls: RRClass) -> Zone {
        let internalAt = InternalZone.suffixOffset(name)
        if internalAt >= 0 { return .internal(apexAt: internalAt) }
        let reverseAt = ReverseZone.suffixOffset(name)
        if reverseAt >= 0 { return .reverse(apexAt: reverseAt) }
        return cls == .chaos ? .chaos : .forward
    }
}
