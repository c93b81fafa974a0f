@testable import Dnstap
import Glibc
import Sockets

/// A dnstap reader on a Unix socket, as fstrm_capture behaves: ACCEPT for READY, data frames
/// until STOP, then FINISH. Serves one connection on its own thread.
final class FakeReader: @unchecked Sendable {
    let path: String
    private let listener: Int32
    private var thread: pthread_t?
    private(set) var frames: [[UInt8]] = []
    private(set) var stopped = false

    init() throws {
        path = "/tmp/sxd-dnstap-test-\(getpid())-\(UInt32.random(in: 0 ... .max)).sock"
        unlink(path)
        listener = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var a = sockaddr_un()
        a.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &a.sun_path) { $0.copyBytes(from: Array(path.utf8)) }
        let rc = withUnsafePointer(to: &a) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard rc == 0, Glibc.listen(listener, 4) == 0 else { throw Errno("bind \(path)") }
    }

    deinit {
        Glibc.close(listener)
        unlink(path)
    }

    func start() throws {
        thread = try Syscalls.startThread { [self] in serveOne() }
    }

    /// Waits for the connection to end (the writer's STOP).
    func join() {
        if let thread { Syscalls.join(thread) }
    }

    private func serveOne() {
        let fd = accept(listener, nil, nil)
        guard fd >= 0 else { return }
        defer { Glibc.close(fd) }
        guard let ready = readControl(fd), ready.type == FrameStreams.Control.ready.rawValue else { return }
        write(fd, FrameStreams.control(.accept))
        guard let start = readControl(fd), start.type == FrameStreams.Control.start.rawValue else { return }
        while let head = read(fd, 4) {
            let length = Int(FrameStreams.readBigEndian(head, at: 0))
            if length == 0 {
                guard let c = readControl(fd, escaped: true) else { return }
                if c.type == FrameStreams.Control.stop.rawValue {
                    stopped = true
                    write(fd, FrameStreams.control(.finish, contentType: nil))
                    return
                }
                continue
            }
            guard let frame = read(fd, length) else { return }
            frames.append(frame)
        }
    }

    private func readControl(_ fd: Int32, escaped: Bool = false) -> FrameStreams.ParsedControl? {
        if !escaped {
            guard let escape = read(fd, 4), FrameStreams.readBigEndian(escape, at: 0) == 0 else { return nil }
        }
        guard let l = read(fd, 4), let body = read(fd, Int(FrameStreams.readBigEndian(l, at: 0))) else { return nil }
        return FrameStreams.parseControl(body)
    }

    private func read(_ fd: Int32, _ count: Int) -> [UInt8]? {
        var bytes = [UInt8](repeating: 0, count: count)
        var at = 0
        while at < count {
            let n = bytes.withUnsafeMutableBytes { recv(fd, $0.baseAddress! + at, count - at, 0) }
            guard n > 0 else { return nil }
            at += n
        }
        return bytes
    }

    private func write(_ fd: Int32, _ bytes: [UInt8]) {
        _ = bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    }
}
