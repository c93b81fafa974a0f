import DNSWire
import Glibc
import Logging
import Testing
@testable import ZoneEngine

/// The names Fly.io documents for its `.internal` zone beyond the first
/// ones: process groups, `all.` forms with stopped instances, instance
/// metadata; and a dead host's instances (the cluster's `hosts` table).
private func fixture() throws -> TemporaryDatabase {
    let t = try TemporaryDatabase()
    let w = try t.writer()
    // Network 1: hosts a1, a2 (ams), b1, b2 (iad), c1 (syd). b2 is dead.
    try w.addInstance(app: "web", region: "ams", address: "fdaa:0:1:0:a1:0:1:2", id: "w1",
                      metadata: [("role", "primary")])
    try w.addInstance(app: "web", region: "ams", address: "fdaa:0:1:0:a2:0:2:2", id: "w2", processGroup: "worker",
                      metadata: [("role", "replica"), ("zone", "z1")])
    try w.addInstance(app: "web", region: "iad", address: "fdaa:0:1:0:b1:0:3:2", id: "w3", metadata: [("role", "replica")])
    try w.addInstance(app: "web", region: "syd", address: "fdaa:0:1:0:c1:0:4:2", id: "w4", started: false,
                      metadata: [("role", "primary")])
    try w.addInstance(app: "web", region: "iad", address: "fdaa:0:1:0:b2:0:5:2", id: "w5", processGroup: "worker",
                      metadata: [("role", "replica")])
    try w.setHost(id: 0xb2, alive: false)
    try w.setHost(id: 0xb1, alive: true)
    // Network 2: the same app name, in the default group.
    try w.addInstance(app: "web", region: "ams", address: "fdaa:0:2:0:a1:0:7:2", id: "x1", metadata: [("role", "primary")])
    return t
}

private let inOrg1 = "fdaa:0:1:0:a1:0:1:2"
private let inOrg2 = "fdaa:0:2:0:a1:0:7:2"
private let w1 = "fdaa:0:1:0:a1:0:1:2", w2 = "fdaa:0:1:0:a2:0:2:2", w3 = "fdaa:0:1:0:b1:0:3:2"
private let w5 = "fdaa:0:1:0:b2:0:5:2"

@Suite struct FlyNamesTests {
    let t: TemporaryDatabase
    let s: Snapshot

    init() throws {
        t = try fixture()
        s = try snapshot(of: t.path)
    }

    @Test func aProcessGroupAnswersItsStartedInstancesOnLiveHosts() throws {
        #expect(try s.ask("app.process.web.internal", from: inOrg1).aaaa == [w1, w3])
        #expect(try s.ask("worker.process.web.internal", from: inOrg1).aaaa == [w2])
        #expect(try s.ask("process.web.internal", from: inOrg1).isNoData)
        #expect(try s.ask("other.process.web.internal", from: inOrg1).isNXDomain)
    }

    @Test func anotherOrganizationsProcessGroupsAreItsOwn() throws {
        #expect(try s.ask("app.process.web.internal", from: inOrg2).aaaa == ["fdaa:0:2:0:a1:0:7:2"])
        #expect(try s.ask("worker.process.web.internal", from: inOrg2).isNXDomain)
    }

