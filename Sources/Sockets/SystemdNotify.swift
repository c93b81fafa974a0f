#if canImport(Glibc)
import Glibc
#endif

/// The service manager's notification protocol (sd_notify(3)), without
/// libsystemd: one datagram of `KEY=VALUE` lines to the AF_UNIX socket that
/// `$NOTIFY_SOCKET` names (a path, or `@name` in the abstract namespace).
///
/// Outside systemd (`NOTIFY_SOCKET` unset) every call does nothing. A send
/// that fails is ignored, as sd_notify's callers do: the service manager
/// going away must not stop the server.
public struct SystemdNotify: Sendable {
    /// The socket's address, as `$NOTIFY_SOCKET` gave it; nil outside systemd.
    public let socketPath: String?
    /// How often the manager wants `WATCHDOG=1` (`$WATCHDOG_USEC`, for this
    /// process when `$WATCHDOG_PID` is unset or names it); nil: no watchdog.
    public let watchdogInterval: Duration?

    /// From this process's environment.
    public init() {
        self.init(environment: { key in getenv(key).map { String(cString: $0) } }, pid: Int(getpid()))
    }

    /// From `environment` (testable): the process `pid` reads it.
    public init(environment: (String) -> String?, pid: Int) {
        let path = environment("NOTIFY_SOCKET")
        socketPath = path.flatMap { $0.isEmpty || ($0.first != "/" && $0.first != "@") ? nil : $0 }
        var interval: Duration?
        if let text = environment("WATCHDOG_USEC"), let usec = Int64(text), usec > 0 {
            if let owner = environment("WATCHDOG_PID"), !owner.isEmpty {
                if Int(owner) == pid { interval = .microseconds(usec) }
            } else {
                interval = .microseconds(usec)
            }
        }
        watchdogInterval = interval
    }

    /// Sends `state` (`"READY=1"`, `"STOPPING=1"`, lines joined by newlines).
    /// Returns whether it was sent; false outside systemd or on any error.
    @discardableResult
    public func send(_ state: String) -> Bool {
        guard let path = socketPath else { return false }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        var bytes = Array(path.utf8)
        if bytes.first == UInt8(ascii: "@") { bytes[0] = 0 }  // the abstract namespace
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard bytes.count < capacity else { return false }
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: bytes) }
        let length = socklen_t(MemoryLayout<sa_family_t>.size + bytes.count + (bytes.first == 0 ? 0 : 1))
        guard let fd = try? Syscalls.socket(family: AF_UNIX, stream: false, nonBlocking: false) else { return false }
        defer { Syscalls.close(fd) }
        let message = Array(state.utf8)
        let sent = withUnsafePointer(to: &address) { a in
            a.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                message.withUnsafeBytes { sendto(fd, $0.baseAddress, $0.count, 0, sa, length) }
            }
        }
        return sent == message.count
    }

    @discardableResult
    /// `RELOADING=1` with the `MONOTONIC_USEC` that newer managers ask for.
    public func reloading() -> Bool {
        var t = timespec()
        clock_gettime(CLOCK_MONOTONIC, &t)
        return send("RELOADING=1\nMONOTONIC_USEC=\(t.tv_sec * 1_000_000 + t.tv_nsec / 1000)")
    }
}
