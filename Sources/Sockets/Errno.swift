#if canImport(Glibc)
import Glibc
#endif

/// A failed system call: which call, on what, and the errno it returned.
public struct Errno: Error, Hashable, Sendable, CustomStringConvertible {
    public let call: String
    public let code: Int32

    /// `call` names the call and what it was on (`bind [::1]:53`); `code` defaults to the thread's errno.
    public init(_ call: String, _ code: Int32 = errno) {
        self.call = call
        self.code = code
    }

    public static let addressInUse = EADDRINUSE
    public static let addressNotAvailable = EADDRNOTAVAIL
    public static let permissionDenied = EACCES

    /// EMFILE or ENFILE: the process, or the system, has no file descriptor left.
    public var isDescriptorExhaustion: Bool { code == EMFILE || code == ENFILE }

    /// The C library's text for the code.
    public var reason: String { String(cString: strerror(code)) }
    public var description: String { "\(call): \(reason)" }
}
