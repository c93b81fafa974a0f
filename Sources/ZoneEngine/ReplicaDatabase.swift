import CSQLite

/// One change that a replicated store (the cluster's etcd, through `sixpn agent`)
/// asks the host's database to make. Instances and peers are keyed by address,
/// as the store keys them; hosts by their 32-bit host ID.
public enum ReplicaChange: Sendable, Equatable {
    case putInstance(ReplicaInstance)
    case deleteInstance(address: String)
    case putPeer(ReplicaPeer)
    case deletePeer(address: String)
    /// A host joined (alive) or its lease expired (not alive).
    case host(id: UInt32, alive: Bool)
}

/// An instance as the store carries it. Checked by the same rules as `sixpn db add-instance`.
public struct ReplicaInstance: Sendable, Equatable {
    public var address: String
    public var app: String
    public var region: String
    public var id: String?
    public var started: Bool
    public var processGroup: String
    public var metadata: [String: String]

    public init(address: String, app: String, region: String, id: String?, started: Bool,
                processGroup: String = "app", metadata: [String: String] = [:]) {
        self.address = address
        self.app = app
        self.region = region
        self.id = id
        self.started = started
        self.processGroup = processGroup
        self.metadata = metadata
    }

    /// The checked, normalized row: what both ways of writing an instance store.
    func checked() throws(DatabaseError) -> (InstanceFields, group: String, metadata: [(key: String, value: String)]) {
        let f = try InstanceFields(app: app, region: region, address: address, id: id)
        let pairs = try InstanceFields.metadata(metadata.sorted { $0.key < $1.key }.map { (key: $0.key, value: $0.value) })
        return (f, try InstanceFields.processGroup(processGroup), pairs)
    }
}

public struct ReplicaPeer: Sendable, Equatable {
    public var address: String
    public var name: String
    public var publicKey: String?

    public init(address: String, name: String, publicKey: String?) {
        self.address = address
        self.name = name
        self.publicKey = publicKey
    }
}

/// Where the replica stands: the store's revision whose changes are all in the
/// database, and which store (cluster ID) they came from.
public struct ReplicaPosition: Sendable, Equatable {
    public var revision: Int64
    public var clusterID: UInt64

    public init(revision: Int64, clusterID: UInt64) {
        self.revision = revision
        self.clusterID = clusterID
    }
}

/// The host's database kept as a replica of the cluster's store: each batch of
/// changes is applied in one transaction together with the revision it brings
/// the database to, so that a restart resumes exactly where the last commit
/// ended and `sixpn serve` never sees half a revision.
///
/// A change that breaks the schema's rules (a bad label, an address outside its
/// organization, a name taken by another address) is rolled back alone, to a
/// savepoint, and returned to the caller to count; the rest of the batch applies.
public final class ReplicaDatabase {
    private let db: SQLiteConnection
    /// Prepared statements by their SQL literal's address: a listing runs each a
    /// million times, and a key made of the SQL text would be hashed and compared each time.
    private var statements: [UInt: SQLiteStatement] = [:]
    /// What a replacement has written so far, so that each listed instance costs one INSERT.
    private var listed: Listed?

    private struct Listed {
        var orgs = Set<UInt32>()
        var apps: [AppName: Int64] = [:]
        var hosts = Set<UInt32>()
    }

    private struct AppName: Hashable {
        var network: UInt32
        var name: String
    }

    /// The table the replica needs beside docs/schema.md's: the stored position.
    static let replicaTables = """
        CREATE TABLE IF NOT EXISTS replica_position (
            one        INTEGER PRIMARY KEY CHECK (one = 1),
            revision   INTEGER NOT NULL,
            cluster_id TEXT NOT NULL
        );
        """

    /// Opens the database at `path`, creating it (schema and WAL) when it does not exist.
    public init(path: String) throws(DatabaseError) {
        try DatabaseWriter.initialize(path: path)
        do {
            db = try SQLiteConnection(path: path, mode: .readWrite(create: false))
            try Schema.migrate(db)
            try db.execute("PRAGMA foreign_keys = ON")
            // The replica can always be listed again from the store: a lost last
            // commit after a power cut costs a resume from one revision earlier.
            try db.execute("PRAGMA synchronous = NORMAL")
            try db.writeTransaction { () throws(SQLiteError) in try db.execute(Self.replicaTables) }
        } catch let e as SQLiteError {
            throw DatabaseError(e)
        } catch {
            throw DatabaseError(.database, "\(error)")
        }
    }

