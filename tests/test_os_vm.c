/* os_vm: reserve, commit, decommit, release, and the failure seam. */
#include "support.h"

#include "os_vm.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <stdatomic.h>

#define MiB ((size_t)1 << 20)

Test(os_vm, page_size_is_a_power_of_two)
{
    size_t page = os_vm_page_size();
    cr_assert_geq(page, 4096);
    cr_assert_eq(page & (page - 1), 0);
}

Test(os_vm, reserve_honours_alignment)
{
    for (size_t align = os_vm_page_size(); align <= 4 * MiB; align <<= 1) {
        void *p = os_vm_reserve(MiB, align, 0);
        cr_assert_not_null(p);
        cr_assert_eq((uintptr_t)p % align, 0, "align %zu", align);
        os_vm_release(p, MiB);
    }
}

/* A size of 0 or not a whole number of pages, or an alignment that is not a
 * power of two: one line each; the index picks the case. */
ParameterizedTestParameters(os_vm, bad_reserve_arguments_are_fatal)
{
    static int cases[3];
    return index_params(cases, 3);
}

ParameterizedTest(int *c, os_vm, bad_reserve_arguments_are_fatal, .signal = SIGABRT)
{
    size_t page = os_vm_page_size();
    size_t size = *c == 0 ? 0 : *c == 1 ? page + 1 : MiB, align = *c == 2 ? 3 * page : 0;
    expect_fatalf("os_vm: reserve of %zu bytes aligned to %zu: size must be a non-zero multiple "
                  "of the page size (%zu) and align a power of two", size, align < page ? page : align, page);
    os_vm_reserve(size, align, 0);
    death_not_reached();
}

Test(os_vm, reserved_memory_is_inaccessible, .signal = SIGSEGV)
{
    volatile unsigned char *p = os_vm_reserve(MiB, 0, 0);
    cr_assert_not_null(p);
    expect_fault();
    p[0] = 1;
    death_not_reached();
}

Test(os_vm, committed_memory_reads_zero_and_survives_writes)
{
    unsigned char *p = os_vm_reserve(4 * MiB, 0, 0);
    cr_assert(os_vm_commit(p, MiB));
    for (size_t i = 0; i < MiB; i += 4096)
        cr_assert_eq(p[i], 0);
    memset(p, 0xAA, MiB);
    cr_assert_eq(p[MiB - 1], 0xAA);
    os_vm_decommit(p, MiB, 0);
    cr_assert(os_vm_commit(p, MiB));
    cr_assert_eq(p[0], 0, "a decommitted range reads zero when committed again");
    cr_assert_eq(p[MiB - 1], 0);
    os_vm_release(p, 4 * MiB);
}

/* How many of the pages of [p, p + size) do not read zero at their start.
 * No assertion while counting: Criterion reports each to its runner. */
__attribute__((noinline)) static size_t nonzero_pages(const volatile unsigned char *p, size_t size, size_t page)
{
    size_t nonzero = 0;
    for (size_t off = 0; off < size; off += page)
        nonzero += p[off] != 0;
    return nonzero;
}

/* Prefault maps every page of the range, whatever its size against the
 * steps it works in, and the pages read zero: none is left to fault later. */
Test(os_vm, prefault_maps_every_page_of_any_size_and_they_read_zero)
{
    size_t page = os_vm_page_size();
    static const unsigned char zeros[1];
    /* The counting code (not inlined, so there is one copy of it) runs once
     * before it is counted: its first run could fault its own page of code in. */
    cr_assert_eq(nonzero_pages(zeros, sizeof zeros, page), 0);
    size_t sizes[] = {page, 3 * page, MiB, MiB + 5 * page, 3 * MiB - page};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        size_t size = sizes[i];
        unsigned char *p = os_vm_reserve(4 * MiB, 0, 0);
        cr_assert_not_null(p);
        cr_assert(os_vm_commit(p, size));
        os_vm_prefault(p, size);
        unsigned char resident[4 * MiB / 4096];
        cr_assert_eq(mincore(p, size, resident), 0);
        for (size_t k = 0; k < size / page; k++)
            cr_assert(resident[k] & 1, "size %zu: page %zu of %zu not mapped", size, k, size / page);
        long before = minor_faults();
        size_t nonzero = nonzero_pages(p, size, page);
        long faults = minor_faults() - before;
        cr_assert_eq(nonzero, 0, "size %zu: %zu pages do not read zero", size, nonzero);
        if (!TEST_ASAN && !TEST_VALGRIND) /* ASan's shadow of the new mapping takes faults of its own, as valgrind's does */
            cr_assert_eq(faults, 0, "size %zu: reading took %ld faults", size, faults);
        os_vm_release(p, 4 * MiB);
    }
}

