import Metrics
import Sockets

/// One upstream server as the resolver sees it: its smoothed RTT, whether
/// it is failing, and its metrics. Owned by the resolver thread.
struct Upstream {
    let address: SocketAddress
    /// Smoothed RTT and its variation in nanoseconds (RFC 6298 §2).
    private(set) var srtt: Int64 = 0
    private(set) var rttvar: Int64 = 0
    private(set) var measured = false
    /// Timeouts in a row; two or more put the upstream down for a while.
    private(set) var failures = 0
    /// Skipped until then (monotonic nanoseconds), then probed with one query.
    private(set) var downUntil: Int64 = 0
    private(set) var probeDue = false
    /// What it showed of EDNS (RFC 6891 §7), each until then (monotonic
    /// nanoseconds): it answered with OPT; it rejected OPT but answered without.
    private(set) var ednsSeenUntil: Int64 = 0
    private(set) var ednsLackingUntil: Int64 = 0

    let queries: Counter
    let timeouts: Counter
    let rtt: Metrics.Timer
    let ednsFallbacks: Counter
    /// 1 while queries to it carry OPT, 0 while it is remembered as not speaking EDNS.
    let edns: Gauge

    init(address: SocketAddress) {
        self.address = address
        let dimensions = [("upstream", address.description)]
        queries = Counter(label: "sixpn_forwarder_upstream_queries_total", dimensions: dimensions)
        timeouts = Counter(label: "sixpn_forwarder_upstream_timeouts_total", dimensions: dimensions)
        rtt = Metrics.Timer(label: "sixpn_forwarder_upstream_rtt", dimensions: dimensions)
        ednsFallbacks = Counter(label: "sixpn_forwarder_upstream_edns_fallbacks_total", dimensions: dimensions)
        edns = Gauge(label: "sixpn_forwarder_upstream_edns", dimensions: dimensions)
        edns.record(1)
    }

    // MARK: EDNS

    /// Whether a query to it now carries OPT: yes unless it is remembered as not speaking EDNS.
    func speaksEDNS(now: Int64) -> Bool { ednsLackingUntil <= now }

    /// It answered with an OPT record: it speaks EDNS, and a later FORMERR
    /// (maybe forged, maybe for another reason) does not make us forget that
    /// for `memory` nanoseconds. True when it was remembered as lacking EDNS until now.
    mutating func sentOPT(now: Int64, memory: Int64) -> Bool {
        ednsSeenUntil = now + memory
        guard ednsLackingUntil != 0 else { return false }
        ednsLackingUntil = 0
        edns.record(1)
        return true
    }

    /// It rejected our OPT record, then answered the same question without
    /// one: ask it without EDNS for `memory` nanoseconds (then with it again,
    /// in case it was upgraded). Not while it is known to speak EDNS (as
    /// Unbound: a reply seen with OPT outweighs one FORMERR). True when it is
    /// newly remembered.
    mutating func answeredOnlyWithoutEDNS(now: Int64, memory: Int64) -> Bool {
        guard ednsSeenUntil <= now, ednsLackingUntil <= now else { return false }
        ednsLackingUntil = now + memory
        edns.record(0)
        return true
    }

    /// Clears a memory of lacking EDNS that ran out, so that the gauge says so; true when there was one.
    mutating func forgetLackOfEDNS(now: Int64) -> Bool {
        guard ednsLackingUntil != 0, ednsLackingUntil <= now else { return false }
        ednsLackingUntil = 0
        edns.record(1)
        return true
    }

    func isDown(now: Int64) -> Bool { downUntil > now }

    /// How long to wait before also asking the next upstream: the RFC 6298
    /// RTO, between 50 ms and `timeout`; `timeout` while nothing is measured.
    func retransmitAfter(timeout: Int64) -> Int64 {
        guard measured else { return timeout }
        return min(timeout, max(50_000_000, srtt + max(10_000_000, 4 * rttvar)))
    }

    /// An answer came after `sample` nanoseconds: the upstream is up.
    mutating func answered(after sample: Int64) {
        if measured {
            rttvar = (3 * rttvar + abs(srtt - sample)) / 4
            srtt = (7 * srtt + sample) / 8
        } else {
            srtt = sample
            rttvar = sample / 2
            measured = true
        }
        failures = 0
        downUntil = 0
        probeDue = false
        rtt.recordNanoseconds(sample)
    }

    /// No answer within the timeout (or the port was closed). After two in a
    /// row the upstream is left alone for `downtime`, doubling up to 16 times
    /// that while it stays silent, then probed.
    mutating func failed(now: Int64, timeout: Int64, downtime: Int64) {
        failures += 1
        timeouts.increment()
        srtt = max(srtt, timeout)
        measured = true
        if failures >= 2 {
            downUntil = now + downtime << min(failures - 2, 4)
            probeDue = true
        }
    }

    /// The probe query is on its way: the next ones go elsewhere until it answers.
    mutating func probing() { probeDue = false }
}

extension Array where Element == Upstream {
    /// The upstream to ask next, among those not yet `tried`: one whose down
    /// time is over and owes a probe, else the fastest (smoothed RTT) that is
    /// up, else, when all are down, the one that comes back soonest.
    func choose(excluding tried: [Int], now: Int64) -> Int? {
        var best: Int? = nil
        for i in indices where !tried.contains(i) {
            let u = self[i]
            if u.probeDue, !u.isDown(now: now) { return i }
            guard let b = best else { best = i; continue }
            let v = self[b]
            switch (u.isDown(now: now), v.isDown(now: now)) {
            case (false, true): best = i
            case (true, true): if u.downUntil < v.downUntil { best = i }
            case (false, false): if u.srtt < v.srtt { best = i }
            case (true, false): break
            }
        }
        return best
    }
}
