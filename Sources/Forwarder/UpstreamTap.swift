import Sockets

/// Sees every message the resolver thread exchanges with an upstream, on that
/// thread: the Server's dnstap log turns them into FORWARDER_QUERY and
/// FORWARDER_RESPONSE. Set as ``ForwarderConfiguration/tap``; nil costs nothing.
public protocol UpstreamTap: AnyObject, Sendable {
    /// A query just sent to `upstream` (`tcp`: on a TCP connection, after a truncated reply).
    func sent(query: UnsafeRawBufferPointer, to upstream: SocketAddress, tcp: Bool)
    /// A message from `upstream`, answering a query sent `nanosecondsAgo` (whether or not it matched it).
    func received(response: UnsafeRawBufferPointer, from upstream: SocketAddress, tcp: Bool, nanosecondsAgo: Int64)
}
