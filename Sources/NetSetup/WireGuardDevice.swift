import CMNL
import Glibc

/// A WireGuard configuration step that failed, and on which device.
public enum WireGuardError: Error, Equatable, CustomStringConvertible {
    case system(device: String, operation: String, errno: Int32)
    case rejected(device: String, errno: Int32)
    case protocolError(device: String, reason: String)
    case netlink(device: String, NetlinkError)

    public var description: String {
        switch self {
        case let .system(device, operation, errno):
            return "WireGuard device \(device): \(operation): \(String(cString: strerror(errno)))"
        case let .rejected(device, errno):
            return "WireGuard device \(device) refused the configuration: \(String(cString: strerror(errno)))"
        case let .protocolError(device, reason):
            return "WireGuard device \(device): \(reason)"
        case let .netlink(device, e):
            return "WireGuard device \(device): \(e)"
        }
    }
}

/// The peer operations sixpn needs on a host's WireGuard device, whether the
/// device lives in the kernel (generic netlink) or in userspace (UAPI socket).
public protocol WireGuardDevice {
    var name: String { get }
    /// The device's own public key (what peers put in their [Peer] section).
    func publicKey() throws -> WireGuardKey
    /// Adds the peer, or replaces the allowed IPs of the peer with this key.
    func addPeer(publicKey: WireGuardKey, allowedIPs: [IPv6Prefix]) throws
    /// Removes the peer; a peer that is not there is not an error.
    func removePeer(publicKey: WireGuardKey) throws
}

/// Finds a WireGuard device by name and picks the API that configures it.
public enum WireGuardDevices {
    public static func open(_ name: String) throws -> any WireGuardDevice {
        if UAPISocket.exists(device: name) { return UserspaceWireGuardDevice(name: name) }
        let device = try NetworkDevice(name: name)
        guard device.deviceType == "wireguard" else { throw DeviceError(device: name, problem: .notWireGuard) }
        return KernelWireGuardDevice(name: name)
    }
}

/// A wireguard-go or boringtun device, configured through its UAPI socket.
public struct UserspaceWireGuardDevice: WireGuardDevice {
    public let name: String

    public func publicKey() throws -> WireGuardKey {
        let lines = try UAPISocket.exchange(device: name, request: ["get=1"])
        guard let hex = lines.first(where: { $0.key == "private_key" })?.value,
              let key = WireGuardKey(hex: hex), let pair = WireGuardKeyPair(privateKey: key)
        else {
            throw WireGuardError.protocolError(device: name, reason: "the device has no private key yet")
        }
        return pair.publicKey
    }

    public func addPeer(publicKey: WireGuardKey, allowedIPs: [IPv6Prefix]) throws {
        _ = try UAPISocket.exchange(device: name, request: Self.addPeerRequest(publicKey: publicKey, allowedIPs: allowedIPs))
    }

    public func removePeer(publicKey: WireGuardKey) throws {
        _ = try UAPISocket.exchange(device: name, request: Self.removePeerRequest(publicKey: publicKey))
    }

    static func addPeerRequest(publicKey: WireGuardKey, allowedIPs: [IPv6Prefix]) -> [String] {
        ["set=1", "public_key=\(publicKey.hex)", "replace_allowed_ips=true"]
            + allowedIPs.map { "allowed_ip=\($0)" }
    }

    static func removePeerRequest(publicKey: WireGuardKey) -> [String] {
        ["set=1", "public_key=\(publicKey.hex)", "remove=true"]
    }
}

/// A kernel WireGuard device, configured through generic netlink (libmnl).
public struct KernelWireGuardDevice: WireGuardDevice {
    public let name: String

    public func publicKey() throws -> WireGuardKey {
        try withSocket { socket, family throws(NetlinkError) in
            var key: WireGuardKey?
            let m = WireGuardNetlink.getDevice(name: name, family: family, sequence: socket.nextSequence())
            try socket.request(m, operation: "get device") { nlh in
                if key == nil, let bytes = NetlinkAttributes(message: nlh)[UInt16(WGDEVICE_A_PUBLIC_KEY.rawValue)] {
                    key = WireGuardKey(bytes: bytes)
                }
            }
            guard let key else { throw NetlinkError(operation: "get device: no public key", errno: ENOKEY) }
            return key
        }
    }

    public func addPeer(publicKey: WireGuardKey, allowedIPs: [IPv6Prefix]) throws {
        try withSocket { socket, family throws(NetlinkError) in
            let m = WireGuardNetlink.setPeer(device: name, family: family, sequence: socket.nextSequence(),
                                             publicKey: publicKey, allowedIPs: allowedIPs)
            try socket.request(m, operation: "set device")
        }
    }

    public func removePeer(publicKey: WireGuardKey) throws {
        try withSocket { socket, family throws(NetlinkError) in
            let m = WireGuardNetlink.removePeer(device: name, family: family, sequence: socket.nextSequence(),
                                                publicKey: publicKey)
            try socket.request(m, operation: "set device")
        }
    }

    private func withSocket<R>(_ body: (NetlinkSocket, UInt16) throws(NetlinkError) -> R) throws(WireGuardError) -> R {
        do {
            let socket = try NetlinkSocket()
            let family = try WireGuardNetlink.familyID(socket)
            return try body(socket, family)
        } catch {
            throw .netlink(device: name, error)
        }
    }
}
