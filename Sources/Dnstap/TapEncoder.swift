import Foundation
import SwiftProtobuf

/// Turns ring slots into dnstap frames (swift-protobuf, the schema in
/// Proto/dnstap.proto), on the writer thread: the one place that allocates.
struct TapEncoder {
    private var template = Dnstap_Dnstap()

    init(identity: String, version: String) {
        template.identity = Data(identity.utf8)
        template.version = Data(version.utf8)
        template.type = .message
    }

    /// The dnstap messages a slot holds (its drops count this many).
    static func messageCount(_ slot: UnsafeRawPointer) -> Int {
        slot.load(as: TapEntry.self).kind == .clientExchange ? 2 : 1
    }

    /// Appends the slot's message(s), each as a data frame, to `out`; returns how many.
    mutating func append(_ slot: UnsafeRawPointer, to out: inout [UInt8]) -> Int {
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

    private mutating func frame(_ message: Dnstap_Message, into out: inout [UInt8]) {
        template.message = message
        // Every required field is set, so encoding cannot fail.
        let bytes: [UInt8] = (try? template.serializedBytes()) ?? []
        FrameStreams.appendData(bytes, to: &out)
    }
}
