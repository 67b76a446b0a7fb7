// What every benchmark target of this package shares: the thread CPU clock as a metric
// (MeterSimulator's clock), and the zero-allocation check of the firmware paths.

import Benchmark
import MallocInterposerSwift
import MeterSimulator

/// The thread CPU clock (`MeterSimulator.threadCPUNanoseconds`) as the harness's Int. The
/// harness's own CPU metrics read the process clock, which ticks in 10 ms steps on these VMs.
@inline(__always)
public func cpuNow() -> Int { Int(threadCPUNanoseconds()) }

/// Reported next to the wall clock for every timing benchmark.
public let threadCPU = BenchmarkMetric.custom("thread CPU (ns)")

/// Runs `body` and records its thread CPU time as `threadCPU`.
@inline(__always)
public func measuringThreadCPU<R>(_ benchmark: Benchmark, _ body: () throws -> R) rethrows -> R {
    let start = cpuNow()
    let result = try body()
    benchmark.measurement(threadCPU, cpuNow() - start)
    return result
}

// MARK: - heap allocations of the firmware paths

/// Heap allocations of one allocation sample (every run of the path in the sample).
public let heapAllocations = BenchmarkMetric.custom("heap allocations")

/// The allocations of `body`, counted by the harness's malloc interposer (malloc, calloc,
/// realloc, posix_memalign, … of the whole process while `body` runs).
public func countingHeapAllocations(_ body: () throws -> Void) rethrows -> Int {
    MallocInterposerSwift.hook()
    defer { MallocInterposerSwift.unhook() }
    let before = MallocInterposerSwift.getStatistics().mallocCount
    try body()
    return MallocInterposerSwift.getStatistics().mallocCount - before
}

/// Records one sample's allocations as `heapAllocations` and stops the run at once if there
/// was any: the p100 check. `swift package benchmark thresholds check` compares only p90 with
/// the stored Thresholds/*.p90.json (zero), so an allocation in fewer than one sample in ten
/// would pass it, and the harness's `benchmark.error` only prints (exit status 0, and no
/// result left to check); a fatal error ends the run with a non-zero status.
public func requireNoHeapAllocations(_ benchmark: Benchmark, _ count: Int, sample what: String) {
    benchmark.measurement(heapAllocations, count)
    if count != 0 {
        fatalError(
            "\(benchmark.name): \(count) heap allocation(s) in \(what), iteration \(benchmark.currentIteration); the firmware path must not allocate"
        )
    }
}

/// An allocation benchmark's configuration: `heapAllocations` alone (no wall clock or memory
/// metrics, whose bookkeeping allocates), zero at every percentile with no tolerance.
public func allocationConfiguration(maxIterations: Int) -> Benchmark.Configuration {
    Benchmark.Configuration(
        metrics: [heapAllocations], warmupIterations: 2, maxDuration: .seconds(8), maxIterations: maxIterations,
        thresholds: [
            heapAllocations: BenchmarkThresholds(
                relative: BenchmarkThresholds.Relative.none,
                absolute: [.p0: 0, .p25: 0, .p50: 0, .p75: 0, .p90: 0, .p99: 0, .p100: 0])
        ])
}
