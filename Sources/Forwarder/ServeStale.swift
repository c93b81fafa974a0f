import DNSWire

/// Serving stale data (RFC 8767): when every upstream failed, on the client
/// response timer while an upstream is slow, and for the failure recheck
/// time after a failure.
extension Resolver {
    /// Whether `key` failed recently enough (RFC 8767 §4's 30 s recheck timer)
    /// that its stale `entry` is served at once instead of asking again.
    func recheckingAfterFailure(_ key: CacheKey, entry e: CacheEntry, now: Int64) -> Bool {
        guard let until = failedRecently[key] else { return false }
        return now < until && now < e.fields.pointee.staleUntil
    }

    /// RFC 8767 §5's client response timer: the waiters that have waited
    /// `clientTimer` get the stale answer now; the transaction goes on, and its
    /// answer, when it comes, refreshes the cache for the next client.
    func answerStale(_ t: Transaction, now: Int64) {
        t.staleTimer = nil
        guard let e = cache.find(t.key, hash: t.hash), now < e.fields.pointee.staleUntil else { return }
        var waiting: [Waiter] = []
        for w in t.waiters {
            if now - w.arrived >= clientTimer {
                // Counted before the client has its answer, so that it sees the count.
                counters.staleAnswers.wrappingIncrement(ordering: .relaxed)
                counters.staleOnClientTimer.wrappingIncrement(ordering: .relaxed)
                t.servedStale = true
                serve(w, from: e, now: now, stale: true)
            } else {
                waiting.append(w)
                t.staleTimer = min(t.staleTimer ?? .max, w.arrived + clientTimer)
            }
        }
        t.waiters = waiting
    }

    /// Every upstream failed, or no upstream query could be sent (`starved`: the bound on
    /// queries in flight, or no descriptor left): a stale answer when one may be served
    /// (RFC 8767), else SERVFAIL with an Extended DNS Error, "No Reachable Authority" (22), or
    /// "Other" (0) saying the upstream capacity is used up. Only a real failure starts the
    /// 30 s recheck timer: a full house says nothing about the upstream.
    func fail(_ t: Transaction, now: Int64) {
        finish(t)
        if t.starved { counters.refusedNoSlot.wrappingIncrement(by: t.waiters.count, ordering: .relaxed) }
        if staleWindow > 0, let e = cache.find(t.key, hash: t.hash), now < e.fields.pointee.staleUntil {
            counters.staleAnswers.wrappingIncrement(by: t.waiters.count, ordering: .relaxed)
            if !t.starved { failedRecently[t.key] = now + Resolver.failureRecheck }
            for w in t.waiters { serve(w, from: e, now: now, stale: true) }
        } else {
            for w in t.waiters {
                w.reply(t.starved
                    ? w.request.errorReply(.servFail, extendedError: ExtendedDNSError.other,
                                           extendedErrorText: .upstreamCapacity)
                    : w.request.errorReply(.servFail, extendedError: ExtendedDNSError.noReachableAuthority))
            }
        }
    }
}
