// Zone-file style text (RFC 1035 §5.1, RFC 3597 §5) for logs, tools and
// test failures. Not for the query path: it builds strings.

extension RData: CustomStringConvertible {
    public var description: String {
        switch self {
        case .a(let a): return a.description
        case .aaaa(let a): return a.description
        case .ns(let n), .cname(let n), .ptr(let n): return n.description
        case .soa(let s):
            return "\(s.mname) \(s.rname) \(s.serial) \(s.refresh) \(s.retry) \(s.expire) \(s.minimum)"
        case .mx(let preference, let exchange): return "\(preference) \(exchange)"
        case .txt(let strings): return strings.map(Self.quoted).joined(separator: " ")
        case .srv(let s): return "\(s.priority) \(s.weight) \(s.port) \(s.target)"
        case .opt(let options):
            return options.map { "\($0.code):\(Self.hex($0.data))" }.joined(separator: " ")
        case .opaque(let data): return data.isEmpty ? "\\# 0" : "\\# \(data.count) \(Self.hex(data))"
        }
    }

    /// A character-string in double quotes, with `"` and `\` escaped and
    /// octets outside printable ASCII as `\DDD`.
    static func quoted(_ s: [UInt8]) -> String {
        var out = "\""
        for b in s {
            switch b {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"): out += "\\" + String(UnicodeScalar(b))
            case 0x20...0x7e: out += String(UnicodeScalar(b))
            default:
                let d = String(b)
                out += "\\" + String(repeating: "0", count: 3 - d.count) + d
            }
        }
        return out + "\""
    }

    static func hex(_ data: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(data.count * 2)
        for b in data {
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 0xf)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}

extension Question: CustomStringConvertible {
    public var description: String { "\(name) \(self.class) \(type)" }
}

extension Record: CustomStringConvertible {
    /// `owner TTL CLASS TYPE RDATA`; the OPT pseudo-record as its EDNS facts.
    public var description: String {
        if let e = EDNSRecord(self) {
            let options = rdata.description
            return "; EDNS version \(e.version), udp \(e.udpPayloadSize), extended rcode \(e.extendedRCode)"
                + (e.dnssecOK ? ", do" : "") + (options.isEmpty ? "" : ", options \(options)")
        }
        return "\(name) \(ttl) \(self.class) \(type) \(rdata)"
    }
}

extension Message: CustomStringConvertible {
    /// A dig-like rendering: the header line, then each non-empty section.
    public var description: String {
        var flags: [String] = []
        if header.isResponse { flags.append("qr") }
        if header.authoritative { flags.append("aa") }
        if header.truncated { flags.append("tc") }
        if header.recursionDesired { flags.append("rd") }
        if header.recursionAvailable { flags.append("ra") }
        if header.authenticData { flags.append("ad") }
        if header.checkingDisabled { flags.append("cd") }
        var lines = [";; opcode \(header.opcode.rawValue), \(rcode), id \(header.id), flags: \(flags.joined(separator: " "))"]
        func section(_ title: String, _ items: [String]) {
            guard !items.isEmpty else { return }
            lines.append(";; \(title)")
            lines += items
        }
        section("QUESTION", questions.map { "; \($0)" })
        section("ANSWER", answers.map(\.description))
        section("AUTHORITY", authority.map(\.description))
        section("ADDITIONAL", additional.map(\.description))
        return lines.joined(separator: "\n")
    }
}
