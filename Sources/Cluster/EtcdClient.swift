import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import GRPCProtobuf
import SwiftProtobuf

/// How to reach the etcd cluster: its members' client URLs and, for TLS, the
/// CA that signed their certificates and this client's certificate and key
/// (etcd takes the certificate's common name as the user when auth is on).
public struct EtcdConfiguration: Sendable, Equatable {
    public var endpoints: [(host: String, port: Int)]
    public var tls: TLSFiles?
    /// How long a single request (not a watch or a keep-alive) may take.
    public var requestTimeout: Duration

    public struct TLSFiles: Sendable, Equatable {
        public var caCertificate: String
        public var certificate: String?
        public var key: String?
    }

    public static func == (a: Self, b: Self) -> Bool {
        a.endpoints.elementsEqual(b.endpoints, by: { $0 == $1 }) && a.tls == b.tls && a.requestTimeout == b.requestTimeout
    }

    /// Parses `--etcd URL[,URL...]` (`https://HOST:PORT`, `http://HOST:PORT` or
    /// `HOST:PORT`) and the TLS flags. https needs `--etcd-cacert`; a client
    /// certificate and key come together or not at all.
    public init(urls: String, caCertificate: String?, certificate: String?, key: String?,
                requestTimeout: Duration = .seconds(5)) throws(ClusterError) {
        var endpoints: [(String, Int)] = []
        var schemes = Set<String>()
        for url in urls.split(separator: ",") {
            var rest = Substring(url)
            if let r = rest.range(of: "://") {
                schemes.insert(String(rest[..<r.lowerBound]))
                rest = rest[r.upperBound...]
            }
            if rest.last == "/" { rest = rest.dropLast() }
            var host: Substring, port: Substring
            if rest.first == "[", let close = rest.firstIndex(of: "]") {
                host = rest[rest.index(after: rest.startIndex)..<close]
                port = rest[close...].dropFirst(2)
            } else if let colon = rest.lastIndex(of: ":") {
                host = rest[..<colon]
                port = rest[rest.index(after: colon)...]
            } else {
                host = rest
                port = "2379"
            }
            guard !host.isEmpty, let p = Int(port), (1...65535).contains(p) else {
                throw ClusterError(.configuration, "--etcd: \"\(url)\" is not URL or HOST:PORT of an etcd member")
            }
            endpoints.append((String(host), p))
        }
        guard !endpoints.isEmpty else { throw ClusterError(.configuration, "--etcd: no endpoint given") }
        guard schemes.isSubset(of: ["http", "https"]), schemes.count <= 1 else {
            throw ClusterError(.configuration, "--etcd: the URLs must all be http:// or all https://")
        }
        guard (certificate == nil) == (key == nil) else {
            throw ClusterError(.configuration, "--etcd-cert and --etcd-key come together")
        }
        if schemes.contains("https") || caCertificate != nil || certificate != nil {
            guard let caCertificate else {
                throw ClusterError(.configuration, "--etcd: TLS needs --etcd-cacert (the CA that signed the members' certificates)")
            }
            for f in [caCertificate, certificate, key].compactMap({ $0 }) {
                guard access(f, R_OK) == 0 else { throw ClusterError(.configuration, "cannot read \(f)") }
            }
            tls = TLSFiles(caCertificate: caCertificate, certificate: certificate, key: key)
        } else {
            tls = nil
        }
        self.endpoints = endpoints
        self.requestTimeout = requestTimeout
    }

    /// `https://a:2379,https://b:2379`, for messages.
    public var description: String {
        endpoints.map { "\(tls == nil ? "http" : "https")://\($0.host.contains(":") ? "[\($0.host)]" : $0.host):\($0.port)" }
            .joined(separator: ",")
    }
}

/// etcd's v3 API over gRPC (grpc-swift 2, SwiftNIO HTTP/2, TLS): the `ClusterStore` sixpn uses.
///
/// Requests go round-robin over the members that are up; a member that is down
/// or refuses is skipped, so one stopped member of three costs nothing.
public struct EtcdClient: ClusterStore {
    private let kv: Etcdserverpb_KV.Client<HTTP2ClientTransport.Posix>
    private let watchService: Etcdserverpb_Watch.Client<HTTP2ClientTransport.Posix>
    private let lease: Etcdserverpb_Lease.Client<HTTP2ClientTransport.Posix>
    private let configuration: EtcdConfiguration

