/// The receive side of a DNS-over-TCP connection (RFC 1035 §4.2.2, RFC 7766 §8):
/// each message is preceded by its length as two octets, messages may be
/// pipelined back to back, and a read may end anywhere, even inside a prefix.
///
/// Reads go straight into ``freeSpace``; ``nextMessage()`` hands out each
/// complete message in place, and ``compact()`` moves a partial tail to the
/// front. The buffer holds the largest message (65535 octets) plus its prefix.
public struct TCPFraming: ~Copyable {
    public static let capacity = 2 + 65535

    @usableFromInline let storage: UnsafeMutableRawBufferPointer
    /// Octets received and not yet handed out, starting at `start`.
    @usableFromInline var start = 0
    @usableFromInline var end = 0

    public init() {
        storage = .allocate(byteCount: Self.capacity, alignment: 8)
    }

    deinit {
        storage.deallocate()
    }

    /// Where the next read goes (empty when a whole message is waiting to be handed out).
    public var freeSpace: UnsafeMutableRawBufferPointer {
        UnsafeMutableRawBufferPointer(rebasing: storage[end...])
    }

    /// Records that a read put `n` octets into ``freeSpace``.
    public mutating func didRead(_ n: Int) {
        end += n
    }

    /// True when octets of an unfinished message are held.
    public var hasPartialMessage: Bool { end > start }

    /// The next complete message, or nil. A message of length 0 (nothing a
    /// DNS peer sends) is returned as an empty buffer for the caller to treat
    /// as an error. Valid until ``compact()``.
    public mutating func nextMessage() -> UnsafeRawBufferPointer? {
        guard end - start >= 2 else { return nil }
        let length = Int(storage[start]) << 8 | Int(storage[start + 1])
        guard end - start >= 2 + length else { return nil }
        let message = UnsafeRawBufferPointer(rebasing: storage[(start + 2)..<(start + 2 + length)])
        start += 2 + length
        return message
    }

    /// Moves what is left of a partial message to the front, making room for the next read.
    public mutating func compact() {
        if start == end {
            start = 0
            end = 0
            return
        }
        guard start > 0 else { return }
        let held = end - start
        storage.baseAddress!.copyMemory(from: storage.baseAddress! + start, byteCount: held)
        start = 0
        end = held
    }
}

/// The send side of a TCP connection: length-prefixed replies queued in
/// order of completion and written as the socket takes them.
public struct TCPOutput {
    @usableFromInline var bytes: [UInt8] = []
    @usableFromInline var sent = 0

    public init() {}

    /// Queues one message with its length prefix.
    public mutating func append(message: UnsafeRawBufferPointer) {
        bytes.append(UInt8(message.count >> 8))
        bytes.append(UInt8(truncatingIfNeeded: message.count))
        bytes.append(contentsOf: message)
    }

    /// Octets queued and not yet written.
    public var pending: Int { bytes.count - sent }

    /// Writes as much as `write` takes (it returns how many octets it took,
    /// 0 when the socket is full); returns false when `write` failed.
    public mutating func flush(_ write: (UnsafeRawBufferPointer) throws(Errno) -> Int) -> Bool {
        while sent < bytes.count {
            let n: Int
            do {
                n = try bytes.withUnsafeBytes { b throws(Errno) in try write(UnsafeRawBufferPointer(rebasing: b[sent...])) }
            } catch {
                return false
            }
            if n == 0 { break }
            sent += n
        }
        if sent == bytes.count {
            bytes.removeAll(keepingCapacity: true)
            sent = 0
        }
        return true
    }
}