    /// The stored position, or nil when the database was never synced.
    public func position() throws(DatabaseError) -> ReplicaPosition? {
        do {
            let s = try statement("SELECT revision, cluster_id FROM replica_position WHERE one = 1")
            try s.bind()
            guard try s.step() else { return nil }
            let p = ReplicaPosition(revision: s.int64(0), clusterID: UInt64(s.text(1)) ?? 0)
            try s.bind()  // resets it: a statement left on a row would hold a read open and stall WAL checkpoints
            return p
        } catch {
            throw DatabaseError(error)
        }
    }

    /// Applies `changes` in one transaction and stores `position`. Returns the
    /// changes that were refused, each with the reason.
    @discardableResult
    public func apply(_ changes: [ReplicaChange], at position: ReplicaPosition) throws(DatabaseError) -> [(ReplicaChange, DatabaseError)] {
        try transaction { () throws(DatabaseError) in try applyEach(changes, position) }
    }

    /// Replaces everything the replica holds with `changes` (a fresh listing of
    /// the store, puts only) in one transaction, and stores `position`.
    @discardableResult
    public func replace(with changes: [ReplicaChange], at position: ReplicaPosition) throws(DatabaseError) -> [(ReplicaChange, DatabaseError)] {
        try beginReplacement()
        let refused: [(ReplicaChange, DatabaseError)]
        do {
            refused = try add(changes)
        } catch {
            abandonReplacement()
            throw error
        }
        try commitReplacement(at: position)
        return refused
    }

    /// Starts replacing everything the replica holds, for a listing that comes
    /// in pages: `add` each page's changes, then `commitReplacement`, or
    /// `abandonReplacement` when the listing failed (the database is then as it was).
    public func beginReplacement() throws(DatabaseError) {
        do { try db.execute("BEGIN IMMEDIATE") } catch { throw DatabaseError(error) }
        do {
            // Inside this transaction only: the listing is logged as one reset, not row by row.
            try execute(Schema.dropChangeTriggers + Schema.dropRebuiltIndexes)
            // A million rows overflow SQLite's default 2,000-page cache: it would write pages
            // out to the WAL and read them back, again and again, before the commit.
            try execute("PRAGMA cache_size = -\(Self.replacementCacheKiB)")
            try run("DELETE FROM orgs")
            try run("DELETE FROM hosts")
        } catch {
            abandonReplacement()
            throw error
        }
        listed = Listed()
    }

    /// Adds one page of a replacement; returns the changes that were refused.
    public func add(_ changes: [ReplicaChange]) throws(DatabaseError) -> [(ReplicaChange, DatabaseError)] {
        var refused: [(ReplicaChange, DatabaseError)] = []
        var rest: [ReplicaChange] = []
        for change in changes {
            // An instance of a listing: the database holds only what this listing put there, so no
            // lookups and no savepoint (a failed INSERT undoes itself alone); the rest the general way.
            guard case .putInstance(let i) = change, listed != nil else {
                rest.append(change)
                continue
            }
            do {
                try addListed(i)
            } catch {
                guard error.kind != .database else { throw error }
                refused.append((change, error))
            }
        }
        return try refused + applyEach(rest, nil)
    }

