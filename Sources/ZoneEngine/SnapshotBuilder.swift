import DNSWire
import Glibc

/// Prepares every answer of one organization at a time (see the table in
/// docs/architecture.md) into an ``OrgZone``; a whole snapshot is every
/// organization's zone, read in one read transaction.
///
/// The organization's rows stream in (app, region, instance ID) order, so
/// each app is finished as soon as the next one starts; the records go
/// straight into a scratch arena, copied into the organization's
/// ``OrgStorage`` when it is done. An update writes only the touched apps'
/// parts, with the offsets they will have after the storage's end, and
/// appends them there when they fit (see ``finishZone(reusing:peers:peersSkipped:)``).
/// The scratch is kept between organizations (and, in ``ZoneStore``,
/// between updates). A struct, not a class, so that its fields are not
/// checked for exclusive access at run time on every row.
struct SnapshotBuilder: ~Copyable {
    private let ttl: UInt32
    /// ``roomFrom`` for this builder.
    private let room: Int
    // Reserved (virtual) up to what 32-bit offsets can address; only what is written is backed.
    private var arena: GrowableBuffer<UInt8>
    /// The part being written's name blocks, as name-table slots (the name's
    /// hash's high 32 bits, the block's offset): its block list.
    private var blocks: GrowableBuffer<UInt64>
    /// The reverse zone's addresses of the parts written, and the names their PTR records name.
    private var reverse: GrowableBuffer<ReverseEntry>
    /// The zone's reverse entries, sorted: the kept ones merged with `reverse`.
    private var reverseOut: GrowableBuffer<ReverseEntry>
    /// One bit per 8 octets of an organization's storage, set over the
    /// replaced parts while an update filters the reverse entries (parts are
    /// 8-aligned and a multiple of 8 long); zero otherwise.
    private let deadBits: LargeMemory
    /// The app's (host, region) facts, one per run of a host in its rows: the host table's source.
    private var hostFirsts: GrowableBuffer<InstancePlace>
    /// Region names and their indexes. Kept from one organization to the
    /// next (and between updates) so that an app's part copied from an older
    /// zone means the same regions by the same indexes; emptied by ``buildAll``.
    /// Open addressing by the name's hash: index + 1 of a region, 0 for a free slot (a power of two long).
    private var regionSlots: [UInt32] = Array(repeating: 0, count: 64)
    /// The region names, back to back; `regionSpans[i]` is where region i lies.
    private var regionText: GrowableBuffer<UInt8>
    private var regionSpans: GrowableBuffer<Span>
    private var instanceCount = 0
    private var skippedRows = 0
    /// The organization's app parts so far, and where the part being written began.
    private var pieces: [AppPiece] = []
    private var orgPart: AppPiece? = nil
    private var pieceStart = (arena: 0, instanceCount: 0, skippedRows: 0)
    /// Metadata rows left out, by app ID: counted in their app's part.
    private var metadataSkipped: [Int64: Int] = [:]
    /// The blocks of the organization's lists.
    private var listBlocks = (apps: 0, instances: 0, allInstances: 0)

    // Taking apps from the zone before an update (``build(network:_:reusing:changedApps:ownRows:)``).
    private var appIDs: [Int64] = []
    private var pieceIndex: [Int64: Int] = [:]
    /// For each of the old zone's parts: whether the new zone keeps it.
    private var kept: [Bool] = []
    /// The old zone's `_apps`, `_instances` and `all._instances` text, read back
    /// from its records when first needed (nil: not stored, too large for a message).
    private var oldApps: GrowableBuffer<UInt8>
    private var oldInstances: GrowableBuffer<UInt8>
    private var oldAllInstances: GrowableBuffer<UInt8>
    private var oldListsRead = false
    private var oldListsStored = (apps: false, instances: false, allInstances: false)
    /// Apps read from the database, and apps copied from an older zone, since the builder was made.
    private(set) var appsRead = 0
    private(set) var appsCopied = 0

    // The app being read. Every byte the builder copies from the database
    // lies in a ``GrowableBuffer`` (memory that never moves), and labels are
    // passed around as raw views of it: no array is retained, released or
    // checked for uniqueness per row.
    private var appName: Span = Span(start: 0, count: 0)
    private var appInstances: GrowableBuffer<PendingInstance>
    /// The app's name, then the IDs, addresses and process groups of its instances, back to back
    /// (``appName`` and PendingInstance point in).
    private var appText: GrowableBuffer<UInt8>
    private var appValid = false
    private var appStarted = false
    /// The app's ID (`apps.id`).
    private var appID: Int64 = 0

    // The organization being read.
    private var orgNetwork: UInt32 = 0
    private var orgApps: ListText
    private var orgInstances: ListText
    private var orgAllInstances: ListText
    /// Metadata of the organization's instances: address -> (key, value) pairs.
    private var metadata: [IPv6Address: [(key: [UInt8], value: [UInt8])]] = [:]

    // Scratch, reused.
    /// The name being written, in wire format (at most 255 octets: room to spare).
    private let name: UnsafeMutablePointer<UInt8>
    private var nameLength = 0
    private var text: GrowableBuffer<UInt8>
    private var lastRegionIndex: UInt32 = .max
    /// False when this update found the metadata table empty (``Statements/anyMetadata``).
    private var metadataExists = true

    /// One of the organization's lists as it is put together: its text, while
    /// every segment's text is at hand, and its length either way (a list too
    /// large for any message is not stored, so an update that keeps the
    /// parts of such a list knows only their lengths).
    struct ListText {
        var text: GrowableBuffer<UInt8>
        var length = 0
        var complete = true

        mutating func removeAll() {
            text.removeAll()
            length = 0
            complete = true
        }

        @inline(__always)
        mutating func append(_ byte: UInt8) {
            length += 1
            text.append(byte)
        }

        @inline(__always)
        mutating func append(contentsOf bytes: UnsafeRawBufferPointer) {
            length += bytes.count
            text.append(contentsOf: bytes)
        }

        /// Appends a segment of `count` octets, after `separator` when the
        /// list is not empty: its octets when given, else only its length (the
        /// text is then no longer complete). Returns where it lies.
        mutating func append(segment: UnsafeRawBufferPointer?, count: Int, separator: UInt8) -> Range<Int> {
            guard count > 0 else { return length..<length }
            if length > 0 { append(separator) }
            let start = length
            if let segment, complete {
                append(contentsOf: segment)
            } else {
                complete = false
                length += count
            }
            return start..<length
        }

        /// The range of what the list gained from `before` on, without the separator before it.
        func segment(since before: Int) -> Range<Int> {
            length == before ? before..<before : (before == 0 ? 0 : before + 1)..<length
        }
    }

    /// Where some bytes lie in one of the builder's buffers.
    struct Span: BitwiseCopyable {
        var start: Int
        var count: Int
        var range: Range<Int> { start..<(start + count) }
    }

