/* os_vm: the only part of frame_arena that talks to the operating system.
 *
 * It reserves address space (inaccessible until committed), commits and
 * decommits page ranges inside a reservation, and releases it. It knows
 * nothing of stacks or frames. One implementation file per OS, picked by the
 * build: os_vm_posix.c (Linux, macOS), os_vm_win32.c (Windows).
 *
 *     size_t page = os_vm_page_size();
 *     void *base = os_vm_reserve(1 << 30, page, 0); // nothing committed yet
 *     if (os_vm_commit(base, 64 << 10)) { ... }     // false: out of memory
 *     os_vm_decommit(base, 64 << 10, 0);            // back to the OS, inaccessible
 *     os_vm_release(base, 1 << 30);
 *
 * Errors: a commit the OS refuses for lack of memory returns false; any other
 * failure of an OS call is a bug in the caller or the library and is fatal
 * (one line on stderr, then abort). Addresses and sizes passed to commit,
 * prefault, decommit and release must be multiples of the page size: the OS
 * would round a size up and touch the page after the range, which may be
 * someone else's, so anything else is fatal too. A commit, prefault or
 * decommit of 0 bytes does nothing (a commit returns true), on every OS; a
 * release of 0 bytes is fatal.
 */
#ifndef FRAME_ARENA_OS_VM_H
#define FRAME_ARENA_OS_VM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__MINGW32__)
#define OS_VM_NORETURN __attribute__((noreturn))
#define OS_VM_PRINTF(f, a) __attribute__((format(gnu_printf, f, a))) /* os_vm.c uses the C99 printf */
#elif defined(__GNUC__) || defined(__clang__)
#define OS_VM_NORETURN __attribute__((noreturn))
#define OS_VM_PRINTF(f, a) __attribute__((format(printf, f, a)))
#elif defined(__cplusplus)
#define OS_VM_NORETURN [[noreturn]]
#define OS_VM_PRINTF(f, a)
#else
#define OS_VM_NORETURN _Noreturn /* C11, as the library is */
#define OS_VM_PRINTF(f, a)
#endif

/* OS_VM_THREAD_LOCAL: thread storage duration. MSVC's C compiler has no
 * _Thread_local, even with /std:c11; it has __declspec(thread). */
#if defined(__cplusplus)
#define OS_VM_THREAD_LOCAL thread_local
#elif defined(_MSC_VER) && !defined(__clang__)
#define OS_VM_THREAD_LOCAL __declspec(thread)
#else
#define OS_VM_THREAD_LOCAL _Thread_local
#endif

typedef enum OsVmFlag {
    /* Linux: transparent huge pages where enabled. Windows: large pages where
     * the process holds SeLockMemoryPrivilege; Windows cannot commit those in
     * steps, so the whole reservation is committed at reserve (size rounded up
     * to the large-page size) and decommit only zeroes it. Elsewhere, or when
     * the OS says no, normal pages: the flag never makes a reserve fail. */
    OsVmFlag_HugePages = 1u << 0,
} OsVmFlag;

size_t os_vm_page_size(void);

/* Reserves size bytes of inaccessible address space whose start is a multiple
 * of align (a power of two; below the page size means the page size). NULL if
 * the OS refuses for the size (no address space, or in a process that locks
 * its future mappings, more than it may lock); a size of 0 or not a multiple
 * of the page size, or an align that is not a power of two, is fatal. */
void *os_vm_reserve(size_t size, size_t align, uint32_t flags);

/* Makes [addr, addr+size) readable and writable. Fresh pages read as zero.
 * false when the OS is out of memory (or a test injected a failure). A
 * range that is not wholly inside a reservation is fatal. */
bool os_vm_commit(void *addr, size_t size);

