import CBPF
import Glibc

/// A failed libbpf or bpf(2) call: what was being done, on what, and the errno.
public struct BPFError: Error, Equatable, CustomStringConvertible {
    /// The operation, e.g. "load", "attach egress".
    public let operation: String
    /// What it was done to: a program or device name.
    public let subject: String
    public let errno: Int32

    public var description: String {
        let reason: String
        switch errno {
        case EPERM, EACCES: reason = "permission denied (needs root: CAP_BPF and CAP_NET_ADMIN)"
        case ENOSYS: reason = "this kernel has no BPF support"
        default: reason = String(cString: strerror(errno))
        }
        return "\(operation) \(subject): \(reason)"
    }
}

/// Thin Swift layer over libbpf: every call that can fail returns a typed
/// `BPFError` instead of a negative errno. Nothing above this file touches
/// libbpf directly.
enum LibBPF {
    /// libbpf 1.x returns -errno from most calls and NULL + errno from constructors.
    @inline(__always)
    static func check(_ rc: Int32, _ operation: String, _ subject: String) throws(BPFError) {
        if rc < 0 { throw BPFError(operation: operation, subject: subject, errno: -rc) }
    }

    /// libbpf's messages go nowhere: every failure reaches the caller as a `BPFError`.
    static func silenceLogging() {
        _ = libbpf_set_print(nil)
    }

    /// The `sz` to put in a libbpf options struct: the end of its last field.
    /// Not `MemoryLayout.size`: libbpf rejects non-zero bytes past the last
    /// field, and Swift does not keep padding zero when it copies a struct.
    static func optionsSize<T, F>(_ lastField: KeyPath<T, F>) -> Int {
        MemoryLayout<T>.offset(of: lastField)! + MemoryLayout<F>.size
    }

    static var possibleCPUs: Int {
        Int(max(1, libbpf_num_possible_cpus()))
    }
}

/// A BPF ELF object opened from memory, owned until `close`.
final class BPFObject {
    private let object: OpaquePointer
    let name: String

    /// Opens an ELF object held in `bytes`; nothing reaches the kernel yet.
    init(bytes: [UInt8], name: String) throws(BPFError) {
        LibBPF.silenceLogging()
        var opts = bpf_object_open_opts()
        opts.sz = LibBPF.optionsSize(\bpf_object_open_opts.kernel_log_level)
        let opened: OpaquePointer? = name.withCString { cName in
            opts.object_name = cName
            return bytes.withUnsafeBytes { buffer in
                bpf_object__open_mem(buffer.baseAddress, buffer.count, &opts)
            }
        }
        guard let opened else { throw BPFError(operation: "open BPF object", subject: name, errno: Glibc.errno) }
        self.object = opened
        self.name = name
    }

    deinit { bpf_object__close(object) }

    /// Replaces the initial contents of the object's `.rodata` (its `const volatile`
    /// globals) before `load`; `bytes` must be exactly the section's size.
    func setReadOnlyData(_ bytes: [UInt8]) throws(BPFError) {
        var map = bpf_object__next_map(object, nil)
        while let m = map {
            if let cName = bpf_map__name(m), String(cString: cName).hasSuffix(".rodata") {
                let rc = bytes.withUnsafeBytes { bpf_map__set_initial_value(m, $0.baseAddress, $0.count) }
                try LibBPF.check(rc, "set .rodata of", name)
                return
            }
            map = bpf_object__next_map(object, m)
        }
        throw BPFError(operation: "find .rodata in", subject: name, errno: ENOENT)
    }

    /// Creates the maps and loads every program through the verifier.
    func load() throws(BPFError) {
        try LibBPF.check(bpf_object__load(object), "load BPF program", name)
    }

    /// The file descriptor of a loaded program, by its function name.
    func programFD(named program: String) throws(BPFError) -> Int32 {
        guard let p = bpf_object__find_program_by_name(object, program) else {
            throw BPFError(operation: "find program", subject: "\(name)/\(program)", errno: ENOENT)
        }
        let fd = bpf_program__fd(p)
        try LibBPF.check(fd, "get fd of", "\(name)/\(program)")
        return fd
    }
}

