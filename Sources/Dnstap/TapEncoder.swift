import Foundation
import SwiftProtobuf

/// Turns ring slots into dnstap frames (swift-protobuf, the schema in
/// Proto/dnstap.proto), on the writer thread: the one place that allocates.
///
/// The outer `Dnstap` message is the same for every frame but for its `message` field, so its
/// other fields (identity, version, type) are encoded once, by swift-protobuf, and each frame is
/// those octets followed by field 14, the `Message` swift-protobuf encodes (a protobuf message is
/// the concatenation of its fields, in any order): no outer message's storage and second
/// encoding pass per frame.
struct TapEncoder {
    /// `Dnstap` without its `message`: identity, version, type MESSAGE.
    private let prefix: [UInt8]
    /// Field 14 (`message`), wire type 2 (length-delimited).
    private static let messageTag: UInt8 = 14 << 3 | 2

    init(identity: String, version: String) {
        var outer = Dnstap_Dnstap()
        outer.identity = Data(identity.utf8)
        outer.version = Data(version.utf8)
        outer.type = .message
        // Every required field is set, so encoding cannot fail.
        prefix = (try? outer.serializedBytes()) ?? []
    }

    /// The dnstap messages a slot holds (its drops count this many).
    static func messageCount(_ slot: UnsafeRawPointer) -> Int {
        slot.load(as: TapEntry.self).kind == .clientExchange ? 2 : 1
    }

    /// Appends the slot's message(s), each as a data frame, to `out`; returns how many.
    func append(_ slot: UnsafeRawPointer, to out: inout [UInt8]) -> Int {
        let entry = slot.load(as: TapEntry.self)
        let octets = slot + TapEntry.headerSize
        let query = Data(bytes: octets, count: Int(entry.queryLength))
        let response = Data(bytes: octets + Int(entry.queryLength), count: Int(entry.responseLength))
        var m = Dnstap_Message()
        m.socketProtocol = entry.tcp ? .tcp : .udp
        if entry.family != 0 {
            var address = entry.address
            let bytes = withUnsafeBytes(of: &address) { Data($0.prefix(entry.family == 6 ? 16 : 4)) }
            m.socketFamily = entry.family == 6 ? .inet6 : .inet
            switch entry.kind {
            case .clientExchange, .clientQuery, .clientResponse:
                m.queryAddress = bytes
                m.queryPort = UInt32(entry.port)
            case .forwarderQuery, .forwarderResponse:
                m.responseAddress = bytes
                m.responsePort = UInt32(entry.port)
            }
        }
        m.queryTimeSec = UInt64(bitPattern: entry.querySeconds)
        m.queryTimeNsec = entry.queryNanoseconds
        switch entry.kind {
        case .clientExchange:
            m.type = .clientQuery
            m.queryMessage = query
            frame(m, into: &out)
            m.type = .clientResponse
            m.clearQueryMessage()
            m.responseMessage = response
            m.responseTimeSec = UInt64(bitPattern: entry.responseSeconds)
            m.responseTimeNsec = entry.responseNanoseconds
            frame(m, into: &out)
            return 2
        case .clientQuery, .forwarderQuery:
            m.type = entry.kind == .clientQuery ? .clientQuery : .forwarderQuery
            m.queryMessage = query
        case .clientResponse, .forwarderResponse:
            m.type = entry.kind == .clientResponse ? .clientResponse : .forwarderResponse
            m.responseMessage = response
            m.responseTimeSec = UInt64(bitPattern: entry.responseSeconds)
            m.responseTimeNsec = entry.responseNanoseconds
        }
        frame(m, into: &out)
        return 1
    }

    private func frame(_ message: Dnstap_Message, into out: inout [UInt8]) {
        // The type, the one required field, is always set: encoding cannot fail.
        let body: [UInt8] = (try? message.serializedBytes()) ?? []
        var length = body.count, lengthOctets = 1
        while length >= 0x80 { length >>= 7; lengthOctets += 1 }
        FrameStreams.appendDataHeader(length: prefix.count + 1 + lengthOctets + body.count, to: &out)
        out.append(contentsOf: prefix)
        out.append(Self.messageTag)
        var n = UInt(body.count)
        while n >= 0x80 {
            out.append(UInt8(truncatingIfNeeded: n) | 0x80)
            n >>= 7
        }
        out.append(UInt8(n))
        out.append(contentsOf: body)
    }
}
