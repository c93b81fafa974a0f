// zone-scale-bench churn DB [SECONDS [HOUR_CHANGES]]: a running ZoneStore
// (its poller thread, as `sixpn serve` runs it) while another connection
// changes the database, as the cluster agent would: one instance started
// or stopped per transaction.
//
// 1. single changes, one at a time: commit -> the change answered (its
//    `<id>.vm.<app>.internal` appears or goes), p50/p99/max;
// 2. lookups on one thread for SECONDS without churn, then SECONDS with
//    1,000 changes/s beside them: lookups per CPU-second of the lookup
//    thread, both, and their ratio; commit -> answered under that churn;
//    the zone thread's CPU per second of churn; then the same comparison in
//    alternating quarter-second slices (quiet, the writer alone with the zone
//    thread stopped, churn with updates) and the medians of their ratios;
// 3. CHANGES more changes (an hour of 1,000/s is 3,600,000), one per
//    transaction as fast as the writer goes: the process's memory before and after.
import CSocketBatch
import DNSWire
import Foundation
import Logging
import Synchronization
import ZoneEngine

/// One instance the benchmark starts and stops: its name and its querier.
struct ChurnInstance {
    var address: String
    var name: [UInt8]  // lowercased wire form of <id>.vm.<app>.internal
    var network: UInt32
    var host: UInt32
}

/// Keeps the calling thread (and the threads it starts afterwards) on one
/// CPU, the `index`-th of those the process may use; false when it has fewer.
/// With two or more, the lookup thread gets CPU 0 to itself and everything
/// else of the benchmark (the zone thread, the writer, the checker) CPU 1, as
/// on a host whose workers and zone thread run on cores of their own: the
/// lookups then pay only what the updates cost them through shared caches
/// and memory, not the scheduler's placing of four threads on two cores.
@discardableResult
func pinCallingThread(toCPU index: Int) -> Bool {
    let size = 128  // a cpu_set_t: 1024 bits
    guard allowedCPUs.count >= 2, index < allowedCPUs.count else { return false }
    var one = [UInt64](repeating: 0, count: size / 8)
    one[allowedCPUs[index] / 64] = 1 << UInt64(allowedCPUs[index] % 64)
    return sixpn_pthread_setaffinity_np(pthread_self(), size, &one) == 0
}

/// The CPUs the process may run on, read once before any thread is pinned
/// (a thread started afterwards inherits its starter's single CPU).
let allowedCPUs: [Int] = {
    var allowed = [UInt64](repeating: 0, count: 16)
    guard sixpn_sched_getaffinity(0, allowed.count * 8, &allowed) == 0 else { return [] }
    return (0..<allowed.count * 64).filter { allowed[$0 / 64] & (1 << UInt64($0 % 64)) != 0 }
}()

/// CPU seconds of the calling thread.
func threadCPUSeconds() -> Double {
    var t = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t)
    return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
}

func secondsOf(_ d: Duration) -> Double { ms(d) / 1e3 }

func percentile(_ sorted: [Double], _ p: Double) -> Double {
    sorted.isEmpty ? .nan : sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))]
}

func ms(_ d: Duration) -> Double {
    Double(d.components.seconds) * 1e3 + Double(d.components.attoseconds) / 1e15
}

/// True when `store.current` answers the instance's vm name with an address.
func answered(_ i: ChurnInstance, _ store: ZoneStore, _ out: UnsafeMutableRawBufferPointer,
              _ message: UnsafeRawBufferPointer) -> Bool {
    let query = try! Query.parse(message)
    var w = ResponseWriter(buffer: out, limit: 512)
    _ = w.start(query: query, bytes: message, rcode: .noError, authoritative: true, recursionAvailable: false, edns: nil)
    _ = i.name.withUnsafeBytes { store.current.answer(name: $0, type: .aaaa, network: i.network, host: i.host, into: &w) }
    return w.header.anCount > 0
}

