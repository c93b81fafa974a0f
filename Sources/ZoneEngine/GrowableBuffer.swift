/// An array of plain values in one ``LargeMemory`` reservation: it grows in
/// place and never copies.
///
/// The builder's scratch: one organization is prepared in it, then copied
/// into the ``OrgZone``'s own memory; ``free()`` releases it.
struct GrowableBuffer<Element: BitwiseCopyable> {
    /// Where element 0 would lie: `origin` elements before the reservation
    /// (see ``removeAll(origin:)``), so that `base[i]` is element `i`.
    private(set) var base: UnsafeMutablePointer<Element>
    /// The index the next element gets: `origin` plus the elements written.
    private(set) var count = 0
    /// The index of the first element written (0 unless ``removeAll(origin:)`` said otherwise).
    private(set) var origin = 0
    private let capacity: Int
    private var memory: LargeMemory?

    /// A buffer that can hold up to `limit` elements (reserved, not allocated).
    init(limit: Int) throws(SnapshotError) {
        guard let m = LargeMemory.reserve(limit * MemoryLayout<Element>.stride) else {
            throw SnapshotError(description: "build snapshot: cannot reserve address space for \(limit) \(Element.self)")
        }
        memory = m
        capacity = limit
        base = m.base.bindMemory(to: Element.self, capacity: limit)
    }

    @inline(__always)
    mutating func append(_ e: Element) {
        precondition(count - origin < capacity, "zone snapshot larger than its \(capacity) \(Element.self) limit")
        base[count] = e
        count += 1
    }

    mutating func append(contentsOf elements: UnsafeBufferPointer<Element>) {
        guard let from = elements.baseAddress, elements.count > 0 else { return }
        precondition(count - origin + elements.count <= capacity, "zone snapshot larger than its \(capacity) \(Element.self) limit")
        (base + count).update(from: from, count: elements.count)
        count += elements.count
    }

    subscript(i: Int) -> Element {
        get { base[i] }
        set { base[i] = newValue }
    }

    /// Empties the buffer and keeps its memory, for the next organization.
    mutating func removeAll() {
        removeAll(origin: 0)
    }

    /// Empties the buffer; the next element written gets index `origin`
    /// (and lies at the reservation's start). The arena continues an
    /// organization's storage this way: what the builder writes carries the
    /// offsets it will have there.
    mutating func removeAll(origin: Int) {
        base = base + self.origin - origin
        self.origin = origin
        count = origin
    }

    /// The elements written, from `origin` on.
    var written: Int { count - origin }

    /// Releases what was not taken. The buffer must not be used afterwards.
    func free() {
        memory?.release()
    }
}

extension GrowableBuffer where Element == UInt8 {
    @inline(__always)
    mutating func append(contentsOf bytes: UnsafeRawBufferPointer) {
        guard bytes.count > 0 else { return }
        precondition(count - origin + bytes.count <= capacity, "zone snapshot larger than its \(capacity)-octet limit")
        UnsafeMutableRawPointer(base + count).copyMemory(from: bytes.baseAddress!, byteCount: bytes.count)
        count += bytes.count
    }

    /// What was written, as raw octets (valid until the next append or removeAll).
    var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base + origin, count: count - origin) }

    /// The octets of `range`.
    @inline(__always)
    func bytes(_ range: Range<Int>) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: base + range.lowerBound, count: range.count)
    }

    @inline(__always)
    mutating func append16(_ v: UInt16) {
        append(UInt8(v >> 8))
        append(UInt8(truncatingIfNeeded: v))
    }

    @inline(__always)
    mutating func append32(_ v: UInt32) {
        append16(UInt16(v >> 16))
        append16(UInt16(truncatingIfNeeded: v))
    }

    /// Overwrites two octets already written at `offset`.
    mutating func set16(_ v: UInt16, at offset: Int) {
        base[offset] = UInt8(v >> 8)
        base[offset + 1] = UInt8(truncatingIfNeeded: v)
    }
}

/// A snapshot that could not be built for a reason of its own, not the
/// database's (that is a ``SQLiteError``): the builder could not reserve its memory.
public struct SnapshotError: Error, Hashable, Sendable, CustomStringConvertible {
    public let description: String
}
