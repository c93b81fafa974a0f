import Metrics
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

    /// `GET /metrics` in the text exposition format; any other path 404, any other method 405
    /// (the executable serves it with `Operations.HTTPEndpoint`).
    @Sendable
    public static func respond(method: String, uri: String) -> (status: Int, contentType: String, body: String) {
        let text = "text/plain; charset=utf-8"
        guard method == "GET" else { return (405, text, "only GET\n") }
        guard uri.prefix(while: { $0 != "?" }) == "/metrics" else { return (404, text, "not found: GET /metrics\n") }
        return (200, "text/plain; version=0.0.4; charset=utf-8", registry.emitToString())
    }
}
