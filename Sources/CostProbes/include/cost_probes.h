// Probes for the cost report (`metering cost`, scripts/count-instructions.sh):
//   - stack painting: run a body on a thread whose stack is a buffer we painted, then
//     find how deep the body wrote into it;
//   - callgrind regions: functions with fixed C names that wrap one step of a reading,
//     so `valgrind --tool=callgrind --toggle-collect=pm_cost_region_prepare ...` counts
//     the instructions of that step and nothing else.
// Nothing here allocates on the heap except the probe thread's stack (mmap) and what
// pthread_create itself needs.
#ifndef PRIVATEMETERING_COST_PROBES_H
#define PRIVATEMETERING_COST_PROBES_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/// The work a probe runs: `context` is passed through untouched.
typedef void (*pm_probe_body)(void *context);

/// The outcome of pm_stack_probe_run.
typedef struct pm_stack_probe_result {
    /// Bytes of the thread's stack buffer, as asked for (rounded up to whole pages).
    size_t stack_bytes;
    /// Painted bytes below the probe's entry frame: the most the body could use.
    size_t painted_bytes;
    /// Deepest use below the probe's entry frame, in bytes (the high-water mark).
    size_t high_water_bytes;
} pm_stack_probe_result;

/// Status codes of pm_stack_probe_run.
typedef enum pm_stack_probe_status {
    PM_STACK_PROBE_OK = 0,
    /// mmap or mprotect of the stack buffer failed.
    PM_STACK_PROBE_NO_MEMORY = 1,
    /// pthread_attr_setstack or pthread_create refused the buffer (too small?).
    PM_STACK_PROBE_THREAD = 2,
    /// The body wrote to the lowest painted word: the mark is not trustworthy.
    PM_STACK_PROBE_EXHAUSTED = 3,
} pm_stack_probe_status;

/// Runs body(context) once on a new thread whose stack is a freshly mapped buffer of
/// stack_bytes, painted with a pattern and guarded by an inaccessible page below it,
/// and measures how deep the body's stack went. Blocks until the thread has finished.
pm_stack_probe_status pm_stack_probe_run(size_t stack_bytes, pm_probe_body body, void *context,
                                         pm_stack_probe_result *result);

/// body(context), under a name callgrind can toggle collection on: the precomputation
/// step of a reading (LWR: F_k(l) while idle).
void pm_cost_region_prepare(pm_probe_body body, void *context);

/// body(context), under a name callgrind can toggle collection on: the interval-boundary
/// step of a reading (encrypt, persist, frame, send).
void pm_cost_region_boundary(pm_probe_body body, void *context);

#ifdef __cplusplus
}
#endif

#endif
