import DNSWire
import Foundation
import Logging
import Synchronization
import Testing
@testable import ZoneEngine

private let logger = Logger(label: "sixpn.zone.test")
private let client = "fdaa:0:1:0:a1:0:1:2"

/// Runs a program to completion and returns its exit status.
@discardableResult
private func run(_ program: String, _ arguments: [String]) throws -> Int32 {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: program)
    p.arguments = arguments
    try p.run()
    p.waitUntilExit()
    return p.terminationStatus
}

@Suite struct ZoneStoreTests {
    @Test func startingWithoutADatabaseFailsWithOneLine() throws {
        let error = #expect(throws: DatabaseError.self) { try ZoneStore(path: "/nonexistent/zone.sqlite", logger: logger) }
        #expect(error?.description.contains("/nonexistent/zone.sqlite") == true)
        #expect(error?.description.contains("\n") == false)
    }

    @Test func startingWithAForeignFileFails() throws {
        let t = try TemporaryDatabase()
        try run("/usr/bin/sqlite3", [t.path + ".new", "CREATE TABLE t (x); PRAGMA user_version = 7;"])
        let error = #expect(throws: DatabaseError.self) { try ZoneStore(path: t.path + ".new", logger: logger) }
        #expect(error?.description.contains("schema version 7") == true)
    }

    /// Another process (the sqlite3 shell) adds an instance while lookups run
    /// in a loop: the new address is served within 1 s and no lookup fails.
    @Test func aChangeFromAnotherProcessIsServedWithinOneSecond() throws {
        let t = try TemporaryDatabase()
        try t.writer().addInstance(app: "web", region: "ams", address: client)
        let store = try ZoneStore(path: t.path, logger: logger)
        try store.start()
        defer { store.stop() }

        let stop = Atomic<Bool>(false)
        let failures = Atomic<Int>(0)
        let lookups = Atomic<Int>(0)
        let seenAt = Mutex<ContinuousClock.Instant?>(nil)
        let reader = Thread {
            while !stop.load(ordering: .relaxed) {
                guard let r = try? store.current.ask("web.internal", from: client), r.rcode == .noError, !r.aaaa.isEmpty else {
                    failures.add(1, ordering: .relaxed)
                    continue
                }
                lookups.add(1, ordering: .relaxed)
                if r.aaaa.contains("fdaa:0:1:0:a2:0:2:2") {
                    seenAt.withLock { if $0 == nil { $0 = .now } }
                }
            }
        }
        reader.start()
        Thread.sleep(forTimeInterval: 0.3)

        let appID = "(SELECT id FROM apps WHERE name = 'web')"
        let status = try run("/usr/bin/sqlite3", [t.path, """
            INSERT INTO instances (app_id, id, region, host_id, address, started)
            VALUES (\(appID), 'second', 'ams', 162, 'fdaa:0:1:0:a2:0:2:2', 1);
            """])
        let written = ContinuousClock.now
        #expect(status == 0)
        while seenAt.withLock({ $0 }) == nil, ContinuousClock.now - written < .seconds(5) {
            Thread.sleep(forTimeInterval: 0.01)
        }
        stop.store(true, ordering: .relaxed)
        Thread.sleep(forTimeInterval: 0.05)
        let seen = try #require(seenAt.withLock { $0 })
        #expect(seen - written < .seconds(2), "picked up by the running poller, not a restart")
        #expect(failures.load(ordering: .relaxed) == 0)
        #expect(lookups.load(ordering: .relaxed) > 100)
        #expect(store.reloadErrors == 0)
    }

