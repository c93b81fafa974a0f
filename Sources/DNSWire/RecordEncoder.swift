/// Encodes records ahead of time, to be copied into responses later with
/// ``ResponseWriter/append(_:records:count:)`` (how ZoneEngine prepares answers).
///
/// The owner is either a full name or a compression pointer, typically 0xC00C:
/// the question name, which in a response always starts at offset 12, so the
/// owner comes out in the client's own case. Names inside RDATA are written
/// uncompressed: a prepared record cannot know what else the message holds.
public enum RecordEncoder {
    /// How a prepared record's owner name is written.
    public enum Owner: Hashable, Sendable {
        case name(DNSName)
        /// A pointer to a name at this offset of the message (12: the question name).
        case pointer(UInt16)

        /// The question name of a response (0xC00C).
        public static let questionName = Owner.pointer(UInt16(Header.size))
    }

    /// Appends one encoded record to `out`; on error `out` is left as it was.
    ///
    /// Throws when the pointer is not in 12 ..< 0x4000, when `rdata` is a typed
    /// case of another type, or when the RDATA cannot be encoded (an empty TXT,
    /// a character-string over 255 octets, more than 65535 octets).
    public static func append(owner: Owner, type: RRType, class rrClass: RRClass = .internet, ttl: UInt32,
                              rdata: RData, to out: inout [UInt8]) throws(WireError) {
        var w = WireWriter(compress: false)
        swap(&w.bytes, &out)  // append in place, without copying what `out` holds
        defer { swap(&w.bytes, &out) }
        let start = w.bytes.count
        do throws(WireError) {
            switch owner {
            case .name(let n):
                try w.name(n, compressible: false)
            case .pointer(let offset):
                guard offset >= UInt16(Header.size), offset < 0x4000 else {
                    throw WireError(.badPointer, .recordName, at: w.bytes.count)
                }
                w.u16(0xc000 | offset)
            }
            try w.fields(type: type, class: rrClass, ttl: ttl, rdata: rdata)
        } catch {
            w.bytes.removeSubrange(start...)  // no half-written record is left behind
            throw error
        }
    }

    /// One encoded record.
    public static func encode(owner: Owner, type: RRType, class rrClass: RRClass = .internet, ttl: UInt32,
                              rdata: RData) throws(WireError) -> [UInt8] {
        var out: [UInt8] = []
        try append(owner: owner, type: type, class: rrClass, ttl: ttl, rdata: rdata, to: &out)
        return out
    }

    /// A whole RRset, one record per RDATA, all with the same owner, class and
    /// TTL (RFC 2181 §5.2), ready for one ``ResponseWriter/append(_:records:count:)``.
    public static func encode(owner: Owner, type: RRType, class rrClass: RRClass = .internet, ttl: UInt32,
                              rdatas: [RData]) throws(WireError) -> [UInt8] {
        var out: [UInt8] = []
        for rdata in rdatas {
            try append(owner: owner, type: type, class: rrClass, ttl: ttl, rdata: rdata, to: &out)
        }
        return out
    }
}
