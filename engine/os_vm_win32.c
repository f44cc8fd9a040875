/* os_vm for Windows.
 *
 * Reserve is VirtualAlloc(MEM_RESERVE, PAGE_NOACCESS) at a multiple of the
 * allocation granularity (64 KiB) or of a larger requested alignment: an
 * oversized reservation finds an aligned spot, is freed, and the aligned spot
 * is reserved again (retried if another thread took it meanwhile). Commit and
 * decommit are MEM_COMMIT / MEM_DECOMMIT on page ranges; decommitted pages go
 * back to the OS at once and read as zero when committed again. Huge pages
 * need SeLockMemoryPrivilege and cannot be committed in steps, so the flag is
 * accepted and ignored here: normal pages are the fallback.
 */
#include "os_vm.h"

#define WIN32_LEAN_AND_MEAN
#include <windows.h>

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

void *os_vm_reserve(size_t size, size_t align, uint32_t flags)
{
    (void)flags;
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
    if (os_vm_injected_failure())
        return false;
    if (!VirtualAlloc(addr, size, MEM_COMMIT, PAGE_READWRITE)) {
        DWORD err = GetLastError();
        if (err == ERROR_NOT_ENOUGH_MEMORY || err == ERROR_COMMITMENT_LIMIT || err == ERROR_OUTOFMEMORY)
            return false;
        os_vm_fatal("os_vm: commit (VirtualAlloc) of %zu bytes at %p failed: error %lu", size, addr, err);
    }
    return true;
}

void os_vm_prefault(void *addr, size_t size)
{
    size_t page = os_vm_page_size();
    volatile unsigned char *p = addr;
    for (size_t off = 0; off < size; off += page)
        p[off] = 0;
}

void os_vm_decommit(void *addr, size_t size)
{
    if (!VirtualFree(addr, size, MEM_DECOMMIT))
        os_vm_fatal("os_vm: decommit (VirtualFree) of %zu bytes at %p failed: error %lu", size, addr,
                    GetLastError());
}

void os_vm_release(void *addr, size_t size)
{
    (void)size;
    if (!VirtualFree(addr, 0, MEM_RELEASE))
        os_vm_fatal("os_vm: release (VirtualFree) at %p failed: error %lu", addr, GetLastError());
}
