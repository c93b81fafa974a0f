import Sockets

/// How the process's open-file limit (RLIMIT_NOFILE, raised to its hard
/// limit at start-up) is shared out, so that no storm of queries can run
/// sixpn out of descriptors: the sockets it listens on, the database, its
/// pipes and a reserve come first; then TCP client connections (at most 256,
/// fewer under a small limit) and queries to upstreams in flight (one socket
/// each; `--upstream-inflight`, default the smaller of 1,024 and what is left).
struct DescriptorBudget: Equatable, CustomStringConvertible {
    /// The soft limit after raising it, and before.
    let limit: Int
    let limitBefore: Int
    /// Listeners, the database, the threads' pipes and rings, metrics, and a reserve.
    let fixed: Int
    let tcpConnections: Int
    /// 0 without upstreams.
    let upstreamInFlight: Int

    static let maxTCPConnections = 256
    static let defaultUpstreamInFlight = 1024
    /// What the database (SQLite's file, WAL and shared memory), the standard streams, Dispatch,
    /// the log and the odd short-lived descriptor may take beside the counted ones.
    static let reserve = 48
    /// The fewest upstream queries in flight a forwarder can work with.
    static let minimumUpstreamInFlight = 16

    var description: String {
        let raised = limitBefore < limit ? " (raised from \(limitBefore))" : ""
        return "open-file limit \(limit)\(raised): \(fixed) for listeners, threads and a reserve, "
            + "\(tcpConnections) TCP connections, \(upstreamInFlight) upstream queries in flight"
    }

    /// Shares out `limit` for `threads` UDP workers on `addresses` listen addresses (UDP and TCP each),
    /// a metrics listener or not, and upstreams or not; `requested` is `--upstream-inflight`.
    /// Refuses, in one line, a configuration that does not fit.
    static func plan(limit: Int, limitBefore: Int, threads: Int, addresses: Int, metrics: Bool, forwarding: Bool,
                     requested: Int?) throws(ServerError) -> DescriptorBudget {
        // Per address: one UDP socket per worker and one TCP listener; per worker an io_uring ring
        // (or nothing); the TCP thread's and the forwarder's wake pipes; the metrics listener and a client.
        let fixed = addresses * (threads + 1) + threads + 4 + (metrics ? 2 : 0) + reserve
        let left = limit - fixed
        guard left >= 8 + (forwarding ? minimumUpstreamInFlight : 0) else {
            throw ServerError("the open-file limit is \(limit): \(fixed) descriptors go to \(addresses) listen "
                + "address(es) x \(threads) workers, pipes and a reserve, leaving \(max(0, left)) for TCP clients"
                + (forwarding ? " and upstream queries (at least \(8 + minimumUpstreamInFlight) needed)" : " (at least 8 needed)")
                + "; raise it (ulimit -n, LimitNOFILE=) or use fewer --threads or --listen addresses")
        }
        let tcp = forwarding ? min(maxTCPConnections, max(8, left / 4)) : min(maxTCPConnections, left)
        var upstream = 0
        if forwarding {
            let room = left - tcp
            if let requested {
                guard requested >= 1 else { throw ServerError("--upstream-inflight must be at least 1") }
                guard requested <= room else {
                    throw ServerError("--upstream-inflight \(requested) does not fit the open-file limit \(limit): "
                        + "at most \(room) after listeners, threads, a reserve and \(tcp) TCP connections; "
                        + "raise the limit (ulimit -n, LimitNOFILE=) or ask for fewer")
                }
                upstream = requested
            } else {
                upstream = min(defaultUpstreamInFlight, room)
            }
        }
        return DescriptorBudget(limit: limit, limitBefore: limitBefore, fixed: fixed, tcpConnections: tcp,
                                upstreamInFlight: upstream)
    }
}
