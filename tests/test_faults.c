/* Failures from outside: every commit of a multi-frame scenario failing in
 * turn, real RLIMIT_DATA and RLIMIT_AS limits, and size arithmetic at the
 * edges of size_t. Nothing may crash, lose data or leak. */
#include "support.h"

#include "frame_arena.h"
#include "os_vm.h"
#include "scratch.h"

#include <linux/capability.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#define KiB ((size_t)1 << 10)
#define MiB ((size_t)1 << 20)

typedef struct FailCount {
    int calls;
} FailCount;

static void count_failure(PageStack *ps, size_t size, size_t align, void *user)
{
    (void)ps, (void)size, (void)align;
    ((FailCount *)user)->calls++;
}

typedef struct Kept {
    unsigned char *p;
    size_t size;
    unsigned char tag;
} Kept;

static bool kept_intact(const Kept *k)
{
    for (size_t i = 0; i < k->size; i += 4093)
        if (k->p[i] != k->tag)
            return false;
    return k->size == 0 || k->p[k->size - 1] == k->tag;
}

/* Six frames of growing pushes, two frames in flight. Returns how many pushes failed. */
static int run_frames(FrameArena *fa, FailCount *fails, bool use_try)
{
    Kept kept[2][8];
    int counts[2] = {0, 0}, failed = 0;
    for (int f = 0; f < 6; f++) {
        PageStack *ps = frame_arena_begin(fa);
        int slot = f % 2;
        counts[slot] = 0;
        for (int i = 0; i < 8; i++) {
            size_t size = (size_t)(f + 1) * 40 * KiB + (size_t)i * 7 * KiB;
            PageStackStats before = page_stack_stats(ps);
            int calls = fails->calls;
            unsigned char *p = use_try ? page_stack_try_push(ps, size, 64) : page_stack_push(ps, size, 64);
            if (!p) {
                PageStackStats after = page_stack_stats(ps);
                cr_assert_eq(page_stack_last_error(ps), PageStackError_CommitFailed);
                cr_assert_eq(after.pos, before.pos, "a failed push moved pos");
                cr_assert_eq(after.committed, before.committed, "a failed push changed committed");
                cr_assert_eq(fails->calls, calls + (use_try ? 0 : 1), "on_fail exactly once per failed push");
                failed++;
                continue;
            }
            memset(p, (unsigned char)(16 * f + i), size);
            kept[slot][counts[slot]++] = (Kept){p, size, (unsigned char)(16 * f + i)};
        }
        /* Last frame's data is still in flight and must be intact, as must this frame's. */
        for (int s = 0; s < 2; s++)
            for (int i = 0; i < (f > 0 || s == slot ? counts[s] : 0); i++)
                cr_assert(kept_intact(&kept[s][i]), "frame data lost (frame %d, block %d)", f, i);
        frame_arena_end(fa);
    }
    return failed;
}

static void fail_every_commit_in_turn(bool use_try)
{
    int k;
    for (k = 1; k < 500; k++) {
        FailCount fails = {0};
        FrameArena *fa = frame_arena_create(&(FrameArenaDesc){
            .stack = {.on_fail = count_failure, .user = &fails, .commit_size = 64 * KiB}, .trim_after = 2});
        cr_assert_not_null(fa);
        os_vm_inject_commit_failure((uint64_t)k);
        int failed = run_frames(fa, &fails, use_try);
        os_vm_inject_commit_failure(0);
        /* Full service afterwards: the same scenario runs clean. */
        cr_assert_eq(run_frames(fa, &fails, use_try), 0);
        frame_arena_destroy(fa);
        if (failed == 0)
            break; /* k is past the scenario's last commit */
        cr_assert_eq(failed, 1, "one injected failure, one failed push (k = %d)", k);
    }
    cr_assert_gt(k, 8, "the scenario should commit many times (%d)", k - 1);
    cr_assert_lt(k, 500);
}

Test(inject, every_commit_of_a_multi_frame_scenario_fails_in_turn_with_try_push)
{
    fail_every_commit_in_turn(true);
}

Test(inject, every_commit_of_a_multi_frame_scenario_fails_in_turn_with_push)
{
    fail_every_commit_in_turn(false);
}

/* ---------------------------------------------------------------- real limits */

