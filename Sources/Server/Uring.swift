#if canImport(Glibc)
import Glibc
#endif
import CURing
import Sockets

// liburing (through CURing's C functions) for the rest of the Server: the
// only file that sees sixpn_ring pointers.

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

/// One worker's io_uring: its submission and completion queues, the
/// provided receive buffers that multishot receives fill, and its sockets
/// registered as fixed files. Single-issuer: only the thread that called
/// ``enable()`` may use it afterwards.
final class Ring {
    private let ring: OpaquePointer

    /// A ring of `entries` submissions with `buffers` receive buffers (a power
    /// of two), each with room for `payloadSize` octets of datagram and a
    /// source address of `nameSize` octets; `fds` become fixed files 0, 1, ...
    init(entries: Int, buffers: Int, payloadSize: Int, nameSize: Int, fds: [Int32]) throws(Errno) {
        var error: Int32 = 0
        let made = fds.withUnsafeBufferPointer {
            sixpn_ring_create(UInt32(entries), UInt32(buffers), UInt32(payloadSize), UInt32(nameSize),
                              $0.baseAddress, UInt32($0.count), &error)
        }
        guard let made else { throw Errno("io_uring setup (\(entries) entries, \(buffers) buffers, \(fds.count) sockets)", error) }
        ring = made
    }

    deinit {
        sixpn_ring_destroy(ring)
    }

    /// Makes the calling thread the ring's submitter.
    func enable() throws(Errno) {
        let rc = sixpn_ring_enable(ring)
        guard rc >= 0 else { throw Errno("io_uring_enable_rings", -rc) }
    }

    /// Queues a multishot receive on fixed file `index`; false when the submission queue is full.
    @inline(__always)
    func receive(index: Int, tag: UInt64) -> Bool {
        sixpn_ring_receive(ring, UInt32(index), tag) == 0
    }

    /// Queues a sendmsg of `message` (which must stay put until its completion); false when the queue is full.
    @inline(__always)
    func send(index: Int, message: UnsafePointer<msghdr>, tag: UInt64) -> Bool {
        sixpn_ring_send(ring, UInt32(index), message, tag) == 0
    }

    /// Submits what is queued and waits up to `milliseconds` for a completion.
    /// Interrupts and timeouts are not errors: the caller reaps whatever is there.
    @inline(__always)
    func submitAndWait(milliseconds: UInt32) throws(Errno) {
        let rc = sixpn_ring_submit_and_wait(ring, milliseconds)
        guard rc >= 0 || rc == -ETIME || rc == -EINTR || rc == -EAGAIN || rc == -EBUSY else {
            throw Errno("io_uring_enter", -rc)
        }
    }

    /// Submits what is queued without waiting.
    func submit() throws(Errno) {
        let rc = sixpn_ring_submit(ring)
        guard rc >= 0 || rc == -EINTR || rc == -EAGAIN || rc == -EBUSY else { throw Errno("io_uring_enter", -rc) }
    }

    /// Copies up to `max` completions into `out`; how many.
    @inline(__always)
    func reap(into out: UnsafeMutablePointer<sixpn_completion>, max: Int) -> Int {
        Int(sixpn_ring_reap(ring, out, UInt32(max)))
    }

    /// The datagram a receive completion delivered: 1, 0 for a buffer without
    /// a whole header (still to recycle), -1 when it carries no buffer.
    @inline(__always)
    func datagram(_ completion: UnsafePointer<sixpn_completion>, into out: UnsafeMutablePointer<sixpn_datagram>) -> Int32 {
        sixpn_ring_datagram(ring, completion, out)
    }

    /// Ends every request and lets go of the sockets (see `sixpn_ring_quiesce`):
    /// after it, closing a socket frees its port at once. The submitting thread calls it.
    func quiesce() throws(Errno) {
        let rc = sixpn_ring_quiesce(ring, 1000)
        guard rc >= 0 else { throw Errno("io_uring cancel and unregister", -rc) }
    }

    /// Gives a receive buffer back to the kernel.
    @inline(__always)
    func recycle(_ buffer: UInt32) {
        sixpn_ring_recycle(ring, buffer)
    }

    /// Whether a receive completion leaves its multishot receive armed.
    @inline(__always)
    static func more(_ completion: UnsafePointer<sixpn_completion>) -> Bool {
        sixpn_completion_more(completion) != 0
    }
}
