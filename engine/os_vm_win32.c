/* os_vm for Windows.
 *
 * Reserve is VirtualAlloc(MEM_RESERVE, PAGE_NOACCESS) at a multiple of the
 * allocation granularity (64 KiB) or of a larger requested alignment: an
 * oversized reservation finds an aligned spot, is freed, and the aligned spot
 * is reserved again (retried if another thread took it meanwhile). Commit and
 * decommit are MEM_COMMIT / MEM_DECOMMIT on page ranges; decommitted pages go
 * back to the OS at once and read as zero when committed again.
 *
 * Large pages (OsVmFlag_HugePages) need SeLockMemoryPrivilege, which the
 * process enables once (it must hold it: an administrator grants "Lock pages
 * in memory"). Windows maps large pages only with MEM_RESERVE | MEM_COMMIT
 * together, so such a reservation is committed whole, commit is a no-op
 * inside it and decommit zeroes the range instead of returning it. Without
 * the privilege, or when the OS has no contiguous memory left, the same
 * reserve falls back to normal pages. A small table remembers which
 * reservations are large.
 *
 * Thread-exit slots are thread-local storage indices, whose values the
 * image's TLS callback hands to each slot's on_exit when a thread ends.
 */
#include "os_vm.h"

#define WIN32_LEAN_AND_MEAN
#include <windows.h>

#include <stdatomic.h>
#include <string.h>

static SYSTEM_INFO system_info(void)
{
    SYSTEM_INFO info;
    GetSystemInfo(&info);
    return info;
}

size_t os_vm_page_size(void)
{
    return system_info().dwPageSize;
}

/* ------------------------------------------------------------------ large pages */

#define MAX_LARGE 64

static SRWLOCK large_lock = SRWLOCK_INIT;
static struct {
    uintptr_t base;
    size_t size;
} large[MAX_LARGE];

static INIT_ONCE privilege_once = INIT_ONCE_STATIC_INIT;
static bool have_privilege;

static BOOL CALLBACK enable_lock_memory_privilege(PINIT_ONCE once, PVOID param, PVOID *context)
{
    (void)once, (void)param, (void)context;
    HANDLE token;
    if (!OpenProcessToken(GetCurrentProcess(), TOKEN_ADJUST_PRIVILEGES | TOKEN_QUERY, &token))
        return TRUE;
    TOKEN_PRIVILEGES tp = {.PrivilegeCount = 1};
    tp.Privileges[0].Attributes = SE_PRIVILEGE_ENABLED;
    /* AdjustTokenPrivileges succeeds without granting: ERROR_NOT_ALL_ASSIGNED says so. */
    if (LookupPrivilegeValueA(NULL, "SeLockMemoryPrivilege", &tp.Privileges[0].Luid) &&
        AdjustTokenPrivileges(token, FALSE, &tp, 0, NULL, NULL) && GetLastError() == ERROR_SUCCESS)
        have_privilege = true;
    CloseHandle(token);
    return TRUE;
}

static bool find_large(uintptr_t addr, size_t *index)
{
    for (size_t i = 0; i < MAX_LARGE; i++)
        if (large[i].size && addr >= large[i].base && addr - large[i].base < large[i].size) {
            *index = i;
            return true;
        }
    return false;
}

static void *reserve_large(size_t size, size_t align)
{
    size_t large_page = GetLargePageMinimum();
    if (large_page == 0)
        return NULL;
    InitOnceExecuteOnce(&privilege_once, enable_lock_memory_privilege, NULL, NULL);
    if (!have_privilege || (large_page & (large_page - 1)) != 0 || align > large_page)
        return NULL;
    size_t rounded = (size + large_page - 1) & ~(large_page - 1);
    if (rounded < size)
        return NULL;
    AcquireSRWLockExclusive(&large_lock);
    void *p = NULL;
    size_t i = 0;
    while (i < MAX_LARGE && large[i].size)
        i++;
    if (i < MAX_LARGE) /* else: table full, normal pages */
        p = VirtualAlloc(NULL, rounded, MEM_RESERVE | MEM_COMMIT | MEM_LARGE_PAGES, PAGE_READWRITE);
    if (p) {
        large[i].base = (uintptr_t)p;
        large[i].size = rounded;
    }
    ReleaseSRWLockExclusive(&large_lock);
    return p;
}

bool os_vm_is_large(const void *addr)
{
    size_t i;
    AcquireSRWLockShared(&large_lock);
    bool found = find_large((uintptr_t)addr, &i);
    ReleaseSRWLockShared(&large_lock);
    return found;
}