/* The backends' page touch (the prefault's, where the kernel has no
 * MADV_POPULATE_WRITE, as on macOS and older Linux): for writing it maps each
 * page writable, so that the writes after it take no fault, and it changes
 * no byte, on pages that hold data or fresh ones. */
Test(os_vm, touching_pages_for_writing_maps_them_writable_and_changes_no_byte)
{
    size_t page = os_vm_page_size(), pages = 64;
    unsigned char *p = os_vm_reserve(pages * page, 0, 0);
    cr_assert_not_null(p);
    cr_assert(os_vm_commit(p, pages * page));
    for (size_t k = 0; k < pages; k += 2)
        p[k * page] = (unsigned char)(k + 1); /* every other page holds data; the rest are fresh */
    os_vm_touch_pages(p, pages * page, true);
    long before = minor_faults();
    for (size_t k = 0; k < pages; k++)
        p[k * page + 1] = 0x77;
    long faults = minor_faults() - before;
    for (size_t k = 0; k < pages; k++)
        cr_assert_eq(p[k * page], k % 2 ? 0 : (unsigned char)(k + 1), "page %zu: its first byte changed", k);
    if (!TEST_ASAN && !TEST_VALGRIND) /* as above */
        cr_assert_eq(faults, 0, "writing the touched pages took %ld faults", faults);
    os_vm_release(p, pages * page);
}

Test(os_vm, decommitted_memory_is_inaccessible, .signal = SIGSEGV)
{
    volatile unsigned char *p = os_vm_reserve(MiB, 0, 0);
    cr_assert(os_vm_commit((void *)p, MiB));
    p[0] = 1;
    os_vm_decommit((void *)p, MiB, 0);
    expect_fault();
    p[0] = 2;
    death_not_reached();
}

Test(os_vm, decommit_gives_the_memory_back)
{
    const size_t size = 32 * MiB;
    unsigned char *p = os_vm_reserve(size, 0, 0);
    cr_assert(os_vm_commit(p, size));
    memset(p, 1, size);
    os_vm_decommit(p, size, 0);
    cr_assert(os_vm_commit(p, size));
    long before = minor_faults();
    for (size_t i = 0; i < size; i += os_vm_page_size())
        p[i] = 2;
    long faults = minor_faults() - before;
    cr_assert_gt(faults, (long)(size / os_vm_page_size() / 2), "pages were not dropped (%ld faults)", faults);
    os_vm_release(p, size);
}

/* A range of 0 bytes: nothing committed, touched or decommitted, at the
 * reservation's base or inside it, and no injected failure used up. */
Test(os_vm, an_empty_range_changes_nothing)
{
    size_t page = os_vm_page_size();
    unsigned char *p = os_vm_reserve(MiB, 0, 0);
    cr_assert(os_vm_commit(p, 2 * page));
    p[0] = 7, p[page] = 8;
    os_vm_inject_commit_failure(1);
    cr_assert(os_vm_commit(p + 4 * page, 0), "an empty commit succeeds");
    cr_assert_not(os_vm_commit(p + 4 * page, page), "without using the injected failure");
    os_vm_inject_commit_failure(0);
    os_vm_prefault(p + 8 * page, 0);
    os_vm_decommit(p, 0, 0);
    os_vm_decommit(p + page, 0, 0);
    cr_assert(p[0] == 7 && p[page] == 8, "the committed pages kept their bytes");
    os_vm_release(p, MiB);
}

Test(os_vm, a_release_of_0_bytes_is_fatal, .signal = SIGABRT)
{
    unsigned char *p = os_vm_reserve(MiB, 0, 0);
    expect_fatalf("frame_arena: os_vm: release of 0 bytes at %p; pass the size the reservation was made with",
                  (void *)p);
    os_vm_release(p, 0);
    death_not_reached();
}

