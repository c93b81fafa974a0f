import DNSWire
@testable import ZoneEngine

/// A response as the Server would send it, parsed back with DNSWire's parser.
struct Reply {
    let rcode: RCode
    let message: Message

    var aaaa: [String] {
        message.answers.compactMap { if case .aaaa(let a) = $0.rdata { a.description } else { nil } }
    }
    /// Each TXT record's character-strings joined (the value as written).
    var txt: [String] {
        message.answers.compactMap { if case .txt(let s) = $0.rdata { String(decoding: s.joined(), as: UTF8.self) } else { nil } }
    }
    /// PTR targets, as text with the final dot.
    var ptr: [String] {
        message.answers.compactMap { if case .ptr(let n) = $0.rdata { n.description } else { nil } }
    }
    var isNoData: Bool { rcode == .noError && message.answers.isEmpty && message.authority.first?.type == .soa }
    var isNXDomain: Bool { rcode == .nxDomain && message.answers.isEmpty && message.authority.first?.type == .soa }
}

extension Snapshot {
    /// Asks `name` as a client at `querier` would, through ResponseWriter, and parses the reply.
    func ask(_ name: String, _ type: RRType = .aaaa, from querier: String, limit: Int = 65535,
             rotation: UInt32 = 0) throws -> Reply {
        let m = try Message(parsing: respond(name, type, from: querier, limit: limit, rotation: rotation))
        return Reply(rcode: m.rcode, message: m)
    }

    /// The reply's octets, as the Server would send them.
    func respond(_ name: String, _ type: RRType = .aaaa, from querier: String, limit: Int = 65535,
                 rotation: UInt32 = 0) throws -> [UInt8] {
        let q = try Message(header: Header(id: 0x1234, flags: Header.rdBit),
                            questions: [Question(name: DNSName(name), type: type)]).encoded()
        let a = SixPNAddress(querier)!
        var out = [UInt8](repeating: 0, count: limit)
        let length = try q.withUnsafeBytes { (qb: UnsafeRawBufferPointer) throws -> Int in
            let query = try Query.parse(qb)
            return out.withUnsafeMutableBytes { ob -> Int in
                var w = ResponseWriter(buffer: ob, limit: limit)
                _ = w.start(query: query, bytes: qb, rcode: .noError, authoritative: true, recursionAvailable: false, edns: nil)
                var lower = [UInt8](repeating: 0, count: 255)
                let n = lower.withUnsafeMutableBytes { query.lowercasedName(from: qb, into: $0) }
                let rcode = lower.withUnsafeBytes { (all: UnsafeRawBufferPointer) -> RCode in
                    let lowered = UnsafeRawBufferPointer(rebasing: all[..<n])
                    let reverseAt = ReverseZone.suffixOffset(lowered)
                    if reverseAt >= 0 {
                        return answerReverse(name: lowered, apexAt: reverseAt, type: type, network: a.network, into: &w)
                    }
                    return answer(name: lowered, type: type, network: a.network, host: a.host, rotation: rotation, into: &w)
                }
                w.setRCode(rcode)
                return w.finish()
            }
        }
        return Array(out[..<length])
    }
}

/// Builds a snapshot of the database at `path`.
func snapshot(of path: String, ttl: UInt32 = 5, serial: UInt32? = nil) throws -> Snapshot {
    try SnapshotBuilder.build(from: SQLiteConnection(path: path, mode: .readOnly), ttl: ttl, serial: serial)
}
