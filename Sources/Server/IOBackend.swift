#if canImport(Glibc)
import Glibc
#endif

/// How the UDP workers move datagrams (`sixpn serve --io`).
public enum IOBackend: String, Sendable, CaseIterable {
    /// recvmmsg/sendmmsg batches of up to 32 (``UDPWorker``).
    case recvmmsg
    /// io_uring: multishot receives into provided buffers, sends queued on
    /// the same ring, one system call per round (``UringWorker``).
    case uring
}

/// A UDP worker of either backend, as the server starts and reads it.
protocol DatagramWorker: AnyObject, Sendable {
    /// Its thread's counters (``MetricsCollector`` reads them).
    var counters: WorkerCounters { get }
    /// Serves until the server stops.
    func run()
}