Test(os_vm, injected_failure_hits_exactly_the_kth_commit)
{
    unsigned char *p = os_vm_reserve(MiB, 0, 0);
    size_t page = os_vm_page_size();
    os_vm_inject_commit_failure(3);
    cr_assert(os_vm_commit(p, page));
    cr_assert(os_vm_commit(p + page, page));
    cr_assert_not(os_vm_commit(p + 2 * page, page));
    cr_assert(os_vm_commit(p + 2 * page, page), "one failure only");
    os_vm_inject_commit_failure(1);
    os_vm_inject_commit_failure(0);
    cr_assert(os_vm_commit(p + 3 * page, page), "0 turns injection off");
    os_vm_release(p, MiB);
}

/* A commit the OS refuses for another reason than memory: a read-only file
 * mapping cannot be made writable (EACCES). */
Test(os_vm, unexpected_os_error_is_fatal, .signal = SIGABRT)
{
    size_t page = os_vm_page_size();
    int fd = open("/proc/self/exe", O_RDONLY);
    cr_assert_geq(fd, 0);
    void *p = mmap(NULL, page, PROT_READ, MAP_SHARED, fd, 0);
    cr_assert_neq(p, MAP_FAILED);
    expect_fatalf("os_vm: commit (mprotect) of %zu bytes at %p failed: %s", page, p, strerror(EACCES));
    os_vm_commit(p, page);
    death_not_reached();
}

/* A commit, decommit or release of pages no reservation holds is a bug of
 * the caller's, which the OS lets pass for something else: mprotect answers
 * the commit with ENOMEM, as for a lack of memory (a false the caller would
 * take for an out-of-memory), madvise the decommit likewise, and munmap lets
 * the release through. Fatal, with the range (a release, before anything
 * is unmapped).
 * The reservation is released first, or made to end a MiB in, short of the
 * 2 MiB given; the index picks the call (commit, decommit, release) and the
 * case. */
ParameterizedTestParameters(os_vm, pages_no_reservation_holds_are_fatal_to_commit_decommit_and_release)
{
    static int cases[6];
    return index_params(cases, 6);
}

ParameterizedTest(int *c, os_vm, pages_no_reservation_holds_are_fatal_to_commit_decommit_and_release,
                  .signal = SIGABRT)
{
    static const char *const calls[] = {"commit", "decommit", "release"};
    const char *call = calls[*c / 2];
    unsigned char *p = os_vm_reserve(2 * MiB, 0, 0);
    cr_assert_not_null(p);
    size_t size = 2 * MiB;
    if (*c % 2 == 0)
        os_vm_release(p, size);
    else
        cr_assert_eq(munmap(p + MiB, MiB), 0, "the reservation now ends a MiB in");
    if (*c / 2 == 2)
        expect_fatalf("os_vm: release of %zu bytes at %p: the range is not (wholly) reserved; release each "
                      "reservation once, with the address os_vm_reserve returned and the size it was given",
                      size, (void *)p);
    else
        expect_fatalf("os_vm: %s of %zu bytes at %p: the range is not (wholly) reserved; %s only pages of a "
                      "reservation os_vm_reserve returned and os_vm_release has not taken back",
                      call, size, (void *)p, call);
    switch (*c / 2) {
    case 0: os_vm_commit(p, size); break;
    case 1: os_vm_decommit(p, size, 0); break;
    default: os_vm_release(p, size); break;
    }
    death_not_reached();
}

/* A prefault of pages that are not committed is a bug of the caller's: one
 * line naming the range it was given, where the touch would die of a bare
 * SIGSEGV. Pages never committed, committed and then decommitted, released,
 * and a range whose last step (the first the prefault takes) is committed
 * but whose bottom page is not. */
ParameterizedTestParameters(os_vm, a_prefault_of_pages_not_committed_is_fatal)
{
    static int cases[4];
    return index_params(cases, 4);
}

