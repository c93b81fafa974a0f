// zone-scale-bench DB [ROUNDS [DISTINCT]]: loads DB into a ZoneEngine snapshot
// and prints the load time, the process's memory, and the time per lookup over
// the questions in DB.queries (written by generate.py), asked ROUNDS times.
// With DISTINCT, only the first DISTINCT questions are asked, over and over
// (as many lookups in all): the same code path with the zone's memory in cache.
//
// zone-scale-bench churn DB [SECONDS [CHANGES]]: updates under changes (Churn.swift).
import DNSWire
import Foundation
import Logging
import ZoneEngine

/// VmRSS and VmHWM (peak) from /proc/self/status, and the part in huge pages, in MiB.
func memory() -> (rss: Int, peak: Int, huge: Int) {
    let status = ((try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? "")
        + ((try? String(contentsOfFile: "/proc/self/smaps_rollup", encoding: .utf8)) ?? "")
    func field(_ name: String) -> Int {
        for line in status.split(separator: "\n") where line.hasPrefix(name + ":") {
            return (Int(line.split(separator: " ", omittingEmptySubsequences: true)[1]) ?? 0) / 1024
        }
        return 0
    }
    return (field("VmRSS"), field("VmHWM"), field("AnonHugePages"))
}

/// One question; its message and lowercased name lie in `wire` (one buffer for all,
/// so that the questions' own memory is the same at every zone size).
struct BenchQuestion {
    var message: Range<Int>
    var name: Range<Int>
    var type: RRType
    var network: UInt32
    var host: UInt32
}

/// The questions of DB.queries, their messages and names back to back in one buffer.
func loadQuestions(_ path: String) throws -> (questions: [BenchQuestion], wire: [UInt8]) {
    var questions: [BenchQuestion] = []
    var wire: [UInt8] = []
    for line in try String(contentsOfFile: path + ".queries", encoding: .utf8).split(separator: "\n") {
        let f = line.split(separator: " ")
        let querier = SixPNAddress(String(f[0]))!
        let type: RRType = f[2] == "AAAA" ? .aaaa : f[2] == "TXT" ? .txt : .a
        let name = try DNSName(String(f[1])).lowercased
        let bytes = try Message(header: Header(id: 1, flags: Header.rdBit), questions: [Question(name: name, type: type)]).encoded()
        let m = wire.count
        wire += bytes
        let n = wire.count
        wire += name.wire
        questions.append(BenchQuestion(message: m..<n, name: n..<wire.count, type: type, network: querier.network, host: querier.host))
    }
    return (questions, wire)
}

/// One question answered as the Server would: the reply's length, negative when it has no answer records.
func ask(_ q: BenchQuestion, _ all: UnsafeRawBufferPointer, _ o: UnsafeMutableRawBufferPointer, _ snapshot: Snapshot) -> Int {
    let qb = UnsafeRawBufferPointer(rebasing: all[q.message])
    let query = try! Query.parse(qb)
    var w = ResponseWriter(buffer: o, limit: 65535)
    _ = w.start(query: query, bytes: qb, rcode: .noError, authoritative: true, recursionAvailable: false, edns: nil)
    let rcode = snapshot.answer(name: UnsafeRawBufferPointer(rebasing: all[q.name]), type: q.type,
                                network: q.network, host: q.host, into: &w)
    w.setRCode(rcode)
    let answers = w.header.anCount
    let n = w.finish()
    return answers == 0 ? -n : n
}

let args = CommandLine.arguments
guard args.count >= 2 else {
    FileHandle.standardError.write("usage: zone-scale-bench DB [ROUNDS [DISTINCT]] | churn DB [SECONDS [CHANGES]]\n".data(using: .utf8)!)
    exit(2)
}
if args[1] == "churn", args.count >= 3 {
    try churnBenchmark(path: args[2], seconds: args.count > 3 ? Double(args[3]) ?? 10 : 10,
                       hourChanges: args.count > 4 ? Int(args[4]) ?? 0 : 0)
    exit(0)
}
let path = args[1]
let rounds = args.count > 2 ? Int(args[2]) ?? 50 : 50
let distinct = args.count > 3 ? Int(args[3]) : nil

var logger = Logger(label: "zone-scale-bench")
logger.logLevel = .warning
/// CPU seconds (user + system) this process has used.
func cpuSeconds() -> Double {
    var u = rusage()
    getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &u)
    return Double(u.ru_utime.tv_sec + u.ru_stime.tv_sec) + Double(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6
}

let base = memory()
let start = ContinuousClock.now
let cpuStart = cpuSeconds()
let store = try ZoneStore(path: path, logger: logger)
let loadTime = ContinuousClock.now - start
let loadCPU = cpuSeconds() - cpuStart
let snapshot = store.current
let loaded = memory()

var (questions, wire) = try loadQuestions(path)

// Every question once, to check the answers are real, then the timed rounds.
var out = [UInt8](repeating: 0, count: 65535)
var answered = 0, negative = 0, octets = 0
if let distinct {
    let few = Array(questions.prefix(distinct))
    questions = (0..<questions.count).map { few[$0 % few.count] }
}
var lookupTime = Duration.zero
wire.withUnsafeBytes { all in
    out.withUnsafeMutableBytes { o in
        for q in questions {
            let n = ask(q, all, o, snapshot)
            if n > 0 { answered += 1 } else { negative += 1 }
        }
        let lookupStart = ContinuousClock.now
        for _ in 0..<rounds {
            for q in questions { octets &+= ask(q, all, o, snapshot) }
        }
        lookupTime = ContinuousClock.now - lookupStart
    }
}
let perLookup = Double(lookupTime.components.attoseconds / 1_000_000_000 + lookupTime.components.seconds * 1_000_000_000)
    / Double(rounds * questions.count)

print("""
    database:   \(path)
    snapshot:   \(snapshot.organizationCount) organizations, \(snapshot.instanceCount) instances, \(snapshot.nameCount) names
    load:       \(loadTime.formatted(.units(allowed: [.seconds, .milliseconds], width: .narrow))) wall, \(String(format: "%.2f", loadCPU)) s CPU
    memory:     RSS \(loaded.rss) MiB after load (\(base.rss) MiB before, \(loaded.huge) MiB in huge pages), peak \(loaded.peak) MiB
    lookups:    \(questions.count) questions (\(answered) with answers, \(negative) negative) x \(rounds) rounds
    per lookup: \(String(format: "%.0f", perLookup)) ns (parse + start + answer + finish)
    """)