    @Test func allFormsListStoppedInstancesAndDeadHostsToo() throws {
        #expect(try s.ask("vms.web.internal", .txt, from: inOrg1).txt == ["w1 ams,w2 ams,w3 iad"])
        #expect(try s.ask("all.vms.web.internal", .txt, from: inOrg1).txt == ["w1 ams,w2 ams,w3 iad,w5 iad,w4 syd"])
        #expect(try s.ask("regions.web.internal", .txt, from: inOrg1).txt == ["ams,iad"])
        #expect(try s.ask("all.regions.web.internal", .txt, from: inOrg1).txt == ["ams,iad,syd"])
        let some = try s.ask("_instances.internal", .txt, from: inOrg1).txt.joined()
        let all = try s.ask("all._instances.internal", .txt, from: inOrg1).txt.joined()
        #expect(!some.contains("w4") && !some.contains("w5") && some.contains("instance=w3,app=web,ip=\(w3),region=iad"))
        #expect(all.contains("instance=w4,app=web,ip=fdaa:0:1:0:c1:0:4:2,region=syd")
                && all.contains("instance=w5,app=web,ip=\(w5),region=iad"))
        #expect(try s.ask("all.vms.web.internal", .txt, from: inOrg2).txt == ["x1 ams"])
        #expect(try !s.ask("all._instances.internal", .txt, from: inOrg2).txt.joined().contains("fdaa:0:1:"))
    }

    @Test func metadataNamesAnswerTheInstancesWithThatKeyAndValue() throws {
        #expect(try s.ask("primary.role.kv._metadata.web.internal", from: inOrg1).aaaa == [w1])
        #expect(try s.ask("replica.role.kv._metadata.web.internal", from: inOrg1).aaaa == [w2, w3])
        #expect(try s.ask("z1.zone.kv._metadata.web.internal", from: inOrg1).aaaa == [w2])
        for ent in ["role.kv._metadata.web.internal", "kv._metadata.web.internal", "_metadata.web.internal"] {
            #expect(try s.ask(ent, from: inOrg1).isNoData, "\(ent)")
        }
        #expect(try s.ask("other.role.kv._metadata.web.internal", from: inOrg1).isNXDomain)
        #expect(try s.ask("z1.other.kv._metadata.web.internal", from: inOrg1).isNXDomain)
        #expect(try s.ask("primary.role.kv._metadata.web.internal", from: inOrg2).aaaa == ["fdaa:0:2:0:a1:0:7:2"])
        #expect(try s.ask("z1.zone.kv._metadata.web.internal", from: inOrg2).isNXDomain)
    }

    @Test func aDeadHostsInstancesLeaveTheListsButKeepTheirOwnNames() throws {
        #expect(try s.ask("web.internal", from: inOrg1).aaaa.sorted() == [w1, w2, w3].sorted())
        #expect(try !s.ask("iad.web.internal", from: inOrg1).aaaa.contains(w5))
        #expect(try s.ask("top9.nearest.of.web.internal", from: inOrg1).aaaa.count == 3)
        #expect(try s.ask("w5.vm.web.internal", from: inOrg1).aaaa == [w5])
        let ptr = "2.0.0.0.5.0.0.0.0.0.0.0.2.b.0.0.0.0.0.0.1.0.0.0.0.0.0.0.a.a.d.f.ip6.arpa"
        #expect(try s.ask(ptr, .ptr, from: inOrg1).ptr == ["w5.vm.web.internal."])
        #expect(try s.ask("w4.vm.web.internal", from: inOrg1).isNXDomain)  // stopped
    }

    /// musl asks A and AAAA together and gives up on the name at an NXDOMAIN:
    /// every name that exists must answer A with NODATA.
    @Test(arguments: [
        "web.internal", "global.web.internal", "ams.web.internal", "w1.vm.web.internal", "vm.web.internal",
        "of.web.internal", "nearest.of.web.internal", "top2.nearest.of.web.internal", "regions.web.internal",
        "vms.web.internal", "all.vms.web.internal", "all.regions.web.internal", "process.web.internal",
        "app.process.web.internal", "worker.process.web.internal", "_metadata.web.internal",
        "kv._metadata.web.internal", "role.kv._metadata.web.internal", "primary.role.kv._metadata.web.internal",
        "_apps.internal", "_instances.internal", "all._instances.internal", "_peer.internal", "internal",
    ])
    func everyExistingNameAnswersAWithNODATA(name: String) throws {
        let r = try s.ask(name, .a, from: inOrg1)
        #expect(r.isNoData, "\(name) A: \(r.rcode)")
    }

    @Test func namesOfAnotherOrganizationsMetadataAreNXDOMAINWithA() throws {
        #expect(try s.ask("z1.zone.kv._metadata.web.internal", .a, from: inOrg2).isNXDomain)
        #expect(try s.ask("worker.process.web.internal", .a, from: inOrg2).isNXDomain)
    }

    @Test func processIsAReservedRegion() throws {
        let e = #expect(throws: DatabaseError.self) {
            try t.writer().addInstance(app: "web", region: "process", address: "fdaa:0:1:0:a1:0:9:2")
        }
        #expect(e?.kind == .badInput)
    }

    @Test func badMetadataAndGroupsAreOneLineErrorsAndChangeNothing() throws {
        let w = try t.writer()
        let before = try w.list()
        for (group, metadata) in [("-bad", [("k", "v")]), ("app", [("k", "not a label")]), ("app", [("k", "v"), ("k", "w")])] {
            let e = #expect(throws: DatabaseError.self) {
                try w.addInstance(app: "web", region: "ams", address: "fdaa:0:1:0:a1:0:9:2", processGroup: group,
                                  metadata: metadata.map { (key: $0.0, value: $0.1) })
            }
            #expect(e?.kind == .badInput && e?.message.contains("\n") == false)
        }
        #expect(try w.list() == before)
    }

    @Test func setStateStopsAndStartsAnInstance() throws {
        let w = try t.writer()
        try w.setState(address: w1, started: false)
        var s = try snapshot(of: t.path)
        #expect(try !s.ask("web.internal", from: inOrg1).aaaa.contains(w1))
        #expect(try s.ask("all.vms.web.internal", .txt, from: inOrg1).txt.joined().contains("w1 ams"))
        try w.setState(address: w1, started: true)
        s = try snapshot(of: t.path)
        #expect(try s.ask("web.internal", from: inOrg1).aaaa.contains(w1))
        #expect(throws: DatabaseError.self) { try w.setState(address: "fdaa:0:1:0:a1:0:99:2", started: true) }
    }
}

