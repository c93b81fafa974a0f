import DNSWire
import Sockets

/// A client waiting for its answer.
struct Waiter {
    let request: ForwardRequest
    let reply: @Sendable ([UInt8]) -> Void
    /// When the resolver thread took it (monotonic nanoseconds): its client response timer starts there.
    var arrived: Int64 = 0
}

/// One question being resolved upstream, with every client waiting for it
/// (identical questions in flight share one transaction: coalescing).
final class Transaction {
    let key: CacheKey
    let hash: Int
    let deadline: Int64
    var waiters: [Waiter]
    /// Upstream indices asked so far, in order.
    var tried: [Int] = []
    /// Queries still waiting for a reply (an earlier one stays open while a later one is tried).
    var attempts: [Attempt] = []
    /// When the first waiter's client response timer runs out, while a stale answer may serve it.
    var staleTimer: Int64?
    /// Some waiters were answered stale on their timer: the upstream's answer is a late refresh.
    var servedStale = false
    /// An upstream query it needed could not be sent: every slot taken, or no descriptor left.
    var starved = false

    init(key: CacheKey, hash: Int, deadline: Int64, first: Waiter) {
        self.key = key
        self.hash = hash
        self.deadline = deadline
        self.waiters = [first]
    }
}

/// How a query to an upstream stands to EDNS (RFC 6891 §7).
enum EDNSUse {
    /// With our OPT record.
    case offered
    /// Without, once, because the upstream just rejected our OPT record.
    case fallback
    /// Without, because the upstream is remembered as not speaking EDNS.
    case withheld

    var sendsOPT: Bool { self == .offered }
}

/// One query to one upstream, on its own socket.
final class Attempt {
    unowned let transaction: Transaction
    let upstream: Int
    let fd: Int32
    let id: UInt16
    let edns: EDNSUse
    let sentAt: Int64
    let deadline: Int64
    /// When to also ask the next upstream; nil once that happened.
    var retryAt: Int64?
    /// Set for a query over TCP (after a truncated UDP reply).
    let stream: UpstreamStream?

    init(transaction: Transaction, upstream: Int, fd: Int32, id: UInt16, edns: EDNSUse, sentAt: Int64,
         deadline: Int64, retryAt: Int64?, stream: UpstreamStream? = nil) {
        self.transaction = transaction
        self.upstream = upstream
        self.fd = fd
        self.id = id
        self.edns = edns
        self.sentAt = sentAt
        self.deadline = deadline
        self.retryAt = retryAt
        self.stream = stream
    }
}

/// A DNS exchange over TCP with an upstream (RFC 7766 §8), framed as the
/// Server frames its own TCP clients: the query queued with its length
/// prefix, the reply read into the same framing buffer.
final class UpstreamStream {
    var output = TCPOutput()
    var framing = TCPFraming()
    var connected = false

    init(query: [UInt8]) {
        query.withUnsafeBytes { output.append(message: $0) }
    }
}
