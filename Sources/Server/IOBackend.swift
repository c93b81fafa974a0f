#if canImport(Glibc)
import Glibc
#endif
import CURing

/// How the UDP workers move datagrams (`sixpn serve --io`).
public enum IOBackend: String, Sendable, CaseIterable {
    /// recvmmsg/sendmmsg batches of up to 32 (the default, and the only backend so far).
    case recvmmsg
    /// io_uring. Only probed for now: see ``UringSupport``.
    case uring
}

/// What this kernel's io_uring offers, from a probe through liburing (CURing).
public struct UringSupport: Sendable, CustomStringConvertible {
    /// The errno of setting up a ring; 0 when it worked.
    public let setupErrno: Int32
    public let recvmsg: Bool
    public let sendmsg: Bool
    /// Provided-buffer rings (multishot receive needs them).
    public let bufferRings: Bool

    /// Asks the kernel (sets up and tears down an 8-entry ring).
    public static func probe() -> UringSupport {
        let s = sixpn_uring_probe()
        return UringSupport(setupErrno: s.setup_errno, recvmsg: s.recvmsg != 0, sendmsg: s.sendmsg != 0,
                            bufferRings: s.buffer_rings != 0)
    }

    /// Whether a UDP backend could run: a ring, RECVMSG, SENDMSG and buffer rings.
    public var usable: Bool { setupErrno == 0 && recvmsg && sendmsg && bufferRings }

    public var description: String {
        guard setupErrno == 0 else {
            let hint = switch setupErrno {
            case ENOSYS: " (no io_uring in this kernel)"
            case EPERM: " (disabled: sysctl kernel.io_uring_disabled, or a seccomp filter)"
            default: ""
            }
            return "io_uring_setup failed: \(String(cString: strerror(setupErrno)))\(hint)"
        }
        let missing = [("RECVMSG", recvmsg), ("SENDMSG", sendmsg), ("provided buffer rings", bufferRings)]
            .filter { !$0.1 }.map(\.0)
        return missing.isEmpty ? "io_uring: RECVMSG, SENDMSG and provided buffer rings supported"
            : "io_uring lacks \(missing.joined(separator: ", "))"
    }
}
