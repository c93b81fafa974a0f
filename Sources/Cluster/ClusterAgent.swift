import Logging
import Metrics
import NetSetup
import ZoneEngine

/// What `sixpn agent` is told about its host.
public struct AgentConfiguration: Sendable {
    public var databasePath: String
    public var hostID: UInt32
    public var region: String?
    /// Seconds the host's registration outlives its agent (etcd lease TTL).
    public var leaseTTL: Int64
    /// The mesh device, and where the other hosts reach it.
    public var wireGuardDevice: String?
    public var wireGuardEndpoint: String?
    /// This host terminates customers' peers: the mesh routes the peer area to it.
    public var peerGateway: Bool
    /// Keys per page of a listing (a first sync, or after a compaction). etcd 3.4 walks its
    /// index from a page's first key to the prefix's end for every page, so a million keys in
    /// pages of 5,000 cost it 200 such walks; larger pages cost the agent only their memory.
    public var listPageSize: Int

    public init(databasePath: String, hostID: UInt32, region: String?, leaseTTL: Int64,
                wireGuardDevice: String?, wireGuardEndpoint: String?, peerGateway: Bool, listPageSize: Int = 50_000) {
        self.databasePath = databasePath
        self.hostID = hostID
        self.region = region
        self.leaseTTL = leaseTTL
        self.wireGuardDevice = wireGuardDevice
        self.wireGuardEndpoint = wireGuardEndpoint
        self.peerGateway = peerGateway
        self.listPageSize = listPageSize
    }
}

/// One host's agent: keeps the host's SQLite database a replica of the cluster
/// (list once, then watch from the stored revision), registers the host under
/// a lease it keeps alive, and keeps the WireGuard mesh equal to the live hosts.
///
/// It never stops on the store's failures: it logs them, waits a little, and
/// goes on from where the database is, so the host keeps answering its last state.
public final class ClusterAgent: Sendable {
    let store: any ClusterStore
    let configuration: AgentConfiguration
    let logger: Logger

    public init(store: any ClusterStore, configuration: AgentConfiguration, logger: Logger) {
        self.store = store
        self.configuration = configuration
        self.logger = logger
    }

    /// Runs until cancelled (or a local error that retrying cannot fix: the database, the device).
    public func run() async throws {
        let state = try SyncState(configuration: configuration, logger: logger)
        let hostValue = ClusterValues.Host(region: configuration.region,
                                           publicKey: try state.mesh?.publicKey().base64,
                                           endpoint: configuration.wireGuardEndpoint,
                                           peerGateway: configuration.peerGateway ? true : nil)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await self.sync(state) }
            group.addTask { await self.register(hostValue) }
            try await group.next()
            group.cancelAll()
        }
    }

    // MARK: - Sync

    private func sync(_ state: SyncState) async throws {
        var failures = 0
        while !Task.isCancelled {
            do {
                if state.position == nil {
                    try await relist(state)
                } else if state.hosts == nil {
                    try await seedHosts(state)
                }
                guard let from = state.position?.revision else { continue }
                logger.info("watching", metadata: ["from_revision": "\(from + 1)"])
                try await store.watch(prefix: ClusterKeys.prefix, from: from + 1) { batch in
                    try state.apply(batch)
                    return true
                }
            } catch let e as ClusterError where e.kind == .compacted {
                logger.warning("resume revision compacted away; listing again", metadata: ["error": "\(e)"])
                state.position = nil
                Counter(label: "sixpn_agent_relists_total").increment()
                continue
            } catch let e as DatabaseError {
                logger.critical("database write failed", metadata: ["db": "\(configuration.databasePath)", "error": "\(e)"])
                throw e
            } catch {
                failures += 1
                logger.warning("store unavailable; the database keeps its last state", metadata: ["error": "\(error)"])
            }
            // Back off up to 2 s: short enough that a member coming back is noticed at once.
            try await Task.sleep(for: .milliseconds(min(100 << min(failures, 5), 2000)))
        }
    }

    /// Lists the whole prefix and replaces the database's data with it, in one
    /// transaction filled page by page (a million instances never sit in memory at once).
    private func relist(_ state: SyncState) async throws {
        let started = ContinuousClock.now
        var keys = 0
        try state.replica.beginReplacement()
        state.beginReplacement()
        do {
            let at = try await store.listPages(prefix: ClusterKeys.prefix, revision: nil,
                                                       pageSize: configuration.listPageSize) { page in
                var t = RecordTranslation()
                for e in page { t.put(e) }
                keys += page.count
                try state.add(t)
            }
            try state.commitReplacement(at: ReplicaPosition(revision: at.revision, clusterID: at.clusterID))
            logger.info("listed", metadata: ["revision": "\(at.revision)", "keys": "\(keys)",
                                              "seconds": "\(started.duration(to: .now))"])
        } catch {
            state.replica.abandonReplacement()
            throw error
        }
    }

    /// On a resume, the mesh needs the live hosts now; the watch then replays only what is newer.
    private func seedHosts(_ state: SyncState) async throws {
        let listing = try await store.list(prefix: ClusterKeys.prefix + "hosts/", revision: nil, pageSize: 5000)
        var t = RecordTranslation()
        for e in listing.entries { t.put(e) }
        state.seedHosts(t, revision: listing.revision)
        logger.info("resuming", metadata: ["from_revision": "\((state.position?.revision ?? 0) + 1)",
                                            "live_hosts": "\(listing.entries.count)"])
    }

    // MARK: - Membership

    /// Registers the host under a lease and keeps it alive; registers again after
    /// the lease expired (the store was away longer than the TTL).
    private func register(_ value: ClusterValues.Host) async {
        let key = ClusterKeys.host(configuration.hostID)
        let bytes = ClusterValues.encode(value)
        var lease: StoreLease?
        while !Task.isCancelled {
            do {
                if lease == nil {
                    let l = try await store.grantLease(ttl: configuration.leaseTTL)
                    _ = try await store.transaction([], [.put(key, bytes, lease: l.id)])
                    lease = l
                    logger.info("host registered", metadata: ["key": "\(key)", "lease": "\(l.id)", "ttl": "\(l.ttl)"])
                }
                try await store.keepAlive(lease!)
                logger.warning("lease expired; registering again", metadata: ["lease": "\(lease!.id)"])
                lease = nil
            } catch is CancellationError {
                return
            } catch {
                logger.warning("lease keep-alive failed; retrying", metadata: ["error": "\(error)"])
                try? await Task.sleep(for: .milliseconds(500))
            }
        }
    }
}

