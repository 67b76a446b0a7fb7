// See include/cost_probes.h.
#define _GNU_SOURCE
#include "cost_probes.h"

#include <pthread.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

// The paint: a byte value a stack rarely holds, written byte by byte.
#define PM_PAINT 0xA5u
// Bytes left unpainted just below the entry frame while repainting: the repaint loop's
// own frame lives there.
#define PM_ENTRY_SLACK 256u

typedef struct probe_job {
    unsigned char *low;  // lowest byte of the usable stack (just above the guard page)
    pm_probe_body body;
    void *context;
    uintptr_t entry;  // address in the entry frame: depth is measured from here
} probe_job;

__attribute__((noinline)) static void *probe_thread(void *arg) {
    probe_job *job = (probe_job *)arg;
    volatile unsigned char anchor = 0;
    uintptr_t entry = (uintptr_t)&anchor;
    // Everything below the entry frame was painted before the thread started, but the
    // thread's start-up code (glibc, before calling us) may have used some of it.
    // Repaint up to a little below this frame, without calling anything.
    volatile unsigned char *p = job->low;
    volatile unsigned char *end = (volatile unsigned char *)(entry - PM_ENTRY_SLACK);
    while (p < end) *p++ = PM_PAINT;
    job->entry = entry;
    job->body(job->context);
    __asm__ volatile("" ::: "memory");  // no tail call: the body runs below this frame
    (void)anchor;
    return NULL;
}

pm_stack_probe_status pm_stack_probe_run(size_t stack_bytes, pm_probe_body body, void *context,
                                         pm_stack_probe_result *result) {
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t size = (stack_bytes + page - 1) / page * page;
    if (size < (size_t)PTHREAD_STACK_MIN) size = (size_t)PTHREAD_STACK_MIN;
    unsigned char *map = mmap(NULL, size + page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (map == MAP_FAILED) return PM_STACK_PROBE_NO_MEMORY;
    // A guard page below the stack: running past the buffer faults instead of scribbling.
    if (mprotect(map, page, PROT_NONE) != 0) {
        munmap(map, size + page);
        return PM_STACK_PROBE_NO_MEMORY;
    }
    unsigned char *low = map + page;
    for (size_t i = 0; i < size; i++) low[i] = PM_PAINT;

    probe_job job = {.low = low, .body = body, .context = context, .entry = 0};
    pthread_attr_t attr;
    pthread_t thread;
    pm_stack_probe_status status = PM_STACK_PROBE_OK;
    if (pthread_attr_init(&attr) != 0) {
        munmap(map, size + page);
        return PM_STACK_PROBE_THREAD;
    }
    if (pthread_attr_setstack(&attr, low, size) != 0 || pthread_create(&thread, &attr, probe_thread, &job) != 0) {
        status = PM_STACK_PROBE_THREAD;
    } else {
        pthread_join(thread, NULL);
    }
    pthread_attr_destroy(&attr);

    if (status == PM_STACK_PROBE_OK) {
        // The deepest byte the body changed is the lowest non-paint byte.
        size_t first = 0;
        while (first < size && low[first] == PM_PAINT) first++;
        uintptr_t deepest = (uintptr_t)(low + first);
        size_t painted = (size_t)(job.entry - (uintptr_t)low);
        result->stack_bytes = size;
        result->painted_bytes = painted;
        result->high_water_bytes = deepest < job.entry ? (size_t)(job.entry - deepest) : 0;
        if (first == 0) status = PM_STACK_PROBE_EXHAUSTED;
    }
    munmap(map, size + page);
    return status;
}

__attribute__((noinline)) void pm_cost_region_prepare(pm_probe_body body, void *context) {
    body(context);
    __asm__ volatile("" ::: "memory");  // keep the call inside this function (no tail call)
}

__attribute__((noinline)) void pm_cost_region_boundary(pm_probe_body body, void *context) {
    body(context);
    __asm__ volatile("" ::: "memory");
}
