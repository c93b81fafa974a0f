import DNSWire
import Sockets

/// What the Forwarder asks, of whom, how long it waits and how much it keeps.
public struct ForwarderConfiguration: Sendable {
    /// Where queries go, tried in order of smoothed RTT. Empty: every
    /// forwarded query is answered REFUSED.
    public var upstreams: [SocketAddress]
    /// How long one upstream gets to answer before the next is asked; a
    /// client gets its answer (or SERVFAIL, or a stale answer) within twice this.
    public var timeout: Duration
    /// The most answers the cache holds.
    public var cacheEntries: Int
    /// The most octets the cache's answers take, bookkeeping included.
    public var cacheBytes: Int
    /// How long past its TTL an answer may still be served when every
    /// upstream fails (RFC 8767 §5 suggests 1 to 3 days). Zero turns serve-stale off.
    public var serveStale: Duration
    /// The TTL of a stale answer (RFC 8767 §4: 30 seconds).
    public var staleTTL: UInt32
    /// TTLs above this are cut to it (RFC 8767 §4 suggests 7 days at most).
    public var maxTTL: UInt32
    /// Negative answers are kept at most this long (RFC 2308 §5 suggests 1 to 3 hours).
    public var maxNegativeTTL: UInt32
    /// The UDP payload size offered upstream (clients get what admission decided).
    public var ednsPayloadSize: UInt16
    /// How long an upstream that stopped answering is left alone before it is probed again.
    public var downtime: Duration
    /// How long what an upstream showed of EDNS is remembered (RFC 6891 §7): one that
    /// rejected our OPT record but answered without it is asked without EDNS for this
    /// long, then with it again; one seen answering with OPT is never put on that list
    /// meanwhile (Unbound's infra cache keeps a host 15 minutes).
    public var ednsMemory: Duration
    /// RFC 8767 §5's client response timer: a client whose answer is in the cache
    /// but expired gets it stale (TTL ``staleTTL``) once it has waited this long for
    /// the upstreams, whose answer still refreshes the cache when it comes. Below
    /// glibc's 5 s resolver timeout; zero turns it off (stale only when every upstream failed).
    public var clientResponseTimer: Duration
    /// The most queries to upstreams in flight at once, each on its own socket
    /// (`--upstream-inflight`): a question that would need one more gets a
    /// stale answer if there is one, else SERVFAIL with an Extended DNS Error,
    /// at once. The Server sizes it from the open-file limit.
    public var upstreamInFlight: Int
    /// `--org-cache-share`: the percentage of the cache's entries and octets one organization's
    /// answers may hold once the cache is full and another organization's answers are in it too;
    /// past it, its own newest entry makes room for its new one (100: no share, CLOCK for all).
    public var organizationCacheShare = 50
    /// Sees each upstream query and reply (`--dnstap`); nil: nothing is looked at.
    public var tap: (any UpstreamTap)? = nil

    public init(upstreams: [SocketAddress], timeout: Duration = .milliseconds(1500),
                cacheEntries: Int = 100_000, cacheBytes: Int = 64 << 20,
                serveStale: Duration = .seconds(86_400), staleTTL: UInt32 = 30,
                maxTTL: UInt32 = 86_400, maxNegativeTTL: UInt32 = 3_600,
                ednsPayloadSize: UInt16 = EDNS.flagDayPayloadSize, downtime: Duration = .seconds(5),
                ednsMemory: Duration = .seconds(900), clientResponseTimer: Duration = .milliseconds(1800),
                upstreamInFlight: Int = 1024) {
        self.upstreams = upstreams
        self.timeout = timeout
        self.cacheEntries = cacheEntries
        self.cacheBytes = cacheBytes
        self.serveStale = serveStale
        self.staleTTL = staleTTL
        self.maxTTL = maxTTL
        self.maxNegativeTTL = maxNegativeTTL
        self.ednsPayloadSize = ednsPayloadSize
        self.downtime = downtime
        self.ednsMemory = ednsMemory
        self.clientResponseTimer = clientResponseTimer
        self.upstreamInFlight = upstreamInFlight
    }
}
