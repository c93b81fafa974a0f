/// What sixpn needs of the cluster's replicated store, in plain Swift types, so
/// that writers and the agent never see gRPC or protobuf. `EtcdClient` is the
/// store; the types below are the parts of etcd's model that sixpn uses.
public protocol ClusterStore: Sendable {
    /// Every key under `prefix` at one revision (the newest, or `revision`), in
    /// pages of `pageSize` keys; throws `ClusterError.compacted` when `revision` is gone.
    func list(prefix: String, revision: Int64?, pageSize: Int) async throws -> StoreListing
    /// The same listing handed over page by page, so that a million keys are never all in memory;
    /// returns the revision and cluster ID it shows.
    func listPages(prefix: String, revision: Int64?, pageSize: Int,
                   _ page: ([StoredEntry]) throws -> Void) async throws -> (revision: Int64, clusterID: UInt64)
    /// One key, or nil.
    func get(_ key: String) async throws -> StoredEntry?
    /// Runs `operations` when every condition holds, else nothing; true when they ran.
    func transaction(_ conditions: [StoreCondition], _ operations: [StoreOperation]) async throws -> StoreTransactionResult
    /// Calls `body` with each batch of events under `prefix` from `revision` on, until
    /// `body` returns false or the stream fails (`ClusterError.compacted` when `revision` is gone).
    func watch(prefix: String, from revision: Int64,
               _ body: @escaping @Sendable (StoreWatchBatch) async throws -> Bool) async throws
    /// A lease that lives `ttl` seconds after its last keep-alive.
    func grantLease(ttl: Int64) async throws -> StoreLease
    /// Keeps `lease` alive until the task is cancelled; returns when the lease has expired.
    func keepAlive(_ lease: StoreLease) async throws
    func revokeLease(_ lease: StoreLease) async throws
}

/// A key and its value at some revision.
public struct StoredEntry: Sendable, Equatable {
    public var key: String
    public var value: [UInt8]
    public var createRevision: Int64
    public var modRevision: Int64
    public var lease: Int64

    public init(key: String, value: [UInt8], createRevision: Int64 = 0, modRevision: Int64 = 0, lease: Int64 = 0) {
        self.key = key
        self.value = value
        self.createRevision = createRevision
        self.modRevision = modRevision
        self.lease = lease
    }
}

public struct StoreListing: Sendable {
    public var entries: [StoredEntry]
    /// The revision the listing shows; watch from `revision + 1`.
    public var revision: Int64
    public var clusterID: UInt64
}

public struct StoreEvent: Sendable, Equatable {
    public enum Kind: Sendable { case put, delete }
    public var kind: Kind
    /// For a delete, only the key and mod revision are set.
    public var entry: StoredEntry
}

/// Whole revisions of events, in order; every event under the prefix up to
/// `revision` has now been delivered (a batch with no events is a progress note).
public struct StoreWatchBatch: Sendable {
    public var events: [StoreEvent]
    public var revision: Int64
    public var clusterID: UInt64
}

public enum StoreCondition: Sendable, Equatable {
    /// The key does not exist.
    case absent(String)
    /// The key exists.
    case present(String)
    /// The key was last written at this revision (compare-and-swap).
    case modRevision(String, Int64)
}

public enum StoreOperation: Sendable, Equatable {
    case put(String, [UInt8], lease: Int64 = 0)
    case delete(String)
    case get(String)
}

public struct StoreTransactionResult: Sendable {
    public var succeeded: Bool
    public var revision: Int64
    /// For each `.get` operation, in order: its entry or nil.
    public var gets: [StoredEntry?]
}

public struct StoreLease: Sendable, Equatable {
    public var id: Int64
    public var ttl: Int64
}

/// A cluster operation that failed, in one line.
public struct ClusterError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// The store could not be reached or did not answer in time (no quorum, partition).
        case unavailable
        /// The revision asked for has been compacted away: list again.
        case compacted
        /// Refused: bad credentials, no certificate, no permission.
        case denied
        /// The flags or files given are wrong.
        case configuration
        /// A condition of the write did not hold (duplicate, not found).
        case conflict
        case other
    }
    public var kind: Kind
    public var message: String
    public var description: String { message }

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }
}
