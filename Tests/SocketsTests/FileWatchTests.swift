import Foundation
import Glibc
import Sockets
import Testing

/// FileWatch: the zone poller's wake-up on the database's files.
@Suite struct FileWatchTests {
    /// A fresh directory, removed after `body`.
    func inDirectory(_ body: (String) throws -> Void) throws {
        let dir = NSTemporaryDirectory() + "sx-watch-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try body(dir)
    }

    func append(_ path: String, _ text: String) throws {
        if !FileManager.default.fileExists(atPath: path) { _ = FileManager.default.createFile(atPath: path, contents: nil) }
        let h = try #require(FileHandle(forWritingAtPath: path))
        h.seekToEndOfFile()
        h.write(Data(text.utf8))
        h.closeFile()
    }

    @Test func aWriteToAWatchedFileWakesTheWaitAndOthersDoNot() throws {
        try inDirectory { dir in
            try append(dir + "/z.db-wal", "")
            try append(dir + "/other", "")
            let watch = try #require(FileWatch(directory: dir, names: ["z.db", "z.db-wal"]))
            #expect(!watch.wait(milliseconds: 20), "nothing written yet")

            try append(dir + "/other", "x")
            #expect(!watch.wait(milliseconds: 50), "a file not named is no change")

            try append(dir + "/z.db-wal", "frame")
            #expect(watch.wait(milliseconds: 2000), "a write to the WAL is")
            #expect(!watch.wait(milliseconds: 20), "and it is taken once")

            // A write between a drain and the wait still wakes it: events queue until read.
            watch.drain()
            try append(dir + "/z.db-wal", "frame")
            #expect(watch.wait(milliseconds: 0))
        }
    }

    @Test func aFileRenamedOverTheDatabaseOrRemovedIsAChange() throws {
        try inDirectory { dir in
            try append(dir + "/z.db", "old")
            try append(dir + "/new", "new")
            let watch = try #require(FileWatch(directory: dir, names: ["z.db"]))
            #expect(rename(dir + "/new", dir + "/z.db") == 0)
            #expect(watch.wait(milliseconds: 2000), "renamed over")
            #expect(unlink(dir + "/z.db") == 0)
            #expect(watch.wait(milliseconds: 2000), "removed")
        }
    }

    @Test func wakeReturnsAWaitAtOnce() throws {
        try inDirectory { dir in
            let watch = try #require(FileWatch(directory: dir, names: ["z.db"]))
            let start = ContinuousClock.now
            watch.wake()
            #expect(!watch.wait(milliseconds: 10_000), "woken, not changed")
            #expect(ContinuousClock.now - start < .seconds(5))
        }
    }

    @Test func noWatchOnADirectoryThatIsNotThere() {
        #expect(FileWatch(directory: "/nonexistent-\(UUID().uuidString)", names: ["z.db"]) == nil)
    }
}
