import Testing
@testable import ZoneEngine

@Suite struct DatabaseWriterTests {
    @Test func addInstanceCreatesOrgAndAppAndDefaultsTheID() throws {
        let t = try TemporaryDatabase()
        let added = try t.writer().addInstance(app: "Web", region: "AMS", address: "fdaa:0:2a:0:b:1234:abcd:2")
        #expect(added == .init(network: 0x2a, app: "web", id: "1234abcd", region: "ams", address: "fdaa:0:2a:0:b:1234:abcd:2"))
        #expect(try t.writer().list() == [
            "org 0000002a 0000002a",
            "instance 0000002a web 1234abcd ams 0000000b fdaa:0:2a:0:b:1234:abcd:2 started",
        ])
    }

    @Test(arguments: [
        ("2001:db8::1", "web", "ams", nil as String?),          // outside fdaa::/16
        ("fdaa:0:0:0:1:0:1:0", "web", "ams", nil),           // network ID 0
        ("not-an-address", "web", "ams", nil),
        ("fdaa:0:1:0:1:0:1:0", "we_b", "ams", nil),          // app not a label
        ("fdaa:0:1:0:1:0:1:0", "-web", "ams", nil),
        ("fdaa:0:1:0:1:0:1:0", "web", "a.b", nil),           // region not a label
        ("fdaa:0:1:0:1:0:1:0", "web", "regions", nil),       // region reserved
        ("fdaa:0:1:0:1:0:1:0", "web", "ams", "has space"),   // ID not a label
        ("fdaa:0:1:0:1:0:1:0", String(repeating: "a", count: 64), "ams", nil),
        ("fdaa:0:1:0:1::1", "web", "ams", nil),              // duplicate address
        ("fdaa:0:1:0:2::9", "web", "ams", "first"),          // duplicate ID in the app
    ])
    func badInputLeavesTheDatabaseUnchanged(address: String, app: String, region: String, id: String?) throws {
        let t = try TemporaryDatabase()
        let w = try t.writer()
        try w.addInstance(app: "web", region: "ams", address: "fdaa:0:1:0:1::1", id: "first")
        try w.addPeer(name: "laptop", address: "fdaa:0:1:0:ff::1")
        let before = try w.list()
        #expect(throws: DatabaseError.self) {
            try w.addInstance(app: app, region: region, address: address, id: id)
        }
        #expect(try w.list() == before)
    }

    @Test func errorsAreOneLine() throws {
        let t = try TemporaryDatabase()
        do {
            try t.writer().addInstance(app: "web", region: "ams", address: "2001:db8::1")
            Issue.record("accepted an address outside fdaa::/16")
        } catch let error as DatabaseError {
            #expect(error.kind == .badInput)
            #expect(!error.message.contains("\n"))
            #expect(error.message.contains("2001:db8::1"))
        }
    }

    @Test func removingTheLastInstanceRemovesTheApp() throws {
        let t = try TemporaryDatabase()
        let w = try t.writer()
        try w.addInstance(app: "web", region: "ams", address: "fdaa:0:1:0:1:0:1:0")
        try w.removeInstance(address: "FDAA:0:1:0:1:0:1:0")
        #expect(try w.list() == ["org 00000001 00000001"])
        #expect(throws: DatabaseError(.notFound, "no instance has address fdaa:0:1:0:1:0:1:0")) {
            try w.removeInstance(address: "fdaa:0:1:0:1:0:1:0")
        }
    }

    @Test func peersAreAddedListedAndRemoved() throws {
        let t = try TemporaryDatabase()
        let w = try t.writer()
        let key = "xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg="
        try w.addPeer(name: "laptop", address: "fdaa:0:7:0:ff::1", publicKey: key)
        #expect(try w.list(network: 7) == ["org 00000007 00000007", "peer 00000007 laptop fdaa:0:7:0:ff::1 \(key)"])
        let before = try w.list()
        #expect(throws: DatabaseError.self) { try w.addPeer(name: "laptop", address: "fdaa:0:7:0:ff::2") }
        #expect(throws: DatabaseError.self) { try w.addPeer(name: "phone", address: "fdaa:0:7:0:ff::3", publicKey: "short") }
        #expect(throws: DatabaseError.self) { try w.addPeer(name: "phone_1", address: "fdaa:0:7:0:ff::3") }
        #expect(try w.list() == before)
        #expect(throws: DatabaseError.self) { try w.removePeer(name: "laptop", network: 8) }
        try w.removePeer(name: "laptop", network: 7)
        #expect(try w.list() == ["org 00000007 00000007"])
    }

    @Test func openingAMissingOrForeignDatabaseSaysSoInOneLine() throws {
        let error = #expect(throws: DatabaseError.self) { try DatabaseWriter(path: "/nonexistent/zone.sqlite") }
        #expect(error?.message.contains("/nonexistent/zone.sqlite") == true)
        #expect(error?.message.contains("\n") == false)
    }

    @Test func networkIDsParseAsHex() throws {
        #expect(try NetworkID.parse("2a") == 0x2a)
        #expect(try NetworkID.parse("0x0000002A") == 0x2a)
        #expect(throws: DatabaseError.self) { try NetworkID.parse("0") }
        #expect(throws: DatabaseError.self) { try NetworkID.parse("123456789") }
        #expect(throws: DatabaseError.self) { try NetworkID.parse("xyz") }
    }
}