extension BPFObject {
    /// Runs a loaded program once on `packet` in the kernel (BPF_PROG_TEST_RUN)
    /// and returns its verdict and the packet as the program left it.
    /// `repetitions` > 1 runs it that many times and reports the mean time per run.
    func testRun(programFD fd: Int32, packet: [UInt8],
                 repetitions: Int32 = 1) throws(BPFError) -> (verdict: UInt32, packet: [UInt8], nanoseconds: UInt32) {
        var out = [UInt8](repeating: 0, count: packet.count + 256)
        var opts = bpf_test_run_opts()
        opts.sz = LibBPF.optionsSize(\bpf_test_run_opts.batch_size)
        opts.repeat = repetitions
        let rc = packet.withUnsafeBytes { input in
            out.withUnsafeMutableBytes { output in
                opts.data_in = input.baseAddress
                opts.data_size_in = UInt32(input.count)
                opts.data_out = output.baseAddress
                opts.data_size_out = UInt32(output.count)
                return bpf_prog_test_run_opts(fd, &opts)
            }
        }
        try LibBPF.check(rc, "test-run", name)
        return (opts.retval, Array(out.prefix(Int(opts.data_size_out))), opts.duration)
    }
}

/// One side of a device's clsact qdisc.
enum TCDirection: String, CaseIterable, Sendable {
    case ingress, egress

    var attachPoint: bpf_tc_attach_point {
        self == .ingress ? BPF_TC_INGRESS : BPF_TC_EGRESS
    }
}

/// tc clsact hooks through libbpf (netlink underneath).
enum TCHook {
    static let quiet: Void = LibBPF.silenceLogging()

    private static func hook(_ ifindex: Int32, _ point: bpf_tc_attach_point) -> bpf_tc_hook {
        _ = quiet
        var h = bpf_tc_hook()
        h.sz = LibBPF.optionsSize(\bpf_tc_hook.parent)
        h.ifindex = ifindex
        h.attach_point = point
        return h
    }

    private static func options(handle: UInt32, priority: UInt32) -> bpf_tc_opts {
        var o = bpf_tc_opts()
        o.sz = LibBPF.optionsSize(\bpf_tc_opts.priority)
        o.handle = handle
        o.priority = priority
        return o
    }

    /// Adds the clsact qdisc; one that is already there is fine.
    static func ensureClsact(ifindex: Int32, device: String) throws(BPFError) {
        var h = hook(ifindex, bpf_tc_attach_point(rawValue: BPF_TC_INGRESS.rawValue | BPF_TC_EGRESS.rawValue))
        let rc = bpf_tc_hook_create(&h)
        if rc == -EEXIST { return }
        try LibBPF.check(rc, "create clsact qdisc on", device)
    }

    /// Attaches (or replaces, so it is idempotent) the filter at `handle`/`priority`.
    static func attach(ifindex: Int32, device: String, direction: TCDirection, programFD: Int32,
                       handle: UInt32, priority: UInt32) throws(BPFError) {
        var h = hook(ifindex, direction.attachPoint)
        var o = options(handle: handle, priority: priority)
        o.prog_fd = programFD
        o.flags = UInt32(BPF_TC_F_REPLACE.rawValue)
        try LibBPF.check(bpf_tc_attach(&h, &o), "attach \(direction.rawValue) on", device)
    }

    /// The id of the program at `handle`/`priority`, or nil when none is there.
    static func query(ifindex: Int32, device: String, direction: TCDirection,
                      handle: UInt32, priority: UInt32) throws(BPFError) -> UInt32? {
        var h = hook(ifindex, direction.attachPoint)
        var o = options(handle: handle, priority: priority)
        let rc = bpf_tc_query(&h, &o)
        // ENOENT: no such filter; EINVAL: no clsact qdisc at all.
        if rc == -ENOENT || rc == -EINVAL { return nil }
        try LibBPF.check(rc, "query \(direction.rawValue) on", device)
        return o.prog_id
    }

