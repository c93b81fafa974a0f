import Atomics
#if canImport(Glibc)
import Glibc
#endif
import Logging
import Sockets
import Synchronization

/// Owns the database connection and the current snapshot; updates it off the query path.
///
/// Readers take ``current`` with one atomic load and never wait. The poller
/// looks for a commit when the database's files are written (inotify;
/// `PRAGMA data_version`, one read of shared memory); the change log that
/// the schema's triggers fill names the organizations a commit touched, and only those are built
/// again: the new ``Snapshot`` shares every other organization's zone with
/// the old one and is published with one atomic store (RCU: the old one is
/// freed when its last reader lets go). A gap in the log, a new file, a
/// schema version 1 database or a failure builds everything. An update
/// that fails publishes nothing: the last good snapshot keeps serving.
public final class ZoneStore: Sendable {
    public let path: String
    /// TTL of every answer record.
    public let ttl: UInt32
    /// How often the poller looks for a commit where it cannot watch the
    /// database's directory (no inotify); where it can, a write wakes it.
    public static let pollInterval: Duration = .milliseconds(5)
    /// With the watch, how long the poller waits at most between looks:
    /// the floor for what the watch cannot see (a network file system's
    /// other hosts) and the pace of retries after an error.
    public static let watchedPollInterval: Duration = .milliseconds(100)
    /// After a write to the database's files, how long the poller keeps
    /// looking every millisecond for the commit it belongs to (marked in
    /// SQLite's shared-memory index, which no event announces; a durable
    /// commit's fsync comes between the write and the mark).
    static let lookAfterWrite: Duration = .milliseconds(20)
    /// How long it waits instead after a look that published a snapshot:
    /// while commits keep coming, each update takes in twice as many (its
    /// transaction, log read and publishing are paid half as often), for a
    /// few milliseconds of latency; a commit after a quiet look still wakes
    /// the poller at once.
    public static let busyPollInterval: Duration = .milliseconds(10)

    private let snapshot: ManagedAtomic<Snapshot>
    private let logger: Logger
    private let state: Mutex<State>
    private let running = ManagedAtomic<Bool>(false)
    private let pollerCPU = ManagedAtomic<Int>(0)
    /// The poller's thread, while it runs, and the watch it waits on (nil: it sleeps).
    private let poller = Mutex<(thread: pthread_t, watch: FileWatch?)?>(nil)

    /// What the poller knows about the database; only touched under `state`'s lock.
    private struct State: ~Copyable {
        var connection: SQLiteConnection? {
            didSet { versionQuery = nil }
        }
        /// PRAGMA data_version on `connection`, prepared once: the poller runs it at every look.
        var versionQuery: SQLiteStatement?
        var identity: FileIdentity?
        var dataVersion: Int64 = 0
        /// Set after a failure, so the next poll builds everything whatever it sees.
        var retry = false
        /// The current snapshot, which the next update starts from.
        var current: Snapshot?
        /// The last change-log entry the zones include; nil: build everything next.
        var lastChange: Int64?
        var schemaVersion: Int64 = 0
        /// Scratch for building organizations, kept between updates.
        /// Made once, by init (optional only because State starts empty).
        var builder: SnapshotBuilder?
        /// The reads of one organization, prepared for `connection` and `schemaVersion`.
        var statements: SnapshotBuilder.Statements?
        /// Updates that rebuilt only what changed, and full builds.
        var updates = 0
        var fullBuilds = 0
        var loadedAt: ContinuousClock.Instant?
        var reloadErrors = 0
        var lastError: String?
    }

    /// Opens read-only and builds the first snapshot; throws when there is no valid database.
    /// The error's description is one line naming the file and the reason.
    public convenience init(path: String, ttl: UInt32 = 5, logger: Logger) throws {
        try self.init(path: path, ttl: ttl, roomFrom: SnapshotBuilder.roomFrom, logger: logger)
    }

