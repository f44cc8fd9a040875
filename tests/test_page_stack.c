/* page_stack: the contract in DESIGN.md, through the public API. */
#include "support.h"

#include "os_vm.h"
#include "page_stack.h"

#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdlib.h>
#include <wchar.h>
#include <sys/mman.h>

#define KiB ((size_t)1 << 10)
#define MiB ((size_t)1 << 20)
#define GiB ((size_t)1 << 30)

/* The parameters of a test run two ways (through a cursor or not, with a
 * hook or not): 0, then 1. */
static struct criterion_test_params both_ways(void)
{
    static int ways[2] = {0, 1};
    return cr_make_param_array(int, ways, 2);
}

static size_t round_up(size_t v, size_t step)
{
    return (v + step - 1) / step * step;
}

static void fill(void *p, size_t n, unsigned seed)
{
    unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        b[i] = (unsigned char)(seed * 31u + i * 7u);
}

static bool intact(const void *p, size_t n, unsigned seed)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        if (b[i] != (unsigned char)(seed * 31u + i * 7u))
            return false;
    return true;
}

/* ---------------------------------------------------------------- defaults */

Test(defaults, null_desc_gives_documented_defaults)
{
    PageStack *ps = page_stack_create(NULL);
    cr_assert_not_null(ps);
    PageStackStats st = page_stack_stats(ps);
    cr_assert_eq(st.reserved, 1 * GiB);
    cr_assert_eq(st.committed, 0, "initial_commit defaults to 0");
    cr_assert_eq(st.pos, 0);
    cr_assert_eq(st.commits, 0);
    cr_assert_str_eq(ps->name, "page_stack");
    cr_assert_eq(page_stack_last_error(ps), PageStackError_None);
    /* default commit step: 64 KiB */
    cr_assert_not_null(page_stack_push(ps, 1, 1));
    cr_assert_eq(page_stack_stats(ps).committed, 64 * KiB);
#if !TEST_CHECKED /* redzones take room too */
    cr_assert_not_null(page_stack_push(ps, 64 * KiB - 1, 1));
    cr_assert_eq(page_stack_stats(ps).committed, 64 * KiB);
    cr_assert_not_null(page_stack_push(ps, 1, 1));
    cr_assert_eq(page_stack_stats(ps).committed, 128 * KiB);
#endif
    page_stack_destroy(ps);
}

Test(defaults, zeroed_desc_equals_null_desc)
{
    PageStack *a = page_stack_create(&(PageStackDesc){0});
    PageStack *b = page_stack_create(NULL);
    PageStackStats sa = page_stack_stats(a), sb = page_stack_stats(b);
    cr_assert_eq(sa.reserved, sb.reserved);
    cr_assert_eq(sa.committed, sb.committed);
    cr_assert_str_eq(a->name, b->name);
    cr_assert_eq(a->commit_size, b->commit_size);
    page_stack_destroy(a);
    page_stack_destroy(b);
}

Test(defaults, sizes_are_rounded_up)
{
    size_t page = os_vm_page_size();
    PageStack *ps = page_stack_create(&(PageStackDesc){
        .reserve_size = 100 * KiB + 1, .commit_size = page + 1, .initial_commit = 1});
    cr_assert_not_null(ps);
    PageStackStats st = page_stack_stats(ps);
    cr_assert_eq(ps->commit_size, 2 * page, "commit step rounds up to the page size");
    cr_assert_eq(st.reserved, round_up(100 * KiB + 1, 2 * page), "reserve rounds up to the commit step");
    cr_assert_eq(st.committed, 2 * page, "initial commit rounds up to the commit step");
    cr_assert_eq(st.commits, 1);
    page_stack_destroy(ps);
}

/* Whether valgrind runs this process, told by what it maps into it (its
 * preloaded libraries) rather than by its client request, which is what the
 * library asks. */
static bool valgrind_maps_this_process(void)
{
    FILE *maps = fopen("/proc/self/maps", "r");
    cr_assert_not_null(maps, "cannot read /proc/self/maps");
    char line[4096];
    bool found = false;
    while (!found && fgets(line, sizeof line, maps))
        found = strstr(line, "/vgpreload_") != NULL;
    fclose(maps);
    return found;
}

/* A stack made under valgrind sends every push out of line, where its
 * client requests tell memcheck what each push hands out; everywhere else
 * (and a plain build of a game never runs under valgrind) it must push
 * inline, at every commit end, or each push costs a call and its checks.
 * ./dev test-memcheck runs this under valgrind, the other lanes outside. */
Test(defaults, a_stack_pushes_inline_unless_made_under_valgrind)
{
    if (TEST_ASAN || TEST_CHECKED)
        cr_skip_test("this build sends every push out of line");
    bool under = valgrind_maps_this_process();
    cr_assert_eq(under, TEST_VALGRIND, "valgrind's mappings and its client request disagree");
    PageStack *ps = page_stack_create(&(PageStackDesc){.reserve_size = 1 * MiB, .commit_size = 64 * KiB});
    cr_assert_not_null(ps);
    for (int step = 0; step < 3; step++) {
        uintptr_t inline_end = under ? 0 : ps->base + ps->committed;
        cr_assert_eq(ps->end, inline_end, "step %d: the inline push's bound is %#jx, not %#jx", step,
                     (uintmax_t)ps->end, (uintmax_t)inline_end);
        /* a zeroing push's: on never-used memory the same, below the dirty edge (after the reset) none */
        cr_assert_eq(ps->zero_end, step < 2 ? inline_end : 0, "step %d: a zeroing push's bound is %#jx", step,
                     (uintmax_t)ps->zero_end);
        if (step == 0)
            cr_assert_not_null(page_stack_push(ps, 100 * KiB, 16)); /* a commit */
        else
            page_stack_reset(ps);
    }
    cr_assert_eq(page_stack_stats(ps).committed, 128 * KiB);
    page_stack_destroy(ps);
}

/* The stack keeps a copy of its name, its first 63 bytes. */
Test(defaults, the_name_is_copied)
{
    char name[100];
    snprintf(name, sizeof name, "pass %d", 2);
    PageStack *ps = page_stack_create(&(PageStackDesc){.name = name});
    memset(name, 'x', sizeof name - 1);
    name[sizeof name - 1] = 0;
    cr_assert_str_eq(ps->name, "pass 2");
    PageStack *longer = page_stack_create(&(PageStackDesc){.name = name});
    name[0] = 'y';
    cr_assert_eq(strlen(longer->name), 63);
    cr_assert_eq(strspn(longer->name, "x"), 63, "the first 63 bytes of the name as it was");
    page_stack_destroy(longer);
    page_stack_destroy(ps);
}

Test(defaults, destroy_null_is_a_no_op)
{
    page_stack_destroy(NULL);
}

Test(defaults, impossible_reservation_returns_null_and_says_why)
{
    cr_assert_null(page_stack_create(&(PageStackDesc){.reserve_size = SIZE_MAX / 2}));
    /* the checked build reserves twice that for each region: its sizes overflow first */
    cr_assert_eq(page_stack_create_error(), TEST_CHECKED ? PageStackError_SizeOverflow : PageStackError_ReserveFailed);
    cr_assert_null(page_stack_create(&(PageStackDesc){.reserve_size = (size_t)1 << 60}), "1 EiB");
    cr_assert_eq(page_stack_create_error(), PageStackError_ReserveFailed);
    cr_assert_null(page_stack_create(&(PageStackDesc){.reserve_size = SIZE_MAX}), "rounding overflow");
    cr_assert_eq(page_stack_create_error(), PageStackError_SizeOverflow);
    cr_assert_null(page_stack_create(&(PageStackDesc){.commit_size = SIZE_MAX}));
    cr_assert_eq(page_stack_create_error(), PageStackError_SizeOverflow);
    cr_assert_null(page_stack_create(&(PageStackDesc){.reserve_size = SIZE_MAX - MiB, .flags = PageStackFlag_HugePages}));
    cr_assert_eq(page_stack_create_error(), PageStackError_SizeOverflow);
    /* The largest reservation a page commit step rounds to: with its guard
     * page and header its mapping would wrap to a few pages, and the stack
     * would claim all of it (until 2026-12-03 it did, and its first commit
     * past those pages stopped the program). */
    size_t page = os_vm_page_size();
    cr_assert_null(page_stack_create(&(PageStackDesc){.reserve_size = SIZE_MAX - page + 1, .commit_size = page}));
    cr_assert_eq(page_stack_create_error(), PageStackError_SizeOverflow);
    cr_assert_null(page_stack_create(&(PageStackDesc){.reserve_size = SIZE_MAX - 2 * page + 1, .commit_size = page}));
    cr_assert_eq(page_stack_create_error(), PageStackError_SizeOverflow, "one page less: the sum of the mapping overflows");
    PageStack *ps = page_stack_create(NULL);
    cr_assert_not_null(ps);
    cr_assert_eq(page_stack_create_error(), PageStackError_None, "a create that succeeds clears it");
    page_stack_destroy(ps);
}

Test(defaults, a_refused_commit_at_create_returns_null_and_says_why)
{
    os_vm_inject_commit_failure(1); /* the stack's own fields */
    cr_assert_null(page_stack_create(NULL));
    cr_assert_eq(page_stack_create_error(), PageStackError_CommitFailed);
    os_vm_inject_commit_failure(2); /* its initial commit */
    cr_assert_null(page_stack_create(&(PageStackDesc){.initial_commit = MiB, .flags = PageStackFlag_Prefault}));
    cr_assert_eq(page_stack_create_error(), PageStackError_CommitFailed);
    os_vm_inject_commit_failure(0);
    PageStack *ps = page_stack_create(&(PageStackDesc){.initial_commit = MiB});
    cr_assert_not_null(ps, "the next create, with the OS committing again, works");
    cr_assert_eq(page_stack_stats(ps).committed, MiB);
    page_stack_destroy(ps);
}

static void *create_on_another_thread(void *arg)
{
    (void)arg;
    PageStack *ps = page_stack_create(&(PageStackDesc){.reserve_size = SIZE_MAX});
    return (void *)(uintptr_t)(ps == NULL && page_stack_create_error() == PageStackError_SizeOverflow);
}

Test(defaults, the_create_error_is_the_calling_threads)
{
    cr_assert_null(page_stack_create(&(PageStackDesc){.commit_size = SIZE_MAX}));
    pthread_t t;
    void *failed = NULL;
    cr_assert_eq(pthread_create(&t, NULL, create_on_another_thread, NULL), 0);
    cr_assert_eq(pthread_join(t, &failed), 0);
    cr_assert(failed, "the other thread saw its own failure");
    PageStack *ps = page_stack_create(NULL);
    cr_assert_eq(page_stack_create_error(), PageStackError_None);
    cr_assert_eq(pthread_create(&t, NULL, create_on_another_thread, NULL), 0);
    cr_assert_eq(pthread_join(t, &failed), 0);
    cr_assert(failed);
    cr_assert_eq(page_stack_create_error(), PageStackError_None, "another thread's failure is not this one's");
    page_stack_destroy(ps);
}

Test(defaults, initial_commit_above_reserve_is_fatal, .signal = SIGABRT)
{
    expect_fatal("initial_commit 1048576 exceeds reserve_size 65536; raise reserve_size");
    page_stack_create(&(PageStackDesc){.reserve_size = 64 * KiB, .initial_commit = MiB});
    death_not_reached();
}

/* ---------------------------------------------------------------- alignment and size 0 */

/* An on_push hook that does nothing: its stack sends every push out of line. */
static void ignore_push(PageStack *ps, void *ptr, size_t size, void *user)
{
    (void)ps, (void)ptr, (void)size, (void)user;
}

Test(align, every_power_of_two_up_to_2mib_on_the_absolute_address)
{
    PageStack *ps = page_stack_create(NULL);
    for (size_t align = 1; align <= 2 * MiB; align <<= 1) {
        cr_assert_not_null(page_stack_push(ps, 1, 1)); /* misalign the top */
        unsigned char *p = page_stack_push(ps, 3, align);
        cr_assert_not_null(p);
        cr_assert_eq((uintptr_t)p % align, 0, "align %zu gave %p", align, (void *)p);
        p[0] = p[2] = 0xAB;
        unsigned char *z = page_stack_push_zero(ps, 24, align);
        cr_assert_eq((uintptr_t)z % align, 0);
        unsigned char *t = page_stack_try_push(ps, 24, align);
        cr_assert_eq((uintptr_t)t % align, 0);
    }
    page_stack_destroy(ps);
}

Test(align, block_that_cannot_fit_after_padding_is_out_of_reserve)
{
    PageStack *ps = page_stack_create(&(PageStackDesc){.reserve_size = 256 * KiB});
    size_t before = page_stack_pos(ps);
    cr_assert_null(page_stack_try_push(ps, 1, 1 * GiB));
    cr_assert_eq(page_stack_last_error(ps), PageStackError_OutOfReserve);
    cr_assert_null(page_stack_try_push(ps, 1, (size_t)1 << (sizeof(size_t) * 8 - 1)));
    cr_assert_eq(page_stack_last_error(ps), PageStackError_OutOfReserve);
    cr_assert_eq(page_stack_pos(ps), before);
    cr_assert_eq(page_stack_stats(ps).failed_pushes, 2);
    page_stack_destroy(ps);
}

Test(align, zero_is_fatal, .signal = SIGABRT)
{
    PageStack *ps = page_stack_create(&(PageStackDesc){.name = "aligned"});
    expect_fatal("page_stack \"aligned\": alignment 0 is not a power of two");
    page_stack_push(ps, 8, 0);
    death_not_reached();
}

Test(align, zero_with_size_zero_is_fatal_too, .signal = SIGABRT)
{
    PageStack *ps = page_stack_create(&(PageStackDesc){.name = "aligned"});
    page_stack_push(ps, 64, 8); /* committed memory: the inline push sees it first */
    expect_fatal("page_stack \"aligned\": alignment 0 is not a power of two");
    page_stack_push(ps, 0, 0);
    death_not_reached();
}

Test(align, sizes_that_wrap_the_address_space_never_take_the_inline_path)
{
    PageStack *ps = page_stack_create(NULL);
    uintptr_t top = (uintptr_t)page_stack_push(ps, 64, 1) + 64;
    size_t wraps[] = {SIZE_MAX, SIZE_MAX - 62, (size_t)0 - top, (size_t)0 - top + 1, (size_t)0 - top - 1};
    for (size_t i = 0; i < sizeof wraps / sizeof wraps[0]; i++)
        for (size_t align = 1; align <= 4096; align <<= 1) {
            cr_assert_null(page_stack_try_push(ps, wraps[i], align), "size %zu align %zu", wraps[i], align);
            cr_assert_eq(page_stack_pos(ps), 64);
        }
    page_stack_destroy(ps);
}

Test(align, non_power_of_two_is_fatal, .signal = SIGABRT)
{
    PageStack *ps = page_stack_create(NULL);
    expect_fatal("alignment 24 is not a power of two; pass 1, 2, 4, 8, 16");
    page_stack_push_zero(ps, 8, 24);
    death_not_reached();
}

Test(align, non_power_of_two_is_fatal_in_try_push_too, .signal = SIGABRT)
{
    PageStack *ps = page_stack_create(NULL);
    expect_fatal("alignment 3 is not a power of two");
    page_stack_try_push(ps, 8, 3);
    death_not_reached();
}

/* The same where the push has committed room, so that the inline push, not
 * only the out-of-line one a fresh stack takes, must send it to the check. */
ParameterizedTestParameters(align, non_power_of_two_is_fatal_where_the_push_is_inline)
{
    static int calls[3];
    return index_params(calls, 3);
}

ParameterizedTest(int *call, align, non_power_of_two_is_fatal_where_the_push_is_inline, .signal = SIGABRT)
{
    PageStack *ps = page_stack_create(NULL);
    page_stack_push(ps, 1, 1); /* commits a step: 8 bytes fit inline now */
    size_t volatile align = *call == 1 ? 24 : 3; /* at run time: a constant one folds to the out-of-line path */
    expect_fatalf("alignment %zu is not a power of two", (size_t)align);
    switch (*call) {
    case 0: page_stack_push(ps, 8, align); break;
    case 1: page_stack_push_zero(ps, 8, align); break;
    case 2: page_stack_try_push(ps, 8, align); break;
    }
    death_not_reached();
}

/* The last push, 64-byte aligned, grown in place but for the alignment:
 * 48 leaves no bit of the block's address to test (48 - 1 masks none of a
 * 64-aligned one), only of the alignment itself. */
ParameterizedTestParameters(align, bad_alignment_is_fatal_in_realloc)
{
    static size_t aligns[] = {0, 3, 12, 48};
    return cr_make_param_array(size_t, aligns, sizeof aligns / sizeof aligns[0]);
}

ParameterizedTest(size_t *align, align, bad_alignment_is_fatal_in_realloc, .signal = SIGABRT)
{
    PageStack *ps = page_stack_create(NULL);
    void *p = page_stack_push(ps, 64, 64);
    expect_fatalf("alignment %zu is not a power of two", *align);
    page_stack_realloc(ps, p, 64, 128, *align);
    death_not_reached();
}

Test(align, bad_alignment_is_fatal_in_an_overflowing_array, .signal = SIGABRT)
{
    PageStack *ps = page_stack_create(NULL);
    expect_fatal("alignment 6 is not a power of two");
    page_stack_push_array_with(ps, SIZE_MAX, 2, 6, PageStackPush_Try);
    death_not_reached();
}

Test(size_zero, returns_an_aligned_pointer_and_moves_pos_by_padding_only)
{
    PageStack *ps = page_stack_create(NULL);
    void *a = page_stack_push(ps, 0, 1);
    cr_assert_not_null(a);
    cr_assert_eq(page_stack_pos(ps), 0);
    page_stack_push(ps, 3, 1);
    void *b = page_stack_push(ps, 0, 16);
    cr_assert_not_null(b);
    cr_assert_eq((uintptr_t)b % 16, 0);
    cr_assert_eq(page_stack_pos(ps), 16, "3 bytes + padding to 16");
    cr_assert_not_null(page_stack_try_push(ps, 0, 64));
    cr_assert_eq(page_stack_pos(ps), 64);
    cr_assert_eq(page_stack_stats(ps).pushes, 4);
    page_stack_destroy(ps);
}

/* Inline, and out of line as every push of a stack with an on_push hook
 * goes (and every push of the sanitizer and checked builds). */
ParameterizedTestParameters(size_zero, at_the_very_end_of_the_reservation)
{
    return both_ways();
}

ParameterizedTest(int *hooked, size_zero, at_the_very_end_of_the_reservation)
{
    PageStack *ps =
        page_stack_create(&(PageStackDesc){.reserve_size = 64 * KiB, .on_push = *hooked ? ignore_push : NULL});
    cr_assert_not_null(page_stack_push(ps, 64 * KiB, 1));
    cr_assert_not_null(page_stack_try_push(ps, 0, 1));
    cr_assert_null(page_stack_try_push(ps, 0, 2 * MiB), "padding past the end");
    cr_assert_eq(page_stack_last_error(ps), PageStackError_OutOfReserve);
    page_stack_destroy(ps);
}

/* ---------------------------------------------------------------- commit on demand */

#if !TEST_CHECKED /* exact commits: plain build only */
/* Inline, and out of line as a stack with an on_push hook pushes. */
ParameterizedTestParameters(commit, exact_fit_at_a_step_then_one_byte_over)
{
    return both_ways();
}

