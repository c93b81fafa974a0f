extension ResponseWriter {
    /// An answerless reply: the one way sixpn writes an error (FORMERR, NOTIMP,
    /// BADVERS, REFUSED, SERVFAIL), wherever it is decided (as Knot's
    /// `process_query_err` and `domain`'s `mk_error_response`).
    ///
    /// - With `query` (its question was read): the header (ID, opcode, RD and
    ///   CD from the query; QR; RA as given; `rcode`), the question as the
    ///   client sent it, and the OPT `edns` with `extendedError` (RFC 8914,
    ///   with `extendedErrorText`) when there is room for them in `limit`.
    /// - Without `query`, or when its question alone does not fit: a bare
    ///   header with the query's ID and opcode from `header`.
    /// - Returns: the reply's length.
    @inlinable
    public static func error(_ rcode: RCode, header: Header, query: Query?, bytes: UnsafeRawBufferPointer,
                             edns: EDNS?, extendedError: UInt16? = nil, extendedErrorText: ExtendedErrorText = .none,
                             recursionAvailable: Bool, limit: Int,
                             into out: UnsafeMutableRawBufferPointer) -> Int {
        var w = ResponseWriter(buffer: out, limit: limit)
        if let query, w.start(query: query, bytes: bytes, rcode: rcode, authoritative: false,
                              recursionAvailable: recursionAvailable, edns: edns) {
            if let extendedError { w.addExtendedError(extendedError, text: extendedErrorText) }
        } else {
            w.startWithoutQuestion(id: header.id, queryFlags: header.flags, rcode: rcode)
            w.setFlag(Header.raBit, recursionAvailable)
        }
        return w.finish()
    }
}
