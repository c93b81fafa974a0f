import CMNL
import Glibc

/// A failed netlink operation: what was done and the errno.
public struct NetlinkError: Error, Equatable, CustomStringConvertible {
    public let operation: String
    public let errno: Int32

    public var description: String {
        let reason = errno == EPERM ? "permission denied (needs CAP_NET_ADMIN)" : String(cString: strerror(errno))
        return "netlink \(operation): \(reason)"
    }
}

/// One netlink message built in an owned buffer with libmnl's attribute calls.
/// The only file that touches libmnl; the rest of NetSetup speaks in Swift.
struct NetlinkMessage {
    /// libmnl's MNL_SOCKET_BUFFER_SIZE on 4 KiB pages (the C macro calls sysconf, so it is not imported).
    static let bufferSize = 8192
    private(set) var buffer: [UInt8]

    /// A message of `type` with `flags`, a sequence number and a generic-netlink header.
    init(type: UInt16, flags: UInt16, sequence: UInt32, command: UInt8, version: UInt8) {
        buffer = [UInt8](repeating: 0, count: NetlinkMessage.bufferSize)
        buffer.withUnsafeMutableBytes { raw in
            let nlh = mnl_nlmsg_put_header(raw.baseAddress)!
            nlh.pointee.nlmsg_type = type
            nlh.pointee.nlmsg_flags = flags
            nlh.pointee.nlmsg_seq = sequence
            let genl = mnl_nlmsg_put_extra_header(nlh, MemoryLayout<genlmsghdr>.size)!
                .assumingMemoryBound(to: genlmsghdr.self)
            genl.pointee.cmd = command
            genl.pointee.version = version
        }
    }

    private mutating func withHeader<R>(_ body: (UnsafeMutablePointer<nlmsghdr>) -> R) -> R {
        buffer.withUnsafeMutableBytes { body($0.baseAddress!.assumingMemoryBound(to: nlmsghdr.self)) }
    }

    /// The message as it goes on the wire (its `nlmsg_len` octets).
    var bytes: [UInt8] {
        let length = buffer.withUnsafeBytes { Int($0.load(as: nlmsghdr.self).nlmsg_len) }
        return Array(buffer[..<length])
    }

    mutating func putString(_ type: UInt16, _ value: String) {
        withHeader { nlh in value.withCString { mnl_attr_put_strz(nlh, type, $0) } }
    }

    mutating func putBytes(_ type: UInt16, _ value: [UInt8]) {
        withHeader { nlh in value.withUnsafeBytes { mnl_attr_put(nlh, type, $0.count, $0.baseAddress) } }
    }

    mutating func putU8(_ type: UInt16, _ value: UInt8) { withHeader { mnl_attr_put_u8($0, type, value) } }
    mutating func putU16(_ type: UInt16, _ value: UInt16) { withHeader { mnl_attr_put_u16($0, type, value) } }
    mutating func putU32(_ type: UInt16, _ value: UInt32) { withHeader { mnl_attr_put_u32($0, type, value) } }

    /// Puts a nested attribute; `body` adds its members.
    mutating func nest(_ type: UInt16, _ body: (inout NetlinkMessage) -> Void) {
        // Offsets, not pointers: the buffer must not be held across `body`.
        let start = withHeader { nlh in
            Int(bitPattern: mnl_attr_nest_start(nlh, type)) - Int(bitPattern: UnsafeRawPointer(nlh))
        }
        body(&self)
        withHeader { nlh in
            let attr = (UnsafeMutableRawPointer(nlh) + start).assumingMemoryBound(to: nlattr.self)
            mnl_attr_nest_end(nlh, attr)
        }
    }
}

/// The attributes of one received generic-netlink message, by type
/// (top level only; nested ones are parsed again with `nested`).
struct NetlinkAttributes {
    private(set) var values: [UInt16: [UInt8]] = [:]

    /// Parses the attributes after the netlink and generic-netlink headers.
    init(message nlh: UnsafePointer<nlmsghdr>) {
        final class Box { var values: [UInt16: [UInt8]] = [:] }
        let box = Box()
        _ = mnl_attr_parse(nlh, UInt32(MemoryLayout<genlmsghdr>.size), { attr, data in
            let box = Unmanaged<Box>.fromOpaque(data!).takeUnretainedValue()
            let type = mnl_attr_get_type(attr)
            let length = Int(mnl_attr_get_payload_len(attr))
            let payload = UnsafeRawBufferPointer(start: mnl_attr_get_payload(attr), count: length)
            box.values[type] = Array(payload)
            return MNL_CB_OK
        }, Unmanaged.passUnretained(box).toOpaque())
        values = box.values
    }

    subscript(type: UInt16) -> [UInt8]? { values[type] }

    func u16(_ type: UInt16) -> UInt16? {
        guard let v = values[type], v.count >= 2 else { return nil }
        return v.withUnsafeBytes { $0.loadUnaligned(as: UInt16.self) }
    }
}

/// A generic-netlink socket (libmnl), closed on deinit.
final class NetlinkSocket {
    private let socket: OpaquePointer
    private var sequence = UInt32(truncatingIfNeeded: time(nil))
    private let portID: UInt32

    init() throws(NetlinkError) {
        guard let s = mnl_socket_open(NETLINK_GENERIC) else { throw NetlinkError(operation: "open", errno: errno) }
        guard mnl_socket_bind(s, 0, pid_t(MNL_SOCKET_AUTOPID)) == 0 else {
            let e = errno
            mnl_socket_close(s)
            throw NetlinkError(operation: "bind", errno: e)
        }
        socket = s
        portID = mnl_socket_get_portid(s)
    }

    deinit { mnl_socket_close(socket) }

    func nextSequence() -> UInt32 {
        sequence &+= 1
        return sequence
    }

    /// Sends `message` and runs every reply through `handle` until the kernel's
    /// ACK or the end of a dump; an error reply is thrown as its errno.
    func request(_ message: NetlinkMessage, operation: String,
                 handle: (UnsafePointer<nlmsghdr>) -> Void = { _ in }) throws(NetlinkError) {
        let bytes = message.bytes
        let seq = bytes.withUnsafeBytes { $0.load(as: nlmsghdr.self).nlmsg_seq }
        let sent = bytes.withUnsafeBytes { mnl_socket_sendto(socket, $0.baseAddress, $0.count) }
        guard sent >= 0 else { throw NetlinkError(operation: operation, errno: errno) }

        final class Box { var handle: (UnsafePointer<nlmsghdr>) -> Void; init(_ h: @escaping (UnsafePointer<nlmsghdr>) -> Void) { handle = h } }
        var buffer = [UInt8](repeating: 0, count: NetlinkMessage.bufferSize)
        try withoutActuallyEscaping(handle) { (h) throws(NetlinkError) in
            let box = Box(h)
            while true {
                let n = buffer.withUnsafeMutableBytes { mnl_socket_recvfrom(socket, $0.baseAddress, $0.count) }
                guard n >= 0 else { throw NetlinkError(operation: operation, errno: errno) }
                let rc = buffer.withUnsafeBytes {
                    mnl_cb_run($0.baseAddress, n, seq, portID, { nlh, data in
                        Unmanaged<Box>.fromOpaque(data!).takeUnretainedValue().handle(nlh!)
                        return MNL_CB_OK
                    }, Unmanaged.passUnretained(box).toOpaque())
                }
                if rc == MNL_CB_STOP { return }
                guard rc >= 0 else { throw NetlinkError(operation: operation, errno: errno) }
                // MNL_CB_OK: a dump goes on in the next datagram.
            }
        }
    }
}