ParameterizedTest(int *c, os_vm, a_prefault_of_pages_not_committed_is_fatal, .signal = SIGABRT)
{
#ifdef MADV_POPULATE_WRITE
    if (madvise(NULL, 0, MADV_POPULATE_WRITE) != 0)
        cr_skip_test("this kernel has no MADV_POPULATE_WRITE: the touch of such a page faults");
#else
    cr_skip_test("no MADV_POPULATE_WRITE here: the touch of such a page faults");
#endif
    size_t page = os_vm_page_size();
    unsigned char *p = os_vm_reserve(2 * MiB, 0, 0);
    cr_assert_not_null(p);
    size_t size = MiB;
    switch (*c) {
    case 0:
        break;
    case 1:
        cr_assert(os_vm_commit(p, size));
        os_vm_decommit(p, size, 0);
        break;
    case 2:
        os_vm_release(p, 2 * MiB);
        break;
    default:
        cr_assert(os_vm_commit(p + page, size - page));
        break;
    }
    expect_fatalf("os_vm: prefault of %zu bytes at %p: the range is not (wholly) committed; prefault only pages "
                  "os_vm_commit made readable and writable",
                  size, (void *)p);
    os_vm_prefault(p, size);
    death_not_reached();
}

/* Two committed pages, written, the first locked in memory (mlock), which
 * MADV_DONTNEED refuses to drop (EINVAL), at the start of a reservation of
 * 4 MiB aligned to 2 MiB (so that huge-page advice can take) made with
 * `flags`. NULL where no page can be locked. */
static unsigned char *locked_pages(uint32_t flags)
{
    size_t page = os_vm_page_size();
    unsigned char *p = os_vm_reserve(4 * MiB, 2 * MiB, flags);
    cr_assert(os_vm_commit(p, 2 * page));
    memset(p, 0x5A, 2 * page);
    /* The system call itself: the sanitizers make mlock() do nothing. */
    if (syscall(SYS_mlock, p, page) != 0) {
        int err = errno;
        os_vm_release(p, 4 * MiB);
        errno = err; /* for the caller's skip message */
        return NULL;
    }
    return p;
}

/* A decommit drops locked pages too (until 2026-12-06 it stopped the
 * program, as a game that locks its memory would have at its first trim):
 * the lock goes with them, and the pages read zero when committed again. */
Test(os_vm, a_decommit_drops_locked_pages)
{
    size_t page = os_vm_page_size();
    size_t unlocked = status_kib("VmLck:");
    unsigned char *p = locked_pages(0);
    if (!p)
        cr_skip_test("cannot lock a page here (%s)", strerror(errno));
    cr_assert_eq(status_kib("VmLck:"), unlocked + page / 1024);
    os_vm_decommit(p, 2 * page, 0);
    cr_assert_eq(status_kib("VmLck:"), unlocked, "the decommit left the page locked");
    cr_assert(os_vm_commit(p, 2 * page));
    for (size_t i = 0; i < 2 * page; i++)
        cr_assert_eq(p[i], 0, "byte %zu of the pages committed again", i);
    os_vm_release(p, 4 * MiB);
}

/* The range that a decommit of locked pages maps anew gets the huge-page
 * advice again when the flags say the reservation had it: the kernel's
 * VmFlags show it ("hg"), whatever its huge-page mode. Until 2026-12-06 the
 * decommit took no flags, and the range lost the advice. */
Test(os_vm, a_decommit_of_locked_pages_keeps_the_huge_page_advice)
{
    size_t page = os_vm_page_size();
    unsigned char *p = locked_pages(OsVmFlag_HugePages);
    if (!p)
        cr_skip_test("cannot lock a page here (%s)", strerror(errno));
    if (!vm_flag(p, "hg")) {
        os_vm_release(p, 4 * MiB);
        cr_skip_test("this kernel takes no huge-page advice");
    }
    cr_assert(vm_flag(p, "lo"));
    os_vm_decommit(p, 2 * page, OsVmFlag_HugePages);
    cr_assert(!vm_flag(p, "lo"), "the decommit left the page locked");
    cr_assert(vm_flag(p, "hg"), "the range the decommit mapped anew lost the huge-page advice");
    cr_assert(vm_flag(p + 2 * MiB, "hg"), "the rest of the reservation lost the huge-page advice");
    cr_assert(os_vm_commit(p, 2 * page));
    cr_assert_eq(p[0], 0);
    os_vm_release(p, 4 * MiB);
}

