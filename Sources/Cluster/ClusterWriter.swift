import ZoneEngine

/// The writes behind `sixpn db ... --etcd` and `sixpn wg peer ... --etcd`: each
/// checked by the same rules as the local database's, then done in one etcd
/// transaction whose conditions refuse a duplicate or a conflicting write
/// atomically, so that two writers racing on the same name or address cannot
/// both win and nothing is ever half-written.
public struct ClusterWriter: Sendable {
    public let store: any ClusterStore

    public init(store: any ClusterStore) {
        self.store = store
    }

    /// What `add-instance` stored; `hostJoined` is false when the address's host
    /// has not registered yet (the instance is answered once it does).
    public struct AddedInstance: Sendable {
        public let fields: InstanceFields
        public let hostJoined: Bool
    }

    public func addInstance(app: String, region: String, address: String, id: String?, started: Bool = true,
                            processGroup: String = "app",
                            metadata: [(key: String, value: String)] = []) async throws -> AddedInstance {
        let f = try InstanceFields(app: app, region: region, address: address, id: id)
        let group = try InstanceFields.processGroup(processGroup)
        let pairs = try InstanceFields.metadata(metadata)
        let key = ClusterKeys.instance(f.text)
        let name = ClusterKeys.instanceName(network: f.sixPN.network, app: f.app, id: f.id)
        let value = ClusterValues.Instance(
            app: f.app, region: f.region, id: f.id, state: started ? nil : "stopped",
            processGroup: group == "app" ? nil : group,
            metadata: pairs.isEmpty ? nil : Dictionary(uniqueKeysWithValues: pairs.map { ($0.key, $0.value) }))
        let r = try await store.transaction(
            [.absent(key), .absent(ClusterKeys.peer(f.text)), .absent(name)],
            [.put(key, ClusterValues.encode(value)), .put(name, Array(f.text.utf8)), .get(ClusterKeys.host(f.sixPN.host))])
        guard r.succeeded else {
            try await refuseTakenAddress(f.text)
            throw DatabaseError(.duplicate, "app \(f.app) in network \(NetworkID.format(f.sixPN.network)) already has an instance \(f.id)")
        }
        return AddedInstance(fields: f, hostJoined: r.gets.first.map { $0 != nil } ?? true)
    }

    /// After a refused add: says so when the address was the reason (else the name was).
    private func refuseTakenAddress(_ text: String) async throws {
        let instance = try await store.get(ClusterKeys.instance(text))
        let peer = try await store.get(ClusterKeys.peer(text))
        if instance != nil || peer != nil {
            throw DatabaseError(.duplicate, "address \(text) is already in the cluster")
        }
    }

    public func removeInstance(address: String) async throws {
        let text = try InstanceFields.address(address).address.description
        let key = ClusterKeys.instance(text)
        guard let current = try await store.get(key) else {
            throw DatabaseError(.notFound, "no instance has address \(text)")
        }
        var operations: [StoreOperation] = [.delete(key)]
        // A value that does not parse has no index key of ours to remove.
        if let v = try? ClusterValues.decode(ClusterValues.Instance.self, current.value), let a = SixPNAddress(text) {
            let name = ClusterKeys.instanceName(network: a.network, app: v.app, id: v.id)
            if try await store.get(name)?.value == Array(text.utf8) { operations.append(.delete(name)) }
        }
        let r = try await store.transaction([.modRevision(key, current.modRevision)], operations)
        guard r.succeeded else { throw DatabaseError(.duplicate, "instance \(text) changed while it was being removed; try again") }
    }

    /// Starts or stops an instance: its value rewritten under a compare of the revision it was read at.
    public func setState(address: String, started: Bool) async throws {
        let text = try InstanceFields.address(address).address.description
        let key = ClusterKeys.instance(text)
        guard let current = try await store.get(key) else {
            throw DatabaseError(.notFound, "no instance has address \(text)")
        }
        var v = try ClusterValues.decode(ClusterValues.Instance.self, current.value)
        v.state = started ? nil : "stopped"
        let r = try await store.transaction([.modRevision(key, current.modRevision)], [.put(key, ClusterValues.encode(v))])
        guard r.succeeded else { throw DatabaseError(.duplicate, "instance \(text) changed while it was being written; try again") }
    }

