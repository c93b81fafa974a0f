/// The database layout that service discovery writes and sixpn reads.
/// docs/schema.md is its contract for other writers; keep the two in step.
enum Schema {
    /// PRAGMA user_version of a database with this layout. Writers migrate
    /// an older one in place (``migrate(_:)``); the server reads both.
    static let version: Int64 = 3
    /// Versions the server can answer from.
    static let readable: ClosedRange<Int64> = 1...3
    /// How many rows of `changes` the triggers keep: a reader that fell
    /// further behind (or a server that was down) builds everything again.
    static let changesKept = 100_000

    /// Version 1's tables, which version 2 keeps unchanged except for the
    /// instances' `process_group` and their covering index.
    private static let orgsAppsPeers = """
        CREATE TABLE orgs (
            network_id INTEGER PRIMARY KEY CHECK (network_id BETWEEN 1 AND 4294967295),
            name       TEXT NOT NULL UNIQUE
        );
        CREATE TABLE apps (
            id         INTEGER PRIMARY KEY,
            network_id INTEGER NOT NULL REFERENCES orgs (network_id) ON DELETE CASCADE,
            name       TEXT NOT NULL,
            UNIQUE (network_id, name)
        );
        CREATE TABLE peers (
            network_id INTEGER NOT NULL REFERENCES orgs (network_id) ON DELETE CASCADE,
            name       TEXT NOT NULL,
            address    TEXT NOT NULL UNIQUE,
            public_key TEXT,
            PRIMARY KEY (network_id, name)
        );
        """

    /// Covers the snapshot's one read of an organization: a scan in (app,
    /// region, ID) order that never visits the table.
    private static let orderIndex = """
        CREATE INDEX instances_in_order ON instances (app_id, region, id, host_id, address, started, process_group);
        """

    private static let hostIndex = "CREATE INDEX instances_by_host ON instances (host_id);"

    /// The indexes a writer that replaces everything may drop for its transaction and create
    /// again before it commits: one sort each instead of a million random inserts.
    static let rebuiltIndexes = orderIndex + hostIndex
    static let dropRebuiltIndexes = "DROP INDEX instances_in_order; DROP INDEX instances_by_host;"

    /// What versions 2 and 3 add to version 1: metadata, hosts, and the
    /// change log with the triggers that fill it, so that a change by any
    /// writer names the organizations (and apps) it touches.
    private static let additionsSince1 = """
        """ + hostIndex + """

        CREATE TABLE metadata (
            address TEXT NOT NULL REFERENCES instances (address) ON DELETE CASCADE ON UPDATE CASCADE,
            key     TEXT NOT NULL,
            value   TEXT NOT NULL,
            PRIMARY KEY (address, key)
        );
        CREATE TABLE hosts (
            host_id INTEGER PRIMARY KEY,
            alive   INTEGER NOT NULL CHECK (alive IN (0, 1))
        );
        CREATE TABLE changes (
            seq        INTEGER PRIMARY KEY AUTOINCREMENT,
            network_id INTEGER,
            host_id    INTEGER,
            app_id     INTEGER
        );
        CREATE TRIGGER changes_kept AFTER INSERT ON changes BEGIN
            DELETE FROM changes WHERE seq <= NEW.seq - \(changesKept);
        END;

        """ + changeTriggers + """
        PRAGMA user_version = \(version);
        """

