import Benchmark
import DNSWire

let benchmarks: @Sendable () -> Void = {
    Benchmark("placeholder", configuration: .init(metrics: [.mallocCountTotal])) { _ in }
}
