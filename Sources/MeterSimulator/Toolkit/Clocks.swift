// The clocks the simulator, the cost report and the benchmarks time with.
import Foundation

/// CPU time of the calling thread in nanoseconds (CLOCK_THREAD_CPUTIME_ID): time the
/// thread really ran, not time it waited for other processes on a shared machine.
@inline(__always)
public func threadCPUNanoseconds() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
    return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
}

/// CPU time of the calling thread in seconds (`threadCPUNanoseconds`).
public func threadCPUSeconds() -> Double { Double(threadCPUNanoseconds()) * 1e-9 }

/// Wall-clock seconds from a monotonic clock.
public func monotonicSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
}