/* Sanitizers map their own memory as they go: a tight limit breaks them, not us. */
#if !TEST_ASAN && !defined(__SANITIZE_THREAD__)
/* Limits `resource` to what the process has now (`field` of
 * /proc/self/status) and `more_mib` more; returns the old limit, for the
 * setrlimit that puts it back. */
static struct rlimit limit_to_now_and(int resource, const char *field, size_t more_mib)
{
    struct rlimit old;
    getrlimit(resource, &old);
    struct rlimit tight = {(status_kib(field) + more_mib * 1024) * 1024, old.rlim_max};
    cr_assert_eq(setrlimit(resource, &tight), 0);
    return old;
}

Test(limits, rlimit_data_makes_commits_fail_cleanly)
{
    if (TEST_VALGRIND)
        cr_skip_test("valgrind keeps RLIMIT_DATA to itself: the kernel never sees the limit");
    FailCount fails = {0};
    PageStack *ps = page_stack_create(&(PageStackDesc){.on_fail = count_failure, .user = &fails});
    unsigned char *first = page_stack_push(ps, 64 * KiB, 16);
    memset(first, 0x5A, 64 * KiB);
    struct rlimit old = limit_to_now_and(RLIMIT_DATA, "VmData:", 8);

    size_t pushes = 0;
    unsigned char *p;
    while ((p = page_stack_try_push(ps, 256 * KiB, 16)) != NULL && pushes < 1000) {
        p[0] = p[256 * KiB - 1] = 1;
        pushes++;
    }
    cr_assert_null(p, "RLIMIT_DATA never stopped a commit");
    cr_assert_eq(page_stack_last_error(ps), PageStackError_CommitFailed);
    PageStackStats at_limit = page_stack_stats(ps);
    cr_assert_null(page_stack_push(ps, 256 * KiB, 16));
    cr_assert_eq(fails.calls, 1, "push reaches on_fail exactly once");
    PageStackStats after = page_stack_stats(ps);
    cr_assert_eq(after.pos, at_limit.pos);
    cr_assert_eq(after.committed, at_limit.committed);
    for (size_t i = 0; i < 64 * KiB; i++)
        cr_assert_eq(first[i], 0x5A);
    /* After a reset the committed memory serves again, still under the limit
     * (the checked build moves to a region of its own at each reset instead). */
    page_stack_reset(ps);
    if (!TEST_CHECKED)
        cr_assert_not_null(page_stack_try_push(ps, after.committed / 2, 16));
    cr_assert_eq(setrlimit(RLIMIT_DATA, &old), 0);
    cr_assert_not_null(page_stack_try_push(ps, 8 * MiB, 16), "more memory once the limit is lifted");
    page_stack_destroy(ps);
}

/* Committed bytes count against RLIMIT_DATA (as, under strict overcommit,
 * against the system's commit limit) only while they stay committed: a
 * reservation counts nothing, and what a trim decommits, by a call or by a
 * frame arena's policy, another stack can commit under the same limit. */
Test(limits, trimmed_memory_no_longer_counts_against_rlimit_data)
{
    if (TEST_VALGRIND)
        cr_skip_test("valgrind keeps RLIMIT_DATA to itself: the kernel never sees the limit");
    struct rlimit old = limit_to_now_and(RLIMIT_DATA, "VmData:", 8);
    /* 1 GiB each, three of them, under a limit of 8 MiB more than the process has */
    const uint32_t trim_after = 4;
    PageStack *ps = page_stack_create(NULL);
    FrameArena *fa = frame_arena_create(&(FrameArenaDesc){.trim_after = trim_after});
    cr_assert(ps && fa, "reservations count against RLIMIT_DATA");

    unsigned char *p;
    while ((p = page_stack_try_push(ps, 256 * KiB, 16)) != NULL)
        p[0] = p[256 * KiB - 1] = 1;
    cr_assert_eq(page_stack_last_error(ps), PageStackError_CommitFailed);
    size_t charged = page_stack_stats(ps).committed, spike = charged - 512 * KiB;
    cr_assert_geq(charged, 4 * MiB, "the limit stopped the stack at %zu bytes", charged);
    PageStack *frame = frame_arena_begin(fa);
    cr_assert_null(page_stack_try_push(frame, 1 * MiB, 16), "the stack holds the limit");
    frame_arena_end(fa);

    page_stack_reset(ps);
    page_stack_trim(ps, 0);
    cr_assert_eq(page_stack_stats(ps).committed, 0);
    p = page_stack_try_push(frame_arena_begin(fa), spike, 16);
    cr_assert_not_null(p, "the bytes the stack's trim decommitted still count against the limit");
    p[0] = p[spike - 1] = 2;
    frame_arena_end(fa);
    for (uint32_t k = 1; k <= trim_after; k++) {
        cr_assert_null(page_stack_try_push(ps, spike, 16), "the spike frame is trimmed %u frames after it", k);
        frame_arena_begin(fa);
        frame_arena_end(fa);
    }
    cr_assert_eq(frame_arena_stats(fa).trims, 1, "trims %llu", (unsigned long long)frame_arena_stats(fa).trims);
    p = page_stack_try_push(ps, spike, 16);
    cr_assert_not_null(p, "the bytes the arena's trim policy decommitted still count against the limit");
    p[0] = p[spike - 1] = 3;
    frame_arena_destroy(fa);
    page_stack_destroy(ps);
    cr_assert_eq(setrlimit(RLIMIT_DATA, &old), 0);
}

