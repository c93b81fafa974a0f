import DNSWire
import Foundation

/// The tc BPF programs this binary carries (compiled from `bpf/*.c`).
public enum TrafficProgram: String, CaseIterable, Sendable {
    /// Swaps the network and host chunks of 6PN addresses around the host mesh.
    case swap
    /// On an instance's link: drops packets whose source the link does not
    /// own, and packets between different organizations' /48s, except DNS
    /// with fdaa::3.
    case isolate

    /// The BPF ELF object, decoded from the base64 the build embedded.
    var object: [UInt8] {
        let text = switch self {
        case .swap: BPFObjects.swap
        case .isolate: BPFObjects.isolate
        }
        // The build wrote it; a failure here is a broken build, not bad input.
        guard let data = Data(base64Encoded: text) else { fatalError("BPFObjects.\(rawValue) is not base64") }
        return [UInt8](data)
    }

    func functionName(_ direction: TCDirection) -> String { "\(rawValue)_\(direction.rawValue)" }

    init?(functionName: String) {
        for p in Self.allCases where TCDirection.allCases.contains(where: { p.functionName($0) == functionName }) {
            self = p
            return
        }
        return nil
    }
}

/// What a program attached to a device has counted since it was attached
/// (both directions together), and the link prefixes it was given.
public struct TrafficCounters: Equatable, Sendable {
    public var program: TrafficProgram
    /// Directions the program is attached on.
    public var directions: [String]
    /// The prefixes the link owns (isolate; empty for swap).
    public var prefixes: [IPv6Prefix]
    public var passed: UInt64
    /// Packets dropped between organizations (or unreadable IPv6 from the instance).
    public var dropped: UInt64
    /// Packets whose addresses were swapped.
    public var rewritten: UInt64
    /// Packets from the instance with a source address the link does not own.
    public var forged: UInt64
}

/// What a program is told about the device it is attached to: the C struct
/// `sixpn_link` in bpf/sixpn_bpf.h, the object's whole `.rodata`, written
/// before load. Each attach loads its own object, so each link has its own.
struct LinkConfiguration: Equatable {
    /// `SIXPN_MAX_PREFIXES`.
    static let maximumPrefixes = 16
    /// u32 l3_offset, u32 prefix_count, then 16 x (prefix, mask) as 64-bit halves.
    static let size = 8 + maximumPrefixes * 32

    /// Where the IPv6 header starts: 0 on layer-3 devices, 14 behind Ethernet.
    var networkHeaderOffset: UInt32
    var prefixes: [IPv6Prefix] = []

    /// The struct's bytes. The halves are kept in the packet's byte order
    /// (the program compares them with octets it copies out of the header),
    /// the two u32s in the host's (BPF runs in the host's byte order).
    var bytes: [UInt8] {
        precondition(prefixes.count <= Self.maximumPrefixes)
        var out = [UInt8]()
        out.reserveCapacity(Self.size)
        withUnsafeBytes(of: networkHeaderOffset) { out += $0 }
        withUnsafeBytes(of: UInt32(prefixes.count)) { out += $0 }
        for p in prefixes {
            let (maskHigh, maskLow) = IPv6Prefix.mask(p.length)
            out += p.address.bytes
            withUnsafeBytes(of: maskHigh.bigEndian) { out += $0 }
            withUnsafeBytes(of: maskLow.bigEndian) { out += $0 }
        }
        out += repeatElement(0, count: Self.size - out.count)
        return out
    }

    /// Reads back what `bytes` wrote (from the attached program's `.rodata` map).
    init?(bytes: [UInt8]) {
        guard bytes.count == Self.size else { return nil }
        func u32(_ at: Int) -> UInt32 { bytes[at..<at + 4].reversed().reduce(0) { $0 << 8 | UInt32($1) } }
        let count = Int(u32(4))
        guard count <= Self.maximumPrefixes else { return nil }
        networkHeaderOffset = u32(0)
        prefixes = (0..<count).compactMap { i in
            let at = 8 + i * 32
            let mask = bytes[at + 16..<at + 32].reduce(0) { $0 + $1.nonzeroBitCount }
            return IPv6Address(bytes: bytes[at..<at + 16]).map { IPv6Prefix($0, length: mask) }
        }
    }

    init(networkHeaderOffset: UInt32, prefixes: [IPv6Prefix] = []) {
        self.networkHeaderOffset = networkHeaderOffset
        self.prefixes = prefixes
    }
}

/// Why `attach` refuses a program's prefixes before anything reaches the kernel.
public struct LinkPrefixError: Error, Equatable, CustomStringConvertible {
    public let description: String
}

/// Attaches, detaches and reads sixpn's tc programs on a device.
///
/// Both directions of the device's clsact qdisc get the program, as one tc
/// filter each at a fixed handle and priority, so attaching again replaces it
/// (idempotent) and detaching removes only sixpn's filters. Counters live in
/// the program's per-CPU map; `counters` finds it through the attached
/// program's map ids, so it always reports what is really attached.
public enum TrafficControl {
    /// The tc filter handle and priority sixpn's programs use on every device.
    static let handle: UInt32 = 0x6e
    static let priority: UInt32 = 0x6e

