#if canImport(Glibc)
import Glibc
#endif
import DNSWire
import Sockets

/// How the resolver thread talks to upstreams: one UDP socket per query
/// (RFC 5452's random port and ID), and TCP after a truncated reply
/// (RFC 7766), framed with the Server's own length-prefix framer.
extension Resolver {
    /// What became of one query to an upstream.
    enum AskResult {
        case sent
        /// The upstream could not be asked (it is marked failed for a while).
        case failed
        /// No socket could be opened: the process has no descriptor left (the transaction is starved).
        case noDescriptor
    }

    /// Sends the transaction's question to upstream `i` over UDP. The caller has checked for a slot.
    func ask(_ t: Transaction, upstream i: Int, edns: EDNSUse, now: Int64) -> AskResult {
        let id = UInt16.random(in: .min ... .max, using: &random)
        let query = UpstreamQuery.make(id: id, key: t.key, payloadSize: configuration.ednsPayloadSize,
                                       edns: edns.sendsOPT)
        do {
            let fd = try openUDP(to: upstreams[i].address)
            do {
                guard try query.withUnsafeBytes({ try Syscalls.send(fd, $0) }) == query.count else {
                    throw Errno("send", EAGAIN)
                }
                if let tap = configuration.tap {
                    query.withUnsafeBytes { tap.sent(query: $0, to: upstreams[i].address, tcp: false) }
                }
            } catch {
                Syscalls.close(fd)
                throw error
            }
            if upstreams[i].probeDue { upstreams[i].probing() }
            let retry = upstreams[i].retransmitAfter(timeout: timeout)
            let a = Attempt(transaction: t, upstream: i, fd: fd, id: id, edns: edns, sentAt: now,
                            deadline: min(now + timeout, t.deadline), retryAt: now + retry)
            opened(a, for: t, upstream: i)
            return .sent
        } catch {
            if outOfDescriptors(error, t, now: now) { return .noDescriptor }
            logger.warning("cannot query upstream \(upstreams[i].address): \(error)")
            upstreams[i].failed(now: now, timeout: timeout, downtime: configuration.downtime.nanoseconds)
            return .failed
        }
    }

    /// Records an attempt whose query went out.
    private func opened(_ a: Attempt, for t: Transaction, upstream i: Int) {
        t.attempts.append(a)
        attempts[a.fd] = a
        counters.inFlight.store(attempts.count, ordering: .relaxed)
        upstreams[i].queries.increment()
        counters.upstreamQueries.wrappingIncrement(ordering: .relaxed)
    }

    /// True (counted, and logged once a minute) when `error` is EMFILE or ENFILE: the upstream is
    /// not to blame, the transaction is starved.
    private func outOfDescriptors(_ error: any Error, _ t: Transaction, now: Int64) -> Bool {
        guard let e = error as? Errno, e.isDescriptorExhaustion else { return false }
        t.starved = true
        counters.descriptorErrors.wrappingIncrement(ordering: .relaxed)
        if descriptorWarning.due(now: now) {
            logger.warning("no file descriptor left for an upstream query: \(error); answering from stale data or SERVFAIL until one is (logged once a minute; sixpn_forwarder_descriptor_errors_total counts them)")
        }
        return true
    }

    /// A UDP socket bound to a random port (RFC 5452 §9.2: the port is half the
    /// guessing), connected to the upstream so that the kernel drops datagrams
    /// from any other address or port and reports a closed port at once.
    private func openUDP(to upstream: SocketAddress) throws(Errno) -> Int32 {
        let fd = try Syscalls.socket(family: upstream.family, stream: false, nonBlocking: true)
        let any: SocketAddress = upstream.family == AF_INET
            ? SocketAddress(host: .v4(0), port: 0)
            : SocketAddress(host: .v6(IPv6Address(high: 0, low: 0), scopeID: 0), port: 0)
        var bound = false
        for _ in 0..<10 where !bound {
            var local = any
            local.port = UInt16.random(in: 1024 ... .max, using: &random)
            bound = (try? Syscalls.bind(fd, local)) != nil
        }
        do {
            if !bound { try Syscalls.bind(fd, any) }  // every try was in use: the kernel picks
            try Syscalls.connect(fd, upstream)
        } catch {
            Syscalls.close(fd)
            throw error
        }
        return fd
    }

