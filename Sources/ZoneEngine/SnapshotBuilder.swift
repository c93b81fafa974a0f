import DNSWire
import Glibc

/// Reads the database once, in one read transaction, and prepares every
/// answer of every organization (see the table in docs/architecture.md).
///
/// Rows stream in (organization, app, region, instance ID) order, so each app
/// and each organization is finished as soon as the next one starts; the
/// records go straight into one byte arena. A struct, not a class, so that
/// its fields are not checked for exclusive access at run time on every row.
struct SnapshotBuilder: ~Copyable {
    /// SOA MINIMUM of `internal.`: negative answers live min(this, TTL) seconds.
    static let soaMinimum: UInt32 = 60

    private let ttl: UInt32
    // Reserved (virtual) up to what 32-bit offsets can address; only what is written is backed.
    private var arena: GrowableBuffer<UInt8>
    /// Arena offsets of the name blocks, for the table to index.
    private var blocks: GrowableBuffer<UInt32>
    private var places: GrowableBuffer<InstancePlace>
    /// The reverse zone's addresses and the names their PTR records name; sorted when done.
    private var reverse: GrowableBuffer<ReverseEntry>
    /// Where the organization being read starts in `reverse`.
    private var orgReverseStart = 0
    private var hostRegions: [UInt32: UInt32] = [:]
    private var regionIndex: [[UInt8]: UInt32] = [:]
    private var organizationCount = 0
    private var instanceCount = 0
    private var skippedRows = 0

    // The app being read.
    private var appNetwork: UInt32 = 0
    private var appName: [UInt8] = []
    private var appInstances: [PendingInstance] = []
    /// IDs of the app's instances, back to back (PendingInstance points in).
    private var appIDs: [UInt8] = []
    private var appAddresses: [UInt8] = []
    private var appValid = false

    // The organization being read.
    private var orgNetwork: UInt32 = 0
    private var orgApps: [UInt8] = []
    private var orgInstances: [UInt8] = []

    // Scratch, reused.
    private var name: [UInt8] = []
    private var text: [UInt8] = []
    private var lastRegion: [UInt8] = []
    private var lastRegionIndex: UInt32 = 0

    private struct PendingInstance {
        var idStart: Int
        var idLength: Int
        /// The address as the database wrote it (RFC 5952), in `appAddresses`.
        var addressStart: Int
        var addressLength: Int
        var region: UInt32
        var host: UInt32
        var address: IPv6Address
    }

    private var regionNames: [[UInt8]] = []

    private init(ttl: UInt32, arena: GrowableBuffer<UInt8>, blocks: GrowableBuffer<UInt32>,
                 places: GrowableBuffer<InstancePlace>, reverse: GrowableBuffer<ReverseEntry>) {
        self.ttl = ttl
        self.arena = arena
        self.blocks = blocks
        self.places = places
        self.reverse = reverse
        // No block starts at offset 0: a table slot of 0 means "empty".
        self.arena.append32(0)
        self.arena.append32(0)
    }

    deinit {
        arena.free()
        blocks.free()
        places.free()
        reverse.free()
    }

    /// Builds a snapshot of everything `db` holds.
    static func build(from db: SQLiteConnection, ttl: UInt32) throws(SQLiteError) -> Snapshot {
        let arena = try GrowableBuffer<UInt8>(limit: 1 << 32)
        let blocks: GrowableBuffer<UInt32>, places: GrowableBuffer<InstancePlace>
        do { blocks = try GrowableBuffer(limit: 1 << 28) } catch { arena.free(); throw error }
        let reverse: GrowableBuffer<ReverseEntry>
        do { places = try GrowableBuffer(limit: 1 << 28) } catch { arena.free(); blocks.free(); throw error }
        do { reverse = try GrowableBuffer(limit: 1 << 28) } catch { arena.free(); blocks.free(); places.free(); throw error }
        var b = SnapshotBuilder(ttl: ttl, arena: arena, blocks: blocks, places: places, reverse: reverse)
        do {
            try db.readTransaction { () throws(SQLiteError) in
                try Schema.check(db)
                try b.read(db)
            }
        } catch let e as SQLiteError {
            throw e
        } catch {
            throw SQLiteError(code: 1, message: "\(error)", context: "read \(db.path)")
        }
        return try b.finish()
    }