    /// The triggers that log, in `changes`, the organization and app (or the
    /// host) each write touches: an app's rows (its instances and their
    /// metadata included) with its ID, an organization's own rows (`orgs`,
    /// `peers`, and the `apps` row itself, which changes the app list) with
    /// app_id NULL. A reader reads an organization's app list and peers
    /// again only for a NULL row.
    /// A writer that replaces everything in one transaction (a relisted replica) drops them
    /// for that transaction and logs one reset instead (``dropChangeTriggers``, ``logReset``):
    /// a million rows cost one log row, not a million.
    static let changeTriggers = """
        CREATE TRIGGER orgs_insert AFTER INSERT ON orgs BEGIN
            INSERT INTO changes (network_id) VALUES (NEW.network_id);
        END;
        CREATE TRIGGER orgs_update AFTER UPDATE ON orgs BEGIN
            INSERT INTO changes (network_id) VALUES (OLD.network_id), (NEW.network_id);
        END;
        CREATE TRIGGER orgs_delete AFTER DELETE ON orgs BEGIN
            INSERT INTO changes (network_id) VALUES (OLD.network_id);
        END;
        CREATE TRIGGER apps_insert AFTER INSERT ON apps BEGIN
            INSERT INTO changes (network_id, app_id) VALUES (NEW.network_id, NEW.id), (NEW.network_id, NULL);
        END;
        CREATE TRIGGER apps_update AFTER UPDATE ON apps BEGIN
            INSERT INTO changes (network_id, app_id)
                VALUES (OLD.network_id, OLD.id), (NEW.network_id, NEW.id), (OLD.network_id, NULL), (NEW.network_id, NULL);
        END;
        CREATE TRIGGER apps_delete AFTER DELETE ON apps BEGIN
            INSERT INTO changes (network_id, app_id) VALUES (OLD.network_id, OLD.id), (OLD.network_id, NULL);
        END;
        CREATE TRIGGER instances_insert AFTER INSERT ON instances BEGIN
            INSERT INTO changes (network_id, app_id) SELECT network_id, id FROM apps WHERE id = NEW.app_id;
        END;
        CREATE TRIGGER instances_update AFTER UPDATE ON instances BEGIN
            INSERT INTO changes (network_id, app_id) SELECT network_id, id FROM apps WHERE id IN (OLD.app_id, NEW.app_id);
        END;
        CREATE TRIGGER instances_delete AFTER DELETE ON instances BEGIN
            INSERT INTO changes (network_id, app_id) SELECT network_id, id FROM apps WHERE id = OLD.app_id;
        END;
        CREATE TRIGGER peers_insert AFTER INSERT ON peers BEGIN
            INSERT INTO changes (network_id) VALUES (NEW.network_id);
        END;
        CREATE TRIGGER peers_update AFTER UPDATE ON peers BEGIN
            INSERT INTO changes (network_id) VALUES (OLD.network_id), (NEW.network_id);
        END;
        CREATE TRIGGER peers_delete AFTER DELETE ON peers BEGIN
            INSERT INTO changes (network_id) VALUES (OLD.network_id);
        END;
        CREATE TRIGGER metadata_insert AFTER INSERT ON metadata BEGIN
            INSERT INTO changes (network_id, app_id)
                SELECT a.network_id, a.id FROM instances i JOIN apps a ON a.id = i.app_id WHERE i.address = NEW.address;
        END;
        CREATE TRIGGER metadata_update AFTER UPDATE ON metadata BEGIN
            INSERT INTO changes (network_id, app_id)
                SELECT a.network_id, a.id FROM instances i JOIN apps a ON a.id = i.app_id WHERE i.address IN (OLD.address, NEW.address);
        END;
        CREATE TRIGGER metadata_delete AFTER DELETE ON metadata BEGIN
            INSERT INTO changes (network_id, app_id)
                SELECT a.network_id, a.id FROM instances i JOIN apps a ON a.id = i.app_id WHERE i.address = OLD.address;
        END;
        CREATE TRIGGER hosts_insert AFTER INSERT ON hosts BEGIN
            INSERT INTO changes (host_id) VALUES (NEW.host_id);
        END;
        CREATE TRIGGER hosts_update AFTER UPDATE ON hosts BEGIN
            INSERT INTO changes (host_id) VALUES (OLD.host_id), (NEW.host_id);
        END;
        CREATE TRIGGER hosts_delete AFTER DELETE ON hosts BEGIN
            INSERT INTO changes (host_id) VALUES (OLD.host_id);
        END;
        """

    /// The tables whose writes the triggers log.
    private static let loggedTables = ["orgs", "apps", "instances", "peers", "metadata", "hosts"]
    static let dropChangeTriggers = loggedTables
        .flatMap { t in ["insert", "update", "delete"].map { "DROP TRIGGER \(t)_\($0);" } }
        .joined(separator: "\n")
    /// Empties the log and writes one row naming neither an organization nor a host:
    /// every reader builds everything (see ``changeReset``).
    static let logReset = "DELETE FROM changes; INSERT INTO changes (network_id, host_id) VALUES (NULL, NULL);"

    static let create = orgsAppsPeers + """

        CREATE TABLE instances (
            app_id        INTEGER NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
            id            TEXT NOT NULL,
            region        TEXT NOT NULL,
            host_id       INTEGER NOT NULL CHECK (host_id BETWEEN 0 AND 4294967295),
            address       TEXT NOT NULL UNIQUE,
            started       INTEGER NOT NULL DEFAULT 1 CHECK (started IN (0, 1)),
            process_group TEXT NOT NULL DEFAULT 'app',
            UNIQUE (app_id, id)
        );

        """ + orderIndex + "\n" + additionsSince1

    /// Version 1 -> 3 in place: the new column (every instance in `app`), its
    /// index, and the additions. Run inside one write transaction.
    static let migrateFrom1 = """
        ALTER TABLE instances ADD COLUMN process_group TEXT NOT NULL DEFAULT 'app';
        DROP INDEX instances_in_order;

        """ + orderIndex + "\n" + additionsSince1

    /// Version 2 -> 3 in place: the change log names the app, so that a
    /// reader builds one app again rather than its whole organization.
    static let migrateFrom2 = """
        ALTER TABLE changes ADD COLUMN app_id INTEGER;

        """ + dropChangeTriggers + "\n" + changeTriggers + """
        PRAGMA user_version = \(version);
        """

    // MARK: - The reads of one organization

    /// Every network that has an organization, an app or a peer, in order.
    static let networks = """
        SELECT network_id FROM orgs UNION SELECT network_id FROM apps UNION SELECT network_id FROM peers
        """
    static let networkExists = """
        SELECT 1 FROM orgs WHERE network_id = ?1 UNION ALL SELECT 1 FROM apps WHERE network_id = ?1
        UNION ALL SELECT 1 FROM peers WHERE network_id = ?1 LIMIT 1
        """

