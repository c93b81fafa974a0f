import Foundation

/// The tc BPF programs this binary carries (compiled from `bpf/*.c`).
public enum TrafficProgram: String, CaseIterable, Sendable {
    /// Swaps the network and host chunks of 6PN addresses around the host mesh.
    case swap
    /// Drops packets between different organizations' /48s, except to fdaa::3.
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
/// (both directions together).
public struct TrafficCounters: Equatable, Sendable {
    public var program: TrafficProgram
    /// Directions the program is attached on.
    public var directions: [String]
    public var passed: UInt64
    public var dropped: UInt64
    /// Packets whose addresses were swapped.
    public var rewritten: UInt64
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

    /// Loads `program` and attaches it to both directions of `device`.
    public static func attach(_ program: TrafficProgram, device name: String) throws {
        let device = try NetworkDevice(name: name)
        var offset = try device.networkHeaderOffset()
        let object = try BPFObject(bytes: program.object, name: program.rawValue)
        try object.setReadOnlyData(withUnsafeBytes(of: &offset) { Array($0) })
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
    static func run(_ program: TrafficProgram, _ direction: TCDirection, frame: [UInt8],
                    repetitions: Int32 = 1) throws -> (verdict: UInt32, packet: [UInt8], nanoseconds: UInt32) {
        var offset = UInt32(14)
        let object = try BPFObject(bytes: program.object, name: program.rawValue)
        try object.setReadOnlyData(withUnsafeBytes(of: &offset) { Array($0) })
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
                result = TrafficCounters(program: program, directions: [], passed: 0, dropped: 0, rewritten: 0)
            }
            result!.directions.append(direction.rawValue)
            // Both directions normally share one map (one object); count it once.
            for mapID in info.mapIDs where seenMaps.insert(mapID).inserted {
                let map = try BPFKernelObject.map(id: mapID)
                guard try map.mapName() == "stats" else { continue }
                result!.passed += try map.perCPUSum(key: 0)
                result!.dropped += try map.perCPUSum(key: 1)
                result!.rewritten += try map.perCPUSum(key: 2)
            }
        }
        return result
    }
}