ParameterizedTest(int *hooked, commit, exact_fit_at_a_step_then_one_byte_over)
{
    PageStack *ps =
        page_stack_create(&(PageStackDesc){.commit_size = 64 * KiB, .on_push = *hooked ? ignore_push : NULL});
    cr_assert_not_null(page_stack_push(ps, 64 * KiB, 1));
    PageStackStats st = page_stack_stats(ps);
    cr_assert_eq(st.committed, 64 * KiB);
    cr_assert_eq(st.commits, 1);
    cr_assert_not_null(page_stack_push(ps, 0, 1), "size 0 at the commit end needs no commit");
    cr_assert_eq(page_stack_stats(ps).commits, 1);
    cr_assert_not_null(page_stack_push(ps, 1, 1));
    st = page_stack_stats(ps);
    cr_assert_eq(st.committed, 128 * KiB);
    cr_assert_eq(st.commits, 2);
    page_stack_destroy(ps);
}
#endif

#if !TEST_CHECKED /* exact commits: plain build only */
Test(commit, one_big_push_commits_whole_steps_at_once)
{
    PageStack *ps = page_stack_create(NULL);
    cr_assert_not_null(page_stack_push(ps, 10 * MiB + 1, 1));
    PageStackStats st = page_stack_stats(ps);
    cr_assert_eq(st.committed, 10 * MiB + 64 * KiB);
    cr_assert_eq(st.commits, 1);
    page_stack_destroy(ps);
}
#endif

#if !TEST_CHECKED /* exact commits: plain build only */
Test(commit, pushes_inside_committed_memory_make_no_commit)
{
    PageStack *ps = page_stack_create(&(PageStackDesc){.initial_commit = MiB});
    cr_assert_eq(page_stack_stats(ps).commits, 1);
    for (int i = 0; i < 10000; i++)
        cr_assert_not_null(page_stack_push(ps, 100, 8));
    PageStackStats st = page_stack_stats(ps);
    cr_assert_eq(st.commits, 1);
    cr_assert_eq(st.committed, MiB);
    cr_assert_eq(st.pushes, 10000);
    page_stack_reset(ps);
    page_stack_push(ps, MiB, 1);
    cr_assert_eq(page_stack_stats(ps).commits, 1, "the commit survives reset");
    page_stack_destroy(ps);
}
#endif

#if !TEST_CHECKED /* exact commits: plain build only */
Test(commit, committed_never_above_high_water_plus_one_step)
{
    const size_t step = 64 * KiB;
    PageStack *ps = page_stack_create(&(PageStackDesc){.commit_size = step, .reserve_size = 64 * MiB});
    unsigned rng = 12345;
    PageStackMark marks[64];
    int depth = 0;
    for (int i = 0; i < 20000; i++) {
        rng = rng * 1103515245u + 12345u;
        unsigned r = rng >> 8;
        if (r % 10 < 6) {
            size_t size = (r % 3 == 0) ? (r % (300 * KiB)) : (r % 512);
            page_stack_push(ps, size, (size_t)1 << (r % 8));
        } else if (r % 10 < 8 && depth < 64) {
            marks[depth++] = page_stack_mark(ps);
        } else if (r % 10 < 9 && depth > 0) {
            page_stack_pop_to(marks[--depth]);
        } else if (r % 100 == 99) {
            page_stack_reset(ps);
            depth = 0;
        }
        PageStackStats st = page_stack_stats(ps);
        cr_assert_leq(st.pos, st.committed);
        cr_assert_leq(st.committed, st.reserved);
        cr_assert_leq(st.committed, round_up(st.peak, step), "step %d: committed %zu, peak %zu", i, st.committed,
                      st.peak);
    }
    page_stack_destroy(ps);
}
#endif

#if !TEST_CHECKED /* exact commits: plain build only */
/* Through the push and through a cursor. */
ParameterizedTestParameters(commit, push_zero_skips_never_used_pages)
{
    return both_ways();
}

ParameterizedTest(int *through_cursor, commit, push_zero_skips_never_used_pages)
{
    const size_t size = 64 * MiB;
    PageStack *ps = page_stack_create(&(PageStackDesc){.initial_commit = size});
    long before = minor_faults();
    unsigned char *p;
    if (*through_cursor) {
        PageStackCursor c = page_stack_cursor_begin(ps);
        p = page_stack_cursor_push_zero(&c, size, 64);
        page_stack_cursor_end(&c);
    } else {
        p = page_stack_push_zero(ps, size, 64);
    }
    long faults = minor_faults() - before;
    cr_assert_not_null(p);
    /* a memset would fault in all 16384 pages; (ASan's shadow of the range was faulted in at create) */
    cr_assert_lt(faults, (long)(size / os_vm_page_size() / 8), "push_zero faulted %ld pages", faults);
    cr_assert_eq(p[0], 0);
    cr_assert_eq(p[size - 1], 0);
    page_stack_destroy(ps);
}
#endif

Test(commit, push_zero_returns_zeros_after_the_memory_was_dirtied_and_reset)
{
    PageStack *ps = page_stack_create(NULL);
    unsigned char *a = page_stack_push(ps, 200 * KiB, 1);
    memset(a, 0xEE, 200 * KiB);
    page_stack_reset(ps);
    unsigned char *b = page_stack_push_zero(ps, 300 * KiB, 1);
    cr_assert_eq(a == b, !TEST_CHECKED, "the same bytes again, unless quarantined");
    for (size_t i = 0; i < 300 * KiB; i++)
        cr_assert_eq(b[i], 0, "byte %zu", i);
    /* dirtied by a push that was popped, then zero-pushed at an offset */
    PageStackMark m = page_stack_mark(ps);
    unsigned char *c = page_stack_push(ps, 1000, 1);
    memset(c, 0x77, 1000);
    page_stack_pop_to(m);
    int *d = push_array(ps, int, 250);
    for (int i = 0; i < 250; i++)
        cr_assert_eq(d[i], 0);
    struct {
        double x;
        char tag[3];
    } *s = push_struct(ps, __typeof__(*s));
    cr_assert_eq(s->x, 0.0);
    page_stack_destroy(ps);
}

/* A zeroing push of a run-time size inside committed memory takes the inline
 * path; when it begins below the dirty edge and ends above it, only its dirty
 * part needs the zeroes, and the block below it keeps its bytes. */
Test(commit, push_zero_across_the_dirty_edge_zeroes_the_block_and_nothing_below_it)
{
    PageStack *ps = page_stack_create(NULL);
    unsigned char *a = page_stack_push(ps, 1000, 1);
    memset(a, 0xEE, 1000);
    page_stack_reset(ps);
    volatile size_t below = 992, size = 48, whole = 37; /* not constants: the compiler cannot fold the test */
    unsigned char *keep = page_stack_push(ps, below, 16);
    memset(keep, 0x55, below);
    unsigned char *z = page_stack_push_zero(ps, size, 16);
    cr_assert_not_null(z);
    if (!TEST_CHECKED)
        cr_assert_eq(z, keep + below, "the bytes from 992 on: dirty up to 1000, fresh above");
    for (size_t i = 0; i < size; i++)
        cr_assert_eq(z[i], 0, "byte %zu", i);
    for (size_t i = 0; i < below; i++)
        cr_assert_eq(keep[i], 0x55, "byte %zu of the block below", i);
    /* wholly dirty, a size that is not a multiple of 16 */
    page_stack_reset(ps);
    keep = page_stack_push(ps, 16, 16);
    memset(keep, 0x55, 16);
    z = page_stack_push_zero(ps, whole, 16);
    for (size_t i = 0; i < whole; i++)
        cr_assert_eq(z[i], 0, "byte %zu", i);
    for (size_t i = 0; i < 16; i++)
        cr_assert_eq(keep[i], 0x55, "byte %zu of the block below", i);
    cr_assert_eq(page_stack_stats(ps).pushes, 5);
    page_stack_destroy(ps);
}

/* A zeroing push of a size known at compile time, up to 64 bytes, zeroes its
 * block inline with memsets of at most 16 bytes, the last one overlapping
 * the one before (page_stack_zero_small; one memset of more becomes `rep
 * stos` at gcc's -Os). The sizes below are constants in each case of the
 * switches, so that the compiler sees each one as the push would. */
#define SMALL4_(X, b) X(b) X(b + 1) X(b + 2) X(b + 3)
#define SMALL16_(X, b) SMALL4_(X, b) SMALL4_(X, b + 4) SMALL4_(X, b + 8) SMALL4_(X, b + 12)
#define SMALL_SIZES_(X) SMALL16_(X, 0) SMALL16_(X, 16) SMALL16_(X, 32) SMALL16_(X, 48) X(64)

static void zero_small_const(unsigned char *p, size_t n)
{
    switch (n) {
#define ZERO_CASE_(k)                                                                                                  \
    case k:                                                                                                            \
        page_stack_zero_small(p, k);                                                                                   \
        break;
        SMALL_SIZES_(ZERO_CASE_)
#undef ZERO_CASE_
    default:
        cr_assert_fail("no case for %zu", n);
    }
}

/* The sizes on either side of each of page_stack_zero_small's branches (the
 * test above takes every size), and 65, past the small sizes: the push's
 * other path. Each case inlines two pushes, so not all 66. */
#define PUSH_SIZES_(X) X(0) X(1) X(15) X(16) X(17) X(31) X(32) X(33) X(47) X(48) X(49) X(63) X(64) X(65)
#define PUSH_SIZE_ENTRY_(k) k,
static const size_t push_sizes[] = {PUSH_SIZES_(PUSH_SIZE_ENTRY_)};
#undef PUSH_SIZE_ENTRY_

static unsigned char *push_zero_const(PageStack *ps, PageStackCursor *c, size_t n, size_t align)
{
    switch (n) {
#define PUSH_CASE_(k)                                                                                                  \
    case k:                                                                                                            \
        return c ? page_stack_cursor_push_zero(c, k, align) : page_stack_push_zero(ps, k, align);
        PUSH_SIZES_(PUSH_CASE_)
#undef PUSH_CASE_
    default:
        cr_assert_fail("no case for %zu", n);
    }
    return NULL;
}

Test(small_zero, every_size_up_to_64_zeroes_its_bytes_and_no_others)
{
    unsigned char buf[96];
    for (size_t n = 0; n <= 64; n++)
        for (size_t at = 0; at < 16; at++) {
            memset(buf, 0xA5, sizeof buf);
            zero_small_const(buf + at, n);
            for (size_t i = 0; i < sizeof buf; i++)
                cr_assert_eq(buf[i], at <= i && i < at + n ? 0 : 0xA5, "%zu bytes at %zu: byte %zu is %#x", n, at, i,
                             buf[i]);
        }
}

/* Over memory used before, at every offset from 16-byte alignment, on the
 * stack and through a cursor: the block reads zero, the block below keeps its
 * bytes. (What lies above the block is the stack's, not the caller's to read:
 * the test above holds the stores to the block.) */
ParameterizedTestParameters(small_zero, a_push_of_each_constant_size_over_used_memory_reads_zero)
{
    return both_ways();
}

ParameterizedTest(int *through_cursor, small_zero, a_push_of_each_constant_size_over_used_memory_reads_zero)
{
    PageStack *ps = page_stack_create(NULL);
    static const size_t aligns[] = {1, 8, 16};
    for (size_t s = 0; s < sizeof push_sizes / sizeof push_sizes[0]; s++)
        for (size_t a = 0; a < sizeof aligns / sizeof aligns[0]; a++)
            for (size_t lead = 1; lead <= 16; lead++) {
                size_t n = push_sizes[s];
                page_stack_reset(ps);
                memset(page_stack_push(ps, 512, 16), 0xA5, 512);
                page_stack_reset(ps);
                unsigned char *below = page_stack_push(ps, lead, 16);
                memset(below, 0x5A, lead);
                PageStackCursor c;
                if (*through_cursor)
                    c = page_stack_cursor_begin(ps);
                unsigned char *z = push_zero_const(ps, *through_cursor ? &c : NULL, n, aligns[a]);
                if (*through_cursor)
                    page_stack_cursor_end(&c);
                cr_assert_not_null(z);
                cr_assert_eq((uintptr_t)z % aligns[a], 0);
                for (size_t i = 0; i < n; i++)
                    cr_assert_eq(z[i], 0, "%zu bytes, align %zu, after %zu: byte %zu is %#x", n, aligns[a], lead, i,
                                 z[i]);
                for (size_t i = 0; i < lead; i++)
                    cr_assert_eq(below[i], 0x5A, "%zu bytes, align %zu: byte %zu below changed", n, aligns[a], i);
            }
    page_stack_destroy(ps);
}

/* A size and an alignment both known at compile time take the push without
 * its carry test (page_stack_block_wraps): the bound alone must still stop
 * it at every commit end and at the end of the reservation. Five blocks of
 * 3,277 bytes, packed with alignment 1, take 16 KiB and one byte, so block
 * after block ends on every byte offset modulo the step, one of them on the
 * first byte past a commit end: a bound one byte too lenient hands that
 * block out uncommitted and the write to its last byte faults. Through the
 * push and through a cursor (in unoptimised code, page_stack_cursor_push_call
 * tests the bound on its own path). */
ParameterizedTestParameters(commit, constant_size_pushes_stop_at_every_commit_end_and_at_the_reservation_end)
{
    return both_ways();
}

ParameterizedTest(int *through_cursor, commit,
                  constant_size_pushes_stop_at_every_commit_end_and_at_the_reservation_end)
{
    PageStack *ps = page_stack_create(&(PageStackDesc){.reserve_size = 256 * KiB, .commit_size = 16 * KiB});
    push_odd_blocks_to_the_end(ps, *through_cursor, NULL);
    page_stack_destroy(ps);
}

/* The same zeroing pushes over memory used before: they start below the
 * dirty edge, which lies a byte under the first commit end, so the fifth,
 * ending a byte past that end, takes the path that zeroes used bytes, whose
 * bound must stop it too. Through the push and through a cursor. */
ParameterizedTestParameters(commit, zeroing_pushes_over_used_memory_stop_at_the_commit_end)
{
    return both_ways();
}

ParameterizedTest(int *through_cursor, commit, zeroing_pushes_over_used_memory_stop_at_the_commit_end)
{
    PageStack *ps = page_stack_create(&(PageStackDesc){.reserve_size = 256 * KiB, .commit_size = 16 * KiB});
    memset(page_stack_push(ps, 16 * KiB - 1, 1), 0x5A, 16 * KiB - 1); /* used up to a byte under the end */
    page_stack_reset(ps);
    push_odd_blocks_to_the_end(ps, *through_cursor, NULL);
    page_stack_destroy(ps);
}

/* zero_end lets a zeroing push skip the dirty test: it must be 0 or `end`,
 * and `end` only while the top is at or above the dirty edge; after a zeroing
 * push that leaves the top there, it is `end` again (else every later zeroing
 * push pays a call). */
static void check_zero_end(const PageStack *ps, bool after_zeroing_push, int step)
{
    cr_assert(ps->zero_end == 0 || ps->zero_end == ps->end, "step %d: zero_end is neither 0 nor end", step);
    if (ps->zero_end)
        cr_assert_geq(ps->last + 1, ps->dirty, "step %d: zero_end armed with the top below the dirty edge", step);
    if (after_zeroing_push && ps->last + 1 >= ps->dirty)
        cr_assert_eq(ps->zero_end, ps->end, "step %d: zero_end not re-armed above the dirty edge", step);
}

/* Every operation that moves the top, the dirty edge or the commit end, in a
 * seeded random order; every byte handed out is dirtied at once, so a zeroing
 * push that trusts a stale zero_end returns a block that is not zero. */
Test(commit, zero_end_follows_every_move_of_the_top_and_the_dirty_edge)
{
    PageStack *ps = page_stack_create(&(PageStackDesc){.reserve_size = 64 * MiB, .commit_size = 16 * KiB});
    uint32_t x = 12345;
    PageStackMark marks[16];
    int depth = 0;
    void *last_block = NULL;
    size_t last_size = 0, last_align = 1;
    for (int step = 0; step < 20000; step++) {
        x = x * 1664525u + 1013904223u;
        volatile size_t size = 1 + (x >> 8) % ((x >> 28) < 2 ? 40000 : 600); /* run-time sizes */
        size_t align = (size_t)1 << ((x >> 2) % 7);
        unsigned char *b = NULL;
        bool zeroing = false;
        switch ((x >> 4) % 11) {
        case 0:
        case 1:
        case 2:
            b = page_stack_push(ps, size, align);
            break;
        case 3:
        case 4:
        case 5:
            b = page_stack_push_zero(ps, size, align);
            zeroing = true;
            for (size_t i = 0; i < size; i++)
                cr_assert_eq(b[i], 0, "step %d: byte %zu of %zu not zero", step, i, (size_t)size);
            break;
        case 6:
            if (depth < 16)
                marks[depth++] = page_stack_mark(ps);
            break;
        case 7:
            if (depth)
                page_stack_pop_to(marks[--depth]);
            last_block = NULL;
            break;
        case 8:
            if ((x >> 12) % 8 == 0) {
                page_stack_reset(ps);
                depth = 0;
            } else if ((x >> 12) % 8 == 1) {
                page_stack_trim(ps, 0);
            } else if (last_block) {
                page_stack_free_last(ps, last_block, last_size);
            }
            last_block = NULL;
            break;
        case 9:
            if (last_block) { /* in place when it is still the last push */
                size_t grown = last_size + size;
                size = (x & 1) ? grown : last_size / 2;
                b = page_stack_realloc(ps, last_block, last_size, size, last_align);
                align = last_align;
            }
            break;
        default: {
            PageStackCursor c = page_stack_cursor_begin(ps);
            for (int i = 0; i < 8; i++) {
                unsigned char *z = page_stack_cursor_push_zero(&c, size, 16);
                for (size_t k = 0; k < size; k++)
                    cr_assert_eq(z[k], 0, "step %d: cursor byte %zu not zero", step, k);
                cr_assert(c.zero_end == 0 || (c.zero_end == c.end && c.last + 1 >= ps->dirty),
                          "step %d: the cursor's zero_end armed below the dirty edge", step);
                if (c.last + 1 >= ps->dirty)
                    cr_assert_eq(c.zero_end, c.end, "step %d: the cursor's zero_end not re-armed", step);
                memset(z, 0xEE, size);
            }
            page_stack_cursor_end(&c);
            last_block = NULL;
            break;
        }
        }
        while (depth && marks[depth - 1].pos > page_stack_pos(ps)) /* above a freed or shrunk last block */
            depth--;
        if (b) {
            memset(b, 0xEE, size);
            last_block = b;
            last_size = size;
            last_align = align;
        }
        check_zero_end(ps, zeroing, step);
    }
    page_stack_destroy(ps);
}

/* A zeroing push below the dirty edge that ends exactly on it leaves the top
 * there, so it must arm zero_end again, or every zeroing push after it pays
 * the call out of line until something else re-arms it. Blocks of up to 32
 * bytes take page_stack_zero_dirty's short path, larger ones its long one;
 * each size is pushed twice over bytes used before, the second block ending
 * on the edge: through the push (the stack's zero_end) and through a cursor
 * (the cursor's). (In the checked build, whose redzones move the edge and
 * whose `end` is 0, only the zeros are checked.) */
ParameterizedTestParameters(commit, a_zeroing_push_that_ends_on_the_dirty_edge_arms_zero_end)
{
    return both_ways();
}

