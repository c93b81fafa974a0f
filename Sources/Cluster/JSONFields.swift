/// Why bytes are not a cluster value: the one-line reason the agent logs beside the key.
enum JSONFailure: Error, Equatable, CustomStringConvertible {
    case notJSON
    /// JSON, but not an object.
    case notObject
    /// A field a value needs is not there.
    case missing(String)
    /// A field is of the wrong type, or null where a value is needed (`metadata.k` for a map's entry).
    case bad(String)

    var description: String {
        switch self {
        case .notJSON: "not JSON"
        case .notObject: "not a JSON object"
        case .missing(let key): "no \"\(key)\""
        case .bad(let key): "bad \"\(key)\""
        }
    }
}

/// The names of the keys a value reads (its `CodingKeys`, so the encoder and
/// this reader share one home for them), made once per type.
struct JSONKeys<Key: CodingKey & CaseIterable>: Sendable {
    private let names: [String]
    private let utf8: [[UInt8]]

    init(_: Key.Type) {
        names = Key.allCases.map(\.stringValue)
        utf8 = names.map { Array($0.utf8) }
        precondition(names.count <= 8, "JSONFields notes at most 8 keys")
    }

    func index(of key: Key) -> Int {
        // A type's key names differ in length, so this compares the strings once.
        let name = key.stringValue
        let count = name.utf8.count
        return names.firstIndex { $0.utf8.count == count && $0 == name }!
    }

    func index(of name: UnsafeRawBufferPointer) -> Int? {
        utf8.firstIndex { $0.count == name.count && $0.elementsEqual(name) }
    }
}

/// One JSON object's fields, read without Foundation: the agent decodes a value
/// per key it lists, a million of them on a first sync.
///
/// `init` checks the whole object in one pass (RFC 8259, UTF-8, an optional
/// byte order mark) and notes where the value of each key the type reads starts
/// (the first of a repeated key wins, as with JSONDecoder); any other key's value
/// is checked and passed over, so newer writers may add fields. The typed reads
/// then convert the values, and a type that reads its fields in its declaration
/// order names the first missing or mistyped one, as JSONDecoder's reasons did.
/// `bytes` must outlive the fields.
struct JSONFields<Key: CodingKey & CaseIterable> {
    private let bytes: UnsafeRawBufferPointer
    private let keys: JSONKeys<Key>
    /// Where each key's value starts; -1 when the object lacks it.
    private var starts = SIMD8<Int32>(repeating: -1)

    init(_ bytes: UnsafeRawBufferPointer, _ keys: JSONKeys<Key>) throws(JSONFailure) {
        guard bytes.count < Int32.max else { throw .notJSON }
        self.bytes = bytes
        self.keys = keys
        var s = JSONScanner(bytes)
        if bytes.count >= 3, bytes[0] == 0xEF, bytes[1] == 0xBB, bytes[2] == 0xBF { s.i = 3 }
        s.skipSpace()
        guard s.take(UInt8(ascii: "{")) else {
            try s.skipValue(depth: 0)
            s.skipSpace()
            throw s.atEnd ? .notObject : .notJSON
        }
        s.skipSpace()
        if !s.take(UInt8(ascii: "}")) {
            repeat {
                s.skipSpace()
                guard s.peek == UInt8(ascii: "\"") else { throw .notJSON }
                let key = try s.skipString()
                s.skipSpace()
                guard s.take(UInt8(ascii: ":")) else { throw .notJSON }
                s.skipSpace()
                let start = s.i
                try s.skipValue(depth: 1)
                if let k = index(ofKey: key), starts[k] < 0 { starts[k] = Int32(start) }
                s.skipSpace()
            } while s.take(UInt8(ascii: ","))
            guard s.take(UInt8(ascii: "}")) else { throw .notJSON }
        }
        s.skipSpace()
        guard s.atEnd else { throw .notJSON }
    }

    private func index(ofKey span: JSONScanner.StringSpan) -> Int? {
        guard span.escaped else { return keys.index(of: UnsafeRawBufferPointer(rebasing: bytes[span.range])) }
        var s = JSONScanner(bytes)
        return Array(s.unescaped(span).utf8).withUnsafeBytes { keys.index(of: $0) }
    }

    /// A scanner at the key's value, or nil when the object lacks the key.
    private func value(_ key: Key) -> JSONScanner? {
        let start = starts[keys.index(of: key)]
        guard start >= 0 else { return nil }
        var s = JSONScanner(bytes)
        s.i = Int(start)
        return s
    }

    /// The value of a key that must be there and be a string.
    func string(_ key: Key) throws(JSONFailure) -> String {
        guard value(key) != nil else { throw .missing(key.stringValue) }
        guard let v = try stringIfPresent(key) else { throw .bad(key.stringValue) }
        return v
    }

