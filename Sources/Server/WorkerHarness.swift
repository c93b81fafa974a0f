#if canImport(Glibc)
import Glibc
#endif
import Dnstap
import Forwarder
import ZoneEngine
import Sockets

/// One real UDP worker (``UDPWorker`` or ``UringWorker``, by backend) on one
/// real UDP socket, driven one batch at a time by the caller instead of by
/// its thread: the allocation benchmark (bench/Benchmarks/ServerAllocations)
/// counts the mallocs of the very receive -> respond -> send code that
/// `sixpn serve` runs, not a copy.
@_spi(Benchmark)
public final class WorkerHarness: @unchecked Sendable {
    private enum Worker {
        case batches(UDPWorker)
        case ring(UringWorker)
    }
    private let worker: Worker
    /// The worker's socket, bound as `sixpn serve` binds it.
    public let fd: Int32
    /// The UDP port it was bound to (the address's port, or the kernel's choice for 0).
    public let port: UInt16

    /// Binds `address` as a server UDP socket and builds a worker over it.
    /// `developmentNetwork` is `--dev-org` (loopback clients are that organization).
    /// With io_uring, the calling thread becomes the ring's submitter: drive it from this thread only.
    /// `budgets`: `--instance-qps` and `--org-qps` (off unless given).
    /// `dnstap`: `--dnstap`, the worker copying every query and answer into a ring of `dnstap`'s.
    public init(address: SocketAddress, zone: ZoneStore, forwarder: Forwarder?,
                developmentNetwork: UInt32?, io: IOBackend = .recvmmsg, budgets: QueryBudgets = .off,
                dnstap: DnstapLog? = nil) throws(ServerError) {
        do {
            fd = try Server.udpSocket(address)
            port = try Syscalls.localAddress(fd).port
        } catch {
            throw ServerError("cannot bind \(address): \(error)")
        }
        let service = QueryService(zone: zone, forwarder: forwarder,
                                   trust: ClientTrust(developmentNetwork: developmentNetwork), state: ServerState(),
                                   limiter: budgets.isOff ? nil : TenantLimiter(budgets),
                                   dnstap: dnstap.map { ClientTap(own: $0.makeProducer(), shared: $0.shared) })
        switch io {
        case .recvmmsg:
            worker = .batches(UDPWorker(sockets: [fd], service: service))
        case .uring:
            do {
                let ring = try UringWorker(sockets: [fd], service: service)
                try ring.start()
                worker = .ring(ring)
            } catch {
                Syscalls.close(fd)
                throw ServerError("cannot set up io_uring: \(error)")
            }
        }
    }

    deinit {
        if case .ring(let w) = worker { w.finish() }
        Syscalls.close(fd)
    }

    /// One turn of the worker's loop: waits (up to 250 ms) for datagrams,
    /// answers the batch and sends the answers. With io_uring: rounds until
    /// a datagram came (a round may reap only the last round's send), then
    /// submits its answer at once instead of at the next round.
    public func serveOneBatch() {
        switch worker {
        case .batches(let w):
            w.serveBatch(fd, wait: true)
        case .ring(let w):
            var rounds = 1
            while w.serveRound() == 0, rounds < 4 { rounds += 1 }
            w.flush()
        }
    }

    /// The worker's counters (to check, outside the measurement, what it answered).
    public var counters: WorkerCounters {
        switch worker {
        case .batches(let w): w.counters
        case .ring(let w): w.counters
        }
    }
}
