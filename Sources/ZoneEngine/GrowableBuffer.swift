import Glibc

/// A malloc'd array of plain values that grows in place with realloc, so
/// that building a million-instance snapshot never holds two copies of it.
///
/// The builder owns it until ``take()`` hands the memory to a ``Snapshot``,
/// which frees it; whatever is not taken is freed with ``free()``.
struct GrowableBuffer<Element: BitwiseCopyable> {
    private(set) var base: UnsafeMutablePointer<Element>?
    private(set) var count = 0
    private var capacity = 0

    init() {}

    @inline(__always)
    mutating func append(_ e: Element) {
        if count == capacity { grow(to: count + 1) }
        base![count] = e
        count += 1
    }

    subscript(i: Int) -> Element {
        get { base![i] }
        set { base![i] = newValue }
    }

    mutating func grow(to minimum: Int) {
        guard minimum > capacity else { return }
        let newCapacity = Swift.max(minimum, capacity * 2, 1024)
        guard let p = realloc(base, newCapacity * MemoryLayout<Element>.stride) else {
            fatalError("out of memory building a zone snapshot (\(newCapacity) \(Element.self))")
        }
        base = p.bindMemory(to: Element.self, capacity: newCapacity)
        capacity = newCapacity
    }

    /// Hands over the memory, shrunk to fit; the buffer is empty afterwards.
    mutating func take() -> UnsafeMutablePointer<Element> {
        let n = Swift.max(count, 1)
        if capacity != n, let p = realloc(base, n * MemoryLayout<Element>.stride) {
            base = p.bindMemory(to: Element.self, capacity: n)
        } else if base == nil {
            grow(to: 1)
        }
        defer { base = nil; count = 0; capacity = 0 }
        return base!
    }

    mutating func free() {
        Glibc.free(base)
        base = nil
        count = 0
        capacity = 0
    }
}

extension GrowableBuffer where Element == UInt8 {
    @inline(__always)
    mutating func append(contentsOf bytes: UnsafeRawBufferPointer) {
        guard bytes.count > 0 else { return }
        if count + bytes.count > capacity { grow(to: count + bytes.count) }
        UnsafeMutableRawPointer(base! + count).copyMemory(from: bytes.baseAddress!, byteCount: bytes.count)
        count += bytes.count
    }

    mutating func append(contentsOf bytes: [UInt8]) {
        bytes.withUnsafeBytes { append(contentsOf: $0) }
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
        base![offset] = UInt8(v >> 8)
        base![offset + 1] = UInt8(truncatingIfNeeded: v)
    }
}
