/// The database layout that service discovery writes and sixpn reads.
/// docs/schema.md is its contract for other writers; keep the two in step.
enum Schema {
    /// PRAGMA user_version of a database with this layout. A reader refuses any other.
    static let version: Int64 = 1

    static let create = """
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
        CREATE TABLE instances (
            app_id  INTEGER NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
            id      TEXT NOT NULL,
            region  TEXT NOT NULL,
            host_id INTEGER NOT NULL CHECK (host_id BETWEEN 0 AND 4294967295),
            address TEXT NOT NULL UNIQUE,
            started INTEGER NOT NULL DEFAULT 1 CHECK (started IN (0, 1)),
            UNIQUE (app_id, id)
        );
        -- Covers the snapshot's one read: a scan in (app, region, ID) order that never visits the table.
        CREATE INDEX instances_in_order ON instances (app_id, region, id, host_id, address, started);
        CREATE TABLE peers (
            network_id INTEGER NOT NULL REFERENCES orgs (network_id) ON DELETE CASCADE,
            name       TEXT NOT NULL,
            address    TEXT NOT NULL UNIQUE,
            public_key TEXT,
            PRIMARY KEY (network_id, name)
        );
        PRAGMA user_version = \(version);
        """

    /// Every instance row, in the order the snapshot is built: organization,
    /// app, region, instance ID. Apps without instances come once, with NULLs.
    static let instancesInOrder = """
        SELECT a.network_id, a.name, i.id, i.region, i.host_id, i.address, i.started
        FROM apps a LEFT JOIN instances i ON i.app_id = a.id
        ORDER BY a.network_id, a.name, i.region, i.id
        """

    static let orgsInOrder = "SELECT network_id, name FROM orgs ORDER BY network_id"
    static let peersInOrder = "SELECT network_id, name, address, public_key FROM peers ORDER BY network_id, name"

    /// Throws unless the connection's database has this layout's version.
    static func check(_ db: SQLiteConnection) throws(SQLiteError) {
        let v = try db.integer("PRAGMA user_version")
        guard v == version else {
            throw SQLiteError(code: 0, message: v == 0
                ? "not a sixpn database (no schema version; run `sixpn db init`)"
                : "schema version \(v), expected \(version)", context: "open \(db.path)")
        }
    }
}