    /// `roomFrom`: see ``SnapshotBuilder/roomFrom`` (tests give 0, so that every update appends).
    init(path: String, ttl: UInt32 = 5, roomFrom: Int, logger: Logger) throws {
        _ = Self.allocatorTuned
        self.path = path
        self.ttl = ttl
        self.logger = logger
        var s = State()
        let first: Snapshot
        do {
            s.builder = try SnapshotBuilder(ttl: ttl, roomFrom: roomFrom)
            // With no zones yet (lastChange nil), load builds everything: never nil.
            first = try Self.load(path: path, ttl: ttl, state: &s)!
        } catch {
            throw DatabaseError(.database, "cannot serve \(path): \(error)")
        }
        s.loadedAt = .now
        snapshot = ManagedAtomic(first)
        state = Mutex(s)
        logger.info("zone loaded", metadata: Self.metadata(first, path: path))
    }

    deinit { stop() }

    /// Every update allocates the touched organizations' new zones and frees
    /// the old ones (one block each, tens of kilobytes to megabytes). With
    /// glibc's defaults the freed memory at the top of a heap is given back
    /// to the kernel past 128 KiB and the next zone faults fresh zeroed pages
    /// in again: under sustained churn that was about 15 % of the update
    /// thread's CPU (perf: clear_page_erms under the zone's memcpy). Keeping
    /// up to 64 MiB free per heap, and taking blocks up to 32 MiB (glibc's
    /// most) from the heap rather than from mmap, lets the next update reuse
    /// what the last one freed. And one heap for every thread: the first
    /// snapshot is built by the thread that opens the store and every update
    /// by the poller, so with a heap per thread each organization's first
    /// update freed its zone into one heap and faulted a new one into
    /// another (under churn at a million instances: RSS 697 against 586
    /// MiB, 159 against 130 µs of zone thread CPU per change). The query
    /// path allocates nothing, so no worker waits on the shared heap's lock.
    /// Process-wide, set once, by the first store.
    private static let allocatorTuned: Bool = {
        Syscalls.keepFreedHeapMemory(keep: 64 << 20, heapBlocks: 32 << 20)
        return true
    }()

    /// The current snapshot: a lock-free read, taken once per batch of queries.
    public var current: Snapshot { snapshot.load(ordering: .acquiring) }

    /// When the current snapshot was built (its age is `.now - loadedAt`).
    public var loadedAt: ContinuousClock.Instant? { state.withLock { $0.loadedAt } }
    /// Reloads that failed, each distinct error counted once.
    public var reloadErrors: Int { state.withLock { $0.reloadErrors } }
    /// Why the database could not be loaded, while it cannot; nil once a load succeeds.
    public var lastError: String? { state.withLock { $0.lastError } }

    /// Looks for changes on a thread of its own until ``stop()``: woken by
    /// a write to the database's files (inotify on its directory), at least
    /// every ``watchedPollInterval``; every ``pollInterval`` where the
    /// directory cannot be watched.
    public func start() throws(Errno) {
        guard running.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged else {
            return
        }
        let watch = Self.watch(path)
        if watch == nil {
            logger.notice("cannot watch the database's directory; looking every \(Self.pollInterval)", metadata: ["path": "\(path)"])
        }
        do {
            let thread = try Syscalls.startThread { [self] in
                Syscalls.nameThisThread(Self.threadName)
                let quiet = Self.pollInterval.nanoseconds, busy = Self.busyPollInterval.nanoseconds
                let floor = Int32(Self.watchedPollInterval.nanoseconds / 1_000_000)
                // A writer writes its WAL frames (the event) before it marks the commit in the
                // shared-memory index (no event): a look right after the event can come too soon.
                // For a while after a write the poller looks every millisecond.
                var lookUntil: Int64 = 0
                while running.load(ordering: .acquiring) {
                    // Events before the look are taken now; one during it wakes the wait below.
                    if watch?.drain() == true { lookUntil = Syscalls.now() + Self.lookAfterWrite.nanoseconds }
                    let published = pollOnce()
                    pollerCPU.store(Self.threadCPUNanoseconds(), ordering: .relaxed)
                    if published {
                        Syscalls.sleep(nanoseconds: busy)
                    } else if let watch {
                        if Syscalls.now() < lookUntil {
                            Syscalls.sleep(nanoseconds: 1_000_000)
                        } else if watch.wait(milliseconds: floor) {
                            lookUntil = Syscalls.now() + Self.lookAfterWrite.nanoseconds
                        }
                    } else {
                        Syscalls.sleep(nanoseconds: quiet)
                    }
                }
            }
            poller.withLock { $0 = (thread, watch) }
        } catch {
            running.store(false, ordering: .releasing)
            throw error
        }
    }