/* Touches every page of a committed range so that later use takes no fault,
 * and changes no byte of it: a range holding data keeps it. On Linux 5.14
 * and later the kernel maps the pages (MADV_POPULATE_WRITE), then one read a
 * page from this mapping takes the first-use traps of a hypervisor that
 * shadows the page tables, which the guest does not count as faults
 * (docs/BENCHMARKS.md, "Zen 5 under shadow paging"); elsewhere each page
 * takes one write of its own byte. It goes from the top down: the kernel
 * zeroes each page as it maps it, and the pages written last are the
 * likeliest to be in the caches still, so a stack that fills from the bottom
 * meets those first instead of evicting them before it gets there
 * (docs/BENCHMARKS.md, the prefault goal). A range with pages not committed
 * (never, or decommitted or released since) is fatal, with one line, on
 * Windows and on Linux 5.14 and later; where the kernel has no
 * MADV_POPULATE_WRITE (older Linux, macOS), the touch of such a page faults
 * (SIGSEGV). On POSIX it goes OS_VM_PREFAULT_STEP bytes at a time (or a
 * page, if larger): on Linux each step is mapped, then read while it is
 * still in the caches. */
#define OS_VM_PREFAULT_STEP ((size_t)256 << 10)
void os_vm_prefault(void *addr, size_t size);

/* Returns the pages to the OS at once, locked ones too (mlock, mlockall),
 * and makes the range inaccessible; a later commit of the range reads as
 * zero. flags as given to os_vm_reserve: on Linux a decommit of locked pages
 * maps the range anew, and OsVmFlag_HugePages gives the new mapping the
 * huge-page advice again. A range with pages no reservation holds is fatal. */
void os_vm_decommit(void *addr, size_t size, uint32_t flags);

/* Gives the whole reservation back. addr and size as returned and passed to
 * reserve; a range with pages no reservation holds (released already, or
 * past the reservation's end) is fatal. */
void os_vm_release(void *addr, size_t size);

/* True when [addr, addr+size) lies in a reservation that got large pages
 * (Windows); false for normal pages and on POSIX, where the kernel decides. */
bool os_vm_is_large(const void *addr);

/* Thread-exit slots, for per-thread state that must be freed when its thread
 * ends: pthread keys on POSIX, thread-local storage and the image's TLS
 * callback on Windows. A slot is made once per process with the function to
 * call; each thread stores its own value, and on_exit(value) runs when that
 * thread exits with a non-NULL value stored, whichever fiber it runs (not when
 * a fiber is deleted). Not for the thread that ends the process (a return
 * from main, exit, abort): the OS takes everything back then. */
#define OS_VM_THREAD_SLOTS 4
/* A slot number, or -1 when the OS (or OS_VM_THREAD_SLOTS) has none left. A
 * call the OS refuses uses no slot up: a later call tries the same one. */
int os_vm_thread_slot_create(void (*on_exit)(void *value));
/* Stores value for the calling thread; NULL means nothing to do at exit. */
void os_vm_thread_slot_set(int slot, void *value);
/* Gives the slot back, so that no on_exit runs for it any more (before the
 * code holding on_exit is unloaded) and a later create may make it again.
 * Delete it once every thread's value is NULL: a value still stored is
 * dropped, on_exit not called for it, on every OS. A slot not made, or
 * deleted already, is fatal here and in set. */
void os_vm_thread_slot_delete(int slot);

/* Test seam: the k-th commit from now (1 = the next one) fails as if the OS
 * were out of memory; 0 turns injection off. Counts commits of all threads. */
void os_vm_inject_commit_failure(uint64_t k);

/* For the OS backends: true when an injected failure is due for this commit. */
bool os_vm_injected_failure(void);

/* For the OS backends: fatal unless addr and size are multiples of the page
 * size; `call` names the call in the line. */
void os_vm_need_pages(const char *call, const void *addr, size_t size);

/* For the OS backends: one access to the first byte of every page of a
 * committed range, top down. A read (write false) maps nothing new but lets
 * the first access from this mapping happen now; a write maps each page
 * writable. Neither changes a byte, whatever the pages hold and whoever else
 * writes to them meanwhile (the write is a compare-and-swap of the byte with
 * itself). */
void os_vm_touch_pages(void *addr, size_t size, bool write);

/* The library's fatal error: prints "frame_arena: <message>" as one line on
 * stderr and aborts. Used for programming errors and impossible OS failures. */
OS_VM_NORETURN OS_VM_PRINTF(1, 2) void os_vm_fatal(const char *fmt, ...);

#ifdef __cplusplus
}
#endif

#endif
