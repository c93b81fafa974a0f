#if canImport(Glibc)
import Glibc
#endif
import Sockets
import Testing

/// sd_notify without libsystemd: the datagram a listener on NOTIFY_SOCKET gets, and the watchdog's environment.
@Suite struct SystemdNotifyTests {
    @Test func sendsToThePathInNotifySocket() throws {
        let path = "/tmp/sixpn-notify-test.\(getpid())"
        unlink(path)
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        #expect(fd >= 0)
        defer { close(fd); unlink(path) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: Array(path.utf8)) }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        #expect(bound == 0)
        try Syscalls.setReceiveTimeout(fd, milliseconds: 2000)

        let notify = SystemdNotify(environment: { $0 == "NOTIFY_SOCKET" ? path : nil }, pid: 1)
        #expect(notify.send("READY=1\nSTATUS=serving"))
        #expect(receive(fd) == "READY=1\nSTATUS=serving")
        #expect(notify.reloading())
        #expect(receive(fd).hasPrefix("RELOADING=1\nMONOTONIC_USEC="))
    }

    @Test func outsideSystemdNothingIsSent() {
        let notify = SystemdNotify(environment: { _ in nil }, pid: 1)
        #expect(notify.socketPath == nil && notify.watchdogInterval == nil)
        #expect(!notify.send("READY=1"))
        #expect(SystemdNotify(environment: { $0 == "NOTIFY_SOCKET" ? "relative/path" : nil }, pid: 1).socketPath == nil)
    }

    @Test func watchdogForThisProcessOnly() {
        func notify(_ env: [String: String]) -> SystemdNotify {
            SystemdNotify(environment: { env[$0] }, pid: 42)
        }
        #expect(notify(["WATCHDOG_USEC": "2000000"]).watchdogInterval == .seconds(2))
        #expect(notify(["WATCHDOG_USEC": "2000000", "WATCHDOG_PID": "42"]).watchdogInterval == .seconds(2))
        #expect(notify(["WATCHDOG_USEC": "2000000", "WATCHDOG_PID": "43"]).watchdogInterval == nil)
        #expect(notify(["WATCHDOG_USEC": "0"]).watchdogInterval == nil)
        #expect(notify(["WATCHDOG_USEC": "soon"]).watchdogInterval == nil)
    }

    func receive(_ fd: Int32) -> String {
        var buffer = [UInt8](repeating: 0, count: 512)
        let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        return n > 0 ? String(decoding: buffer[0..<n], as: UTF8.self) : ""
    }
}