    private struct PendingInstance: BitwiseCopyable {
        var id: Span
        /// The address as the database wrote it (RFC 5952).
        var addressText: Span
        var group: Span
        var region: UInt32
        var host: UInt32
        var address: IPv6Address
        var started: Bool
        /// Started and on a live host: in the names that list instances.
        var listed: Bool
    }

    /// The statements that read one organization, prepared once per build.
    struct Statements {
        let instances: SQLiteStatement
        let metadata: SQLiteStatement
        let peers: SQLiteStatement
        let exists: SQLiteStatement
        /// The change log's reads (schema version 2 and later; nil before).
        let changes: (range: SQLiteStatement, reset: SQLiteStatement, apps: SQLiteStatement)?
        /// The reads of one app (schema version 3 and later, whose log names apps; nil before).
        let perApp: (apps: SQLiteStatement, instances: SQLiteStatement, metadata: SQLiteStatement)?
        /// Whether the metadata table has a row (schema version 3 and later, with ``perApp``).
        let anyMetadata: SQLiteStatement?

        init(_ db: SQLiteConnection, version: Int64) throws(SQLiteError) {
            instances = try db.prepare(Schema.instances(version: version))
            metadata = try db.prepare(Schema.metadata(version: version))
            peers = try db.prepare(Schema.peers)
            exists = try db.prepare(Schema.networkExists)
            changes = version >= 2
                ? (try db.prepare(Schema.changeRange), try db.prepare(Schema.changeReset),
                   try db.prepare(Schema.changedApps(version: version)))
                : nil
            perApp = version >= 3
                ? (try db.prepare(Schema.apps), try db.prepare(Schema.appInstances), try db.prepare(Schema.appMetadata))
                : nil
            anyMetadata = version >= 3 ? try db.prepare(Schema.anyMetadata) : nil
        }

        /// Ends every statement's run (see ``SQLiteStatement/reset()``).
        func reset() {
            for s in [instances, metadata, peers, exists] { s.reset() }
            if let changes { for s in [changes.range, changes.reset, changes.apps] { s.reset() } }
            if let perApp { for s in [perApp.apps, perApp.instances, perApp.metadata] { s.reset() } }
            anyMetadata?.reset()
        }
    }

    /// Reserves the scratch (address space only: what is written is backed).
    /// `roomFrom`: the live size from which an organization's new storage gets room to grow (``roomFrom``).
    init(ttl: UInt32, roomFrom: Int = Self.roomFrom) throws(SnapshotError) {
        var made: [() -> Void] = []
        func reserve<E: BitwiseCopyable>(_ limit: Int) throws(SnapshotError) -> GrowableBuffer<E> {
            do {
                let b = try GrowableBuffer<E>(limit: limit)
                made.append { b.free() }
                return b
            } catch {
                for free in made { free() }
                throw error
            }
        }
        let arena: GrowableBuffer<UInt8> = try reserve(1 << 32), blocks: GrowableBuffer<UInt64> = try reserve(1 << 28)
        let reverseOut: GrowableBuffer<ReverseEntry> = try reserve(1 << 28)
        guard let deadBits = LargeMemory.reserve(1 << 26) else {
            for free in made { free() }
            throw SnapshotError(description: "build snapshot: cannot reserve address space for the dead-part bitmap")
        }
        let hostFirsts: GrowableBuffer<InstancePlace> = try reserve(1 << 28)
        let oldApps: GrowableBuffer<UInt8> = try reserve(1 << 30), oldInstances: GrowableBuffer<UInt8> = try reserve(1 << 30)
        let oldAllInstances: GrowableBuffer<UInt8> = try reserve(1 << 30)
        let reverse: GrowableBuffer<ReverseEntry> = try reserve(1 << 28)
        let regionText: GrowableBuffer<UInt8> = try reserve(1 << 24), regionSpans: GrowableBuffer<Span> = try reserve(1 << 20)
        let appInstances: GrowableBuffer<PendingInstance> = try reserve(1 << 24)
        let appText: GrowableBuffer<UInt8> = try reserve(1 << 30), orgApps: GrowableBuffer<UInt8> = try reserve(1 << 30)
        let orgInstances: GrowableBuffer<UInt8> = try reserve(1 << 30)
        let orgAllInstances: GrowableBuffer<UInt8> = try reserve(1 << 30), text: GrowableBuffer<UInt8> = try reserve(1 << 30)
        self.ttl = ttl
        self.room = roomFrom
        self.arena = arena
        self.blocks = blocks
        self.reverseOut = reverseOut
        self.deadBits = deadBits
        self.hostFirsts = hostFirsts
        self.oldApps = oldApps
        self.oldInstances = oldInstances
        self.oldAllInstances = oldAllInstances
        self.reverse = reverse
        self.regionText = regionText
        self.regionSpans = regionSpans
        self.appInstances = appInstances
        self.appText = appText
        self.orgApps = ListText(text: orgApps)
        self.orgInstances = ListText(text: orgInstances)
        self.orgAllInstances = ListText(text: orgAllInstances)
        self.text = text
        name = .allocate(capacity: 512)
    }

    deinit {
        for b in [arena, orgApps.text, orgInstances.text, orgAllInstances.text, text, appText, regionText, oldApps,
                  oldInstances, oldAllInstances] { b.free() }
        blocks.free()
        hostFirsts.free()
        reverse.free()
        reverseOut.free()
        deadBits.release()
        regionSpans.free()
        appInstances.free()
        name.deallocate()
    }

    /// Builds a snapshot of everything `db` holds.
    static func build(from db: SQLiteConnection, ttl: UInt32, serial: UInt32? = nil) throws -> Snapshot {
        var b = try SnapshotBuilder(ttl: ttl)
        let zones = try b.buildAll(db).zones.values
        return serial.map { Snapshot(zones: zones, ttl: ttl, serial: $0) } ?? Snapshot(zones: zones, ttl: ttl)
    }

    /// Every organization of `db`, in one read transaction, and the last
    /// change the log held then (0 when it has none, or no log).
    mutating func buildAll(_ db: SQLiteConnection) throws(SQLiteError) -> (zones: [UInt32: OrgZone], lastChange: Int64, version: Int64) {
        try readTransaction(db) { (b: inout SnapshotBuilder) throws(SQLiteError) in
            let version = try Schema.check(db)
            let statements = try Statements(db, version: version)
            b.forgetRegions()
            var networks: [UInt32] = []
            let n = try db.prepare(Schema.networks)
            while try n.step() {
                let v = n.int64(0)
                if (1...Int64(UInt32.max)).contains(v) { networks.append(UInt32(v)) }
            }
            var zones: [UInt32: OrgZone] = [:]
            zones.reserveCapacity(networks.count)
            for network in networks {
                zones[network] = try b.build(network: network, statements)
            }
            return (zones, version >= 2 ? try Self.changeRange(db).max ?? 0 : 0, version)
        }
    }

    /// What a commit changed, as ``update(_:after:version:)`` finds it.
    enum Update {
        /// No organization changed (the commit wrote elsewhere, or nothing).
        case unchanged
        /// The touched organizations' new zones (nil: gone), and the last change they include.
        case changed([UInt32: OrgZone?], lastChange: Int64)
        /// The log cannot say (a gap, a schema change): build everything.
        case everything
    }

