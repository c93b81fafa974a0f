#if canImport(Glibc)
import Glibc
#endif
import Atomics
import CSocketBatch

/// A dedicated OS thread (pthread) for a loop that blocks in system calls.
///
/// Workers block in recvmmsg and poll for their whole life; on Dispatch's
/// shared pool they would starve the signal sources and timers that run
/// there, so each gets a thread of its own and Dispatch keeps the rest.
struct ServerThread: @unchecked Sendable {
    let handle: pthread_t

    private final class Body {
        let run: @Sendable () -> Void
        init(_ run: @escaping @Sendable () -> Void) { self.run = run }
    }

    static func start(_ run: @escaping @Sendable () -> Void) throws(Errno) -> ServerThread {
        let body = Unmanaged.passRetained(Body(run)).toOpaque()
        var handle = pthread_t()
        let rc = pthread_create(&handle, nil, { arg in
            Unmanaged<Body>.fromOpaque(arg!).takeRetainedValue().run()
            return nil
        }, body)
        guard rc == 0 else {
            Unmanaged<Body>.fromOpaque(body).release()
            throw Errno("pthread_create", rc)
        }
        return ServerThread(handle: handle)
    }

    func join() {
        pthread_join(handle, nil)
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

/// Monotonic time in nanoseconds (vDSO clock_gettime: no system call).
@inline(__always)
func monotonicNanoseconds() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
}
