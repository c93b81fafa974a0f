#if canImport(Glibc)
import Glibc
#endif
import Atomics
import CSocketBatch
import Sockets

/// A dedicated OS thread (pthread) for a loop that blocks in system calls.
///
/// Workers block in recvmmsg and poll for their whole life; on Dispatch's
/// shared pool they would starve the signal sources and timers that run
/// there, so each gets a thread of its own and Dispatch keeps the rest.
/// (Non-blocking Dispatch workers, a read source per socket, were measured
/// and cost 1.2-1.9x the CPU per answer: docs/performance.md, issue 18.)
struct ServerThread: @unchecked Sendable {
    let handle: pthread_t

    static func start(_ run: @escaping @Sendable () -> Void) throws(Errno) -> ServerThread {
        ServerThread(handle: try Syscalls.startThread(run))
    }

    func join() {
        Syscalls.join(handle)
    }

    /// Pins the thread to one CPU: the `index`-th (wrapping) of the CPUs this
    /// process may run on, so that worker i stays on core i with its socket's
    /// softirq work and its caches (`sixpn serve --pin`).
    func pin(index: Int) throws(Errno) {
        // A cpu_set_t: 1024 bits.
        var allowed = (UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0),
                       UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0))
        let size = MemoryLayout.size(ofValue: allowed)
        guard sixpn_sched_getaffinity(0, size, &allowed) == 0 else { throw Errno("sched_getaffinity") }
        let cpus = withUnsafeBytes(of: &allowed) { bits in
            (0..<bits.count * 8).filter { bits[$0 / 8] & (1 << ($0 % 8)) != 0 }
        }
        guard !cpus.isEmpty else { throw Errno("sched_getaffinity", EINVAL) }
        let cpu = cpus[index % cpus.count]
        var one = allowed
        withUnsafeMutableBytes(of: &one) { bits in
            for i in bits.indices { bits[i] = 0 }
            bits[cpu / 8] = 1 << (cpu % 8)
        }
        let rc = sixpn_pthread_setaffinity_np(handle, size, &one)
        guard rc == 0 else { throw Errno("pthread_setaffinity_np(CPU \(cpu))", rc) }
    }
}

/// What every thread of a running server shares: the stop flag and the
/// count of forwarded queries still waiting for their upstream reply.
final class ServerState: Sendable {
    let stopping = ManagedAtomic<Bool>(false)
    let inFlight = ManagedAtomic<Int>(0)
    /// Counters written from any thread (forwarded replies).
    let sharedCounters = WorkerCounters()
}

/// Monotonic time in nanoseconds, unsigned as the Server's latency and
/// idle arithmetic wants it (``Syscalls/now()``: no system call).
@inline(__always)
func monotonicNanoseconds() -> UInt64 {
    UInt64(bitPattern: Syscalls.now())
}