ParameterizedTest(int *through_cursor, commit, a_zeroing_push_that_ends_on_the_dirty_edge_arms_zero_end)
{
    static const size_t sizes[] = {16, 32, 48, 4096};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        PageStack *ps = page_stack_create(&(PageStackDesc){.reserve_size = 1 * MiB});
        volatile size_t size = sizes[i]; /* known at run time only, as most sizes a game pushes */
        memset(page_stack_push(ps, 2 * size, 16), 0xAB, 2 * size);
        page_stack_reset(ps);
        PageStackCursor c = {0};
        if (*through_cursor)
            c = page_stack_cursor_begin(ps);
        unsigned char *a =
            *through_cursor ? page_stack_cursor_push_zero(&c, size, 16) : page_stack_push_zero(ps, size, 16);
        uintptr_t top_last = *through_cursor ? c.last : ps->last;
        if (!TEST_CHECKED)
            cr_assert_lt(top_last + 1, ps->dirty, "size %zu: the first block ends below the edge", (size_t)size);
        unsigned char *b =
            *through_cursor ? page_stack_cursor_push_zero(&c, size, 16) : page_stack_push_zero(ps, size, 16);
        top_last = *through_cursor ? c.last : ps->last;
        if (!TEST_CHECKED) {
            cr_assert_eq(top_last + 1, ps->dirty, "size %zu: the second block ends on the edge", (size_t)size);
            if (*through_cursor)
                cr_assert_eq(c.zero_end, c.end, "size %zu: the cursor's zero_end not armed on the edge", (size_t)size);
            else
                cr_assert_eq(ps->zero_end, ps->end, "size %zu: zero_end not armed on the dirty edge", (size_t)size);
        }
        if (*through_cursor)
            page_stack_cursor_end(&c);
        for (size_t k = 0; k < size; k++)
            cr_assert(a[k] == 0 && b[k] == 0, "size %zu: byte %zu not zero", (size_t)size, k);
        page_stack_destroy(ps);
    }
}

/* Every page of initial_commit is mapped by create: touching them takes
 * (next to) no fault, where a stack without the flag takes one a page. */
static void check_prefault_maps_initial_commit(void)
{
    const size_t size = 16 * MiB;
    size_t pages = size / os_vm_page_size();
    PageStack *warm = page_stack_create(&(PageStackDesc){.initial_commit = size, .flags = PageStackFlag_Prefault});
    PageStack *cold = page_stack_create(&(PageStackDesc){.initial_commit = size});
    unsigned char *w = page_stack_push(warm, size, 1);
    unsigned char *c = page_stack_push(cold, size, 1);
    long before = minor_faults();
    for (size_t off = 0; off < size; off += os_vm_page_size())
        w[off] = 1;
    long warm_faults = minor_faults() - before;
    before = minor_faults();
    for (size_t off = 0; off < size; off += os_vm_page_size())
        c[off] = 1;
    long cold_faults = minor_faults() - before;
    if (!TEST_VALGRIND) /* valgrind's shadow of the pushed blocks takes faults of its own */
        cr_assert_lt(warm_faults, (long)pages / 16, "prefaulted stack took %ld faults", warm_faults);
    if (!TEST_CHECKED) /* the checked build's 0xCD fill touched the cold pages at push */
        cr_assert_gt(cold_faults, (long)pages / 2, "cold stack took only %ld faults", cold_faults);
    page_stack_destroy(warm);
    page_stack_destroy(cold);
}

Test(commit, prefault_maps_initial_commit_at_create)
{
    check_prefault_maps_initial_commit();
}

/* Before Linux 5.14 madvise has no MADV_POPULATE_WRITE and says EINVAL; the
 * prefault then touches a byte a page. A seccomp filter makes this kernel
 * answer as an old one would, for this test's process only. */
Test(commit, prefault_maps_initial_commit_without_madv_populate_write)
{
#if defined(TEST_SYSCALL_FILTER) && defined(MADV_POPULATE_WRITE)
    refuse_syscall(__NR_madvise, 2, ~0u, MADV_POPULATE_WRITE, EINVAL);
    void *probe = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    cr_assert_neq(probe, MAP_FAILED);
    cr_assert_eq(madvise(probe, 4096, MADV_POPULATE_WRITE), -1, "the filter let MADV_POPULATE_WRITE through");
    cr_assert_eq(errno, EINVAL);
    munmap(probe, 4096);
    check_prefault_maps_initial_commit();
#else
    cr_skip_test("no MADV_POPULATE_WRITE to take away here");
#endif
}

Test(commit, huge_pages_reserve_2mib_aligned_and_step_in_2mib)
{
    PageStack *ps = page_stack_create(&(PageStackDesc){.flags = PageStackFlag_HugePages, .reserve_size = 64 * MiB});
    cr_assert_not_null(ps);
    unsigned char *p = page_stack_push(ps, 1, 1);
    cr_assert_eq((uintptr_t)p % (2 * MiB), 0);
    cr_assert_eq(page_stack_stats(ps).committed, 2 * MiB);
    memset(page_stack_push(ps, 5 * MiB, 64), 1, 5 * MiB);
    cr_assert_eq(page_stack_stats(ps).committed, 6 * MiB);
    page_stack_destroy(ps);
}

/* ---------------------------------------------------------------- failure */

typedef struct FailLog {
    int calls;
    size_t size, align;
    PageStack *ps;
    PageStackError error;
} FailLog;

static void record_failure(PageStack *ps, size_t size, size_t align, void *user)
{
    FailLog *log = user;
    log->calls++;
    log->size = size;
    log->align = align;
    log->ps = ps;
    log->error = page_stack_last_error(ps);
}

Test(failure, reserve_exhaustion_leaves_the_stack_unchanged_and_usable)
{
    FailLog log = {0};
    PageStack *ps = page_stack_create(
        &(PageStackDesc){.reserve_size = 256 * KiB, .on_fail = record_failure, .user = &log});
    void *a = page_stack_push(ps, 100 * KiB, 16);
    fill(a, 100 * KiB, 1);
    PageStackStats before = page_stack_stats(ps);

    cr_assert_null(page_stack_try_push(ps, 200 * KiB, 16));
    cr_assert_eq(page_stack_last_error(ps), PageStackError_OutOfReserve);
    cr_assert_eq(log.calls, 0, "try_push never calls on_fail");
    cr_assert_null(page_stack_push(ps, 157 * KiB, 1));
    cr_assert_eq(log.calls, 1);
    cr_assert_eq(log.size, 157 * KiB);
    cr_assert_eq(log.align, 1);
    cr_assert_eq(log.ps, ps);
    cr_assert_eq(log.error, PageStackError_OutOfReserve);
    cr_assert_null(page_stack_push_zero(ps, SIZE_MAX - 64, 1));
    cr_assert_eq(log.calls, 2);

    PageStackStats after = page_stack_stats(ps);
    cr_assert_eq(after.pos, before.pos);
    cr_assert_eq(after.committed, before.committed);
    cr_assert_eq(after.pushes, before.pushes);
    cr_assert_eq(after.failed_pushes, before.failed_pushes + 3);
    cr_assert(intact(a, 100 * KiB, 1));

    void *b = page_stack_push(ps, 156 * KiB, 1); /* exactly what is left */
    cr_assert_not_null(b);
    cr_assert_eq(page_stack_stats(ps).pos, 256 * KiB);
    cr_assert_eq(page_stack_last_error(ps), PageStackError_OutOfReserve, "a success does not clear the error");
    page_stack_reset(ps);
    cr_assert_not_null(page_stack_push(ps, 256 * KiB, 1));
    page_stack_destroy(ps);
}

Test(failure, default_on_fail_prints_one_line_and_aborts, .signal = SIGABRT)
{
    PageStack *ps = page_stack_create(&(PageStackDesc){.name = "tiny", .reserve_size = 64 * KiB});
    page_stack_push(ps, 1000, 8);
    expect_fatal("page_stack \"tiny\": push of 70000 bytes (align 16) failed: out of reserved address space "
                 "(raise reserve_size); pos 1000, committed 65536, reserved 65536");
    page_stack_push(ps, 70000, 16);
    death_not_reached();
}

Test(failure, array_count_overflow_fails_and_never_returns_a_short_block)
{
    FailLog log = {0};
    PageStack *ps = page_stack_create(&(PageStackDesc){.on_fail = record_failure, .user = &log});
    size_t n = SIZE_MAX / 2 + 1; /* n * 2 wraps to 0 */
    cr_assert_null(try_push_array(ps, uint16_t, n));
    cr_assert_eq(page_stack_last_error(ps), PageStackError_SizeOverflow);
    cr_assert_eq(log.calls, 0);
    cr_assert_null(push_array(ps, uint16_t, n));
    cr_assert_eq(log.calls, 1);
    cr_assert_eq(log.size, SIZE_MAX, "on_fail sees SIZE_MAX for an overflowed product");
    cr_assert_eq(log.align, alignof(uint16_t));
    cr_assert_null(push_array_no_zero(ps, double, SIZE_MAX / 4));
    cr_assert_eq(log.calls, 2);
    PageStackStats st = page_stack_stats(ps);
    cr_assert_eq(st.pos, 0);
    cr_assert_eq(st.committed, 0);
    cr_assert_eq(st.failed_pushes, 3);
    cr_assert_not_null(push_array(ps, uint16_t, 10), "still usable");
    page_stack_destroy(ps);
}

/* Elements of no size (an empty struct in GNU C has sizeof 0): no count
 * overflows them, and the array is a push of 0 bytes, aligned, that moves
 * the top only by its padding. */
Test(failure, an_array_of_zero_sized_elements_is_a_zero_byte_push_whatever_the_count)
{
    PageStack *ps = page_stack_create(NULL);
    page_stack_push(ps, 1, 1);
    size_t counts[] = {0, 1, 1000, SIZE_MAX};
    for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++) {
        void *p = page_stack_push_array_with(ps, counts[i], 0, 8, PageStackPush_Try);
        cr_assert_not_null(p, "count %zu", counts[i]);
        cr_assert_eq((uintptr_t)p % 8, 0);
        cr_assert_eq(page_stack_pos(ps), 8, "count %zu: only the padding", counts[i]);
        cr_assert_eq(page_stack_last_error(ps), PageStackError_None);
    }
    cr_assert_eq(page_stack_stats(ps).failed_pushes, 0);
    page_stack_destroy(ps);
}

Test(failure, padded_size_overflow_is_size_overflow)
{
    PageStack *ps = page_stack_create(NULL);
    page_stack_push(ps, 1, 1);
    cr_assert_null(page_stack_try_push(ps, SIZE_MAX, 16));
    cr_assert_eq(page_stack_last_error(ps), PageStackError_SizeOverflow);
    cr_assert_null(page_stack_try_push(ps, SIZE_MAX - 3, 8));
    cr_assert_eq(page_stack_last_error(ps), PageStackError_SizeOverflow);
    cr_assert_null(page_stack_try_push(ps, SIZE_MAX / 2, 8));
    cr_assert_eq(page_stack_last_error(ps), PageStackError_OutOfReserve);
    cr_assert_eq(page_stack_pos(ps), 1);
    page_stack_destroy(ps);
}

Test(failure, user_on_fail_that_returns_makes_the_push_return_null)
{
    FailLog log = {0};
    PageStack *ps = page_stack_create(
        &(PageStackDesc){.reserve_size = 64 * KiB, .on_fail = record_failure, .user = &log});
    cr_assert_null(page_stack_push_zero(ps, MiB, 8));
    cr_assert_eq(log.calls, 1);
    void *p = page_stack_push(ps, 8, 8);
    cr_assert_null(page_stack_realloc(ps, p, 8, MiB, 8));
    cr_assert_eq(log.calls, 2, "realloc fails like push");
    cr_assert_eq(page_stack_pos(ps), 8);
    page_stack_destroy(ps);
}

/* An on_fail that pushes to its own stack and fails each time would be
 * called again and again until the thread ran out of stack, dying of a bare
 * SIGSEGV. The failure that would call it an eighth time, each call nested
 * in the last with the stack unchanged, is fatal with one line instead. */
typedef struct Refail {
    int calls, limit; /* push again from on_fail while calls < limit (0: always) */
} Refail;

static void push_again(PageStack *ps, size_t size, size_t align, void *user)
{
    Refail *r = user;
    r->calls++;
    if (!r->limit || r->calls < r->limit)
        page_stack_push(ps, size, align);
}

Test(failure, an_on_fail_that_fails_again_on_its_own_stack_without_end_is_fatal, .signal = SIGABRT)
{
    Refail r = {0};
    PageStack *ps = page_stack_create(
        &(PageStackDesc){.name = "again", .reserve_size = 64 * KiB, .on_fail = push_again, .user = &r});
    cr_assert_not_null(page_stack_push(ps, 100, 4));
    expect_fatalf("page_stack \"again\": push of %zu bytes (align 8) failed inside the stack's own on_fail, 7 calls "
                  "of it deep, the stack unchanged (pos 100): on_fail would be called without end; push from "
                  "on_fail with a try_ call or to another stack",
                  (size_t)MiB);
    page_stack_push(ps, MiB, 8);
    death_not_reached();
}

/* Nesting that ends is the on_fail's own business: seven calls, each but
 * the last pushing again and failing, then returning, is no misuse. */
Test(failure, an_on_fail_that_fails_again_and_then_stops_returns)
{
    Refail r = {.limit = 7};
    PageStack *ps = page_stack_create(&(PageStackDesc){.reserve_size = 64 * KiB, .on_fail = push_again, .user = &r});
    cr_assert_null(page_stack_push(ps, MiB, 8));
    cr_assert_eq(r.calls, 7, "on_fail called %d times", r.calls);
    cr_assert_eq(page_stack_stats(ps).failed_pushes, 7);
    r = (Refail){.limit = 7};
    cr_assert_null(page_stack_push(ps, MiB, 8), "and so again: nothing is left over from the last");
    cr_assert_eq(r.calls, 7);
    cr_assert_not_null(page_stack_push(ps, 64, 8), "the stack is usable");
    page_stack_destroy(ps);
}

/* A failure nested in on_fail after on_fail changed the stack is no sign of
 * a loop without end, however deep: here each call pops one block, or
 * resets the empty stack (a new generation, the same pos), before it pushes
 * again, twelve calls deep. */
typedef struct Unwind {
    PageStackMark marks[12];
    int calls;
    bool reset;
} Unwind;

static void change_and_push_again(PageStack *ps, size_t size, size_t align, void *user)
{
    Unwind *u = user;
    if (++u->calls >= 13)
        return;
    if (u->reset)
        page_stack_reset(ps);
    else
        page_stack_pop_to(u->marks[12 - u->calls]);
    page_stack_push(ps, size, align);
}

Test(failure, an_on_fail_that_changes_its_stack_before_failing_again_may_nest_deeper)
{
    for (int reset = 0; reset < 2; reset++) {
        Unwind u = {.reset = reset};
        PageStack *ps = page_stack_create(
            &(PageStackDesc){.reserve_size = 64 * KiB, .on_fail = change_and_push_again, .user = &u});
        for (int i = 0; i < 12 && !reset; i++) {
            u.marks[i] = page_stack_mark(ps);
            page_stack_push(ps, 1, 1);
        }
        cr_assert_null(page_stack_push(ps, MiB, 8));
        cr_assert_eq(u.calls, 13, "on_fail called %d times", u.calls);
        cr_assert_eq(page_stack_pos(ps), 0);
        page_stack_destroy(ps);
    }
}

/* A game's own recursion whose every level pushes and fails, with an
 * on_fail that returns (it counts the failure, and the caller copes with
 * NULL), fails nowhere inside on_fail, however deep it goes: each call has
 * returned before the next failure. Until 2026-12-04 a returned call stayed
 * recorded on the stack, and the eighth level, deeper in the thread's stack
 * with the stack unchanged, was taken for an on_fail failing without end. */
static uintptr_t first_level, last_level; /* their frames */

static int push_at_every_level(PageStack *ps, int levels, int level)
{
    volatile int served = page_stack_push(ps, KiB, 8) != NULL; /* read after the call: no tail call */
    if (level == 1)
        first_level = (uintptr_t)__builtin_frame_address(0);
    last_level = (uintptr_t)__builtin_frame_address(0);
    int below = level < levels ? push_at_every_level(ps, levels, level + 1) : 0;
    return below + served;
}

Test(failure, a_recursion_that_fails_at_every_level_is_no_failure_inside_on_fail)
{
    FailLog log = {0};
    PageStack *ps = page_stack_create(
        &(PageStackDesc){.reserve_size = 64 * KiB, .on_fail = record_failure, .user = &log});
    cr_assert_not_null(page_stack_push(ps, 64 * KiB - 100, 8), "the stack all but full");
    cr_assert_eq(push_at_every_level(ps, 24, 1), 0);
    cr_assert_eq(log.calls, 24, "on_fail called %d times", log.calls);
    cr_assert_lt(last_level, first_level, "a recursion, not a loop: the last level deeper in the thread's stack");
    cr_assert_eq(page_stack_stats(ps).failed_pushes, 24);
    cr_assert_not_null(page_stack_push(ps, 64, 8), "the stack is usable");
    page_stack_destroy(ps);
}

/* on_fail calls nested across many stacks, each stack failing once: no
 * stack is called again on itself, so none of it is misuse, however deep.
 * The thread's table of running calls holds 32; the calls nested deeper go
 * unrecorded, and nothing is written past the table. */
#define CHAIN 40

typedef struct Chain {
    PageStack *stacks[CHAIN];
    int calls;
} Chain;

static void fail_on_the_next(PageStack *ps, size_t size, size_t align, void *user)
{
    Chain *c = user;
    c->calls++;
    for (int i = 0; i + 1 < CHAIN; i++)
        if (c->stacks[i] == ps)
            page_stack_push(c->stacks[i + 1], size, align);
}

Test(failure, on_fail_calls_nested_across_forty_stacks_each_failing_once_return, .signal = SIGABRT)
{
    Chain c = {0};
    for (int i = 0; i < CHAIN; i++)
        c.stacks[i] = page_stack_create(
            &(PageStackDesc){.reserve_size = 64 * KiB, .on_fail = fail_on_the_next, .user = &c});
    for (int round = 1; round <= 2; round++) {
        c.calls = 0;
        cr_assert_null(page_stack_push(c.stacks[0], MiB, 8));
        cr_assert_eq(c.calls, CHAIN, "round %d: on_fail called %d times", round, c.calls);
        for (int i = 0; i < CHAIN; i++)
            cr_assert_eq(page_stack_stats(c.stacks[i]).failed_pushes, (uint64_t)round);
    }
    Refail r = {0};
    page_stack_set_hooks(c.stacks[0], &(PageStackDesc){.on_fail = push_again, .user = &r});
    expect_fatalf("page_stack \"page_stack\": push of %zu bytes (align 8) failed inside the stack's own on_fail, 7 "
                  "calls of it deep, the stack unchanged (pos 0): on_fail would be called without end; push from "
                  "on_fail with a try_ call or to another stack",
                  (size_t)MiB);
    page_stack_push(c.stacks[0], MiB, 8);
    death_not_reached();
}

/* on_fail may do with its stack what it likes, destroy it included: no push
 * that calls it writes anything to the stack after it returns (the stack's
 * own fields live in its reservation, which the destroy gives back). */
static void destroy_it(PageStack *ps, size_t size, size_t align, void *user)
{
    (void)size, (void)align;
    *(int *)user += 1;
    page_stack_destroy(ps);
}

typedef struct Mebibyte {
    unsigned char bytes[MiB];
} Mebibyte;

Test(failure, an_on_fail_may_destroy_its_stack)
{
    static char text[MiB + 1];
    memset(text, 'a', MiB);
    for (int how = 0; how < 9; how++) {
        int calls = 0;
        PageStack *ps =
            page_stack_create(&(PageStackDesc){.reserve_size = 64 * KiB, .on_fail = destroy_it, .user = &calls});
        void *p = page_stack_push(ps, 8, 8), *r = p;
        switch (how) {
        case 0: r = page_stack_push(ps, MiB, 8); break;
        case 1: r = page_stack_push_zero(ps, MiB, 8); break;
        case 2: r = push_struct(ps, Mebibyte); break;
        case 3: r = push_array_no_zero(ps, Mebibyte, 1); break;
        case 4: r = page_stack_push_copy(ps, text, MiB, 1); break;
        case 5: r = page_stack_realloc(ps, p, 8, MiB, 8); break;
        case 6: r = page_stack_strdup(ps, text); break;
        case 7: r = page_stack_printf(ps, "%s", text); break;
        case 8: r = page_stack_push(ps, SIZE_MAX, 8); break;
        }
        cr_assert_null(r, "push %d", how);
        cr_assert_eq(calls, 1, "push %d: on_fail called %d times", how, calls);
    }
}