    /// Builds the organizations that the change log names after `last`
    /// (run inside a read transaction): of each, the apps the log names are
    /// read again and the others copied from its zone in `current`, the
    /// snapshot this builder made last. `version` is the schema version
    /// that snapshot was built from; `statements` were prepared for it.
    mutating func update(_ db: SQLiteConnection, after last: Int64, version: Int64, statements: Statements,
                         current: Snapshot) throws(SQLiteError) -> Update {
        guard try Schema.check(db) == version, version >= 2, let log = statements.changes else { return .everything }
        defer { statements.reset() }
        let range = try Self.changeRange(log.range)
        guard let max = range.max else { return last == 0 ? .unchanged : .everything }
        if max == last { return .unchanged }
        // Rows this reader has not seen were dropped (it was away too long), or the log was reset.
        guard max > last, (range.min ?? 0) <= last + 1 else { return .everything }
        // A writer replaced everything without the triggers and said so in one row.
        try log.reset.bind(.integer(last))
        if try log.reset.step() { return .everything }
        // With no metadata anywhere, an app read again needs no metadata read: one statement less per app.
        metadataExists = try statements.anyMetadata.map { s throws(SQLiteError) in try s.integer() != 0 } ?? true
        // Each touched organization, and the apps of it that changed; `own`: organizations whose
        // own rows changed too (orgs, peers, the apps table), whose app list and peers are read again.
        var apps: [UInt32: Set<Int64>] = [:]
        var own: Set<UInt32> = []
        var whole: Set<UInt32> = []
        let changed = log.apps
        try changed.bind(.integer(last))
        while try changed.step() {
            let v = changed.int64(0)
            guard (1...Int64(UInt32.max)).contains(v) else { continue }
            let network = UInt32(v)
            if !changed.isNull(1) {
                apps[network, default: []].insert(changed.int64(1))
            } else if version >= 3 {
                if apps[network] == nil { apps[network] = [] }
                own.insert(network)
            } else {
                whole.insert(network)  // a version 2 log names no apps
            }
        }
        var zones: [UInt32: OrgZone?] = [:]
        for network in whole { zones[network] = .some(try build(network: network, statements)) }
        for (network, ids) in apps where !whole.contains(network) {
            zones[network] = .some(try build(network: network, statements, reusing: current.zone(network), changedApps: ids,
                                             ownRows: own.contains(network)))
        }
        return .changed(zones, lastChange: max)
    }

    /// Runs `body` in one read transaction of `db`.
    mutating func readTransaction<R>(_ db: SQLiteConnection,
                                     _ body: (inout SnapshotBuilder) throws(SQLiteError) -> R) throws(SQLiteError) -> R {
        do {
            return try db.readTransaction { () throws(SQLiteError) -> R in try body(&self) }
        } catch let e as SQLiteError {
            throw e
        } catch {
            throw SQLiteError(code: 1, message: "\(error)", context: "read \(db.path)")
        }
    }

    /// The lowest and highest sequence numbers in the change log.
    static func changeRange(_ db: SQLiteConnection) throws(SQLiteError) -> (min: Int64?, max: Int64?) {
        try changeRange(db.prepare(Schema.changeRange))
    }

    /// The same with `s`, a prepared ``Schema/changeRange``.
    private static func changeRange(_ s: SQLiteStatement) throws(SQLiteError) -> (min: Int64?, max: Int64?) {
        defer { s.reset() }
        guard try s.step() else { return (nil, nil) }
        return (s.isNull(0) ? nil : s.int64(0), s.isNull(1) ? nil : s.int64(1))
    }

    /// One organization's zone, or nil when the database no longer has it
    /// (no organization, app or peer row with its network). With `old`, the
    /// organization's zone before, and `changedApps`, only those apps are
    /// read again; every other app's part is taken from `old` (schema
    /// version 3; before, or without `old`, the whole organization is read).
    /// Unless `ownRows` (its organization, peer or apps rows changed), the
    /// organization, its app list and its peers are as `old` has them, and
    /// only the changed apps' rows are read.
    mutating func build(network: UInt32, _ st: Statements, reusing old: OrgZone? = nil,
                        changedApps: Set<Int64>? = nil, ownRows: Bool = true) throws(SQLiteError) -> OrgZone? {
        defer { st.reset() }
        var onlyApps = false
        let reuse = old != nil && changedApps != nil && st.perApp != nil
        if reuse, let old, let changedApps {
            pieceIndex.removeAll(keepingCapacity: true)
            for (k, p) in old.pieces.enumerated() { pieceIndex[p.id] = k }
            onlyApps = !ownRows && changedApps.allSatisfy { pieceIndex[$0] != nil }
        }
        if !onlyApps {
            try st.exists.bind(.integer(Int64(network)))
            guard try st.exists.step() else { return nil }
        }
        reset(network: network, continuing: reuse ? old?.storage : nil)

        if reuse, let old, let changedApps, let perApp = st.perApp {
            try readApps(network, perApp, reusing: old, changed: changedApps, appList: !onlyApps)
        } else {
            try readOrganization(network, st)
        }

        var peers: [Peer] = []
        var peersSkipped = 0
        if onlyApps, let old {
            (peers, peersSkipped) = (old.peers, old.peersSkipped)
        } else {
            try st.peers.bind(.integer(Int64(network)))
            while try st.peers.step() {
                let p = st.peers
                let peerName = p.withTextBytes(0) { Label.isValid($0) ? Array($0) : nil }
                guard let peerName, let a = SixPNAddress(p.text(1)), a.network == network else { peersSkipped += 1; continue }
                peers.append((peerName, a.address))
            }
        }
        skippedRows += peersSkipped
        guard finishOrg(peers: peers) else {
            // A list the zone before did not store (too large) fits now: its kept parts' text is read again.
            return try build(network: network, st)
        }
        return finishZone(reusing: reuse ? old : nil, peers: peers, peersSkipped: peersSkipped)
    }

    /// Every app of the organization, in one scan in (app, region, ID) order.
    private mutating func readOrganization(_ network: UInt32, _ st: Statements) throws(SQLiteError) {
        try st.metadata.bind(.integer(Int64(network)))
        while try st.metadata.step() { readMetadata(st.metadata) }
        let rows = st.instances
        try rows.bind(.integer(Int64(network)))
        while try rows.step() {
            if !isCurrentApp(rows) {
                finishApp()
                startApp(rows)
            }
            guard !rows.isNull(1) else { continue }  // an app without instances
            readInstance(rows)
        }
        finishApp()
        appsRead += pieces.count
    }