/// A database written by schema version 1 (sixpn before process groups,
/// metadata and hosts) is served as it is and migrated in place by the
/// first writer that opens it.
@Suite struct SchemaMigrationTests {
    static let version1 = """
        PRAGMA journal_mode = WAL;
        CREATE TABLE orgs (network_id INTEGER PRIMARY KEY CHECK (network_id BETWEEN 1 AND 4294967295),
                           name TEXT NOT NULL UNIQUE);
        CREATE TABLE apps (id INTEGER PRIMARY KEY, network_id INTEGER NOT NULL REFERENCES orgs (network_id) ON DELETE CASCADE,
                           name TEXT NOT NULL, UNIQUE (network_id, name));
        CREATE TABLE instances (app_id INTEGER NOT NULL REFERENCES apps (id) ON DELETE CASCADE, id TEXT NOT NULL,
                                region TEXT NOT NULL, host_id INTEGER NOT NULL CHECK (host_id BETWEEN 0 AND 4294967295),
                                address TEXT NOT NULL UNIQUE, started INTEGER NOT NULL DEFAULT 1 CHECK (started IN (0, 1)),
                                UNIQUE (app_id, id));
        CREATE INDEX instances_in_order ON instances (app_id, region, id, host_id, address, started);
        CREATE TABLE peers (network_id INTEGER NOT NULL REFERENCES orgs (network_id) ON DELETE CASCADE,
                            name TEXT NOT NULL, address TEXT NOT NULL UNIQUE, public_key TEXT, PRIMARY KEY (network_id, name));
        PRAGMA user_version = 1;
        INSERT INTO orgs VALUES (1, '00000001');
        INSERT INTO apps VALUES (1, 1, 'web');
        INSERT INTO instances VALUES (1, 'w1', 'ams', 161, 'fdaa:0:1:0:a1:0:1:2', 1);
        INSERT INTO instances VALUES (1, 'w2', 'iad', 177, 'fdaa:0:1:0:b1:0:2:2', 0);
        INSERT INTO peers VALUES (1, 'laptop', 'fdaa:0:1:0:ff:0:0:101', NULL);
        """