/* An on_fail call left by longjmp (or a throw) cannot take its record off,
 * as one that returns does, but a game that jumps out of it and fails again
 * from its loop fails from the same depth, not from inside it: none of those
 * failures is taken for a nested one, however many there are, the stack
 * unchanged. */
static jmp_buf fail_exit;
static int jumped_out; /* not a local of the test: setjmp would leave it indeterminate */

static void jump_out(PageStack *ps, size_t size, size_t align, void *user)
{
    (void)ps, (void)size, (void)align, (void)user;
    jumped_out++;
    longjmp(fail_exit, 1);
}

static void push_too_much(PageStack *ps)
{
    page_stack_push(ps, MiB, 8);
    cr_assert_fail("on_fail jumps out");
}

Test(failure, an_on_fail_left_by_longjmp_leaves_later_failures_to_it)
{
    volatile int jumps = 0;
    PageStack *ps = page_stack_create(&(PageStackDesc){.reserve_size = 64 * KiB, .on_fail = jump_out});
    while (jumps < 20) {
        if (!setjmp(fail_exit))
            push_too_much(ps);
        jumps++;
    }
    cr_assert_eq(jumped_out, 20, "on_fail called %d times", jumped_out);
    cr_assert_not_null(page_stack_push(ps, 64, 8), "the stack is usable");
    page_stack_destroy(ps);
}

Test(failure, error_strings_name_each_error)
{
    cr_assert_str_eq(page_stack_error_string(PageStackError_None), "no error");
    cr_assert_not_null(strstr(page_stack_error_string(PageStackError_OutOfReserve), "reserve"));
    cr_assert_not_null(strstr(page_stack_error_string(PageStackError_CommitFailed), "commit"));
    cr_assert_not_null(strstr(page_stack_error_string(PageStackError_SizeOverflow), "overflow"));
    cr_assert_not_null(strstr(page_stack_error_string(PageStackError_ReserveFailed), "reserve the address space"));
    cr_assert_str_eq(page_stack_error_string((PageStackError)99), "unknown error");
}

/* A scenario of pushes that commits several times. Returns the number of
 * successful pushes; stops at the first failure, which it checks. */
typedef struct Block {
    void *p;
    size_t size;
} Block;

static const size_t scenario_sizes[] = {1000, 70 * KiB, 10, 130 * KiB, 64 * KiB, 5, 300 * KiB, 1, 64 * KiB};
#define SCENARIO_STEPS (sizeof scenario_sizes / sizeof scenario_sizes[0])

static size_t run_scenario(PageStack *ps, Block *blocks, FailLog *log, bool use_try)
{
    for (size_t i = 0; i < SCENARIO_STEPS; i++) {
        PageStackStats before = page_stack_stats(ps);
        int calls = log->calls;
        void *p = use_try ? page_stack_try_push(ps, scenario_sizes[i], 16)
                          : page_stack_push(ps, scenario_sizes[i], 16);
        if (!p) {
            PageStackStats after = page_stack_stats(ps);
            cr_assert_eq(page_stack_last_error(ps), PageStackError_CommitFailed);
            cr_assert_eq(after.pos, before.pos);
            cr_assert_eq(after.committed, before.committed);
            cr_assert_eq(after.failed_pushes, before.failed_pushes + 1);
            cr_assert_eq(log->calls, calls + (use_try ? 0 : 1), "on_fail exactly once for push");
            return i;
        }
        fill(p, scenario_sizes[i], (unsigned)i);
        blocks[i] = (Block){p, scenario_sizes[i]};
    }
    return SCENARIO_STEPS;
}

static void check_commit_failure_at_every_index(bool use_try)
{
    FailLog log = {0};
    Block blocks[SCENARIO_STEPS];
    PageStack *dry = page_stack_create(&(PageStackDesc){.on_fail = record_failure, .user = &log});
    cr_assert_eq(run_scenario(dry, blocks, &log, use_try), SCENARIO_STEPS);
    uint64_t commits = page_stack_stats(dry).commits;
    cr_assert_geq(commits, 4, "the scenario must commit several times");
    page_stack_destroy(dry);

    for (uint64_t k = 1; k <= commits; k++) {
        PageStack *ps = page_stack_create(&(PageStackDesc){.on_fail = record_failure, .user = &log});
        os_vm_inject_commit_failure(k);
        size_t done = run_scenario(ps, blocks, &log, use_try);
        os_vm_inject_commit_failure(0);
        cr_assert_lt(done, SCENARIO_STEPS, "commit %llu was to fail", (unsigned long long)k);
        for (size_t i = 0; i < done; i++)
            cr_assert(intact(blocks[i].p, blocks[i].size, (unsigned)i), "block %zu lost after failure %llu", i,
                      (unsigned long long)k);
        /* The failed push can be retried once the OS has memory again. */
        void *retry = page_stack_push(ps, scenario_sizes[done], 16);
        cr_assert_not_null(retry);
        page_stack_reset(ps);
        cr_assert_eq(run_scenario(ps, blocks, &log, use_try), SCENARIO_STEPS, "full service after reset");
        page_stack_destroy(ps);
    }
}

Test(failure, injected_commit_failure_at_every_commit_with_try_push)
{
    check_commit_failure_at_every_index(true);
}

Test(failure, injected_commit_failure_at_every_commit_with_push)
{
    check_commit_failure_at_every_index(false);
}

Test(failure, commit_failure_at_create_returns_null)
{
    os_vm_inject_commit_failure(2); /* 1: the header page, 2: initial_commit */
    PageStack *ps = page_stack_create(&(PageStackDesc){.initial_commit = MiB});
    os_vm_inject_commit_failure(0);
    cr_assert_null(ps);
    os_vm_inject_commit_failure(1);
    ps = page_stack_create(NULL);
    os_vm_inject_commit_failure(0);
    cr_assert_null(ps);
}

/* ---------------------------------------------------------------- realloc */

Test(realloc, null_ptr_is_a_push)
{
    PageStack *ps = page_stack_create(NULL);
    void *p = page_stack_realloc(ps, NULL, 0, 100, 32);
    cr_assert_not_null(p);
    cr_assert_eq((uintptr_t)p % 32, 0);
    cr_assert_eq(page_stack_pos(ps), 100);
    cr_assert_eq(page_stack_stats(ps).pushes, 1);
    page_stack_destroy(ps);
}

Test(realloc, last_push_grows_and_shrinks_in_place)
{
    PageStack *ps = page_stack_create(NULL);
    page_stack_push(ps, 10, 1);
    char *p = page_stack_push(ps, 100, 16);
    cr_assert_eq(page_stack_pos(ps), 116, "10, padded to 16, + 100");
    fill(p, 100, 9);
    char *q = page_stack_realloc(ps, p, 100, 300 * KiB, 16);
    cr_assert_eq(q, p, "grown in place");
    cr_assert(intact(q, 100, 9));
    cr_assert_eq(page_stack_pos(ps), 16 + 300 * KiB);
    memset(q + 100, 1, 300 * KiB - 100);
    char *r = page_stack_realloc(ps, q, 300 * KiB, 50, 16);
    cr_assert_eq(r, p, "shrunk in place");
    cr_assert_eq(page_stack_pos(ps), 16 + 50);
    cr_assert(intact(r, 50, 9));
    PageStackStats st = page_stack_stats(ps);
    cr_assert_eq(st.pushes, 4);
    cr_assert_eq(st.peak, 16 + 300 * KiB, "peak remembers the grown size");
    page_stack_destroy(ps);
}

/* A growing array: each append a realloc of the last push, one element
 * larger. Inside the commit end that is the inline realloc, a bump of the
 * top; past it, the library's, which commits. Every call is a push to the
 * stats, the array stays where it is with its elements, and the bytes above
 * the top still read zero to a zeroing push afterwards. */
Test(realloc, a_growing_array_stays_in_place_across_commits)
{
    PageStack *ps = page_stack_create(&(PageStackDesc){.reserve_size = MiB, .commit_size = 64 * KiB});
    page_stack_push(ps, 24, 8);
    uint64_t *a = NULL, *first = NULL;
    size_t n = 0, pos = page_stack_pos(ps);
    uint64_t pushes = page_stack_stats(ps).pushes;
    for (; n < 40000; n++) { /* 320,000 bytes: five commit steps */
        uint64_t *grown = page_stack_realloc(ps, a, n * sizeof *a, (n + 1) * sizeof *a, alignof(uint64_t));
        cr_assert_not_null(grown);
        if (!first)
            first = grown;
        cr_assert_eq(grown, first, "append %zu: grown in place", n);
        a = grown;
        a[n] = n * 2654435761u;
        cr_assert_eq(page_stack_pos(ps), pos + (n + 1) * sizeof *a);
    }
    cr_assert_eq(page_stack_stats(ps).pushes, pushes + n, "each append counts as a push");
    cr_assert_eq(page_stack_stats(ps).peak, pos + n * sizeof *a);
    cr_assert_geq(page_stack_stats(ps).committed, pos + n * sizeof *a);
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(a[i], i * 2654435761u, "element %zu", i);
    unsigned char *z = page_stack_push_zero(ps, 4 * KiB, 16);
    for (size_t i = 0; i < 4 * KiB; i++)
        cr_assert_eq(z[i], 0, "byte %zu above the grown array", i);
    page_stack_check(ps);
    page_stack_destroy(ps);
}

/* Growing in place over bytes a pop released hands them out as a push
 * would; popped again, they are dirty to a later zeroing push (which the
 * checked build, whose pops leave the top where it was, places elsewhere). */
Test(realloc, growing_over_popped_bytes_leaves_them_dirty_for_push_zero)
{
    PageStack *ps = page_stack_create(NULL);
    page_stack_push(ps, 16, 16);
    PageStackMark m = page_stack_mark(ps);
    memset(page_stack_push(ps, 1024, 16), 0xAB, 1024);
    page_stack_pop_to(m);
    unsigned char *a = page_stack_push(ps, 16, 16);
    for (size_t size = 32; size <= 2048; size += 16)
        cr_assert_eq(page_stack_realloc(ps, a, size - 16, size, 16), a);
    memset(a, 0xCD, 2048);
    page_stack_pop_to(m);
    unsigned char *z = page_stack_push_zero(ps, 2048, 16);
    if (!TEST_CHECKED)
        cr_assert_eq(z, a, "the zeroing push over the grown array's bytes");
    for (size_t i = 0; i < 2048; i++)
        cr_assert_eq(z[i], 0, "byte %zu", i);
    page_stack_destroy(ps);
}

/* ptr NULL is a push whatever old_size says: one that would end a block at
 * the top (NULL + old_size) is no block of the stack, and a growth past it is
 * a push of new_size, here one too large to fit: the top's address is above
 * the lowest 64 KiB, which the stack's reservation is. */
Test(realloc, a_null_ptr_is_a_push_whatever_old_size_says)
{
    PageStack *ps = page_stack_create(&(PageStackDesc){.reserve_size = 64 * KiB});
    page_stack_push(ps, 64, 8);
    size_t pos = page_stack_pos(ps), at_top = (size_t)ps->last + 1;
    cr_assert_null(page_stack_try_realloc(ps, NULL, at_top, at_top + 16, 8));
    cr_assert_eq(page_stack_last_error(ps), PageStackError_OutOfReserve, "a push of new_size bytes");
    cr_assert_eq(page_stack_pos(ps), pos, "the top did not move");
    page_stack_destroy(ps);
}

Test(realloc, older_block_is_copied_when_growing_and_kept_when_shrinking)
{
    PageStack *ps = page_stack_create(NULL);
    char *old = page_stack_push(ps, 64, 8);
    fill(old, 64, 3);
    char *young = page_stack_push(ps, 64, 8); /* the newest block, of the same size: old is still not the last */
    fill(young, 64, 5);
    size_t pos = page_stack_pos(ps);
    cr_assert_eq(page_stack_realloc(ps, old, 64, 64, 8), old, "the same size keeps it too");
    cr_assert_eq(page_stack_pos(ps), pos);
    cr_assert_eq(page_stack_realloc(ps, old, 64, 32, 8), old);
    cr_assert_eq(page_stack_pos(ps), pos, "shrinking an older block moves nothing");
    char *grown = page_stack_realloc(ps, old, 64, 128, 8);
    cr_assert_neq(grown, old);
    cr_assert_eq((uintptr_t)grown % 8, 0);
    cr_assert(intact(grown, 64, 3));
    cr_assert(intact(old, 64, 3), "the old block is not reclaimed");
    cr_assert(intact(young, 64, 5), "the newest block is left alone");
    cr_assert_eq(page_stack_pos(ps), pos + 128);
    page_stack_destroy(ps);
}

/* The first block pushed after a pop is live, to realloc, push_copy and
 * strdup alike: it takes the popped bytes' place, or in the checked build,
 * whose pops leave the top, starts right where they ended. */
Test(realloc, a_block_pushed_right_after_a_pop_is_live)
{
    PageStack *ps = page_stack_create(NULL);
    page_stack_push(ps, 8, 8); /* a pop to an empty stack starts afresh in the checked build */
    PageStackMark m = page_stack_mark(ps);
    page_stack_push(ps, 24, 1);
    page_stack_pop_to(m);
    char *s = page_stack_strdup(ps, "after the pop");
    page_stack_push(ps, 8, 8); /* s is not the last push */
    cr_assert_str_eq(page_stack_strdup(ps, s), "after the pop");
    cr_assert_eq(memcmp(page_stack_push_copy(ps, s, 14, 1), "after the pop", 14), 0);
    char *grown = page_stack_realloc(ps, s, 14, 64, 1);
    cr_assert_str_eq(grown, "after the pop");
    page_stack_destroy(ps);
}

Test(realloc, failed_in_place_growth_keeps_the_block)
{
    FailLog log = {0};
    PageStack *ps = page_stack_create(
        &(PageStackDesc){.reserve_size = 64 * KiB, .on_fail = record_failure, .user = &log});
    char *p = page_stack_push(ps, 100, 8);
    fill(p, 100, 5);
    cr_assert_null(page_stack_realloc(ps, p, 100, 65 * KiB, 8));
    cr_assert_eq(log.calls, 1);
    cr_assert_eq(log.error, PageStackError_OutOfReserve);
    cr_assert_eq(page_stack_pos(ps), 100);
    cr_assert(intact(p, 100, 5));
    cr_assert_eq(page_stack_realloc(ps, p, 100, 64 * KiB, 8), p, "still the last push");
    page_stack_destroy(ps);
}

/* Growing the last push in place needs a commit; when the OS refuses it the
 * push fails as a push would, and the block, pos and committed stay. */
Test(realloc, in_place_growth_whose_commit_fails_keeps_the_block)
{
    FailLog log = {0};
    PageStack *ps = page_stack_create(&(PageStackDesc){
        .reserve_size = MiB, .commit_size = 64 * KiB, .on_fail = record_failure, .user = &log});
    char *p = page_stack_push(ps, 100, 8);
    fill(p, 100, 7);
    size_t committed = page_stack_stats(ps).committed;
    os_vm_inject_commit_failure(1);
    cr_assert_null(page_stack_try_realloc(ps, p, 100, 200 * KiB, 8));
    cr_assert_eq(log.calls, 0, "a try realloc does not call on_fail");
    cr_assert_eq(page_stack_last_error(ps), PageStackError_CommitFailed);
    os_vm_inject_commit_failure(1);
    cr_assert_null(page_stack_realloc(ps, p, 100, 200 * KiB, 8));
    os_vm_inject_commit_failure(0);
    cr_assert_eq(log.calls, 1);
    cr_assert_eq(log.error, PageStackError_CommitFailed);
    cr_assert_eq(log.size, 200 * KiB);
    cr_assert_eq(page_stack_pos(ps), 100);
    cr_assert_eq(page_stack_stats(ps).committed, committed);
    cr_assert_eq(page_stack_stats(ps).failed_pushes, 2);
    cr_assert(intact(p, 100, 7));
    char *q = page_stack_realloc(ps, p, 100, 200 * KiB, 8);
    cr_assert_eq(q, p, "grows in place once the commit is granted");
    cr_assert(intact(q, 100, 7));
    q[200 * KiB - 1] = 1;
    page_stack_destroy(ps);
}

/* A block of another stack, or of malloc, is not this stack's to check: it
 * is copied when it grows and kept when it shrinks. */
Test(realloc, a_block_from_elsewhere_is_copied_when_growing)
{
    PageStack *ps = page_stack_create(NULL), *other = page_stack_create(NULL);
    char *theirs = page_stack_push(other, 64, 8);
    fill(theirs, 64, 9);
    page_stack_push(ps, 8, 8);
    char *mine = page_stack_realloc(ps, theirs, 64, 128, 8);
    cr_assert_neq(mine, theirs);
    cr_assert(intact(mine, 64, 9));
    cr_assert_eq(page_stack_realloc(ps, theirs, 64, 32, 8), theirs, "shrinking keeps it");
    char *heap = malloc(64);
    cr_assert_not_null(heap);
    fill(heap, 64, 4);
    char *copy = page_stack_try_realloc(ps, heap, 64, 256, 16);
    cr_assert_not_null(copy);
    cr_assert(intact(copy, 64, 4));
    free(heap);
    page_stack_destroy(other);
    page_stack_destroy(ps);
}

/* An old_size larger than the bytes between the block and the top is not
 * the block's: the copy would read past the top. */
/* A block pushed with less alignment than a realloc asks for moves to one
 * aligned as asked, with its bytes, even where it could have stayed: the
 * last push growing or shrinking, an older one shrinking, a 0-byte push at
 * the top. One aligned enough stays where it is. */
static unsigned char *pushed_off(PageStack *ps, size_t size, size_t align)
{
    unsigned char *p;
    do
        p = page_stack_push(ps, size, 8);
    while ((uintptr_t)p % align == 0); /* one that the larger alignment does not fit */
    for (size_t i = 0; i < size; i++)
        p[i] = (unsigned char)(i + 1);
    return p;
}

static void expect_bytes(const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(p[i], (unsigned char)(i + 1), "byte %zu", i);
}

Test(realloc, a_block_not_aligned_as_asked_moves_to_one_that_is)
{
    PageStack *ps = page_stack_create(NULL);
    unsigned char *last = pushed_off(ps, 24, 64);
    unsigned char *grown = page_stack_realloc(ps, last, 24, 40, 64);
    cr_assert(grown != last && (uintptr_t)grown % 64 == 0, "the last push, growing");
    expect_bytes(grown, 24);
    last = pushed_off(ps, 24, 64);
    unsigned char *shrunk = page_stack_realloc(ps, last, 24, 16, 64);
    cr_assert(shrunk != last && (uintptr_t)shrunk % 64 == 0, "the last push, shrinking");
    expect_bytes(shrunk, 16);
    unsigned char *older = pushed_off(ps, 24, 32);
    page_stack_push(ps, 8, 8);
    unsigned char *kept = page_stack_realloc(ps, older, 24, 8, 32);
    cr_assert(kept != older && (uintptr_t)kept % 32 == 0, "an older block, shrinking");
    expect_bytes(kept, 8);
    cr_assert_eq(page_stack_realloc(ps, older, 24, 8, 8), older, "aligned enough: it stays");
    unsigned char *empty;
    do {
        page_stack_push(ps, 1, 1);
        empty = page_stack_push(ps, 0, 1);
    } while ((uintptr_t)empty % 16 == 0);
    unsigned char *from_empty = page_stack_realloc(ps, empty, 0, 16, 16);
    cr_assert((uintptr_t)from_empty % 16 == 0, "a 0-byte push at the top");
    page_stack_check(ps);
    page_stack_destroy(ps);
}

Test(realloc, an_old_size_that_reaches_past_the_top_is_fatal, .signal = SIGABRT)
{
    PageStack *ps = page_stack_create(NULL);
    char *a = page_stack_push(ps, 100, 8);
    page_stack_push(ps, 8, 8);
    expect_fatal("with old_size 65536, but the top is ");
    page_stack_realloc(ps, a, 64 * KiB, 128 * KiB, 8);
    death_not_reached();
}

