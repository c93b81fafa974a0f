import DNSWire
import Testing
@testable import ZoneEngine

@Suite struct OrganizationIsolationTests {
    /// Across random databases where organizations share app, region and peer
    /// names and hosts, no answer to organization A holds anything of B's,
    /// under `internal.` or in the reverse zone.
    @Test(arguments: 1...12 as ClosedRange<UInt64>)
    func noAnswerToOneOrganizationHoldsAnotherOrganizationsAddress(seed: UInt64) throws {
        var rng = SeededGenerator(state: seed)
        let t = try TemporaryDatabase()
        let w = try t.writer()
        let networks = (0..<Int.random(in: 2...4, using: &rng)).map { _ in UInt32.random(in: 1...0xffff, using: &rng) }
        let apps = ["web", "api", "db", "worker"]
        let regions = ["ams", "iad", "syd"]
        var names: Set<String> = ["_apps.internal", "_instances.internal", "_peer.internal", "internal", "x.internal"]
        var addresses: [UInt32: Set<String>] = [:]
        for network in Set(networks) {
            for k in 0..<Int.random(in: 1...12, using: &rng) {
                let app = apps.randomElement(using: &rng)!
                let region = regions.randomElement(using: &rng)!
                let host = UInt32.random(in: 1...4, using: &rng)   // hosts are shared between organizations
                let a = SixPNAddress(network: network, host: host, instance: UInt32(k + 1), low: 2).description
                let id = "n\(String(network, radix: 16))i\(k)"
                try w.addInstance(app: app, region: region, address: a, id: id, started: Bool.random(using: &rng) || k == 0)
                addresses[network, default: []].insert(a)
                names.formUnion(["\(app).internal", "global.\(app).internal", "\(region).\(app).internal",
                                 "regions.\(app).internal", "vms.\(app).internal", "\(id).vm.\(app).internal",
                                 "top\(Int.random(in: 1...20, using: &rng)).nearest.of.\(app).internal"])
            }
            if Bool.random(using: &rng) {
                let a = SixPNAddress(network: network, host: 0xff, instance: 0, low: 0x101).description
                try w.addPeer(name: "laptop", address: a)
                addresses[network, default: []].insert(a)
                names.insert("laptop._peer.internal")
            }
        }
        let s = try snapshot(of: t.path)
        for network in Set(networks) {
            let querier = SixPNAddress(network: network, host: UInt32.random(in: 1...4, using: &rng), instance: 99).description
            let others = addresses.filter { $0.key != network }.values.reduce(into: Set<String>()) { $0.formUnion($1) }
            let otherIDs = Set(networks).subtracting([network]).map { "n\(String($0, radix: 16))i" }
            for name in names {
                for type in [RRType.aaaa, .txt, .any] {
                    let r = try s.ask(name, type, from: querier)
                    for record in r.message.answers + r.message.authority {
                        switch record.rdata {
                        case .aaaa(let a):
                            #expect(SixPNAddress(a)?.network == network, "seed \(seed): \(name) to \(querier) holds \(a)")
                        case .txt(let strings):
                            let text = String(decoding: strings.joined(), as: UTF8.self)
                            for other in others { #expect(!text.contains(other), "seed \(seed): \(name) TXT holds \(other)") }
                            for id in otherIDs { #expect(!text.contains(id), "seed \(seed): \(name) TXT holds \(id)") }
                        default:
                            break
                        }
                    }
                }
            }
            // The reverse zone: another organization's address is NXDOMAIN; one's own names a name that
            // answers that address (forward-confirmed), or is NXDOMAIN (a stopped instance).
            for (owner, set) in addresses {
                for address in set {
                    let r = try s.ask(reverseName(address), .ptr, from: querier)
                    if owner != network {
                        #expect(r.isNXDomain, "seed \(seed): \(address) reversed for \(querier): \(r.rcode)")
                    } else if let target = r.ptr.first {
                        #expect(try s.ask(target, .aaaa, from: querier).aaaa.contains(address),
                                "seed \(seed): \(address) -> \(target)")
                    } else {
                        #expect(r.isNXDomain, "seed \(seed): \(address)")
                    }
                }
            }
        }
    }
}
