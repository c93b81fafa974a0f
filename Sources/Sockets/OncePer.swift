/// Lets a repeated event through once per interval (monotonic nanoseconds):
/// a warning that would otherwise be logged per packet, such as running out
/// of file descriptors, is logged once a minute and counted always.
/// One thread's: not for sharing.
public struct OncePer: Sendable {
    public let interval: Int64
    private var next: Int64 = 0

    public init(nanoseconds interval: Int64) { self.interval = interval }

    /// True at most once per interval.
    public mutating func due(now: Int64) -> Bool {
        guard now >= next else { return false }
        next = now + interval
        return true
    }
}