    public func addPeer(name: String, address: String, publicKey: String?) async throws {
        let f = try PeerFields(name: name, address: address, publicKey: publicKey)
        let key = ClusterKeys.peer(f.text)
        let nameKey = ClusterKeys.peerName(network: f.sixPN.network, name: f.name)
        let r = try await store.transaction(
            [.absent(key), .absent(ClusterKeys.instance(f.text)), .absent(nameKey)],
            [.put(key, ClusterValues.encode(ClusterValues.Peer(name: f.name, publicKey: f.publicKey))),
             .put(nameKey, Array(f.text.utf8))])
        guard r.succeeded else {
            try await refuseTakenAddress(f.text)
            throw DatabaseError(.duplicate, "network \(NetworkID.format(f.sixPN.network)) already has a peer named \(f.name)")
        }
    }

    public func removePeer(name: String, network: UInt32) async throws {
        let name = name.lowercased()
        let nameKey = ClusterKeys.peerName(network: network, name: name)
        guard let index = try await store.get(nameKey) else {
            throw DatabaseError(.notFound, "network \(NetworkID.format(network)) has no peer named \(name)")
        }
        let key = ClusterKeys.peer(String(decoding: index.value, as: UTF8.self))
        let r = try await store.transaction([.modRevision(nameKey, index.modRevision)], [.delete(nameKey), .delete(key)])
        guard r.succeeded else { throw DatabaseError(.duplicate, "peer \(name) changed while it was being removed; try again") }
    }

    /// The cluster's records as `sixpn db list` shows the database's (values that
    /// do not parse are left out, as the agent leaves them out).
    public func contents(network: UInt32? = nil) async throws -> DatabaseContents {
        let listing = try await store.list(prefix: ClusterKeys.prefix, revision: nil, pageSize: 10_000)
        var c = DatabaseContents()
        var networks = Set<UInt32>()
        for e in listing.entries {
            switch ClusterKeys.parse(e.key) {
            case .instance(let address):
                guard let a = SixPNAddress(address), network == nil || a.network == network,
                      let v = try? ClusterValues.decode(ClusterValues.Instance.self, e.value) else { continue }
                networks.insert(a.network)
                c.instances.append(.init(network: a.network, app: v.app, id: v.id, region: v.region, host: a.host,
                                         address: a, started: v.started))
            case .peer(let address):
                guard let a = SixPNAddress(address), network == nil || a.network == network,
                      let v = try? ClusterValues.decode(ClusterValues.Peer.self, e.value) else { continue }
                networks.insert(a.network)
                c.peers.append(.init(network: a.network, name: v.name, address: a, publicKey: v.publicKey))
            case .host, .name, .unknown:
                continue
            }
        }
        if let network, networks.isEmpty {
            throw DatabaseError(.notFound, "no organization has network ID \(NetworkID.format(network))")
        }
        c.organizations = networks.sorted().map { .init(network: $0, name: NetworkID.format($0)) }
        c.instances.sort { ($0.network, $0.app, $0.region, $0.id) < ($1.network, $1.app, $1.region, $1.id) }
        c.peers.sort { ($0.network, $0.name) < ($1.network, $1.name) }
        return c
    }

    /// Every instance and peer address of `network`, from the name index (peer allocation).
    public func addresses(network: UInt32) async throws -> [SixPNAddress] {
        let listing = try await store.list(prefix: ClusterKeys.prefix + "names/" + NetworkID.format(network) + "/",
                                           revision: nil, pageSize: 10_000)
        return listing.entries.compactMap { SixPNAddress(String(decoding: $0.value, as: UTF8.self)) }
    }
}
