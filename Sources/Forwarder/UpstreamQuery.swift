import DNSWire

/// The query the Forwarder sends upstream for a cache key: a fresh random
/// ID (RFC 5452 §9.2), RD, the client's CD, the lowercased name, and an OPT
/// record offering `payloadSize` with the client's DO bit (RFC 3225), or
/// no OPT at all for an upstream that does not speak EDNS (RFC 6891 §7:
/// then there is no DO to send either, and replies are 512 octets at most
/// over UDP, longer ones come TC and are asked again over TCP).
enum UpstreamQuery {
    static func make(id: UInt16, key: CacheKey, payloadSize: UInt16, edns: Bool = true) -> [UInt8] {
        var flags = Header.rdBit
        if key.flags & CacheKey.cdBit != 0 { flags |= Header.cdBit }
        let header = Header(id: id, flags: flags, qdCount: 1, arCount: edns ? 1 : 0)
        var out = [UInt8](repeating: 0, count: Header.size)
        out.withUnsafeMutableBytes { header.write(to: $0) }
        out += key.name
        out += [UInt8(key.type.rawValue >> 8), UInt8(truncatingIfNeeded: key.type.rawValue),
                UInt8(key.class.rawValue >> 8), UInt8(truncatingIfNeeded: key.class.rawValue)]
        guard edns else { return out }
        let doByte: UInt8 = key.flags & CacheKey.doBit != 0 ? 0x80 : 0
        // OPT: root owner, TYPE 41, CLASS = payload size, TTL = ext-rcode, version, DO + Z, RDLENGTH 0.
        out += [0, 0, 41, UInt8(payloadSize >> 8), UInt8(truncatingIfNeeded: payloadSize), 0, 0, doByte, 0, 0, 0]
        return out
    }
}