/* A thread's scratch stacks keep what they committed after the scope that
 * needed it; scratch_thread_release gives it back, and the next scope makes
 * the stacks anew. */
Test(limits, scratch_thread_release_gives_back_what_scratch_committed)
{
    if (TEST_VALGRIND)
        cr_skip_test("valgrind keeps RLIMIT_DATA to itself: the kernel never sees the limit");
    PageStack *ps = page_stack_create(NULL);
    scratch_end(scratch_begin(NULL, 0)); /* the thread's stacks, made before the limit */
    struct rlimit old = limit_to_now_and(RLIMIT_DATA, "VmData:", 8);
    PageStackMark tmp = scratch_begin(NULL, 0);
    unsigned char *p;
    while ((p = page_stack_try_push(tmp.stack, 256 * KiB, 16)) != NULL)
        p[0] = p[256 * KiB - 1] = 1;
    cr_assert_eq(page_stack_last_error(tmp.stack), PageStackError_CommitFailed);
    size_t charged = page_stack_stats(tmp.stack).committed, most = charged - 512 * KiB;
    cr_assert_geq(charged, 4 * MiB, "the limit stopped scratch at %zu bytes", charged);
    scratch_end(tmp);
    cr_assert_null(page_stack_try_push(ps, 1 * MiB, 16), "the scope's end keeps the scratch stack's commit");

    scratch_thread_release();
    p = page_stack_try_push(ps, most, 16);
    cr_assert_not_null(p, "the bytes the scratch stacks held still count against the limit");
    p[0] = p[most - 1] = 2;
    page_stack_reset(ps);
    page_stack_trim(ps, 0);
    tmp = scratch_begin(NULL, 0);
    p = page_stack_try_push(tmp.stack, most, 16);
    cr_assert_not_null(p, "the next scope has scratch stacks again, and room");
    p[0] = p[most - 1] = 3;
    scratch_end(tmp);
    scratch_thread_release();
    page_stack_destroy(ps);
    cr_assert_eq(setrlimit(RLIMIT_DATA, &old), 0);
}

/* ---------------------------------------------------------------- mlockall */

/* A process that locks its future mappings (mlockall with MCL_FUTURE, as a
 * game or server may to keep its memory out of swap) has each reservation
 * counted against RLIMIT_MEMLOCK, unless it holds CAP_IPC_LOCK; committed
 * pages are mapped and locked at the commit, and MADV_DONTNEED refuses them. */

static size_t rss_kib(void)
{
    return status_kib("RssAnon:");
}

/* Takes CAP_IPC_LOCK out of the calling thread's effective set (root has it),
 * so that RLIMIT_MEMLOCK applies. */
static void drop_ipc_lock(void)
{
    struct __user_cap_header_struct head = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct caps[2];
    cr_assert_eq(syscall(SYS_capget, &head, caps), 0);
    caps[CAP_IPC_LOCK / 32].effective &= ~(1u << (CAP_IPC_LOCK % 32));
    cr_assert_eq(syscall(SYS_capset, &head, caps), 0);
}

