import CSQLite

/// What went wrong in SQLite, and where: the result code, SQLite's own
/// message, and what we were doing (opening which file, running which SQL).
public struct SQLiteError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The SQLite primary or extended result code (`SQLITE_BUSY`, `SQLITE_CORRUPT`, ...).
    public let code: Int32
    /// SQLite's explanation (`sqlite3_errmsg`), or ours for checks SQLite does not make.
    public let message: String
    /// What was being done: `open /var/lib/sixpn/db.sqlite`, `prepare SELECT ...`.
    public let context: String

    public init(code: Int32, message: String, context: String) {
        self.code = code
        self.message = message
        self.context = context
    }

    /// True for "someone else holds the lock": worth retrying later.
    public var isBusy: Bool { code & 0xff == SQLITE_BUSY || code & 0xff == SQLITE_LOCKED }
    /// True when a UNIQUE, PRIMARY KEY, FOREIGN KEY or CHECK constraint refused a write.
    public var isConstraint: Bool { code & 0xff == SQLITE_CONSTRAINT }

    public var description: String { "\(context): \(message)" }
}

/// One SQLite connection. The only type in sixpn that sees `sqlite3` pointers.
///
/// Not shareable between threads: each thread that needs the database opens its own.
final class SQLiteConnection {
    enum Mode {
        /// Serving: never writes, never creates the file.
        case readOnly
        /// `sixpn db`: writes, and creates the file when `create` is set.
        case readWrite(create: Bool)
    }

    private let handle: OpaquePointer
    let path: String

    init(path: String, mode: Mode) throws(SQLiteError) {
        var flags = SQLITE_OPEN_NOMUTEX
        switch mode {
        case .readOnly: flags |= SQLITE_OPEN_READONLY
        case .readWrite(let create): flags |= SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0)
        }
        var db: OpaquePointer?
        let rc = sqlite3_open_v2(path, &db, flags, nil)
        guard rc == SQLITE_OK, let db else {
            let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? String(cString: sqlite3_errstr(rc))
            sqlite3_close_v2(db)
            throw SQLiteError(code: rc, message: message, context: "open \(path)")
        }
        sqlite3_extended_result_codes(db, 1)
        // A writer holds the lock only for one short transaction; wait for it rather than fail.
        sqlite3_busy_timeout(db, 2000)
        self.handle = db
        self.path = path
    }

    /// Statements of fixed SQL that run at every transaction (BEGIN,
    /// COMMIT, PRAGMA user_version), prepared once: parsing them again at
    /// each of a zone update's few reads cost as much as some of the reads.
    private var fixed: [String: OpaquePointer] = [:]

    deinit {
        for s in fixed.values { sqlite3_finalize(s) }
        sqlite3_close_v2(handle)
    }

    private func error(_ rc: Int32, _ context: @autoclosure () -> String) -> SQLiteError {
        SQLiteError(code: rc, message: String(cString: sqlite3_errmsg(handle)), context: "\(context()) in \(path)")
    }

    /// Runs one or more statements that take no parameters and return no rows we need.
    func execute(_ sql: String) throws(SQLiteError) {
        let rc = sqlite3_exec(handle, sql, nil, nil, nil)
        guard rc == SQLITE_OK else { throw error(rc, "execute \(Self.abbreviate(sql))") }
    }

    func prepare(_ sql: String) throws(SQLiteError) -> SQLiteStatement {
        var stmt: OpaquePointer?
        let rc = sqlite3_prepare_v2(handle, sql, -1, &stmt, nil)
        guard rc == SQLITE_OK, let stmt else { throw error(rc, "prepare \(Self.abbreviate(sql))") }
        return SQLiteStatement(stmt, connection: self, sql: sql)
    }

    /// The first column of the first row of `sql`, as an integer (PRAGMAs,
    /// counts). `sql` is fixed text: its statement is prepared once and kept.
    func integer(_ sql: String) throws(SQLiteError) -> Int64 {
        guard let v = try runFixed(sql) else {
            throw SQLiteError(code: SQLITE_ERROR, message: "no row", context: "\(sql) in \(path)")
        }
        return v
    }

    /// Runs fixed SQL through its statement prepared once; returns the
    /// first column of its first row, nil when it has no row.
    @discardableResult
    private func runFixed(_ sql: String) throws(SQLiteError) -> Int64? {
        let s: OpaquePointer
        if let p = fixed[sql] {
            s = p
        } else {
            var stmt: OpaquePointer?
            let rc = sqlite3_prepare_v2(handle, sql, -1, &stmt, nil)
            guard rc == SQLITE_OK, let stmt else { throw error(rc, "prepare \(Self.abbreviate(sql))") }
            fixed[sql] = stmt
            s = stmt
        }
        defer { sqlite3_reset(s) }
        var first: Int64?
        while true {
            let rc = sqlite3_step(s)
            if rc == SQLITE_ROW {
                if first == nil { first = sqlite3_column_int64(s, 0) }
            } else if rc == SQLITE_DONE {
                return first
            } else {
                throw error(rc, "execute \(Self.abbreviate(sql))")
            }
        }
    }

    /// Runs `body` inside BEGIN IMMEDIATE ... COMMIT; rolls back when it throws.
    func writeTransaction<R, E: Error>(_ body: () throws(E) -> R) throws -> R {
        try runFixed("BEGIN IMMEDIATE")
        do {
            let r = try body()
            try runFixed("COMMIT")
            return r
        } catch {
            _ = try? runFixed("ROLLBACK")
            throw error
        }
    }

    /// Runs `body` inside one read transaction, so that it sees one consistent state.
    func readTransaction<R, E: Error>(_ body: () throws(E) -> R) throws -> R {
        try runFixed("BEGIN DEFERRED")
        defer { _ = try? runFixed("COMMIT") }
        return try body()
    }

    func lastStatementError(_ rc: Int32, sql: String) -> SQLiteError { error(rc, "step \(Self.abbreviate(sql))") }

    private static func abbreviate(_ sql: String) -> String {
        let oneLine = sql.split(whereSeparator: { $0 == "\n" }).map { $0.trimmingPrefixSpaces }.joined(separator: " ")
        return oneLine.count > 60 ? String(oneLine.prefix(57)) + "..." : oneLine
    }
}