    /// The organization's apps in order: those in `changed` (or not in
    /// `old`) read from the database, the others taken from `old`. The
    /// order and set of apps is read from the database when `appList`, and
    /// is `old`'s otherwise. `pieceIndex` indexes `old`'s pieces.
    private mutating func readApps(_ network: UInt32, _ st: (apps: SQLiteStatement, instances: SQLiteStatement,
                                                             metadata: SQLiteStatement),
                                   reusing old: OrgZone, changed: Set<Int64>, appList: Bool) throws(SQLiteError) {
        kept.removeAll(keepingCapacity: true)
        kept.append(contentsOf: repeatElement(false, count: old.pieces.count))
        appIDs.removeAll(keepingCapacity: true)
        if appList {
            try st.apps.bind(.integer(Int64(network)))
            while try st.apps.step() { appIDs.append(st.apps.int64(0)) }
        } else {
            for p in old.pieces { appIDs.append(p.id) }
        }
        for i in appIDs.indices {
            let id = appIDs[i]
            if !changed.contains(id), let k = pieceIndex[id] {
                keepApp(k, of: old)
            } else {
                try readApp(id, st)
            }
        }
    }

    /// One app, read from the database.
    private mutating func readApp(_ id: Int64, _ st: (apps: SQLiteStatement, instances: SQLiteStatement,
                                                      metadata: SQLiteStatement)) throws(SQLiteError) {
        metadata.removeAll(keepingCapacity: true)
        if metadataExists {
            try st.metadata.bind(.integer(id))
            while try st.metadata.step() { readMetadata(st.metadata) }
        }
        let rows = st.instances
        try rows.bind(.integer(id))
        while try rows.step() {
            if !appStarted { startApp(rows) }
            guard !rows.isNull(1) else { continue }
            readInstance(rows)
        }
        finishApp()
        appsRead += 1
    }

    /// A metadata row (address, key, value, app ID); one that breaks a rule is counted against its app.
    private mutating func readMetadata(_ row: SQLiteStatement) {
        let key = row.withTextBytes(1) { Label.isValid($0) ? Array($0) : nil }
        let value = row.withTextBytes(2) { Label.isValid($0) ? Array($0) : nil }
        guard let key, let value, let a = row.withTextBytes(0, { SixPNAddress(utf8: $0) }) else {
            metadataSkipped[row.int64(3), default: 0] += 1
            return
        }
        metadata[a.address, default: []].append((key, value))
    }

    /// Takes part `k` of `old` into the zone being built as it is (its
    /// octets stay where they are in the storage), with its text in the
    /// organization's lists.
    private mutating func keepApp(_ k: Int, of old: OrgZone) {
        var p = old.pieces[k]
        if !oldListsRead {
            oldListsRead = true
            oldListsStored = (Self.readTXT(of: old.lists.apps, in: old, into: &oldApps),
                              Self.readTXT(of: old.lists.instances, in: old, into: &oldInstances),
                              Self.readTXT(of: old.lists.allInstances, in: old, into: &oldAllInstances))
        }
        p.apps = orgApps.append(segment: oldListsStored.apps ? oldApps.bytes(p.apps) : nil, count: p.apps.count,
                                separator: 0x2c)
        p.instances = orgInstances.append(segment: oldListsStored.instances ? oldInstances.bytes(p.instances) : nil,
                                          count: p.instances.count, separator: 0x3b)
        p.allInstances = orgAllInstances.append(
            segment: oldListsStored.allInstances ? oldAllInstances.bytes(p.allInstances) : nil,
            count: p.allInstances.count, separator: 0x3b)
        instanceCount += p.instanceCount
        skippedRows += p.skippedRows
        pieces.append(p)
        kept[k] = true
        appsCopied += 1
    }

    /// The text of the TXT records of the block at `block` in `zone`: their
    /// character-strings, joined. False when the zone did not store them (too large).
    private static func readTXT(of block: Int, in zone: OrgZone, into text: inout GrowableBuffer<UInt8>) -> Bool {
        text.removeAll()
        let entry = zone.view.entry(at: block)
        guard !entry.isOversize else { return false }
        let records = zone.view.bytes(entry.recordsOffset, entry.recordsLength)
        var i = 0
        // Each record: owner pointer, TYPE, CLASS, TTL (10 octets), RDLENGTH, then the strings.
        while i + 12 <= records.count {
            let end = i + 12 + (Int(records[i + 10]) << 8 | Int(records[i + 11]))
            var j = i + 12
            while j < end {
                let n = Int(records[j])
                text.append(contentsOf: UnsafeRawBufferPointer(rebasing: records[(j + 1)..<(j + 1 + n)]))
                j += 1 + n
            }
            i = end
        }
        return true
    }

    /// Forgets the region indexes, when no zone made with them will be copied from again.
    mutating func forgetRegions() {
        for i in regionSlots.indices { regionSlots[i] = 0 }
        regionText.removeAll()
        regionSpans.removeAll()
        lastRegionIndex = .max
    }

    /// Starts an organization: the arena continues `storage` (what is
    /// written gets the offsets it will have after the storage's end), or
    /// starts a new one at 0.
    private mutating func reset(network: UInt32, continuing storage: OrgStorage?) {
        orgNetwork = network
        arena.removeAll(origin: storage.map { Self.aligned($0.count) } ?? 0)
        // No block starts at offset 0: a table slot of 0 means "empty".
        if storage == nil { arena.append32(0); arena.append32(0) }
        blocks.removeAll()
        reverse.removeAll()
        hostFirsts.removeAll()
        metadata.removeAll(keepingCapacity: true)
        metadataSkipped.removeAll(keepingCapacity: true)
        pieces.removeAll(keepingCapacity: true)
        orgPart = nil
        kept.removeAll(keepingCapacity: true)
        oldListsRead = false
        orgApps.removeAll()
        orgInstances.removeAll()
        orgAllInstances.removeAll()
        instanceCount = 0
        skippedRows = 0
        appStarted = false
    }

    /// `n` rounded up to a multiple of 8: parts start there, and the facts in them lie aligned.
    @inline(__always)
    private static func aligned(_ n: Int) -> Int { (n + 7) & ~7 }

    private mutating func align() {
        while arena.count & 7 != 0 { arena.append(0) }
    }

    /// Starts a part: 8-aligned, with no blocks or host facts yet.
    private mutating func startPart() {
        align()
        blocks.removeAll()
        hostFirsts.removeAll()
        pieceStart = (arena.count, instanceCount, skippedRows)
    }

    /// Ends the part started last: writes its block list and host facts after its octets.
    private mutating func endPart(id: Int64, lists: (apps: Range<Int>, instances: Range<Int>, allInstances: Range<Int>))
        -> AppPiece {
        align()
        let blockList = arena.count
        arena.append(contentsOf: UnsafeRawBufferPointer(start: blocks.base, count: blocks.count * 8))
        align()
        let hostFirstList = arena.count
        arena.append(contentsOf: UnsafeRawBufferPointer(start: hostFirsts.base,
                                                        count: hostFirsts.count * MemoryLayout<InstancePlace>.stride))
        let s = pieceStart
        return AppPiece(
            id: id, arena: s.arena..<arena.count, blockList: blockList, blockCount: blocks.count,
            hostFirstList: hostFirstList, hostFirstCount: hostFirsts.count,
            apps: lists.apps, instances: lists.instances, allInstances: lists.allInstances,
            instanceCount: instanceCount - s.instanceCount, skippedRows: skippedRows - s.skippedRows)
    }

