// What every benchmark target of this package shares: the thread CPU clock as a metric,
// and the zero thresholds of the allocation benchmarks.

import Benchmark

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// CPU time of the calling thread (CLOCK_THREAD_CPUTIME_ID), in nanoseconds. The harness's
/// own CPU metrics read the process clock, which ticks in 10 ms steps on these VMs.
@inline(__always)
public func threadCPUNanoseconds() -> Int {
    var ts = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
    return Int(ts.tv_sec) * 1_000_000_000 + Int(ts.tv_nsec)
}

/// Reported next to the wall clock for every timing benchmark.
public let threadCPU = BenchmarkMetric.custom("thread CPU (ns)")

/// Runs `body` and records its thread CPU time as `threadCPU`.
@inline(__always)
public func measuringThreadCPU<R>(_ benchmark: Benchmark, _ body: () throws -> R) rethrows -> R {
    let start = threadCPUNanoseconds()
    let result = try body()
    benchmark.measurement(threadCPU, threadCPUNanoseconds() - start)
    return result
}

/// Zero at every percentile, no relative tolerance: the thresholds of the firmware paths'
/// `mallocCountTotal` benchmarks (stored as Thresholds/*.p90.json for `thresholds check`).
public func zeroAllocationThresholds() -> BenchmarkThresholds {
    BenchmarkThresholds(
        relative: BenchmarkThresholds.Relative.none,
        absolute: [.p0: 0, .p25: 0, .p50: 0, .p75: 0, .p90: 0, .p99: 0, .p100: 0])
}