    /// Checks the prefixes `program` is given: `isolate` needs between 1 and
    /// 16, none shorter than an organization's /48 (that would let the
    /// instance speak as other organizations); `swap` takes none.
    public static func validate(_ program: TrafficProgram, prefixes: [IPv6Prefix]) throws(LinkPrefixError) {
        switch program {
        case .swap:
            guard prefixes.isEmpty else {
                throw LinkPrefixError(description: "swap takes no --prefix (it rewrites every 6PN address)")
            }
        case .isolate:
            guard !prefixes.isEmpty else {
                throw LinkPrefixError(description:
                    "isolate needs --prefix ADDR/LEN, the addresses the instance behind the link owns (e.g. its /112): without it the link cannot be protected")
            }
            guard prefixes.count <= LinkConfiguration.maximumPrefixes else {
                throw LinkPrefixError(description:
                    "isolate takes at most \(LinkConfiguration.maximumPrefixes) prefixes per link, not \(prefixes.count)")
            }
            if let wide = prefixes.first(where: { $0.length < 48 }) {
                throw LinkPrefixError(description:
                    "--prefix \(wide) is wider than a /48: an instance's link owns at most its organization's /48")
            }
        }
    }

    /// Loads `program` and attaches it to both directions of `device`;
    /// `prefixes` are the addresses the link owns (isolate only, see `validate`).
    public static func attach(_ program: TrafficProgram, device name: String, prefixes: [IPv6Prefix] = []) throws {
        try validate(program, prefixes: prefixes)
        let device = try NetworkDevice(name: name)
        let link = LinkConfiguration(networkHeaderOffset: try device.networkHeaderOffset(), prefixes: prefixes)
        let object = try BPFObject(bytes: program.object, name: program.rawValue)
        try object.setReadOnlyData(link.bytes)
        try object.load()
        try TCHook.ensureClsact(ifindex: device.index, device: name)
        var attached: [TCDirection] = []
        do {
            for direction in TCDirection.allCases {
                let fd = try object.programFD(named: program.functionName(direction))
                try TCHook.attach(ifindex: device.index, device: name, direction: direction, programFD: fd,
                                  handle: handle, priority: priority)
                attached.append(direction)
            }
        } catch {
            // Never leave one direction filtered and the other not.
            for direction in attached {
                try? TCHook.detach(ifindex: device.index, device: name, direction: direction,
                                   handle: handle, priority: priority)
            }
            throw error
        }
        // The filters now hold the programs, which hold their map; closing the
        // object drops only this process's references.
    }

    /// Loads `program` for packets that start with an Ethernet header and runs
    /// its `direction` side once on `frame` in the kernel (BPF_PROG_TEST_RUN,
    /// needs root): the C code itself, checked without a device.
    static func run(_ program: TrafficProgram, _ direction: TCDirection, frame: [UInt8], prefixes: [IPv6Prefix] = [],
                    repetitions: Int32 = 1) throws -> (verdict: UInt32, packet: [UInt8], nanoseconds: UInt32) {
        let object = try BPFObject(bytes: program.object, name: program.rawValue)
        try object.setReadOnlyData(LinkConfiguration(networkHeaderOffset: 14, prefixes: prefixes).bytes)
        try object.load()
        return try object.testRun(programFD: object.programFD(named: program.functionName(direction)), packet: frame,
                                  repetitions: repetitions)
    }

    /// Removes sixpn's programs from `device`; true when any was attached.
    @discardableResult
    public static func detach(device name: String) throws -> Bool {
        let device = try NetworkDevice(name: name)
        var removed = false
        for direction in TCDirection.allCases {
            guard try TCHook.query(ifindex: device.index, device: name, direction: direction,
                                   handle: handle, priority: priority) != nil else { continue }
            try TCHook.detach(ifindex: device.index, device: name, direction: direction,
                              handle: handle, priority: priority)
            removed = true
        }
        return removed
    }

    /// The counters of the program attached to `device`; nil when none is.
    public static func counters(device name: String) throws -> TrafficCounters? {
        let device = try NetworkDevice(name: name)
        var result: TrafficCounters?
        var seenMaps = Set<UInt32>()
        for direction in TCDirection.allCases {
            guard let id = try TCHook.query(ifindex: device.index, device: name, direction: direction,
                                            handle: handle, priority: priority) else { continue }
            let info = try BPFKernelObject.program(id: id).programInfo()
            guard let program = TrafficProgram(functionName: info.name) else { continue }
            if result == nil {
                result = TrafficCounters(program: program, directions: [], prefixes: [],
                                         passed: 0, dropped: 0, rewritten: 0, forged: 0)
            }
            result!.directions.append(direction.rawValue)
            // Both directions normally share their maps (one object); read each once.
            for mapID in info.mapIDs where seenMaps.insert(mapID).inserted {
                let map = try BPFKernelObject.map(id: mapID)
                let mapName = try map.mapName()
                if mapName.hasSuffix(".rodata") {
                    let link = LinkConfiguration(bytes: try map.value(key: 0, size: LinkConfiguration.size))
                    result!.prefixes = link?.prefixes ?? []
                }
                guard mapName == "stats" else { continue }
                result!.passed += try map.perCPUSum(key: 0)
                result!.dropped += try map.perCPUSum(key: 1)
                result!.rewritten += try map.perCPUSum(key: 2)
                result!.forged += try map.perCPUSum(key: 3)
            }
        }
        return result
    }
}
