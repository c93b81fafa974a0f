import ZoneEngine

/// Turns the store's entries and events under `ClusterKeys.prefix` into the
/// replica's changes. A value that does not parse is not a change: it is
/// returned as a `SkippedValue`, to be logged and counted, and the rest goes on.
struct RecordTranslation {
    struct SkippedValue: Sendable {
        var key: String
        var reason: String
    }

    var changes: [ReplicaChange] = []
    var skipped: [SkippedValue] = []
    /// Host records seen (nil value: the host's key was deleted), in order.
    var hosts: [(id: UInt32, revision: Int64, value: ClusterValues.Host?)] = []

    mutating func put(_ e: StoredEntry) {
        switch ClusterKeys.parse(e.key) {
        case .instance(let address):
            do {
                let v = try ClusterValues.decode(ClusterValues.Instance.self, e.value)
                changes.append(.putInstance(ReplicaInstance(address: address, app: v.app, region: v.region, id: v.id,
                                                            started: v.started, processGroup: v.processGroup ?? "app",
                                                            metadata: v.metadata ?? [:])))
            } catch {
                skipped.append(SkippedValue(key: e.key, reason: "\(error)"))
            }
        case .peer(let address):
            do {
                let v = try ClusterValues.decode(ClusterValues.Peer.self, e.value)
                changes.append(.putPeer(ReplicaPeer(address: address, name: v.name, publicKey: v.publicKey)))
            } catch {
                skipped.append(SkippedValue(key: e.key, reason: "\(error)"))
            }
        case .host(let id):
            // A host whose record does not parse is still alive: its instances are answered, it only misses the mesh.
            changes.append(.host(id: id, alive: true))
            do {
                hosts.append((id, e.modRevision, try ClusterValues.decode(ClusterValues.Host.self, e.value)))
            } catch {
                skipped.append(SkippedValue(key: e.key, reason: "\(error)"))
                hosts.append((id, e.modRevision, ClusterValues.Host(region: nil, publicKey: nil, endpoint: nil, peerGateway: nil)))
            }
        case .name:
            break
        case .unknown:
            skipped.append(SkippedValue(key: e.key, reason: "not a key sixpn knows"))
        }
    }

    mutating func delete(_ e: StoredEntry) {
        switch ClusterKeys.parse(e.key) {
        case .instance(let address):
            if SixPNAddress(address) != nil { changes.append(.deleteInstance(address: address)) }
        case .peer(let address):
            if SixPNAddress(address) != nil { changes.append(.deletePeer(address: address)) }
        case .host(let id):
            changes.append(.host(id: id, alive: false))
            hosts.append((id, e.modRevision, nil))
        case .name, .unknown:
            break
        }
    }
}