    /// Removes the filter at `handle`/`priority`; the clsact qdisc stays, since
    /// other tools may have filters on it.
    static func detach(ifindex: Int32, device: String, direction: TCDirection,
                       handle: UInt32, priority: UInt32) throws(BPFError) {
        var h = hook(ifindex, direction.attachPoint)
        var o = options(handle: handle, priority: priority)
        try LibBPF.check(bpf_tc_detach(&h, &o), "detach \(direction.rawValue) on", device)
    }
}

/// A loaded program or map, looked up by id; closes its fd on deinit.
final class BPFKernelObject {
    let fd: Int32

    private init(fd: Int32) { self.fd = fd }
    deinit { close(fd) }

    static func program(id: UInt32) throws(BPFError) -> BPFKernelObject {
        let fd = bpf_prog_get_fd_by_id(id)
        try LibBPF.check(fd, "open program", "id \(id)")
        return BPFKernelObject(fd: fd)
    }

    static func map(id: UInt32) throws(BPFError) -> BPFKernelObject {
        let fd = bpf_map_get_fd_by_id(id)
        try LibBPF.check(fd, "open map", "id \(id)")
        return BPFKernelObject(fd: fd)
    }

    /// A program's name and the ids of the maps it uses.
    func programInfo() throws(BPFError) -> (name: String, mapIDs: [UInt32]) {
        var info = bpf_prog_info()
        var length = UInt32(MemoryLayout<bpf_prog_info>.size)
        try LibBPF.check(bpf_obj_get_info_by_fd(fd, &info, &length), "read program info of", "fd \(fd)")
        var ids = [UInt32](repeating: 0, count: Int(info.nr_map_ids))
        let name = Self.string(info.name)
        guard !ids.isEmpty else { return (name, []) }
        let count = info.nr_map_ids
        try ids.withUnsafeMutableBufferPointer { (buffer) throws(BPFError) in
            info = bpf_prog_info()
            info.nr_map_ids = count
            info.map_ids = UInt64(UInt(bitPattern: buffer.baseAddress))
            length = UInt32(MemoryLayout<bpf_prog_info>.size)
            try LibBPF.check(bpf_obj_get_info_by_fd(fd, &info, &length), "read map ids of", name)
        }
        return (name, Array(ids.prefix(Int(info.nr_map_ids))))
    }

    /// A map's name.
    func mapName() throws(BPFError) -> String {
        var info = bpf_map_info()
        var length = UInt32(MemoryLayout<bpf_map_info>.size)
        try LibBPF.check(bpf_obj_get_info_by_fd(fd, &info, &length), "read map info of", "fd \(fd)")
        return Self.string(info.name)
    }

    /// The `size` bytes of slot `key` of an array map.
    func value(key: UInt32, size: Int) throws(BPFError) -> [UInt8] {
        var value = [UInt8](repeating: 0, count: size)
        var k = key
        let rc = value.withUnsafeMutableBytes { bpf_map_lookup_elem(fd, &k, $0.baseAddress) }
        try LibBPF.check(rc, "read slot \(key) of", "map fd \(fd)")
        return value
    }

    /// The sum over CPUs of slot `key` of a per-CPU array of 64-bit counters.
    func perCPUSum(key: UInt32) throws(BPFError) -> UInt64 {
        var values = [UInt64](repeating: 0, count: LibBPF.possibleCPUs)
        var k = key
        let rc = values.withUnsafeMutableBytes { bpf_map_lookup_elem(fd, &k, $0.baseAddress) }
        try LibBPF.check(rc, "read counter \(key) of", "map fd \(fd)")
        return values.reduce(0, &+)
    }

    private static func string<T>(_ tuple: T) -> String {
        withUnsafeBytes(of: tuple) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
    }
}
