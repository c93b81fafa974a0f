import DNSWire
import Testing
@testable import ZoneEngine

/// Two organizations that both have an app called `web`, so that every
/// answer can be checked for the other organization's addresses.
private func fixture() throws -> TemporaryDatabase {
    let t = try TemporaryDatabase()
    let w = try t.writer()
    // Network 1. Hosts a1, a2 in ams; b1 in iad; c1 in syd.
    try w.addInstance(app: "web", region: "ams", address: "fdaa:0:1:0:a1:0:1:2", id: "w1")
    try w.addInstance(app: "web", region: "ams", address: "fdaa:0:1:0:a2:0:2:2", id: "w2")
    try w.addInstance(app: "web", region: "iad", address: "fdaa:0:1:0:b1:0:3:2", id: "w3")
    try w.addInstance(app: "web", region: "syd", address: "fdaa:0:1:0:c1:0:4:2", id: "w4")
    try w.addInstance(app: "web", region: "syd", address: "fdaa:0:1:0:c1:0:5:2", id: "w5", started: false)
    try w.addInstance(app: "api", region: "iad", address: "fdaa:0:1:0:b1:0:6:2", id: "a1")
    try w.addPeer(name: "laptop", address: "fdaa:0:1:0:ff:0:0:101")
    // Network 2.
    try w.addInstance(app: "web", region: "ams", address: "fdaa:0:2:0:a1:0:7:2", id: "x1")
    try w.addInstance(app: "db", region: "lhr", address: "fdaa:0:2:0:d1:0:8:2", id: "x2")
    return t
}

private let inOrg1 = "fdaa:0:1:0:a1:0:1:2"      // on host a1 (ams)
private let inOrg2 = "fdaa:0:2:0:a1:0:7:2"

@Suite struct SnapshotTests {
    let t: TemporaryDatabase
    let s: Snapshot

    init() throws {
        t = try fixture()
        s = try snapshot(of: t.path)
    }

    @Test func appNameAnswersEveryStartedInstance() throws {
        let r = try s.ask("web.internal", from: inOrg1)
        #expect(r.rcode == .noError)
        #expect(r.message.header.authoritative)
        #expect(Set(r.aaaa) == ["fdaa:0:1:0:a1:0:1:2", "fdaa:0:1:0:a2:0:2:2", "fdaa:0:1:0:b1:0:3:2", "fdaa:0:1:0:c1:0:4:2"])
        #expect(r.message.answers.allSatisfy { $0.ttl == 5 && $0.name == (try! DNSName("web.internal")) })
    }