Test(limits, a_reservation_past_rlimit_memlock_under_mlockall_returns_null)
{
    if (TEST_VALGRIND)
        cr_skip_test("valgrind maps memory of its own as it goes, locked too under mlockall");
    drop_ipc_lock();
    struct rlimit old;
    getrlimit(RLIMIT_MEMLOCK, &old);
    struct rlimit tight = {4 * MiB, old.rlim_max};
    if (old.rlim_max < tight.rlim_cur)
        tight = old;
    cr_assert_eq(setrlimit(RLIMIT_MEMLOCK, &tight), 0);
    cr_assert_eq(mlockall(MCL_FUTURE), 0);
    cr_assert_null(page_stack_create(NULL), "1 GiB locked under a limit of %zu bytes", (size_t)tight.rlim_cur);
    cr_assert_eq(page_stack_create_error(), PageStackError_ReserveFailed);
    cr_assert_null(frame_arena_create(NULL));
    cr_assert_eq(page_stack_create_error(), PageStackError_ReserveFailed);
    PageStack *small = page_stack_create(&(PageStackDesc){.reserve_size = 256 * KiB});
    cr_assert_not_null(small, "a reservation under the limit");
    unsigned char *p = page_stack_push(small, 64 * KiB, 16);
    p[0] = p[64 * KiB - 1] = 1;
    page_stack_destroy(small);
    cr_assert_eq(munlockall(), 0);
    cr_assert_eq(setrlimit(RLIMIT_MEMLOCK, &old), 0);
}

/* A stack of 64 MiB (reserve) with `flags`, made under mlockall(MCL_FUTURE);
 * skips the test where that much cannot be locked. */
static PageStack *stack_under_mlockall(uint32_t flags)
{
    cr_assert_eq(mlockall(MCL_FUTURE), 0);
    PageStack *ps = page_stack_create(&(PageStackDesc){.reserve_size = 64 * MiB, .flags = flags});
    if (!ps) {
        munlockall();
        cr_skip_test("locking 64 MiB needs CAP_IPC_LOCK or an RLIMIT_MEMLOCK of 64 MiB");
    }
    return ps;
}

/* A frame arena's trim policy after a spike of 8 MiB written: two quiet
 * frames later it has trimmed, and at least 7 MiB are no longer resident. */
static void check_trim_policy_gives_a_spike_back(void)
{
    FrameArena *fa = frame_arena_create(&(FrameArenaDesc){.stack = {.reserve_size = 64 * MiB}, .trim_after = 2});
    cr_assert_not_null(fa);
    memset(page_stack_push(frame_arena_begin(fa), 8 * MiB, 16), 0x5A, 8 * MiB);
    frame_arena_end(fa);
    size_t pushed = rss_kib();
    for (int f = 0; f < 2; f++) {
        frame_arena_begin(fa);
        frame_arena_end(fa);
    }
    cr_assert_eq(frame_arena_stats(fa).trims, 1);
    cr_assert_leq(rss_kib(), pushed - 7 * 1024, "%zu KiB resident after the trim, %zu before", rss_kib(), pushed);
    frame_arena_destroy(fa);
}

/* A trim gives locked pages back (until 2026-12-06 it stopped the program:
 * "decommit (madvise) ... failed: Invalid argument"); pages committed there
 * again read zero and are mapped at the commit, locked again. So does a frame
 * arena's trim policy after a spike. */
Test(limits, trims_under_mlockall_give_the_pages_back)
{
    if (TEST_VALGRIND)
        cr_skip_test("valgrind maps memory of its own as it goes, locked too under mlockall");
    PageStack *ps = stack_under_mlockall(0);
    size_t before = rss_kib();
    unsigned char *p = page_stack_push(ps, 8 * MiB, 16);
    memset(p, 0x5A, 8 * MiB);
    size_t pushed = rss_kib();
    cr_assert_geq(pushed, before + 8 * 1024);
    page_stack_reset(ps);
    page_stack_trim(ps, 0);
    cr_assert_eq(page_stack_stats(ps).committed, 0);
    cr_assert_leq(rss_kib(), pushed - 8 * 1024, "%zu KiB resident after the trim, %zu before", rss_kib(), pushed);
    p = page_stack_push(ps, 8 * MiB, 16);
    cr_assert_geq(rss_kib(), before + 8 * 1024, "the commit mapped (and locked) the pages at once");
    for (size_t i = 0; i < 8 * MiB && !TEST_CHECKED; i += 4096) /* the checked build fills a push with 0xCD */
        cr_assert_eq(p[i], 0, "a page committed again reads zero");
    page_stack_destroy(ps);

    check_trim_policy_gives_a_spike_back();
    cr_assert_eq(munlockall(), 0);
}