    private func addListed(_ i: ReplicaInstance) throws(DatabaseError) {
        let (r, group, metadata) = try i.checked()
        let network = r.sixPN.network
        if listed!.orgs.insert(network).inserted {
            try run("INSERT OR IGNORE INTO orgs (network_id, name) VALUES (?, ?)", .integer(Int64(network)), .text(hex8(network)))
        }
        let name = AppName(network: network, name: r.app)
        var newApp = false
        if listed!.apps[name] == nil {
            try run("INSERT OR IGNORE INTO apps (network_id, name) VALUES (?, ?)", .integer(Int64(network)), .text(r.app))
            listed!.apps[name] = try integer("SELECT id FROM apps WHERE network_id = ? AND name = ?",
                                             .integer(Int64(network)), .text(r.app))
            newApp = true
        }
        let appID = listed!.apps[name]!
        do {
            try run("""
                INSERT INTO instances (app_id, id, region, host_id, address, started, process_group)
                VALUES (?, ?, ?, ?, ?, ?, ?)
                """, .integer(appID), .text(r.id), .text(r.region), .integer(Int64(r.sixPN.host)), .text(r.text),
                    .integer(i.started ? 1 : 0), .text(group))
        } catch {
            if newApp {
                try run("DELETE FROM apps WHERE id = ?", .integer(appID))
                listed!.apps[name] = nil
            }
            throw error
        }
        // Keys are checked unique above, and the instance is new: these cannot fail.
        try insertMetadata(r.text, metadata)
        if listed!.hosts.insert(r.sixPN.host).inserted {
            try run("INSERT OR IGNORE INTO hosts (host_id, alive) VALUES (?, 0)", .integer(Int64(r.sixPN.host)))
        }
    }

    public func commitReplacement(at position: ReplicaPosition) throws(DatabaseError) {
        listed = nil
        _ = try applyEach([], position)
        do {
            try execute(Schema.rebuiltIndexes + Schema.changeTriggers + Schema.logReset)
            try execute("COMMIT")
            try execute("PRAGMA cache_size = -2000")
        } catch {
            abandonReplacement()
            throw error
        }
    }

    public func abandonReplacement() {
        listed = nil
        try? db.execute("ROLLBACK")
        try? db.execute("PRAGMA cache_size = -2000")
    }

    /// The page cache a replacement uses (KiB); back to SQLite's default afterwards.
    static let replacementCacheKiB = 256 * 1024

    /// Every host row, for tests and `sixpn agent`'s log: (host ID, alive).
    public func hosts() throws(DatabaseError) -> [(UInt32, Bool)] {
        do {
            let s = try statement("SELECT host_id, alive FROM hosts ORDER BY host_id")
            try s.bind()
            var out: [(UInt32, Bool)] = []
            while try s.step() { out.append((UInt32(truncatingIfNeeded: s.int64(0)), s.int64(1) != 0)) }
            try s.bind()
            return out
        } catch {
            throw DatabaseError(error)
        }
    }

    // MARK: - One change

    private func applyEach(_ changes: [ReplicaChange], _ position: ReplicaPosition?) throws(DatabaseError) -> [(ReplicaChange, DatabaseError)] {
        var refused: [(ReplicaChange, DatabaseError)] = []
        for change in changes {
            try run("SAVEPOINT change")
            do {
                try apply(change)
                try run("RELEASE change")
            } catch {
                guard error.kind != .database else { throw error }
                try run("ROLLBACK TO change")
                try run("RELEASE change")
                refused.append((change, error))
            }
        }
        guard let position else { return refused }
        try run("""
            INSERT INTO replica_position (one, revision, cluster_id) VALUES (1, ?, ?)
            ON CONFLICT (one) DO UPDATE SET revision = excluded.revision, cluster_id = excluded.cluster_id
            """,
                .integer(position.revision), .text(String(position.clusterID)))
        return refused
    }