    /// Connects to the cluster, runs `body` with a client, then closes the connections.
    public static func with<R: Sendable>(_ configuration: EtcdConfiguration,
                                         _ body: (EtcdClient) async throws -> R) async throws -> R {
        let transport = try HTTP2ClientTransport.Posix(
            target: target(configuration),
            transportSecurity: security(configuration),
            config: .defaults { c in
                c.backoff.initial = .milliseconds(100)
                c.backoff.max = .seconds(2)
                c.connection.maxIdleTime = nil
                // HTTP/2 pings find a member that went away while a watch was idle.
                c.connection.keepalive = .init(time: .seconds(5), timeout: .seconds(3), allowWithoutCalls: true)
            },
            serviceConfig: ServiceConfig(loadBalancingConfig: [.roundRobin])
        )
        return try await withGRPCClient(transport: transport) { grpc in
            try await body(EtcdClient(grpc, configuration))
        }
    }

    private init(_ grpc: GRPCClient<HTTP2ClientTransport.Posix>, _ configuration: EtcdConfiguration) {
        kv = .init(wrapping: grpc)
        watchService = .init(wrapping: grpc)
        lease = .init(wrapping: grpc)
        self.configuration = configuration
    }

    private static func target(_ c: EtcdConfiguration) throws(ClusterError) -> any ResolvableTarget {
        let pairs = c.endpoints.map { (host: $0.host, port: $0.port) }
        if pairs.allSatisfy({ IPv4Literal.isValid($0.host) }) { return ResolvableTargets.IPv4.ipv4(pairs: pairs) }
        if pairs.allSatisfy({ $0.host.contains(":") }) { return ResolvableTargets.IPv6.ipv6(pairs: pairs) }
        if pairs.count == 1 { return ResolvableTargets.DNS.dns(host: pairs[0].host, port: pairs[0].port) }
        throw ClusterError(.configuration, "--etcd: several endpoints must be IP addresses of one family")
    }

    private static func security(_ c: EtcdConfiguration) -> HTTP2ClientTransport.Posix.TransportSecurity {
        guard let files = c.tls else { return .plaintext }
        return .tls(.init(
            certificateChain: files.certificate.map { [.file(path: $0, format: .pem)] } ?? [],
            privateKey: files.key.map { .file(path: $0, format: .pem) },
            serverCertificateVerification: .fullVerification,
            trustRoots: .certificates([.file(path: files.caCertificate, format: .pem)])))
    }

    private var unary: CallOptions {
        var o = CallOptions.defaults
        o.timeout = configuration.requestTimeout
        o.waitForReady = true
        return o
    }

    /// A page of a listing may be larger than gRPC's default 4 MiB message.
    private var listing: CallOptions {
        var o = unary
        o.maxRequestMessageBytes = Self.maxListingPageBytes
        o.maxResponseMessageBytes = Self.maxListingPageBytes
        return o
    }

    static let maxListingPageBytes = 256 << 20

    // MARK: - KV

    public func list(prefix: String, revision: Int64?, pageSize: Int) async throws -> StoreListing {
        var entries: [StoredEntry] = []
        let at = try await listPages(prefix: prefix, revision: revision, pageSize: pageSize) { entries += $0 }
        return StoreListing(entries: entries, revision: at.revision, clusterID: at.clusterID)
    }

    /// Pages in key order, each handed to `page` while the next one is on its way:
    /// listing a million keys costs about the larger of etcd's time and the caller's,
    /// not their sum.
    public func listPages(prefix: String, revision: Int64?, pageSize: Int,
                          _ page: ([StoredEntry]) throws -> Void) async throws -> (revision: Int64, clusterID: UInt64) {
        let end = Data(Self.rangeEnd(prefix))
        func request(from: Data, at: Int64) -> Task<Etcdserverpb_RangeResponse, any Error> {
            var r = Etcdserverpb_RangeRequest()
            r.key = from
            r.rangeEnd = end
            r.limit = Int64(pageSize)
            r.revision = at
            return Task { try await call("list \(prefix)") { try await kv.range(r, options: listing) } }
        }
        var at = revision ?? 0
        var clusterID: UInt64 = 0
        var next: Task<Etcdserverpb_RangeResponse, any Error>? = request(from: Data(prefix.utf8), at: at)
        defer { next?.cancel() }
        while let current = next {
            let response = try await current.value
            // Every page reads the revision of the first, so the listing is one state.
            if at == 0 { at = response.header.revision }
            clusterID = response.header.clusterID
            next = nil
            if response.more, let last = response.kvs.last { next = request(from: last.key + [0], at: at) }
            try page(response.kvs.map(Self.entry))
        }
        return (at, clusterID)
    }

