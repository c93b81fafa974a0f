import DNSWire

/// A query the Server admitted and could not answer from the cache, read
/// once: what the resolver thread needs to ask upstream and to answer the
/// client, so that it never parses the query again.
public struct ForwardRequest: Sendable {
    /// The client's message as it came: its ID, flags and question (in the
    /// client's case) are copied into the reply.
    public let bytes: [UInt8]
    /// The query read from `bytes` (offsets point into them).
    public let query: Query
    /// The OPT the reply carries (nil: the query had none), as admission decided it.
    public let edns: EDNS?
    /// The most octets the reply may take.
    public let limit: Int
    /// The question as the cache and the upstream see it (the lowercased name, type, class, DO and CD).
    let key: CacheKey
    /// The organization that asked (its network ID), whose share of the cache its answer counts in.
    public var organization: UInt32? = nil

    /// `lowercasedName` is the question name in wire form, lowercased (the Server has it already).
    public init(query: Query, bytes: UnsafeRawBufferPointer, lowercasedName: UnsafeRawBufferPointer,
                edns: EDNS?, limit: Int) {
        self.bytes = Array(bytes)
        self.query = query
        self.edns = edns
        self.limit = max(512, min(limit, 65_535))
        self.key = CacheKey(name: Array(lowercasedName), type: query.type, class: query.class,
                            flags: CacheKey.flags(of: query))
    }

    /// Writes an answerless reply with `rcode` (and, for a client that sent
    /// EDNS, `extendedError` with its text) and returns it.
    func errorReply(_ rcode: RCode, extendedError: UInt16? = nil, extendedErrorText: ExtendedErrorText = .none) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: limit)
        let n = bytes.withUnsafeBytes { b in
            out.withUnsafeMutableBytes {
                ResponseWriter.error(rcode, header: query.header, query: query, bytes: b, edns: edns,
                                     extendedError: extendedError, extendedErrorText: extendedErrorText,
                                     recursionAvailable: true, limit: limit, into: $0)
            }
        }
        out.removeLast(out.count - n)
        return out
    }

    /// Writes the answer from a cache entry (fresh, or `stale` with RFC 8767's TTL) and returns it.
    func reply(from e: CacheEntry, now: Int64, staleTTL: UInt32?) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: limit)
        let n = bytes.withUnsafeBytes { b in
            out.withUnsafeMutableBytes {
                e.answer(query: query, bytes: b, edns: edns, into: $0, limit: limit, now: now, staleTTL: staleTTL)
            }
        }
        out.removeLast(out.count - n)
        return out
    }
}