    /// A version 1 file at a fresh path.
    static func version1Database() throws -> TemporaryDatabase {
        let t = try TemporaryDatabase()
        for suffix in ["", "-wal", "-shm"] { unlink(t.path + suffix) }
        let db = try SQLiteConnection(path: t.path, mode: .readWrite(create: true))
        try db.execute(version1)
        return t
    }

    @Test func aVersion1DatabaseIsServedAsItIs() throws {
        let t = try Self.version1Database()
        let s = try snapshot(of: t.path)
        #expect(try s.ask("web.internal", from: "fdaa:0:1:0:a1:0:1:2").aaaa == ["fdaa:0:1:0:a1:0:1:2"])
        #expect(try s.ask("app.process.web.internal", from: "fdaa:0:1:0:a1:0:1:2").aaaa == ["fdaa:0:1:0:a1:0:1:2"])
        #expect(try s.ask("all.vms.web.internal", .txt, from: "fdaa:0:1:0:a1:0:1:2").txt == ["w1 ams,w2 iad"])
        #expect(try SQLiteConnection(path: t.path, mode: .readOnly).integer("PRAGMA user_version") == 1)
    }

    @Test func theFirstWriterMigratesInPlaceAndEverythingKeepsAnswering() throws {
        let t = try Self.version1Database()
        let before = try snapshot(of: t.path, serial: 1)
        let w = try t.writer()
        let db = try SQLiteConnection(path: t.path, mode: .readOnly)
        #expect(try db.integer("PRAGMA user_version") == Schema.version)
        let after = try snapshot(of: t.path, serial: 1)
        for name in ["web.internal", "vms.web.internal", "all.vms.web.internal", "_instances.internal",
                     "laptop._peer.internal", "w1.vm.web.internal", "app.process.web.internal"] {
            for type in [RRType.aaaa, .txt, .a] {
                #expect(try after.respond(name, type, from: "fdaa:0:1:0:a1:0:1:2")
                        == before.respond(name, type, from: "fdaa:0:1:0:a1:0:1:2"), "\(name) \(type)")
            }
        }
        // The new columns and tables work, and the change log names the organization.
        try w.addInstance(app: "web", region: "ams", address: "fdaa:0:1:0:a1:0:3:2", id: "w3", processGroup: "worker",
                          metadata: [("role", "primary")])
        let s = try snapshot(of: t.path)
        #expect(try s.ask("worker.process.web.internal", from: "fdaa:0:1:0:a1:0:1:2").aaaa == ["fdaa:0:1:0:a1:0:3:2"])
        #expect(try db.integer("SELECT count(*) FROM changes WHERE network_id = 1") > 0)
        // A second writer finds it migrated.
        _ = try t.writer()
        #expect(try db.integer("PRAGMA user_version") == Schema.version)
    }

    @Test func aRunningStoreFollowsTheMigration() throws {
        let t = try Self.version1Database()
        let store = try ZoneStore(path: t.path, logger: .init(label: "test"))
        try t.writer().addInstance(app: "api", region: "ams", address: "fdaa:0:1:0:a1:0:5:2", id: "a1")
        store.pollOnce()
        #expect(try store.current.ask("api.internal", from: "fdaa:0:1:0:a1:0:1:2").aaaa == ["fdaa:0:1:0:a1:0:5:2"])
        #expect(try store.current.ask("web.internal", from: "fdaa:0:1:0:a1:0:1:2").aaaa == ["fdaa:0:1:0:a1:0:1:2"])
        let full = store.updateCounts.full
        try t.writer().addInstance(app: "api", region: "ams", address: "fdaa:0:1:0:a1:0:6:2", id: "a2")
        store.pollOnce()
        #expect(store.updateCounts.full == full, "after the migration, changes come from the log")
        #expect(try store.current.ask("api.internal", from: "fdaa:0:1:0:a1:0:1:2").aaaa.count == 2)
    }

    /// A version 2 file (the change log without app_id, triggers that name
    /// the organization only), made from a fresh database by taking version 3's addition away.
    static func version2Database() throws -> TemporaryDatabase {
        let t = try TemporaryDatabase()
        try t.writer().addInstance(app: "web", region: "ams", address: "fdaa:0:1:0:a1:0:1:2", id: "w1")
        try t.writer().addInstance(app: "api", region: "ams", address: "fdaa:0:1:0:a1:0:2:2", id: "a1")
        let version2Triggers = Schema.changeTriggers
            .replacingOccurrences(of: "(network_id, app_id)", with: "(network_id)")
            .replacingOccurrences(of: ", NEW.id)", with: ")").replacingOccurrences(of: ", OLD.id)", with: ")")
            .replacingOccurrences(of: "SELECT network_id, id FROM", with: "SELECT network_id FROM")
            .replacingOccurrences(of: "SELECT a.network_id, a.id FROM", with: "SELECT a.network_id FROM")
        #expect(!version2Triggers.contains("network_id, app_id") && !version2Triggers.contains(", a.id FROM"))
        let db = try SQLiteConnection(path: t.path, mode: .readWrite(create: false))
        try db.execute("BEGIN; " + Schema.dropChangeTriggers + " ALTER TABLE changes DROP COLUMN app_id; "
                       + version2Triggers + " PRAGMA user_version = 2; COMMIT;")
        return t
    }

    @Test func aVersion2DatabaseIsServedAndMigratedInPlace() throws {
        let t = try Self.version2Database()
        let store = try ZoneStore(path: t.path, logger: .init(label: "test"))
        let me = "fdaa:0:1:0:a1:0:1:2"
        #expect(try store.current.ask("web.internal", from: me).aaaa == [me])
        // A writer of version 2 (plain SQL): its change names the organization, which is built whole.
        let rw = try SQLiteConnection(path: t.path, mode: .readWrite(create: false))
        try rw.execute("INSERT INTO instances (app_id, id, region, host_id, address) SELECT id, 'w2', 'iad', 161, 'fdaa:0:1:0:a1:0:3:2' FROM apps WHERE name = 'web'")
        store.pollOnce()
        #expect(try store.current.ask("web.internal", from: me).aaaa.count == 2)
        #expect(store.updateCounts.full == 1, "a version 2 log is read as it is")
        let before = store.appCounts
        #expect(before.copied == 0)
        // The first writer of this version migrates it; the store follows, and builds one app again from then on.
        try t.writer().addInstance(app: "api", region: "iad", address: "fdaa:0:1:0:a1:0:4:2", id: "a2")
        #expect(try rw.integer("PRAGMA user_version") == Schema.version)
        store.pollOnce()
        #expect(try store.current.ask("api.internal", from: me).aaaa.count == 2)
        try t.writer().addInstance(app: "api", region: "syd", address: "fdaa:0:1:0:a1:0:5:2", id: "a3")
        store.pollOnce()
        #expect(try store.current.ask("api.internal", from: me).aaaa.count == 3)
        #expect(store.appCounts.copied > before.copied, "web is copied, not read")
        #expect(try rw.integer("SELECT count(*) FROM changes WHERE app_id IS NOT NULL") > 0)
        let full = try snapshot(of: t.path, serial: store.current.serial)
        for name in ["web.internal", "api.internal", "vms.api.internal", "_apps.internal", "_instances.internal"] {
            for type in [RRType.aaaa, .txt, .a] {
                #expect(try store.current.respond(name, type, from: me) == full.respond(name, type, from: me), "\(name) \(type)")
            }
        }
    }
}
