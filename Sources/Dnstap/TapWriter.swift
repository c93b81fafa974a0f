import Atomics
import Logging
import Sockets

/// The writer thread's loop: connect (again) to the reader, empty every ring, encode, frame and
/// write, and wait a millisecond when there was little to do. All its state is here, in a value
/// the thread owns (no captured variables: their every access would be checked at run time).
struct TapWriter {
    let destination: DnstapDestination
    let rings: [TapRing]
    let encoder: TapEncoder
    let stopping: ManagedAtomic<Bool>
    let dropped: ManagedAtomic<UInt64>
    let written: ManagedAtomic<UInt64>
    let connections: ManagedAtomic<UInt64>
    let logger: Logger
    private var reader: ReaderConnection? = nil
    private var retryAt: Int64 = 0
    private var failing = false
    private var out: [UInt8] = []
    /// Messages in ``out``.
    private var pending = 0

    /// Slots taken in one round below which the writer waits a millisecond before the next: at
    /// 100,000 answers a second a round then holds about 100, and no ring (1,024 slots) comes near full.
    static let busyDrain = 256
    /// Octets of frames gathered before one write.
    static let flushAt = 64 * 1024

    init(destination: DnstapDestination, rings: [TapRing], encoder: TapEncoder, stopping: ManagedAtomic<Bool>,
         dropped: ManagedAtomic<UInt64>, written: ManagedAtomic<UInt64>, connections: ManagedAtomic<UInt64>,
         logger: Logger) {
        self.destination = destination
        self.rings = rings
        self.encoder = encoder
        self.stopping = stopping
        self.dropped = dropped
        self.written = written
        self.connections = connections
        self.logger = logger
        out.reserveCapacity(Self.flushAt + 2 * 70_000)
    }

    mutating func run() {
        while true {
            let stop = stopping.load(ordering: .relaxed)
            if reader == nil, !stop, Syscalls.now() >= retryAt { connect() }
            var taken = 0
            for ring in rings {
                while let slot = ring.peek() {
                    if reader != nil {
                        pending += encoder.append(slot, to: &out)
                    } else {
                        dropped.wrappingIncrement(by: UInt64(TapEncoder.messageCount(slot)), ordering: .relaxed)
                    }
                    ring.release()
                    taken += 1
                    if out.count >= Self.flushAt { flush() }
                }
            }
            flush()
            if stop { break }
            if taken < Self.busyDrain {
                // Little to do: wait a millisecond, so that messages go out in batches (one write a
                // millisecond, not one per query), watching the reader (it sends nothing unless it is leaving).
                if let r = reader {
                    if r.readerLeft(waitingMilliseconds: 1) { lost("it closed the connection") }
                } else {
                    Syscalls.sleep(nanoseconds: 1_000_000)
                }
            }
        }
        reader?.finish()
    }

    private mutating func connect() {
        do {
            reader = try ReaderConnection.open(destination)
            connections.wrappingIncrement(ordering: .relaxed)
            logger.info("dnstap: writing to \(destination)")
            failing = false
        } catch {
            if !failing {
                logger.warning("\(error); trying again every second, dropping messages meanwhile (sixpn_dnstap_dropped_total)")
            }
            failing = true
            retryAt = Syscalls.now() + 1_000_000_000
        }
    }

    private mutating func flush() {
        defer {
            out.removeAll(keepingCapacity: true)
            pending = 0
        }
        guard let r = reader, !out.isEmpty else { return }
        let stopping = self.stopping
        if r.send(out, giveUp: { stopping.load(ordering: .relaxed) }) {
            written.wrappingIncrement(by: UInt64(pending), ordering: .relaxed)
        } else {
            lost("a write failed")
        }
    }

    private mutating func lost(_ why: String) {
        reader?.close()
        reader = nil
        dropped.wrappingIncrement(by: UInt64(pending), ordering: .relaxed)
        logger.warning("dnstap: lost the reader at \(destination) (\(why)); connecting again every second, dropping messages meanwhile (sixpn_dnstap_dropped_total)")
        retryAt = Syscalls.now() + 1_000_000_000
    }
}
