/// A domain name held as its uncompressed wire form, in the case it was given.
///
/// Equality and hashing ignore ASCII case (RFC 4343), so a name keeps the
/// case a client sent (0x20 randomisation survives) and still compares equal.
/// For the query path use ``WireReader`` over the message instead: this type
/// owns an array and is for building zones, tests and tools.
public struct DNSName: Hashable, Sendable, CustomStringConvertible {
    /// Length-prefixed labels ending with the root label (a zero octet).
    public let wire: [UInt8]

    public static let root = DNSName(uncheckedWire: [0])

    /// Wraps wire octets that are known to be a valid, uncompressed name.
    public init(uncheckedWire: [UInt8]) { self.wire = uncheckedWire }

    /// Checks and wraps uncompressed wire octets.
    public init(wire: [UInt8]) throws(WireError) {
        var result: Result<(end: Int, length: Int), WireError> = .failure(WireError(.badName, .recordName, at: 0))
        wire.withUnsafeBytes { b in
            do throws(WireError) { result = .success(try WireReader(b).skipName(at: 0, .recordName)) } catch { result = .failure(error) }
        }
        let (end, length) = try result.get()
        guard end == wire.count, length == wire.count else { throw WireError(.badName, .recordName, at: end) }
        self.wire = wire
    }

    /// Parses presentation format: dot-separated labels, an optional final
    /// dot, `\.` and `\\` style escapes and `\DDD` decimal escapes.
    /// The name is always taken as fully qualified.
    public init(_ text: String) throws(WireError) {
        var out: [UInt8] = []
        out.reserveCapacity(text.utf8.count + 2)
        var label: [UInt8] = []
        let s = Array(text.utf8)
        if s == [UInt8(ascii: ".")] { self.wire = [0]; return }
        var i = 0
        func endLabel(at i: Int) throws(WireError) {
            guard !label.isEmpty else { throw WireError(.badName, .recordName, at: i) }
            guard label.count <= 63 else { throw WireError(.labelTooLong, .recordName, at: i) }
            out.append(UInt8(label.count))
            out.append(contentsOf: label)
            label.removeAll(keepingCapacity: true)
        }
        while i < s.count {
            let c = s[i]
            if c == UInt8(ascii: ".") {
                try endLabel(at: i)
                i += 1
                continue
            }
            if c == UInt8(ascii: "\\") {
                guard i + 1 < s.count else { throw WireError(.badName, .recordName, at: i) }
                let d = s[i + 1]
                if d >= UInt8(ascii: "0"), d <= UInt8(ascii: "9") {
                    var v = 0
                    for k in 1...3 {
                        guard i + k < s.count, s[i + k] >= UInt8(ascii: "0"), s[i + k] <= UInt8(ascii: "9") else {
                            throw WireError(.badName, .recordName, at: i)
                        }
                        v = v * 10 + Int(s[i + k] - UInt8(ascii: "0"))
                    }
                    guard v <= 255 else { throw WireError(.badName, .recordName, at: i) }
                    label.append(UInt8(v))
                    i += 4
                } else {
                    label.append(d)
                    i += 2
                }
                continue
            }
            label.append(c)
            i += 1
        }
        if !label.isEmpty { try endLabel(at: i) }
        out.append(0)
        guard out.count <= 255 else { throw WireError(.nameTooLong, .recordName, at: 0) }
        self.wire = out
    }

    /// The labels, without the root label.
    public var labels: [ArraySlice<UInt8>] {
        var result: [ArraySlice<UInt8>] = []
        var i = 0
        while i < wire.count, wire[i] != 0 {
            let n = Int(wire[i])
            result.append(wire[(i + 1)..<(i + 1 + n)])
            i += 1 + n
        }
        return result
    }

    public var labelCount: Int { labels.count }

    /// The same name with ASCII letters folded to lower case.
    public var lowercased: DNSName {
        var w = wire
        var i = 0
        while i < w.count, w[i] != 0 {
            let n = Int(w[i])
            for k in (i + 1)..<(i + 1 + n) where w[k] &- 0x41 < 26 { w[k] |= 0x20 }
            i += 1 + n
        }
        return DNSName(uncheckedWire: w)
    }

    /// `child` prepended as a new leftmost label.
    public func prepending(_ label: String) throws(WireError) -> DNSName {
        let l = Array(label.utf8)
        guard !l.isEmpty else { throw WireError(.badName, .recordName, at: 0) }
        guard l.count <= 63 else { throw WireError(.labelTooLong, .recordName, at: 0) }
        guard wire.count + l.count + 1 <= 255 else { throw WireError(.nameTooLong, .recordName, at: 0) }
        return DNSName(uncheckedWire: [UInt8(l.count)] + l + wire)
    }

    /// True when `self` is `other` or below it (case-insensitive).
    public func isSubdomain(of other: DNSName) -> Bool {
        guard other.wire.count <= wire.count else { return false }
        let a = lowercased.wire, b = other.lowercased.wire
        let start = a.count - b.count
        guard a[start...].elementsEqual(b) else { return false }
        // The suffix must begin on a label boundary.
        var i = 0
        while i < start { i += 1 + Int(a[i]) }
        return i == start
    }

    public static func == (a: DNSName, b: DNSName) -> Bool {
        guard a.wire.count == b.wire.count else { return false }
        for i in 0..<a.wire.count {
            var x = a.wire[i], y = b.wire[i]
            if x &- 0x41 < 26 { x |= 0x20 }
            if y &- 0x41 < 26 { y |= 0x20 }
            if x != y { return false }
        }
        return true
    }

    public func hash(into hasher: inout Hasher) {
        for b in wire { hasher.combine(b &- 0x41 < 26 ? b | 0x20 : b) }
    }

    /// Presentation format, fully qualified (ends with "."), with escapes for
    /// dots, backslashes and octets outside printable ASCII.
    public var description: String {
        if wire == [0] { return "." }
        var out = ""
        for label in labels {
            for b in label {
                switch b {
                case UInt8(ascii: "."), UInt8(ascii: "\\"), UInt8(ascii: "\""), UInt8(ascii: "("), UInt8(ascii: ")"),
                     UInt8(ascii: ";"), UInt8(ascii: "@"), UInt8(ascii: "$"):
                    out += "\\" + String(UnicodeScalar(b))
                case 0x21...0x7e:
                    out += String(UnicodeScalar(b))
                default:
                    let d = String(b)
                    out += "\\" + String(repeating: "0", count: 3 - d.count) + d
                }
            }
            out += "."
        }
        return out
    }
}
