import Foundation
import Logging
import Testing
import ZoneEngine

@Suite final class ReplicaDatabaseTests {
    let path = NSTemporaryDirectory() + "sx-cl-replica-\(UUID().uuidString).db"

    deinit {
        for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
    }

    func instance(_ address: String, app: String = "web", id: String? = nil) -> ReplicaChange {
        .putInstance(ReplicaInstance(address: address, app: app, region: "ams", id: id, started: true))
    }

    @Test func aBatchIsAppliedWithItsRevisionAndABadChangeIsRefusedAlone() throws {
        let r = try ReplicaDatabase(path: path)
        #expect(try r.position() == nil)
        let refused = try r.apply([
            instance("fdaa:0:a:0:1:0:1:1"),
            instance("fdaa:0:a:0:1:0:2:1", app: "Not A Label"),
            instance("fdaa:0:a:0:2:0:3:1", id: "00000001"),  // (web, 00000001) is the first one's
            .putPeer(ReplicaPeer(address: "fdaa:0:a:ffff:ffff::1", name: "office", publicKey: nil)),
            .host(id: 1, alive: true),
        ], at: ReplicaPosition(revision: 7, clusterID: 42))
        #expect(refused.count == 2)
        #expect(try r.position() == ReplicaPosition(revision: 7, clusterID: 42))
        let c = try DatabaseWriter(path: path).contents()
        #expect(c.instances.map(\.address.description) == ["fdaa:0:a:0:1:0:1:1"])
        #expect(c.peers.map(\.name) == ["office"])
        // Host 1 joined; host 2 is named by a refused instance only, so it has no row.
        #expect(try r.hosts().map { "\($0.0)=\($0.1)" } == ["1=true"])
    }

    @Test func anInstanceOfAHostThatHasNotJoinedMarksItNotAlive() throws {
        let r = try ReplicaDatabase(path: path)
        try r.apply([instance("fdaa:0:a:0:5:0:1:1")], at: ReplicaPosition(revision: 2, clusterID: 1))
        #expect(try r.hosts().map { "\($0.0)=\($0.1)" } == ["5=false"])
        try r.apply([.host(id: 5, alive: true)], at: ReplicaPosition(revision: 3, clusterID: 1))
        #expect(try r.hosts().map { "\($0.0)=\($0.1)" } == ["5=true"])
        try r.apply([.host(id: 5, alive: false)], at: ReplicaPosition(revision: 4, clusterID: 1))
        #expect(try r.hosts().map { "\($0.0)=\($0.1)" } == ["5=false"])
    }

    @Test func aPutReplacesTheInstanceAtItsAddressAndADeleteTakesTheEmptyAppAlong() throws {
        let r = try ReplicaDatabase(path: path)
        try r.apply([instance("fdaa:0:a:0:1:0:1:1")], at: ReplicaPosition(revision: 2, clusterID: 1))
        try r.apply([instance("fdaa:0:a:0:1:0:1:1", app: "api")], at: ReplicaPosition(revision: 3, clusterID: 1))
        #expect(try DatabaseWriter(path: path).contents().instances.map(\.app) == ["api"])
        try r.apply([.deleteInstance(address: "fdaa:0:a:0:1:0:1:1")], at: ReplicaPosition(revision: 4, clusterID: 1))
        #expect(try DatabaseWriter(path: path).contents().instances.isEmpty)
    }

    @Test func replaceLeavesOnlyTheListing() throws {
        let r = try ReplicaDatabase(path: path)
        try r.apply([instance("fdaa:0:a:0:1:0:1:1"), .host(id: 1, alive: true)], at: ReplicaPosition(revision: 2, clusterID: 1))
        let refused = try r.replace(with: [
            instance("fdaa:0:b:0:2:0:1:1"),
            instance("fdaa:0:b:0:2:0:2:1", id: "00000001"),  // (web, 00000001) again
            instance("fdaa:0:b:0:2:0:3:1", app: "-bad"),
            .host(id: 2, alive: false),
        ], at: ReplicaPosition(revision: 9, clusterID: 1))
        #expect(refused.count == 2)
        let c = try DatabaseWriter(path: path).contents()
        #expect(c.instances.map(\.address.description) == ["fdaa:0:b:0:2:0:1:1"])
        #expect(c.organizations.map(\.network) == [0xb])
        #expect(try r.hosts().map { "\($0.0)=\($0.1)" } == ["2=false"])
        #expect(try r.position()?.revision == 9)
    }

    @Test func anAbandonedReplacementLeavesTheDatabaseAsItWas() throws {
        let r = try ReplicaDatabase(path: path)
        try r.apply([instance("fdaa:0:a:0:1:0:1:1")], at: ReplicaPosition(revision: 2, clusterID: 1))
        try r.beginReplacement()
        _ = try r.add([instance("fdaa:0:b:0:2:0:1:1")])
        r.abandonReplacement()  // the listing failed half-way
        #expect(try DatabaseWriter(path: path).contents().instances.map(\.address.description) == ["fdaa:0:a:0:1:0:1:1"])
        #expect(try r.position()?.revision == 2)
    }

    @Test func aListingIsLoggedAsOneResetAndAServerFollowingItBuildsEverythingOnce() throws {
        let r = try ReplicaDatabase(path: path)
        try r.apply([instance("fdaa:0:a:0:1:0:1:1")], at: ReplicaPosition(revision: 2, clusterID: 1))
        let store = try ZoneStore(path: path, logger: Logger(label: "test"))
        try store.start()
        defer { store.stop() }
        func waitFor(_ what: () -> Bool) -> Bool {
            for _ in 0..<400 where !what() { usleep(5_000) }  // two seconds at most
            return what()
        }
        // Three organizations listed: the log holds one reset, and the server builds them all at once.
        try r.replace(with: [instance("fdaa:0:b:0:1:0:1:1"), instance("fdaa:0:c:0:1:0:1:1"), instance("fdaa:0:d:0:1:0:1:1"),
                             .host(id: 1, alive: true)],
                      at: ReplicaPosition(revision: 9, clusterID: 1))
        #expect(waitFor { store.updateCounts.full == 2 })
        #expect(store.current.organizationCount == 3)
        #expect(store.current.instanceCount == 3)
        #expect(store.updateCounts.incremental == 0)
        // The triggers are back after the listing: the next change is logged and built alone.
        try r.apply([instance("fdaa:0:b:0:1:0:2:1", app: "api")], at: ReplicaPosition(revision: 10, clusterID: 1))
        #expect(waitFor { store.updateCounts.incremental == 1 })
        #expect(store.current.instanceCount == 4)
        #expect(store.updateCounts.full == 2)
    }

    @Test func aReopenedReplicaKeepsItsPosition() throws {
        try ReplicaDatabase(path: path).apply([], at: ReplicaPosition(revision: 11, clusterID: 5))
        #expect(try ReplicaDatabase(path: path).position() == ReplicaPosition(revision: 11, clusterID: 5))
    }
}
