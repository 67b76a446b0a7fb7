// Counting replacement of the C allocator: see include/allocation_counter.h.
#define _GNU_SOURCE
#include "allocation_counter.h"

#include <errno.h>
#include <malloc.h>
#include <stddef.h>
#include <stdint.h>
#include <unistd.h>

// glibc's allocator under its own names (exported by libc.so.6 since 2.2.5).
extern void *__libc_malloc(size_t size);
extern void __libc_free(void *ptr);
extern void *__libc_calloc(size_t count, size_t size);
extern void *__libc_realloc(void *ptr, size_t size);
extern void *__libc_memalign(size_t alignment, size_t size);

// initial-exec TLS lives in the static TLS block: reading it never allocates, which a
// malloc replacement needs (dynamic TLS may call malloc on first use).
#define PM_TLS __thread __attribute__((tls_model("initial-exec")))
static PM_TLS int counting;
static PM_TLS pm_allocation_counts counts;

static inline void noteAllocation(void *ptr) {
    if (!counting || ptr == NULL) return;
    size_t usable = malloc_usable_size(ptr);
    counts.allocations += 1;
    counts.bytes_allocated += usable;
    counts.live_bytes += (int64_t)usable;
    if (counts.live_bytes > counts.peak_live_bytes) counts.peak_live_bytes = counts.live_bytes;
}

static inline void noteFree(void *ptr) {
    if (!counting || ptr == NULL) return;
    counts.frees += 1;
    counts.live_bytes -= (int64_t)malloc_usable_size(ptr);
}

void pm_allocation_counting_begin(void) {
    counting = 0;
    counts = (pm_allocation_counts){0};
    counting = 1;
}

pm_allocation_counts pm_allocation_counting_end(void) {
    counting = 0;
    return counts;
}

// ---- the replaced entry points -------------------------------------------------------

void *malloc(size_t size) {
    void *p = __libc_malloc(size);
    noteAllocation(p);
    return p;
}

void free(void *ptr) {
    noteFree(ptr);
    __libc_free(ptr);
}

void *calloc(size_t count, size_t size) {
    void *p = __libc_calloc(count, size);
    noteAllocation(p);
    return p;
}

void *realloc(void *ptr, size_t size) {
    size_t before = (counting && ptr != NULL) ? malloc_usable_size(ptr) : 0;
    void *p = __libc_realloc(ptr, size);
    if (counting) {
        if (ptr != NULL && (p != NULL || size == 0)) counts.live_bytes -= (int64_t)before;  // old block gone
        if (ptr != NULL && size == 0 && p == NULL) counts.frees += 1;  // realloc(p, 0) frees
        noteAllocation(p);
    }
    return p;
}

void *memalign(size_t alignment, size_t size) {
    void *p = __libc_memalign(alignment, size);
    noteAllocation(p);
    return p;
}

void *aligned_alloc(size_t alignment, size_t size) {
    void *p = __libc_memalign(alignment, size);
    noteAllocation(p);
    return p;
}

int posix_memalign(void **out, size_t alignment, size_t size) {
    // POSIX: a power of two multiple of sizeof(void *); on failure *out is untouched.
    if (alignment < sizeof(void *) || (alignment & (alignment - 1)) != 0) return EINVAL;
    void *p = __libc_memalign(alignment, size);
    if (p == NULL && size != 0) return ENOMEM;
    noteAllocation(p);
    *out = p;
    return 0;
}

void *valloc(size_t size) {
    void *p = __libc_memalign((size_t)sysconf(_SC_PAGESIZE), size);
    noteAllocation(p);
    return p;
}

void *pvalloc(size_t size) {
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t rounded = (size + page - 1) & ~(page - 1);
    if (rounded < size) {
        errno = ENOMEM;
        return NULL;
    }
    void *p = __libc_memalign(page, rounded == 0 ? page : rounded);
    noteAllocation(p);
    return p;
}
