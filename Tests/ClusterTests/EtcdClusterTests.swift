import Foundation
import Logging
import Testing
import ZoneEngine
@testable import Cluster

/// The etcd client, the writers and the agent's sync against a real etcd on loopback.
@Suite(.serialized) struct EtcdClusterTests {
    let etcd: LocalEtcd

    init() throws { etcd = try LocalEtcd() }

    func withWriter<R: Sendable>(_ body: (ClusterWriter, EtcdClient) async throws -> R) async throws -> R {
        try await EtcdClient.with(etcd.configuration) { try await body(ClusterWriter(store: $0), $0) }
    }

    @Test func writesAreAtomicAndDuplicatesAreRefused() async throws {
        try await withWriter { w, client in
            let added = try await w.addInstance(app: "Web", region: "ams", address: "fdaa:0:a:0:1:0:1:1", id: nil)
            #expect(added.fields.app == "web" && added.fields.id == "00000001" && !added.hostJoined)
            await #expect(throws: DatabaseError.self) {
                try await w.addInstance(app: "api", region: "ams", address: "fdaa:0:a:0:1:0:1:1", id: nil)
            }
            // Same (app, ID), another address: refused, and the address stays free.
            await #expect(throws: DatabaseError.self) {
                try await w.addInstance(app: "web", region: "ams", address: "fdaa:0:a:0:1:0:9:1", id: "00000001")
            }
            #expect(try await client.get(ClusterKeys.instance("fdaa:0:a:0:1:0:9:1")) == nil)
            await #expect(throws: DatabaseError.self) { try await w.addPeer(name: "p", address: "fdaa:0:a:0:1:0:1:1", publicKey: nil) }
            try await w.addPeer(name: "office", address: "fdaa:0:a:ffff:ffff::1", publicKey: nil)
            #expect(try await w.contents().lines == [
                "org 0000000a 0000000a",
                "instance 0000000a web 00000001 ams 00000001 fdaa:0:a:0:1:0:1:1 started",
                "peer 0000000a office fdaa:0:a:ffff:ffff::1 -",
            ])
            try await w.removeInstance(address: "fdaa:0:a:0:1:0:1:1")
            try await w.removePeer(name: "office", network: 0xa)
            await #expect(throws: DatabaseError.self) { try await w.removeInstance(address: "fdaa:0:a:0:1:0:1:1") }
            #expect(try await client.list(prefix: ClusterKeys.prefix, revision: nil, pageSize: 2).entries.isEmpty)
        }
    }

    @Test func listingPagesShowOneRevision() async throws {
        try await withWriter { w, client in
            for i in 1...7 { _ = try await w.addInstance(app: "web", region: "ams", address: "fdaa:0:a:0:1:0:\(i):1", id: nil) }
            let l = try await client.list(prefix: ClusterKeys.prefix + "instances/", revision: nil, pageSize: 3)
            #expect(l.entries.count == 7 && l.clusterID != 0)
            let older = try await client.list(prefix: ClusterKeys.prefix + "instances/", revision: l.revision - 2, pageSize: 3)
            #expect(older.entries.count == 5)
        }
    }

    /// The agent's sync: list, watch, resume from the stored revision, relist after a compaction.
    @Test func theAgentKeepsTheDatabaseInStepAndResumesAndRelists() async throws {
        let path = etcd.databasePath("host")
        let configuration = AgentConfiguration(databasePath: path, hostID: 1, region: "ams", leaseTTL: 2,
                                               wireGuardDevice: nil, wireGuardEndpoint: nil, peerGateway: false)
        try DatabaseWriter.initialize(path: path)
        func instances() throws -> [String] { try DatabaseWriter(path: path).contents().instances.map(\.address.description) }
        func eventually(_ what: Comment, _ condition: () throws -> Bool) async throws {
            for _ in 0..<100 where try !condition() { try await Task.sleep(for: .milliseconds(50)) }
            #expect(try condition(), what)
        }
        try await withWriter { w, client in
            _ = try await w.addInstance(app: "web", region: "ams", address: "fdaa:0:a:0:1:0:1:1", id: nil)
            let logger = Logger(label: "test")
            // Run 1: lists, then applies a watched write and a garbage value beside a good one.
            var agent = Task { try await ClusterAgent(store: client, configuration: configuration, logger: logger).run() }
            try await eventually("listed") { try instances() == ["fdaa:0:a:0:1:0:1:1"] }
            _ = try await client.transaction([], [
                .put(ClusterKeys.instance("fdaa:0:a:0:1:0:2:1"), Array("{garbage".utf8)),
                .put(ClusterKeys.instance("fdaa:0:a:0:1:0:3:1"),
                     ClusterValues.encode(ClusterValues.Instance(app: "web", region: "ams", id: "three"))),
            ])
            try await eventually("the good value of the revision applied") { try instances().contains("fdaa:0:a:0:1:0:3:1") }
            try await eventually("the host registered itself") { try ReplicaDatabase(path: path).hosts().contains { $0 == (1, true) } }
            agent.cancel()
            _ = await agent.result

            // Missed while stopped; then resumed from the stored revision.
            try await w.removeInstance(address: "fdaa:0:a:0:1:0:1:1")
            agent = Task { try await ClusterAgent(store: client, configuration: configuration, logger: logger).run() }
            try await eventually("resumed") { try instances() == ["fdaa:0:a:0:1:0:3:1"] }
            agent.cancel()
            _ = await agent.result

            // Missed, then compacted away: the agent lists again.
            _ = try await w.addInstance(app: "web", region: "ams", address: "fdaa:0:a:0:1:0:4:1", id: nil)
            _ = try await w.addInstance(app: "web", region: "ams", address: "fdaa:0:a:0:1:0:5:1", id: nil)
            let now = try await client.list(prefix: "/x", revision: nil, pageSize: 1).revision
            try await client.compact(to: now)
            let stored = try ReplicaDatabase(path: path).position()!.revision
            #expect(stored + 1 < now)
            // Watching from there fails as compacted: the agent can only converge by listing again.
            await #expect {
                try await client.watch(prefix: ClusterKeys.prefix, from: stored + 1) { _ in false }
            } throws: { ($0 as? ClusterError)?.kind == .compacted }
            agent = Task { try await ClusterAgent(store: client, configuration: configuration, logger: logger).run() }
            try await eventually("relisted") {
                try Set(instances()) == ["fdaa:0:a:0:1:0:3:1", "fdaa:0:a:0:1:0:4:1", "fdaa:0:a:0:1:0:5:1"]
            }
            #expect(try ReplicaDatabase(path: path).position()!.revision >= now)
            agent.cancel()
            _ = await agent.result
        }
    }

    @Test func aLeaseThatIsNotKeptAliveTakesItsHostKeyAlong() async throws {
        try await withWriter { _, client in
            let lease = try await client.grantLease(ttl: 1)
            _ = try await client.transaction([], [.put(ClusterKeys.host(9), [1], lease: lease.id)])
            #expect(try await client.get(ClusterKeys.host(9)) != nil)
            try await Task.sleep(for: .milliseconds(2600))
            #expect(try await client.get(ClusterKeys.host(9)) == nil)
            // keepAlive returns (the lease expired) instead of hanging.
            try await client.keepAlive(lease)
        }
    }

    @Test func aStoppedStoreIsAOneLineUnavailableError() async throws {
        let c = try EtcdConfiguration(urls: "http://127.0.0.1:9", caCertificate: nil, certificate: nil, key: nil,
                                      requestTimeout: .milliseconds(500))
        await #expect {
            try await EtcdClient.with(c) { try await $0.get("/sixpn/x") }
        } throws: { error in
            guard let e = error as? ClusterError else { return false }
            return e.kind == .unavailable && !e.message.contains("\n") && e.message.hasPrefix("etcd http://127.0.0.1:9: get /sixpn/x:")
        }
    }
}