/* ------------------------------------------------------------------ reserve, commit, release */

void *os_vm_reserve(size_t size, size_t align, uint32_t flags)
{
    size_t page = os_vm_page_size();
    size_t granularity = system_info().dwAllocationGranularity;
    if (align < granularity)
        align = granularity;
    if (size == 0 || size % page != 0 || (align & (align - 1)) != 0)
        os_vm_fatal("os_vm: reserve of %zu bytes aligned to %zu: size must be a non-zero multiple "
                    "of the page size (%zu) and align a power of two",
                    size, align, page);
    if (size > SIZE_MAX - align)
        return NULL;
    if (flags & OsVmFlag_HugePages) {
        void *p = reserve_large(size, align);
        if (p)
            return p;
    }
    for (int attempt = 0; attempt < 16; attempt++) {
        char *probe = VirtualAlloc(NULL, size + align, MEM_RESERVE, PAGE_NOACCESS);
        if (!probe)
            return NULL;
        uintptr_t aligned = ((uintptr_t)probe + (align - 1)) & ~(uintptr_t)(align - 1);
        if (!VirtualFree(probe, 0, MEM_RELEASE))
            os_vm_fatal("os_vm: VirtualFree of a probe reservation failed: error %lu", GetLastError());
        void *p = VirtualAlloc((void *)aligned, size, MEM_RESERVE, PAGE_NOACCESS);
        if (p)
            return p;
    }
    return NULL;
}

bool os_vm_commit(void *addr, size_t size)
{
    os_vm_need_pages("commit", addr, size);
    if (size == 0)
        return true; /* VirtualAlloc refuses a size of 0 */
    if (os_vm_injected_failure())
        return false;
    if (os_vm_is_large(addr))
        return true; /* committed at reserve */
    if (!VirtualAlloc(addr, size, MEM_COMMIT, PAGE_READWRITE)) {
        DWORD err = GetLastError();
        if (err == ERROR_NOT_ENOUGH_MEMORY || err == ERROR_COMMITMENT_LIMIT || err == ERROR_OUTOFMEMORY)
            return false;
        os_vm_fatal("os_vm: commit (VirtualAlloc) of %zu bytes at %p failed: error %lu", size, addr, err);
    }
    return true;
}

/* True when every page of [addr, addr+size) is committed read/write: a
 * prefault touches each, and an uncommitted one is the caller's bug, stopped
 * with one line rather than an access violation. One VirtualQuery per region
 * of pages alike, on a path that runs at create. */
static bool wholly_committed(void *addr, size_t size)
{
    uintptr_t at = (uintptr_t)addr, end = at + size;
    if (end < at)
        return false;
    while (at < end) {
        MEMORY_BASIC_INFORMATION info;
        if (VirtualQuery((void *)at, &info, sizeof info) == 0 || info.State != MEM_COMMIT ||
            (info.Protect & PAGE_READWRITE) == 0 || (info.Protect & PAGE_GUARD) != 0)
            return false;
        at = (uintptr_t)info.BaseAddress + info.RegionSize;
    }
    return true;
}

void os_vm_prefault(void *addr, size_t size)
{
    os_vm_need_pages("prefault", addr, size);
    if (size == 0)
        return;
    if (!wholly_committed(addr, size))
        os_vm_fatal("os_vm: prefault of %zu bytes at %p: the range is not (wholly) committed; prefault only pages "
                    "os_vm_commit made readable and writable",
                    size, addr);
    os_vm_touch_pages(addr, size, true); /* top down: see os_vm.h */
}

void os_vm_decommit(void *addr, size_t size, uint32_t flags)
{
    (void)flags; /* large pages are the reservation's own (os_vm_is_large) */
    os_vm_need_pages("decommit", addr, size);
    if (size == 0)
        return; /* VirtualFree would take a size of 0 at a reservation's base for all of it */
    if (os_vm_is_large(addr)) {
        memset(addr, 0, size); /* large pages stay; the range must still read as zero when "committed" again */
        return;
    }
    if (!VirtualFree(addr, size, MEM_DECOMMIT))
        os_vm_fatal("os_vm: decommit (VirtualFree) of %zu bytes at %p failed: error %lu", size, addr,
                    GetLastError());
}