    private mutating func read(_ db: SQLiteConnection) throws(SQLiteError) {
        var orgs: [UInt32] = []
        let o = try db.prepare(Schema.orgsInOrder)
        while try o.step() { orgs.append(UInt32(truncatingIfNeeded: o.int64(0))) }

        var peers: [UInt32: [(name: [UInt8], address: IPv6Address)]] = [:]
        let p = try db.prepare(Schema.peersInOrder)
        while try p.step() {
            let network = UInt32(truncatingIfNeeded: p.int64(0))
            let peerName = p.withTextBytes(1) { Label.isValid($0) ? Array($0) : nil }
            guard let peerName, let a = SixPNAddress(p.text(2)), a.network == network else { skippedRows += 1; continue }
            peers[network, default: []].append((peerName, a.address))
        }

        var seen = Set<UInt32>()
        let rows = try db.prepare(Schema.instancesInOrder)
        while try rows.step() {
            let network = UInt32(truncatingIfNeeded: rows.int64(0))
            let sameApp = network == appNetwork && rows.withTextBytes(1) { $0.elementsEqual(appName) }
            if !sameApp {
                finishApp()
                if network != orgNetwork || orgNetwork == 0 {
                    if orgNetwork != 0 { finishOrg(peers: peers[orgNetwork] ?? []) }
                    orgNetwork = network
                    seen.insert(network)
                }
                startApp(network: network, name: rows)
            }
            guard !rows.isNull(2) else { continue }  // an app without instances
            readInstance(rows)
        }
        finishApp()
        if orgNetwork != 0 { finishOrg(peers: peers[orgNetwork] ?? []) }

        // Organizations without apps still have their fixed names (and peers).
        for network in orgs + peers.keys.sorted() where !seen.contains(network) && network != 0 {
            seen.insert(network)
            orgNetwork = network
            finishOrg(peers: peers[network] ?? [])
        }
    }

    private mutating func startApp(network: UInt32, name rows: SQLiteStatement) {
        appNetwork = network
        appName = rows.withTextBytes(1) { Array($0) }
        appValid = appName.withUnsafeBytes { Label.isValid($0) }
        appInstances.removeAll(keepingCapacity: true)
        appIDs.removeAll(keepingCapacity: true)
        appAddresses.removeAll(keepingCapacity: true)
        if !appValid { skippedRows += 1 }
    }

    private mutating func readInstance(_ rows: SQLiteStatement) {
        guard appValid else { return }
        let host = rows.int64(4)
        let sixPN = rows.withTextBytes(5) { SixPNAddress(utf8: $0) }
        let idOK = rows.withTextBytes(2) { Label.isValid($0) }
        guard idOK, let a = sixPN, a.network == appNetwork,
              Int64(a.host) == host, let region = region(rows) else {
            skippedRows += 1
            return
        }
        if hostRegions[a.host] == nil { hostRegions[a.host] = region }
        guard rows.int64(6) != 0 else { return }  // stopped: not answered
        let start = appIDs.count
        rows.withTextBytes(2) { appIDs.append(contentsOf: $0) }
        let addressStart = appAddresses.count
        rows.withTextBytes(5) { appAddresses.append(contentsOf: $0) }
        appInstances.append(PendingInstance(idStart: start, idLength: appIDs.count - start,
                                            addressStart: addressStart, addressLength: appAddresses.count - addressStart,
                                            region: region, host: a.host, address: a.address))
    }

    /// The row's region as an index, or nil when it is not a usable label.
    private mutating func region(_ rows: SQLiteStatement) -> UInt32? {
        rows.withTextBytes(3) { (r: UnsafeRawBufferPointer) -> UInt32? in
            if r.elementsEqual(lastRegion) { return lastRegionIndex }
            guard Label.isValid(r) else { return nil }
            let bytes = Array(r)
            guard !Label.reservedRegions.contains(String(decoding: bytes, as: UTF8.self)) else { return nil }
            let index: UInt32
            if let i = regionIndex[bytes] {
                index = i
            } else {
                index = UInt32(regionNames.count)
                regionIndex[bytes] = index
                regionNames.append(bytes)
            }
            lastRegion = bytes
            lastRegionIndex = index
            return index
        }
    }