    /// A watch on the directory of `path` (its real path, symbolic links
    /// followed, as SQLite puts its `-wal` beside the real file) for the
    /// database and its journals; nil when the kernel will not.
    private static func watch(_ path: String) -> FileWatch? {
        var real = path
        if let r = realpath(path, nil) {
            real = String(cString: r)
            free(r)
        }
        let slash = real.lastIndex(of: "/")
        let directory = slash.map { $0 == real.startIndex ? "/" : String(real[..<$0]) } ?? "."
        let name = slash.map { String(real[real.index(after: $0)...]) } ?? real
        return FileWatch(directory: directory, names: [name, name + "-wal", name + "-journal"])
    }

    /// The poller's name, as top -H and /proc/PID/task/TID/comm show it.
    public static let threadName = "sixpn-zone"

    /// Stops the poller and waits for it to finish.
    public func stop() {
        guard running.compareExchange(expected: true, desired: false, ordering: .acquiringAndReleasing).exchanged else {
            return
        }
        guard let p = poller.withLock({ p in defer { p = nil }; return p }) else { return }
        p.watch?.wake()
        Syscalls.join(p.thread)
    }

    /// Rebuilds the whole snapshot now, whether or not the database changed (SIGHUP).
    public func reloadNow() {
        state.withLock { s in
            s.lastChange = nil
            _ = reload(&s)
        }
    }

    /// CPU time the poller thread has used (polling and updating), as of its last poll.
    public var pollerCPUTime: Duration { .nanoseconds(pollerCPU.load(ordering: .relaxed)) }