    private mutating func startApp(_ rows: SQLiteStatement) {
        appStarted = true
        appID = rows.int64(8)
        startPart()
        appInstances.removeAll()
        appText.removeAll()
        appName = append(rows, 0)
        appValid = Label.isValid(appNameBytes)
        if !appValid { skippedRows += 1 }
    }

    /// The app's name, as its label's octets.
    private var appNameBytes: UnsafeRawBufferPointer { appText.bytes(appName.range) }

    /// True when the row's app (column 0) is the app being read.
    private func isCurrentApp(_ rows: SQLiteStatement) -> Bool {
        appStarted && rows.withTextBytes(0) { Self.equal($0, appNameBytes) }
    }

    @inline(__always)
    private static func equal(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Bool {
        a.count == b.count && (a.count == 0 || memcmp(a.baseAddress!, b.baseAddress!, a.count) == 0)
    }

    private mutating func readInstance(_ rows: SQLiteStatement) {
        guard appValid else { return }
        let host = rows.int64(3)
        let sixPN = rows.withTextBytes(4) { SixPNAddress(utf8: $0) }
        let idOK = rows.withTextBytes(1) { Label.isValid($0) }
        let groupOK = rows.withTextBytes(6) { Label.isValid($0) }
        guard idOK, groupOK, let a = sixPN, a.network == orgNetwork,
              Int64(a.host) == host, let region = region(rows) else {
            skippedRows += 1
            return
        }
        // A host's region is its first instance's: the app's repeats of the host before add nothing.
        if hostFirsts.count == 0 || hostFirsts[hostFirsts.count - 1].host != a.host {
            hostFirsts.append(InstancePlace(host: a.host, region: region))
        }
        let started = rows.int64(5) != 0
        appInstances.append(PendingInstance(
            id: append(rows, 1), addressText: append(rows, 4), group: append(rows, 6), region: region,
            host: a.host, address: a.address, started: started, listed: started && rows.int64(7) != 0))
    }

    /// Copies column `column`'s text to `appText`; returns where it lies.
    private mutating func append(_ rows: SQLiteStatement, _ column: Int32) -> Span {
        let start = appText.count
        rows.withTextBytes(column) { appText.append(contentsOf: $0) }
        return Span(start: start, count: appText.count - start)
    }

    /// Bytes of `appText`.
    @inline(__always)
    private func text(_ span: Span) -> UnsafeRawBufferPointer { appText.bytes(span.range) }

    /// The app's instances as read so far.
    private var pending: UnsafeBufferPointer<PendingInstance> {
        UnsafeBufferPointer(start: appInstances.base, count: appInstances.count)
    }

    /// The row's region as an index, or nil when it is not a usable label.
    private mutating func region(_ rows: SQLiteStatement) -> UInt32? {
        rows.withTextBytes(2) { (r: UnsafeRawBufferPointer) -> UInt32? in
            if lastRegionIndex != .max, Self.equal(r, regionName(lastRegionIndex)) { return lastRegionIndex }
            guard !r.isEmpty else { return nil }
            let mask = regionSlots.count - 1
            var i = Int(truncatingIfNeeded: NameHash.hash(r)) & mask
            while regionSlots[i] != 0 {
                let index = regionSlots[i] - 1
                if Self.equal(r, regionName(index)) {
                    lastRegionIndex = index
                    return index
                }
                i = (i + 1) & mask
            }
            // A name seen for the first time: only a usable label gets an index.
            guard Label.isValid(r), !Label.reservedRegions.contains(where: { $0.utf8.elementsEqual(r) }) else { return nil }
            let index = UInt32(regionSpans.count)
            regionSpans.append(Span(start: regionText.count, count: r.count))
            regionText.append(contentsOf: r)
            regionSlots[i] = index + 1
            if regionSpans.count * 2 > regionSlots.count { growRegionSlots() }
            lastRegionIndex = index
            return index
        }
    }

    /// Doubles the region table and puts every region in it again.
    private mutating func growRegionSlots() {
        regionSlots = Array(repeating: 0, count: regionSlots.count * 2)
        let mask = regionSlots.count - 1
        for index in 0..<UInt32(regionSpans.count) {
            var i = Int(truncatingIfNeeded: NameHash.hash(regionName(index))) & mask
            while regionSlots[i] != 0 { i = (i + 1) & mask }
            regionSlots[i] = index + 1
        }
    }

    /// Region `index`'s name, as its label's octets.
    @inline(__always)
    private func regionName(_ index: UInt32) -> UnsafeRawBufferPointer {
        regionText.bytes(regionSpans[Int(index)].range)
    }

    // MARK: - Emitting an app

    /// Writes the app's names (when its name is a label) and records its part.
    private mutating func finishApp() {
        guard appStarted else { return }
        appStarted = false
        let lists = (apps: orgApps.length, instances: orgInstances.length, allInstances: orgAllInstances.length)
        if appValid { writeApp() }
        skippedRows += metadataSkipped[appID] ?? 0
        pieces.append(endPart(id: appID, lists: (orgApps.segment(since: lists.apps),
                                                 orgInstances.segment(since: lists.instances),
                                                 orgAllInstances.segment(since: lists.allInstances))))
    }

    private mutating func writeApp() {
        let instances = pending
        let start = UInt32(arena.count)
        var listedCount: UInt32 = 0
        for i in instances where i.listed {
            writeAAAA(i.address)
            listedCount += 1
        }
        instanceCount += Int(listedCount)
        let all = (start, listedCount)
        // The listed instances' places, for `top<N>.nearest.of`, after their records (8-aligned).
        align()
        let firstPlace = UInt32(arena.count)
        for i in instances where i.listed {
            withUnsafeBytes(of: InstancePlace(host: i.host, region: i.region)) { arena.append(contentsOf: $0) }
        }

        appendName(app: true)
        addAAAA(records: all)
        appendName(Self.global, app: true)
        addAAAA(records: all)
        appendName(Self.vm, app: true)
        add(kind: .empty)
        appendName(Self.of, app: true)
        add(kind: .empty)
        appendName(Self.nearest, Self.of, app: true)
        add(kind: .nearest, records: all, firstInstance: firstPlace)

        // <region>.<app>: runs of the (region, ID)-ordered listed records.
        var k = 0
        var i = 0
        while i < instances.count {
            guard instances[i].listed else { i += 1; continue }
            let region = instances[i].region
            var j = i, n: UInt32 = 0
            while j < instances.count, instances[j].region == region {
                if instances[j].listed { n += 1 }
                j += 1
            }
            appendName(regionName(region), app: true)
            addAAAA(records: (start + UInt32(k * Snapshot.aaaaRecordSize), n))
            k += Int(n)
            i = j
        }
        // <id>.vm.<app>: every started instance, its host alive or not; and its PTR.
        for inst in instances where inst.started {
            appendName(text(inst.id), Self.vm, app: true)
            let b = add(kind: .aaaa)
            let recordAt = arena.count
            writeAAAA(inst.address)
            setRecords(ofBlock: b, start: recordAt, count: 1)
            addPTR(inst.address, naming: b)
        }
        addInstanceLists(all: false)
        addInstanceLists(all: true)
        addProcessGroups(run: all)
        addMetadata()

        // The organization's lists.
        if orgApps.length > 0 { orgApps.append(0x2c) }
        orgApps.append(contentsOf: appNameBytes)
        let app = appNameBytes
        for inst in instances {
            let id = text(inst.id), address = text(inst.addressText), region = regionName(inst.region)
            if inst.listed { Self.appendInstanceEntry(id, app, address, region, to: &orgInstances) }
            Self.appendInstanceEntry(id, app, address, region, to: &orgAllInstances)
        }
    }

    /// `regions.<app>` and `vms.<app>` TXT over the listed instances, or
    /// `all.regions.<app>` and `all.vms.<app>` over every instance.
    private mutating func addInstanceLists(all: Bool) {
        let instances = pending
        // regions: sorted (the rows are), comma-separated.
        text.removeAll()
        var previous = UInt32.max
        for inst in instances where (all || inst.listed) && inst.region != previous {
            if text.count > 0 { text.append(0x2c) }
            text.append(contentsOf: regionName(inst.region))
            previous = inst.region
        }
        appendName(all ? Self.all : nil, Self.regions, app: true)
        addTXT(text.bytes)
        // vms: "<id> <region>" per instance.
        text.removeAll()
        for inst in instances where all || inst.listed {
            if text.count > 0 { text.append(0x2c) }
            text.append(contentsOf: self.text(inst.id))
            text.append(0x20)
            text.append(contentsOf: regionName(inst.region))
        }
        appendName(all ? Self.all : nil, Self.vms, app: true)
        addTXT(text.bytes)
    }

    /// `process.<app>` (empty) and `<group>.process.<app>` AAAA for each
    /// process group of the listed instances. When one group holds them
    /// all (the usual `app`), its name points at the app's run.
    private mutating func addProcessGroups(run: (start: UInt32, count: UInt32)) {
        appendName(Self.process, app: true)
        add(kind: .empty)
        let instances = pending
        guard let first = instances.firstIndex(where: \.listed) else { return }
        let firstGroup = text(instances[first].group)
        if !instances.contains(where: { $0.listed && !Self.equal(text($0.group), firstGroup) }) {
            appendName(firstGroup, Self.process, app: true)
            addAAAA(records: run)
            return
        }
        let groups = instances.indices.filter { instances[$0].listed }.sorted { a, b in
            let ga = text(instances[a].group), gb = text(instances[b].group)
            return ga.lexicographicallyPrecedes(gb) || (Self.equal(ga, gb) && a < b)
        }
        var i = 0
        while i < groups.count {
            let group = text(instances[groups[i]].group)
            appendName(group, Self.process, app: true)
            let b = add(kind: .aaaa)
            let recordsAt = arena.count
            var n: UInt32 = 0
            while i < groups.count, Self.equal(text(instances[groups[i]].group), group) {
                writeAAAA(instances[groups[i]].address)
                n += 1
                i += 1
            }
            setRecords(ofBlock: b, start: recordsAt, count: n)
        }
    }

    /// `_metadata.<app>` and `kv._metadata.<app>` (empty), `<key>.kv._metadata.<app>`
    /// (empty) and `<value>.<key>.kv._metadata.<app>` AAAA: the listed instances with that pair.
    private mutating func addMetadata() {
        appendName(Self.metadataLabel, app: true)
        add(kind: .empty)
        appendName(Self.kv, Self.metadataLabel, app: true)
        add(kind: .empty)
        guard !metadata.isEmpty else { return }
        let instances = pending
        var pairs: [(key: [UInt8], value: [UInt8], instance: Int)] = []
        for (k, inst) in instances.enumerated() where inst.listed {
            for (key, value) in metadata[inst.address] ?? [] { pairs.append((key, value, k)) }
        }
        guard !pairs.isEmpty else { return }
        pairs.sort { a, b in
            if a.key != b.key { return a.key.lexicographicallyPrecedes(b.key) }
            if a.value != b.value { return a.value.lexicographicallyPrecedes(b.value) }
            return a.instance < b.instance
        }
        var i = 0
        while i < pairs.count {
            let key = pairs[i].key
            if i == 0 || pairs[i - 1].key != key {
                key.withUnsafeBytes { appendName($0, Self.kv, Self.metadataLabel, app: true) }
                add(kind: .empty)
            }
            let value = pairs[i].value
            value.withUnsafeBytes { v in key.withUnsafeBytes { appendName(v, $0, Self.kv, Self.metadataLabel, app: true) } }
            let b = add(kind: .aaaa)
            let recordsAt = arena.count
            var n: UInt32 = 0
            while i < pairs.count, pairs[i].key == key, pairs[i].value == value {
                writeAAAA(instances[pairs[i].instance].address)
                n += 1
                i += 1
            }
            setRecords(ofBlock: b, start: recordsAt, count: n)
        }
    }

    /// `instance=<id>,app=<app>,ip=<address>,region=<region>`, `;`-separated.
    private static func appendInstanceEntry(_ id: UnsafeRawBufferPointer, _ app: UnsafeRawBufferPointer,
                                            _ address: UnsafeRawBufferPointer, _ region: UnsafeRawBufferPointer,
                                            to list: inout ListText) {
        if list.length > 0 { list.append(0x3b) }
        list.append(contentsOf: instanceKey)
        list.append(contentsOf: id)
        list.append(contentsOf: appKey)
        list.append(contentsOf: app)
        list.append(contentsOf: ipKey)
        list.append(contentsOf: address)
        list.append(contentsOf: regionKey)
        list.append(contentsOf: region)
    }

    // MARK: - Emitting an organization

    /// Writes the organization's own part: its lists and peers. False when
    /// a list fits in a message but the text of some part kept from the zone
    /// before is not at hand (that zone did not store the list, too large then).
    private mutating func finishOrg(peers: [Peer]) -> Bool {
        startPart()
        for list in [orgApps, orgInstances, orgAllInstances] where !list.complete {
            if Self.txtSize(list.length).octets <= 65535 { return false }
        }
        appendName(Self.apps, app: false)
        listBlocks.apps = addList(orgApps)
        appendName(Self.instances, app: false)
        listBlocks.instances = addList(orgInstances)
        appendName(Self.all, Self.instances, app: false)
        listBlocks.allInstances = addList(orgAllInstances)
        text.removeAll()
        for peer in peers {
            peer.name.withUnsafeBytes { appendName($0, Self.peer, app: false) }
            let b = add(kind: .aaaa)
            let start = arena.count
            writeAAAA(peer.address)
            setRecords(ofBlock: b, start: start, count: 1)
            addPTR(peer.address, naming: b)
            if text.count > 0 { text.append(0x2c) }
            peer.name.withUnsafeBytes { text.append(contentsOf: $0) }
        }
        appendName(Self.peer, app: false)
        addTXT(text.bytes)
        orgPart = endPart(id: 0, lists: (0..<0, 0..<0, 0..<0))
        return true
    }

    /// TXT records for a list: its text, or only its size when it is too large to be stored.
    private mutating func addList(_ list: ListText) -> Int {
        list.complete ? addTXT(list.text.bytes) : addTXT(length: list.length)
    }

    // MARK: - The zone

    /// An organization at least this large (its live octets) gets as much
    /// again of room when its storage is made anew, so that the next
    /// updates append their parts instead of copying the organization; a
    /// smaller one is copied whole at each update, which costs about as much.
    static let roomFrom = 64 << 10

    /// The zone of what was written: appended to `old`'s storage when it
    /// fits there (and the live parts still fill a quarter of it), with
    /// `old`'s name table less the replaced parts' names;
    /// else every live part copied into a new storage (``roomFrom``). Without
    /// `old`, the arena from offset 0 is the new storage's layout as it is.
    private mutating func finishZone(reusing old: OrgZone?, peers: [Peer], peersSkipped: Int) -> OrgZone? {
        let orgPart = self.orgPart!
        let live = OrgZone.liveBytes(pieces, orgPart)
        var dead: [AppPiece] = []
        if let old {
            for (k, p) in old.pieces.enumerated() where !kept[k] { dead.append(p) }
            dead.append(old.orgPart)
        }
        // Appended while they fit, and while the live parts fill a quarter of the storage or more
        // (an organization that shrank gets a storage of its size back).
        if let old, arena.count <= old.storage.capacity, live * 4 >= old.storage.capacity {
            let storage = old.storage
            (storage.base + arena.origin).update(from: arena.base + arena.origin, count: arena.written)
            storage.count = arena.count
            let added = pieces.filter { $0.arena.lowerBound >= arena.origin } + [orgPart]
            return OrgZone(network: orgNetwork, storage: storage, pieces: pieces, orgPart: orgPart,
                           reverse: mergeReverse(keeping: old, dead: dead, moves: nil),
                           lists: listBlocks, peers: peers, peersSkipped: peersSkipped,
                           instanceCount: instanceCount, skippedRows: skippedRows,
                           tableFrom: old, dead: dead, added: added)
        }
        let capacity = old == nil ? arena.count : 8 + live + (live >= room ? live : 0)
        guard let storage = OrgStorage(capacity: capacity) else { return nil }
        var moves: [(from: Range<Int>, by: Int)] = []
        var newPieces = pieces
        var newOrgPart = orgPart
        if let old {
            // Every live part, from the old storage or from the arena, one after another.
            storage.base.initialize(repeating: 0, count: 8)
            storage.count = 8
            for i in newPieces.indices {
                let p = newPieces[i]
                let from = p.arena.lowerBound >= arena.origin ? arena.base : old.storage.base
                newPieces[i] = Self.copy(p, from: from, to: storage)
                moves.append((p.arena, newPieces[i].arena.lowerBound - p.arena.lowerBound))
            }
            newOrgPart = Self.copy(orgPart, from: arena.base, to: storage)
            moves.append((orgPart.arena, newOrgPart.arena.lowerBound - orgPart.arena.lowerBound))
            moves.sort { $0.from.lowerBound < $1.from.lowerBound }
        } else {
            storage.base.update(from: arena.base, count: arena.count)
            storage.count = arena.count
        }
        func moved(_ b: Int) -> Int { old == nil ? b : b + Self.move(b, in: moves)! }
        return OrgZone(network: orgNetwork, storage: storage, pieces: newPieces, orgPart: newOrgPart,
                       reverse: mergeReverse(keeping: old, dead: dead, moves: old == nil ? nil : moves),
                       lists: (moved(listBlocks.apps), moved(listBlocks.instances), moved(listBlocks.allInstances)),
                       peers: peers, peersSkipped: peersSkipped, instanceCount: instanceCount, skippedRows: skippedRows)
    }

    /// Copies part `p` (whose octets lie at its offsets from `from`) to the
    /// end of `storage`, 8-aligned, with every offset in it moved by as much
    /// as it moved: its name blocks' records and places, its block list.
    private static func copy(_ p: AppPiece, from: UnsafeMutablePointer<UInt8>, to storage: OrgStorage) -> AppPiece {
        let at = aligned(storage.count)
        precondition(at + p.arena.count <= storage.capacity, "organization storage smaller than its live parts")
        let delta = at - p.arena.lowerBound
        (storage.base + at).update(from: from + p.arena.lowerBound, count: p.arena.count)
        storage.count = at + p.arena.count
        var q = p
        q.arena = at..<(at + p.arena.count)
        q.blockList += delta
        q.hostFirstList += delta
        let list = UnsafeMutableRawPointer(storage.base + q.blockList).assumingMemoryBound(to: UInt64.self)
        for i in 0..<q.blockCount {
            let b = Int(truncatingIfNeeded: list[i] & 0xffff_ffff) + delta
            list[i] = list[i] & ~0xffff_ffff | UInt64(b)
            let e = UnsafeMutableRawPointer(storage.base + b)
            var entry = e.loadUnaligned(as: NameEntry.self)
            if entry.recordsOffset != 0 { entry.recordsOffset = UInt32(Int(entry.recordsOffset) + delta) }
            if entry.kind == .nearest { entry.firstInstance = UInt32(Int(entry.firstInstance) + delta) }
            e.storeBytes(of: entry, as: NameEntry.self)
        }
        return q
    }

    /// How far the part holding offset `b` moved, or nil when no part of `moves` (sorted) holds it.
    private static func move(_ b: Int, in moves: [(from: Range<Int>, by: Int)]) -> Int? {
        var low = 0, high = moves.count
        while low < high {
            let mid = (low + high) / 2
            if moves[mid].from.lowerBound <= b { low = mid + 1 } else { high = mid }
        }
        return low > 0 && moves[low - 1].from.contains(b) ? moves[low - 1].by : nil
    }

    /// The zone's reverse entries, sorted by address (an
    /// address twice, an instance's and a peer's, answers once: the
    /// instance's, whose name block comes first): `old`'s, less those that
    /// name a block of a `dead` part, merged with the parts written now;
    /// with `moves`, every name block moved as its part was.
    private mutating func mergeReverse(keeping old: OrgZone?, dead: [AppPiece],
                                       moves: [(from: Range<Int>, by: Int)]?) -> UnsafeBufferPointer<ReverseEntry> {
        var fresh = UnsafeMutableBufferPointer(start: reverse.base, count: reverse.count)
        func before(_ a: ReverseEntry, _ b: ReverseEntry) -> Bool {
            a.address < b.address || (a.address == b.address && a.nameBlock < b.nameBlock)
        }
        if let moves { for i in fresh.indices { fresh[i].nameBlock = UInt32(Int(fresh[i].nameBlock) + Self.move(Int(fresh[i].nameBlock), in: moves)!) } }
        fresh.sort(by: before)
        guard let old else { return UnsafeBufferPointer(fresh) }
        reverseOut.removeAll()
        let bits = deadBits.base.assumingMemoryBound(to: UInt64.self)
        // A part's cells (8 octets each, parts are 8-aligned) as bits: whole words at once, the ends masked.
        func mark(_ r: Range<Int>, _ on: Bool) {
            var cell = r.lowerBound >> 3
            let end = r.upperBound >> 3
            while cell < end {
                let word = cell >> 6, bit = cell & 63, n = min(64 - bit, end - cell)
                let mask = (n == 64 ? ~0 : (UInt64(1) << UInt64(n)) - 1) << UInt64(bit)
                if on { bits[word] |= mask } else { bits[word] &= ~mask }
                cell += n
            }
        }
        for p in dead { mark(p.arena, true) }
        defer { for p in dead { mark(p.arena, false) } }
        var j = 0
        for var e in old.reverse {
            let b = Int(e.nameBlock)
            if bits[b >> 9] & (1 << UInt64((b >> 3) & 63)) != 0 { continue }
            if let moves { e.nameBlock = UInt32(b + Self.move(b, in: moves)!) }
            while j < fresh.count && before(fresh[j], e) {
                reverseOut.append(fresh[j])
                j += 1
            }
            reverseOut.append(e)
        }
        while j < fresh.count {
            reverseOut.append(fresh[j])
            j += 1
        }
        return UnsafeBufferPointer(start: reverseOut.base, count: reverseOut.count)
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


    /// The labels given, then the app's label when `app`, then `internal.`, into `name`.
    private mutating func appendName(_ first: UnsafeRawBufferPointer? = nil, _ second: UnsafeRawBufferPointer? = nil,
                                     _ third: UnsafeRawBufferPointer? = nil, _ fourth: UnsafeRawBufferPointer? = nil,
                                     app: Bool) {
        nameLength = 0
        if let first { put(first) }
        if let second { put(second) }
        if let third { put(third) }
        if let fourth { put(fourth) }
        if app { put(appNameBytes) }
        // `internal.`: the label, then the root.
        put(Self.internalLabel)
        name[nameLength] = 0
        nameLength += 1
    }

    @inline(__always)
    private mutating func put(_ label: UnsafeRawBufferPointer) {
        name[nameLength] = UInt8(label.count)
        if label.count > 0 { (name + nameLength + 1).update(from: label.baseAddress!.assumingMemoryBound(to: UInt8.self), count: label.count) }
        nameLength += 1 + label.count
    }

    private mutating func addAAAA(records: (start: UInt32, count: UInt32)) {
        add(kind: .aaaa, records: records)
    }

    /// The octets and records of a TXT RRset for `length` octets of text as ``addTXT(_:)`` writes it.
    static func txtSize(_ length: Int) -> (octets: Int, records: Int) {
        let strings = (length + 254) / 255
        let records = (strings + 254) / 255
        return (records * 12 + strings + length, records)
    }

    /// A TXT block for `length` octets of text too large for any message:
    /// its size and count only (``NameEntry/isOversize``).
    private mutating func addTXT(length: Int) -> Int {
        let b = add(kind: .txt)
        let size = Self.txtSize(length)
        let p = UnsafeMutableRawPointer(arena.base + b)
        var entry = p.loadUnaligned(as: NameEntry.self)
        (entry.recordsOffset, entry.recordsLength, entry.recordCount) = (0, UInt32(size.octets), UInt32(size.records))
        p.storeBytes(of: entry, as: NameEntry.self)
        return b
    }

    /// TXT records for `value` (none when it is empty): 255-octet character-strings,
    /// at most 255 of them per record so RDATA stays under 65535 octets. A
    /// value too large for any message is kept as its size only.
    @discardableResult
    private mutating func addTXT(_ value: UnsafeRawBufferPointer) -> Int {
        if Self.txtSize(value.count).octets > 65535 { return addTXT(length: value.count) }
        let b = add(kind: .txt)
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
                arena.append(contentsOf: UnsafeRawBufferPointer(rebasing: value[i..<(i + n)]))
                rdLength += 1 + n
                strings += 1
                i += n
            }
            arena.set16(UInt16(rdLength), at: lengthAt)
            count += 1
        }
        setRecords(ofBlock: b, start: start, count: count)
        return b
    }

