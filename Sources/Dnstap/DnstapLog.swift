#if canImport(Glibc)
import Glibc
#endif
import Atomics
import Logging
import Sockets

/// `--dnstap`: every query and response, and the forwarder's upstream
/// traffic, sent as dnstap to a Frame Streams reader, without slowing answers.
///
/// Each worker thread has its own ``DnstapProducer`` (a ring of preallocated
/// slots: the query path copies octets into one and moves on); one writer
/// thread empties the rings, encodes each message with swift-protobuf, frames
/// it and writes to the reader. A reader that is slow makes the writer wait,
/// the rings fill and new messages are dropped and counted; a reader that is
/// absent or went away is tried again every second, and meanwhile what the
/// rings hold is dropped and counted. ``dropped`` is `sixpn_dnstap_dropped_total`.
public final class DnstapLog: @unchecked Sendable {
    public let destination: DnstapDestination
    /// For threads without a producer of their own (the forwarder's): a lock around each message.
    public let shared: DnstapProducer
    private var producers: [DnstapProducer] = []
    private let ringCapacity: Int
    private let logger: Logger
    private let encoderIdentity: (identity: String, version: String)
    private let stopping = ManagedAtomic(false)
    private let writerDropped = ManagedAtomic<UInt64>(0)
    private let writtenMessages = ManagedAtomic<UInt64>(0)
    private let connections = ManagedAtomic<UInt64>(0)
    private var thread: pthread_t?

    /// `identity` (the host's name) and `version` go into every message; each ring holds `ringCapacity` slots.
    public init(destination: DnstapDestination, identity: String, version: String, ringCapacity: Int = 1024,
                logger: Logger) {
        self.destination = destination
        self.ringCapacity = ringCapacity
        self.logger = logger
        self.encoderIdentity = (identity, version)
        shared = DnstapProducer(ring: TapRing(capacity: ringCapacity), shared: true)
        producers = [shared]
    }

    /// A producer for one thread. Call before ``start()``.
    public func makeProducer() -> DnstapProducer {
        precondition(thread == nil, "DnstapLog.makeProducer after start")
        let p = DnstapProducer(ring: TapRing(capacity: ringCapacity), shared: false)
        producers.append(p)
        return p
    }

    /// Starts the writer thread, which connects (and reconnects) to the reader on its own.
    public func start() throws(Errno) {
        let rings = producers.map(\.ring)
        thread = try Syscalls.startThread { [self] in run(rings) }
    }

    /// Writes what the rings still hold, ends the stream (STOP, FINISH) and stops the writer.
    public func stop() {
        stopping.store(true, ordering: .relaxed)
        if let thread { Syscalls.join(thread) }
        thread = nil
    }

    /// Messages lost so far: rings full, too long for a slot, or no reader to take them.
    public var dropped: UInt64 {
        producers.reduce(writerDropped.load(ordering: .relaxed)) { $0 &+ $1.ring.dropped }
    }

    /// Messages written to a reader so far.
    public var written: UInt64 { writtenMessages.load(ordering: .relaxed) }

    /// Handshakes completed so far (the first connection and every reconnection).
    public var connectionCount: UInt64 { connections.load(ordering: .relaxed) }

    /// The writer thread.
    private func run(_ rings: [TapRing]) {
        Syscalls.nameThisThread(Self.threadName)
        var writer = TapWriter(destination: destination, rings: rings,
                               encoder: TapEncoder(identity: encoderIdentity.identity, version: encoderIdentity.version),
                               stopping: stopping, dropped: writerDropped, written: writtenMessages,
                               connections: connections, logger: logger)
        writer.run()
    }

    /// The writer thread's name (bench/run.sh allocations leaves its mallocs out by it).
    public static let threadName = "sixpn-dnstap"

}
