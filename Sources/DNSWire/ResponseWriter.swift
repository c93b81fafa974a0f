/// Writes a response into a caller-owned buffer, never past `limit` octets.
///
/// The query path uses it to copy prepared records: the header and question
/// come from the query (the client's ID and case survive), records are
/// appended as whole RRsets, and when an RRset does not fit it is left out
/// whole and TC is set (RFC 2181 §9). Room for the OPT record is reserved up
/// front, so EDNS never pushes a response past the limit. Nothing allocates.
public struct ResponseWriter {
    public let buffer: UnsafeMutableRawBufferPointer
    /// The most octets the response may take (e.g. the client's UDP payload size).
    public let limit: Int
    /// The header as it stands (counts so far); written out by `finish`.
    public var header: Header { _header }
    /// Octets written so far.
    public var position: Int { _position }
    @usableFromInline var _header: Header
    @usableFromInline var _position: Int
    /// Octets held back for the OPT record that `finish` writes.
    @usableFromInline var reserved: Int
    @usableFromInline var edns: EDNS?
    /// The Extended DNS Error (RFC 8914) that `finish` puts in the OPT record, if any, and its EXTRA-TEXT
    /// (one octet: its text comes from a table).
    @usableFromInline var extendedError: UInt16?
    @usableFromInline var extendedErrorText: ExtendedErrorText

    /// The OPT record with no options: root owner, TYPE, CLASS, TTL, RDLENGTH.
    public static let optSize = 11
    /// An Extended DNS Error option with an INFO-CODE and no EXTRA-TEXT: OPTION-CODE 15, length 2, code.
    public static let extendedErrorSize = 6

    /// A place to return to when an RRset, written piece by piece, does not fit.
    public struct Mark: Sendable {
        @usableFromInline let position: Int
        @usableFromInline let header: Header
        @inlinable init(position: Int, header: Header) {
            self.position = position
            self.header = header
        }
    }

    /// Starts a response; `limit` is clamped to the buffer's size, which must
    /// hold at least a header (a smaller one is a programming error).
    /// Always inlined, like `finish`: every answer makes one, and the call cost more than the body.
    @inlinable @inline(__always)
    public init(buffer: UnsafeMutableRawBufferPointer, limit: Int) {
        precondition(buffer.count >= Header.size, "a response buffer must hold at least a header")
        self.buffer = buffer
        self.limit = min(limit, buffer.count)
        self._header = Header()
        self._position = Header.size
        self.reserved = 0
        self.edns = nil
        self.extendedError = nil
        self.extendedErrorText = .none
    }

    /// Writes the response header and copies the question as the client sent it.
    ///
    /// ID, OPCODE, RD and CD come from the query; QR is set; AA and RA as given.
    /// When `edns` is given an OPT record will close the response, and its room
    /// is reserved now. Fails (returns false) only when the question alone
    /// does not fit.
    @inlinable
    public mutating func start(query: Query, bytes: UnsafeRawBufferPointer, rcode: RCode,
                               authoritative: Bool, recursionAvailable: Bool, edns: EDNS?) -> Bool {
        var h = Header(id: query.header.id)
        h.flags = Header.qrBit | (query.header.flags & (0x7800 | Header.rdBit | Header.cdBit))
        h.set(Header.aaBit, authoritative)
        h.set(Header.raBit, recursionAvailable)
        h.setRCodeBits(rcode)
        self.edns = edns
        self.reserved = edns == nil ? 0 : ResponseWriter.optSize
        if var e = self.edns { e.extendedRCode = rcode.extendedBits; self.edns = e }
        let qLen = query.questionEnd - Header.size
        guard Header.size + qLen + reserved <= limit else {
            // Not even the question fits: what `finish` can still send is a bare header.
            _header = h
            _position = Header.size
            self.edns = nil
            reserved = 0
            return false
        }
        buffer.baseAddress!.advanced(by: Header.size)
            .copyMemory(from: bytes.baseAddress!.advanced(by: Header.size), byteCount: qLen)
        h.qdCount = 1
        _header = h
        _position = Header.size + qLen
        return true
    }

    /// Writes a header with no question (a reply to a query whose question
    /// could not be read), with the query's ID and opcode.
    @inlinable
    public mutating func startWithoutQuestion(id: UInt16, queryFlags: UInt16, rcode: RCode) {
        var h = Header(id: id)
        h.flags = Header.qrBit | (queryFlags & (0x7800 | Header.rdBit | Header.cdBit))
        h.setRCodeBits(rcode)
        _header = h
        _position = Header.size
        reserved = 0
        edns = nil
        extendedError = nil
        extendedErrorText = .none
    }

    /// Adds an Extended DNS Error (RFC 8914 §2: INFO-CODE `code`, and `text`
    /// as its EXTRA-TEXT, which §4.1 asks for with code 0) to the OPT record
    /// that `finish` writes, and reserves its octets now: call it before
    /// appending records. Nothing is added (false) to a response without EDNS
    /// (the client could not read it, §3), a second time, or when the octets
    /// do not fit.
    @inlinable
    @discardableResult
    public mutating func addExtendedError(_ code: UInt16, text: ExtendedErrorText = .none) -> Bool {
        let size = ResponseWriter.extendedErrorSize + text.text.utf8CodeUnitCount
        guard edns != nil, extendedError == nil, _position + reserved + size <= limit else { return false }
        extendedError = code
        extendedErrorText = text
        reserved += size
        return true
    }