/* A block a pop or a reset released is not realloc's to resize or copy,
 * growing or shrinking: in every build while nothing has been pushed over it
 * since; in the checked build after that too (its pops and resets do not
 * hand the bytes out again). */
enum { Released_PopGrow, Released_PopShrinkTry, Released_ResetGrowTry, Released_ResetShrink, Released_Count };

ParameterizedTestParameters(realloc, a_released_block_is_fatal)
{
    static int cases[Released_Count];
    return index_params(cases, Released_Count);
}

ParameterizedTest(int *how, realloc, a_released_block_is_fatal, .signal = SIGABRT)
{
    PageStack *ps = page_stack_create(NULL);
    page_stack_push(ps, 32, 8);
    PageStackMark m = page_stack_mark(ps);
    char *gone = page_stack_push(ps, 100, 8);
    page_stack_push(ps, 8, 8);
    if (*how == Released_PopGrow || *how == Released_PopShrinkTry)
        page_stack_pop_to(m);
    else
        page_stack_reset(ps);
    if (TEST_CHECKED)
        page_stack_push(ps, 200, 8); /* elsewhere this push could take the block's bytes */
    expect_fatal("which a pop or reset released; realloc only a block that is still pushed");
    switch (*how) {
    case Released_PopGrow: page_stack_realloc(ps, gone, 100, 4 * KiB, 8); break;
    case Released_PopShrinkTry: page_stack_try_realloc(ps, gone, 100, 50, 8); break;
    case Released_ResetGrowTry: page_stack_try_realloc(ps, gone, 100, 4 * KiB, 8); break;
    case Released_ResetShrink: page_stack_realloc(ps, gone, 100, 50, 8); break;
    }
    death_not_reached();
}

/* ---------------------------------------------------------------- strings */

/* Each string is one push of its length + 1 bytes at alignment 1. */
static void assert_one_string_push(PageStack *ps, PageStackStats before, const char *s, const char *expected)
{
    PageStackStats after = page_stack_stats(ps);
    cr_assert_not_null(s);
    cr_assert_str_eq(s, expected);
    cr_assert_eq(after.pos, before.pos + strlen(expected) + 1, "pos %zu, was %zu, for a string of %zu", after.pos,
                 before.pos, strlen(expected));
    cr_assert_eq(after.pushes, before.pushes + 1);
}

Test(strings, printf_pushes_the_formatted_string_and_its_nul)
{
    PageStack *ps = page_stack_create(NULL);
    page_stack_push(ps, 3, 1); /* an odd top: a string needs no alignment */
    PageStackStats before = page_stack_stats(ps);
    char *s = page_stack_printf(ps, "%s-%d-%zu-%.2f", "ab", -7, (size_t)42, 0.5);
    assert_one_string_push(ps, before, s, "ab--7-42-0.50");
    before = page_stack_stats(ps);
    errno = ERANGE;
    assert_one_string_push(ps, before, page_stack_printf(ps, "%s", ""), "");
    cr_assert_eq(errno, ERANGE, "errno is left as the caller had it");
    char *t = page_stack_strdup(ps, "next");
    cr_assert_str_eq(s, "ab--7-42-0.50", "a later push leaves the string alone");
    cr_assert_str_eq(t, "next");
    page_stack_destroy(ps);
}

/* A string pushed where other bytes were (a pop gave them back) ends with
 * its own NUL, short or long, printf or strdup. */
Test(strings, a_string_over_reused_bytes_ends_with_its_nul)
{
    PageStack *ps = page_stack_create(NULL);
    PageStackMark m = page_stack_mark(ps);
    memset(page_stack_push(ps, 4096, 1), 'x', 4096);
    page_stack_pop_to(m);
    char *a = page_stack_printf(ps, "%d", 12);
    char *b = page_stack_printf(ps, "%300d", 7);
    char *c = page_stack_strdup(ps, "ab");
    char *d = page_stack_strndup(ps, "abcdef", 3);
    cr_assert_str_eq(a, "12");
    cr_assert_eq(strlen(b), 300);
    cr_assert_str_eq(c, "ab");
    cr_assert_str_eq(d, "abc");
    page_stack_destroy(ps);
}

/* Around and far past the 256 bytes formatted on the C stack first. */
Test(strings, printf_of_any_length_is_whole)
{
    PageStack *ps = page_stack_create(NULL);
    static const size_t widths[] = {250, 251, 252, 253, 1000, 100000}; /* 254 to 257 bytes, then more */
    for (size_t i = 0; i < sizeof widths / sizeof widths[0]; i++) {
        size_t w = widths[i];
        PageStackStats before = page_stack_stats(ps);
        char *s = page_stack_printf(ps, "%*d|%s", (int)w, 7, "end");
        cr_assert_not_null(s);
        cr_assert_eq(page_stack_stats(ps).pos, before.pos + w + 5, "width %zu", w);
        cr_assert_eq(strlen(s), w + 4, "width %zu", w);
        for (size_t b = 0; b + 1 < w; b++)
            cr_assert_eq(s[b], ' ', "width %zu: byte %zu", w, b);
        cr_assert_str_eq(s + w - 1, "7|end", "width %zu", w);
    }
    page_stack_destroy(ps);
}

static char *format_line(PageStack *ps, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = page_stack_vprintf(ps, fmt, ap);
    va_end(ap);
    return s;
}

static char *try_format_line(PageStack *ps, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = page_stack_try_vprintf(ps, fmt, ap);
    va_end(ap);
    return s;
}

Test(strings, vprintf_serves_a_variadic_wrapper)
{
    PageStack *ps = page_stack_create(NULL);
    PageStackStats before = page_stack_stats(ps);
    assert_one_string_push(ps, before, format_line(ps, "[%s] %u particles", "sim", 20000u), "[sim] 20000 particles");
    char wide[400];
    memset(wide, 'w', sizeof wide - 1);
    wide[sizeof wide - 1] = 0;
    before = page_stack_stats(ps);
    assert_one_string_push(ps, before, format_line(ps, "%s", wide), wide);
    page_stack_destroy(ps);
}

Test(strings, strdup_and_strndup_copy_up_to_the_nul)
{
    PageStack *ps = page_stack_create(NULL);
    PageStackStats before = page_stack_stats(ps);
    const char *src = "sprites/ship.png";
    char *s = page_stack_strdup(ps, src);
    assert_one_string_push(ps, before, s, src);
    cr_assert_neq(s, src);
    before = page_stack_stats(ps);
    assert_one_string_push(ps, before, page_stack_strdup(ps, ""), "");
    before = page_stack_stats(ps);
    assert_one_string_push(ps, before, page_stack_strndup(ps, src, 7), "sprites");
    before = page_stack_stats(ps);
    assert_one_string_push(ps, before, page_stack_strndup(ps, src, 1000), src);
    before = page_stack_stats(ps);
    assert_one_string_push(ps, before, page_stack_strndup(ps, src, 0), "");
    before = page_stack_stats(ps);
    assert_one_string_push(ps, before, page_stack_strndup(ps, src, SIZE_MAX), src);
    /* A buffer with no NUL in its n bytes: read no further (ASan would report it). */
    char *exact = malloc(4);
    memcpy(exact, "abcd", 4);
    before = page_stack_stats(ps);
    assert_one_string_push(ps, before, page_stack_strndup(ps, exact, 4), "abcd");
    before = page_stack_stats(ps);
    assert_one_string_push(ps, before, page_stack_try_strndup(ps, exact, 4), "abcd");
    free(exact);
    before = page_stack_stats(ps);
    assert_one_string_push(ps, before, page_stack_try_strdup(ps, src), src);
    before = page_stack_stats(ps);
    assert_one_string_push(ps, before, page_stack_try_strndup(ps, src, 6), "sprite");
    page_stack_destroy(ps);
}

Test(strings, a_string_that_does_not_fit_fails_like_a_push)
{
    FailLog log = {0};
    PageStack *ps = page_stack_create(
        &(PageStackDesc){.reserve_size = 64 * KiB, .on_fail = record_failure, .user = &log});
    char *keep = page_stack_strdup(ps, "kept");
    page_stack_push(ps, 60 * KiB, 16);
    PageStackStats before = page_stack_stats(ps);
    char big[8000];
    memset(big, 'b', sizeof big - 1);
    big[sizeof big - 1] = 0;

    cr_assert_null(page_stack_printf(ps, "%s!", big));
    cr_assert_eq(log.calls, 1);
    cr_assert_eq(log.size, sizeof big + 1, "on_fail sees the length + 1: %zu", log.size);
    cr_assert_eq(log.align, 1);
    cr_assert_eq(log.error, PageStackError_OutOfReserve);
    cr_assert_null(page_stack_strdup(ps, big));
    cr_assert_eq(log.calls, 2);
    cr_assert_eq(log.size, sizeof big);
    cr_assert_null(page_stack_strndup(ps, big, 5000));
    cr_assert_eq(log.calls, 3);
    cr_assert_eq(log.size, 5001);
    cr_assert_null(page_stack_try_printf(ps, "%s", big));
    cr_assert_null(try_format_line(ps, "%s?", big));
    cr_assert_null(page_stack_try_strdup(ps, big));
    cr_assert_null(page_stack_try_strndup(ps, big, 5000));
    cr_assert_eq(log.calls, 3, "the try calls do not call on_fail");
    cr_assert_eq(page_stack_last_error(ps), PageStackError_OutOfReserve);

    PageStackStats after = page_stack_stats(ps);
    cr_assert_eq(after.pos, before.pos);
    cr_assert_eq(after.committed, before.committed);
    cr_assert_eq(after.pushes, before.pushes);
    cr_assert_eq(after.failed_pushes, before.failed_pushes + 7);
    cr_assert_str_eq(keep, "kept");
    cr_assert_str_eq(page_stack_printf(ps, "%d", 12), "12", "still usable");
    before = page_stack_stats(ps);
    assert_one_string_push(ps, before, page_stack_try_printf(ps, "%s", "fits"), "fits");
    before = page_stack_stats(ps);
    assert_one_string_push(ps, before, try_format_line(ps, "%d", 7), "7");
    page_stack_destroy(ps);
}

Test(strings, default_on_fail_names_the_string_push, .signal = SIGABRT)
{
    PageStack *ps = page_stack_create(&(PageStackDesc){.name = "text", .reserve_size = 64 * KiB});
    page_stack_push(ps, 65000, 1);
    expect_fatal("page_stack \"text\": push of 1001 bytes (align 1) failed: out of reserved address space "
                 "(raise reserve_size); pos 65000, committed 65536, reserved 65536");
    page_stack_printf(ps, "%1000d", 1);
    death_not_reached();
}

/* A string of the stack's own is copied while its block is still pushed,
 * the block just pushed included; nothing to read (strndup of 0 bytes) takes
 * any pointer, as a copy of 0 bytes does. */
Test(strings, a_string_of_the_stack_s_own_is_copied_while_it_is_pushed)
{
    PageStack *ps = page_stack_create(NULL);
    PageStackMark m = page_stack_mark(ps);
    char *name = page_stack_strdup(ps, "level_03");
    /* Its NUL, the last byte below the top, is an empty string of the
     * stack's own that ends at the top: whole, not past it. */
    PageStackStats before = page_stack_stats(ps);
    assert_one_string_push(ps, before, page_stack_strdup(ps, name + 8), "");
    before = page_stack_stats(ps);
    assert_one_string_push(ps, before, page_stack_strdup(ps, name), "level_03");
    before = page_stack_stats(ps);
    assert_one_string_push(ps, before, page_stack_try_strndup(ps, name + 6, 100), "03");
    page_stack_pop_to(m);
    before = page_stack_stats(ps);
    assert_one_string_push(ps, before, page_stack_strndup(ps, name, 0), "");
    page_stack_destroy(ps);
}

/* A string a pop or reset released is not strdup's to read, as a block is
 * not push_copy's, nor printf's as its format: its bytes may have been
 * handed out again (a long string's would be printf's own block). */
enum { ReleasedString_PopStrdup, ReleasedString_ResetTryStrdup, ReleasedString_PopTryStrndup,
       ReleasedString_ResetStrndup, ReleasedString_PopPrintf, ReleasedString_ResetTryVprintf,
       ReleasedString_Count };

static const char *string_call(int how, int bounded_first, int printf_first)
{
    return how >= printf_first ? "printf" : how >= bounded_first ? "strndup" : "strdup";
}

ParameterizedTestParameters(strings, a_released_string_is_fatal)
{
    static int cases[ReleasedString_Count];
    return index_params(cases, ReleasedString_Count);
}

ParameterizedTest(int *how, strings, a_released_string_is_fatal, .signal = SIGABRT)
{
    PageStack *ps = page_stack_create(&(PageStackDesc){.name = "text"});
    page_stack_push(ps, 32, 8);
    PageStackMark m = page_stack_mark(ps);
    char *gone = page_stack_printf(ps, "frame %d", 12);
    page_stack_push(ps, 8, 8);
    if (*how == ReleasedString_PopStrdup || *how == ReleasedString_PopTryStrndup)
        page_stack_pop_to(m);
    else
        page_stack_reset(ps);
    if (TEST_CHECKED)
        page_stack_push(ps, 200, 8); /* elsewhere this push could take the string's bytes */
    const char *call = string_call(*how, ReleasedString_PopTryStrndup, ReleasedString_PopPrintf);
    expect_fatalf("page_stack \"text\": %s of the block at %p, which a pop or reset released; %s only a block that "
                  "is still pushed",
                  call, (void *)gone, call);
    switch (*how) {
    case ReleasedString_PopStrdup: page_stack_strdup(ps, gone); break;
    case ReleasedString_ResetTryStrdup: page_stack_try_strdup(ps, gone); break;
    case ReleasedString_PopTryStrndup: page_stack_try_strndup(ps, gone, 5); break;
    case ReleasedString_ResetStrndup: page_stack_strndup(ps, gone, 5); break;
    case ReleasedString_PopPrintf: page_stack_printf(ps, gone, 12); break;
    case ReleasedString_ResetTryVprintf: try_format_line(ps, gone, 12); break;
    }
    death_not_reached();
}

/* A string of the stack's own ends by the top, a format included. One
 * without a NUL there is fatal before a byte past the top is read: the block
 * below ends at the commit's end, where strdup's strlen and printf's
 * vsnprintf faulted before the check. */
enum { UnendedString_Strdup, UnendedString_TryStrdup, UnendedString_Strndup, UnendedString_TryStrndup,
       UnendedString_Printf, UnendedString_Vprintf, UnendedString_Count };

ParameterizedTestParameters(strings, a_string_with_no_nul_below_the_top_is_fatal)
{
    static int cases[UnendedString_Count];
    return index_params(cases, UnendedString_Count);
}

ParameterizedTest(int *how, strings, a_string_with_no_nul_below_the_top_is_fatal, .signal = SIGABRT)
{
    PageStack *ps = page_stack_create(&(PageStackDesc){.name = "text", .commit_size = 64 * KiB});
    page_stack_push(ps, 1, 1);
    page_stack_push(ps, page_stack_stats(ps).committed - 1 - 8, 1);
    char *name = page_stack_push(ps, 8, 1);
    memcpy(name, "level_03", 8); /* no NUL */
    if (!TEST_CHECKED)
        cr_assert_eq(page_stack_stats(ps).pos, page_stack_stats(ps).committed, "the block ends at the commit's end");
    const char *call = string_call(*how, UnendedString_Strndup, UnendedString_Printf);
    expect_fatalf("page_stack \"text\": %s of the string at %p finds no NUL in the 8 bytes up to the top; a string "
                  "of the stack's own ends, NUL included, in a block still pushed%s",
                  call, (void *)name, strcmp(call, "strndup") == 0 ? " (or pass an n that stops below the top)" : "");
    switch (*how) {
    case UnendedString_Strdup: page_stack_strdup(ps, name); break;
    case UnendedString_TryStrdup: page_stack_try_strdup(ps, name); break;
    case UnendedString_Strndup: page_stack_strndup(ps, name, 9); break;
    case UnendedString_TryStrndup: page_stack_try_strndup(ps, name, SIZE_MAX); break;
    case UnendedString_Printf: page_stack_printf(ps, name, 3); break;
    case UnendedString_Vprintf: format_line(ps, name, 3); break;
    }
    death_not_reached();
}

/* strndup of a block with no NUL takes n bytes while they end by the top. */
Test(strings, strndup_of_a_block_with_no_nul_copies_n_bytes_below_the_top)
{
    PageStack *ps = page_stack_create(NULL);
    char *name = page_stack_push(ps, 8, 1);
    memcpy(name, "level_03", 8);
    PageStackStats before = page_stack_stats(ps);
    assert_one_string_push(ps, before, page_stack_strndup(ps, name, 8), "level_03");
    before = page_stack_stats(ps);
    assert_one_string_push(ps, before, page_stack_try_strndup(ps, name + 2, 3), "vel");
    page_stack_destroy(ps);
}

/* The misuse cases; the parameter is an index into the calls below. */
enum {
    BadString_FormatNull,
    BadString_VFormatNull,
    BadString_TryFormatNull,
    BadString_TryVFormatNull,
    BadString_StrdupNull,
    BadString_StrndupNull,
    BadString_TryStrdupNull,
    BadString_TryStrndupNull,
    BadString_FormatFails,
    BadString_Count
};

ParameterizedTestParameters(strings, misuse_is_fatal)
{
    static int calls[BadString_Count];
    return index_params(calls, BadString_Count);
}

ParameterizedTest(int *call, strings, misuse_is_fatal, .signal = SIGABRT)
{
    PageStack *ps = page_stack_create(&(PageStackDesc){.name = "text"});
    const char *volatile no_string = NULL; /* hidden from the nonnull and format checks */
    switch (*call) {
    case BadString_FormatNull:
        expect_fatal("page_stack \"text\": page_stack_printf with fmt NULL; pass a format string");
        {
            char *(*unchecked)(PageStack *, const char *, ...) = page_stack_printf; /* no format check */
            unchecked(ps, no_string);
        }
        break;
    case BadString_VFormatNull:
        expect_fatal("page_stack \"text\": page_stack_vprintf with fmt NULL; pass a format string");
        format_line(ps, no_string);
        break;
    case BadString_TryFormatNull:
        expect_fatal("page_stack \"text\": page_stack_try_printf with fmt NULL; pass a format string");
        {
            char *(*unchecked)(PageStack *, const char *, ...) = page_stack_try_printf; /* no format check */
            unchecked(ps, no_string);
        }
        break;
    case BadString_TryVFormatNull:
        expect_fatal("page_stack \"text\": page_stack_try_vprintf with fmt NULL; pass a format string");
        try_format_line(ps, no_string);
        break;
    case BadString_StrdupNull:
        expect_fatal("page_stack \"text\": page_stack_strdup with s NULL; pass a string");
        page_stack_strdup(ps, no_string);
        break;
    case BadString_StrndupNull:
        expect_fatal("page_stack \"text\": page_stack_strndup with s NULL; pass a string");
        page_stack_strndup(ps, no_string, 4);
        break;
    case BadString_TryStrdupNull:
        expect_fatal("page_stack \"text\": page_stack_try_strdup with s NULL; pass a string");
        page_stack_try_strdup(ps, no_string);
        break;
    case BadString_TryStrndupNull:
        expect_fatal("page_stack \"text\": page_stack_try_strndup with s NULL; pass a string");
        page_stack_try_strndup(ps, no_string, 4);
        break;
    case BadString_FormatFails: {
        /* A lone UTF-16 surrogate has no multibyte form in any locale: vsnprintf fails with EILSEQ. */
        static const wchar_t lone[] = {0xD800, 0};
        expect_fatalf("page_stack \"text\": page_stack_printf: the C library cannot format it (%s); check the "
                      "arguments against the format, and any wide strings", strerror(EILSEQ));
        page_stack_printf(ps, "%ls", lone);
        break;
    }
    }
    death_not_reached();
}

