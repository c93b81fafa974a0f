#if canImport(Glibc)
import Glibc
#endif
import Sockets
import Synchronization

/// One thread's way into the dnstap log: each call copies the message(s), the
/// peer's address and the times into the next slot of its own ring, which the
/// writer thread encodes later. Nothing allocates and, for a worker's own
/// producer, nothing locks; when the ring is full (the reader is slow or
/// absent) the messages are dropped and counted, and the caller goes on.
///
/// A worker's producer (``DnstapLog/makeProducer()``) is for that one thread
/// only. ``DnstapLog/shared`` takes a lock around each message and may be
/// called from any thread: the forwarder's, where a forwarded reply or an
/// upstream message is seen.
public final class DnstapProducer: @unchecked Sendable {
    let ring: TapRing
    /// Whether several threads call it: then each message is put in under ``lock``.
    private let shared: Bool
    private let lock = Mutex(())

    init(ring: TapRing, shared: Bool) {
        self.ring = ring
        self.shared = shared
    }

    /// A query from `peer` (a `sockaddr`) answered at once with `response`: CLIENT_QUERY and CLIENT_RESPONSE.
    @inline(__always)
    public func clientExchange(query: UnsafeRawBufferPointer, response: UnsafeRawBufferPointer,
                               peer: UnsafeRawPointer, tcp: Bool, received: (seconds: Int64, nanoseconds: UInt32)) {
        put(.clientExchange, tcp: tcp, peer: peer, queryTime: received, responseTime: Syscalls.wallClock(),
            query: query, response: response)
    }

    /// A query from `peer` with no reply yet (gone upstream) or none (dropped): CLIENT_QUERY.
    @inline(__always)
    public func clientQuery(_ query: UnsafeRawBufferPointer, peer: UnsafeRawPointer, tcp: Bool,
                            received: (seconds: Int64, nanoseconds: UInt32)) {
        put(.clientQuery, tcp: tcp, peer: peer, queryTime: received, responseTime: (0, 0),
            query: query, response: UnsafeRawBufferPointer(start: nil, count: 0))
    }

    /// The reply to a forwarded query from `peer`, received at `received`: CLIENT_RESPONSE.
    public func clientResponse(_ response: UnsafeRawBufferPointer, peer: UnsafeRawPointer, tcp: Bool,
                               received: (seconds: Int64, nanoseconds: UInt32)) {
        put(.clientResponse, tcp: tcp, peer: peer, queryTime: received, responseTime: Syscalls.wallClock(),
            query: UnsafeRawBufferPointer(start: nil, count: 0), response: response)
    }

    /// A query sent to `upstream`: FORWARDER_QUERY.
    public func forwarderQuery(_ query: UnsafeRawBufferPointer, upstream: SocketAddress, tcp: Bool) {
        var (storage, _) = upstream.storage
        withUnsafeBytes(of: &storage) {
            put(.forwarderQuery, tcp: tcp, peer: $0.baseAddress!, queryTime: Syscalls.wallClock(), responseTime: (0, 0),
                query: query, response: UnsafeRawBufferPointer(start: nil, count: 0))
        }
    }

    /// `upstream`'s reply to a query sent at `sent` (wall clock): FORWARDER_RESPONSE.
    public func forwarderResponse(_ response: UnsafeRawBufferPointer, upstream: SocketAddress, tcp: Bool,
                                  sent: (seconds: Int64, nanoseconds: UInt32)) {
        var (storage, _) = upstream.storage
        withUnsafeBytes(of: &storage) {
            put(.forwarderResponse, tcp: tcp, peer: $0.baseAddress!, queryTime: sent, responseTime: Syscalls.wallClock(),
                query: UnsafeRawBufferPointer(start: nil, count: 0), response: response)
        }
    }

    @inline(__always)
    private func put(_ kind: TapEntry.Kind, tcp: Bool, peer: UnsafeRawPointer,
                     queryTime: (seconds: Int64, nanoseconds: UInt32), responseTime: (seconds: Int64, nanoseconds: UInt32),
                     query: UnsafeRawBufferPointer, response: UnsafeRawBufferPointer) {
        if shared {
            lock.withLock { _ in
                fill(kind, tcp: tcp, peer: peer, queryTime: queryTime, responseTime: responseTime, query: query, response: response)
            }
        } else {
            fill(kind, tcp: tcp, peer: peer, queryTime: queryTime, responseTime: responseTime, query: query, response: response)
        }
    }

    @inline(__always)
    private func fill(_ kind: TapEntry.Kind, tcp: Bool, peer: UnsafeRawPointer,
                      queryTime: (seconds: Int64, nanoseconds: UInt32), responseTime: (seconds: Int64, nanoseconds: UInt32),
                      query: UnsafeRawBufferPointer, response: UnsafeRawBufferPointer) {
        let messages: UInt64 = kind == .clientExchange ? 2 : 1
        guard query.count + response.count <= TapRing.payloadCapacity, let slot = ring.reserve() else {
            ring.countDrop(messages)
            return
        }
        var entry = TapEntry(kind: kind, tcp: tcp, family: 0, port: 0, address: (0, 0),
                             querySeconds: queryTime.seconds, queryNanoseconds: queryTime.nanoseconds,
                             responseNanoseconds: responseTime.nanoseconds, responseSeconds: responseTime.seconds,
                             queryLength: UInt32(query.count), responseLength: UInt32(response.count))
        // sockaddr_in and sockaddr_in6 both keep the port, big-endian, at offset 2;
        // the address is at 8 (sin6_addr, 16 octets) or at 4 (sin_addr, 4).
        let family = Int32(peer.loadUnaligned(as: sa_family_t.self))
        let (octets, offset): (Int, Int) = family == AF_INET6 ? (16, 8) : family == AF_INET ? (4, 4) : (0, 0)
        if octets > 0 {
            entry.family = octets == 16 ? 6 : 4
            entry.port = UInt16(bigEndian: peer.loadUnaligned(fromByteOffset: 2, as: UInt16.self))
            var address: (UInt64, UInt64) = (0, 0)
            withUnsafeMutableBytes(of: &address) { $0.copyMemory(from: UnsafeRawBufferPointer(start: peer + offset, count: octets)) }
            entry.address = address
        }
        slot.storeBytes(of: entry, as: TapEntry.self)
        let bytes = slot + TapEntry.headerSize
        if query.count > 0 { bytes.copyMemory(from: query.baseAddress!, byteCount: query.count) }
        if response.count > 0 { (bytes + query.count).copyMemory(from: response.baseAddress!, byteCount: response.count) }
        ring.commit()
    }
}
