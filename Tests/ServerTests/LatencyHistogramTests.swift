import Testing
@testable import Server

@Test func latencyHistogramIsCumulativeWithExactCountsAndAnUpperBoundSum() {
    let h = LatencyHistogram(name: "t")
    h.add(slot: 0, count: 3)          // <= 10 µs
    h.add(slot: 3, count: 2)          // <= 100 µs
    h.add(slot: 3, count: 1)
    h.add(slot: WorkerCounters.Slot.latencySlots - 1, count: 1)  // above every bound
    let lines = h.exposition().split(separator: "\n").map(String.init)
    #expect(lines.first == "# TYPE t histogram")
    #expect(lines.contains("t_bucket{le=\"0.00001\"} 3"))
    #expect(lines.contains("t_bucket{le=\"0.000025\"} 3"))
    #expect(lines.contains("t_bucket{le=\"0.0001\"} 6"))
    #expect(lines.contains("t_bucket{le=\"2.5\"} 6"))
    #expect(lines.contains("t_bucket{le=\"+Inf\"} 7"))
    #expect(lines.contains("t_count 7"))
    // 3 x 10 µs + 3 x 100 µs + 1 x 5 s
    #expect(lines.contains("t_sum 5.00033"))
    #expect(lines.count == 1 + WorkerCounters.Slot.latencyBounds.count + 3)
}

@Test func secondsAreWrittenExactly() {
    #expect(LatencyHistogram.seconds(10_000) == "0.00001")
    #expect(LatencyHistogram.seconds(2_500_000_000) == "2.5")
    #expect(LatencyHistogram.seconds(1_000_000_000) == "1")
    #expect(LatencyHistogram.seconds(1) == "0.000000001")
    #expect(LatencyHistogram.seconds(0) == "0")
}
