import Dnstap
import Forwarder
import Sockets

/// The forwarder's upstream messages into the dnstap log's shared ring, as
/// FORWARDER_QUERY and FORWARDER_RESPONSE (on the resolver thread).
final class DnstapUpstreams: UpstreamTap {
    let producer: DnstapProducer

    init(_ producer: DnstapProducer) { self.producer = producer }

    func sent(query: UnsafeRawBufferPointer, to upstream: SocketAddress, tcp: Bool) {
        producer.forwarderQuery(query, upstream: upstream, tcp: tcp)
    }

    func received(response: UnsafeRawBufferPointer, from upstream: SocketAddress, tcp: Bool, nanosecondsAgo: Int64) {
        // The wall clock when the query left: now, less the monotonic time since.
        let now = Syscalls.wallClock()
        let total = now.seconds &* 1_000_000_000 &+ Int64(now.nanoseconds) &- nanosecondsAgo
        producer.forwarderResponse(response, upstream: upstream, tcp: tcp,
                                   sent: (total / 1_000_000_000, UInt32(total % 1_000_000_000)))
    }
}
