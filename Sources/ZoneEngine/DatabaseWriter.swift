import CSQLite

/// The writes behind `sixpn db`: each command is checked in full, then done in
/// one transaction, so that bad input leaves the database exactly as it was.
public final class DatabaseWriter {
    private let db: SQLiteConnection

    /// Creates the database with the current schema in WAL mode, or checks
    /// that an existing one has it.
    public static func initialize(path: String) throws(DatabaseError) {
        do {
            let db = try SQLiteConnection(path: path, mode: .readWrite(create: true))
            if try db.integer("PRAGMA user_version") == 0 && db.integer("SELECT count(*) FROM sqlite_schema") == 0 {
                // WAL: readers (the server) never block the writer, nor it them.
                try db.execute("PRAGMA journal_mode = WAL")
                try db.writeTransaction { () throws(SQLiteError) in try db.execute(Schema.create) }
            }
            try Schema.migrate(db)
        } catch let e as SQLiteError {
            throw DatabaseError(e)
        } catch {
            throw DatabaseError(.database, "\(error)")
        }
    }

    /// Opens an existing database for writing; one of schema version 1 is
    /// migrated to the current version in place (one transaction).
    ///
    /// `durable: false` commits without waiting for the disk (WAL with
    /// `synchronous = NORMAL`: a power cut may lose the last commits, never
    /// corrupt the file): for a writer that can replay them, such as an agent
    /// that follows etcd, and commits thousands of times a second.
    public init(path: String, durable: Bool = true) throws(DatabaseError) {
        do {
            db = try SQLiteConnection(path: path, mode: .readWrite(create: false))
            try Schema.migrate(db)
            try db.execute("PRAGMA foreign_keys = ON")
            if !durable { try db.execute("PRAGMA synchronous = NORMAL") }
        } catch {
            if error.code & 0xff == SQLITE_CANTOPEN {
                throw DatabaseError(.database, "no database at \(path) (create it with `sixpn db init --db \(path)`)")
            }
            throw DatabaseError(error)
        }
    }

    /// What `add-instance` stored, for the command to print.
    public struct AddedInstance: Sendable, Hashable {
        public let network: UInt32
        public let app: String
        public let id: String
        public let region: String
        public let address: String
    }

    /// Adds one instance, creating its organization and app when they are new.
    ///
    /// The organization's network ID and the host come from the address; the
    /// ID defaults to the address's instance bits as 8 hex digits. Metadata
    /// keys and values are DNS labels (`<value>.<key>.kv._metadata.<app>.internal`).
    @discardableResult
    public func addInstance(app: String, region: String, address: String, id: String? = nil,
                            started: Bool = true, processGroup: String = "app",
                            metadata: [(key: String, value: String)] = []) throws(DatabaseError) -> AddedInstance {
        let f = try InstanceFields(app: app, region: region, address: address, id: id)
        let (a, app, region, id) = (f.sixPN, f.app, f.region, f.id)
        let group = try InstanceFields.processGroup(processGroup)
        let pairs = try InstanceFields.metadata(metadata)
        let text = a.address.description
        try write { () throws(DatabaseError) in
            try ensureOrg(a.network)
            try sql("INSERT OR IGNORE INTO apps (network_id, name) VALUES (?, ?)", .integer(Int64(a.network)), .text(app))
            let appID = try sqlInteger("SELECT id FROM apps WHERE network_id = ? AND name = ?",
                                       .integer(Int64(a.network)), .text(app))!
            try checkAddressIsFree(text)
            if try sqlInteger("SELECT 1 FROM instances WHERE app_id = ? AND id = ?", .integer(appID), .text(id)) != nil {
                throw DatabaseError(.duplicate, "app \(app) in network \(hex8(a.network)) already has an instance \(id)")
            }
            try sql("""
                INSERT INTO instances (app_id, id, region, host_id, address, started, process_group)
                VALUES (?, ?, ?, ?, ?, ?, ?)
                """, .integer(appID), .text(id), .text(region), .integer(Int64(a.host)), .text(text),
                    .integer(started ? 1 : 0), .text(group))
            for (key, value) in pairs {
                try sql("INSERT INTO metadata (address, key, value) VALUES (?, ?, ?)", .text(text), .text(key), .text(value))
            }
        }
        return AddedInstance(network: a.network, app: app, id: id, region: region, address: text)
    }

