import Glibc

/// Memory for the snapshot builder's scratch arrays, taken straight from
/// mmap and marked for transparent huge pages: a region is reserved
/// (virtual only, MAP_NORESERVE) up to the most it can ever need and grows
/// by being touched, so no organization, however large, makes it copy.
/// Where the kernel refuses such a reservation, plain malloc memory is used.
struct LargeMemory {
    let base: UnsafeMutableRawPointer
    /// Bytes mapped (or allocated): what ``release()`` gives back.
    let byteCount: Int
    let mapped: Bool

    static let hugePage = 2 << 20

    /// Reserves `byteCount` bytes of zeroed memory; nil when neither mmap nor malloc can.
    static func reserve(_ byteCount: Int) -> LargeMemory? {
        let p = mmap(nil, byteCount, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0)
        if let p, p != MAP_FAILED {
            _ = madvise(p, byteCount, MADV_HUGEPAGE)
            return LargeMemory(base: p, byteCount: byteCount, mapped: true)
        }
        guard let m = calloc(byteCount, 1) else { return nil }
        return LargeMemory(base: m, byteCount: byteCount, mapped: false)
    }

    func release() {
        if mapped { munmap(base, byteCount) } else { free(base) }
    }
}
