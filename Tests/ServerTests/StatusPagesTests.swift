import Testing
@testable import Server

/// GET /health, /ready and /metrics in each phase of a server's life (the HTTP around them:
/// OperationsTests and tests/integration/test_operations.sh).
@Suite struct StatusPagesTests {
    let health = ServerHealth()
    var pages: StatusPages { StatusPages(exposition: { "sixpn_up 1\n" }, health: health) }

    func statuses() -> (health: Int, ready: Int) {
        (pages.reply(method: "GET", uri: "/health").status, pages.reply(method: "GET", uri: "/ready").status)
    }

    @Test func eachPhase() {
        #expect(statuses() == (200, 503), "before the database loads: alive, not ready")
        #expect(pages.reply(method: "GET", uri: "/ready").body == "database not loaded\n")
        health.enter(.serving)
        #expect(statuses() == (200, 503), "serving, but no worker has been seen turning yet")
        health.setWorkersAnswering(true)
        #expect(statuses() == (200, 200))
        health.setWorkersAnswering(false)
        #expect(pages.reply(method: "GET", uri: "/ready").body == "workers not answering\n")
        health.setWorkersAnswering(true)
        health.enter(.stopping)
        #expect(statuses() == (503, 503), "lameduck and shutdown")
        #expect(pages.reply(method: "GET", uri: "/health").body == "shutting down\n")
    }

    @Test func otherRequests() {
        let metrics = pages.reply(method: "GET", uri: "/metrics?name[]=x")
        #expect(metrics.status == 200 && metrics.body == "sixpn_up 1\n")
        #expect(metrics.contentType.hasPrefix("text/plain; version=0.0.4"))
        #expect(pages.reply(method: "GET", uri: "/").status == 404)
        #expect(pages.reply(method: "GET", uri: "/healthz").status == 404)
        #expect(pages.reply(method: "POST", uri: "/health").status == 405)
    }
}