/* A huge-page stack trimmed under mlockall: the range the trim maps anew
 * keeps the stack's huge-page advice (until 2026-12-06 it lost it, so the
 * pages committed there again came in 4 KiB pages where the kernel gives
 * huge pages only on advice). */
Test(limits, a_huge_page_stack_trimmed_under_mlockall_keeps_its_advice)
{
    if (TEST_VALGRIND)
        cr_skip_test("valgrind maps memory of its own as it goes, locked too under mlockall");
    PageStack *ps = stack_under_mlockall(PageStackFlag_HugePages);
    void *base = (void *)ps->base;
    if (!vm_flag(base, "hg")) {
        page_stack_destroy(ps);
        munlockall();
        cr_skip_test("this kernel takes no huge-page advice");
    }
    unsigned char *p = page_stack_push(ps, 8 * MiB, 16);
    memset(p, 0x5A, 8 * MiB);
    cr_assert(vm_flag(base, "lo"));
    page_stack_reset(ps);
    page_stack_trim(ps, 0);
    cr_assert_eq(page_stack_stats(ps).decommits, 1);
    cr_assert(vm_flag(base, "hg"), "the trimmed range lost the huge-page advice");
    cr_assert(vm_flag(base, "lo"), "the trimmed range is no longer locked: a commit there would not map at once");
    p = page_stack_push(ps, 8 * MiB, 16);
    p[0] = p[8 * MiB - 1] = 1;
    page_stack_destroy(ps);
    cr_assert_eq(munlockall(), 0);
}

/* A sandbox that refuses every madvise (a seccomp filter; here EPERM): a
 * stack with the huge-page advice and a prefault is made, pushed to, trimmed
 * and destroyed all the same. The prefault touches its pages instead, and a
 * trim's decommit maps fresh pages over the range, which gives the memory
 * back (until 2026-12-07 the refused MADV_DONTNEED stopped the program at
 * the first trim). So does a frame arena's trim policy after a spike. */
Test(limits, stacks_work_where_every_madvise_is_refused)
{
#ifdef TEST_SYSCALL_FILTER
    if (TEST_VALGRIND)
        cr_skip_test("valgrind maps memory of its own as it goes");
    refuse_syscall(__NR_madvise, 0, 0, 0, EPERM);
    cr_assert_eq(madvise(NULL, 0, MADV_NORMAL), -1, "the filter let madvise through");
    size_t before = rss_kib();
    PageStack *ps = page_stack_create(&(PageStackDesc){.reserve_size = 64 * MiB, .initial_commit = 4 * MiB,
                                                       .flags = PageStackFlag_Prefault | PageStackFlag_HugePages});
    cr_assert_not_null(ps);
    cr_assert_geq(rss_kib(), before + 4 * 1024, "the prefault touched the initial commit");
    unsigned char *p = page_stack_push(ps, 16 * MiB, 16);
    memset(p, 0x5A, 16 * MiB);
    size_t pushed = rss_kib();
    page_stack_reset(ps);
    page_stack_trim(ps, 0);
    cr_assert_eq(page_stack_stats(ps).committed, 4 * MiB, "the trim kept the initial commit");
    cr_assert_leq(rss_kib(), pushed - 11 * 1024, "%zu KiB resident after the trim, %zu before", rss_kib(), pushed);
    p = page_stack_push(ps, 16 * MiB, 16);
    for (size_t i = 4 * MiB; i < 16 * MiB && !TEST_CHECKED; i += 4096) /* the checked build fills a push with 0xCD */
        cr_assert_eq(p[i], 0, "a page committed again reads zero");
    page_stack_destroy(ps);

    check_trim_policy_gives_a_spike_back();
#else
    cr_skip_test("no seccomp filter here");
#endif
}

