/// The rules a name from the database must follow to become one DNS label:
/// letters, digits and hyphens (RFC 952/1123), 1 to 63 octets, no hyphen at
/// either end, lower case (names are matched case-insensitively).
enum Label {
    /// Region names that would collide with the fixed names under `<app>.internal`.
    static let reservedRegions: Set<String> = ["global", "regions", "vms", "vm", "of", "process"]

    /// True when `bytes` is already a valid, lower-case label.
    static func isValid(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard (1...63).contains(bytes.count), bytes.first != 0x2d, bytes.last != 0x2d else { return false }
        for b in bytes {
            switch b {
            case 0x61...0x7a, 0x30...0x39, 0x2d: continue
            default: return false
            }
        }
        return true
    }

    /// Folds `text` to lower case and checks it; `what` names it in the error ("app name").
    static func normalized(_ text: String, what: String) throws(DatabaseError) -> String {
        // Already a lower-case label (what writers store): checked in place, not copied.
        if text.utf8.withContiguousStorageIfAvailable({ isValid(UnsafeRawBufferPointer($0)) }) == true { return text }
        let lower = String(decoding: text.utf8.map { $0 &- 0x41 < 26 ? $0 | 0x20 : $0 }, as: UTF8.self)
        let ok = Array(lower.utf8).withUnsafeBytes { isValid($0) }
        guard ok else {
            throw DatabaseError(.badInput, "\(what) \"\(text)\" is not a DNS label (1-63 letters, digits or '-', not starting or ending with '-')")
        }
        return lower
    }
}
