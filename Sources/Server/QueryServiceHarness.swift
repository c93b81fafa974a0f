#if canImport(Glibc)
import Glibc
#endif
import Forwarder
import ZoneEngine

/// The real ``QueryService`` driven one message at a time, with no socket:
/// the query-service fuzzer (fuzz/QueryService) checks its invariants on
/// whatever it writes. A forwarded query's reply goes nowhere.
@_spi(Fuzzing)
public final class QueryServiceHarness: @unchecked Sendable {
    private let service: QueryService

    public init(zone: ZoneStore, forwarder: Forwarder?) {
        service = QueryService(zone: zone, forwarder: forwarder, trust: ClientTrust(), state: ServerState())
    }

    /// Answers `packet`, sent from `source` over TCP or UDP, into `out`:
    /// the reply's length, or nil when nothing goes back now (untrusted,
    /// dropped, or forwarded).
    public func answer(_ packet: UnsafeRawBufferPointer, source: sockaddr_in6, tcp: Bool,
                       into out: UnsafeMutableRawBufferPointer) -> Int? {
        withUnsafeBytes(of: source) { s in
            let transport: Transport = tcp ? .tcp : .udp
            guard let origin = service.origin(of: s.baseAddress!, transport: transport) else { return nil }
            let route = ReplyRoute.datagram(fd: -1, source: s.baseAddress!, sourceLength: 0)
            guard case .reply(let n) = service.answer(packet, from: origin, transport: transport, route: route,
                                                      snapshot: service.zone.current, into: out) else { return nil }
            return n
        }
    }
}
