/* os_vm for POSIX systems (Linux, macOS).
 *
 * A reservation is an anonymous PROT_NONE mapping with MAP_NORESERVE, so it
 * costs address space only. Commit is mprotect to read/write; decommit drops
 * the pages with MADV_DONTNEED (Linux: the memory goes back at once and reads
 * as zero afterwards) and makes the range PROT_NONE again, or, where madvise
 * refuses, maps fresh PROT_NONE pages over the range. Every call's result is
 * checked: ENOMEM from a commit is the caller's to handle, anything else
 * means a bad argument and stops the program.
 */
#ifndef _DEFAULT_SOURCE
#define _DEFAULT_SOURCE
#endif
#include "os_vm.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#ifndef MAP_NORESERVE
#define MAP_NORESERVE 0
#endif
#ifndef MAP_ANONYMOUS
#define MAP_ANONYMOUS MAP_ANON
#endif

size_t os_vm_page_size(void)
{
    long page = sysconf(_SC_PAGESIZE); /* not cached: callers are create paths, and a cache would be shared state */
    if (page <= 0)
        os_vm_fatal("os_vm: sysconf(_SC_PAGESIZE) failed: %s", strerror(errno));
    return (size_t)page;
}

void *os_vm_reserve(size_t size, size_t align, uint32_t flags)
{
    size_t page = os_vm_page_size();
    if (align < page)
        align = page;
    if (size == 0 || size % page != 0 || (align & (align - 1)) != 0)
        os_vm_fatal("os_vm: reserve of %zu bytes aligned to %zu: size must be a non-zero multiple "
                    "of the page size (%zu) and align a power of two",
                    size, align, page);
    size_t slack = align - page;
    if (size > SIZE_MAX - slack)
        return NULL;
    size_t span = size + slack;
    void *raw = mmap(NULL, span, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (raw == MAP_FAILED) {
        /* The arguments are valid but for the size, so each errno here means
         * it is too large: Linux says ENOMEM, valgrind (and, by POSIX, other
         * systems may) EINVAL, and EAGAIN in a process that locks its future
         * mappings (mlockall with MCL_FUTURE), for more than RLIMIT_MEMLOCK. */
        if (errno == ENOMEM || errno == EINVAL || errno == EAGAIN)
            return NULL;
        os_vm_fatal("os_vm: mmap of %zu bytes of address space failed: %s", span, strerror(errno));
    }
    uintptr_t start = (uintptr_t)raw;
    uintptr_t aligned = (start + (align - 1)) & ~(uintptr_t)(align - 1);
    size_t head = aligned - start, tail = slack - head;
    if (head && munmap(raw, head) != 0)
        os_vm_fatal("os_vm: munmap of reservation head failed: %s", strerror(errno));
    if (tail && munmap((void *)(aligned + size), tail) != 0)
        os_vm_fatal("os_vm: munmap of reservation tail failed: %s", strerror(errno));
#ifdef MADV_HUGEPAGE
    if (flags & OsVmFlag_HugePages)
        (void)madvise((void *)aligned, size, MADV_HUGEPAGE); /* EINVAL without THP: plain pages */
#else
    (void)flags;
#endif
    return (void *)aligned;
}

/* Whether every page of the range is mapped: the call below changes nothing
 * here and fails with ENOMEM on pages that are not. On Linux it is madvise
 * with MADV_NORMAL, the advice the pages of a reservation have already;
 * msync would do as well, but valgrind's memcheck takes msync as a read of
 * the range and reports each one over inaccessible (uncommitted) pages, so a
 * game run under valgrind would see an error at every stack's destroy. An
 * emulator (qemu-user) may answer every madvise with success, so madvise is
 * asked first about page 0, which no process maps: where that does not fail
 * with ENOMEM, and on the other systems, msync asks. */
static bool mapped(void *addr, size_t size)
{
#ifdef __linux__
    if (madvise(NULL, os_vm_page_size(), MADV_NORMAL) != 0 && errno == ENOMEM)
        return madvise(addr, size, MADV_NORMAL) == 0 || errno != ENOMEM;
#endif
    return msync(addr, size, MS_ASYNC) == 0 || errno != ENOMEM;
}

bool os_vm_commit(void *addr, size_t size)
{
    os_vm_need_pages("commit", addr, size);
    if (size == 0)
        return true; /* an empty range: nothing to do, on every OS (os_vm.h) */
    if (os_vm_injected_failure())
        return false;
    if (mprotect(addr, size, PROT_READ | PROT_WRITE) != 0) {
        int err = errno;
        /* ENOMEM is also mprotect's answer for pages that are not mapped at all */
        if (err == ENOMEM && !mapped(addr, size))
            os_vm_fatal("os_vm: commit of %zu bytes at %p: the range is not (wholly) reserved; commit only pages "
                        "of a reservation os_vm_reserve returned and os_vm_release has not taken back",
                        size, addr);
        if (err == ENOMEM || err == EAGAIN)
            return false;
        os_vm_fatal("os_vm: commit (mprotect) of %zu bytes at %p failed: %s", size, addr, strerror(err));
    }
    return true;
}

#if defined(__linux__) && defined(MADV_POPULATE_WRITE)
/* A populate that failed, with its errno: pages of the range that are not
 * committed (unmapped, or PROT_NONE) are the caller's bug, stopped here with
 * one line where the touching below would die of a bare SIGSEGV. Each errno
 * has two meanings, told apart only on this path: ENOMEM is also a lack of
 * memory (as in commit), and EINVAL also a kernel older than the advice
 * (madvise of 0 bytes succeeds exactly where the advice is known: man 2
 * madvise). */
static void need_committed(void *addr, size_t size, int err)
{
    bool unmapped = err == ENOMEM && !mapped(addr, size);
    bool inaccessible = err == EINVAL && madvise(NULL, 0, MADV_POPULATE_WRITE) == 0;
    if (unmapped || inaccessible)
        os_vm_fatal("os_vm: prefault of %zu bytes at %p: the range is not (wholly) committed; prefault only pages "
                    "os_vm_commit made readable and writable",
                    size, addr);
}
#endif

void os_vm_prefault(void *addr, size_t size)
{
    os_vm_need_pages("prefault", addr, size);
    /* One call maps a step. */
    size_t page = os_vm_page_size(), step = OS_VM_PREFAULT_STEP > page ? OS_VM_PREFAULT_STEP : page;
    for (size_t end = size; end > 0;) {
        size_t n = end < step ? end : step; /* size and step are whole pages */
        end -= n;
        unsigned char *from = (unsigned char *)addr + end;
#if defined(__linux__) && defined(MADV_POPULATE_WRITE)
        if (madvise(from, n, MADV_POPULATE_WRITE) == 0) {
            /* The pages are mapped, but a hypervisor that keeps its own copy
             * of the page tables (shadow paging: PVM, or a VM without nested
             * paging) fills that copy only when this mapping first uses a
             * page: a trap the guest counts as no fault, 5-7 us a page on one
             * such machine, which the first frame paid. A read a page, while
             * the step is in the caches, takes those traps here. */
            os_vm_touch_pages(from, n, false);
            continue;
        }
        need_committed(addr, size, errno); /* else the kernel has no such advice, or no memory: touch */
#endif
        os_vm_touch_pages(from, n, true);
    }
}

OS_VM_NORETURN static void decommit_unreserved(void *addr, size_t size)
{
    os_vm_fatal("os_vm: decommit of %zu bytes at %p: the range is not (wholly) reserved; decommit only pages of a "
                "reservation os_vm_reserve returned and os_vm_release has not taken back",
                size, addr);
}

void os_vm_decommit(void *addr, size_t size, uint32_t flags)
{
    os_vm_need_pages("decommit", addr, size);
    if (size == 0)
        return; /* mmap, where it decommits, refuses a size of 0 */
#ifdef __linux__
    if (madvise(addr, size, MADV_DONTNEED) != 0) {
        int refusal = errno;
        /* EINVAL: locked pages (mlock, or mlockall in a process that locks
         * its mappings), which MADV_DONTNEED does not drop; any other errno
         * but ENOMEM: a kernel or a sandbox (a seccomp filter) that refuses
         * the advice, which has not looked at the range, so the probe asks
         * (MAP_FIXED would map unmapped pages too, making a reservation no
         * one releases). Fresh inaccessible pages mapped over the range drop
         * them all the same; a process that locks its future mappings gets
         * the range locked again, so that a commit there maps and locks the
         * pages at once, as before. The new mapping has none of the
         * reservation's advice: the caller's flags say whether to give it the
         * huge-page advice again. */
        if (refusal == ENOMEM || (refusal != EINVAL && !mapped(addr, size))) /* ENOMEM: pages not mapped */
            decommit_unreserved(addr, size);
        if (mmap(addr, size, PROT_NONE, MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0) ==
            MAP_FAILED)
            os_vm_fatal("os_vm: decommit of %zu bytes at %p: madvise refused (%s), and the mmap over the pages "
                        "failed: %s",
                        size, addr, strerror(refusal), strerror(errno));
#ifdef MADV_HUGEPAGE
        if (flags & OsVmFlag_HugePages)
            (void)madvise(addr, size, MADV_HUGEPAGE); /* as at the reserve */
#endif
        return;
    }
    if (mprotect(addr, size, PROT_NONE) != 0) {
        int err = errno;
        /* Where madvise said nothing of unmapped pages (an emulator answers
         * every madvise with success), mprotect's ENOMEM may mean them too;
         * it also means a split past the process's limit of mappings. */
        if (err == ENOMEM && !mapped(addr, size))
            decommit_unreserved(addr, size);
        os_vm_fatal("os_vm: decommit (mprotect) of %zu bytes at %p failed: %s", size, addr, strerror(err));
    }
#else
    /* Elsewhere MADV_DONTNEED may keep the pages: map fresh inaccessible ones
     * over the range, which must be mapped (MAP_FIXED would map unmapped
     * pages too, making a reservation no one releases). */
    (void)flags; /* no huge-page advice to give again */
    if (!mapped(addr, size))
        decommit_unreserved(addr, size);
    if (mmap(addr, size, PROT_NONE, MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0) == MAP_FAILED)
        os_vm_fatal("os_vm: decommit (mmap) of %zu bytes at %p failed: %s", size, addr, strerror(errno));
#endif
}

void os_vm_release(void *addr, size_t size)
{
    os_vm_need_pages("release", addr, size);
    if (size == 0)
        os_vm_fatal("os_vm: release of 0 bytes at %p; pass the size the reservation was made with", addr);
    /* munmap of pages that are not mapped succeeds: a second release, or one
     * past the reservation's end, would pass unseen (on Windows it is fatal).
     * One system call where a stack is destroyed. */
    if (!mapped(addr, size))
        os_vm_fatal("os_vm: release of %zu bytes at %p: the range is not (wholly) reserved; release each "
                    "reservation once, with the address os_vm_reserve returned and the size it was given",
                    size, addr);
    if (munmap(addr, size) != 0)
        os_vm_fatal("os_vm: release (munmap) of %zu bytes at %p failed: %s", size, addr, strerror(errno));
}

bool os_vm_is_large(const void *addr)
{
    (void)addr; /* transparent huge pages are the kernel's choice, page by page */
    return false;
}

/* ------------------------------------------------------------------ thread-exit slots */

static pthread_key_t slot_keys[OS_VM_THREAD_SLOTS];
static _Atomic int slot_made[OS_VM_THREAD_SLOTS]; /* 1 while the slot has a key; stored after the key */
static pthread_mutex_t slots_lock = PTHREAD_MUTEX_INITIALIZER;

int os_vm_thread_slot_create(void (*on_exit)(void *value))
{
    /* One at a time, so that a slot the OS has no key for is not used up:
     * the next call tries the same slot again. */
    pthread_mutex_lock(&slots_lock); /* a default mutex, never destroyed: it cannot fail */
    int slot = 0;
    while (slot < OS_VM_THREAD_SLOTS && atomic_load(&slot_made[slot]))
        slot++;
    if (slot == OS_VM_THREAD_SLOTS || pthread_key_create(&slot_keys[slot], on_exit) != 0)
        slot = -1;
    else
        atomic_store(&slot_made[slot], 1);
    pthread_mutex_unlock(&slots_lock);
    return slot;
}

static void need_slot(int slot)
{
    if (slot < 0 || slot >= OS_VM_THREAD_SLOTS || !atomic_load(&slot_made[slot]))
        os_vm_fatal("os_vm: thread slot %d was never created, or was deleted", slot);
}

void os_vm_thread_slot_set(int slot, void *value)
{
    need_slot(slot);
    int err = pthread_setspecific(slot_keys[slot], value);
    if (err != 0)
        os_vm_fatal("os_vm: pthread_setspecific failed: %s", strerror(err));
}

void os_vm_thread_slot_delete(int slot)
{
    pthread_mutex_lock(&slots_lock);
    need_slot(slot);
    int err = pthread_key_delete(slot_keys[slot]); /* calls nothing for the values still stored */
    if (err != 0)
        os_vm_fatal("os_vm: pthread_key_delete failed: %s", strerror(err));
    atomic_store(&slot_made[slot], 0);
    pthread_mutex_unlock(&slots_lock);
}
