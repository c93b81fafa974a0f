import CMNL
import Glibc

/// The kernel WireGuard generic-netlink messages sixpn sends (see
/// <linux/wireguard.h>): resolve the family, read a device, add and remove a peer.
enum WireGuardNetlink {
    static let requestAck = UInt16(NLM_F_REQUEST | NLM_F_ACK)

    /// Asks the generic-netlink controller for a family's id ("wireguard", "nlctrl", ...).
    static func familyID(_ socket: NetlinkSocket, name: String = WG_GENL_NAME) throws(NetlinkError) -> UInt16 {
        var m = NetlinkMessage(type: UInt16(GENL_ID_CTRL), flags: requestAck, sequence: socket.nextSequence(),
                               command: UInt8(CTRL_CMD_GETFAMILY), version: 1)
        m.putString(UInt16(CTRL_ATTR_FAMILY_NAME), name)
        var id: UInt16?
        do {
            try socket.request(m, operation: "resolve family \(name)") { nlh in
                id = NetlinkAttributes(message: nlh).u16(UInt16(CTRL_ATTR_FAMILY_ID))
            }
        } catch {
            guard error.errno == ENOENT else { throw error }
            throw NetlinkError(operation: "resolve family \(name) (not in this kernel)", errno: ENOENT)
        }
        guard let id else { throw NetlinkError(operation: "resolve family \(name)", errno: EPROTO) }
        return id
    }

    static func getDevice(name: String, family: UInt16, sequence: UInt32) -> NetlinkMessage {
        var m = NetlinkMessage(type: family, flags: UInt16(NLM_F_REQUEST | NLM_F_ACK | NLM_F_DUMP),
                               sequence: sequence, command: UInt8(WG_CMD_GET_DEVICE.rawValue),
                               version: UInt8(WG_GENL_VERSION))
        m.putString(UInt16(WGDEVICE_A_IFNAME.rawValue), name)
        return m
    }

    /// WG_CMD_SET_DEVICE with one peer whose allowed IPs are replaced by `allowedIPs`.
    static func setPeer(device: String, family: UInt16, sequence: UInt32,
                        publicKey: WireGuardKey, allowedIPs: [IPv6Prefix]) -> NetlinkMessage {
        peerMessage(device: device, family: family, sequence: sequence, publicKey: publicKey,
                    flags: UInt32(WGPEER_F_REPLACE_ALLOWEDIPS.rawValue)) { m in
            m.nest(UInt16(WGPEER_A_ALLOWEDIPS.rawValue)) { m in
                for (i, prefix) in allowedIPs.enumerated() {
                    m.nest(UInt16(i)) { m in
                        m.putU16(UInt16(WGALLOWEDIP_A_FAMILY.rawValue), UInt16(AF_INET6))
                        m.putBytes(UInt16(WGALLOWEDIP_A_IPADDR.rawValue), prefix.address.bytes)
                        m.putU8(UInt16(WGALLOWEDIP_A_CIDR_MASK.rawValue), UInt8(prefix.length))
                    }
                }
            }
        }
    }

    /// WG_CMD_SET_DEVICE removing one peer.
    static func removePeer(device: String, family: UInt16, sequence: UInt32,
                           publicKey: WireGuardKey) -> NetlinkMessage {
        peerMessage(device: device, family: family, sequence: sequence, publicKey: publicKey,
                    flags: UInt32(WGPEER_F_REMOVE_ME.rawValue)) { _ in }
    }

    private static func peerMessage(device: String, family: UInt16, sequence: UInt32, publicKey: WireGuardKey,
                                    flags: UInt32, _ body: (inout NetlinkMessage) -> Void) -> NetlinkMessage {
        var m = NetlinkMessage(type: family, flags: requestAck, sequence: sequence,
                               command: UInt8(WG_CMD_SET_DEVICE.rawValue), version: UInt8(WG_GENL_VERSION))
        m.putString(UInt16(WGDEVICE_A_IFNAME.rawValue), device)
        m.nest(UInt16(WGDEVICE_A_PEERS.rawValue)) { m in
            m.nest(0) { m in
                m.putBytes(UInt16(WGPEER_A_PUBLIC_KEY.rawValue), publicKey.bytes)
                m.putU32(UInt16(WGPEER_A_FLAGS.rawValue), flags)
                body(&m)
            }
        }
        return m
    }
}