    // MARK: - Emitting an app

    private mutating func finishApp() {
        defer { appNetwork = 0; appName.removeAll(keepingCapacity: true) }
        guard appNetwork != 0, appValid else { return }
        let network = appNetwork
        let firstPlace = UInt32(places.count)
        let start = UInt32(arena.count)
        for i in appInstances {
            writeAAAA(i.address)
            places.append(InstancePlace(host: i.host, region: i.region))
        }
        instanceCount += appInstances.count
        let all = (start, UInt32(appInstances.count))

        appendName(app: true)
        addAAAA(network: network, records: all)
        appendName(Self.global[...], app: true)
        addAAAA(network: network, records: all)
        appendName(Self.vm[...], app: true)
        add(network: network, kind: .empty)
        appendName(Self.of[...], app: true)
        add(network: network, kind: .empty)
        appendName(Self.nearest[...], Self.of[...], app: true)
        add(network: network, kind: .nearest, records: all, firstInstance: firstPlace)

        // <region>.<app>: runs of the (region, ID)-ordered records.
        var i = 0
        while i < appInstances.count {
            var j = i
            while j < appInstances.count, appInstances[j].region == appInstances[i].region { j += 1 }
            appendName(regionNames[Int(appInstances[i].region)][...], app: true)
            addAAAA(network: network, records: (start + UInt32(i * Snapshot.aaaaRecordSize), UInt32(j - i)))
            i = j
        }
        // <id>.vm.<app>
        for (k, inst) in appInstances.enumerated() {
            appendName(appIDs[inst.idStart..<(inst.idStart + inst.idLength)], Self.vm[...], app: true)
            let b = addAAAA(network: network, copying: Int(start) + k * Snapshot.aaaaRecordSize)
            addPTR(inst.address, naming: b)
        }
        // regions.<app>: sorted (the rows are), comma-separated.
        text.removeAll(keepingCapacity: true)
        var previous = UInt32.max
        for inst in appInstances where inst.region != previous {
            if !text.isEmpty { text.append(0x2c) }
            text.append(contentsOf: regionNames[Int(inst.region)])
            previous = inst.region
        }
        appendName(Self.regions[...], app: true)
        addTXT(network: network, text)
        // vms.<app>: "<id> <region>" per instance.
        text.removeAll(keepingCapacity: true)
        for inst in appInstances {
            if !text.isEmpty { text.append(0x2c) }
            text.append(contentsOf: appIDs[inst.idStart..<(inst.idStart + inst.idLength)])
            text.append(0x20)
            text.append(contentsOf: regionNames[Int(inst.region)])
        }
        appendName(Self.vms[...], app: true)
        addTXT(network: network, text)

        // The organization's lists.
        if !orgApps.isEmpty { orgApps.append(0x2c) }
        orgApps.append(contentsOf: appName)
        for inst in appInstances {
            if !orgInstances.isEmpty { orgInstances.append(0x3b) }
            orgInstances.append(contentsOf: Self.instanceKey)
            orgInstances.append(contentsOf: appIDs[inst.idStart..<(inst.idStart + inst.idLength)])
            orgInstances.append(contentsOf: Self.appKey)
            orgInstances.append(contentsOf: appName)
            orgInstances.append(contentsOf: Self.ipKey)
            orgInstances.append(contentsOf: appAddresses[inst.addressStart..<(inst.addressStart + inst.addressLength)])
            orgInstances.append(contentsOf: Self.regionKey)
            orgInstances.append(contentsOf: regionNames[Int(inst.region)])
        }
    }

    // MARK: - Emitting an organization

