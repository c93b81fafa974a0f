#if canImport(Glibc)
import Glibc
#endif
import CURing
import Dispatch
import Synchronization
import Sockets

/// One UDP worker of the io_uring backend (`--io uring`): a thread with its
/// own SO_REUSEPORT socket per listen address and its own ring (``Ring``).
///
/// Each socket has one multishot receive armed: the kernel puts datagrams
/// into the ring's provided buffers as they come, one completion each. A
/// round reaps up to 64 completions, reads the zone snapshot once, answers
/// each datagram into a send slot (``QueryService``), gives its buffer
/// back, and queues a sendmsg from the slot. The next round's one
/// `io_uring_enter` submits those sends and waits for more datagrams: one
/// system call per round instead of recvmmsg's and sendmmsg's two.
/// Nothing on that path allocates, locks or touches another worker's memory.
final class UringWorker: DatagramWorker, @unchecked Sendable {
    static let entries = 256
    static let receiveBuffers = 256
    /// Answers queued or in flight at once; each round takes at most one per completion it reaps.
    static let sendSlots = 256
    static let completionsPerRound = 64
    static let sendSlot = QueryAdmission.maximumUDPPayload
    /// A completion's tag: a send's has this bit and its slot; a receive's is its socket's index.
    private static let sendTag: UInt64 = 1 << 63

    let sockets: [Int32]
    let service: QueryService
    var counters: WorkerCounters { service.counters }
    private let ring: Ring
    private let completions: UnsafeMutablePointer<sixpn_completion>
    private let sendMessages: UnsafeMutablePointer<msghdr>
    private let sendVectors: UnsafeMutablePointer<iovec>
    private let sendAddresses: UnsafeMutablePointer<sockaddr_storage>
    private let sendBuffers: UnsafeMutableRawPointer
    /// A stack of the send slots not in flight.
    private let freeSlots: UnsafeMutablePointer<Int>
    private var freeCount: Int
    /// Sockets whose multishot receive ended (or was never armed) and must be armed again.
    private let disarmed: UnsafeMutablePointer<Bool>
    /// How the thread's start went (``waitUntilStarted()``): nil until it knows.
    private let started = Mutex<Result<Void, Errno>?>(nil)
    private let startedSignal = DispatchSemaphore(value: 0)

    init(sockets: [Int32], service: QueryService) throws(Errno) {
        self.sockets = sockets
        self.service = service
        ring = try Ring(entries: Self.entries, buffers: Self.receiveBuffers, payloadSize: UDPWorker.receiveSlot,
                        nameSize: MemoryLayout<sockaddr_storage>.size, fds: sockets)
        completions = .allocate(capacity: Self.completionsPerRound)
        let n = Self.sendSlots
        sendMessages = .allocate(capacity: n)
        sendVectors = .allocate(capacity: n)
        sendAddresses = .allocate(capacity: n)
        sendBuffers = .allocate(byteCount: n * Self.sendSlot, alignment: 64)
        freeSlots = .allocate(capacity: n)
        freeCount = n
        for i in 0..<n {
            sendAddresses[i] = sockaddr_storage()
            sendVectors[i] = iovec(iov_base: sendBuffers + i * Self.sendSlot, iov_len: 0)
            var m = msghdr()
            m.msg_name = UnsafeMutableRawPointer(sendAddresses + i)
            m.msg_iov = sendVectors + i
            m.msg_iovlen = 1
            sendMessages[i] = m
            freeSlots[i] = n - 1 - i
        }
        disarmed = .allocate(capacity: max(sockets.count, 1))
        disarmed.initialize(repeating: true, count: max(sockets.count, 1))
    }

    deinit {
        completions.deallocate()
        sendMessages.deallocate()
        sendVectors.deallocate()
        sendAddresses.deallocate()
        sendBuffers.deallocate()
        freeSlots.deallocate()
        disarmed.deallocate()
    }

    /// Serves until the server stops (each wait is at most 250 ms, so a stop is noticed).
    func run() {
        let result = Result { () throws(Errno) in try start() }
        started.withLock { $0 = result }
        startedSignal.signal()
        guard case .success = result else { return }
        while !service.state.stopping.load(ordering: .relaxed) {
            counters.add(WorkerCounters.Slot.heartbeat)
            serveRound()
        }
        finish()
    }

