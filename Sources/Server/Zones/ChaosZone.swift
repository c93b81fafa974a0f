#if canImport(Glibc)
import Glibc
#endif
import DNSWire

/// sixpn's own answers in class CH, as NSD, Knot and Unbound give them: which
/// server answered (`id.server.` (RFC 4892) and `hostname.bind.`: this host's
/// name, so that an operator can tell which host's sixpn a client reached)
/// and what it runs (`version.server.` and `version.bind.`: "sixpn VERSION").
/// TXT (or ANY), TTL 0, AA. Every other CH question is REFUSED, and none is
/// forwarded: an upstream would answer with its own identity.
public struct ChaosAnswers: Sendable {
    /// The TXT records, owner a pointer to the question name, class CH, TTL 0.
    let identity: [UInt8]
    let version: [UInt8]

    /// The answers of the server on this host: `gethostname(2)` and ``sixpnVersion``.
    public static let thisServer = ChaosAnswers(identity: hostName(), version: "sixpn " + sixpnVersion)

    /// `identity` and `version` are cut to 255 octets, one character-string each.
    public init(identity: String, version: String) {
        func txt(_ text: String) -> [UInt8] {
            let value = Array(text.utf8.prefix(255))
            // A TXT with one character-string of at most 255 octets always encodes.
            return try! RecordEncoder.encode(owner: .questionName, type: .txt, class: .chaos, ttl: 0,
                                             rdata: .txt([value.isEmpty ? Array("sixpn".utf8) : value]))
        }
        self.identity = txt(identity)
        self.version = txt(version)
    }

    /// The lowercased wire names it answers.
    private static let idServer: [UInt8] = wire("id.server")
    private static let hostnameBind: [UInt8] = wire("hostname.bind")
    private static let versionServer: [UInt8] = wire("version.server")
    private static let versionBind: [UInt8] = wire("version.bind")

    private static func wire(_ name: String) -> [UInt8] {
        name.split(separator: ".").flatMap { [UInt8($0.utf8.count)] + Array($0.utf8) } + [0]
    }

    /// The record that answers `name` (lowercased, in wire form) asked with
    /// `type`; nil for a question that gets REFUSED.
    func record(for name: UnsafeRawBufferPointer, type: RRType) -> [UInt8]? {
        guard type == .txt || type == .any else { return nil }
        if name.elementsEqual(Self.idServer) || name.elementsEqual(Self.hostnameBind) { return identity }
        if name.elementsEqual(Self.versionServer) || name.elementsEqual(Self.versionBind) { return version }
        return nil
    }

    /// Writes the whole reply to a class CH question: the record, AA, TTL 0; REFUSED for any other.
    /// Rare, so kept out of line.
    func answer(_ q: AdmittedQuery, recursionAvailable: Bool, into out: UnsafeMutableRawBufferPointer) -> ZoneOutcome {
        guard let record = record(for: q.name, type: q.query.type) else {
            return .refused(q, recursionAvailable: recursionAvailable, into: out)
        }
        var w = ResponseWriter(buffer: out, limit: q.limit)
        guard w.start(query: q.query, bytes: q.packet, rcode: .noError, authoritative: true,
                      recursionAvailable: recursionAvailable, edns: q.edns) else { return .drop }
        record.withUnsafeBytes { _ = w.append(.answer, records: $0, count: 1) }
        return .reply(length: w.finish(), rcode: .noError)
    }

    /// This host's name (`gethostname(2)`), or "sixpn" when it has none.
    static func hostName() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return "sixpn" }
        let name = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return name.isEmpty ? "sixpn" : name
    }
}