    /// Removes the instance with this address, and its app when it was the app's last.
    public func removeInstance(address: String) throws(DatabaseError) {
        let a = try Self.sixPN(address)
        let text = a.address.description
        try write { () throws(DatabaseError) in
            guard let appID = try sqlInteger("SELECT app_id FROM instances WHERE address = ?", .text(text)) else {
                throw DatabaseError(.notFound, "no instance has address \(text)")
            }
            try sql("DELETE FROM instances WHERE address = ?", .text(text))
            try sql("DELETE FROM apps WHERE id = ? AND NOT EXISTS (SELECT 1 FROM instances WHERE app_id = ?)",
                    .integer(appID), .integer(appID))
        }
    }

    /// Marks the instance with this address started (answered) or stopped (only in the `all.` names).
    public func setState(address: String, started: Bool) throws(DatabaseError) {
        let text = try Self.sixPN(address).address.description
        try write { () throws(DatabaseError) in
            guard try sqlInteger("SELECT 1 FROM instances WHERE address = ?", .text(text)) != nil else {
                throw DatabaseError(.notFound, "no instance has address \(text)")
            }
            try sql("UPDATE instances SET started = ?1 WHERE address = ?2 AND started != ?1",
                    .integer(started ? 1 : 0), .text(text))
        }
    }

    /// Sets (or, with `value` nil, removes) one metadata key of the instance with this address.
    public func setMetadata(address: String, key: String, value: String?) throws(DatabaseError) {
        let text = try Self.sixPN(address).address.description
        let key = try Label.normalized(key, what: "metadata key")
        let value = try value.map { (v: String) throws(DatabaseError) in try Label.normalized(v, what: "metadata value") }
        try write { () throws(DatabaseError) in
            guard try sqlInteger("SELECT 1 FROM instances WHERE address = ?", .text(text)) != nil else {
                throw DatabaseError(.notFound, "no instance has address \(text)")
            }
            if let value {
                try sql("INSERT OR REPLACE INTO metadata (address, key, value) VALUES (?, ?, ?)",
                        .text(text), .text(key), .text(value))
            } else {
                try sql("DELETE FROM metadata WHERE address = ? AND key = ?", .text(text), .text(key))
            }
        }
    }

    /// Records whether a host is alive (the cluster agent's view of the
    /// fleet). A dead host's instances leave the names that list instances;
    /// a host without a row counts as alive.
    public func setHost(id: UInt32, alive: Bool) throws(DatabaseError) {
        try write { () throws(DatabaseError) in
            try sql("""
                INSERT INTO hosts (host_id, alive) VALUES (?1, ?2)
                ON CONFLICT (host_id) DO UPDATE SET alive = ?2 WHERE alive != ?2
                """, .integer(Int64(id)), .integer(alive ? 1 : 0))
        }
    }

    /// Forgets a host's row: it counts as alive again.
    public func removeHost(id: UInt32) throws(DatabaseError) {
        try write { () throws(DatabaseError) in try sql("DELETE FROM hosts WHERE host_id = ?", .integer(Int64(id))) }
    }

    /// Adds a WireGuard peer to the organization its address belongs to (created when new).
    public func addPeer(name: String, address: String, publicKey: String? = nil) throws(DatabaseError) {
        let f = try PeerFields(name: name, address: address, publicKey: publicKey)
        let (a, name, text) = (f.sixPN, f.name, f.text)
        try write { () throws(DatabaseError) in
            try ensureOrg(a.network)
            if try sqlInteger("SELECT 1 FROM peers WHERE network_id = ? AND name = ?",
                              .integer(Int64(a.network)), .text(name)) != nil {
                throw DatabaseError(.duplicate, "network \(hex8(a.network)) already has a peer named \(name)")
            }
            try checkAddressIsFree(text)
            try sql("INSERT INTO peers (network_id, name, address, public_key) VALUES (?, ?, ?, ?)",
                    .integer(Int64(a.network)), .text(name), .text(text), publicKey.map { .text($0) })
        }
    }

    public func removePeer(name: String, network: UInt32) throws(DatabaseError) {
        let name = try Label.normalized(name, what: "peer name")
        try write { () throws(DatabaseError) in
            guard try sqlInteger("SELECT 1 FROM peers WHERE network_id = ? AND name = ?",
                                 .integer(Int64(network)), .text(name)) != nil else {
                throw DatabaseError(.notFound, "network \(hex8(network)) has no peer named \(name)")
            }
            try sql("DELETE FROM peers WHERE network_id = ? AND name = ?", .integer(Int64(network)), .text(name))
        }
    }