Test(limits, rlimit_as_makes_create_return_null_without_leaking)
{
    if (TEST_VALGRIND)
        cr_skip_test("valgrind maps memory of its own as it goes: VmSize cannot show a leak");
    struct rlimit old = limit_to_now_and(RLIMIT_AS, "VmSize:", 256);
    size_t before = status_kib("VmSize:");
    for (int i = 0; i < 20; i++) {
        cr_assert_null(page_stack_create(NULL), "a 1 GiB reservation under a 256 MiB limit");
        cr_assert_null(frame_arena_create(NULL));
        cr_assert_null(frame_arena_create(&(FrameArenaDesc){.frames_in_flight = 3,
                                                            .stack = {.reserve_size = 100 * MiB}}),
                       "the third buffer does not fit: the first two must go back");
    }
    cr_assert_eq(status_kib("VmSize:"), before, "failed creates leaked address space");
    PageStack *small = page_stack_create(&(PageStackDesc){.reserve_size = 16 * MiB});
    cr_assert_not_null(small, "a reservation that fits still works");
    page_stack_destroy(small);
    cr_assert_eq(setrlimit(RLIMIT_AS, &old), 0);
}

/* A thread's first scratch_begin reserves its two scratch stacks; it has no
 * way to return an error, so a reservation the OS refuses is fatal. */
Test(limits, scratch_stacks_that_cannot_be_reserved_are_fatal, .signal = SIGABRT)
{
    limit_to_now_and(RLIMIT_AS, "VmSize:", 256); /* for this test's process alone: nothing to put back */
    expect_fatal("scratch: cannot make this thread's scratch stacks: the OS refused to reserve the address space "
                 "(lower reserve_size); scratch_set_defaults can make them smaller");
    scratch_begin(NULL, 0);
    death_not_reached();
}

/* scratch_thread_init reports the same failure instead, and the thread goes
 * on with the stacks it had; nothing of the failed pair stays reserved. */
Test(limits, scratch_thread_init_that_cannot_reserve_returns_the_error)
{
    PageStackMark had = scratch_begin(NULL, 0);
    scratch_end(had); /* no scope may be open across scratch_thread_init */
    char *kept = page_stack_push(had.stack, 64, 1); /* outside a scope: it stays */
    memcpy(kept, "the old scratch stack's data", 29);
    struct rlimit old = limit_to_now_and(RLIMIT_AS, "VmSize:", 256);
    size_t before = status_kib("VmSize:");
    cr_assert_eq(scratch_thread_init(NULL), ScratchError_NoAddressSpace);
    size_t one_fits = (TEST_CHECKED ? 20 : 200) * MiB; /* a checked stack reserves ten times as much */
    cr_assert_eq(page_stack_create_error(), PageStackError_ReserveFailed, "why: error %d", page_stack_create_error());
    cr_assert_eq(scratch_thread_init(&(PageStackDesc){.reserve_size = one_fits}), ScratchError_NoAddressSpace,
                 "the first of the two stacks fits, the second does not");
    cr_assert_eq(page_stack_create_error(), PageStackError_ReserveFailed, "the second stack's create says why");
    if (!TEST_VALGRIND) /* valgrind maps memory of its own as it goes: VmSize cannot show a leak there */
        cr_assert_eq(status_kib("VmSize:"), before, "the failed pairs left nothing reserved");
    PageStackMark again = scratch_begin(NULL, 0);
    cr_assert_eq(again.stack, had.stack, "the thread keeps the stacks it had");
    cr_assert_str_eq(kept, "the old scratch stack's data");
    scratch_end(again);
    cr_assert_eq(setrlimit(RLIMIT_AS, &old), 0);
}
#endif

/* ---------------------------------------------------------------- size arithmetic */

static const size_t edge_values[] = {
    0, 1, 2, (size_t)1 << 31, ((size_t)1 << 32) - 1, (size_t)1 << 32, ((size_t)1 << 32) + 1, (size_t)1 << 63,
    SIZE_MAX / 2, SIZE_MAX / 2 + 1, SIZE_MAX - 1, SIZE_MAX,
};
#define EDGES (sizeof edge_values / sizeof edge_values[0])

