import Atomics
import Synchronization
import Sockets

/// Where worker threads leave cache misses for the resolver thread, and the
/// pipe that wakes it. A lock on the miss path only; hits never come here.
final class Inbox: Sendable {
    private let state = Mutex<(waiters: [Waiter], open: Bool)>(([], true))
    /// How many misses wait for the resolver thread to take them (kept under the lock, read without it).
    let depth = ManagedAtomic<Int>(0)
    let wakeFD: Int32
    private let signalFD: Int32

    init() throws(Errno) {
        (wakeFD, signalFD) = try Syscalls.wakePipe()
    }

    deinit {
        Syscalls.close(wakeFD)
        Syscalls.close(signalFD)
    }

    /// Queues a miss; false once closed.
    func post(_ w: Waiter) -> Bool {
        let (accepted, wasEmpty) = state.withLock { s -> (Bool, Bool) in
            guard s.open else { return (false, false) }
            s.waiters.append(w)
            depth.store(s.waiters.count, ordering: .relaxed)
            return (true, s.waiters.count == 1)
        }
        // One wake-up per batch: the resolver takes everything queued at once.
        if wasEmpty { Syscalls.wake(signalFD) }
        return accepted
    }

    /// Moves everything queued into `out`; returns false once closed.
    func take(into out: inout [Waiter]) -> Bool {
        state.withLock { s in
            swap(&out, &s.waiters)
            depth.store(0, ordering: .relaxed)
            return s.open
        }
    }

    func close() {
        state.withLock { $0.open = false }
        Syscalls.wake(signalFD)
    }
}