    private func apply(_ change: ReplicaChange) throws(DatabaseError) {
        switch change {
        case .putInstance(let i):
            let (r, group, metadata) = try i.checked()
            try deleteInstance(r.text)
            try run("INSERT OR IGNORE INTO orgs (network_id, name) VALUES (?, ?)",
                    .integer(Int64(r.sixPN.network)), .text(hex8(r.sixPN.network)))
            try run("INSERT OR IGNORE INTO apps (network_id, name) VALUES (?, ?)", .integer(Int64(r.sixPN.network)), .text(r.app))
            if try integer("SELECT 1 FROM peers WHERE address = ?", .text(r.text)) != nil {
                throw DatabaseError(.duplicate, "address \(r.text) is already a peer's")
            }
            try run("""
                INSERT INTO instances (app_id, id, region, host_id, address, started, process_group)
                SELECT id, ?, ?, ?, ?, ?, ? FROM apps WHERE network_id = ? AND name = ?
                """, .text(r.id), .text(r.region), .integer(Int64(r.sixPN.host)), .text(r.text),
                    .integer(i.started ? 1 : 0), .text(group), .integer(Int64(r.sixPN.network)), .text(r.app))
            try insertMetadata(r.text, metadata)
            // A host that has not joined yet: its instances wait, out of the plain names.
            try run("INSERT OR IGNORE INTO hosts (host_id, alive) VALUES (?, 0)", .integer(Int64(r.sixPN.host)))
        case .deleteInstance(let address):
            try deleteInstance(try InstanceFields.address(address).address.description)
        case .putPeer(let p):
            let r = try PeerFields(name: p.name, address: p.address, publicKey: p.publicKey)
            try run("DELETE FROM peers WHERE address = ?", .text(r.text))
            if try integer("SELECT 1 FROM instances WHERE address = ?", .text(r.text)) != nil {
                throw DatabaseError(.duplicate, "address \(r.text) is already an instance's")
            }
            try run("INSERT OR IGNORE INTO orgs (network_id, name) VALUES (?, ?)",
                    .integer(Int64(r.sixPN.network)), .text(hex8(r.sixPN.network)))
            try run("INSERT INTO peers (network_id, name, address, public_key) VALUES (?, ?, ?, ?)",
                    .integer(Int64(r.sixPN.network)), .text(r.name), .text(r.text), r.publicKey.map { .text($0) })
        case .deletePeer(let address):
            try run("DELETE FROM peers WHERE address = ?", .text(try InstanceFields.address(address).address.description))
        case .host(let id, let alive):
            try run("INSERT INTO hosts (host_id, alive) VALUES (?, ?) ON CONFLICT (host_id) DO UPDATE SET alive = excluded.alive",
                    .integer(Int64(id)), .integer(alive ? 1 : 0))
        }
    }

    private func insertMetadata(_ address: String, _ pairs: [(key: String, value: String)]) throws(DatabaseError) {
        for (key, value) in pairs {
            try run("INSERT INTO metadata (address, key, value) VALUES (?, ?, ?)", .text(address), .text(key), .text(value))
        }
    }

    /// Removes the instance at `address` (none is fine), and its app when it was the app's last.
    private func deleteInstance(_ address: String) throws(DatabaseError) {
        guard let appID = try integer("SELECT app_id FROM instances WHERE address = ?", .text(address)) else { return }
        try run("DELETE FROM instances WHERE address = ?", .text(address))
        try run("DELETE FROM apps WHERE id = ? AND NOT EXISTS (SELECT 1 FROM instances WHERE app_id = ?)",
                .integer(appID), .integer(appID))
    }

    // MARK: - SQLite

    private func transaction<R>(_ body: () throws(DatabaseError) -> R) throws(DatabaseError) -> R {
        do {
            return try db.writeTransaction(body)
        } catch let e as DatabaseError {
            throw e
        } catch let e as SQLiteError {
            throw DatabaseError(e)
        } catch {
            throw DatabaseError(.database, "\(error)")
        }
    }

    /// Statements are prepared once and kept: a million-instance listing runs each a million times.
    private func statement(_ sql: StaticString) throws(SQLiteError) -> SQLiteStatement {
        let key = UInt(bitPattern: sql.utf8Start)
        if let s = statements[key] { return s }
        let s = try db.prepare(sql.description)
        statements[key] = s
        return s
    }

    /// Statements without parameters, one or more.
    private func execute(_ sql: String) throws(DatabaseError) {
        do { try db.execute(sql) } catch { throw DatabaseError(error) }
    }

    private func run(_ sql: StaticString, _ values: SQLiteValue?...) throws(DatabaseError) {
        do {
            try statement(sql).bind(values).run()
        } catch {
            throw DatabaseError(error.isConstraint ? .duplicate : .database, error.description)
        }
    }

    private func integer(_ sql: StaticString, _ values: SQLiteValue?...) throws(DatabaseError) -> Int64? {
        do {
            let s = try statement(sql).bind(values)
            let v = try s.step() ? s.int64(0) : nil
            try s.bind()
            return v
        } catch {
            throw DatabaseError(.database, error.description)
        }
    }
}