/* ---------------------------------------------------------------- copies */

typedef struct Body {
    float pos[3], vel[3];
    uint32_t id;
} Body;

static void fill_bodies(Body *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        b[i] = (Body){{(float)i, 1, 2}, {3, 4, (float)-i}, (uint32_t)(1000 + i)};
}

Test(copies, push_copy_is_one_aligned_push_holding_the_bytes)
{
    PageStack *ps = page_stack_create(NULL);
    unsigned char src[100], orig[100];
    for (size_t i = 0; i < sizeof src; i++)
        src[i] = (unsigned char)(i * 7 + 1);
    memcpy(orig, src, sizeof src);
    page_stack_push(ps, 3, 1); /* the top off every alignment above 1 */

    /* A size known only at run time: memcpy out of line. */
    volatile size_t runtime = sizeof src;
    PageStackStats before = page_stack_stats(ps);
    unsigned char *p = page_stack_push_copy(ps, src, runtime, 64);
    cr_assert_not_null(p);
    cr_assert_eq((uintptr_t)p % 64, 0);
    cr_assert_eq(memcmp(p, orig, sizeof orig), 0);
    cr_assert_eq(memcmp(src, orig, sizeof orig), 0, "the source is left as it was");
    PageStackStats after = page_stack_stats(ps);
    cr_assert_eq(after.pushes, before.pushes + 1);
    cr_assert_eq(after.pos, ((before.pos + 63) & ~(size_t)63) + sizeof src);

    /* A constant size: the copy inlined as moves. */
    Body b;
    fill_bodies(&b, 1);
    before = after;
    Body *c = page_stack_push_copy(ps, &b, sizeof b, alignof(Body));
    cr_assert_eq((uintptr_t)c % alignof(Body), 0);
    cr_assert_eq(memcmp(c, &b, sizeof b), 0);
    after = page_stack_stats(ps);
    cr_assert_eq(after.pushes, before.pushes + 1);
    cr_assert_eq(after.pos, ((before.pos + alignof(Body) - 1) & ~(alignof(Body) - 1)) + sizeof b);

    /* A live block of the same stack is a source like any other. */
    unsigned char *q = page_stack_try_push_copy(ps, p, sizeof src, 16);
    cr_assert(q > p);
    cr_assert_eq((uintptr_t)q % 16, 0);
    cr_assert_eq(memcmp(q, orig, sizeof orig), 0);
    cr_assert_eq(memcmp(p, orig, sizeof orig), 0);
    cr_assert_eq(page_stack_stats(ps).pushes, after.pushes + 1);
    /* The last push whole, its last byte just below the top. */
    unsigned char *r = page_stack_push_copy(ps, q, sizeof src, 1);
    cr_assert(r >= q + sizeof src);
    cr_assert_eq(memcmp(r, orig, sizeof orig), 0);
    page_stack_destroy(ps);
}

Test(copies, push_array_copy_copies_n_elements_of_its_type)
{
    PageStack *ps = page_stack_create(NULL);
    Body bodies[5];
    fill_bodies(bodies, 5);
    page_stack_push(ps, 1, 1);

    PageStackStats before = page_stack_stats(ps);
    Body *copy = push_array_copy(ps, Body, bodies, 5);
    cr_assert_not_null(copy);
    cr_assert_eq((uintptr_t)copy % alignof(Body), 0);
    cr_assert_eq(memcmp(copy, bodies, sizeof bodies), 0);
    PageStackStats after = page_stack_stats(ps);
    cr_assert_eq(after.pushes, before.pushes + 1, "one push for the whole array");
    cr_assert_eq(after.pos, ((before.pos + alignof(Body) - 1) & ~(alignof(Body) - 1)) + sizeof bodies);

    /* A const source, a void * and a count known only at run time. */
    const Body *view = bodies + 1;
    volatile size_t three = 3;
    Body *some = try_push_array_copy(ps, Body, view, three);
    cr_assert_eq(memcmp(some, bodies + 1, 3 * sizeof(Body)), 0);
    void *raw = bodies;
    Body *two = push_array_copy(ps, Body, raw, 2);
    cr_assert_eq(memcmp(two, bodies, 2 * sizeof(Body)), 0);
    double d[4] = {1.5, -2.5, 1e300, 0};
    double *ds = push_array_copy(ps, double, d, 4);
    cr_assert_eq((uintptr_t)ds % alignof(double), 0);
    cr_assert_eq(memcmp(ds, d, sizeof d), 0);

    /* Nothing to copy: src may be NULL, and it is a push of 0 bytes. */
    page_stack_push(ps, 1, 1);
    before = page_stack_stats(ps);
    Body *none = push_array_copy(ps, Body, (const Body *)NULL, 0);
    cr_assert_not_null(none);
    cr_assert_eq((uintptr_t)none % alignof(Body), 0);
    void *empty = page_stack_push_copy(ps, NULL, 0, 8);
    cr_assert_not_null(empty);
    cr_assert_eq((uintptr_t)empty % 8, 0);
    after = page_stack_stats(ps);
    cr_assert_eq(after.pushes, before.pushes + 2);
    cr_assert_eq(after.pos, (before.pos + 7) & ~(size_t)7, "only the padding");
    page_stack_destroy(ps);
}

Test(copies, a_copy_that_cannot_be_served_fails_like_a_push)
{
    FailLog log = {0};
    PageStack *ps = page_stack_create(
        &(PageStackDesc){.reserve_size = 64 * KiB, .on_fail = record_failure, .user = &log});
    char *keep = page_stack_push_copy(ps, "kept", 5, 1);
    page_stack_push(ps, 60 * KiB, 16);
    static unsigned char big[8000];
    memset(big, 'b', sizeof big);
    Body bodies[4];
    fill_bodies(bodies, 4);
    PageStackStats before = page_stack_stats(ps);

    cr_assert_null(page_stack_push_copy(ps, big, sizeof big, 16));
    cr_assert_eq(log.calls, 1);
    cr_assert_eq(log.size, sizeof big);
    cr_assert_eq(log.align, 16);
    cr_assert_eq(log.error, PageStackError_OutOfReserve);
    volatile size_t many = 1000, too_many = SIZE_MAX / 2;
    cr_assert_null(push_array_copy(ps, Body, bodies, many));
    cr_assert_eq(log.calls, 2);
    cr_assert_eq(log.size, 1000 * sizeof(Body));
    cr_assert_eq(log.align, alignof(Body));
    cr_assert_null(push_array_copy(ps, Body, bodies, too_many));
    cr_assert_eq(log.calls, 3);
    cr_assert_eq(log.size, SIZE_MAX, "an overflowing count reports SIZE_MAX");
    cr_assert_eq(log.error, PageStackError_SizeOverflow);

    cr_assert_null(page_stack_try_push_copy(ps, big, sizeof big, 16));
    cr_assert_eq(page_stack_last_error(ps), PageStackError_OutOfReserve);
    cr_assert_null(try_push_array_copy(ps, Body, bodies, too_many));
    cr_assert_eq(page_stack_last_error(ps), PageStackError_SizeOverflow);
    cr_assert_null(try_push_array_copy(ps, Body, bodies, many));
    cr_assert_eq(page_stack_last_error(ps), PageStackError_OutOfReserve);
    cr_assert_eq(log.calls, 3, "the try forms do not call on_fail");

    PageStackStats after = page_stack_stats(ps);
    cr_assert_eq(after.pos, before.pos);
    cr_assert_eq(after.committed, before.committed);
    cr_assert_eq(after.pushes, before.pushes);
    cr_assert_eq(after.failed_pushes, before.failed_pushes + 6);
    cr_assert_str_eq(keep, "kept");
    /* Still usable: what fits is copied. */
    Body *fits = push_array_copy(ps, Body, bodies, 4);
    cr_assert_eq(memcmp(fits, bodies, sizeof bodies), 0);
    page_stack_destroy(ps);
}

/* The misuse cases; the parameter is an index into the calls below. A block
 * a pop or reset released is fatal while nothing was pushed over it, and in
 * the checked build after that too, as realloc's. */
enum {
    BadCopy_NullPush,
    BadCopy_NullTryPush,
    BadCopy_NullArray,
    BadCopy_NullTryArray,
    BadCopy_PoppedBlock,
    BadCopy_PoppedArrayTry,
    BadCopy_ResetBlock,
    BadCopy_PastTheTop,
    BadCopy_FromBelowTheStack,
    BadCopy_Count
};

ParameterizedTestParameters(copies, misuse_is_fatal)
{
    static int calls[BadCopy_Count];
    return index_params(calls, BadCopy_Count);
}

ParameterizedTest(int *call, copies, misuse_is_fatal, .signal = SIGABRT)
{
    PageStack *ps = page_stack_create(&(PageStackDesc){.name = "copy"});
    const Body *volatile no_bodies = NULL; /* hidden from the nonnull checks */
    const void *src = no_bodies;
    page_stack_push(ps, 32, 8);
    PageStackMark m = page_stack_mark(ps);
    Body *gone = page_stack_push(ps, 4 * sizeof(Body), alignof(Body));
    page_stack_push(ps, 8, 8);
    if (*call == BadCopy_PoppedBlock || *call == BadCopy_PoppedArrayTry)
        page_stack_pop_to(m);
    if (*call == BadCopy_ResetBlock)
        page_stack_reset(ps);
    if (TEST_CHECKED && *call != BadCopy_PastTheTop)
        page_stack_push(ps, 200, 8); /* elsewhere this push could take the block's bytes */
    static const char released[] = "which a pop or reset released; push_copy only a block that is still pushed";
    switch (*call) {
    case BadCopy_NullPush:
        expect_fatal("page_stack \"copy\": push_copy from src NULL (count 1, size 24); pass the bytes to copy "
                     "(src may be NULL only with a count or size of 0)");
        page_stack_push_copy(ps, src, 24, 8);
        break;
    case BadCopy_NullTryPush:
        expect_fatal("page_stack \"copy\": push_copy from src NULL (count 1, size 1)");
        page_stack_try_push_copy(ps, src, 1, 1);
        break;
    case BadCopy_NullArray:
        expect_fatalf("page_stack \"copy\": push_copy from src NULL (count 3, size %zu)", sizeof(Body));
        push_array_copy(ps, Body, no_bodies, 3);
        break;
    case BadCopy_NullTryArray:
        expect_fatalf("page_stack \"copy\": push_copy from src NULL (count 2, size %zu)", sizeof(Body));
        try_push_array_copy(ps, Body, no_bodies, 2);
        break;
    case BadCopy_PoppedBlock:
        expect_fatalf("page_stack \"copy\": push_copy of the block at %p, %s", (void *)gone, released);
        page_stack_push_copy(ps, gone, sizeof(Body), alignof(Body));
        break;
    case BadCopy_PoppedArrayTry:
        expect_fatalf("page_stack \"copy\": push_copy of the block at %p, %s", (void *)(gone + 1), released);
        try_push_array_copy(ps, Body, gone + 1, 3);
        break;
    case BadCopy_ResetBlock:
        expect_fatalf("page_stack \"copy\": push_copy of the block at %p, %s", (void *)gone, released);
        push_array_copy(ps, Body, gone, 4);
        break;
    case BadCopy_PastTheTop: /* the block, the 8 bytes above it (and the checked build's redzones), and more */
        expect_fatalf("page_stack \"copy\": push_copy of the block at %p with size %zu, but the top is ",
                      (void *)gone, 64 * sizeof(Body));
        push_array_copy(ps, Body, gone, 64);
        break;
    case BadCopy_FromBelowTheStack: { /* never read: the check stops the copy first */
        const void *below = (const void *)(ps->base - 64);
        expect_fatalf("page_stack \"copy\": push_copy of %zu bytes from %p runs from below the stack's memory into "
                      "bytes no live block holds; copy only bytes of blocks that are still pushed",
                      (size_t)(64 + MiB), below);
        page_stack_try_push_copy(ps, below, 64 + MiB, 1);
        break;
    }
    }
    death_not_reached();
}

/* The inline test that sends a copy to its checks, on a stack placed where
 * none is in practice: its base at 64 KiB, so that a copy can be larger than
 * the top's address. Every copy that starts below the committed end and
 * ends past the top goes out of line, whatever its size and wherever it
 * starts; one that ends by the top, or starts past the committed end, stays
 * inline (the checked build sends every copy with bytes). */
Test(copies, the_inline_test_finds_every_source_that_ends_past_the_top)
{
    const uintptr_t base = 64 * 1024, top = base + 4096;
    PageStack fake = {.base = base, .committed = MiB, .reserved = 64 * MiB};
    const struct { /* automatic: base and top are not constant expressions in C */
        uintptr_t from;
        size_t bytes;
        int suspect;
    } copies[] = {
        {base, 4096, 0},                      /* every live byte */
        {base + 4000, 96, 0},                 /* up to the top */
        {base + 4000, 97, 1},                 /* one byte past it */
        {base + 4000, 128 * 1024, 1},         /* more bytes than the top's address */
        {top, 1, 1},                          /* the first byte above the top */
        {base + MiB - 1, 1, 1},               /* the last committed byte */
        {base + MiB, 4096, 0},                /* past the committed end: not the stack's */
        {base - 64, 64, 0},                   /* below the base, up to it */
        {base - 64, 64 + 4096, 0},            /* from below the base up to the top */
        {base - 64, 64 + 4097, 1},            /* from below the base past the top */
        {4096, 2 * MiB, 1},                   /* from far below to past the committed end */
        {0, 1, 1},                            /* NULL with bytes to copy */
        {0, 0, 0},                            /* nothing to copy */
        {top, 0, 0},                          /* nothing to copy */
        {UINTPTR_MAX - 15, 64, 0},            /* the address space's end: wraps, above the stack */
    };
    for (size_t i = 0; i < sizeof copies / sizeof copies[0]; i++) {
        int want = TEST_CHECKED ? copies[i].bytes != 0 : copies[i].suspect;
        int got = page_stack_copy_suspect(&fake, top, (const void *)copies[i].from, copies[i].bytes) != 0;
        cr_assert_eq(got, want, "copy %zu (%zu bytes from base %+td): %d, expected %d", i, copies[i].bytes,
                     (ptrdiff_t)(copies[i].from - base), got, want);
    }
}

/* The out-of-line checks let a source that starts below the stack's memory
 * and ends by the top pass (they read nothing). */
Test(copies, a_source_from_below_the_stack_that_ends_by_the_top_passes)
{
    PageStack *ps = page_stack_create(&(PageStackDesc){.name = "below"});
    uintptr_t block = (uintptr_t)page_stack_push(ps, 256, 16);
    const void *below = (const void *)(ps->base - 64);
    size_t up_to_the_top = (size_t)(block + 256 - (ps->base - 64));
    page_stack_copy_check(ps, below, 1, up_to_the_top);
    page_stack_copy_check(ps, below, 4, up_to_the_top / 4);
    page_stack_copy_check(ps, below, 1, 64);
    cr_assert_eq(page_stack_pos(ps), 256);
    cr_assert_eq(page_stack_stats(ps).pushes, 1, "the checks push nothing");
    page_stack_destroy(ps);
}

/* ---------------------------------------------------------------- marks */

/* page_stack_check finds nothing on a stack used as it should be, in every
 * build, and changes nothing: not the stats, not a byte of a block. */
Test(check, a_sound_stack_passes_and_is_left_as_it_was)
{
    PageStack *ps = page_stack_create(&(PageStackDesc){.quarantine = 2, .reserve_size = 16 * MiB});
    unsigned char *kept[64];
    for (int frame = 0; frame < 5; frame++) {
        page_stack_reset(ps);
        for (int i = 0; i < 64; i++) {
            kept[i] = page_stack_push(ps, 16 + (size_t)i * 7, i % 3 ? 8 : 64);
            memset(kept[i], i, 16 + (size_t)i * 7);
            PageStackMark m = page_stack_mark(ps);
            memset(page_stack_push(ps, 100, 16), 0xEE, 100);
            page_stack_pop_to(m);
        }
        kept[63] = page_stack_realloc(ps, kept[63], 16 + 63 * 7, 40, 8);
        unsigned char *last = page_stack_push(ps, 32, 8);
        cr_assert(page_stack_free_last(ps, last, 32));
        PageStackStats before = page_stack_stats(ps);
        page_stack_check(ps);
        PageStackStats after = page_stack_stats(ps);
        cr_assert_eq(memcmp(&before, &after, sizeof before), 0, "frame %d: the stats moved", frame);
        for (int i = 0; i < 64; i++)
            for (size_t b = 0; b < (i == 63 ? 40 : 16 + (size_t)i * 7); b++)
                cr_assert_eq(kept[i][b], i, "frame %d: block %d byte %zu changed", frame, i, b);
    }
    page_stack_destroy(ps);
}

Test(marks, nested_pops_restore_each_level)
{
    PageStack *ps = page_stack_create(NULL);
    char *keep = page_stack_push(ps, 32, 8);
    fill(keep, 32, 7);
    PageStackMark outer = page_stack_mark(ps);
    page_stack_push(ps, 1000, 8);
    PageStackMark inner = page_stack_mark(ps);
    page_stack_push(ps, 5000, 8);
    page_stack_pop_to(inner);
    cr_assert_eq(page_stack_pos(ps), inner.pos);
    page_stack_pop_to(inner); /* equal to the top: allowed no-op */
    cr_assert_eq(page_stack_pos(ps), inner.pos);
    page_stack_pop_to(outer);
    cr_assert_eq(page_stack_pos(ps), 32);
    cr_assert(intact(keep, 32, 7));
    cr_assert_eq(page_stack_stats(ps).peak, 32 + 1000 + 5000);
    char *again = page_stack_push(ps, 8, 8);
    if (TEST_CHECKED)
        cr_assert_gt(again, keep + 32 + 1000, "checked: pops are monotonic, released bytes are not reused");
    else
        cr_assert_eq(again, keep + 32, "popped bytes are reused");
    page_stack_destroy(ps);
}

Test(marks, pop_and_reset_make_no_system_call)
{
    PageStack *ps = page_stack_create(NULL);
    PageStackMark m = page_stack_mark(ps);
    page_stack_push(ps, 3 * MiB, 8);
    PageStackStats before = page_stack_stats(ps);
    page_stack_pop_to(m);
    page_stack_reset(ps);
    PageStackStats after = page_stack_stats(ps);
    cr_assert_eq(after.commits, before.commits);
    cr_assert_eq(after.decommits, before.decommits);
    cr_assert_eq(after.committed, before.committed, "reset keeps the commit");
    cr_assert_eq(after.resets, before.resets + 1);
    cr_assert_eq(after.pos, 0);
    page_stack_destroy(ps);
}

Test(marks, reset_bumps_the_generation)
{
    PageStack *ps = page_stack_create(NULL);
    PageStackMark a = page_stack_mark(ps);
    page_stack_reset(ps);
    PageStackMark b = page_stack_mark(ps);
    cr_assert_eq(b.generation, a.generation + 1);
    cr_assert_eq(b.stack, ps);
    page_stack_destroy(ps);
}

Test(marks, resets_counts_resets_alone)
{
    PageStack *ps = page_stack_create(NULL);
    cr_assert_eq(page_stack_stats(ps).resets, 0, "a new stack has not been reset");
    for (int i = 1; i <= 5; i++) {
        PageStackMark m = page_stack_mark(ps);
        page_stack_push(ps, 100, 8);
        page_stack_pop_to(m);
        PageStackCursor c = page_stack_cursor_begin(ps);
        page_stack_cursor_push(&c, 10, 8);
        page_stack_cursor_end(&c);
        page_stack_trim(ps, 0);
        page_stack_reset(ps);
        cr_assert_eq(page_stack_stats(ps).resets, (uint64_t)i, "pops, cursors and trims are not resets");
    }
    page_stack_destroy(ps);
}