func churnBenchmark(path: String, seconds: Double, hourChanges: Int) throws {
    var logger = Logger(label: "zone-scale-bench")
    logger.logLevel = .warning
    let t0 = ContinuousClock.now
    let store = try ZoneStore(path: path, logger: logger)
    let load = ContinuousClock.now - t0
    // Before the store's poller starts: it, the writer and the checker inherit CPU 1.
    let pinned = pinCallingThread(toCPU: 1)
    try! store.start()
    defer { store.stop() }
    let afterLoad = memory()

    // The instances to start and stop: generate.py's sample of vm names (each asked by the instance itself).
    var sample: [ChurnInstance] = []
    for line in try String(contentsOfFile: path + ".queries", encoding: .utf8).split(separator: "\n") {
        let f = line.split(separator: " ")
        guard f[1].contains(".vm."), let a = SixPNAddress(String(f[0])) else { continue }
        sample.append(ChurnInstance(address: String(f[0]), name: try DNSName(String(f[1])).lowercased.wire,
                                  network: a.network, host: a.host))
    }
    var seen = Set<String>()
    let pool = sample.filter { seen.insert($0.address).inserted }
    let writer = try DatabaseWriter(path: path, durable: false)
    let message = try Message(header: Header(id: 1, flags: 0),
                              questions: [Question(name: DNSName("x.internal"), type: .aaaa)]).encoded()
    var out = [UInt8](repeating: 0, count: 512)
    print("""
        database:   \(path)
        snapshot:   \(store.current.organizationCount) organizations, \(store.current.instanceCount) instances
        load:       \(String(format: "%.2f", ms(load) / 1e3)) s; RSS \(afterLoad.rss) MiB
        pool:       \(pool.count) instances started and stopped
        threads:    \(pinned ? "lookups alone on one CPU; zone thread, writer and checker on another" : "not pinned (one CPU)")
        """)

    // 1. Single changes.
    var single: [Double] = []
    var rng = SystemRandomNumberGenerator()
    try message.withUnsafeBytes { m in
        try out.withUnsafeMutableBytes { o in
            for k in 0..<300 {
                let i = pool[k % pool.count]
                let start = !answered(i, store, o, m)
                try writer.setState(address: i.address, started: start)
                let committed = ContinuousClock.now
                while answered(i, store, o, m) != start { usleep(50) }
                single.append(ms(ContinuousClock.now - committed))
                usleep(UInt32.random(in: 10_000...20_000, using: &rng))
            }
        }
    }
    single.sort()
    let counts1 = store.updateCounts
    print(String(format: "single:     %d changes, commit -> answered p50 %.2f ms, p99 %.2f ms, max %.2f ms",
                 single.count, percentile(single, 0.5), percentile(single, 0.99), single.last!))

    // 2. Lookups without churn, then with 1,000 changes/s.
    let (questions, wire) = try loadQuestions(path)
    func lookups(for seconds: Double) -> (count: Int, cpu: Double) {
        let result = Mutex<(Int, Double)>((0, 0))
        let done = DispatchSemaphore(value: 0)
        let thread = Thread {
            if pinned { pinCallingThread(toCPU: 0) }
            var o = [UInt8](repeating: 0, count: 65535)
            let cpu0 = threadCPUSeconds()
            let end = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
            var n = 0
            wire.withUnsafeBytes { all in
                o.withUnsafeMutableBytes { ob in
                    while ContinuousClock.now < end {
                        let snapshot = store.current  // once per batch, as a worker does
                        var octets = 0
                        for q in questions[(n % questions.count)...].prefix(64) {
                            octets &+= ask(q, all, ob, snapshot)
                        }
                        precondition(octets != 0)
                        n += min(64, questions.count - n % questions.count)
                    }
                }
            }
            result.withLock { $0 = (n, threadCPUSeconds() - cpu0) }
            done.signal()
        }
        thread.start()
        done.wait()
        return result.withLock { $0 }
    }
    let zoneCPU0 = secondsOf(store.pollerCPUTime)
    let quiet = lookups(for: seconds)
    let idleZoneCPU = (secondsOf(store.pollerCPUTime) - zoneCPU0) / seconds

    let pending = Mutex<[(instance: Int, started: Bool, committed: ContinuousClock.Instant)]>([])
    // Instances with a change not yet answered: the writer skips them without
    // building a set of the pending list per change (whose cost grew with the lag).
    let busy = Mutex([Bool](repeating: false, count: pool.count))
    let latencies = Mutex<[Double]>([])
    let stop = Atomic<Bool>(false)
    // Set by the churner as it ends: the checker stops only after it, so that
    // no change is appended after the checker's last look (which hung the run).
    let churnerDone = Atomic<Bool>(false)
    // Off between the churn phase and the interleaved slices' churn halves (2b).
    let churning = Atomic<Bool>(true)
    let changes = Atomic<Int>(0)
    let churner = Thread {
        let w = try! DatabaseWriter(path: path, durable: false)
        var rng = SystemRandomNumberGenerator()
        var states = [Bool?](repeating: nil, count: pool.count)
        var begin = ContinuousClock.now
        var k = 0
        while !stop.load(ordering: .relaxed) {
            guard churning.load(ordering: .relaxed) else {
                Thread.sleep(forTimeInterval: 0.001)
                (begin, k) = (ContinuousClock.now, 0)  // the schedule starts again when churning does
                continue
            }
            // Paced on an absolute schedule: change k is due at k ms.
            let due = begin + .milliseconds(k)
            if ContinuousClock.now < due { Thread.sleep(until: Date() + Double(ms(due - ContinuousClock.now)) / 1e3); continue }
            var j = Int.random(in: 0..<pool.count, using: &rng)
            busy.withLock { b in
                while b[j] { j = (j + 1) % pool.count }
                b[j] = true
            }
            let start = !(states[j] ?? true)
            try! w.setState(address: pool[j].address, started: start)
            states[j] = start
            pending.withLock { $0.append((j, start, ContinuousClock.now)) }
            changes.add(1, ordering: .relaxed)
            k += 1
        }
        churnerDone.store(true, ordering: .releasing)
    }
    let checker = Thread {
        var o = [UInt8](repeating: 0, count: 512)
        message.withUnsafeBytes { m in
            o.withUnsafeMutableBytes { ob in
                while !churnerDone.load(ordering: .acquiring) || !pending.withLock({ $0.isEmpty }) {
                    guard let head = pending.withLock({ $0.first }) else { usleep(200); continue }
                    if answered(pool[head.instance], store, ob, m) == head.started {
                        let latency = ms(ContinuousClock.now - head.committed)
                        pending.withLock { _ = $0.removeFirst() }
                        busy.withLock { $0[head.instance] = false }
                        latencies.withLock { $0.append(latency) }
                    } else {
                        usleep(200)
                    }
                }
            }
        }
    }
    let counts2 = store.updateCounts
    let churnStart = ContinuousClock.now
    let zoneCPU1 = secondsOf(store.pollerCPUTime)
    churner.start()
    checker.start()
    let churned = lookups(for: seconds)
    churning.store(false, ordering: .relaxed)
    let churnSeconds = ms(ContinuousClock.now - churnStart) / 1e3
    let zoneCPU = (secondsOf(store.pollerCPUTime) - zoneCPU1) / churnSeconds
    let churnChanges = changes.load(ordering: .relaxed)
    while !pending.withLock({ $0.isEmpty }) { usleep(1000) }
    usleep(100_000)
    let counts3 = store.updateCounts
    let sustained = latencies.withLock { $0.sorted() }
    let quietRate = Double(quiet.count) / quiet.cpu, busyRate = Double(churned.count) / churned.cpu

    // 2b. The same comparison in alternating quarter-second slices, so that
    // the machine's drift over tens of seconds (other tenants of a shared VM)
    // falls on every side: quiet, then the writer's churn with the zone
    // thread stopped (what the writer alone costs the lookups: in production
    // it is another process, the agent), then the churn with the updates;
    // the ratio of each triple to its quiet slice, and their medians.
    var sliceRatios: [Double] = [], writerRatios: [Double] = [], quietRates: [Double] = []
    for _ in 0..<Int(seconds * 2) {
        let q = lookups(for: 0.25)
        store.stop()
        churning.store(true, ordering: .relaxed)
        let w = lookups(for: 0.25)
        try! store.start()  // catches up with the writer's quarter second within this slice
        let c = lookups(for: 0.25)
        churning.store(false, ordering: .relaxed)
        let quietRate = Double(q.count) / q.cpu
        quietRates.append(quietRate)
        writerRatios.append((Double(w.count) / w.cpu) / quietRate)
        sliceRatios.append((Double(c.count) / c.cpu) / quietRate)
    }
    stop.store(true, ordering: .relaxed)
    while !pending.withLock({ $0.isEmpty }) { usleep(1000) }
    writerRatios.sort()
    quietRates.sort()
    sliceRatios.sort()
    print(String(format: """
        sustained:  %d changes in %.1f s (%.0f/s, one per transaction), commit -> answered p50 %.2f ms, p99 %.2f ms, max %.2f ms
        updates:    %d incremental, %d full during the churn; zone thread %.1f %% of a core (%.2f %% idle, polling), %.0f µs per change
        lookups:    %.0f per CPU-second without churn, %.0f with (%.3fx); lookup thread CPU %.1f s and %.1f s
        interleaved: %d triples of quarter-second slices (quiet ones: median %.0f lookups per CPU-second), per CPU-second against the quiet one:
                     churn with updates median %.3fx (from %.3fx to %.3fx); the writer alone (zone thread stopped) median %.3fx (from %.3fx to %.3fx)
        """, sustained.count, churnSeconds, Double(churnChanges) / churnSeconds,
        percentile(sustained, 0.5), percentile(sustained, 0.99), sustained.last ?? .nan,
        counts3.incremental - counts2.incremental, counts3.full - counts2.full, zoneCPU * 100, idleZoneCPU * 100,
        (zoneCPU - idleZoneCPU) * churnSeconds / Double(max(1, churnChanges)) * 1e6,
        quietRate, busyRate, busyRate / quietRate, quiet.cpu, churned.cpu,
        sliceRatios.count, percentile(quietRates, 0.5), percentile(sliceRatios, 0.5), sliceRatios.first ?? .nan, sliceRatios.last ?? .nan,
        percentile(writerRatios, 0.5), writerRatios.first ?? .nan, writerRatios.last ?? .nan))
    _ = counts1

    // 3. An hour's worth of changes, as fast as they go, and the memory after.
    guard hourChanges > 0 else { return }
    let before = memory()
    let hourStart = ContinuousClock.now
    var states = [Bool](repeating: true, count: pool.count)
    for done in 1...hourChanges {
        let j = done * 7 % pool.count
        states[j].toggle()
        try writer.setState(address: pool[j].address, started: states[j])
        if done % 250_000 == 0 {
            print("  after \(done) changes: RSS \(memory().rss) MiB, \(String(format: "%.0f", ms(ContinuousClock.now - hourStart) / 1e3)) s")
        }
    }
    usleep(500_000)
    let after = memory()
    print("""
        churned:    \(hourChanges) changes in \(String(format: "%.0f", ms(ContinuousClock.now - hourStart) / 1e3)) s: RSS \(before.rss) MiB before, \(after.rss) MiB after (peak \(after.peak) MiB); \(store.updateCounts.incremental) incremental updates, \(store.updateCounts.full) full builds in all
        """)
}
