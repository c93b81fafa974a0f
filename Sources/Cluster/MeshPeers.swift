import Logging
import NetSetup
import ZoneEngine

/// Keeps a WireGuard device's peers equal to the other live hosts of the cluster,
/// and `swap` attached to it, so that a host that joins is reachable without
/// typing anything and one that leaves is removed.
final class MeshPeers {
    let device: UserspaceWireGuardDevice
    let ownHost: UInt32
    private var current: [WireGuardKey: MeshPeer] = [:]
    private let logger: Logger

    init(device: String, ownHost: UInt32, logger: Logger) throws {
        guard UAPISocket.exists(device: device), let d = try WireGuardDevices.open(device) as? UserspaceWireGuardDevice else {
            throw ClusterError(.configuration, "--wg-dev \(device): no userspace WireGuard device of that name "
                               + "(the agent configures wireguard-go or boringtun through /var/run/wireguard/\(device).sock)")
        }
        self.device = d
        self.ownHost = ownHost
        self.logger = logger
    }

    func publicKey() throws -> WireGuardKey { try device.publicKey() }

    /// Attaches `swap` (idempotent) and forgets what it believed the device had.
    func start() throws {
        try TrafficControl.attach(.swap, device: device.name)
        current = [:]
    }

    /// Makes the device's peers those of `hosts` (the live ones, by host ID), this host left out.
    func update(hosts: [UInt32: ClusterValues.Host]) {
        var wanted: [WireGuardKey: MeshPeer] = [:]
        for (id, h) in hosts where id != ownHost {
            guard let k = h.publicKey, let key = WireGuardKey(base64: k) else { continue }
            var allowed = [MeshPeer.swappedPrefix(host: id)]
            if h.peerGateway == true { allowed.append(MeshPeer.swappedPrefix(host: PeerArea.host)) }
            wanted[key] = MeshPeer(publicKey: key, endpoint: h.endpoint, allowedIPs: allowed)
        }
        do {
            // The device carries the mesh only: a peer that no live host names has left.
            let known = Set(try device.peerKeys())
            for key in known where wanted[key] == nil {
                try device.removePeer(publicKey: key)
                logger.info("mesh peer removed", metadata: ["public_key": "\(key)"])
            }
            for (key, peer) in wanted where current[key] != peer || !known.contains(key) {
                try device.setMeshPeer(peer)
                logger.info("mesh peer set", metadata: ["public_key": "\(key)", "endpoint": "\(peer.endpoint ?? "-")",
                                                        "allowed_ips": "\(peer.allowedIPs.map(\.description).joined(separator: ","))"])
            }
            current = wanted
        } catch {
            logger.error("mesh update failed", metadata: ["device": "\(device.name)", "error": "\(error)"])
            current = [:]
        }
    }
}