void os_vm_release(void *addr, size_t size)
{
    os_vm_need_pages("release", addr, size); /* the OS takes the whole reservation whatever the size */
    if (size == 0)
        os_vm_fatal("os_vm: release of 0 bytes at %p; pass the size the reservation was made with", addr);
    /* Out of the table first: once the range is free, another thread may
     * reserve it with normal pages, whose commits must not pass for large. */
    size_t i;
    AcquireSRWLockExclusive(&large_lock);
    if (find_large((uintptr_t)addr, &i))
        large[i].base = 0, large[i].size = 0;
    ReleaseSRWLockExclusive(&large_lock);
    if (!VirtualFree(addr, 0, MEM_RELEASE))
        os_vm_fatal("os_vm: release (VirtualFree) at %p failed: error %lu", addr, GetLastError());
}

/* ------------------------------------------------------------------ thread-exit slots */

/* Thread-local storage indices, run at each thread's exit by this image's TLS
 * callback. Not fiber-local storage: its callback runs when a fiber is deleted
 * too, and a fiber job system deletes fibers while their thread goes on; and
 * ExitProcess calls it for the thread that ends the process, where POSIX
 * calls no key destructor. */
static DWORD slot_index[OS_VM_THREAD_SLOTS];
static void (*_Atomic slot_exit[OS_VM_THREAD_SLOTS])(void *); /* NULL from a delete on */
static _Atomic int slot_made[OS_VM_THREAD_SLOTS]; /* 1 while the slot has an index; stored after the index */
static SRWLOCK slots_lock = SRWLOCK_INIT;

/* The loader calls an image's TLS callbacks with DLL_THREAD_DETACH on the
 * thread that ends, whichever fiber it runs, for every thread that ends
 * while the image is loaded; with DLL_PROCESS_DETACH when the process ends
 * or the image is unloaded, when there is nothing to do: the OS takes
 * everything back, and an unloaded module's slots were deleted first. */
static VOID NTAPI run_slot_exits(PVOID module, DWORD reason, PVOID reserved)
{
    (void)module;
    (void)reserved;
    if (reason != DLL_THREAD_DETACH)
        return;
    for (int slot = 0; slot < OS_VM_THREAD_SLOTS; slot++) {
        void (*on_exit)(void *) = atomic_load(&slot_exit[slot]);
        void *value = atomic_load(&slot_made[slot]) ? TlsGetValue(slot_index[slot]) : NULL;
        if (value && on_exit)
            on_exit(value);
    }
}

/* The callback's place in the image's TLS directory: the linkers gather the
 * sections .CRT$XLA to .CRT$XLZ into the callback array, between the C
 * runtime's own start and end entries. */
#ifdef _MSC_VER
#pragma section(".CRT$XLB", long, read)
#ifdef _WIN64
#pragma comment(linker, "/INCLUDE:_tls_used")
#pragma comment(linker, "/INCLUDE:os_vm_tls_callback")
#else
#pragma comment(linker, "/INCLUDE:__tls_used")
#pragma comment(linker, "/INCLUDE:_os_vm_tls_callback")
#endif
__declspec(allocate(".CRT$XLB")) const PIMAGE_TLS_CALLBACK os_vm_tls_callback = run_slot_exits;
#else
__attribute__((section(".CRT$XLB"), used)) static const PIMAGE_TLS_CALLBACK os_vm_tls_callback = run_slot_exits;
#endif

int os_vm_thread_slot_create(void (*on_exit)(void *value))
{
    /* One at a time, so that a slot the OS has no index for is not used up:
     * the next call tries the same slot again. */
    AcquireSRWLockExclusive(&slots_lock);
    int slot = 0;
    while (slot < OS_VM_THREAD_SLOTS && atomic_load(&slot_made[slot]))
        slot++;
    if (slot < OS_VM_THREAD_SLOTS) {
        atomic_store(&slot_exit[slot], on_exit);
        slot_index[slot] = TlsAlloc();
        if (slot_index[slot] == TLS_OUT_OF_INDEXES)
            slot = -1;
        else
            atomic_store(&slot_made[slot], 1); /* after the index: set reads it once it sees the slot */
    } else {
        slot = -1;
    }
    ReleaseSRWLockExclusive(&slots_lock);
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
    if (!TlsSetValue(slot_index[slot], value))
        os_vm_fatal("os_vm: TlsSetValue failed: error %lu", GetLastError());
}

void os_vm_thread_slot_delete(int slot)
{
    AcquireSRWLockExclusive(&slots_lock);
    need_slot(slot);
    atomic_store(&slot_exit[slot], NULL); /* as pthread_key_delete does, call nothing for a value still stored */
    atomic_store(&slot_made[slot], 0);     /* before the index goes: a thread ending now reads no other's index */
    if (!TlsFree(slot_index[slot]))
        os_vm_fatal("os_vm: TlsFree failed: error %lu", GetLastError());
    ReleaseSRWLockExclusive(&slots_lock);
}