Test(os_vm, decommitted_locked_pages_are_inaccessible, .signal = SIGSEGV)
{
    volatile unsigned char *p = locked_pages(0);
    if (!p)
        cr_skip_test("cannot lock a page here (%s)", strerror(errno));
    os_vm_decommit((void *)p, 2 * os_vm_page_size(), 0);
    expect_fault();
    p[0] = 2;
    death_not_reached();
}

/* A reservation the OS refuses for any reason but ENOMEM (which gives NULL). */
Test(os_vm, a_reservation_refused_but_not_for_memory_is_fatal, .signal = SIGABRT)
{
#ifdef TEST_SYSCALL_FILTER
    expect_fatalf("os_vm: mmap of %zu bytes of address space failed: %s", MiB, strerror(EPERM));
    refuse_syscall(__NR_mmap, 3, MAP_NORESERVE, MAP_NORESERVE, EPERM); /* only reservations ask for MAP_NORESERVE */
    os_vm_reserve(MiB, 0, 0);
    death_not_reached();
#else
    cr_skip_test("no seccomp filter here");
#endif
}

/* A release the OS refuses. */
Test(os_vm, a_release_the_os_refuses_is_fatal, .signal = SIGABRT)
{
#ifdef TEST_SYSCALL_FILTER
    unsigned char *p = os_vm_reserve(MiB, 0, 0);
    expect_fatalf("os_vm: release (munmap) of %zu bytes at %p failed: %s", MiB, (void *)p, strerror(EINVAL));
    refuse_syscall(__NR_munmap, 0, 0, 0, EINVAL); /* every munmap */
    os_vm_release(p, MiB);
    death_not_reached();
#else
    cr_skip_test("no seccomp filter here");
#endif
}

/* A decommit that madvise refuses for another reason than locked pages (a
 * sandbox's seccomp filter, as here, or a kernel that answers EAGAIN) maps
 * fresh pages over the range, as for locked pages: the pages written before
 * read zero when committed again. Until 2026-12-07 the refusal stopped the
 * program with "decommit (madvise) ... failed". */
Test(os_vm, a_decommit_madvise_refuses_maps_fresh_pages_over)
{
#ifdef TEST_SYSCALL_FILTER
    size_t page = os_vm_page_size();
    unsigned char *p = os_vm_reserve(MiB, 0, 0);
    cr_assert(os_vm_commit(p, 2 * page));
    memset(p, 0xAB, 2 * page);
    refuse_syscall(__NR_madvise, 2, ~0u, MADV_DONTNEED, EPERM);
    os_vm_decommit(p, 2 * page, 0);
    cr_assert(os_vm_commit(p, 2 * page));
    for (size_t i = 0; i < 2 * page; i++)
        cr_assert_eq(p[i], 0, "byte %zu of the pages committed again", i);
    os_vm_release(p, MiB);
#else
    cr_skip_test("no seccomp filter here");
#endif
}

/* and leaves them inaccessible. */
Test(os_vm, pages_decommitted_past_a_refused_madvise_are_inaccessible, .signal = SIGSEGV)
{
#ifdef TEST_SYSCALL_FILTER
    size_t page = os_vm_page_size();
    volatile unsigned char *p = os_vm_reserve(MiB, 0, 0);
    cr_assert(os_vm_commit((void *)p, page));
    p[0] = 1;
    refuse_syscall(__NR_madvise, 2, ~0u, MADV_DONTNEED, EPERM);
    os_vm_decommit((void *)p, page, 0);
    expect_fault();
    p[0] = 2;
    death_not_reached();
#else
    cr_skip_test("no seccomp filter here");
#endif
}

/* A refused madvise has not looked at the range: a decommit of pages no
 * reservation holds is still stopped before an mmap maps them anew. */
Test(os_vm, a_decommit_of_released_pages_past_a_refused_madvise_is_fatal, .signal = SIGABRT)
{
#ifdef TEST_SYSCALL_FILTER
    size_t page = os_vm_page_size();
    unsigned char *p = os_vm_reserve(MiB, 0, 0);
    os_vm_release(p, MiB);
    expect_fatalf("os_vm: decommit of %zu bytes at %p: the range is not (wholly) reserved; decommit only pages of a "
                  "reservation os_vm_reserve returned and os_vm_release has not taken back",
                  page, (void *)p);
    refuse_syscall(__NR_madvise, 0, 0, 0, EPERM); /* every madvise: the probe asks msync */
    os_vm_decommit(p, page, 0);
    death_not_reached();
#else
    cr_skip_test("no seccomp filter here");
#endif
}

