// Heap-allocation counting for the cost report (`metering cost`) and its tests.
//
// allocation_counter.c defines malloc, free, calloc, realloc and the aligned variants,
// passing every call on to glibc's own allocator (__libc_malloc, ...), so linking this
// target into an executable replaces the allocator for the whole process. glibc 2.34
// removed __malloc_hook; replacing the symbols is the supported way to observe
// allocations. Counting is per thread and off unless the thread asked for it, so other
// threads and the rest of the program only pay one thread-local test per call.
//
// Link it only into executables that measure (the metering tool, the cost tests), never
// into a library others link: two definitions of malloc in one executable do not link,
// and package-benchmark's MallocInterposer brings its own.
#ifndef PRIVATEMETERING_ALLOCATION_COUNTER_H
#define PRIVATEMETERING_ALLOCATION_COUNTER_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// What the calling thread allocated between begin and end.
typedef struct pm_allocation_counts {
    /// Calls that returned new memory: malloc, calloc, realloc, memalign, posix_memalign,
    /// aligned_alloc, valloc, pvalloc.
    uint64_t allocations;
    /// Calls to free with a non-null pointer (realloc's release of the old block not included).
    uint64_t frees;
    /// Usable bytes of all blocks returned (malloc_usable_size).
    uint64_t bytes_allocated;
    /// Usable bytes allocated minus usable bytes freed by this thread since begin; negative
    /// when the thread freed blocks it had allocated before.
    int64_t live_bytes;
    /// The largest live_bytes seen since begin (0 if it never went above the start).
    int64_t peak_live_bytes;
} pm_allocation_counts;

/// Zeroes the calling thread's counts and starts counting its allocations.
void pm_allocation_counting_begin(void);

/// Stops counting on the calling thread and returns what it counted since begin.
pm_allocation_counts pm_allocation_counting_end(void);

#ifdef __cplusplus
}
#endif

#endif