    /// The organization's apps and instances in (app, region, ID) order; an
    /// app without instances comes once, with NULLs. Columns: app, ID,
    /// region, host, address, started, process group, host alive, app ID.
    static func instances(version: Int64) -> String {
        version >= 2 ? instanceRows + " WHERE a.network_id = ?1 ORDER BY a.name, i.region, i.id" : """
            SELECT a.name, i.id, i.region, i.host_id, i.address, i.started, 'app', 1, a.id
            FROM apps a LEFT JOIN instances i ON i.app_id = a.id
            WHERE a.network_id = ?1 ORDER BY a.name, i.region, i.id
            """
    }

    /// The same columns for the one app whose ID is ?1 (schema version 3).
    static let appInstances = instanceRows + " WHERE a.id = ?1 ORDER BY i.region, i.id"

    /// The columns of ``instances(version:)`` from version 2 on, before the WHERE.
    private static let instanceRows = """
        SELECT a.name, i.id, i.region, i.host_id, i.address, i.started, i.process_group, coalesce(h.alive, 1), a.id
        FROM apps a LEFT JOIN instances i ON i.app_id = a.id LEFT JOIN hosts h ON h.host_id = i.host_id
        """

    /// The IDs of the organization's apps, in the order of ``instances(version:)``.
    static let apps = "SELECT id FROM apps WHERE network_id = ?1 ORDER BY name"

    /// The organization's instance metadata: address, key, value, app ID.
    static func metadata(version: Int64) -> String {
        version >= 2 ? """
            SELECT m.address, m.key, m.value, i.app_id FROM metadata m
            JOIN instances i ON i.address = m.address JOIN apps a ON a.id = i.app_id
            WHERE a.network_id = ?1
            """ : "SELECT NULL, NULL, NULL, NULL WHERE ?1 IS NULL AND 0"
    }

    /// The same columns for the one app whose ID is ?1.
    static let appMetadata = """
        SELECT m.address, m.key, m.value, i.app_id FROM metadata m JOIN instances i ON i.address = m.address
        WHERE i.app_id = ?1
        """

    /// 1 when any instance has metadata (an update skips ``appMetadata`` for every app when none has).
    static let anyMetadata = "SELECT EXISTS (SELECT 1 FROM metadata)"

    static let peers = "SELECT name, address FROM peers WHERE network_id = ?1 ORDER BY name"

    // MARK: - The change log

    /// The lowest and highest sequence numbers in the change log (NULLs when empty). Two
    /// subqueries: each is one step down the primary key, where min and max together scan the table.
    static let changeRange = "SELECT (SELECT min(seq) FROM changes), (SELECT max(seq) FROM changes)"
    /// A reset after ?1: a row naming neither an organization nor a host (``logReset``).
    static let changeReset = "SELECT 1 FROM changes WHERE seq > ?1 AND network_id IS NULL AND host_id IS NULL LIMIT 1"
    /// The organizations named by changes after ?1: directly, or through
    /// the instances on a host whose row changed; with the app each change
    /// touched (schema version 3; NULL: the organization's own rows, or a
    /// version 2 log, which does not say).
    static func changedApps(version: Int64) -> String {
        version >= 3 ? """
            SELECT network_id, app_id FROM changes WHERE seq > ?1 AND network_id IS NOT NULL
            UNION
            SELECT a.network_id, a.id FROM changes c JOIN instances i ON i.host_id = c.host_id JOIN apps a ON a.id = i.app_id
            WHERE c.seq > ?1 AND c.host_id IS NOT NULL
            """ : """
            SELECT network_id, NULL FROM changes WHERE seq > ?1 AND network_id IS NOT NULL
            UNION
            SELECT a.network_id, NULL FROM changes c JOIN instances i ON i.host_id = c.host_id JOIN apps a ON a.id = i.app_id
            WHERE c.seq > ?1 AND c.host_id IS NOT NULL
            """
    }

    /// The database's version; throws unless the server can read it.
    @discardableResult
    static func check(_ db: SQLiteConnection) throws(SQLiteError) -> Int64 {
        let v = try db.integer("PRAGMA user_version")
        guard readable.contains(v) else {
            throw SQLiteError(code: 0, message: v == 0
                ? "not a sixpn database (no schema version; run `sixpn db init`)"
                : "schema version \(v), expected \(version)", context: "open \(db.path)")
        }
        return v
    }

    /// Brings a writer's database to this version (inside a write transaction), or throws.
    static func migrate(_ db: SQLiteConnection) throws(SQLiteError) {
        guard try check(db) < version else { return }
        do {
            try db.writeTransaction { () throws(SQLiteError) in
                // Checked again under the write lock: another writer may have migrated it meanwhile.
                switch try db.integer("PRAGMA user_version") {
                case 1: try db.execute(migrateFrom1)
                case 2: try db.execute(migrateFrom2)
                default: break  // another writer migrated it meanwhile
                }
            }
        } catch let e as SQLiteError {
            throw e
        } catch {
            throw SQLiteError(code: 1, message: "\(error)", context: "migrate \(db.path) to schema version \(version)")
        }
    }
}