    /// Changes the response code (header bits and, with EDNS, the extended bits).
    @inlinable
    public mutating func setRCode(_ rcode: RCode) {
        _header.setRCodeBits(rcode)
        if var e = edns { e.extendedRCode = rcode.extendedBits; edns = e }
    }

    @inlinable
    public mutating func setFlag(_ bit: UInt16, _ on: Bool) {
        _header.set(bit, on)
    }

    /// Octets still free for records.
    @inlinable public var remaining: Int { limit - reserved - _position }

    @inlinable public var mark: Mark { Mark(position: _position, header: header) }

    /// Forgets everything written since `mark`.
    @inlinable
    public mutating func rollback(to mark: Mark) {
        _position = mark.position
        let tc = _header.flags & Header.tcBit
        _header = mark.header
        _header.flags |= tc
    }

    /// Appends `count` complete, already encoded records to `section`.
    ///
    /// Sections must be written in order (answer, authority, additional).
    /// When they do not fit nothing is written and false is returned; for the
    /// answer and authority sections TC is set too (leaving out additional
    /// data needs no TC, RFC 2181 §9).
    @inlinable @inline(__always)
    @discardableResult
    public mutating func append(_ section: Section, records: UnsafeRawBufferPointer, count: Int) -> Bool {
        guard records.count <= remaining else {
            if section != .additional { _header.flags |= Header.tcBit }
            return false
        }
        if records.count > 0 {
            buffer.baseAddress!.advanced(by: _position).copyMemory(from: records.baseAddress!, byteCount: records.count)
        }
        _position += records.count
        switch section {
        case .answer: _header.anCount &+= UInt16(truncatingIfNeeded: count)
        case .authority: _header.nsCount &+= UInt16(truncatingIfNeeded: count)
        case .additional: _header.arCount &+= UInt16(truncatingIfNeeded: count)
        }
        return true
    }

    /// Writes the Extended DNS Error option (and its EXTRA-TEXT) at `at`, right
    /// after an OPT record whose RDLENGTH is at `rdlength`, sets that RDLENGTH,
    /// and returns the option's size. Errors only: kept out of line, and
    /// static (it takes no `inout self`), so that `finish`, which every answer
    /// inlines, stays small and keeps the writer in registers (inlined, or as
    /// a mutating method, it cost 27 to 47 instructions per answer, callgrind).
    @usableFromInline @inline(never)
    static func writeExtendedError(_ code: UInt16, text: ExtendedErrorText, at: UnsafeMutableRawPointer,
                                   rdlength: UnsafeMutableRawPointer) -> Int {
        let textLength = text.text.utf8CodeUnitCount
        let length = extendedErrorSize + textLength
        rdlength.storeBytes(of: UInt16(length).bigEndian, as: UInt16.self)
        let option: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) = (
            0, UInt8(EDNSOption.extendedError), 0, UInt8(2 + textLength), UInt8(code >> 8), UInt8(truncatingIfNeeded: code))
        withUnsafeBytes(of: option) { at.copyMemory(from: $0.baseAddress!, byteCount: extendedErrorSize) }
        if textLength > 0 {
            (at + extendedErrorSize).copyMemory(from: text.text.utf8Start, byteCount: textLength)
        }
        return length
    }

    /// Writes the OPT record (when the response has EDNS) and the final header.
    ///
    /// The OPT carries our `udpPayloadSize`, version 0, the DO bit echoed from
    /// the query (RFC 3225 §3) and no options but an Extended DNS Error when
    /// one was added.
    /// - Returns: the response's length in octets.
    @inlinable @inline(__always)
    public mutating func finish() -> Int {
        if let e = edns {
            let p = buffer.baseAddress!.advanced(by: _position)
            let ttl = UInt32(e.extendedRCode) << 24 | UInt32(e.version) << 16 | UInt32(e.flags & EDNS.doBit)
            let opt: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) = (
                0, 0, 41, UInt8(e.udpPayloadSize >> 8), UInt8(truncatingIfNeeded: e.udpPayloadSize),
                UInt8(ttl >> 24), UInt8(truncatingIfNeeded: ttl >> 16), UInt8(truncatingIfNeeded: ttl >> 8),
                UInt8(truncatingIfNeeded: ttl), 0, 0)
            withUnsafeBytes(of: opt) { p.copyMemory(from: $0.baseAddress!, byteCount: ResponseWriter.optSize) }
            _position += ResponseWriter.optSize
            if let code = extendedError {
                _position += ResponseWriter.writeExtendedError(code, text: extendedErrorText, at: p + ResponseWriter.optSize,
                                                               rdlength: p + ResponseWriter.optSize - 2)
                extendedError = nil
                extendedErrorText = .none
            }
            _header.arCount &+= 1
            reserved = 0
            edns = nil
        }
        _header.write(to: buffer)
        return _position
    }
}