    @Test func aaaaAnswersStartAtTheRotationAndWrapAround() throws {
        let stored = try s.ask("web.internal", from: inOrg1).aaaa
        #expect(stored.count == 4)
        for k in UInt32(0)..<9 {
            let r = try s.ask("web.internal", from: inOrg1, rotation: k)
            let first = Int(k % 4)
            #expect(r.aaaa == Array(stored[first...] + stored[..<first]), "rotation \(k): cyclic order")
            #expect(r.message.header.anCount == 4 && !r.message.header.truncated)
        }
        // The region names rotate too; one record and the nearest-first order do not move.
        let ams = try s.ask("ams.web.internal", from: inOrg1).aaaa
        #expect(try s.ask("ams.web.internal", from: inOrg1, rotation: 1).aaaa == [ams[1], ams[0]])
        #expect(try s.ask("w1.vm.web.internal", from: inOrg1, rotation: 5).aaaa == ["fdaa:0:1:0:a1:0:1:2"])
        #expect(try s.ask("top2.nearest.of.web.internal", from: inOrg1, rotation: 3).aaaa
                == s.ask("top2.nearest.of.web.internal", from: inOrg1).aaaa)
    }

    @Test func aRotatedRRsetThatDoesNotFitIsLeftOutWholeWithTC() throws {
        // Header 12 + question 18 + 4 records of 28 = 142 octets; 141 leaves no room for the last.
        let r = try s.ask("web.internal", from: inOrg1, limit: 141, rotation: 2)
        #expect(r.message.header.truncated && r.message.answers.isEmpty, "never a partial RRset")
        #expect(try s.ask("web.internal", from: inOrg1, limit: 142, rotation: 2).aaaa.count == 4)
    }

    @Test func globalIsTheAppsAlias() throws {
        #expect(try Set(s.ask("global.web.internal", from: inOrg1).aaaa) == Set(s.ask("web.internal", from: inOrg1).aaaa))
    }

    @Test func regionNameAnswersThatRegionsInstances() throws {
        #expect(try s.ask("ams.web.internal", from: inOrg1).aaaa == ["fdaa:0:1:0:a1:0:1:2", "fdaa:0:1:0:a2:0:2:2"])
        #expect(try s.ask("syd.web.internal", from: inOrg1).aaaa == ["fdaa:0:1:0:c1:0:4:2"])
        #expect(try s.ask("lhr.web.internal", from: inOrg1).isNXDomain)
    }

    @Test func regionsTXTIsSortedAndCommaSeparated() throws {
        #expect(try s.ask("regions.web.internal", .txt, from: inOrg1).txt == ["ams,iad,syd"])
    }

    @Test func vmNameAnswersOneInstance() throws {
        #expect(try s.ask("w3.vm.web.internal", from: inOrg1).aaaa == ["fdaa:0:1:0:b1:0:3:2"])
        #expect(try s.ask("w5.vm.web.internal", from: inOrg1).isNXDomain)   // stopped
        #expect(try s.ask("a1.vm.web.internal", from: inOrg1).isNXDomain)   // another app's
    }

    @Test func vmsTXTListsIDAndRegion() throws {
        #expect(try s.ask("vms.web.internal", .txt, from: inOrg1).txt == ["w1 ams,w2 ams,w3 iad,w4 syd"])
    }

    @Test func appsTXTListsTheOrganizationsAppsOnly() throws {
        #expect(try s.ask("_apps.internal", .txt, from: inOrg1).txt == ["api,web"])
        #expect(try s.ask("_apps.internal", .txt, from: inOrg2).txt == ["db,web"])
    }

    @Test func instancesTXTDescribesEachInstance() throws {
        #expect(try s.ask("_instances.internal", .txt, from: inOrg2).txt == [
            "instance=x2,app=db,ip=fdaa:0:2:0:d1:0:8:2,region=lhr;instance=x1,app=web,ip=fdaa:0:2:0:a1:0:7:2,region=ams",
        ])
    }

    @Test func peerNamesAndTheirList() throws {
        #expect(try s.ask("laptop._peer.internal", from: inOrg1).aaaa == ["fdaa:0:1:0:ff::101"])
        #expect(try s.ask("_peer.internal", .txt, from: inOrg1).txt == ["laptop"])
        #expect(try s.ask("laptop._peer.internal", from: inOrg2).isNXDomain)
        #expect(try s.ask("_peer.internal", .txt, from: inOrg2).isNoData)
    }

    @Test func apexHasSOAAndNS() throws {
        let soa = try s.ask("internal", .soa, from: inOrg1)
        #expect(soa.rcode == .noError)
        guard case .soa(let record)? = soa.message.answers.first?.rdata else { Issue.record("no SOA"); return }
        #expect(record.minimum == Snapshot.soaMinimum)
        #expect(record.mname == (try DNSName("internal")))
        let ns = try s.ask("internal", .ns, from: inOrg1)
        #expect(ns.message.answers.map(\.rdata) == [.ns(try DNSName("internal"))])
        #expect(try s.ask("internal", .aaaa, from: inOrg1).isNoData)
        #expect(try s.ask("internal", .any, from: inOrg1).message.answers.map(\.type) == [.soa, .ns])
    }

    @Test func missingNameIsNXDOMAINWithTheNegativeTTL() throws {
        let s = try snapshot(of: t.path, ttl: 300)
        let r = try s.ask("nothing.internal", from: inOrg1)
        #expect(r.isNXDomain)
        let soa = try #require(r.message.authority.first)
        #expect(soa.name == (try DNSName("internal")))
        guard case .soa(let record) = soa.rdata else { Issue.record("not an SOA"); return }
        // RFC 2308 §5: min(SOA TTL, MINIMUM); the SOA's own TTL is the answer TTL, 300.
        #expect(soa.ttl == min(300, record.minimum))
        #expect(soa.ttl == 60)
    }

    @Test(arguments: [
        ("web.internal", RRType.txt), ("web.internal", .a), ("web.internal", .mx),
        ("regions.web.internal", .aaaa), ("vms.web.internal", .a), ("_apps.internal", .aaaa),
        ("w1.vm.web.internal", .txt), ("laptop._peer.internal", .txt),
        ("vm.web.internal", .aaaa), ("of.web.internal", .aaaa), ("nearest.of.web.internal", .aaaa),
        ("top2.nearest.of.web.internal", .txt),
    ])
    func existingNameWithAnotherTypeIsNODATA(name: String, type: RRType) throws {
        let r = try s.ask(name, type, from: inOrg1)
        #expect(r.isNoData, "\(name) \(type): \(r.rcode)")
        #expect(r.message.authority.first?.ttl == 5)
    }

    @Test(arguments: ["db.internal", "x1.vm.web.internal", "lhr.web.internal", "foo.web.internal",
                      "a.b.web.internal", "top0.nearest.of.web.internal", "top01.nearest.of.web.internal",
                      "topx.nearest.of.web.internal", "top.nearest.of.web.internal", "top1.nearest.of.nothing.internal",
                      "x.w1.vm.web.internal", "x.internal", "x.regions.web.internal"])
    func nameBelowNothingOrOtherOrganizationsIsNXDOMAIN(name: String) throws {
        #expect(try s.ask(name, from: inOrg1).isNXDomain, "\(name)")
    }

    @Test func namesAreCaseInsensitiveAndTheClientsCaseIsKept() throws {
        let r = try s.ask("WeB.InTeRnAl", from: inOrg1)
        #expect(r.aaaa.count == 4)
        #expect(r.message.answers.first?.name.wire == (try DNSName("WeB.InTeRnAl")).wire)
        #expect(try s.ask("REGIONS.web.INTERNAL", .txt, from: inOrg1).txt == ["ams,iad,syd"])
    }

    @Test func nearestPutsSameHostThenSameRegionThenTheRest() throws {
        // From host a1 (ams): w1 (same host), w2 (ams), then iad, syd.
        #expect(try s.ask("top4.nearest.of.web.internal", from: inOrg1).aaaa ==
                ["fdaa:0:1:0:a1:0:1:2", "fdaa:0:1:0:a2:0:2:2", "fdaa:0:1:0:b1:0:3:2", "fdaa:0:1:0:c1:0:4:2"])
        // From host c1 (syd, only a stopped... no: w4 runs there): w4 first, then the rest in order.
        #expect(try s.ask("top2.nearest.of.web.internal", from: "fdaa:0:1:0:c1:0:99:1").aaaa ==
                ["fdaa:0:1:0:c1:0:4:2", "fdaa:0:1:0:a1:0:1:2"])
        // From host b1 (iad, where api runs too): w3.
        #expect(try s.ask("top1.nearest.of.web.internal", from: "fdaa:0:1:0:b1:0:6:2").aaaa == ["fdaa:0:1:0:b1:0:3:2"])
        // A host in ams with no web instance: the ams ones first.
        #expect(try s.ask("top2.nearest.of.api.internal", from: "fdaa:0:1:0:a2:0:2:2").aaaa == ["fdaa:0:1:0:b1:0:6:2"])
        // An unknown host: the app's order.
        #expect(try s.ask("top1.nearest.of.web.internal", from: "fdaa:0:1:0:eeee:0:1:1").aaaa == ["fdaa:0:1:0:a1:0:1:2"])
    }

    @Test func nearestBeyondTheAppsSizeAnswersAll() throws {
        #expect(try s.ask("top99.nearest.of.web.internal", from: inOrg1).aaaa.count == 4)
        #expect(try s.ask("top99999999999999999999.nearest.of.web.internal", from: inOrg1).aaaa.count == 4)
    }

    @Test func nearestOfAHostInAnotherRegionIsStable() throws {
        let a = try s.ask("top3.nearest.of.web.internal", from: "fdaa:0:1:0:b1:0:77:1").aaaa
        let b = try s.ask("top3.nearest.of.web.internal", from: "fdaa:0:1:0:b1:0:77:1").aaaa
        #expect(a == b)
        #expect(a == ["fdaa:0:1:0:b1:0:3:2", "fdaa:0:1:0:a1:0:1:2", "fdaa:0:1:0:a2:0:2:2"])
    }

    @Test func stoppedInstancesAreNotAnswered() throws {
        #expect(try !s.ask("web.internal", from: inOrg1).aaaa.contains("fdaa:0:1:0:c1:0:5:2"))
        #expect(try s.ask("vms.web.internal", .txt, from: inOrg1).txt.allSatisfy { !$0.contains("w5") })
    }

    @Test func anAnswerThatDoesNotFitSetsTC() throws {
        let r = try s.ask("web.internal", from: inOrg1, limit: 60)
        #expect(r.message.header.truncated)
        #expect(r.message.answers.isEmpty)
    }

    @Test func namesOutsideInternalAreRefused() throws {
        #expect(try s.ask("example.com", from: inOrg1).rcode == .refused)
        #expect(InternalZone.contains(lowercasedName: UnsafeRawBufferPointer(start: nil, count: 0)) == false)
        let ends = try DNSName("xinternal").wire
        #expect(ends.withUnsafeBytes { InternalZone.contains(lowercasedName: $0) } == false)
    }
}

@Suite struct TXTSplittingTests {
    @Test func longValuesAreSplitInto255OctetStringsNeverCut() throws {
        let t = try TemporaryDatabase()
        let w = try t.writer()
        var expected: [String] = []
        for i in 0..<40 {
            let app = "application-with-a-rather-long-name-\(i)"
            try w.addInstance(app: app, region: "ams", address: "fdaa:0:1:0:1:0:\(String(i + 1, radix: 16)):0")
            expected.append(app)
        }
        let s = try snapshot(of: t.path)
        let r = try s.ask("_apps.internal", .txt, from: "fdaa:0:1::1")
        guard case .txt(let strings)? = r.message.answers.first?.rdata else { Issue.record("no TXT"); return }
        let value = expected.sorted().joined(separator: ",")
        #expect(value.utf8.count > 1000)
        #expect(strings.count == (value.utf8.count + 254) / 255)
        #expect(strings.dropLast().allSatisfy { $0.count == 255 })
        #expect(r.txt == [value])
    }
}