    @Test func aBrokenDatabaseKeepsTheLastGoodSnapshot() throws {
        let t = try TemporaryDatabase()
        try t.writer().addInstance(app: "web", region: "ams", address: client)
        let store = try ZoneStore(path: t.path, logger: logger)
        let before = store.current

        // Missing.
        try FileManager.default.moveItem(atPath: t.path, toPath: t.path + ".new")
        store.pollOnce()
        #expect(store.current === before)
        #expect(store.lastError?.contains("missing") == true)
        store.pollOnce()
        #expect(store.reloadErrors == 1)   // the same error is counted once
        #expect(try store.current.ask("web.internal", from: client).aaaa == [client])

        // Garbage in its place.
        try Data(repeating: 0x41, count: 8192).write(to: URL(fileURLWithPath: t.path))
        store.pollOnce()
        #expect(store.current === before)
        #expect(store.reloadErrors == 2)

        // The good file back (a writer replacing the file): loads again.
        unlink(t.path)
        try FileManager.default.moveItem(atPath: t.path + ".new", toPath: t.path)
        store.pollOnce()
        #expect(store.current !== before)
        #expect(store.lastError == nil)
        #expect(try store.current.ask("web.internal", from: client).aaaa == [client])
    }

    /// A writer replaces the file and holds it locked past SQLite's busy wait:
    /// the last good snapshot stays until the lock goes.
    @Test func aLockedDatabaseKeepsTheLastGoodSnapshot() throws {
        let t = try TemporaryDatabase()
        try t.writer().addInstance(app: "web", region: "ams", address: client)
        let store = try ZoneStore(path: t.path, logger: logger)
        let before = store.current

        let next = t.path + ".new"
        try DatabaseWriter.initialize(path: next)
        try DatabaseWriter(path: next).addInstance(app: "api", region: "ams", address: "fdaa:0:1:0:a1:0:9:2")
        // Another connection holds the file's exclusive lock (SQLite's locks
        // conflict between connections of one process as between processes).
        var locker: SQLiteConnection? = try SQLiteConnection(path: next, mode: .readWrite(create: false))
        try locker?.execute("PRAGMA locking_mode = EXCLUSIVE")
        try locker?.execute("BEGIN EXCLUSIVE")
        try locker?.execute("INSERT INTO orgs (network_id, name) VALUES (99, 'locked')")
        #expect(rename(next, t.path) == 0)

        store.pollOnce()   // waits out the 2 s busy timeout
        #expect(store.current === before)
        #expect(store.lastError?.contains("locked") == true)
        #expect(try store.current.ask("web.internal", from: client).aaaa == [client])

        try locker?.execute("COMMIT")
        locker = nil   // closing the connection releases the exclusive lock
        store.pollOnce()
        #expect(store.current !== before)
        #expect(store.lastError == nil)
        #expect(try store.current.ask("api.internal", from: client).aaaa == ["fdaa:0:1:0:a1:0:9:2"])
    }

    @Test func aWrongSchemaVersionKeepsTheLastGoodSnapshot() throws {
        let t = try TemporaryDatabase()
        try t.writer().addInstance(app: "web", region: "ams", address: client)
        let store = try ZoneStore(path: t.path, logger: logger)
        let before = store.current
        try run("/usr/bin/sqlite3", [t.path, "PRAGMA user_version = 9"])
        store.pollOnce()
        #expect(store.current === before)
        #expect(store.lastError?.contains("schema version 9") == true)
        try run("/usr/bin/sqlite3", [t.path, "PRAGMA user_version = \(Schema.version)"])
        store.pollOnce()
        #expect(store.current !== before)
        #expect(store.lastError == nil)
    }

    @Test func reloadNowRebuildsAndAnUnchangedDatabaseIsNotRebuilt() throws {
        let t = try TemporaryDatabase()
        try t.writer().addInstance(app: "web", region: "ams", address: client)
        let store = try ZoneStore(path: t.path, ttl: 30, logger: logger)
        let first = store.current
        store.pollOnce()
        #expect(store.current === first)
        store.reloadNow()
        #expect(store.current !== first)
        #expect(store.current.ttl == 30)
        #expect(try store.current.ask("web.internal", from: client).message.answers.first?.ttl == 30)
    }
}