    /// The database's organizations, instances and peers (one organization's with `network`),
    /// read in one transaction. Throws `.notFound` when `network` names no organization.
    public func contents(network: UInt32? = nil) throws(DatabaseError) -> DatabaseContents {
        let filter: SQLiteValue? = network.map { .integer(Int64($0)) }
        var c = DatabaseContents()
        do {
            try db.readTransaction { () throws(SQLiteError) in
                let orgs = try db.prepare("SELECT network_id, name FROM orgs WHERE ?1 IS NULL OR network_id = ?1 ORDER BY network_id")
                try orgs.bind(filter)
                while try orgs.step() {
                    c.organizations.append(.init(network: UInt32(orgs.int64(0)), name: orgs.text(1)))
                }
                let instances = try db.prepare("""
                    SELECT a.network_id, a.name, i.id, i.region, i.host_id, i.address, i.started
                    FROM instances i JOIN apps a ON a.id = i.app_id
                    WHERE ?1 IS NULL OR a.network_id = ?1 ORDER BY a.network_id, a.name, i.region, i.id
                    """)
                try instances.bind(filter)
                while try instances.step() {
                    let i = instances
                    // The schema's CHECKs keep addresses inside fdaa::/16, so this only skips a row written around them.
                    guard let address = SixPNAddress(i.text(5)) else { continue }
                    c.instances.append(.init(network: UInt32(i.int64(0)), app: i.text(1), id: i.text(2), region: i.text(3),
                                             host: UInt32(truncatingIfNeeded: i.int64(4)), address: address,
                                             started: i.int64(6) != 0))
                }
                let peers = try db.prepare("""
                    SELECT network_id, name, address, public_key FROM peers
                    WHERE ?1 IS NULL OR network_id = ?1 ORDER BY network_id, name
                    """)
                try peers.bind(filter)
                while try peers.step() {
                    guard let address = SixPNAddress(peers.text(2)) else { continue }
                    c.peers.append(.init(network: UInt32(peers.int64(0)), name: peers.text(1), address: address,
                                         publicKey: peers.isNull(3) ? nil : peers.text(3)))
                }
            }
        } catch let e as SQLiteError {
            throw DatabaseError(e)
        } catch {
            throw DatabaseError(.database, "\(error)")
        }
        if let network, c.organizations.isEmpty {
            throw DatabaseError(.notFound, "no organization has network ID \(hex8(network))")
        }
        return c
    }

    /// ``contents(network:)`` as text, one thing per line (``DatabaseContents/lines``).
    public func list(network: UInt32? = nil) throws(DatabaseError) -> [String] {
        try contents(network: network).lines
    }

    // MARK: - Pieces

    private static func sixPN(_ text: String) throws(DatabaseError) -> SixPNAddress {
        try InstanceFields.address(text)
    }

    private func ensureOrg(_ network: UInt32) throws(DatabaseError) {
        try sql("INSERT OR IGNORE INTO orgs (network_id, name) VALUES (?, ?)", .integer(Int64(network)), .text(hex8(network)))
        guard try sqlInteger("SELECT 1 FROM orgs WHERE network_id = ?", .integer(Int64(network))) != nil else {
            throw DatabaseError(.duplicate, "cannot create organization \(hex8(network)): another organization has that name")
        }
    }

    private func checkAddressIsFree(_ text: String) throws(DatabaseError) {
        if try sqlInteger("SELECT 1 FROM instances WHERE address = ? UNION ALL SELECT 1 FROM peers WHERE address = ?",
                          .text(text), .text(text)) != nil {
            throw DatabaseError(.duplicate, "address \(text) is already in the database")
        }
    }

    private func write(_ body: () throws(DatabaseError) -> Void) throws(DatabaseError) {
        do {
            try db.writeTransaction(body)
        } catch let e as DatabaseError {
            throw e
        } catch let e as SQLiteError {
            throw DatabaseError(e.isConstraint ? .duplicate : .database, e.description)
        } catch {
            throw DatabaseError(.database, "\(error)")
        }
    }

    private func sql(_ text: String, _ values: SQLiteValue?...) throws(DatabaseError) {
        do {
            let s = try db.prepare(text)
            try s.bind(values)
            try s.run()
        } catch {
            throw DatabaseError(error.isConstraint ? .duplicate : .database, error.description)
        }
    }

    private func sqlInteger(_ text: String, _ values: SQLiteValue?...) throws(DatabaseError) -> Int64? {
        do {
            let s = try db.prepare(text)
            try s.bind(values)
            return try s.step() ? s.int64(0) : nil
        } catch {
            throw DatabaseError(.database, error.description)
        }
    }
}