/* The OS refusing what the library cannot do without is fatal, with the
 * call, the range and the OS's reasons: a decommit whose pages neither
 * madvise nor an mmap over them can drop, */
Test(os_vm, a_decommit_the_os_refuses_is_fatal, .signal = SIGABRT)
{
#ifdef TEST_SYSCALL_FILTER
    size_t page = os_vm_page_size();
    unsigned char *p = os_vm_reserve(MiB, 0, 0);
    cr_assert(os_vm_commit(p, page));
    expect_fatalf("os_vm: decommit of %zu bytes at %p: madvise refused (%s), and the mmap over the pages failed: %s",
                  page, (void *)p, strerror(EPERM), strerror(EACCES));
    refuse_syscall(__NR_madvise, 2, ~0u, MADV_DONTNEED, EPERM);
    refuse_syscall(__NR_mmap, 3, MAP_FIXED, MAP_FIXED, EACCES);
    os_vm_decommit(p, page, 0);
    death_not_reached();
#else
    cr_skip_test("no seccomp filter here");
#endif
}

/* one whose locked pages cannot be mapped over, */
Test(os_vm, a_decommit_of_locked_pages_the_os_refuses_is_fatal, .signal = SIGABRT)
{
#ifdef TEST_SYSCALL_FILTER
    size_t page = os_vm_page_size();
    unsigned char *p = locked_pages(0);
    if (!p)
        cr_skip_test("cannot lock a page here (%s)", strerror(errno));
    expect_fatalf("os_vm: decommit of %zu bytes at %p: madvise refused (%s), and the mmap over the pages failed: %s",
                  2 * page, (void *)p, strerror(EINVAL), strerror(EPERM));
    refuse_syscall(__NR_mmap, 3, MAP_FIXED, MAP_FIXED, EPERM);
    os_vm_decommit(p, 2 * page, 0);
    death_not_reached();
#else
    cr_skip_test("no seccomp filter here");
#endif
}

/* and one whose pages were dropped but whose range cannot be made
 * inaccessible again. */
Test(os_vm, a_decommit_the_os_cannot_close_is_fatal, .signal = SIGABRT)
{
#ifdef TEST_SYSCALL_FILTER
    size_t page = os_vm_page_size();
    unsigned char *p = os_vm_reserve(MiB, 0, 0);
    cr_assert(os_vm_commit(p, page));
    expect_fatalf("os_vm: decommit (mprotect) of %zu bytes at %p failed: %s", page, (void *)p, strerror(EACCES));
    refuse_syscall(__NR_mprotect, 2, 0, 0, EACCES); /* every mprotect */
    os_vm_decommit(p, page, 0);
    death_not_reached();
#else
    cr_skip_test("no seccomp filter here");
#endif
}

/* An aligned reservation maps more than it needs and unmaps the slack. */
Test(os_vm, an_aligned_reservation_whose_slack_cannot_be_unmapped_is_fatal, .signal = SIGABRT)
{
#ifdef TEST_SYSCALL_FILTER
    expect_fatal("os_vm: munmap of reservation ");
    refuse_syscall(__NR_munmap, 0, 0, 0, EINVAL); /* every munmap */
    os_vm_reserve(MiB, 2 * MiB, 0);
    death_not_reached();
#else
    cr_skip_test("no seccomp filter here");
#endif
}

/* Commit, prefault, decommit and release take whole pages only: the OS
 * would round a size up and touch the page after the range, which may be
 * another's, or (prefault) write outside it. An address inside a page or a
 * size that is not a whole number of pages is one line each; the index
 * picks the call and the case. */
ParameterizedTestParameters(os_vm, ranges_that_are_not_whole_pages_are_fatal)
{
    static int cases[8];
    return index_params(cases, 8);
}