    private static func threadCPUNanoseconds() -> Int {
        var t = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t)
        return t.tv_sec * 1_000_000_000 + t.tv_nsec
    }

    /// Updates that built only the organizations a change touched, and
    /// updates that built everything (the first load included).
    public var updateCounts: (incremental: Int, full: Int) { state.withLock { ($0.updates, $0.fullBuilds) } }

    /// Apps read from the database and apps copied from the previous
    /// snapshot, over every update so far.
    public var appCounts: (read: Int, copied: Int) {
        state.withLock { ($0.builder?.appsRead ?? 0, $0.builder?.appsCopied ?? 0) }
    }

    /// Reloads when another connection committed or the file was replaced.
    /// A commit is looked for first: under churn nearly every poll finds
    /// one, and the path's stat (a file renamed over it) is then left to the
    /// next quiet poll (nothing commits to a file once another is renamed over it).
    /// True when it published a new snapshot.
    @discardableResult
    func pollOnce() -> Bool {
        state.withLock { s in
            guard !s.retry, s.connection != nil, let identity = s.identity else { return reload(&s) }
            let version: Int64
            do {
                version = try Self.dataVersion(&s)
            } catch {
                fail(&s, error)
                return false
            }
            if version != s.dataVersion { return reload(&s, seen: (identity, version)) }
            guard let id = FileIdentity(path: path), id == identity else { return reload(&s) }
            return false
        }
    }

    /// `seen`: the file's identity and data version, when the caller just
    /// read them (the poll), so that the update does not read them again.
    /// True when it published a new snapshot.
    private func reload(_ s: inout State, seen: (FileIdentity, Int64)? = nil) -> Bool {
        do {
            guard let next = try Self.load(path: path, ttl: ttl, state: &s, seen: seen) else { return false }
            snapshot.store(next, ordering: .releasing)
            s.loadedAt = .now
            if let e = s.lastError { logger.notice("zone loads again", metadata: ["after": "\(e)"]) }
            s.lastError = nil
            s.retry = false
            logger.debug("zone reloaded", metadata: Self.metadata(next, path: path))
            return true
        } catch {
            fail(&s, error)
            return false
        }
    }

    /// Keeps the last good snapshot; logs and counts each new error once.
    private func fail(_ s: inout State, _ error: any Error) {
        let message = "\(error)"
        s.retry = true
        s.statements = nil
        s.connection = nil
        s.lastChange = nil
        guard message != s.lastError else { return }
        s.lastError = message
        s.reloadErrors += 1
        logger.error("zone not reloaded; still serving the last good snapshot",
                     metadata: ["path": "\(path)", "error": "\(message)"])
    }

    /// Opens the file again when it is new, then builds what changed: a
    /// new snapshot, or nil when no change touched an organization.
    private static func load(path: String, ttl: UInt32, state s: inout State,
                             seen: (FileIdentity, Int64)? = nil) throws -> Snapshot? {
        guard let id = seen?.0 ?? FileIdentity(path: path) else {
            throw DatabaseError(.database, "\(path) is missing")
        }
        var seenVersion = seen?.1
        if s.connection == nil || s.identity != id {
            seenVersion = nil
            s.statements = nil
            s.connection = nil
            s.lastChange = nil
            s.connection = try SQLiteConnection(path: path, mode: .readOnly)
            s.identity = id
        }
        let db = s.connection!
        // Read the version first: a commit between the two is seen at the next poll.
        s.dataVersion = try seenVersion ?? dataVersion(&s)
        if let last = s.lastChange {
            let version = s.schemaVersion
            if s.statements == nil { s.statements = try SnapshotBuilder.Statements(db, version: version) }
            let statements = s.statements!
            let current = s.current!
            let update = try s.builder!.readTransaction(db) { (b: inout SnapshotBuilder) throws(SQLiteError) in
                try b.update(db, after: last, version: version, statements: statements, current: current)
            }
            switch update {
            case .unchanged:
                return nil
            case .changed(let zones, let lastChange):
                // Applied only now that every touched organization is built.
                s.current = s.current!.replacing(zones)
                s.lastChange = lastChange
                s.updates += 1
                return s.current
            case .everything:
                break
            }
        }
        let all = try s.builder!.buildAll(db)
        s.current = Snapshot(zones: all.zones.values, ttl: ttl)
        s.statements = nil
        (s.lastChange, s.schemaVersion) = (all.lastChange, all.version)
        s.fullBuilds += 1
        return s.current
    }

    /// Changes when another connection commits.
    private static func dataVersion(_ s: inout State) throws(SQLiteError) -> Int64 {
        if s.versionQuery == nil { s.versionQuery = try s.connection!.prepare("PRAGMA data_version") }
        return try s.versionQuery!.integer()
    }

    private static func metadata(_ s: Snapshot, path: String) -> Logger.Metadata {
        ["path": "\(path)", "organizations": "\(s.organizationCount)", "instances": "\(s.instanceCount)",
         "names": "\(s.nameCount)", "skipped_rows": "\(s.skippedRows)"]
    }
}

/// Which file a path names right now: a writer that replaces the database
/// (rename over it) gives it a new inode.
struct FileIdentity: Equatable {
    let device: UInt64
    let inode: UInt64

    init?(path: String) {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        device = UInt64(st.st_dev)
        inode = UInt64(st.st_ino)
    }
}
