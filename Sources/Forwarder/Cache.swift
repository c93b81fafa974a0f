import Atomics
import DNSWire
import Sockets

/// The answer cache: many reader threads, one writer.
///
/// Readers (the Server's workers, through ``Forwarder/answerFromCache``)
/// take no lock and allocate nothing: they hash the question, walk one hash
/// chain of immutable ``CacheEntry`` blocks with acquire loads inside a
/// ``ReaderEpochs`` read section, and copy the answer out. The writer (the
/// resolver thread, the only one that inserts, evicts or frees) publishes a
/// new entry with one release store at the head of its chain and unlinks an
/// old one with one store to its predecessor, so a reader always sees a
/// whole chain; unlinked blocks are freed after a grace period.
///
/// Memory is bounded by entries and by octets. Eviction is CLOCK (second
/// chance, an LRU approximation that needs no list move on a hit): a hit
/// sets the entry's reference bit; the writer's hand, at the oldest entry,
/// gives a referenced entry another round and evicts one that is not.
final class Cache: @unchecked Sendable {
    let maxEntries: Int
    let maxBytes: Int
    private let buckets: UnsafeMutablePointer<UnsafeAtomic<Int>.Storage>
    private let mask: Int
    let epochs = ReaderEpochs()
    /// Hits and misses, counted by reader threads.
    let lookups = StripedCounters()
    static let hitCounter = 0
    static let missCounter = 1

    // Writer-only state.
    private var newest: CacheEntry?
    private var oldest: CacheEntry?
    private(set) var count = 0
    private(set) var bytes = 0

    /// Each organization's entries and octets (the writer's), and the most it may hold when the
    /// cache is full and shared (``insert(_:key:)``).
    private(set) var held: [UInt64: (entries: Int, bytes: Int)] = [:]
    let shareEntries: Int
    let shareBytes: Int

    init(maxEntries: Int, maxBytes: Int, organizationShare: Int = 100) {
        self.maxEntries = max(1, maxEntries)
        self.maxBytes = max(1, maxBytes)
        let share = min(100, max(1, organizationShare))
        shareEntries = share == 100 ? Int.max : max(1, self.maxEntries * share / 100)
        shareBytes = share == 100 ? Int.max : max(1, self.maxBytes * share / 100)
        var n = 16
        while n < self.maxEntries { n <<= 1 }
        buckets = .allocate(capacity: n)
        buckets.initialize(repeating: .init(0), count: n)
        mask = n - 1
    }

    deinit {
        var e = oldest
        while let entry = e {
            e = entry.fields.pointee.newer.map(CacheEntry.init)
            entry.free()
        }
        buckets.deallocate()
    }

    /// The hash of a key (SipHash, seeded at random per process: chains cannot be aimed at).
    @inline(__always)
    static func hash(name: UnsafeRawBufferPointer, type: RRType, class cls: RRClass, flags: UInt16) -> Int {
        var h = Hasher()
        h.combine(bytes: name)
        h.combine(type.rawValue)
        h.combine(cls.rawValue)
        h.combine(flags)
        return h.finalize()
    }

    static func hash(_ key: CacheKey) -> Int {
        key.name.withUnsafeBytes { hash(name: $0, type: key.type, class: key.class, flags: key.flags) }
    }

    @inline(__always)
    private func bucket(_ hash: Int) -> UnsafeAtomic<Int> {
        UnsafeAtomic(at: buckets + (hash & mask))
    }

    /// The entry for a key, fresh or not. Readers call it inside a read section.
    @inline(__always)
    func find(hash: Int, name: UnsafeRawBufferPointer, type: RRType, class cls: RRClass, flags: UInt16) -> CacheEntry? {
        var bits = bucket(hash).load(ordering: .acquiring)
        while let p = UnsafeMutableRawPointer(bitPattern: bits) {
            let e = CacheEntry(p)
            if e.matches(hash: hash, name: name, type: type, class: cls, flags: flags) { return e }
            bits = e.next.load(ordering: .acquiring)
        }
        return nil
    }

    /// Writer: the entry for `key`, fresh or not.
    func find(_ key: CacheKey, hash: Int) -> CacheEntry? {
        key.name.withUnsafeBytes { find(hash: hash, name: $0, type: key.type, class: key.class, flags: key.flags) }
    }

    /// Reader: answers `query` (whose lowercased name is `name`) from a fresh
    /// entry, with the OPT `edns`, or returns nil. With `staleTTL`, from an
    /// expired entry still within its serve-stale window too, each TTL
    /// `staleTTL` and the answer marked stale. No lock, no allocation.
    @inline(__always)
    func answer(query: Query, bytes: UnsafeRawBufferPointer, name: UnsafeRawBufferPointer, edns: EDNS?,
                into out: UnsafeMutableRawBufferPointer, limit: Int, staleTTL: UInt32? = nil) -> Int? {
        let flags = CacheKey.flags(of: query)
        let hash = Cache.hash(name: name, type: query.type, class: query.class, flags: flags)
        let result: Int? = {
            let token = epochs.enter()
            defer { epochs.leave(token) }
            guard let e = find(hash: hash, name: name, type: query.type, class: query.class, flags: flags) else {
                return nil
            }
            let now = Syscalls.now()
            let fresh = now < e.fields.pointee.freshUntil
            guard fresh || (staleTTL != nil && now < e.fields.pointee.staleUntil) else { return nil }
            // Only write the shared bit when it is not set yet: hot entries stay read-only.
            if e.referenced.load(ordering: .relaxed) == 0 { e.referenced.store(1, ordering: .relaxed) }
            return e.answer(query: query, bytes: bytes, edns: edns, into: out, limit: limit, now: now,
                            staleTTL: fresh ? nil : staleTTL)
        }()
        lookups.increment(result == nil ? Cache.missCounter : Cache.hitCounter)
        return result
    }