ParameterizedTest(int *c, os_vm, ranges_that_are_not_whole_pages_are_fatal, .signal = SIGABRT)
{
    static const char *const calls[] = {"commit", "prefault", "decommit", "release"};
    size_t page = os_vm_page_size();
    unsigned char *p = os_vm_reserve(MiB, 0, 0);
    cr_assert_not_null(p);
    cr_assert(os_vm_commit(p, 4 * page));
    unsigned char *addr = *c % 2 ? p : p + 64;
    size_t size = *c % 2 ? page + 64 : page;
    expect_fatalf("os_vm: %s of %zu bytes at %p: the address and the size must be multiples of the page size (%zu)",
                  calls[*c / 2], size, (void *)addr, page);
    switch (*c / 2) {
    case 0:
        os_vm_commit(addr, size);
        break;
    case 1:
        os_vm_prefault(addr, size);
        break;
    case 2:
        os_vm_decommit(addr, size, 0);
        break;
    default:
        os_vm_release(addr, size);
        break;
    }
    death_not_reached();
}

Test(os_vm, impossible_reservation_returns_null)
{
    cr_assert_null(os_vm_reserve(SIZE_MAX / 2 / os_vm_page_size() * os_vm_page_size(), 0, 0));
}

Test(os_vm, fatal_prints_one_prefixed_line, .signal = SIGABRT)
{
    expect_fatal("frame_arena: something went wrong: 42");
    os_vm_fatal("something went wrong: %d", 42);
}

/* A message longer than the line's 1,022 characters is cut there, still one
 * line: the expected text ends with the newline right after the A's. */
Test(os_vm, fatal_cuts_a_long_message_to_one_line, .signal = SIGABRT)
{
    static char message[2001], expected[1024];
    memset(message, 'A', 1022);
    memset(message + 1022, 'B', 978);
    memset(expected, 'A', 1022);
    expected[1022] = '\n';
    expect_fatal(expected);
    os_vm_fatal("%s", message);
}

static _Atomic int exits_seen;
static void *last_exit_value;

static void count_exit(void *value)
{
    last_exit_value = value;
    atomic_fetch_add(&exits_seen, 1);
}

static int exit_slot = -1;

static void *store_and_exit(void *value)
{
    os_vm_thread_slot_set(exit_slot, value);
    return NULL;
}

static void *store_then_clear(void *value)
{
    os_vm_thread_slot_set(exit_slot, value);
    os_vm_thread_slot_set(exit_slot, NULL);
    return NULL;
}

Test(os_vm, thread_slot_runs_at_thread_exit_for_non_null_values)
{
    exit_slot = os_vm_thread_slot_create(count_exit);
    cr_assert_geq(exit_slot, 0);
    static int token;
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, store_and_exit, &token), 0);
    pthread_join(t, NULL);
    cr_assert_eq(atomic_load(&exits_seen), 1);
    cr_assert_eq(last_exit_value, &token, "the exiting thread's own value");
    cr_assert_eq(pthread_create(&t, NULL, store_then_clear, &token), 0);
    pthread_join(t, NULL);
    cr_assert_eq(atomic_load(&exits_seen), 1, "a cleared slot runs nothing");
}

Test(os_vm, thread_slots_run_out_cleanly)
{
    /* Every test runs in its own process: the scratch slot may or may not exist yet. */
    int made = 0;
    for (int i = 0; i < OS_VM_THREAD_SLOTS + 2; i++)
        made += os_vm_thread_slot_create(count_exit) >= 0;
    cr_assert_leq(made, OS_VM_THREAD_SLOTS);
    cr_assert_eq(os_vm_thread_slot_create(count_exit), -1, "-1 once the slots are gone");
}

/* A slot the OS has no key for is not used up: with every key taken, asking
 * more often than there are slots, then once a key is free, gets a slot. */
Test(os_vm, a_slot_the_os_refuses_is_not_used_up)
{
    static pthread_key_t keys[PTHREAD_KEYS_MAX];
    int taken = take_every_thread_key(keys);
    for (int i = 0; i < OS_VM_THREAD_SLOTS + 2; i++)
        cr_assert_eq(os_vm_thread_slot_create(count_exit), -1, "no key left: attempt %d", i);
    cr_assert_eq(pthread_key_delete(keys[--taken]), 0);
    exit_slot = os_vm_thread_slot_create(count_exit);
    cr_assert_eq(exit_slot, 0, "the first slot, made with the key just freed");
    pthread_t t;
    static int token;
    cr_assert_eq(pthread_create(&t, NULL, store_and_exit, &token), 0);
    pthread_join(t, NULL);
    cr_assert_eq(atomic_load(&exits_seen), 1, "the slot works");
}

