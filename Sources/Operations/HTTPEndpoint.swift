#if canImport(Glibc)
import Glibc
#endif
import NIOCore
import NIOHTTP1
import NIOPosix
import Sockets

/// A small HTTP/1.1 listener on swift-nio (NIOHTTP1 parses the requests and
/// writes the responses) for what operators poll: `sixpn serve`'s and
/// `sixpn agent`'s `--metrics` (Prometheus, `/health`, `/ready`). Each
/// request's reply comes from `respond`, one response per connection, then
/// close: scrapers and probes, not the public. One event-loop thread of its
/// own; nothing on the DNS query path touches it.
public final class HTTPEndpoint: @unchecked Sendable {
    /// What a request gets: the status code, the Content-Type and the body.
    public typealias Reply = (status: Int, contentType: String, body: String)
    /// Answers a request from its method (`GET`) and URI (`/metrics?x=1`).
    public typealias Responder = @Sendable (_ method: String, _ uri: String) -> Reply

    private let group: MultiThreadedEventLoopGroup
    private let channel: any Channel

    /// The port it listens on (the one asked for, or the kernel's pick for port 0).
    public var port: Int { channel.localAddress?.port ?? 0 }

    /// Binds `host:port` (an address literal) and serves; a bind that fails throws its errno.
    public init(host: String, port: Int, respond: @escaping Responder) throws(Errno) {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        do {
            channel = try ServerBootstrap(group: group)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .serverChannelOption(.backlog, value: 16)
                .childChannelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                        try channel.pipeline.syncOperations.addHandler(Handler(respond: respond))
                    }
                }
                .bind(host: host, port: port).wait()
        } catch {
            try? group.syncShutdownGracefully()
            let code = (error as? IOError)?.errnoCode ?? EADDRNOTAVAIL
            throw Errno("bind \(host.contains(":") ? "[\(host)]" : host):\(port)", code)
        }
        self.group = group
    }

    /// Stops listening and closes every connection.
    public func close() {
        try? channel.close().wait()
        try? group.syncShutdownGracefully()
    }
}

private final class Handler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart
    private let respond: HTTPEndpoint.Responder
    private var head: HTTPRequestHead?

    init(respond: @escaping HTTPEndpoint.Responder) { self.respond = respond }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let h):
            head = h
        case .body:
            break
        case .end:
            guard let h = head else { return }
            head = nil
            let reply = respond(h.method.rawValue, h.uri)
            var headers = HTTPHeaders()
            headers.add(name: "Content-Type", value: reply.contentType)
            headers.add(name: "Content-Length", value: "\(reply.body.utf8.count)")
            headers.add(name: "Connection", value: "close")
            if reply.status == 405 { headers.add(name: "Allow", value: "GET") }
            let status = HTTPResponseStatus(statusCode: reply.status)
            context.write(wrapOutboundOut(.head(HTTPResponseHead(version: h.version, status: status, headers: headers))),
                          promise: nil)
            context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: reply.body)))), promise: nil)
            let ctx = NIOLoopBound(context, eventLoop: context.eventLoop)
            context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in ctx.value.close(promise: nil) }
        }
    }
}