private extension Substring {
    var trimmingPrefixSpaces: Substring { drop(while: { $0 == " " }) }
}

/// A prepared statement: bind, step, read columns. Finalized on deinit.
final class SQLiteStatement {
    private let stmt: OpaquePointer
    private let connection: SQLiteConnection
    private let sql: String

    fileprivate init(_ stmt: OpaquePointer, connection: SQLiteConnection, sql: String) {
        self.stmt = stmt
        self.connection = connection
        self.sql = sql
    }

    deinit { sqlite3_finalize(stmt) }

    /// Binds parameters 1, 2, ... in order; `nil` binds NULL.
    @discardableResult
    func bind(_ values: SQLiteValue?...) throws(SQLiteError) -> SQLiteStatement { try bind(values) }

    @discardableResult
    func bind(_ values: [SQLiteValue?]) throws(SQLiteError) -> SQLiteStatement {
        sqlite3_reset(stmt)
        sqlite3_clear_bindings(stmt)
        for (i, v) in values.enumerated() {
            let n = Int32(i + 1)
            let rc: Int32
            switch v {
            case nil: rc = sqlite3_bind_null(stmt, n)
            case .integer(let x): rc = sqlite3_bind_int64(stmt, n, x)
            case .text(var s) where !s.isEmpty:
                // The string's own UTF-8 (SQLite copies it): no C string made per value.
                rc = s.withUTF8 { b in
                    b.withMemoryRebound(to: CChar.self) { sqlite3_bind_text(stmt, n, $0.baseAddress, Int32($0.count), Self.transient) }
                }
            case .text:  // empty: a NULL pointer would bind NULL
                rc = sqlite3_bind_text(stmt, n, "", 0, Self.transient)
            }
            guard rc == SQLITE_OK else { throw connection.lastStatementError(rc, sql: sql) }
        }
        return self
    }

    /// Advances to the next row: true when there is one, false when done.
    func step() throws(SQLiteError) -> Bool {
        let rc = sqlite3_step(stmt)
        switch rc {
        case SQLITE_ROW: return true
        case SQLITE_DONE: return false
        default: throw connection.lastStatementError(rc, sql: sql)
        }
    }

    /// Ends the statement's current run. A statement kept prepared between
    /// transactions must be reset after use: one left mid-run keeps its
    /// read transaction, and so the database as it was then, open.
    func reset() {
        sqlite3_reset(stmt)
    }

    /// The first column of the first row, as an integer; the statement is reset after.
    func integer() throws(SQLiteError) -> Int64 {
        defer { reset() }
        guard try step() else {
            throw SQLiteError(code: SQLITE_ERROR, message: "no row", context: "\(sql) in \(connection.path)")
        }
        return int64(0)
    }

    /// Steps to completion (an INSERT, UPDATE or DELETE).
    func run() throws(SQLiteError) {
        while try step() {}
    }

    func isNull(_ column: Int32) -> Bool { sqlite3_column_type(stmt, column) == SQLITE_NULL }
    func int64(_ column: Int32) -> Int64 { sqlite3_column_int64(stmt, column) }
    func text(_ column: Int32) -> String {
        guard let p = sqlite3_column_text(stmt, column) else { return "" }
        return String(cString: p)
    }

    /// The column's text octets, valid until the next step: for building snapshots without copies.
    func withTextBytes<R>(_ column: Int32, _ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        let p = sqlite3_column_text(stmt, column)
        let n = Int(sqlite3_column_bytes(stmt, column))
        return try body(UnsafeRawBufferPointer(start: p.map { UnsafeRawPointer($0) }, count: p == nil ? 0 : n))
    }

    // SQLITE_TRANSIENT: SQLite copies the bound text before bind returns.
    private static let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)
}

/// A value bound to a statement parameter.
enum SQLiteValue {
    case integer(Int64)
    case text(String)
}
