/// Frame Streams (fstrm), the framing dnstap travels in: each data frame is a
/// 32-bit big-endian length and that many octets; a length of 0 escapes a
/// control frame (its own 32-bit length, a 32-bit type, then fields, each a
/// 32-bit field type, a 32-bit length and the value). On a socket the writer
/// and the reader shake hands: READY (the writer's content types), ACCEPT
/// (the reader's choice), START (the one chosen); at the end STOP, answered by
/// FINISH. Everything is big-endian.
enum FrameStreams {
    /// The content type a dnstap reader accepts.
    static let contentType = Array("protobuf:dnstap.Dnstap".utf8)
    /// Readers refuse control frames longer than this (fstrm's limit).
    static let maximumControlLength = 512

    enum Control: UInt32, Sendable {
        case accept = 1
        case start = 2
        case stop = 3
        case ready = 4
        case finish = 5
    }

    /// The one field type a control frame carries.
    static let contentTypeField: UInt32 = 1

    /// A whole control frame (escape, length, type, and the content type when given).
    static func control(_ type: Control, contentType: [UInt8]? = contentType) -> [UInt8] {
        var body: [UInt8] = []
        appendBigEndian(type.rawValue, to: &body)
        if let contentType {
            appendBigEndian(contentTypeField, to: &body)
            appendBigEndian(UInt32(contentType.count), to: &body)
            body += contentType
        }
        var frame: [UInt8] = []
        appendBigEndian(0, to: &frame)
        appendBigEndian(UInt32(body.count), to: &frame)
        return frame + body
    }

    /// Starts a data frame of `length` octets (the caller appends them): its length, big-endian.
    static func appendDataHeader(length: Int, to out: inout [UInt8]) {
        appendBigEndian(UInt32(length), to: &out)
    }

    /// A control frame's body (after the escape and the length) read back: its type and content types.
    struct ParsedControl: Equatable, Sendable {
        var type: UInt32
        var contentTypes: [[UInt8]]
    }

    /// Reads a control frame's body; nil when it is not one (too short, a field that overruns it).
    static func parseControl(_ body: [UInt8]) -> ParsedControl? {
        guard body.count >= 4, body.count <= maximumControlLength else { return nil }
        var parsed = ParsedControl(type: readBigEndian(body, at: 0), contentTypes: [])
        var at = 4
        while at < body.count {
            guard at + 8 <= body.count else { return nil }
            let field = readBigEndian(body, at: at)
            let length = Int(readBigEndian(body, at: at + 4))
            at += 8
            guard length <= body.count - at else { return nil }
            if field == contentTypeField { parsed.contentTypes.append(Array(body[at..<at + length])) }
            at += length
        }
        return parsed
    }

    static func appendBigEndian(_ value: UInt32, to out: inout [UInt8]) {
        out.append(UInt8(value >> 24))
        out.append(UInt8(truncatingIfNeeded: value >> 16))
        out.append(UInt8(truncatingIfNeeded: value >> 8))
        out.append(UInt8(truncatingIfNeeded: value))
    }

    static func readBigEndian(_ bytes: [UInt8], at i: Int) -> UInt32 {
        UInt32(bytes[i]) << 24 | UInt32(bytes[i + 1]) << 16 | UInt32(bytes[i + 2]) << 8 | UInt32(bytes[i + 3])
    }
}