    private mutating func finishOrg(peers: [(name: [UInt8], address: IPv6Address)]) {
        let network = orgNetwork
        organizationCount += 1
        appendName(Self.apps[...], app: false)
        addTXT(network: network, orgApps)
        appendName(Self.instances[...], app: false)
        addTXT(network: network, orgInstances)
        text.removeAll(keepingCapacity: true)
        for peer in peers {
            appendName(peer.name[...], Self.peer[...], app: false)
            let b = add(network: network, kind: .aaaa)
            let start = arena.count
            writeAAAA(peer.address)
            setRecords(ofBlock: b, start: start, count: 1)
            addPTR(peer.address, naming: b)
            if !text.isEmpty { text.append(0x2c) }
            text.append(contentsOf: peer.name)
        }
        appendName(Self.peer[...], app: false)
        addTXT(network: network, text)
        orgApps.removeAll(keepingCapacity: true)
        orgInstances.removeAll(keepingCapacity: true)
        orgNetwork = 0
        // Organizations come in network order, which is address order: sorting each one's addresses
        // (about n log 100, not n log n, at a million) mostly sorts them all (see finish()).
        sortReverse(from: orgReverseStart)
        orgReverseStart = reverse.count
    }

    // MARK: - Records and names

    private mutating func writeAAAA(_ address: IPv6Address) {
        arena.append16(0xc00c)
        arena.append16(RRType.aaaa.rawValue)
        arena.append16(RRClass.internet.rawValue)
        arena.append32(ttl)
        arena.append16(16)
        address.withBytes { arena.append(contentsOf: $0) }
    }

    /// The reverse zone's entry for `address`: its PTR record names the name of the block at `block`.
    private mutating func addPTR(_ address: IPv6Address, naming block: Int) {
        reverse.append(ReverseEntry(address: address, nameBlock: UInt32(block)))
    }

    /// Sorts `reverse` from `start` to its end by address.
    private mutating func sortReverse(from start: Int) {
        var part = UnsafeMutableBufferPointer(start: reverse.base + start, count: reverse.count - start)
        part.sort { $0.address < $1.address }
    }

    /// `first`, `second`, then the app's label when `app`, then `internal.`, into `name`.
    private mutating func appendName(_ first: ArraySlice<UInt8>? = nil, _ second: ArraySlice<UInt8>? = nil, app: Bool) {
        name.removeAll(keepingCapacity: true)
        if let first {
            name.append(UInt8(first.count))
            name.append(contentsOf: first)
        }
        if let second {
            name.append(UInt8(second.count))
            name.append(contentsOf: second)
        }
        if app {
            name.append(UInt8(appName.count))
            name.append(contentsOf: appName)
        }
        name.append(contentsOf: InternalZone.apex)
    }

    private mutating func addAAAA(network: UInt32, records: (start: UInt32, count: UInt32)) {
        add(network: network, kind: .aaaa, records: records)
    }

    /// One AAAA record, copied from `offset` to sit right after its name. Returns the name's block.
    private mutating func addAAAA(network: UInt32, copying offset: Int) -> Int {
        let b = add(network: network, kind: .aaaa)
        let start = arena.count
        arena.append(contentsOf: UnsafeRawBufferPointer(start: arena.base + offset, count: Snapshot.aaaaRecordSize))
        setRecords(ofBlock: b, start: start, count: 1)
        return b
    }

    /// TXT records for `value` (none when it is empty): 255-octet character-strings,
    /// at most 255 of them per record so RDATA stays under 65535 octets.
    private mutating func addTXT(network: UInt32, _ value: [UInt8]) {
        let b = add(network: network, kind: .txt)
        let start = arena.count
        var count: UInt32 = 0
        var i = 0
        while i < value.count {
            arena.append16(0xc00c)
            arena.append16(RRType.txt.rawValue)
            arena.append16(RRClass.internet.rawValue)
            arena.append32(ttl)
            let lengthAt = arena.count
            arena.append16(0)
            var rdLength = 0
            var strings = 0
            while i < value.count, strings < 255 {
                let n = min(255, value.count - i)
                arena.append(UInt8(n))
                value.withUnsafeBytes { arena.append(contentsOf: UnsafeRawBufferPointer(rebasing: $0[i..<(i + n)])) }
                rdLength += 1 + n
                strings += 1
                i += n
            }
            arena.set16(UInt16(rdLength), at: lengthAt)
            count += 1
        }
        setRecords(ofBlock: b, start: start, count: count)
    }

