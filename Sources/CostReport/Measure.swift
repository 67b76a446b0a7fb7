// The measuring instruments: distributions, heap-allocation counting (through an injected
// counter), and the stack probe; the clock is MeterSimulator's threadCPUNanoseconds.
import Foundation

/// A sample summarised: median and spread, in microseconds.
public struct Distribution: Codable, Sendable, Equatable {
    public let samples: Int
    public let medianUs: Double
    /// 10th and 90th percentile: the spread without the outliers.
    public let p10Us: Double
    public let p90Us: Double
    public let minUs: Double
    public let maxUs: Double

    /// Summarises durations given in nanoseconds (nearest-rank percentiles).
    public init(nanoseconds: [UInt64]) {
        precondition(!nanoseconds.isEmpty, "a distribution needs at least one sample")
        let s = nanoseconds.sorted().map { Double($0) / 1000 }
        func rank(_ q: Double) -> Double { s[min(s.count - 1, max(0, Int((q * Double(s.count)).rounded(.up)) - 1))] }
        samples = s.count
        medianUs = s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
        p10Us = rank(0.10)
        p90Us = rank(0.90)
        minUs = s[0]
        maxUs = s[s.count - 1]
    }
}

/// What one thread allocated on the heap over a window.
public struct AllocationCounts: Sendable, Equatable {
    public var allocations: UInt64
    public var frees: UInt64
    public var bytesAllocated: UInt64
    /// The largest (allocated − freed) bytes seen in the window.
    public var peakLiveBytes: Int64

    public init(allocations: UInt64, frees: UInt64, bytesAllocated: UInt64, peakLiveBytes: Int64) {
        self.allocations = allocations
        self.frees = frees
        self.bytesAllocated = bytesAllocated
        self.peakLiveBytes = peakLiveBytes
    }
}

/// Counts the calling thread's heap allocations between `begin` and `end`. The metering
/// tool and the tests inject one that replaces malloc (target HeapCounter); without one
/// the report says allocations were not counted rather than print a zero.
public protocol AllocationCounter: Sendable {
    func begin()
    func end() -> AllocationCounts
}

/// A positive control for the allocation counter: builds a heap array that escapes, so
/// the optimiser cannot put it on the stack.
@inline(never)
func allocatingControl(_ count: Int) -> [Int] {
    var a = [Int](repeating: 0, count: count)
    a[count - 1] = count
    return a
}

final class ControlSink: @unchecked Sendable {
    var kept: [Int] = []
}
let controlSink = ControlSink()

extension AllocationCounter {
    /// Allocations of a path known to allocate: must be at least 1, or the counter does
    /// not see this process's allocations and its zeros mean nothing.
    func controlCount() -> UInt64 {
        begin()
        controlSink.kept = allocatingControl(256)
        let counts = end()
        controlSink.kept = []
        return counts.allocations
    }
}