ParameterizedTestParameters(os_vm, setting_a_slot_never_created_is_fatal)
{
    static int slots[] = {3, -1, OS_VM_THREAD_SLOTS, INT_MAX}; /* in range but not made, and out of range */
    return cr_make_param_array(int, slots, 4);
}

ParameterizedTest(int *slot, os_vm, setting_a_slot_never_created_is_fatal, .signal = SIGABRT)
{
    expect_fatalf("frame_arena: os_vm: thread slot %d was never created, or was deleted", *slot);
    os_vm_thread_slot_set(*slot, &exits_seen);
    death_not_reached();
}

/* A thread that stores its value and waits, so that its exit comes after
 * the slot's delete. */
static pthread_mutex_t parked_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t parked_cond = PTHREAD_COND_INITIALIZER;
static int parked_stage; /* 1: stored; 2: may exit */

static void *store_and_wait(void *value)
{
    os_vm_thread_slot_set(exit_slot, value);
    pthread_mutex_lock(&parked_lock);
    parked_stage = 1;
    pthread_cond_broadcast(&parked_cond);
    while (parked_stage != 2)
        pthread_cond_wait(&parked_cond, &parked_lock);
    pthread_mutex_unlock(&parked_lock);
    return NULL;
}

/* What code about to be unloaded needs: once its slot is deleted, no
 * thread's exit calls on_exit, and the slot can be made again. */
Test(os_vm, a_deleted_slot_calls_nothing_and_can_be_made_again)
{
    exit_slot = os_vm_thread_slot_create(count_exit);
    cr_assert_geq(exit_slot, 0);
    int deleted = exit_slot;
    static int token;
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, store_and_wait, &token), 0);
    pthread_mutex_lock(&parked_lock);
    while (parked_stage != 1)
        pthread_cond_wait(&parked_cond, &parked_lock);
    pthread_mutex_unlock(&parked_lock);

    os_vm_thread_slot_delete(exit_slot);
    pthread_mutex_lock(&parked_lock);
    parked_stage = 2;
    pthread_cond_broadcast(&parked_cond);
    pthread_mutex_unlock(&parked_lock);
    pthread_join(t, NULL);
    cr_assert_eq(atomic_load(&exits_seen), 0, "the thread exited after the delete: nothing was called");

    exit_slot = os_vm_thread_slot_create(count_exit);
    cr_assert_eq(exit_slot, deleted, "the slot given back is made again");
    cr_assert_eq(pthread_create(&t, NULL, store_and_exit, &token), 0);
    pthread_join(t, NULL);
    cr_assert_eq(atomic_load(&exits_seen), 1, "and works");
    cr_assert_eq(last_exit_value, &token);

    /* Deleted and made again, as often as you like: no key is used up. */
    for (int i = 0; i < 4 * OS_VM_THREAD_SLOTS; i++) {
        os_vm_thread_slot_delete(exit_slot);
        exit_slot = os_vm_thread_slot_create(count_exit);
        cr_assert_eq(exit_slot, deleted, "round %d", i);
    }
}

static void use_deleted_slot(int how)
{
    int slot = os_vm_thread_slot_create(count_exit);
    cr_assert_geq(slot, 0);
    os_vm_thread_slot_delete(slot);
    expect_fatalf("frame_arena: os_vm: thread slot %d was never created, or was deleted", slot);
    if (how == 0)
        os_vm_thread_slot_set(slot, &exits_seen);
    else
        os_vm_thread_slot_delete(slot);
    death_not_reached();
}

ParameterizedTestParameters(os_vm, a_deleted_slot_is_fatal_to_set_and_to_delete)
{
    static int hows[] = {0, 1};
    return cr_make_param_array(int, hows, 2);
}

ParameterizedTest(int *how, os_vm, a_deleted_slot_is_fatal_to_set_and_to_delete, .signal = SIGABRT)
{
    use_deleted_slot(*how);
}