static void check_outcome(PageStack *ps, unsigned char *p, size_t before_pos, size_t bytes, bool overflowed,
                          size_t align)
{
    size_t pos = page_stack_pos(ps);
    if (!p) {
        /* SizeOverflow exactly when the size, or the product, overflows
         * once padded to the alignment (the base is page-aligned, so the
         * padding follows from pos); any other size fails for the room. */
        size_t pad = (0 - before_pos) & (align - 1);
        PageStackError want =
            overflowed || bytes > SIZE_MAX - pad ? PageStackError_SizeOverflow : PageStackError_OutOfReserve;
        PageStackError err = page_stack_last_error(ps);
        cr_assert_eq(err, want, "error %d, not %d, for %zu bytes at pos %zu, align %zu", err, want, bytes, before_pos,
                     align);
        cr_assert_eq(pos, before_pos, "a failure moved pos");
        return;
    }
    cr_assert_not(overflowed, "an overflowing product returned a block");
    cr_assert_eq((uintptr_t)p % align, 0);
    cr_assert_geq(pos - before_pos, bytes, "the block is shorter than asked");
    if (bytes) {
        p[0] = 1;
        p[bytes - 1] = 2;
    }
}

/* The copies' source: 8 KiB of another stack, which lies above the stack
 * pushed to, so that the huge counts are no source the copy check refuses
 * (one that starts below the stack and runs into it). */
static const unsigned char *source_above(PageStack **a, PageStack **b)
{
    if ((uintptr_t)*a > (uintptr_t)*b) {
        PageStack *t = *a;
        *a = *b;
        *b = t;
    }
    unsigned char *src = page_stack_push(*b, 8 * KiB, 16);
    memset(src, 0x5A, 8 * KiB);
    return src;
}

Test(sizes, every_edge_size_and_count_fails_correctly_or_gives_a_whole_block)
{
    PageStack *ps = page_stack_create(&(PageStackDesc){.reserve_size = 64 * MiB});
    PageStack *other = page_stack_create(&(PageStackDesc){.reserve_size = 64 * MiB});
    const unsigned char *src = source_above(&ps, &other);
    static const size_t elems[] = {1, 2, 3, 8, 16, 4096};
    for (size_t align = 1; align <= 4096; align <<= 1) {
        for (size_t i = 0; i < EDGES; i++) {
            size_t size = edge_values[i];
            size_t before = page_stack_pos(ps);
            check_outcome(ps, page_stack_try_push(ps, size, align), before, size, false, align);
            before = page_stack_pos(ps);
            check_outcome(ps, page_stack_push_with(ps, size, align, PageStackPush_Try | PageStackPush_Zero), before,
                          size, false, align);
            for (size_t e = 0; e < sizeof elems / sizeof elems[0]; e++) {
                size_t count = size, elem = elems[e];
                bool overflowed = count > SIZE_MAX / elem;
                size_t bytes = overflowed ? 0 : count * elem;
                before = page_stack_pos(ps);
                unsigned char *p = page_stack_push_array_with(ps, count, elem, align, PageStackPush_Try);
                check_outcome(ps, p, before, bytes, overflowed, align);
                before = page_stack_pos(ps);
                p = page_stack_push_copy_with(ps, src, count, elem, align, PageStackPush_Try);
                cr_assert(!p || bytes == 0 || (p[0] == 0x5A && p[bytes - 1] == 0x5A), "the copy holds src's bytes");
                check_outcome(ps, p, before, bytes, overflowed, align);
                /* The same through a cursor, begun and ended around each. */
                before = page_stack_pos(ps);
                PageStackCursor c = page_stack_cursor_begin(ps);
                p = page_stack_cursor_push_array_with(&c, count, elem, align, PageStackPush_Try);
                page_stack_cursor_end(&c);
                check_outcome(ps, p, before, bytes, overflowed, align);
                before = page_stack_pos(ps);
                c = page_stack_cursor_begin(ps);
                p = page_stack_cursor_push_copy_with(&c, src, count, elem, align, PageStackPush_Try);
                page_stack_cursor_end(&c);
                check_outcome(ps, p, before, bytes, overflowed, align);
            }
            if (page_stack_pos(ps) > 32 * MiB)
                page_stack_reset(ps);
        }
    }
    page_stack_destroy(ps);
    page_stack_destroy(other);
}

/* The typed macros know the element's size at compile time, and there the
 * count's test divides at compile time instead of multiplying: the edge
 * count, the largest whose bytes fit a size_t, must fail for the room, and
 * one more for the overflow, through every array and copy macro, on the
 * stack and through a cursor. */
