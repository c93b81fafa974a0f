#if canImport(Glibc)
import Glibc
#endif
import Atomics

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
