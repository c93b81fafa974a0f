import Glibc
@testable import ZoneEngine

/// A fresh database file in its own temporary directory, removed on deinit.
final class TemporaryDatabase {
    let directory: String
    let path: String

    init() throws {
        var template = Array("/tmp/sixpn-zone-XXXXXX".utf8CString)
        guard let p = mkdtemp(&template) else { throw DatabaseError(.database, "mkdtemp failed") }
        directory = String(cString: p)
        path = directory + "/zone.sqlite"
        try DatabaseWriter.initialize(path: path)
    }

    func writer() throws -> DatabaseWriter { try DatabaseWriter(path: path) }

    deinit {
        for suffix in ["", "-wal", "-shm", ".new"] { unlink(path + suffix) }
        rmdir(directory)
    }
}