    /// A socket is ready: a reply to read, or a TCP exchange to continue.
    func ready(_ a: Attempt, now: Int64) {
        if let stream = a.stream { return continueStream(a, stream, now: now) }
        while true {
            let received: Int?
            do {
                received = try buffer.withUnsafeMutableBytes { try Syscalls.receive(a.fd, into: $0) }
            } catch {
                // ICMP port unreachable: nothing listens there. Count it and move on at once.
                close(a)
                upstreams[a.upstream].failed(now: now, timeout: timeout, downtime: configuration.downtime.nanoseconds)
                return afterFailure(a.transaction, now: now)
            }
            guard let n = received else { return }
            let ended = buffer.withUnsafeBytes { handle(reply: UnsafeRawBufferPointer(rebasing: $0[0..<n]), from: a, now: now) }
            if ended { return }
        }
    }

    /// Retries a truncated answer over TCP to the same upstream (RFC 7766 §5), asked as the UDP query was.
    func openStream(_ t: Transaction, upstream i: Int, edns: EDNSUse, now: Int64) {
        guard hasSlot(for: t) else { return afterFailure(t, now: now) }
        let id = UInt16.random(in: .min ... .max, using: &random)
        let query = UpstreamQuery.make(id: id, key: t.key, payloadSize: configuration.ednsPayloadSize,
                                       edns: edns.sendsOPT)
        do {
            let fd = try Syscalls.socket(family: upstreams[i].address.family, stream: true, nonBlocking: true)
            do { try Syscalls.connect(fd, upstreams[i].address) } catch { Syscalls.close(fd); throw error }
            let a = Attempt(transaction: t, upstream: i, fd: fd, id: id, edns: edns, sentAt: now,
                            deadline: min(now + timeout, t.deadline), retryAt: nil,
                            stream: UpstreamStream(query: query))
            opened(a, for: t, upstream: i)
            if let tap = configuration.tap {
                query.withUnsafeBytes { tap.sent(query: $0, to: upstreams[i].address, tcp: true) }
            }
        } catch {
            if !outOfDescriptors(error, t, now: now) {
                logger.warning("cannot open TCP to upstream \(upstreams[i].address): \(error)")
            }
            afterFailure(t, now: now)
        }
    }

    /// Whether the resolver's poll should wait for the socket to take more of the query.
    static func writing(_ a: Attempt) -> Bool {
        a.stream.map { !$0.connected || $0.output.pending > 0 } ?? false
    }

    private func continueStream(_ a: Attempt, _ s: UpstreamStream, now: Int64) {
        do {
            if !s.connected {
                let error = Syscalls.pendingError(a.fd)
                guard error == 0 else { throw Errno("connect \(upstreams[a.upstream].address)", error) }
                s.connected = true
            }
            if s.output.pending > 0 {
                let fd = a.fd
                guard s.output.flush({ bytes throws(Errno) in try Syscalls.send(fd, bytes) ?? 0 }) else {
                    throw Errno("send", EPIPE)
                }
                return
            }
            guard let n = try Syscalls.receive(a.fd, into: s.framing.freeSpace) else { return }
            guard n > 0 else { throw Errno("recv (connection closed)", ECONNRESET) }
            s.framing.didRead(n)
            if let message = s.framing.nextMessage(), !handle(reply: message, from: a, now: now) {
                throw Errno("a reply that does not match the query", EPROTO)
            }
        } catch {
            logger.info("TCP to upstream \(upstreams[a.upstream].address) failed: \(error)")
            close(a)
            afterFailure(a.transaction, now: now)
        }
    }
}
