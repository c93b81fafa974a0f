#if canImport(Glibc)
import Glibc
#endif
import Atomics
import Sockets

/// What a running server says about itself to orchestrators and the service
/// manager: `GET /health`, `GET /ready` (as CoreDNS's health and ready
/// plugins answer them) and systemd's notifications.
///
/// - health: 200 from start-up until shutdown begins; 503 during the
///   lameduck (`--lameduck`) and the stop that follows, so a load balancer
///   takes the server out before it goes.
/// - ready: 200 once the first snapshot is loaded and every worker thread's
///   loop turns (``Liveness``); 503 while the database has never loaded
///   (`--wait-for-db`), while a worker is stuck, and from shutdown on.
public final class ServerHealth: Sendable {
    public enum Phase: Int, Sendable, AtomicValue {
        /// Sockets bound; the database has not loaded yet.
        case waitingForDatabase
        /// Answering.
        case serving
        /// SIGTERM taken: still answering for the lameduck, then stopping.
        case stopping
    }

    private let phaseValue = ManagedAtomic<Phase>(.waitingForDatabase)
    private let answering = ManagedAtomic<Bool>(false)

    public init() {}

    public var phase: Phase { phaseValue.load(ordering: .acquiring) }
    func enter(_ phase: Phase) { phaseValue.store(phase, ordering: .releasing) }

    /// Whether every worker's loop turned within ``Liveness/stuckAfter`` at the last look.
    public var workersAnswering: Bool { answering.load(ordering: .relaxed) }
    func setWorkersAnswering(_ value: Bool) { answering.store(value, ordering: .relaxed) }

    /// `GET /health`: the status code and a one-line body.
    public var health: (status: Int, body: String) {
        phase == .stopping ? (503, "shutting down\n") : (200, "OK\n")
    }

    /// `GET /ready`: the status code and a one-line body that says why not.
    public var ready: (status: Int, body: String) {
        switch phase {
        case .waitingForDatabase: return (503, "database not loaded\n")
        case .stopping: return (503, "shutting down\n")
        case .serving: return workersAnswering ? (200, "OK\n") : (503, "workers not answering\n")
        }
    }
}

/// A thread that watches every worker thread's heartbeat (a counter each
/// turn of its loop bumps, ``WorkerCounters/Slot/heartbeat``; an idle loop
/// still turns every 250-500 ms on its receive timeout), says in
/// ``ServerHealth`` whether all of them turn, and when systemd set a
/// watchdog (`WatchdogSec=`), sends `WATCHDOG=1` at half its interval, but
/// only while they all do: a stuck worker stops the pings and systemd
/// restarts the service.
final class Liveness: @unchecked Sendable {
    /// A loop that has not turned for this long is taken as stuck.
    static let stuckAfter: UInt64 = 2_000_000_000

    private let workers: [WorkerCounters]
    private let health: ServerHealth
    private let notify: SystemdNotify
    private let running = ManagedAtomic<Bool>(true)
    private var thread: pthread_t?

    init(workers: [WorkerCounters], health: ServerHealth, notify: SystemdNotify) {
        self.workers = workers
        self.health = health
        self.notify = notify
    }

    func start() throws(Errno) {
        thread = try Syscalls.startThread { [self] in Syscalls.nameThisThread("sixpn-liveness"); run() }
    }

    func stop() {
        running.store(false, ordering: .relaxed)
        if let thread { Syscalls.join(thread) }
        thread = nil
    }

    /// Waits (at most `timeout` nanoseconds) until every worker's loop turned once.
    func waitUntilAnswering(timeout: UInt64) -> Bool {
        let deadline = monotonicNanoseconds() + timeout
        while monotonicNanoseconds() < deadline {
            if workers.allSatisfy({ $0.value(WorkerCounters.Slot.heartbeat) > 0 }) { return true }
            Syscalls.sleep(nanoseconds: 5_000_000)
        }
        return false
    }

    private func run() {
        let pingEvery = notify.watchdogInterval.map { UInt64($0.nanoseconds / 2) }
        // Look often enough for the ping and for /ready, not more.
        let tick = min(250_000_000, pingEvery.map { $0 / 2 } ?? .max)
        var seen = workers.map { $0.value(WorkerCounters.Slot.heartbeat) }
        var changedAt = [UInt64](repeating: monotonicNanoseconds(), count: workers.count)
        var lastPing: UInt64 = 0
        while running.load(ordering: .relaxed) {
            let now = monotonicNanoseconds()
            for (i, w) in workers.enumerated() {
                let beat = w.value(WorkerCounters.Slot.heartbeat)
                if beat != seen[i] { seen[i] = beat; changedAt[i] = now }
            }
            let answering = seen.allSatisfy { $0 > 0 } && changedAt.allSatisfy { now &- $0 < Self.stuckAfter }
            health.setWorkersAnswering(answering)
            if let every = pingEvery, answering, now &- lastPing >= every, health.phase != .stopping {
                notify.send("WATCHDOG=1")
                lastPing = now
            }
            Syscalls.sleep(nanoseconds: Int64(tick))
        }
    }
}