    /// Writes a name block for the name in `name`: the entry, then the name.
    /// Records that only this name answers follow it (see ``setRecords``).
    @discardableResult
    private mutating func add(kind: NameEntry.Kind, records: (start: UInt32, count: UInt32) = (0, 0),
                              firstInstance: UInt32 = 0) -> Int {
        let b = arena.count
        let tag = NameHash.hash(UnsafeRawBufferPointer(start: name, count: nameLength)) >> 32
        blocks.append(tag << 32 | UInt64(b))
        let entry = NameEntry(
            recordsOffset: records.start,
            recordsLength: records.count * UInt32(Snapshot.aaaaRecordSize),
            recordCount: records.count, firstInstance: firstInstance,
            nameLength: UInt8(nameLength), kind: kind)
        withUnsafeBytes(of: entry) { arena.append(contentsOf: $0) }
        for _ in MemoryLayout<NameEntry>.size..<NameEntry.size { arena.append(0) }
        arena.append(contentsOf: UnsafeRawBufferPointer(start: name, count: nameLength))
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

    // The fixed labels and list keys, straight from the binary's constant
    // strings (computed each time: no lazy global to check, nothing retained).
    private static func constant(_ s: StaticString) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: s.utf8Start, count: s.utf8CodeUnitCount)
    }
    private static var internalLabel: UnsafeRawBufferPointer { constant("internal") }
    private static var global: UnsafeRawBufferPointer { constant("global") }
    private static var vm: UnsafeRawBufferPointer { constant("vm") }
    private static var vms: UnsafeRawBufferPointer { constant("vms") }
    private static var all: UnsafeRawBufferPointer { constant("all") }
    private static var of: UnsafeRawBufferPointer { constant("of") }
    private static var nearest: UnsafeRawBufferPointer { constant("nearest") }
    private static var regions: UnsafeRawBufferPointer { constant("regions") }
    private static var process: UnsafeRawBufferPointer { constant("process") }
    private static var metadataLabel: UnsafeRawBufferPointer { constant("_metadata") }
    private static var kv: UnsafeRawBufferPointer { constant("kv") }
    private static var apps: UnsafeRawBufferPointer { constant("_apps") }
    private static var instances: UnsafeRawBufferPointer { constant("_instances") }
    private static var peer: UnsafeRawBufferPointer { constant("_peer") }
    private static var instanceKey: UnsafeRawBufferPointer { constant("instance=") }
    private static var appKey: UnsafeRawBufferPointer { constant(",app=") }
    private static var ipKey: UnsafeRawBufferPointer { constant(",ip=") }
    private static var regionKey: UnsafeRawBufferPointer { constant(",region=") }
}
