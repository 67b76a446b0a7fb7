// The cost report's allocation counter: CAllocationCounter's malloc replacement. Linking
// this module replaces the process's allocator (pass-through to glibc, counting per
// thread only when asked), so only executables depend on it.
internal import CAllocationCounter
import CostReport

/// Counts the calling thread's heap allocations through the replaced malloc.
public struct InterposedAllocationCounter: AllocationCounter {
    public init() {}

    public func begin() { pm_allocation_counting_begin() }

    public func end() -> AllocationCounts {
        let c = pm_allocation_counting_end()
        return AllocationCounts(
            allocations: c.allocations, frees: c.frees, bytesAllocated: c.bytes_allocated,
            peakLiveBytes: c.peak_live_bytes)
    }
}
