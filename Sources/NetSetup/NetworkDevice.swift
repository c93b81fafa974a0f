import Foundation
import Glibc

/// A network device on this host, as far as NetSetup needs to know it.
public struct NetworkDevice: Sendable, Equatable {
    public let name: String
    public let index: Int32
    /// The ARPHRD_* link type from /sys/class/net/NAME/type.
    public let linkType: Int

    static let arphrdEther = 1
    static let arphrdLoopback = 772  // Ethernet framing too
    static let arphrdNone = 65534  // tun devices, WireGuard

    /// Looks the device up by name; throws when there is none.
    public init(name: String) throws(DeviceError) {
        guard !name.isEmpty, name.utf8.count < Int(IFNAMSIZ), !name.contains("/") else {
            throw DeviceError(device: name, problem: .badName)
        }
        let index = if_nametoindex(name)
        guard index != 0 else { throw DeviceError(device: name, problem: .notFound) }
        self.name = name
        self.index = Int32(index)
        self.linkType = Self.readInt("/sys/class/net/\(name)/type") ?? -1
    }

    /// Where the IPv6 header starts in a packet seen by tc on this device.
    public func networkHeaderOffset() throws(DeviceError) -> UInt32 {
        switch linkType {
        case Self.arphrdEther, Self.arphrdLoopback: return 14
        case Self.arphrdNone: return 0
        default: throw DeviceError(device: name, problem: .unsupportedLinkType(linkType))
        }
    }

    /// The `DEVTYPE=` of the device's uevent (`wireguard` for the kernel's devices).
    var deviceType: String? {
        guard let text = Self.readText("/sys/class/net/\(name)/uevent") else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix("DEVTYPE=") {
            return String(line.dropFirst("DEVTYPE=".count))
        }
        return nil
    }

    static func readText(_ path: String) -> String? {
        try? String(contentsOfFile: path, encoding: .utf8)
    }

    private static func readInt(_ path: String) -> Int? {
        readText(path).flatMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
    }
}

/// A device that does not exist or cannot be used for what was asked.
public struct DeviceError: Error, Equatable, CustomStringConvertible {
    public enum Problem: Equatable, Sendable {
        case badName
        case notFound
        case unsupportedLinkType(Int)
        case notWireGuard
    }

    public let device: String
    public let problem: Problem

    public var description: String {
        switch problem {
        case .badName: return "device \"\(device)\": not a valid interface name"
        case .notFound: return "device \(device): no such network device"
        case .unsupportedLinkType(let t):
            return "device \(device): link type \(t) is neither Ethernet, loopback nor layer 3 (tun, WireGuard)"
        case .notWireGuard:
            return "device \(device): not a WireGuard device (no UAPI socket at \(UAPISocket.path(device: device)), and not a kernel WireGuard device)"
        }
    }
}
