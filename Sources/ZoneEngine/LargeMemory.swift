import Glibc

/// Memory for a snapshot's big arrays, taken straight from mmap and marked
/// for transparent huge pages: a lookup touches a few random places in
/// hundreds of megabytes, and with 4 KiB pages each of them also misses the TLB.
///
/// A region is reserved (virtual only, MAP_NORESERVE) up to the most it can
/// ever need and grows by being touched.
/// Where the kernel refuses such a reservation, plain malloc memory is used.
struct LargeMemory {
    let base: UnsafeMutableRawPointer
    /// Bytes mapped (or allocated): what ``release()`` gives back.
    private(set) var byteCount: Int
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