    /// Writes a name block for the name in `name`: the entry, then the name.
    /// Records that only this name answers follow it (see ``setRecords``).
    @discardableResult
    private mutating func add(network: UInt32, kind: NameEntry.Kind, records: (start: UInt32, count: UInt32) = (0, 0),
                              firstInstance: UInt32 = 0) -> Int {
        let b = arena.count
        blocks.append(UInt32(b))
        let entry = NameEntry(
            network: network, recordsOffset: records.start,
            recordsLength: records.count * UInt32(Snapshot.aaaaRecordSize),
            recordCount: records.count, firstInstance: firstInstance,
            nameLength: UInt8(name.count), kind: kind)
        withUnsafeBytes(of: entry) { arena.append(contentsOf: $0) }
        for _ in MemoryLayout<NameEntry>.size..<NameEntry.size { arena.append(0) }
        name.withUnsafeBytes { arena.append(contentsOf: $0) }
        return b
    }

    /// Points the block at `b` to the records written from `start` to the arena's end.
    private mutating func setRecords(ofBlock b: Int, start: Int, count: UInt32) {
        let p = UnsafeMutableRawPointer(arena.base + b)
        var entry = p.loadUnaligned(as: NameEntry.self)
        entry.recordsOffset = UInt32(start)
        entry.recordsLength = UInt32(arena.count - start)
        entry.recordCount = count
        p.storeBytes(of: entry, as: NameEntry.self)
    }

    // MARK: - Finishing

    private consuming func finish() throws(SQLiteError) -> Snapshot {
        let serial = UInt32(truncatingIfNeeded: time(nil))
        let negativeTTL = min(ttl, Self.soaMinimum)
        let apex = DNSName(uncheckedWire: InternalZone.apex)
        let soa = RData.soa(SOA(mname: apex, rname: try! apex.prepending("hostmaster"), serial: serial,
                                refresh: 3600, retry: 600, expire: 86400, minimum: Self.soaMinimum))
        // These encodings cannot fail: fixed, valid names and a pointer to offset 12.
        let soaAnswer = try! RecordEncoder.encode(owner: .questionName, type: .soa, ttl: ttl, rdata: soa)
        let nsAnswer = try! RecordEncoder.encode(owner: .questionName, type: .ns, ttl: ttl, rdata: .ns(apex))
        let negativeSOA = try! RecordEncoder.encode(owner: .name(apex), type: .soa, ttl: negativeTTL, rdata: soa)
        let reverseApex = DNSName(uncheckedWire: ReverseZone.apex)
        let reverseNegativeSOA = try! RecordEncoder.encode(owner: .name(reverseApex), type: .soa, ttl: negativeTTL, rdata: soa)
        // Sorted for the binary search. Each organization's part is; the whole is unless an organization
        // without apps came after the rest. (An address twice, an instance's and a peer's, answers once.)
        if (1..<max(1, reverse.count)).contains(where: { reverse[$0].address < reverse[$0 - 1].address }) {
            sortReverse(from: 0)
        }
        let blockCount = blocks.count
        let parts = SnapshotParts(
            arena: arena.take(), blocks: blocks.take(), blockCount: blockCount, places: places.take(),
            hostRegions: hostRegions.map { ($0.key, $0.value) }, soaAnswer: soaAnswer, nsAnswer: nsAnswer,
            negativeSOA: negativeSOA, reverse: reverse.take(), reverseCount: reverse.count,
            reverseNegativeSOA: reverseNegativeSOA,
            organizationCount: organizationCount, instanceCount: instanceCount,
            skippedRows: skippedRows, ttl: ttl, negativeTTL: negativeTTL, serial: serial)
        return try Snapshot(parts: parts)
    }

    private static let global = Array("global".utf8)
    private static let vm = Array("vm".utf8)
    private static let vms = Array("vms".utf8)
    private static let of = Array("of".utf8)
    private static let nearest = Array("nearest".utf8)
    private static let regions = Array("regions".utf8)
    private static let apps = Array("_apps".utf8)
    private static let instances = Array("_instances".utf8)
    private static let peer = Array("_peer".utf8)
    private static let instanceKey = Array("instance=".utf8)
    private static let appKey = Array(",app=".utf8)
    private static let ipKey = Array(",ip=".utf8)
    private static let regionKey = Array(",region=".utf8)
}