    public func get(_ key: String) async throws -> StoredEntry? {
        var r = Etcdserverpb_RangeRequest()
        r.key = Data(key.utf8)
        let response = try await call("get \(key)") { try await kv.range(r, options: unary) }
        return response.kvs.first.map(Self.entry)
    }

    public func transaction(_ conditions: [StoreCondition], _ operations: [StoreOperation]) async throws -> StoreTransactionResult {
        var t = Etcdserverpb_TxnRequest()
        t.compare = conditions.map { c in
            var m = Etcdserverpb_Compare()
            switch c {
            case .absent(let k):
                m.key = Data(k.utf8); m.target = .create; m.result = .equal; m.createRevision = 0
            case .present(let k):
                m.key = Data(k.utf8); m.target = .create; m.result = .greater; m.createRevision = 0
            case .modRevision(let k, let rev):
                m.key = Data(k.utf8); m.target = .mod; m.result = .equal; m.modRevision = rev
            }
            return m
        }
        t.success = operations.map { o in
            var op = Etcdserverpb_RequestOp()
            switch o {
            case let .put(k, v, lease):
                var p = Etcdserverpb_PutRequest()
                p.key = Data(k.utf8); p.value = Data(v); p.lease = lease
                op.requestPut = p
            case .delete(let k):
                var d = Etcdserverpb_DeleteRangeRequest()
                d.key = Data(k.utf8)
                op.requestDeleteRange = d
            case .get(let k):
                var g = Etcdserverpb_RangeRequest()
                g.key = Data(k.utf8)
                op.requestRange = g
            }
            return op
        }
        let response = try await call("transaction") { try await kv.txn(t, options: unary) }
        let gets: [StoredEntry?] = response.responses.compactMap { r in
            if case .responseRange(let range)? = r.response { return .some(range.kvs.first.map(Self.entry)) }
            return nil
        }
        return StoreTransactionResult(succeeded: response.succeeded, revision: response.header.revision, gets: gets)
    }

    /// Compacts the store's history up to `revision` (tests and operators; the agent never does).
    public func compact(to revision: Int64) async throws {
        var r = Etcdserverpb_CompactionRequest()
        r.revision = revision
        _ = try await call("compact") { try await kv.compact(r, options: unary) }
    }

    // MARK: - Watch

    public func watch(prefix: String, from revision: Int64,
                      _ body: @escaping @Sendable (StoreWatchBatch) async throws -> Bool) async throws {
        var create = Etcdserverpb_WatchCreateRequest()
        create.key = Data(prefix.utf8)
        create.rangeEnd = Data(Self.rangeEnd(prefix))
        create.startRevision = revision
        create.progressNotify = true
        let request = Etcdserverpb_WatchRequest.with { $0.createRequest = create }
        let (done, finish) = AsyncStream<Void>.makeStream()
        defer { finish.finish() }
        var options = CallOptions.defaults
        options.waitForReady = true
        try await call("watch \(prefix)") {
            try await watchService.watch(options: options, requestProducer: { writer in
                try await writer.write(request)
                // The request side stays open as long as the watch: etcd ends a watch whose client stopped sending.
                for await _ in done {}
            }, onResponse: { response in
                var pending: [StoreEvent] = []
                for try await m in response.messages {
                    if m.compactRevision != 0 {
                        throw ClusterError(.compacted, "revision \(revision) has been compacted (store compacted to \(m.compactRevision))")
                    }
                    if m.canceled {
                        throw ClusterError(.unavailable, "watch cancelled by the store: \(m.cancelReason)")
                    }
                    pending.reserveCapacity(pending.count + m.events.count)
                    for e in m.events {
                        pending.append(StoreEvent(kind: e.type == .delete ? .delete : .put, entry: Self.entry(e.kv)))
                    }
                    // A revision larger than the watch's limit comes in fragments; apply only whole ones.
                    if m.fragment { continue }
                    if m.created && pending.isEmpty { continue }
                    // The header's revision may run ahead of what was sent while a watch catches up
                    // (etcd sends 1,000 revisions at a time): the last event's is the one reached.
                    // A response without events is a progress note, sent only once caught up.
                    let reached = pending.last?.entry.modRevision ?? m.header.revision
                    let batch = StoreWatchBatch(events: pending, revision: reached, clusterID: m.header.clusterID)
                    pending.removeAll(keepingCapacity: true)
                    guard try await body(batch) else { return }
                }
                throw ClusterError(.unavailable, "the watch stream ended")
            })
        }
    }