    /// Ends the multishot receives and releases the sockets from the ring, on
    /// the ring's own thread, so that a port closed after a stop is free at
    /// once: a socket still held by a ring being torn down would stay in its
    /// SO_REUSEPORT group and take a share of a restarted server's datagrams.
    func finish() {
        do { try ring.quiesce() } catch { counters.add(WorkerCounters.Slot.socketErrors) }
    }

    /// Makes the calling thread the ring's only submitter. Before the first round.
    func start() throws(Errno) {
        try ring.enable()
    }

    /// Waits until ``run()``'s thread has taken the ring: a worker that cannot
    /// is a start-up error, not a socket whose queries go unanswered.
    func waitUntilStarted() throws(Errno) {
        startedSignal.wait()
        startedSignal.signal()  // for any later caller
        if case .failure(let error) = started.withLock({ $0 }) { throw error }
    }

    /// Submits the sends the last round queued, waits for completions, and
    /// answers the datagrams among them. Returns how many datagrams it took.
    /// Internal (not private) so that ``WorkerHarness`` drives this very code in the allocation benchmark.
    @inline(__always) @discardableResult
    func serveRound() -> Int {
        for i in 0..<sockets.count where disarmed[i] {
            if ring.receive(index: i, tag: UInt64(i)) { disarmed[i] = false }
        }
        do { try ring.submitAndWait(milliseconds: 250) } catch {
            counters.add(WorkerCounters.Slot.socketErrors)
            return 0
        }
        let n = ring.reap(into: completions, max: Self.completionsPerRound)
        guard n > 0 else { return 0 }
        let started = monotonicNanoseconds()
        let snapshot = service.zone.current
        var datagrams = 0, replies: UInt64 = 0
        var d = sixpn_datagram()
        for c in 0..<n {
            let completion = completions + c
            let tag = completion.pointee.user_data
            if tag & Self.sendTag != 0 {
                freeSlots[freeCount] = Int(truncatingIfNeeded: tag & ~Self.sendTag)
                freeCount += 1
                if completion.pointee.res < 0 { counters.add(WorkerCounters.Slot.socketErrors) }
                continue
            }
            let socket = Int(truncatingIfNeeded: tag)
            if !Ring.more(completion) { disarmed[socket] = true }
            let found = ring.datagram(completion, into: &d)
            guard found >= 0 else {
                // No datagram: the receive ended. ENOBUFS (every buffer taken) is
                // not an error: this round gives them back and the next re-arms.
                if completion.pointee.res != -ENOBUFS { counters.add(WorkerCounters.Slot.socketErrors) }
                continue
            }
            datagrams += 1
            if found == 1, freeCount > 0 {
                let slot = freeSlots[freeCount - 1]
                if let origin = service.origin(of: d.name, transport: .udp), case .reply(let length) = service.answer(
                    UnsafeRawBufferPointer(start: d.payload, count: Int(d.payload_length)), truncated: d.truncated != 0,
                    from: origin, transport: .udp,
                    route: .datagram(fd: sockets[socket], source: d.name, sourceLength: socklen_t(d.name_length)),
                    snapshot: snapshot,
                    into: UnsafeMutableRawBufferPointer(start: sendBuffers + slot * Self.sendSlot, count: Self.sendSlot)) {
                    // The address moves into the slot, so the buffer can go back now.
                    memcpy(sendAddresses + slot, d.name, Int(d.name_length))
                    sendMessages[slot].msg_namelen = socklen_t(d.name_length)
                    sendVectors[slot].iov_len = length
                    if ring.send(index: socket, message: sendMessages + slot, tag: Self.sendTag | UInt64(slot)) {
                        freeCount -= 1
                        replies += 1
                    } else {
                        counters.add(WorkerCounters.Slot.socketErrors)  // no room in the submission queue
                    }
                }
            } else {
                // A buffer too short for its header (never for UDP), or every send
                // slot still in flight (the socket cannot send): the datagram is lost.
                counters.add(WorkerCounters.Slot.socketErrors)
            }
            ring.recycle(d.buffer)
        }
        if replies > 0 {
            // From the reap to the send queued; it leaves at the next io_uring_enter, right after.
            counters.countLatency(nanoseconds: monotonicNanoseconds() &- started, answers: replies)
        }
        return datagrams
    }

    /// Submits the queued sends without waiting (``WorkerHarness``: one round trip at a time).
    func flush() {
        do { try ring.submit() } catch { counters.add(WorkerCounters.Slot.socketErrors) }
    }
}