    // MARK: Writer

    /// Publishes `entry`, replacing any entry for the same key and evicting
    /// until the bounds hold. Returns false, and keeps nothing, for an entry
    /// larger than the whole cache (the caller still owns it then).
    @discardableResult
    func insert(_ entry: CacheEntry, key: CacheKey) -> Bool {
        let f = entry.fields.pointee
        if let old = find(key, hash: f.hash) { remove(old) }
        guard f.byteCount <= maxBytes else { return false }
        // Full, and the newcomer's organization past its share while another's answers are in the
        // cache too: its own newest entries make room (a storm of one organization's misses evicts
        // its own, not other tenants' hot entries; its older, hot ones stay too).
        while f.owner != 0, count > 0, count + 1 > maxEntries || bytes + f.byteCount > maxBytes,
              let mine = held[f.owner], held.count > 1,
              mine.entries + 1 > shareEntries || mine.bytes + f.byteCount > shareBytes,
              let own = newestEntry(of: f.owner) {
            remove(own)
        }
        while count > 0, count + 1 > maxEntries || bytes + f.byteCount > maxBytes { evictOne() }
        let head = bucket(f.hash)
        entry.next.store(head.load(ordering: .relaxed), ordering: .relaxed)
        head.store(Int(bitPattern: entry.base), ordering: .releasing)
        entry.fields.pointee.older = newest?.base
        entry.fields.pointee.newer = nil
        newest?.fields.pointee.newer = entry.base
        newest = entry
        if oldest == nil { oldest = entry }
        count += 1
        bytes += f.byteCount
        if f.owner != 0 {
            let h = held[f.owner] ?? (0, 0)
            held[f.owner] = (h.entries + 1, h.bytes + f.byteCount)
        }
        return true
    }

    /// The newest entry `owner` brought in (a walk from the newest end: an organization past its
    /// share is the one inserting, so its entries are near it).
    private func newestEntry(of owner: UInt64) -> CacheEntry? {
        var e = newest
        while let entry = e {
            if entry.fields.pointee.owner == owner { return entry }
            e = entry.fields.pointee.older.map(CacheEntry.init)
        }
        return nil
    }

    /// Unlinks `entry` from its chain and the LRU list, and retires it.
    func remove(_ entry: CacheEntry) {
        let f = entry.fields.pointee
        let next = entry.next.load(ordering: .relaxed)
        let head = bucket(f.hash)
        if head.load(ordering: .relaxed) == Int(bitPattern: entry.base) {
            head.store(next, ordering: .releasing)
        } else {
            var p = UnsafeMutableRawPointer(bitPattern: head.load(ordering: .relaxed))
            while let current = p.map(CacheEntry.init) {
                let n = current.next.load(ordering: .relaxed)
                if n == Int(bitPattern: entry.base) {
                    current.next.store(next, ordering: .releasing)
                    break
                }
                p = UnsafeMutableRawPointer(bitPattern: n)
            }
        }
        unlinkFromList(entry)
        count -= 1
        bytes -= f.byteCount
        if f.owner != 0, let h = held[f.owner] {
            held[f.owner] = h.entries == 1 ? nil : (h.entries - 1, h.bytes - f.byteCount)
        }
        epochs.retire(entry.base)
    }

    /// CLOCK: the oldest unreferenced entry goes; referenced ones get another round.
    private func evictOne() {
        while let e = oldest {
            if e.referenced.load(ordering: .relaxed) != 0, count > 1 {
                e.referenced.store(0, ordering: .relaxed)
                unlinkFromList(e)
                e.fields.pointee.older = newest?.base
                newest?.fields.pointee.newer = e.base
                newest = e
                if oldest == nil { oldest = e }
                continue
            }
            remove(e)
            return
        }
    }

    private func unlinkFromList(_ e: CacheEntry) {
        let older = e.fields.pointee.older.map(CacheEntry.init)
        let newer = e.fields.pointee.newer.map(CacheEntry.init)
        if let older { older.fields.pointee.newer = newer?.base } else { oldest = newer }
        if let newer { newer.fields.pointee.older = older?.base } else { newest = older }
        e.fields.pointee.older = nil
        e.fields.pointee.newer = nil
    }

    /// Removes entries that are past serving even stale.
    func sweep(now: Int64) {
        var e = oldest
        while let entry = e {
            e = entry.fields.pointee.newer.map(CacheEntry.init)
            if entry.fields.pointee.staleUntil <= now { remove(entry) }
        }
    }
}
