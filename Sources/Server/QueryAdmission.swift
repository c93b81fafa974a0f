import DNSWire

/// How a query came in. UDP answers are sized to the client's EDNS payload
/// size; TCP answers may take a whole 64 KiB message (RFC 7766 §8).
public enum Transport: Sendable {
    case udp, tcp
}

/// What becomes of a message before it is routed: dropped, answered with an
/// error at once, or admitted as a standard query.
public enum Admission {
    /// Nothing to answer: shorter than a header, or a response (QR=1).
    case drop
    /// An error reply is in the output buffer: its length, its RCODE and the
    /// question's type when the question could be read.
    case replied(length: Int, rcode: RCode, type: RRType?)
    /// A well-formed standard query: answer it within `limit` octets, with an
    /// OPT record like `edns` when it is not nil.
    case query(Query, limit: Int, edns: EDNS?)
}

/// The protocol rules every message passes before its name is looked at
/// (RFC 1035, RFC 6891, RFC 8906), and the one place that decides the
/// reply's size limit and OPT record, which every zone and the forwarder
/// then use as given. Allocates nothing.
public enum QueryAdmission {
    /// The UDP payload size sixpn advertises and honours at most (``EDNS/flagDayPayloadSize``).
    public static let maximumUDPPayload = Int(EDNS.flagDayPayloadSize)
    /// What UDP clients without EDNS get (RFC 1035 §4.2.1).
    public static let classicUDPPayload = 512
    /// A TCP message's largest size (its length prefix is 16 bits).
    public static let maximumTCPMessage = 65535

    /// Checks `packet` and writes an error reply into `out` when one is due.
    ///
    /// - No header, or QR=1: dropped (a reply to a reply could loop).
    /// - A header but a malformed rest (including QDCOUNT != 1), or a datagram
    ///   longer than the receive slot (`truncated`): FORMERR with the ID and
    ///   no question; NOTIMP instead when the opcode is not QUERY.
    /// - EDNS version above 0: BADVERS with an OPT of version 0 (RFC 6891 §6.1.3).
    /// - Opcode other than QUERY: NOTIMP with the question (RFC 8906 §3.1.5).
    /// - Otherwise admitted, with the answer size: UDP max(512, min(EDNS size,
    ///   1232)), 512 without EDNS; TCP 65535. The response's OPT has our size,
    ///   version 0, DO echoed (RFC 3225) and no options, whatever the query's
    ///   options and unknown flags were (RFC 6891 §6.1.4, §7).
    @inlinable
    public static func admit(_ packet: UnsafeRawBufferPointer, transport: Transport, truncated: Bool = false,
                             recursionAvailable: Bool, into out: UnsafeMutableRawBufferPointer) -> Admission {
        guard packet.count >= Header.size, out.count >= classicUDPPayload else { return .drop }
        let header: Header
        do throws(WireError) { header = try Header(from: packet) } catch { return .drop }
        guard !header.isResponse else { return .drop }

        var parsed: Query? = nil
        if !truncated {
            do throws(WireError) { parsed = try Query.parse(packet) } catch {}
        }
        guard let query = parsed else {
            let rcode = header.opcode == .query || truncated ? RCode.formErr : RCode.notImp
            let n = ResponseWriter.error(rcode, header: header, query: nil, bytes: packet, edns: nil,
                                         recursionAvailable: recursionAvailable, limit: classicUDPPayload, into: out)
            return .replied(length: n, rcode: rcode, type: nil)
        }

        let limit: Int
        var edns: EDNS? = nil
        if let e = query.edns {
            edns = e.reply()
            limit = transport == .tcp ? maximumTCPMessage
                : max(classicUDPPayload, min(Int(e.udpPayloadSize), maximumUDPPayload))
            if e.version > 0 {
                return reply(.badVers, to: query, packet, limit: limit, edns: edns, recursionAvailable, into: out)
            }
        } else {
            limit = transport == .tcp ? maximumTCPMessage : classicUDPPayload
        }
        guard query.header.opcode == .query else {
            return reply(.notImp, to: query, packet, limit: limit, edns: edns, recursionAvailable, into: out)
        }
        return .query(query, limit: limit, edns: edns)
    }

    /// An answerless reply with the question (and OPT when the query had one).
    @inlinable
    public static func reply(_ rcode: RCode, to query: Query, _ packet: UnsafeRawBufferPointer, limit: Int,
                             edns: EDNS?, _ recursionAvailable: Bool,
                             into out: UnsafeMutableRawBufferPointer) -> Admission {
        let n = ResponseWriter.error(rcode, header: query.header, query: query, bytes: packet, edns: edns,
                                     recursionAvailable: recursionAvailable, limit: limit, into: out)
        return .replied(length: n, rcode: rcode, type: query.type)
    }
}