typedef struct Elem24 {
    unsigned char bytes[24];
} Elem24;

static void note_failed_size(PageStack *ps, size_t size, size_t align, void *user)
{
    (void)ps, (void)align;
    *(size_t *)user = size;
}

#define EXPECT_EDGE_FAILURE(expr, what, tells)                                                                   \
    do {                                                                                                         \
        failed = 0;                                                                                              \
        cr_assert_null((expr), "%s of %zu elements returned a block", what, (size_t)n);                          \
        cr_assert_eq(page_stack_last_error(ps), want, "%s of %zu elements: error %d, not %d", what, (size_t)n,   \
                     page_stack_last_error(ps), want);                                                           \
        cr_assert_eq(failed, (tells) ? want_size : 0, "%s: on_fail told %zu bytes", what, failed);               \
        cr_assert_eq(page_stack_pos(ps), pos, "%s: a failure moved pos", what);                                  \
    } while (0)

Test(sizes, the_edge_count_of_a_typed_array_fails_for_the_room_and_one_more_overflows)
{
    size_t failed = 0;
    PageStackDesc desc = {.reserve_size = 64 * MiB, .on_fail = note_failed_size, .user = &failed};
    PageStack *ps = page_stack_create(&desc), *other = page_stack_create(&desc);
    const Elem24 *src = (const Elem24 *)source_above(&ps, &other);
    const size_t edge = SIZE_MAX / sizeof(Elem24);
    for (size_t over = 0; over <= 1; over++) {
        volatile size_t n = edge + over; /* the count at run time, the size a constant */
        size_t want_size = over ? SIZE_MAX : edge * sizeof(Elem24), pos = page_stack_pos(ps);
        PageStackError want = over ? PageStackError_SizeOverflow : PageStackError_OutOfReserve;
        EXPECT_EDGE_FAILURE(push_array(ps, Elem24, n), "push_array", true);
        EXPECT_EDGE_FAILURE(push_array_no_zero(ps, Elem24, n), "push_array_no_zero", true);
        EXPECT_EDGE_FAILURE(try_push_array(ps, Elem24, n), "try_push_array", false);
        EXPECT_EDGE_FAILURE(push_array_copy(ps, Elem24, src, n), "push_array_copy", true);
        EXPECT_EDGE_FAILURE(try_push_array_copy(ps, Elem24, src, n), "try_push_array_copy", false);
        PageStackCursor c = page_stack_cursor_begin(ps);
        EXPECT_EDGE_FAILURE(cursor_push_array(&c, Elem24, n), "cursor_push_array", true);
        EXPECT_EDGE_FAILURE(cursor_push_array_no_zero(&c, Elem24, n), "cursor_push_array_no_zero", true);
        EXPECT_EDGE_FAILURE(cursor_push_array_copy(&c, Elem24, src, n), "cursor_push_array_copy", true);
        page_stack_cursor_end(&c);
    }
    page_stack_destroy(ps);
    page_stack_destroy(other);
}

Test(sizes, realloc_to_edge_sizes_fails_like_push_and_keeps_the_block)
{
    FailCount fails = {0};
    PageStack *ps = page_stack_create(&(PageStackDesc){.reserve_size = 8 * MiB, .on_fail = count_failure,
                                                       .user = &fails});
    unsigned char *p = page_stack_push(ps, 100, 8);
    memset(p, 7, 100);
    int expected_calls = 0;
    for (size_t i = 0; i < EDGES; i++) {
        size_t size = edge_values[i];
        unsigned char *q = page_stack_realloc(ps, p, 100, size, 8);
        if (!q) {
            expected_calls++;
            cr_assert_eq(page_stack_pos(ps), 100);
            continue;
        }
        cr_assert_eq(q, p, "the last push is resized in place");
        p = page_stack_realloc(ps, q, size, 100, 8);
        cr_assert_eq(p, q);
        memset(p, 7, 100); /* a shrink below 100 bytes gave the tail up */
    }
    cr_assert_eq(fails.calls, expected_calls);
    cr_assert_gt(expected_calls, 5);
    for (int i = 0; i < 100; i++)
        cr_assert_eq(p[i], 7);
    page_stack_destroy(ps);
}