    /// A string, or nil when the key is absent or null.
    func stringIfPresent(_ key: Key) throws(JSONFailure) -> String? {
        guard var s = value(key), !s.isNull else { return nil }
        guard s.peek == UInt8(ascii: "\"") else { throw .bad(key.stringValue) }
        return try s.string()
    }

    /// The value of a key that must be there and be a whole number (`1`, `1.0` and `1e0` alike).
    func integer(_ key: Key) throws(JSONFailure) -> Int {
        guard var s = value(key) else { throw .missing(key.stringValue) }
        let start = s.i
        guard let b = s.peek, b == UInt8(ascii: "-") || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(b) else {
            throw .bad(key.stringValue)
        }
        try s.skipNumber()
        let number = UnsafeRawBufferPointer(rebasing: bytes[start..<s.i])
        var n = 0
        for d in number where d != UInt8(ascii: "-") {
            guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(d) else {
                // A fraction or an exponent: JSONDecoder takes it when it is whole.
                guard let x = Double(JSONScanner.string(number)), x == x.rounded(), let n = Int(exactly: x) else {
                    throw .bad(key.stringValue)
                }
                return n
            }
            let (m, o1) = n.multipliedReportingOverflow(by: 10)
            let (a, o2) = m.addingReportingOverflow(Int(d - UInt8(ascii: "0")))
            guard !o1, !o2 else { throw .bad(key.stringValue) }
            n = a
        }
        return number.first == UInt8(ascii: "-") ? -n : n
    }

    /// true or false, or nil when the key is absent or null.
    func boolIfPresent(_ key: Key) throws(JSONFailure) -> Bool? {
        guard var s = value(key), !s.isNull else { return nil }
        if s.take(UInt8(ascii: "t")) { return true }
        if s.take(UInt8(ascii: "f")) { return false }
        throw .bad(key.stringValue)
    }

    /// An object of strings, or nil when the key is absent or null.
    func stringMapIfPresent(_ key: Key) throws(JSONFailure) -> [String: String]? {
        guard var s = value(key), !s.isNull else { return nil }
        guard s.take(UInt8(ascii: "{")) else { throw .bad(key.stringValue) }
        var map: [String: String] = [:]
        s.skipSpace()
        if s.take(UInt8(ascii: "}")) { return map }
        repeat {
            s.skipSpace()
            let k = try s.string()
            s.skipSpace()
            _ = s.take(UInt8(ascii: ":"))
            s.skipSpace()
            guard s.peek == UInt8(ascii: "\"") else { throw .bad(key.stringValue + "." + k) }
            let v = try s.string()
            if map[k] == nil { map[k] = v }
            s.skipSpace()
        } while s.take(UInt8(ascii: ","))
        return map
    }
}

/// A cursor over JSON bytes that checks what it passes over.
struct JSONScanner {
    let bytes: UnsafeRawBufferPointer
    var i = 0

    /// A string's content (between its quotes), checked.
    struct StringSpan {
        var range: Range<Int>
        /// Holds a backslash escape: the bytes are not the string's UTF-8.
        var escaped: Bool
    }

    init(_ bytes: UnsafeRawBufferPointer) {
        self.bytes = bytes
    }

    var atEnd: Bool { i == bytes.count }
    var peek: UInt8? { i < bytes.count ? bytes[i] : nil }
    var isNull: Bool { peek == UInt8(ascii: "n") }

    mutating func take(_ byte: UInt8) -> Bool {
        guard peek == byte else { return false }
        i += 1
        return true
    }

    mutating func skipSpace() {
        while let b = peek, b == 0x20 || b == 0x0A || b == 0x0D || b == 0x09 { i += 1 }
    }

    /// Passes over one value; `depth` counts the arrays and objects around it (JSONDecoder's limit, 512).
    mutating func skipValue(depth: Int) throws(JSONFailure) {
        guard let b = peek else { throw .notJSON }
        switch b {
        case UInt8(ascii: "\""):
            _ = try skipString()
        case UInt8(ascii: "{"), UInt8(ascii: "["):
            guard depth < 512 else { throw .notJSON }
            let close = b == UInt8(ascii: "{") ? UInt8(ascii: "}") : UInt8(ascii: "]")
            i += 1
            skipSpace()
            if take(close) { return }
            repeat {
                skipSpace()
                if close == UInt8(ascii: "}") {
                    guard peek == UInt8(ascii: "\"") else { throw .notJSON }
                    _ = try skipString()
                    skipSpace()
                    guard take(UInt8(ascii: ":")) else { throw .notJSON }
                    skipSpace()
                }
                try skipValue(depth: depth + 1)
                skipSpace()
            } while take(UInt8(ascii: ","))
            guard take(close) else { throw .notJSON }
        case UInt8(ascii: "t"): try skipLiteral("true")
        case UInt8(ascii: "f"): try skipLiteral("false")
        case UInt8(ascii: "n"): try skipLiteral("null")
        default: try skipNumber()
        }
    }