/* page_stack_holds: what the stack holds below its top, from its first byte
 * to its last, and nothing it has released or that is not its own. */
Test(holds, a_block_from_its_push_until_a_pop_or_reset_releases_it)
{
    PageStack *ps = page_stack_create(&(PageStackDesc){.name = "held"});
    PageStack *other = page_stack_create(NULL);
    int local = 0;
    unsigned char *a = page_stack_push(ps, 100, 16);
    PageStackMark m = page_stack_mark(ps);
    unsigned char *b = page_stack_push(ps, 40, 64);
    unsigned char *elsewhere = page_stack_push(other, 8, 8);
    cr_assert(page_stack_holds(ps, a));
    cr_assert(page_stack_holds(ps, a + 99));
    cr_assert(page_stack_holds(ps, b));
    cr_assert(page_stack_holds(ps, b + 39));
    /* the top: after the newest block, and in the checked build its redzone */
    cr_assert_not(page_stack_holds(ps, b + 40 + (TEST_CHECKED ? 16 : 0)), "the top");
    cr_assert_not(page_stack_holds(ps, b + 4096), "above the top");
    cr_assert_not(page_stack_holds(ps, a - 1), "below the stack's memory");
    cr_assert_not(page_stack_holds(ps, NULL));
    cr_assert_not(page_stack_holds(ps, &local));
    cr_assert_not(page_stack_holds(ps, elsewhere), "another stack's block");
    cr_assert(page_stack_holds(other, elsewhere));

    page_stack_pop_to(m);
    cr_assert(page_stack_holds(ps, a + 99), "below the mark");
    cr_assert_not(page_stack_holds(ps, b), "popped");
    cr_assert_not(page_stack_holds(ps, b + 39), "popped");
    unsigned char *c = page_stack_push(ps, 8, 8);
    cr_assert(page_stack_holds(ps, c));

    page_stack_reset(ps);
    cr_assert_not(page_stack_holds(ps, a), "reset");
    cr_assert_not(page_stack_holds(ps, c), "reset");
    unsigned char *again = page_stack_push(ps, 100, 16);
    cr_assert(page_stack_holds(ps, again));
    if (!TEST_CHECKED)
        cr_assert_eq(again, a, "the same bytes, held again");
    else /* each reset moves the checked build to a region of its own */
        cr_assert_not(page_stack_holds(ps, a), "a region a reset left");
    cr_assert_eq(page_stack_stats(ps).pushes, 4, "asking changes nothing");
    page_stack_destroy(other);
    page_stack_destroy(ps);
}

Test(marks, stale_mark_is_fatal, .signal = SIGABRT)
{
    PageStack *ps = page_stack_create(&(PageStackDesc){.name = "level"});
    page_stack_push(ps, 10, 1);
    PageStackMark m = page_stack_mark(ps);
    page_stack_reset(ps);
    page_stack_push(ps, 100, 1);
    expect_fatal("page_stack \"level\": pop_to a stale mark (taken before the last reset); do not keep marks "
                 "across a reset");
    page_stack_pop_to(m);
    death_not_reached();
}

Test(marks, out_of_order_pop_is_fatal, .signal = SIGABRT)
{
    PageStack *ps = page_stack_create(NULL);
    PageStackMark outer = page_stack_mark(ps);
    page_stack_push(ps, 16, 1);
    PageStackMark inner = page_stack_mark(ps);
    page_stack_pop_to(outer);
    expect_fatal("pop_to a mark above the top (mark 16, top 0): scopes ended out of order; end inner scopes before "
                 "outer ones");
    page_stack_pop_to(inner);
    death_not_reached();
}

Test(marks, zeroed_mark_is_fatal, .signal = SIGABRT)
{
    expect_fatal("page_stack_pop_to: the mark has no stack");
    page_stack_pop_to((PageStackMark){0});
    death_not_reached();
}

/* Every out-of-line function given a NULL stack stops with one line naming
 * it; the parameter is an index into the calls below. */
enum {
    NullStack_Reset,
    NullStack_ZeroDirty,
    NullStack_PushSlow,
    NullStack_PushOverflow,
    NullStack_Realloc,
    NullStack_TryRealloc,
    NullStack_FreeLast,
    NullStack_PushCleanup,
    NullStack_Mark,
    NullStack_Pos,
    NullStack_Holds,
    NullStack_Trim,
    NullStack_Stats,
    NullStack_LastError,
    NullStack_Check,
    NullStack_Printf,
    NullStack_Vprintf,
    NullStack_TryPrintf,
    NullStack_TryVprintf,
    NullStack_Strdup,
    NullStack_Strndup,
    NullStack_TryStrdup,
    NullStack_TryStrndup,
    NullStack_Count
};

static void ignore_cleanup(void *object, size_t count)
{
    (void)object;
    (void)count;
}

ParameterizedTestParameters(null_stack, every_out_of_line_function_is_fatal)
{
    static int calls[NullStack_Count];
    return index_params(calls, NullStack_Count);
}

ParameterizedTest(int *call, null_stack, every_out_of_line_function_is_fatal, .signal = SIGABRT)
{
    static const char *const names[NullStack_Count] = {
        "page_stack_reset", "page_stack_zero_dirty", "page_stack_push", "page_stack_push",
        "page_stack_realloc", "page_stack_try_realloc", "page_stack_free_last", "page_stack_push_cleanup",
        "page_stack_mark", "page_stack_pos", "page_stack_holds", "page_stack_trim", "page_stack_stats", "page_stack_last_error",
        "page_stack_check", "page_stack_printf", "page_stack_vprintf", "page_stack_try_printf",
        "page_stack_try_vprintf", "page_stack_strdup", "page_stack_strndup", "page_stack_try_strdup",
        "page_stack_try_strndup",
    };
    unsigned char block[16];
    expect_fatalf("%s: the stack is NULL; pass a stack from page_stack_create", names[*call]);
    switch (*call) {
    case NullStack_Reset: page_stack_reset(NULL); break;
    case NullStack_ZeroDirty: page_stack_zero_dirty(NULL, block, sizeof block); break;
    case NullStack_PushSlow: page_stack_push_slow(NULL, 16, 8, 0); break;
    case NullStack_PushOverflow: page_stack_push_overflow(NULL, 8, PageStackPush_Try); break;
    case NullStack_Realloc: page_stack_realloc(NULL, NULL, 0, 16, 8); break;
    case NullStack_TryRealloc: page_stack_try_realloc(NULL, NULL, 0, 16, 8); break;
    case NullStack_FreeLast: page_stack_free_last(NULL, block, sizeof block); break;
    case NullStack_PushCleanup: page_stack_push_cleanup(NULL, ignore_cleanup, block, 1); break;
    case NullStack_Mark: page_stack_mark(NULL); break;
    case NullStack_Pos: page_stack_pos(NULL); break;
    case NullStack_Holds: page_stack_holds(NULL, block); break;
    case NullStack_Trim: page_stack_trim(NULL, 0); break;
    case NullStack_Stats: page_stack_stats(NULL); break;
    case NullStack_LastError: page_stack_last_error(NULL); break;
    case NullStack_Check: page_stack_check(NULL); break;
    case NullStack_Printf: page_stack_printf(NULL, "%d", 1); break;
    case NullStack_Vprintf: format_line(NULL, "%d", 1); break;
    case NullStack_TryPrintf: page_stack_try_printf(NULL, "%d", 1); break;
    case NullStack_TryVprintf: try_format_line(NULL, "%d", 1); break;
    case NullStack_Strdup: page_stack_strdup(NULL, "s"); break;
    case NullStack_Strndup: page_stack_strndup(NULL, "s", 1); break;
    case NullStack_TryStrdup: page_stack_try_strdup(NULL, "s"); break;
    case NullStack_TryStrndup: page_stack_try_strndup(NULL, "s", 1); break;
    }
    death_not_reached();
}

Test(defaults, flags_no_page_stack_flag_names_are_fatal, .signal = SIGABRT)
{
    expect_fatal("page_stack \"level\": flags 0x11 include bits no PageStackFlag names (0x10); pass "
                 "PageStackFlag_* values");
    page_stack_create(&(PageStackDesc){.name = "level", .flags = PageStackFlag_Prefault | 0x10});
    death_not_reached();
}

/* Over an object elsewhere (here on the C stack, above the page stack's top,
 * which the inline registration leaves to the library) and over one of the
 * stack's own, which it registers itself where fn is not NULL. */
ParameterizedTestParameters(marks, cleanup_without_a_function_is_fatal_when_registered)
{
    static bool own[] = {false, true};
    return cr_make_param_array(bool, own, sizeof own / sizeof own[0]);
}

ParameterizedTest(bool *own, marks, cleanup_without_a_function_is_fatal_when_registered, .signal = SIGABRT)
{
    PageStack *ps = page_stack_create(&(PageStackDesc){.name = "objects"});
    int local = 0, *object = *own ? push_struct(ps, int) : &local;
    expect_fatal("page_stack \"objects\": page_stack_push_cleanup with fn NULL; pass the function to run");
    page_stack_push_cleanup(ps, NULL, object, 1);
    death_not_reached();
}

/* A cleanup over an object that a pop or reset released would run on what
 * the next pushes put in its bytes: fatal when registered. */
enum { ReleasedObject_Pop, ReleasedObject_PopNothingAbove, ReleasedObject_PopToIt, ReleasedObject_Reset,
       ReleasedObject_ResetCount0, ReleasedObject_FirstBlockReset, ReleasedObject_Count };

ParameterizedTestParameters(marks, a_cleanup_over_a_released_object_is_fatal)
{
    static int cases[ReleasedObject_Count];
    return index_params(cases, ReleasedObject_Count);
}

ParameterizedTest(int *how, marks, a_cleanup_over_a_released_object_is_fatal, .signal = SIGABRT)
{
    PageStack *ps = page_stack_create(&(PageStackDesc){.name = "objects"});
    if (*how != ReleasedObject_FirstBlockReset) /* else the object is the stack's first byte */
        page_stack_push(ps, 32, 8);
    PageStackMark m = page_stack_mark(ps);
    if (*how != ReleasedObject_PopToIt && *how != ReleasedObject_FirstBlockReset)
        page_stack_push(ps, 24, 8);
    int *gone = push_array(ps, int, 4);
    if (*how != ReleasedObject_PopNothingAbove)
        page_stack_push(ps, 8, 8);
    if (*how == ReleasedObject_Reset || *how == ReleasedObject_ResetCount0 || *how == ReleasedObject_FirstBlockReset)
        page_stack_reset(ps);
    else
        page_stack_pop_to(m);
    expect_fatalf("page_stack \"objects\": page_stack_push_cleanup over the object at %p, which a pop or reset "
                  "released; register a cleanup over an object that is still pushed",
                  (void *)gone);
    page_stack_push_cleanup(ps, ignore_cleanup, gone, *how == ReleasedObject_ResetCount0 ? 0 : 4);
    death_not_reached();
}

/* What may be registered: a live object of the stack, one elsewhere, an
 * empty block at the top (C++'s push_new_array of 0), nothing at all. */
Test(marks, a_cleanup_over_a_live_object_an_empty_block_or_another_s_is_registered)
{
    PageStack *ps = page_stack_create(&(PageStackDesc){.name = "objects"});
    PageStack *other = page_stack_create(NULL);
    int *live = push_array(ps, int, 4), *theirs = push_array(other, int, 4), mine = 0;
    int *empty = push_array(ps, int, 0);
    cr_assert(page_stack_push_cleanup(ps, ignore_cleanup, live, 4));
    cr_assert(page_stack_push_cleanup(ps, ignore_cleanup, theirs, 4));
    cr_assert(page_stack_push_cleanup(ps, ignore_cleanup, &mine, 1));
    cr_assert(page_stack_push_cleanup(ps, ignore_cleanup, NULL, 0));
    int *empty_last = push_array(ps, int, 0);
    cr_assert(page_stack_push_cleanup(ps, ignore_cleanup, empty_last, 0));
    cr_assert(page_stack_push_cleanup(ps, ignore_cleanup, empty, 0), "an empty block below the top too");
    page_stack_destroy(other);
    page_stack_destroy(ps);
}

typedef struct CleanupLog {
    int runs;
    void *object;
    size_t count;
} CleanupLog;

static CleanupLog cleanup_log; /* a cleanup gets only its object and count */

static void log_cleanup(void *object, size_t count)
{
    cleanup_log.runs++;
    cleanup_log.object = object;
    cleanup_log.count = count;
}

/* free_last of a block pushed after a cleanup record gives the block back and
 * leaves the cleanup to the pop or reset that passes its object; the object
 * itself, with the record after it, is not the last push. */
Test(marks, free_last_above_a_cleanup_leaves_the_cleanup_to_the_reset)
{
    cleanup_log = (CleanupLog){0};
    PageStack *ps = page_stack_create(NULL);
    int *object = page_stack_push(ps, 4 * sizeof(int), alignof(int));
    cr_assert(page_stack_push_cleanup(ps, log_cleanup, object, 4));
    size_t pos = page_stack_pos(ps);
    char *b = page_stack_push(ps, 64, 8);
    cr_assert(page_stack_free_last(ps, b, 64));
    cr_assert_eq(page_stack_pos(ps), pos);
    cr_assert_eq(cleanup_log.runs, 0, "the cleanup's object lies below the freed block");
    cr_assert_not(page_stack_free_last(ps, object, 4 * sizeof(int)), "the record lies after the object");
    cr_assert_eq(cleanup_log.runs, 0);
    char *again = page_stack_push(ps, 64, 8);
    if (!TEST_CHECKED) /* the checked build's top does not go down */
        cr_assert_eq(again, b, "the freed bytes are handed out again");
    page_stack_reset(ps);
    cr_assert_eq(cleanup_log.runs, 1);
    cr_assert_eq(cleanup_log.object, object);
    cr_assert_eq(cleanup_log.count, 4);
    page_stack_destroy(ps);
}

/* A cleanup registered with nothing pushed since a mark (a scope's handle, a
 * file to close) runs when the stack pops to that mark: the pop releases its
 * record. It used to be skipped there, its record left on the list after
 * the pop released it, and the next push wrote over the record: the reset
 * after called whatever the push had written. */
Test(marks, a_cleanup_registered_right_after_a_mark_runs_at_its_pop)
{
    cleanup_log = (CleanupLog){0};
    PageStack *ps = page_stack_create(NULL);
    page_stack_push(ps, 24, 8);
    PageStackMark m = page_stack_mark(ps);
    int handle = 7;
    cr_assert(page_stack_push_cleanup(ps, log_cleanup, &handle, 1));
    page_stack_pop_to(m);
    cr_assert_eq(cleanup_log.runs, 1, "the pop released the record: the cleanup ran");
    cr_assert_eq(cleanup_log.object, &handle);
    cr_assert_eq(page_stack_pos(ps), m.pos);
    memset(page_stack_push(ps, 256, 8), 0x41, 256); /* over where the record was */
    page_stack_reset(ps);
    cr_assert_eq(cleanup_log.runs, 1, "it ran once: the reset found no record");
    page_stack_destroy(ps);
}

/* A cleanup runs when a pop releases its record, and only then: the record
 * ends at the stack's new top, so a pop to a mark taken right after the
 * registration leaves it, and one to a mark taken right before runs it. */
Test(marks, a_cleanup_runs_when_a_pop_releases_its_record_and_not_before)
{
    cleanup_log = (CleanupLog){0};
    PageStack *ps = page_stack_create(NULL);
    int *object = push_array(ps, int, 4);
    PageStackMark before = page_stack_mark(ps);
    cr_assert(page_stack_push_cleanup(ps, log_cleanup, object, 4));
    PageStackMark after = page_stack_mark(ps);
    cr_assert_gt(after.pos, before.pos, "the record is a push");
    push_array(ps, int, 100);
    page_stack_pop_to(after);
    cr_assert_eq(cleanup_log.runs, 0, "the record is still pushed");
    page_stack_pop_to(before);
    cr_assert_eq(cleanup_log.runs, 1);
    cr_assert_eq(cleanup_log.object, object);
    cr_assert_eq(cleanup_log.count, 4);
    page_stack_reset(ps);
    cr_assert_eq(cleanup_log.runs, 1, "once");
    page_stack_destroy(ps);
}

/* On an empty stack the same: a reset and a destroy each run a cleanup
 * registered first thing (test_frame_arena.c and test_scratch.c have the
 * frame's buffer and the scratch scope). */
Test(marks, a_cleanup_registered_on_an_empty_stack_runs_at_reset_and_destroy)
{
    cleanup_log = (CleanupLog){0};
    PageStack *ps = page_stack_create(NULL);
    int handle = 7;
    cr_assert(page_stack_push_cleanup(ps, log_cleanup, &handle, 2));
    page_stack_reset(ps);
    cr_assert_eq(cleanup_log.runs, 1, "reset");
    cr_assert_eq(cleanup_log.count, 2);
    cr_assert(page_stack_push_cleanup(ps, log_cleanup, &handle, 3));
    page_stack_destroy(ps);
    cr_assert_eq(cleanup_log.runs, 2, "destroy");
    cr_assert_eq(cleanup_log.count, 3);
}

/* A cleanup's record is a push of the stack's: a few words, aligned for
 * them, counted, committed on demand (the records here cross the stack's
 * commit steps), and refused like a try push where it does not fit, which
 * registers nothing and leaves the stack as it was. Every record pushed
 * runs once at the reset, newest first. */
static size_t *record_order; /* room for as many records as the stack holds, whatever its page size */
static size_t record_room, records_run;

static void log_record(void *object, size_t count)
{
    (void)object;
    cr_assert_lt(records_run, record_room);
    record_order[records_run++] = count;
}

Test(marks, cleanup_records_are_pushes_across_commits_and_refused_when_full)
{
    size_t page = os_vm_page_size();
    PageStack *ps = page_stack_create(&(PageStackDesc){.reserve_size = 16 * page, .commit_size = page});
    size_t reserved = page_stack_stats(ps).reserved, n = 0;
    records_run = 0;
    record_room = reserved / (5 * sizeof(void *)) + 1; /* a record is five words at least */
    record_order = malloc(record_room * sizeof *record_order);
    cr_assert_not_null(record_order);
    while (page_stack_pos(ps) + 256 <= reserved) {
        size_t size = 1 + 9 * (n % 4); /* odd sizes: the record's start needs aligning */
        char *object = page_stack_push(ps, size, 1);
        memset(object, 0x3C, size);
        PageStackStats before = page_stack_stats(ps);
        cr_assert(page_stack_push_cleanup(ps, log_record, object, n + 1));
        PageStackStats after = page_stack_stats(ps);
        cr_assert_eq(after.pushes, before.pushes + 1, "the record counts as a push");
        cr_assert_gt(after.pos, before.pos);
        cr_assert_leq(after.pos, before.pos + 128, "a record of a few words");
        cr_assert_eq(after.pos % sizeof(void *), 0, "aligned, of whole words: it ends at %zu", after.pos);
        n++;
    }
    cr_assert_gt(page_stack_stats(ps).commits, 8, "the records crossed the commit steps");
    /* 16 bytes left: the object fits, its record does not */
    char *last = page_stack_push(ps, reserved - page_stack_pos(ps) - 16, 1);
    PageStackStats before = page_stack_stats(ps);
    cr_assert_not(page_stack_push_cleanup(ps, log_record, last, 1000000));
    PageStackStats after = page_stack_stats(ps);
    cr_assert_eq(after.pos, before.pos);
    cr_assert_eq(after.committed, before.committed);
    cr_assert_eq(after.pushes, before.pushes);
    cr_assert_eq(after.failed_pushes, before.failed_pushes + 1);
    cr_assert_eq(page_stack_last_error(ps), PageStackError_OutOfReserve);
    cr_assert_eq(records_run, 0);
    page_stack_reset(ps);
    cr_assert_eq(records_run, n, "each record pushed ran once, the refused one not");
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(record_order[i], n - i, "newest first");
    free(record_order);
    page_stack_destroy(ps);
}

