import Glibc
import Testing
@testable import NetSetup

/// The kernel module is not on this machine, so the generic-netlink messages
/// are checked byte for byte against an encoding written out by hand from
/// <linux/wireguard.h> and netlink(7).
@Suite struct WireGuardNetlinkTests {
    static let nested: UInt16 = 0x8000  // NLA_F_NESTED

    static func le16(_ v: UInt16) -> [UInt8] { [UInt8(v & 0xff), UInt8(v >> 8)] }
    static func le32(_ v: UInt32) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: v >> (8 * $0)) } }

    /// One attribute: length, type, payload, padding to 4 octets.
    static func attr(_ type: UInt16, _ payload: [UInt8]) -> [UInt8] {
        let padded = payload + [UInt8](repeating: 0, count: (4 - payload.count % 4) % 4)
        return le16(UInt16(4 + payload.count)) + le16(type) + padded
    }

    static func nest(_ type: UInt16, _ members: [UInt8]) -> [UInt8] {
        le16(UInt16(4 + members.count)) + le16(type | nested) + members
    }

    /// nlmsghdr (length, type, flags, sequence, port 0) and genlmsghdr (cmd, version 1).
    static func message(family: UInt16, flags: UInt16, seq: UInt32, cmd: UInt8, _ body: [UInt8]) -> [UInt8] {
        le32(UInt32(16 + 4 + body.count)) + le16(family) + le16(flags) + le32(seq) + le32(0)
            + [cmd, 1, 0, 0] + body
    }

    let key = WireGuardKey(bytes: Array(0..<32))!

    @Test func setPeerReplacesAllowedIPsWithThePeersPrefix() throws {
        let prefix = try #require(IPv6Prefix("fdaa:0:2a:ffff:ffff::/120"))
        let m = WireGuardNetlink.setPeer(device: "wgsx0", family: 0x1c, sequence: 7, publicKey: key,
                                         allowedIPs: [prefix])
        let allowedIP = Self.nest(0, Self.attr(1, Self.le16(10))          // WGALLOWEDIP_A_FAMILY AF_INET6
            + Self.attr(2, prefix.address.bytes)                          // WGALLOWEDIP_A_IPADDR
            + Self.attr(3, [120]))                                        // WGALLOWEDIP_A_CIDR_MASK
        let peer = Self.nest(0, Self.attr(1, key.bytes)                   // WGPEER_A_PUBLIC_KEY
            + Self.attr(3, Self.le32(2))                                  // WGPEER_A_FLAGS REPLACE_ALLOWEDIPS
            + Self.nest(9, allowedIP))                                    // WGPEER_A_ALLOWEDIPS
        let expected = Self.message(family: 0x1c, flags: 0x5, seq: 7, cmd: 1,  // REQUEST|ACK, WG_CMD_SET_DEVICE
            Self.attr(2, Array("wgsx0".utf8) + [0])                       // WGDEVICE_A_IFNAME
            + Self.nest(8, peer))                                         // WGDEVICE_A_PEERS
        #expect(m.bytes == expected)
    }

    @Test func removePeerSetsRemoveMe() {
        let m = WireGuardNetlink.removePeer(device: "wg0", family: 0x1c, sequence: 9, publicKey: key)
        let peer = Self.nest(0, Self.attr(1, key.bytes) + Self.attr(3, Self.le32(1)))  // WGPEER_F_REMOVE_ME
        let expected = Self.message(family: 0x1c, flags: 0x5, seq: 9, cmd: 1,
            Self.attr(2, Array("wg0".utf8) + [0]) + Self.nest(8, peer))
        #expect(m.bytes == expected)
    }

    @Test func getDeviceIsADumpByName() {
        let m = WireGuardNetlink.getDevice(name: "wg0", family: 0x1c, sequence: 3)
        let expected = Self.message(family: 0x1c, flags: 0x305, seq: 3, cmd: 0,  // REQUEST|ACK|DUMP, GET_DEVICE
            Self.attr(2, Array("wg0".utf8) + [0]))
        #expect(m.bytes == expected)
    }
}

/// The socket side against the running kernel: the controller family is
/// always there, and a WireGuard call on a missing device fails in one error.
@Suite struct NetlinkSocketTests {
    @Test func controllerFamilyResolvesToItsFixedID() throws {
        #expect(try WireGuardNetlink.familyID(NetlinkSocket(), name: "nlctrl") == 0x10)  // GENL_ID_CTRL
    }

    @Test func unknownFamilyIsENOENT() throws {
        #expect(throws: NetlinkError(operation: "resolve family sixpn-none (not in this kernel)", errno: ENOENT)) {
            try WireGuardNetlink.familyID(NetlinkSocket(), name: "sixpn-none")
        }
    }

    @Test func kernelDeviceThatDoesNotExistFailsWithANetlinkError() {
        // Without the module: the family is missing; with it: there is no such device.
        #expect(throws: WireGuardError.self) { try KernelWireGuardDevice(name: "sx-none").publicKey() }
    }
}
