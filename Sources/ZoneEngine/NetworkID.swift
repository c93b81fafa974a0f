/// The text form of a 32-bit 6PN network ID: hexadecimal, as it appears in
/// the address (`fdaa:NNNN:NNNN::`), written as 8 digits.
public enum NetworkID {
    /// Parses 1 to 8 hex digits, with or without `0x`; network ID 0 is not an organization.
    public static func parse(_ text: String) throws(DatabaseError) -> UInt32 {
        let digits = text.hasPrefix("0x") || text.hasPrefix("0X") ? String(text.dropFirst(2)) : text
        guard (1...8).contains(digits.count), let v = UInt32(digits, radix: 16) else {
            throw DatabaseError(.badInput, "network ID \"\(text)\" is not 1-8 hex digits")
        }
        guard v != 0 else { throw DatabaseError(.badInput, "network ID 0 is not an organization") }
        return v
    }

    /// 8 lower-case hex digits.
    public static func format(_ v: UInt32) -> String { hex8(v) }
}

/// `v` as 8 lower-case hex digits (network, host and instance IDs).
func hex8(_ v: UInt32) -> String {
    let s = String(v, radix: 16)
    return String(repeating: "0", count: 8 - s.count) + s
}
