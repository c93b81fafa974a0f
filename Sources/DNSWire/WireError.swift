/// What went wrong while reading or writing a DNS message, and where.
///
/// A value, cheap to make and compare: thrown with typed throws, so a parse
/// failure on the query path allocates nothing.
public struct WireError: Error, Hashable, Sendable, CustomStringConvertible {
    public enum Code: UInt8, Sendable {
        /// Fewer than 12 octets: not even a header.
        case truncatedHeader
        /// A field runs past the end of the message.
        case truncated
        /// A label longer than 63 octets.
        case labelTooLong
        /// A name longer than 255 octets once uncompressed.
        case nameTooLong
        /// A label type of 0b01 or 0b10 (RFC 6891 §5 retired extended labels).
        case reservedLabelType
        /// A compression pointer that does not point backwards to a name, or loops.
        case badPointer
        /// RDLENGTH disagrees with the RDATA it frames.
        case badRDLength
        /// Octets left after the last record the header counts.
        case trailingData
        /// The section counts do not fit this kind of message (e.g. QDCOUNT != 1 in a query).
        case badCount
        /// A second OPT record, an OPT outside the additional section, or with a non-root owner.
        case badOPT
        /// RDATA that does not parse as its type requires.
        case badRData
        /// The output buffer is too small.
        case noSpace
        /// A text name that is not valid (empty label, bad escape, ...).
        case badName
    }

    /// The fields an error can point at.
    public enum Field: UInt8, Sendable {
        case header, questionName, questionType, questionClass
        case recordName, recordType, recordClass, recordTTL, rdLength, rdata
        case optOption, output
    }

    public let code: Code
    public let field: Field
    /// Offset into the message (or the text) where the problem was found.
    public let offset: Int

    @inlinable
    public init(_ code: Code, _ field: Field, at offset: Int) {
        self.code = code
        self.field = field
        self.offset = offset
    }

    public var description: String { "\(code) in \(field) at offset \(offset)" }
}
