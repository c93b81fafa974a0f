import Atomics
import Sockets

/// Counters split over cache lines by thread, so that worker threads
/// counting at once do not fight over a line. A total is the sum of the lines.
final class StripedCounters: @unchecked Sendable {
    /// Lines (a power of two); threads that land on the same line only share it, which stays correct.
    static let lines = 64
    /// Counters per line: a 128-octet line (two 64-octet lines, against the adjacent-line prefetcher).
    static let perLine = 16
    private let words: UnsafeMutablePointer<UnsafeAtomic<Int>.Storage>

    init() {
        words = .allocate(capacity: Self.lines * Self.perLine)
        words.initialize(repeating: .init(0), count: Self.lines * Self.perLine)
    }

    deinit { words.deallocate() }

    /// The line for the calling thread (64 lines: the top 6 bits of the spread).
    @inline(__always)
    static func currentLine() -> Int { Int(Syscalls.threadSpread() >> 58) }

    @inline(__always)
    func counter(_ index: Int, line: Int) -> UnsafeAtomic<Int> {
        UnsafeAtomic(at: words + line * Self.perLine + index)
    }

    @inline(__always)
    func increment(_ index: Int) {
        counter(index, line: Self.currentLine()).wrappingIncrement(ordering: .relaxed)
    }

    func total(_ index: Int) -> Int {
        var sum = 0
        for line in 0..<Self.lines { sum &+= counter(index, line: line).load(ordering: .sequentiallyConsistent) }
        return sum
    }
}

/// Lets readers walk the cache without a lock while the one writer unlinks
/// and frees entries: a two-epoch read-copy-update scheme.
///
/// A reader announces itself in the current epoch's counter (its thread's
/// line of it) for the length of one lookup. The writer retires unlinked blocks instead of
/// freeing them, then flips the epoch; once the old epoch's counters all
/// read zero, no reader can still hold a block retired before the flip, and
/// the blocks are freed. Readers take no lock and allocate nothing; a
/// writer never waits (it checks again on its next turn).
final class ReaderEpochs: @unchecked Sendable {
    private let epoch = UnsafeAtomic<Int>.create(0)
    private let readers = StripedCounters()

    // Writer-only state (the resolver thread).
    private var retired: [UnsafeMutableRawPointer] = []
    private var waiting: [UnsafeMutableRawPointer] = []
    private var waitingParity = 0

    deinit {
        epoch.destroy()
        for p in retired + waiting { p.deallocate() }
    }

    /// A reader's registration: which counter to decrement when it leaves.
    struct Token {
        @usableFromInline let parity: Int
        @usableFromInline let line: Int
    }

    @inline(__always)
    func enter() -> Token {
        let line = StripedCounters.currentLine()
        while true {
            let e = epoch.load(ordering: .sequentiallyConsistent)
            let c = readers.counter(e & 1, line: line)
            c.wrappingIncrement(ordering: .sequentiallyConsistent)
            // The epoch must not have moved between the load and the increment,
            // or the writer may already have counted this epoch as empty.
            if epoch.load(ordering: .sequentiallyConsistent) == e { return Token(parity: e & 1, line: line) }
            c.wrappingDecrement(ordering: .releasing)
        }
    }

    @inline(__always)
    func leave(_ token: Token) {
        readers.counter(token.parity, line: token.line).wrappingDecrement(ordering: .releasing)
    }

    /// Writer: frees `block` once no reader can be looking at it.
    func retire(_ block: UnsafeMutableRawPointer) {
        retired.append(block)
    }

    /// Writer: frees what is safe to free and starts the next grace period.
    /// Cheap; call it often (the resolver calls it on every loop turn).
    func reclaim() {
        if !waiting.isEmpty {
            guard readers.total(waitingParity) == 0 else { return }
            for p in waiting { p.deallocate() }
            waiting.removeAll(keepingCapacity: true)
        }
        guard !retired.isEmpty else { return }
        swap(&waiting, &retired)
        waitingParity = epoch.load(ordering: .relaxed) & 1
        epoch.wrappingIncrement(ordering: .sequentiallyConsistent)
    }

    /// Writer: blocks retired and not yet freed (for tests).
    var pending: Int { retired.count + waiting.count }
}