/// The sync's local side: the database, the live hosts, the mesh. Used by one
/// task only (the sync loop and the watch callback it awaits), never concurrently.
final class SyncState: @unchecked Sendable {
    let replica: ReplicaDatabase
    let mesh: MeshPeers?
    let logger: Logger
    var position: ReplicaPosition?
    /// Live hosts and the revision each was last seen at; nil until known.
    var hosts: [UInt32: (revision: Int64, value: ClusterValues.Host)]?
    private var skippedTotal = 0

    init(configuration: AgentConfiguration, logger: Logger) throws {
        replica = try ReplicaDatabase(path: configuration.databasePath)
        mesh = try configuration.wireGuardDevice.map { try MeshPeers(device: $0, ownHost: configuration.hostID, logger: logger) }
        try mesh?.start()
        self.logger = logger
        position = try replica.position()
    }

    /// A listing's hosts, gathered while it is added, merged once it is committed.
    private var listedHosts: [(id: UInt32, revision: Int64, value: ClusterValues.Host?)] = []

    func beginReplacement() {
        listedHosts = []
    }

    func add(_ t: RecordTranslation) throws {
        note(t, refused: try replica.add(t.changes))
        listedHosts += t.hosts
    }

    func commitReplacement(at p: ReplicaPosition) throws {
        try replica.commitReplacement(at: p)
        position = p
        hosts = [:]
        merge(listedHosts)
        listedHosts = []
    }

    func seedHosts(_ t: RecordTranslation, revision: Int64) {
        hosts = [:]
        merge(t.hosts)
    }

    func apply(_ batch: StoreWatchBatch) throws {
        var t = RecordTranslation()
        for e in batch.events {
            switch e.kind {
            case .put: t.put(e.entry)
            case .delete: t.delete(e.entry)
            }
        }
        if let p = position, p.clusterID != 0, batch.clusterID != 0, p.clusterID != batch.clusterID {
            // Another cluster answers (rebuilt from scratch): nothing in the database is from it.
            throw ClusterError(.compacted, "the store's cluster ID changed from \(p.clusterID) to \(batch.clusterID)")
        }
        let p = ReplicaPosition(revision: batch.revision, clusterID: batch.clusterID)
        let refused = try replica.apply(t.changes, at: p)
        position = p
        Gauge(label: "sixpn_agent_revision").record(p.revision)
        note(t, refused: refused)
        if !t.hosts.isEmpty { merge(t.hosts) }
        logger.debug("applied", metadata: ["revision": "\(p.revision)", "events": "\(batch.events.count)"])
    }

    private func merge(_ seen: [(id: UInt32, revision: Int64, value: ClusterValues.Host?)]) {
        var live = hosts ?? [:]
        for h in seen {
            if let known = live[h.id], known.revision >= h.revision { continue }
            if let v = h.value { live[h.id] = (h.revision, v) } else { live[h.id] = nil }
        }
        hosts = live
        Gauge(label: "sixpn_agent_live_hosts").record(live.count)
        mesh?.update(hosts: live.mapValues(\.value))
    }

    private func note(_ t: RecordTranslation, refused: [(ReplicaChange, DatabaseError)]) {
        for s in t.skipped {
            skippedTotal += 1
            logger.warning("skipped value", metadata: ["key": "\(s.key)", "reason": "\(s.reason)", "skipped_total": "\(skippedTotal)"])
        }
        for (change, error) in refused {
            skippedTotal += 1
            logger.warning("skipped record", metadata: ["change": "\(change)", "reason": "\(error)", "skipped_total": "\(skippedTotal)"])
        }
        let n = t.skipped.count + refused.count
        if n > 0 { Counter(label: "sixpn_agent_skipped_values_total").increment(by: n) }
    }
}
