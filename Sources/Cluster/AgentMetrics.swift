import Metrics
import NIOCore
import NIOHTTP1
import NIOPosix
import Prometheus

/// `sixpn agent --metrics ADDR:PORT`: the agent's counters for Prometheus,
/// `GET /metrics` in the text exposition format (anything else 404 or 405).
///
///     sixpn_agent_revision                  the store revision the database holds
///     sixpn_agent_skipped_values_total      values skipped (unparsable, or refused by the schema's rules)
///     sixpn_agent_relists_total             listings after a compaction or a new cluster
///     sixpn_agent_live_hosts                hosts registered now
public enum AgentMetrics {
    /// The process's registry, bootstrapped into swift-metrics the first time it is asked for.
    public static let registry: PrometheusCollectorRegistry = {
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        return registry
    }()

    /// `ADDR:PORT` or `[ADDR]:PORT`.
    public static func parseListen(_ text: String) throws(ClusterError) -> (host: String, port: Int) {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]),
              (1...65535).contains(port) else {
            throw ClusterError(.configuration, "--metrics: \"\(text)\" is not ADDR:PORT or [ADDR]:PORT")
        }
        var host = text[..<colon]
        if host.first == "[", host.last == "]" { host = host.dropFirst().dropLast() }
        guard !host.isEmpty else { throw ClusterError(.configuration, "--metrics: \"\(text)\" has no address") }
        return (String(host), port)
    }

    /// Binds `host:port` (errors are start-up errors) and serves until the process ends.
    public static func serve(host: String, port: Int) async throws {
        _ = registry
        _ = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(MetricsHandler())
                }
            }
            .bind(host: host, port: port).get()
    }
}

/// One response per connection, then close: scrapers, not the public.
private final class MetricsHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart
    private var head: HTTPRequestHead?

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let h):
            head = h
        case .body:
            break
        case .end:
            guard let h = head else { return }
            let status: HTTPResponseStatus
            var body: [UInt8] = []
            if h.method != .GET {
                status = .methodNotAllowed
            } else if h.uri == "/metrics" || h.uri.hasPrefix("/metrics?") {
                status = .ok
                body = AgentMetrics.registry.emitToBuffer()
            } else {
                status = .notFound
            }
            var headers = HTTPHeaders()
            headers.add(name: "Content-Type", value: "text/plain; version=0.0.4; charset=utf-8")
            headers.add(name: "Content-Length", value: "\(body.count)")
            headers.add(name: "Connection", value: "close")
            context.write(wrapOutboundOut(.head(HTTPResponseHead(version: h.version, status: status, headers: headers))), promise: nil)
            context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(bytes: body)))), promise: nil)
            let ctx = NIOLoopBound(context, eventLoop: context.eventLoop)
            context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in ctx.value.close(promise: nil) }
        }
    }
}
