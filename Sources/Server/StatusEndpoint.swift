import Sockets

/// The metrics listener (`--metrics ADDR:PORT`): `GET /metrics`, `/health`
/// and `/ready` over HTTP. The Server binds it with the DNS sockets (so its
/// address errors are start-up errors) and closes it last, so that /health
/// says 503 through the whole shutdown. The HTTP itself is not here: the
/// executable passes an endpoint on swift-nio (`Operations.HTTPEndpoint`),
/// so that the query path, and the fuzzer's instrumented build, never link NIO.
public protocol StatusEndpoint: AnyObject, Sendable {
    /// Stops listening and closes every connection.
    func close()
}

/// Binds a ``StatusEndpoint`` on an address and starts serving `pages` there.
public typealias StatusEndpointFactory = @Sendable (SocketAddress, StatusPages) throws(Errno) -> any StatusEndpoint

/// What the status endpoint serves, read on each request.
public struct StatusPages: Sendable {
    /// `GET /metrics`: the Prometheus text exposition.
    public let exposition: @Sendable () -> String
    /// `GET /health` and `GET /ready`.
    public let health: ServerHealth

    public init(exposition: @escaping @Sendable () -> String, health: ServerHealth) {
        self.exposition = exposition
        self.health = health
    }

    static let text = "text/plain; charset=utf-8"

    /// A request's status code, Content-Type and body: `/metrics`, `/health`, `/ready`;
    /// any other path 404, any other method than GET 405.
    @Sendable
    public func reply(method: String, uri: String) -> (status: Int, contentType: String, body: String) {
        guard method == "GET" else { return (405, Self.text, "only GET\n") }
        switch uri.prefix(while: { $0 != "?" }) {
        case "/metrics": return (200, "text/plain; version=0.0.4; charset=utf-8", exposition())
        case "/health":
            let (status, body) = health.health
            return (status, Self.text, body)
        case "/ready":
            let (status, body) = health.ready
            return (status, Self.text, body)
        default: return (404, Self.text, "not found: GET /metrics, /health or /ready\n")
        }
    }
}
