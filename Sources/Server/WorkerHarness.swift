#if canImport(Glibc)
import Glibc
#endif
import Forwarder
import ZoneEngine

/// One real ``UDPWorker`` on one real UDP socket, driven one batch at a time
/// by the caller instead of by its thread: the allocation benchmark
/// (bench/Benchmarks/ServerAllocations) counts the mallocs of the very
/// recvmmsg -> respond -> sendmmsg code that `sixpn serve` runs, not a copy.
@_spi(Benchmark)
public final class WorkerHarness: @unchecked Sendable {
    let worker: UDPWorker
    /// The worker's socket, bound as `sixpn serve` binds it.
    public let fd: Int32
    /// The UDP port it was bound to (the address's port, or the kernel's choice for 0).
    public let port: UInt16

    /// Binds `address` as a server UDP socket and builds a worker over it.
    /// `developmentNetwork` is `--dev-org` (loopback clients are that organization).
    public init(address: SocketAddress, zone: ZoneStore, forwarder: Forwarder?,
                developmentNetwork: UInt32?) throws(ServerError) {
        do {
            fd = try Server.udpSocket(address)
            port = try Syscalls.localPort(fd)
        } catch {
            throw ServerError("cannot bind \(address): \(error)")
        }
        worker = UDPWorker(sockets: [fd], zone: zone, forwarder: forwarder,
                           trust: ClientTrust(developmentNetwork: developmentNetwork), state: ServerState())
    }

    deinit {
        Syscalls.close(fd)
    }

    /// One turn of the worker's loop: waits (up to the socket's 250 ms
    /// receive timeout) for datagrams, answers the batch and sends the answers.
    public func serveOneBatch() {
        worker.serveBatch(fd, wait: true)
    }

    /// The worker's counters (to check, outside the measurement, what it answered).
    public var counters: WorkerCounters { worker.counters }
}
