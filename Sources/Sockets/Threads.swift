#if canImport(Glibc)
import CSocketBatch
import Glibc
#endif
import CSocketBatch

/// Threads of their own (pthreads) for loops that block in system calls, so
/// they never starve Dispatch's shared pool.
extension Syscalls {
    /// Starts a joinable thread running `body`.
    public static func startThread(_ body: @escaping @Sendable () -> Void) throws(Errno) -> pthread_t {
        final class Box: @unchecked Sendable {
            let body: @Sendable () -> Void
            init(_ body: @escaping @Sendable () -> Void) { self.body = body }
        }
        let box = Unmanaged.passRetained(Box(body)).toOpaque()
        var thread = pthread_t()
        let rc = pthread_create(&thread, nil, { arg in
            let box = Unmanaged<Box>.fromOpaque(arg!).takeRetainedValue()
            box.body()
            return nil
        }, box)
        guard rc == 0 else {
            Unmanaged<Box>.fromOpaque(box).release()
            throw Errno("pthread_create", rc)
        }
        return thread
    }

    /// Names the calling thread (15 octets at most: longer names are cut), for top -H and
    /// /proc/PID/task/TID/comm; a name that cannot be set is no error.
    public static func nameThisThread(_ name: String) {
        _ = sixpn_pthread_setname_np(pthread_self(), String(name.utf8.prefix(15))!)
    }

    /// Gives the calling thread a nice value of its own (Linux's setpriority(2) takes a
    /// thread's ID): a positive one lets every thread at the default preempt it. A value
    /// that cannot be set is no error.
    public static func setThisThreadsNice(_ nice: Int32) {
        _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), id_t(sixpn_gettid()), nice)
    }

    public static func join(_ thread: pthread_t) {
        _ = pthread_join(thread, nil)
    }

    /// Lets freed heap memory be reused instead of given back and faulted in
    /// again (mallopt(3)): up to `keep` bytes free at the top of a heap stay
    /// with the process, and blocks up to `heapBlocks` bytes (glibc allows
    /// 32 MiB at most) come from the heap rather than from their own mmap;
    /// threads started after the call share the heap they find rather than
    /// each making its own (`M_ARENA_MAX` 1), so that memory one thread frees
    /// is reused by the next one that allocates. Process-wide.
    public static func keepFreedHeapMemory(keep: Int32, heapBlocks: Int32) {
        mallopt(M_MMAP_THRESHOLD, heapBlocks)
        mallopt(M_TRIM_THRESHOLD, keep)
        mallopt(M_ARENA_MAX, 1)
    }

    /// Sleeps the calling thread (nanosleep, resumed after a signal).
    public static func sleep(nanoseconds: Int64) {
        var request = timespec(tv_sec: Int(nanoseconds / 1_000_000_000), tv_nsec: Int(nanoseconds % 1_000_000_000))
        var remaining = timespec()
        while nanosleep(&request, &remaining) != 0, errno == EINTR { request = remaining }
    }

    /// A small number that differs between threads, for spreading shared
    /// counters over cache lines (sched_getcpu is not in Swift's Glibc).
    @inlinable @inline(__always)
    public static func threadSpread() -> UInt {
        (UInt(pthread_self()) >> 12) &* 0x9E37_79B9_7F4A_7C15
    }
}

extension Duration {
    /// Whole nanoseconds (saturating), for arithmetic with ``Syscalls/now()``.
    @inlinable
    public var nanoseconds: Int64 {
        let (s, a) = components
        return s.multipliedReportingOverflow(by: 1_000_000_000).overflow ? .max
            : s * 1_000_000_000 + a / 1_000_000_000
    }
}
