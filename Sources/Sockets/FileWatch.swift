#if canImport(Glibc)
import Glibc
#endif

/// Wakes a thread when some files of one directory are written, created,
/// renamed over or removed (inotify(7) on the directory, so that a file
/// made again, as SQLite makes its `-wal` anew, is still seen). The zone
/// poller waits on it between looks instead of waking every few
/// milliseconds to find nothing: a writer's commit writes the `-wal` file,
/// and a database renamed over the old one arrives by name.
///
/// Any process's write(2) is seen; writes through a shared mapping are not
/// (SQLite writes its WAL and, without WAL, its database with write(2)).
/// Nor are writes made on another host to a network file system: callers
/// keep a timeout as a floor.
public final class FileWatch: @unchecked Sendable {
    private let fd: Int32
    /// ``wake()`` writes here, so that a waiting thread returns at once.
    private let wakeRead: Int32, wakeWrite: Int32
    private let names: [[UInt8]]
    /// Room for a few hundred events per read(2).
    private let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 16 << 10, alignment: 8)

    /// Watches `directory` for changes to the files called `names` (plain
    /// names, no slash); nil when the kernel will not (no inotify, out of
    /// watches, no such directory).
    public init?(directory: String, names: [String]) {
        let mask = UInt32(IN_MODIFY | IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE)
        let fd = inotify_init1(Int32(IN_NONBLOCK | IN_CLOEXEC))
        guard fd >= 0, inotify_add_watch(fd, directory, mask) >= 0, let pipe = try? Syscalls.wakePipe() else {
            if fd >= 0 { Glibc.close(fd) }
            buffer.deallocate()
            return nil
        }
        self.fd = fd
        (wakeRead, wakeWrite) = pipe
        self.names = names.map { Array($0.utf8) }
    }

    deinit {
        for f in [fd, wakeRead, wakeWrite] { Glibc.close(f) }
        buffer.deallocate()
    }

    /// Makes a ``wait(milliseconds:)`` in progress, and every later one, return at once (to stop its thread).
    public func wake() {
        Syscalls.wake(wakeWrite)
    }

    /// Waits up to `milliseconds` for a change to one of the files; true
    /// when one came (or the kernel's queue overflowed, so one may have).
    /// Events that came before the call are taken too: call ``drain()``
    /// before looking at the files, then this, and nothing is missed.
    public func wait(milliseconds: Int32) -> Bool {
        if drain() { return true }
        var p = (pollfd(fd: fd, events: Int16(POLLIN), revents: 0), pollfd(fd: wakeRead, events: Int16(POLLIN), revents: 0))
        let ready = withUnsafeMutableBytes(of: &p) { b in
            (try? Syscalls.poll(b.baseAddress!.assumingMemoryBound(to: pollfd.self), count: 2, milliseconds: milliseconds)) ?? 0
        }
        guard ready > 0 else { return false }
        return drain()
    }

    /// Reads every event queued so far; true when one was about the files.
    @discardableResult
    public func drain() -> Bool {
        var changed = false
        while true {
            let n = read(fd, buffer.baseAddress, buffer.count)
            guard n > 0 else { return changed }  // EAGAIN: nothing more queued
            var at = 0
            while at + 16 <= n {
                // struct inotify_event: wd, mask, cookie, len, then len octets of NUL-padded name.
                let mask = buffer.load(fromByteOffset: at + 4, as: UInt32.self)
                let length = Int(buffer.load(fromByteOffset: at + 12, as: UInt32.self))
                if mask & UInt32(IN_Q_OVERFLOW) != 0 || matches(UnsafeRawBufferPointer(rebasing: buffer[(at + 16)..<min(n, at + 16 + length)])) {
                    changed = true
                }
                at += 16 + length
            }
        }
    }

    private func matches(_ padded: UnsafeRawBufferPointer) -> Bool {
        let name = padded.prefix { $0 != 0 }
        return names.contains { $0.elementsEqual(name) }
    }
}
