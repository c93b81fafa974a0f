import DNSWire
import Forwarder

/// The tests' way into the Forwarder with raw query bytes: what the Server
/// hands it after admission (the query read once, the reply's OPT as
/// admission shapes it, the name lowercased).
extension ForwardRequest {
    init(parsing bytes: [UInt8], limit: Int) {
        let query = bytes.withUnsafeBytes { try! Query.parse($0) }
        var name = [UInt8](repeating: 0, count: 256)
        let n = bytes.withUnsafeBytes { b in name.withUnsafeMutableBytes { query.lowercasedName(from: b, into: $0) } }
        self = bytes.withUnsafeBytes { b in
            name.withUnsafeBytes {
                ForwardRequest(query: query, bytes: b, lowercasedName: UnsafeRawBufferPointer(rebasing: $0[0..<n]),
                               edns: query.edns?.reply(), limit: limit)
            }
        }
    }
}

extension Forwarder {
    func resolve(query: [UInt8], limit: Int, reply: @escaping @Sendable ([UInt8]) -> Void) {
        resolve(ForwardRequest(parsing: query, limit: limit), reply: reply)
    }

    func answerFromCache(query: Query, bytes: UnsafeRawBufferPointer, into out: UnsafeMutableRawBufferPointer,
                         limit: Int) -> Int? {
        withUnsafeTemporaryAllocation(byteCount: 256, alignment: 8) { name in
            let n = query.lowercasedName(from: bytes, into: name)
            return answerFromCache(query: query, bytes: bytes, name: UnsafeRawBufferPointer(rebasing: name[0..<n]),
                                   edns: query.edns?.reply(), into: out, limit: limit)
        }
    }
}
