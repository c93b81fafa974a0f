import Dispatch

/// The experiment of issue 18 (`--io dispatch`): a UDP worker that is a
/// serial DispatchQueue instead of a thread of its own.
///
/// Each of its sockets has a DispatchSource read source on that queue; the
/// handler drains the socket with the recvmmsg worker's very batch code
/// (``UDPWorker/serveBatch(_:wait:)`` without waiting: recvmmsg, the snapshot
/// read once per batch, sendmmsg) until a batch comes back short, so nothing
/// blocks a thread of Dispatch's pool and no thread is held between bursts.
/// It exists to be measured against the pthread workers (bench/run.sh workers).
final class DispatchUDPWorker: DatagramWorker, @unchecked Sendable {
    private let batches: UDPWorker
    private let queue: DispatchQueue
    /// Set by ``start()`` and cleared by ``stop()``, both from the thread that starts and stops the server.
    private var sources: [any DispatchSourceRead] = []
    /// Left once per source by its cancel handler: after that no handler of it runs, and its socket may close.
    private let cancelled = DispatchGroup()

    var counters: WorkerCounters { batches.counters }

    init(sockets: [Int32], service: QueryService, index: Int) {
        batches = UDPWorker(sockets: sockets, service: service)
        queue = DispatchQueue(label: "sixpn.udp.\(index)")
    }

    /// Arms a read source per socket; from then on the queue answers by itself.
    func start() {
        for fd in batches.sockets {
            let source = DispatchSource.makeReadSource(fileDescriptor: fd, queue: queue)
            let batches = self.batches
            source.setEventHandler {
                while batches.serveBatch(fd, wait: false) == UDPWorker.batchSize {}
            }
            cancelled.enter()
            let group = cancelled
            source.setCancelHandler { group.leave() }
            sources.append(source)
            source.resume()
        }
    }

    /// Cancels the sources and waits until no handler runs (a batch in hand is finished first).
    func stop() {
        for source in sources { source.cancel() }
        sources.removeAll()
        cancelled.wait()
    }

    /// Not used: Dispatch runs this worker (``start()``), not a thread of its own.
    func run() {}
}