/* A cleanup may use its own stack above where the pop running it stops: push
 * (a log line, a buffer), free_last (a pmr container's deallocate), take
 * marks and pop to them, and pop down to that point itself. What it pushed
 * goes with the rest when the pop goes on. */
typedef struct OwnUse {
    PageStack *ps;
    PageStackMark above; /* a mark between the pop's target and the cleanup's record */
    char *line;
    int runs;
} OwnUse;

static OwnUse own_use;

static void cleanup_using_its_stack(void *object, size_t count)
{
    (void)object, (void)count;
    PageStack *ps = own_use.ps;
    own_use.line = page_stack_printf(ps, "closing %d", 3);
    cr_assert_str_eq(own_use.line, "closing 3");
    PageStackMark m = page_stack_mark(ps);
    char *tmp = page_stack_push(ps, 100, 8);
    memset(tmp, 1, 100);
    cr_assert(page_stack_free_last(ps, tmp, 100), "the cleanup's own last push");
    page_stack_push(ps, 40, 8);
    page_stack_pop_to(m);
    page_stack_pop_to(own_use.above);
    own_use.runs++;
}

Test(marks, a_cleanup_may_use_its_stack_above_where_its_pop_stops)
{
    own_use = (OwnUse){0};
    PageStack *ps = own_use.ps = page_stack_create(NULL);
    page_stack_push(ps, 24, 8);
    PageStackMark m = page_stack_mark(ps);
    page_stack_push(ps, 64, 8);
    own_use.above = page_stack_mark(ps);
    page_stack_push(ps, 64, 8);
    cr_assert(page_stack_push_cleanup(ps, cleanup_using_its_stack, NULL, 1));
    page_stack_push(ps, 32, 8);
    page_stack_pop_to(m);
    cr_assert_eq(own_use.runs, 1);
    cr_assert_eq(page_stack_pos(ps), m.pos, "the pop went on to its mark");
    page_stack_check(ps);
    cr_assert(page_stack_push_cleanup(ps, cleanup_using_its_stack, NULL, 1));
    own_use.above = (PageStackMark){ps, 0, page_stack_mark(ps).generation}; /* a reset stops at 0 */
    page_stack_reset(ps);
    cr_assert_eq(own_use.runs, 2);
    cr_assert_eq(page_stack_pos(ps), 0);
    page_stack_destroy(ps);
}

/* A cleanup that resets its stack, pops it below where the pop running it
 * stops, or destroys it is fatal, one line naming the call: each would
 * release the records that pop is still walking, or undo it. */
enum { FromCleanup_ResetInPop, FromCleanup_PopBelow, FromCleanup_ResetInReset, FromCleanup_DestroyInPop,
       FromCleanup_Count };
static int from_cleanup_how;
static PageStackMark from_cleanup_bottom;

static void cleanup_misusing_its_stack(void *object, size_t count)
{
    (void)count;
    PageStack *ps = object;
    switch (from_cleanup_how) {
    case FromCleanup_ResetInPop:
    case FromCleanup_ResetInReset: page_stack_reset(ps); break;
    case FromCleanup_PopBelow: page_stack_pop_to(from_cleanup_bottom); break;
    case FromCleanup_DestroyInPop: page_stack_destroy(ps); break;
    }
}

ParameterizedTestParameters(marks, a_cleanup_that_resets_or_pops_below_its_pop_is_fatal)
{
    static int cases[FromCleanup_Count];
    return index_params(cases, FromCleanup_Count);
}

ParameterizedTest(int *how, marks, a_cleanup_that_resets_or_pops_below_its_pop_is_fatal, .signal = SIGABRT)
{
    from_cleanup_how = *how;
    PageStack *ps = page_stack_create(&(PageStackDesc){.name = "scoped"});
    from_cleanup_bottom = page_stack_mark(ps);
    page_stack_push(ps, 16, 8);
    PageStackMark m = page_stack_mark(ps);
    page_stack_push_cleanup(ps, cleanup_misusing_its_stack, ps, 1);
    switch (*how) {
    case FromCleanup_ResetInPop:
        expect_fatal("page_stack \"scoped\": page_stack_reset from one of the stack's own cleanups; a cleanup may "
                     "push, free_last and pop down to 16, where the pop or reset running it stops, not reset the "
                     "stack");
        break;
    case FromCleanup_PopBelow:
        expect_fatal("page_stack \"scoped\": page_stack_pop_to from one of the stack's own cleanups would take it "
                     "to 0, below 16 where the pop running the cleanup stops");
        break;
    case FromCleanup_ResetInReset:
        expect_fatal("page_stack \"scoped\": page_stack_reset from one of the stack's own cleanups; a cleanup may "
                     "push, free_last and pop down to 0");
        break;
    case FromCleanup_DestroyInPop:
        expect_fatal("page_stack \"scoped\": page_stack_destroy from one of the stack's own cleanups; destroy it "
                     "once the pop or reset running the cleanup has returned");
        break;
    }
    if (*how == FromCleanup_ResetInReset)
        page_stack_reset(ps);
    else
        page_stack_pop_to(m);
    death_not_reached();
}

/* Outside the checked build the inline push does not test for NULL (it
 * would cost every push): it faults on the stack's first field. Under UBSan
 * the sanitizer reports the member access first and aborts. (The checked
 * build stops with one line: test_checked.c.) */
#if !TEST_CHECKED
#if TEST_UBSAN
#define NULL_PUSH_SIGNAL SIGABRT
#else
#define NULL_PUSH_SIGNAL SIGSEGV
#endif
/* Under UBSan the null member access is its report, which aborts; elsewhere it faults. */
static void expect_null_access(void)
{
    if (TEST_UBSAN)
        expect_abort_output("runtime error: member access within null pointer of type 'struct PageStack'", false);
    else
        expect_fault();
}

Test(null_stack, inline_push_faults, .signal = NULL_PUSH_SIGNAL)
{
    PageStack *volatile none = NULL;
    expect_null_access();
    page_stack_push(none, 16, 8);
    death_not_reached();
}

Test(null_stack, inline_push_copy_faults, .signal = NULL_PUSH_SIGNAL)
{
    PageStack *volatile none = NULL;
    static const char bytes[16];
    expect_null_access();
    page_stack_push_copy(none, bytes, sizeof bytes, 8);
    death_not_reached();
}
#endif

/* ---------------------------------------------------------------- trim and guard */

#if !TEST_CHECKED /* exact commits: plain build only */
Test(trim, decommits_above_max_of_pos_keep_and_initial_commit)
{
    const size_t step = 64 * KiB;
    PageStack *ps = page_stack_create(&(PageStackDesc){.initial_commit = 2 * step});
    unsigned char *p = page_stack_push(ps, 10 * step, 1);
    memset(p, 0x5A, 10 * step);
    page_stack_reset(ps);
    page_stack_push(ps, step + 1, 1);
    page_stack_trim(ps, 0);
    PageStackStats st = page_stack_stats(ps);
    cr_assert_eq(st.committed, 2 * step, "pos rounds up to two steps");
    cr_assert_eq(st.decommits, 1);
    page_stack_trim(ps, 5 * step); /* nothing above 5 steps committed that is not already gone */
    cr_assert_eq(page_stack_stats(ps).committed, 2 * step);
    cr_assert_eq(page_stack_stats(ps).decommits, 1);
    page_stack_reset(ps);
    page_stack_trim(ps, 0);
    cr_assert_eq(page_stack_stats(ps).committed, 2 * step, "never below initial_commit");
    /* Recommitted pages read as zero, and push_zero does not need to know. */
    unsigned char *q = page_stack_push(ps, 10 * step, 1);
    cr_assert_eq(q, p);
    memcheck_quiet_begin(); /* bytes the push did not write */
    cr_assert_eq(q[3 * step], 0);
    cr_assert_eq(q[10 * step - 1], 0);
    cr_assert_eq(q[step], 0x5A, "kept pages keep their bytes");
    memcheck_quiet_end();
    page_stack_destroy(ps);
}
#endif

/* A keep at or beyond the reservation keeps everything committed. */
Test(trim, a_keep_beyond_the_reservation_decommits_nothing)
{
    PageStack *ps = page_stack_create(&(PageStackDesc){.reserve_size = MiB, .commit_size = 64 * KiB});
    unsigned char *p = page_stack_push(ps, 300 * KiB, 1);
    memset(p, 0x5A, 300 * KiB);
    page_stack_reset(ps);
    PageStackStats before = page_stack_stats(ps);
    page_stack_trim(ps, SIZE_MAX);
    page_stack_trim(ps, before.reserved + 1);
    page_stack_trim(ps, before.reserved);
    PageStackStats after = page_stack_stats(ps);
    cr_assert_eq(after.committed, before.committed);
    cr_assert_eq(after.decommits, before.decommits);
    unsigned char *q = page_stack_push(ps, 300 * KiB, 1);
    q[0] = q[300 * KiB - 1] = 1;
    if (!TEST_CHECKED) /* the checked build moves to another region at the reset */
        cr_assert_eq(page_stack_stats(ps).commits, before.commits, "the same pages, still committed");
    page_stack_destroy(ps);
}

/* Pages committed on an earlier frame and still committed: a trim keeps
 * what it is asked to keep, even above what is in use, and frees what lies
 * above both. In the checked build the resets move through the regions
 * and back, so the pages are the current region's own from its last turn,
 * and it keeps them up to its physical top (pops do not move that down). */
Test(trim, pages_from_an_earlier_frame_are_kept_to_keep_and_freed_above_it)
{
    const size_t step = 64 * KiB;
    PageStack *ps = page_stack_create(&(PageStackDesc){.commit_size = step, .quarantine = 1});
    unsigned char *p = page_stack_push(ps, 2 * MiB, 1);
    memset(p, 0x5A, 2 * MiB);
    page_stack_reset(ps); /* checked: to the second region */
    page_stack_reset(ps); /* and back to the first, with its 2 MiB still committed */
    page_stack_push(ps, 100 * KiB, 1);
    page_stack_trim(ps, MiB);
    cr_assert_eq(page_stack_stats(ps).committed, MiB, "a trim keeps keep bytes, above pos");
    PageStackMark m = page_stack_mark(ps);
    p = page_stack_push(ps, 200 * KiB, 1);
    memset(p, 0x5A, 200 * KiB);
    page_stack_pop_to(m);
    page_stack_trim(ps, 0);
    size_t committed = page_stack_stats(ps).committed;
    cr_assert_geq(committed, 128 * KiB, "the 100 KiB in use stay committed");
    cr_assert_lt(committed, MiB, "the pages above what was pushed are freed (%zu KiB kept)", committed / KiB);
    page_stack_destroy(ps);
}

/* A game that trims after every frame to a keep that holds the frame: the
 * trims give nothing back, and the frames commit nothing, once the stack
 * has its pages. In the checked build each frame of 4,000 pushes of 8
 * bytes takes two steps with its redzones, though its pos of 32,000 bytes
 * fits in the one step kept: a trim there spares a region the pages of its
 * last use when that use's pos fitted in keep. Until 2026-12-06 it took
 * every region down to the one step, the one just reset to included, and
 * the next frame there committed the second step again. A frame of 8,192
 * such pushes fills keep exactly (its pos is 65,536 bytes, and with its
 * redzones it takes four steps): it fits too. */
Test(trim, after_every_frame_to_a_keep_that_holds_the_frame_gives_nothing_back)
{
    const size_t step = 64 * KiB;
    static const int pushes[] = {4000, 8192};
    for (size_t k = 0; k < sizeof pushes / sizeof *pushes; k++) {
        PageStack *ps = page_stack_create(&(PageStackDesc){.commit_size = step, .quarantine = 2});
        uint64_t commits = 0, decommits = 0;
        for (int f = 0; f < 30; f++) {
            if (f == 10) { /* every region has had its frames */
                commits = page_stack_stats(ps).commits;
                decommits = page_stack_stats(ps).decommits;
            }
            for (int i = 0; i < pushes[k]; i++)
                *(uint64_t *)page_stack_push(ps, 8, 8) = (uint64_t)i;
            cr_assert_leq(page_stack_pos(ps), step, "the frame fits in keep");
            page_stack_reset(ps);
            page_stack_trim(ps, step);
        }
        PageStackStats st = page_stack_stats(ps);
        cr_assert_eq(st.commits, commits, "%d pushes a frame: frames 10 to 29 committed %llu times", pushes[k],
                     (unsigned long long)(st.commits - commits));
        cr_assert_eq(st.decommits, decommits, "%d pushes a frame: trims 10 to 29 gave pages back %llu times",
                     pushes[k], (unsigned long long)(st.decommits - decommits));
        page_stack_destroy(ps);
    }
}

/* The same trim after a frame that did not fit in keep gives its pages back
 * down to keep: in the checked build from the region in quarantine that
 * the frame used. */
Test(trim, after_a_frame_larger_than_keep_gives_its_pages_back)
{
    const size_t step = 64 * KiB;
    PageStack *ps = page_stack_create(&(PageStackDesc){.commit_size = step, .quarantine = 2});
    unsigned char *p = page_stack_push(ps, MiB, 1);
    memset(p, 0x5A, MiB);
    page_stack_reset(ps);
    page_stack_trim(ps, step);
    PageStackStats st = page_stack_stats(ps);
    cr_assert_leq(st.committed, 3 * step, "the frame's MiB went back to keep (%zu KiB kept)", st.committed / KiB);
    cr_assert_eq(st.decommits, 1);
    page_stack_destroy(ps);
}

Test(trim, trimmed_pages_are_inaccessible, .signal = SIGSEGV)
{
    PageStack *ps = page_stack_create(NULL);
    volatile unsigned char *p = page_stack_push(ps, MiB, 1);
    page_stack_reset(ps);
    page_stack_trim(ps, 0);
    expect_fault();
    p[100] = 1;
    death_not_reached();
}

Test(guard, write_into_reserved_but_uncommitted_space_faults, .signal = SIGSEGV)
{
    PageStack *ps = page_stack_create(NULL);
    volatile unsigned char *p = page_stack_push(ps, 1, 1);
    size_t committed = page_stack_stats(ps).committed;
    expect_fault();
    p[committed] = 1;
    death_not_reached();
}

Test(guard, write_below_the_first_block_faults, .signal = SIGSEGV)
{
    PageStack *ps = page_stack_create(NULL);
    volatile unsigned char *p = page_stack_push(ps, 16, 1); /* the first block: at the start of the usable range */
    expect_fault();
    p[-1] = 1; /* the guard page between the stack's header and its memory */
    death_not_reached();
}

Test(guard, the_header_comes_first_a_guard_page_away)
{
    /* Before the usable range, so its page-table entries sit next to those
     * of the first pages; the page between faults (the test above). */
    PageStack *ps = page_stack_create(NULL);
    unsigned char *first = page_stack_push(ps, 1, 1);
    cr_assert_lt((uintptr_t)ps, (uintptr_t)first, "the header comes before the usable range");
    cr_assert_geq((uintptr_t)first - (uintptr_t)ps, 2 * os_vm_page_size(),
                  "a whole guard page lies between the header and the first block");
    page_stack_destroy(ps);
}

#if !TEST_CHECKED /* exact commits: plain build only */
Test(guard, write_past_the_end_of_the_reservation_faults, .signal = SIGSEGV)
{
    PageStack *ps = page_stack_create(&(PageStackDesc){.reserve_size = 64 * KiB});
    volatile unsigned char *p = page_stack_push(ps, 64 * KiB, 1);
    expect_fault();
    p[64 * KiB] = 1;
    death_not_reached();
}
#endif

/* A destroyed stack's handle is dead, as a pointer after free is: its
 * header went back to the OS with the rest of the reservation, so any use
 * (a push, a reset, a second destroy) faults while nothing has mapped the
 * address again, and so does a write to a block it handed out. */
enum { Destroyed_Push, Destroyed_Reset, Destroyed_DestroyAgain, Destroyed_WriteBlock, Destroyed_Count };

ParameterizedTestParameters(guard, a_destroyed_stack_and_its_blocks_fault)
{
    static int cases[Destroyed_Count];
    return index_params(cases, Destroyed_Count);
}

ParameterizedTest(int *how, guard, a_destroyed_stack_and_its_blocks_fault, .signal = SIGSEGV)
{
    PageStack *ps = page_stack_create(NULL);
    volatile unsigned char *p = page_stack_push(ps, 64, 8);
    page_stack_destroy(ps);
    expect_fault();
    switch (*how) {
    case Destroyed_Push: page_stack_push(ps, 64, 8); break;
    case Destroyed_Reset: page_stack_reset(ps); break;
    case Destroyed_DestroyAgain: page_stack_destroy(ps); break;
    case Destroyed_WriteBlock: p[0] = 1; break;
    }
    death_not_reached();
}

/* ---------------------------------------------------------------- stats */

Test(stats, pushes_count_every_call_that_returned_memory)
{
    PageStack *ps = page_stack_create(NULL);
    page_stack_push(ps, 1, 1);
    page_stack_push_zero(ps, 1, 1);
    page_stack_try_push(ps, 1, 1);
    (void)push_struct(ps, double);
    (void)push_array(ps, int, 4);
    (void)push_array_no_zero(ps, int, 4);
    (void)try_push_array(ps, int, 4);
    void *p = page_stack_realloc(ps, NULL, 0, 4, 4);
    page_stack_realloc(ps, p, 4, 8, 4);
    PageStackStats st = page_stack_stats(ps);
    cr_assert_eq(st.pushes, 9);
    cr_assert_eq(st.failed_pushes, 0);
    page_stack_destroy(ps);
}

Test(stats, peak_is_the_highest_pos_since_create)
{
    PageStack *ps = page_stack_create(NULL);
    page_stack_push(ps, 5000, 1);
    page_stack_reset(ps);
    page_stack_push(ps, 100, 1);
    PageStackStats st = page_stack_stats(ps);
    cr_assert_eq(st.peak, 5000);
    cr_assert_eq(st.pos, 100);
    page_stack_push(ps, 9000, 1);
    cr_assert_eq(page_stack_stats(ps).peak, 9100);
    page_stack_destroy(ps);
}

/* ---------------------------------------------------------------- sanitizer poisoning */

#if TEST_ASAN
Test(poison, read_after_reset_is_reported, .signal = SIGABRT)
{
    PageStack *ps = page_stack_create(NULL);
    volatile int *p = push_array(ps, int, 16);
    p[3] = 42;
    page_stack_reset(ps);
    expect_abort_output("use-after-poison", false);
    int x = p[3];
    (void)x;
    death_not_reached();
}

Test(poison, read_after_pop_is_reported, .signal = SIGABRT)
{
    PageStack *ps = page_stack_create(NULL);
    PageStackMark m = page_stack_mark(ps);
    volatile char *p = page_stack_push(ps, 100, 1);
    page_stack_pop_to(m);
    expect_abort_output("use-after-poison", false);
    char c = p[0];
    (void)c;
    death_not_reached();
}

Test(poison, read_past_a_push_is_reported, .signal = SIGABRT)
{
    PageStack *ps = page_stack_create(NULL);
    volatile char *p = page_stack_push(ps, 13, 1);
    expect_abort_output("use-after-poison", false);
    char c = p[13];
    (void)c;
    death_not_reached();
}
#elif !TEST_CHECKED /* the checked build fills what a reset releases (test_checked.c) */
Test(poison, release_build_keeps_reset_memory_committed_and_readable)
{
    PageStack *ps = page_stack_create(NULL);
    int *p = push_array(ps, int, 16);
    p[3] = 42;
    page_stack_reset(ps);
    memcheck_quiet_begin(); /* a released block */
    cr_assert_eq(p[3], 42, "reset is O(1): nothing is cleared or decommitted");
    memcheck_quiet_end();
    page_stack_destroy(ps);
}
#endif
