/* The OS-independent part of os_vm: the library's fatal-error line, the
 * check of the ranges the backends are given, and the commit-failure
 * injection that tests use to play an out-of-memory OS. */
#define __USE_MINGW_ANSI_STDIO 1 /* MinGW: %zu in the fatal messages */
#include "os_vm.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

static _Atomic uint64_t commit_failure_countdown;

void os_vm_fatal(const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line - 1, fmt, ap);
    va_end(ap);
    if (n < 0)
        n = 0;
    if ((size_t)n > sizeof line - 2)
        n = (int)sizeof line - 2;
    line[n] = '\n';
    fflush(stdout);
    fputs("frame_arena: ", stderr);
    fwrite(line, 1, (size_t)n + 1, stderr);
    fflush(stderr);
    abort();
}

void os_vm_need_pages(const char *call, const void *addr, size_t size)
{
    size_t page = os_vm_page_size();
    if ((uintptr_t)addr % page != 0 || size % page != 0)
        os_vm_fatal("os_vm: %s of %zu bytes at %p: the address and the size must be multiples of the page size "
                    "(%zu)",
                    call, size, addr, page);
}

void os_vm_touch_pages(void *addr, size_t size, bool write)
{
    size_t page = os_vm_page_size();
    for (size_t off = size; off > 0; off -= page) { /* top down: see os_vm_prefault */
        volatile _Atomic unsigned char *b = (volatile _Atomic unsigned char *)((unsigned char *)addr + off - page);
        if (!write) {
            (void)atomic_load_explicit(b, memory_order_relaxed);
            continue;
        }
        /* A compare-and-swap that stores what it finds: one write access to
         * a fresh page (its byte is 0), no byte changed on any page. A failed
         * compare may not count as a write (LL/SC), so the second stores the
         * value the first found. */
        unsigned char seen = 0;
        if (!atomic_compare_exchange_strong_explicit(b, &seen, 0, memory_order_relaxed, memory_order_relaxed))
            atomic_compare_exchange_strong_explicit(b, &seen, seen, memory_order_relaxed, memory_order_relaxed);
    }
}

void os_vm_inject_commit_failure(uint64_t k)
{
    atomic_store(&commit_failure_countdown, k);
}

bool os_vm_injected_failure(void)
{
    uint64_t left = atomic_load(&commit_failure_countdown);
    while (left != 0) {
        if (atomic_compare_exchange_weak(&commit_failure_countdown, &left, left - 1))
            return left == 1;
    }
    return false;
}