    // MARK: - Lease

    public func grantLease(ttl: Int64) async throws -> StoreLease {
        var r = Etcdserverpb_LeaseGrantRequest()
        r.ttl = ttl
        let response = try await call("lease grant") { try await lease.leaseGrant(r, options: unary) }
        guard response.error.isEmpty else { throw ClusterError(.other, "lease grant: \(response.error)") }
        return StoreLease(id: response.id, ttl: response.ttl)
    }

    public func keepAlive(_ l: StoreLease) async throws {
        let r = Etcdserverpb_LeaseKeepAliveRequest.with { $0.id = l.id }
        let interval = Duration.milliseconds(max(l.ttl * 1000 / 3, 200))
        var options = CallOptions.defaults
        options.waitForReady = false
        try await call("lease keep-alive") {
            try await lease.leaseKeepAlive(options: options, requestProducer: { writer in
                while true {
                    try await writer.write(r)
                    try await Task.sleep(for: interval)
                }
            }, onResponse: { response in
                for try await m in response.messages where m.ttl <= 0 {
                    return  // expired: the store forgot the lease and every key under it
                }
                throw ClusterError(.unavailable, "the lease keep-alive stream ended")
            })
        }
    }

    public func revokeLease(_ l: StoreLease) async throws {
        var r = Etcdserverpb_LeaseRevokeRequest()
        r.id = l.id
        _ = try await call("lease revoke") { try await lease.leaseRevoke(r, options: unary) }
    }

    // MARK: - Pieces

    /// The end of the key range that holds exactly the keys starting with `prefix`.
    static func rangeEnd(_ prefix: String) -> [UInt8] {
        var end = Array(prefix.utf8)
        while let last = end.last {
            if last < 0xff { end[end.count - 1] = last + 1; return end }
            end.removeLast()
        }
        return [0]
    }

    private static func entry(_ e: Etcdserverpb_KeyValue) -> StoredEntry {
        StoredEntry(key: String(decoding: e.key, as: UTF8.self), value: [UInt8](e.value),
                    createRevision: e.createRevision, modRevision: e.modRevision, lease: e.lease)
    }

    /// Runs one call; a gRPC failure becomes a `ClusterError` that says what and where.
    private func call<R>(_ what: String, _ body: () async throws -> R) async throws -> R {
        do {
            return try await body()
        } catch let e as ClusterError {
            throw e
        } catch let e as RPCError {
            throw Self.clusterError(e, what: what, endpoints: configuration.description)
        }
    }

    static func clusterError(_ e: RPCError, what: String, endpoints: String) -> ClusterError {
        let message = e.message.hasPrefix("etcdserver: ") ? String(e.message.dropFirst(12)) : e.message
        let kind: ClusterError.Kind
        switch e.code {
        case .unavailable, .deadlineExceeded, .cancelled: kind = .unavailable
        case .permissionDenied, .unauthenticated: kind = .denied
        case .outOfRange where message.contains("compacted"): kind = .compacted
        default: kind = message.contains("user name") || message.contains("permission") ? .denied : .other
        }
        var cause = ""
        if kind == .unavailable, let c = e.cause { cause = " (\(String(describing: c).prefix(160)))" }
        return ClusterError(kind, "etcd \(endpoints): \(what): \(message)\(cause)")
    }
}

/// Dotted-quad check, so that IPv4 members get the IPv4 resolver.
enum IPv4Literal {
    static func isValid(_ s: String) -> Bool {
        let parts = s.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4 && parts.allSatisfy { UInt8($0) != nil }
    }
}