    private mutating func skipLiteral(_ word: StaticString) throws(JSONFailure) {
        let n = word.utf8CodeUnitCount
        guard bytes.count - i >= n,
              UnsafeRawBufferPointer(rebasing: bytes[i..<i + n]).elementsEqual(UnsafeRawBufferPointer(start: word.utf8Start, count: n))
        else { throw .notJSON }
        i += n
    }

    /// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`
    mutating func skipNumber() throws(JSONFailure) {
        _ = take(UInt8(ascii: "-"))
        if !take(UInt8(ascii: "0")) { try skipDigits() }
        if take(UInt8(ascii: ".")) { try skipDigits() }
        if take(UInt8(ascii: "e")) || take(UInt8(ascii: "E")) {
            if !take(UInt8(ascii: "+")) { _ = take(UInt8(ascii: "-")) }
            try skipDigits()
        }
    }

    /// One or more digits.
    private mutating func skipDigits() throws(JSONFailure) {
        let start = i
        while let b = peek, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(b) { i += 1 }
        guard i > start else { throw .notJSON }
    }

    /// Passes over the string that starts here (at its quote): no control characters,
    /// only JSON's escapes, surrogates in pairs, valid UTF-8.
    mutating func skipString() throws(JSONFailure) -> StringSpan {
        i += 1
        let start = i
        var escaped = false, ascii = true
        while let b = peek {
            switch b {
            case UInt8(ascii: "\""):
                let range = start..<i
                i += 1
                if !ascii, String(validating: UnsafeRawBufferPointer(rebasing: bytes[range]), as: UTF8.self) == nil {
                    throw .notJSON
                }
                return StringSpan(range: range, escaped: escaped)
            case UInt8(ascii: "\\"):
                escaped = true
                i += 1
                guard let e = peek else { throw .notJSON }
                i += 1
                switch e {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"),
                     UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
                    break
                case UInt8(ascii: "u"):
                    guard unicodeEscape() != nil else { throw .notJSON }
                default:
                    throw .notJSON
                }
            case 0..<0x20:
                throw .notJSON
            default:
                if b >= 0x80 { ascii = false }
                i += 1
            }
        }
        throw .notJSON
    }

    /// The string that starts here (at its quote), unescaped.
    mutating func string() throws(JSONFailure) -> String {
        let span = try skipString()
        return span.escaped ? unescaped(span) : Self.string(UnsafeRawBufferPointer(rebasing: bytes[span.range]))
    }

    /// Checked UTF-8 as a String: a copy, without the generic `String(decoding:)`'s casts.
    static func string(_ utf8: UnsafeRawBufferPointer) -> String {
        guard let from = utf8.baseAddress, !utf8.isEmpty else { return "" }
        return String(unsafeUninitializedCapacity: utf8.count) { to in
            to.baseAddress!.initialize(from: from.assumingMemoryBound(to: UInt8.self), count: utf8.count)
            return utf8.count
        }
    }

    /// A checked span's string, its escapes replaced.
    mutating func unescaped(_ span: StringSpan) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(span.range.count)
        i = span.range.lowerBound
        while i < span.range.upperBound {
            let b = bytes[i]
            i += 1
            guard b == UInt8(ascii: "\\") else {
                out.append(b)
                continue
            }
            let e = bytes[i]
            i += 1
            switch e {
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "u"): UTF8.encode(unicodeEscape() ?? "\u{FFFD}") { out.append($0) }
            default: out.append(e)
            }
        }
        i = span.range.upperBound + 1
        return out.withUnsafeBytes(Self.string)
    }

    /// The scalar of a `\u` escape whose four hex digits start here, and of the
    /// low surrogate's escape after a high one; nil for a lone surrogate or bad hex.
    private mutating func unicodeEscape() -> Unicode.Scalar? {
        guard let unit = hex4() else { return nil }
        switch unit {
        case 0xD800..<0xDC00:
            guard take(UInt8(ascii: "\\")), take(UInt8(ascii: "u")), let low = hex4(), (0xDC00..<0xE000).contains(low) else { return nil }
            return Unicode.Scalar(0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00))
        case 0xDC00..<0xE000:
            return nil
        default:
            return Unicode.Scalar(unit)
        }
    }

    private mutating func hex4() -> UInt32? {
        guard bytes.count - i >= 4 else { return nil }
        var v: UInt32 = 0
        for _ in 0..<4 {
            let b = bytes[i]
            let d: UInt8
            switch b {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): d = b - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): d = b - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): d = b - UInt8(ascii: "A") + 10
            default: return nil
            }
            v = v << 4 | UInt32(d)
            i += 1
        }
        return v
    }
}
