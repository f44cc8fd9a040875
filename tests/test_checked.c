/* The checked build's own behaviour: quarantine, redzones, monotonic pops,
 * fill patterns, owner thread, scratch scopes at frame end. Built only with
 * -Dchecked=true. */
#include "support.h"

#include "frame_arena.h"
#include "scratch.h"

#include <threads.h>

#if defined(__clang__) || defined(__GNUC__)
#define NO_ASAN __attribute__((no_sanitize_address))
#else
#define NO_ASAN
#endif

/* Reads a byte the checked build has poisoned, to look at its fill. */
NO_ASAN static unsigned char peek(const volatile unsigned char *p)
{
    return *p;
}

Test(checked, reset_quarantines_the_released_range_for_quarantine_resets)
{
    PageStack *ps = page_stack_create(&(PageStackDesc){.quarantine = 2, .reserve_size = 1 << 20});
    uintptr_t first[7];
    for (int i = 0; i < 7; i++) {
        first[i] = (uintptr_t)page_stack_push(ps, 100, 16);
        page_stack_reset(ps);
    }
    cr_assert_neq(first[0], first[1]);
    cr_assert_neq(first[0], first[2]);
    cr_assert_neq(first[1], first[2]);
    cr_assert_eq(first[3], first[0], "the range comes back after quarantine + 1 resets");
    cr_assert_eq(first[6], first[0]);
    cr_assert_eq(page_stack_stats(ps).resets, 7);
    page_stack_destroy(ps);
}

Test(checked, default_quarantine_is_four_resets)
{
    PageStack *ps = page_stack_create(NULL);
    uintptr_t a = (uintptr_t)page_stack_push(ps, 8, 8);
    for (int i = 0; i < 4; i++) {
        page_stack_reset(ps);
        cr_assert_neq((uintptr_t)page_stack_push(ps, 8, 8), a, "reset %d reused the range", i + 1);
    }
    page_stack_reset(ps);
    cr_assert_eq((uintptr_t)page_stack_push(ps, 8, 8), a);
    page_stack_destroy(ps);
}

Test(checked, quarantine_is_at_most_63_resets)
{
    /* 64 address ranges at the most, whatever is asked: the ones above 63 too */
    static const uint32_t asked[] = {62, 63, 64, 1000, UINT32_MAX};
    for (size_t i = 0; i < sizeof asked / sizeof asked[0]; i++) {
        PageStack *ps = page_stack_create(&(PageStackDesc){.quarantine = asked[i], .reserve_size = 64 << 10});
        cr_assert_not_null(ps, "quarantine %u", (unsigned)asked[i]);
        uint32_t want = asked[i] < 63 ? asked[i] : 63;
        uintptr_t first = (uintptr_t)page_stack_push(ps, 100, 16);
        size_t one_region = page_stack_stats(ps).committed;
        for (uint32_t r = 1; r <= want; r++) {
            page_stack_reset(ps);
            cr_assert_neq((uintptr_t)page_stack_push(ps, 100, 16), first, "quarantine %u: reset %u reused the range",
                          (unsigned)asked[i], (unsigned)r);
        }
        /* every range keeps its pages, and the stats count each range once, the last of the 64 too */
        cr_assert_eq(page_stack_stats(ps).committed, (want + 1) * one_region, "quarantine %u: %zu committed",
                     (unsigned)asked[i], page_stack_stats(ps).committed);
        page_stack_reset(ps);
        cr_assert_eq((uintptr_t)page_stack_push(ps, 100, 16), first, "quarantine %u: the range comes back after %u resets",
                      (unsigned)asked[i], (unsigned)want + 1);
        page_stack_destroy(ps);
    }
}

Test(checked, pushes_are_separated_by_redzones_and_pos_stays_logical)
{
    PageStack *ps = page_stack_create(NULL);
    unsigned char *a = page_stack_push(ps, 13, 1);
    unsigned char *b = page_stack_push(ps, 13, 1);
    cr_assert_geq(b - a, 13 + 16);
    cr_assert_eq(page_stack_pos(ps), 26, "redzones are not counted");
    (void)page_stack_push(ps, 0, 8);
    cr_assert_eq(page_stack_pos(ps), 32, "size 0 moves pos by the padding only");
    page_stack_destroy(ps);
}

Test(checked, pop_is_monotonic_until_the_stack_is_empty)
{
    PageStack *ps = page_stack_create(NULL);
    page_stack_push(ps, 8, 8);
    PageStackMark m = page_stack_mark(ps);
    unsigned char *a = page_stack_push(ps, 64, 8);
    page_stack_pop_to(m);
    cr_assert_eq(page_stack_pos(ps), 8);
    unsigned char *b = page_stack_push(ps, 64, 8);
    cr_assert_gt(b, a + 64, "the popped range is not handed out again");
    PageStackMark zero = {ps, 0, m.generation};
    page_stack_pop_to(zero);
    unsigned char *c = page_stack_push(ps, 64, 8);
    cr_assert(c < a || c > b + 64, "an emptied stack moves to another region");
    page_stack_destroy(ps);
}

/* A stack remembers its 64 newest marks; a pop to an older one releases
 * less than it could (up to the oldest it remembers), never the blocks
 * below the mark, which keep their bytes. */
Test(checked, a_pop_to_a_mark_the_stack_forgot_keeps_the_blocks_below_it)
{
    enum { Depth = 80 };
    PageStack *ps = page_stack_create(NULL);
    memset(page_stack_push(ps, 8, 8), 0x11, 8); /* the marks start above the stack's first byte */
    PageStackMark marks[Depth];
    unsigned char *blocks[Depth];
    for (int i = 0; i < Depth; i++) {
        marks[i] = page_stack_mark(ps);
        blocks[i] = page_stack_push(ps, 16, 8);
        memset(blocks[i], i + 1, 16);
    }
    for (int i = Depth - 1; i >= 0; i--) {
        page_stack_pop_to(marks[i]);
        cr_assert_eq(page_stack_pos(ps), marks[i].pos);
        for (int j = 0; j < i; j++)
            cr_assert(blocks[j][0] == j + 1 && blocks[j][15] == j + 1, "block %d after the pop to mark %d", j, i);
    }
    page_stack_check(ps);
    page_stack_destroy(ps);
}

/* The cost of monotonic pops, as README and RELIABILITY give it: a region
 * holds twice the reservation and 64 KiB, so a stack that keeps data at its
 * bottom and cycles more than that through pops runs out (OutOfReserve,
 * nothing moved), where the release build never would; emptying the stack
 * starts a fresh region and ends it. */
Test(checked, pops_that_cycle_twice_the_reservation_run_out_until_the_stack_is_emptied)
{
    const size_t block = 256 * 1024;
    PageStack *ps = page_stack_create(&(PageStackDesc){.reserve_size = 1 << 20});
    page_stack_push(ps, 8, 8); /* kept at the bottom */
    PageStackMark m = page_stack_mark(ps);
    int cycles = 0;
    while (cycles < 100 && page_stack_try_push(ps, block, 8)) {
        page_stack_pop_to(m);
        cycles++;
    }
    cr_assert_eq(cycles, 8, "2 MiB + 64 KiB hold eight 256 KiB blocks and their redzones, not nine");
    cr_assert_eq(page_stack_last_error(ps), PageStackError_OutOfReserve);
    cr_assert_eq(page_stack_pos(ps), 8, "the refused push moved nothing");
    page_stack_pop_to((PageStackMark){ps, 0, m.generation});
    for (int i = 0; i < 8; i++) {
        cr_assert_not_null(page_stack_try_push(ps, block, 8), "a fresh region after the stack was emptied");
        page_stack_pop_to((PageStackMark){ps, 0, m.generation});
    }
    page_stack_destroy(ps);
}

/* A stack whose region is twice its 64 KiB reservation and 64 KiB (192 KiB),
 * its top taken near the region's end by monotonic pops; *base is the
 * region's first byte. */
static PageStack *stack_near_its_region_end(unsigned char **base)
{
    PageStack *ps = page_stack_create(&(PageStackDesc){.reserve_size = 64 * 1024, .commit_size = 64 * 1024});
    *base = page_stack_push(ps, 8, 8);
    PageStackMark m = page_stack_mark(ps);
    for (int i = 0; i < 3; i++) {
        cr_assert_not_null(page_stack_try_push(ps, 60 * 1024, 8));
        page_stack_pop_to(m); /* the top stays: pops are monotonic */
    }
    return ps;
}

/* A block grown in place must keep its redzone inside the region, as a push
 * must: the newest block is grown to fill what is left of the region with
 * and without room for its 16-byte redzone. */
Test(checked, a_block_grown_in_place_keeps_its_redzone_inside_the_region)
{
    unsigned char *base;
    PageStack *ps = stack_near_its_region_end(&base);
    unsigned char *b = page_stack_push(ps, 16, 16);
    size_t room = 192 * 1024 - (size_t)(b - base), pos = page_stack_pos(ps);
    cr_assert_lt(room, 16 * 1024, "the top is near the region's end");
    cr_assert_null(page_stack_try_realloc(ps, b, 16, room - 15, 16), "the block fits, its redzone does not");
    cr_assert_eq(page_stack_last_error(ps), PageStackError_OutOfReserve);
    cr_assert_eq(page_stack_pos(ps), pos, "the refused resize moved nothing");
    cr_assert_eq(page_stack_try_realloc(ps, b, 16, room - 16, 16), b, "the block and its redzone fit");
    memset(b, 0x5A, room - 16);
    page_stack_check(ps); /* the redzone after it is whole */
    page_stack_destroy(ps);
}

/* The same for a push: it must leave room for its redzone in the region. */
Test(checked, a_push_keeps_its_redzone_inside_the_region)
{
    unsigned char *base;
    PageStack *ps = stack_near_its_region_end(&base);
    unsigned char *b = page_stack_push(ps, 16, 16);
    size_t room = 192 * 1024 - (size_t)(b + 16 + 16 - base), pos = page_stack_pos(ps); /* after b and its redzone */
    cr_assert_lt(room, 16 * 1024, "the top is near the region's end");
    cr_assert_null(page_stack_try_push(ps, room - 15, 1), "the block fits, its redzone does not");
    cr_assert_eq(page_stack_last_error(ps), PageStackError_OutOfReserve);
    cr_assert_eq(page_stack_pos(ps), pos, "the refused push moved nothing");
    unsigned char *c = page_stack_try_push(ps, room - 16, 1);
    cr_assert_eq(c, b + 32, "the block and its redzone fit");
    memset(c, 0x5A, room - 16);
    page_stack_check(ps); /* the redzone after it is whole */
    page_stack_destroy(ps);
}

Test(checked, uninitialised_pushes_are_0xCD_and_released_bytes_0xDD)
{
    PageStack *ps = page_stack_create(NULL);
    unsigned char *p = page_stack_push(ps, 32, 8);
    memcheck_quiet_begin(); /* bytes the push did not write: undefined to memcheck */
    for (int i = 0; i < 32; i++)
        cr_assert_eq(p[i], 0xCD);
    memcheck_quiet_end();
    unsigned char *z = page_stack_push_zero(ps, 32, 8);
    for (int i = 0; i < 32; i++)
        cr_assert_eq(z[i], 0);
    memset(p, 0x11, 32);
    page_stack_reset(ps);
    memcheck_quiet_begin(); /* released bytes */
    for (int i = 0; i < 32; i++)
        cr_assert_eq(peek(p + i), 0xDD, "byte %d after reset", i);
    memcheck_quiet_end();
    page_stack_destroy(ps);
}

Test(checked, scratch_scopes_that_empty_the_stack_never_run_out)
{
    for (int i = 0; i < 20000; i++) {
        PageStackMark s = scratch_begin(NULL, 0);
        unsigned char *p = page_stack_push(s.stack, 64 * 1024, 16);
        p[0] = (unsigned char)i;
        scratch_end(s);
    }
    cr_assert_eq(scratch_open_scopes(), 0);
}

typedef struct PushJob {
    PageStack *ps;
    void *result;
} PushJob;

static int push_from_thread(void *arg)
{
    PushJob *job = arg;
    job->result = page_stack_push(job->ps, 16, 8);
    return 0;
}

Test(checked, a_second_thread_pushing_before_a_reset_is_fatal, .signal = SIGABRT)
{
    PageStack *ps = page_stack_create(&(PageStackDesc){.name = "shared"});
    page_stack_push(ps, 16, 8);
    expect_fatal("page_stack \"shared\": pushed to from thread");
    PushJob job = {ps, NULL};
    thrd_t t;
    thrd_create(&t, push_from_thread, &job);
    thrd_join(t, NULL);
    death_not_reached();
}

Test(checked, a_stack_may_change_threads_at_a_reset)
{
    FrameArena *fa = frame_arena_create(&(FrameArenaDesc){.frames_in_flight = 1});
    page_stack_push(frame_arena_begin(fa), 16, 8);
    frame_arena_end(fa);
    PushJob job = {frame_arena_begin(fa), NULL};
    thrd_t t;
    thrd_create(&t, push_from_thread, &job);
    thrd_join(t, NULL);
    cr_assert_not_null(job.result);
    frame_arena_end(fa);
    frame_arena_destroy(fa);
}

Test(checked, frame_end_with_a_scratch_scope_open_is_fatal, .signal = SIGABRT)
{
    FrameArena *fa = frame_arena_create(&(FrameArenaDesc){.name = "game"});
    PageStack *frame = frame_arena_begin(fa);
    PageStackMark tmp = scratch_begin(&frame, 1);
    (void)tmp;
    expect_fatal("frame_arena \"game\": frame_arena_end with 1 scratch scope(s) of this thread still open; end "
                 "scratch scopes before the frame ends");
    frame_arena_end(fa);
    death_not_reached();
}

/* A thread that returns with a scratch scope open missed a scratch_end: its
 * exit stops the program (the stacks would be released all the same). */
static int return_with_a_scope_open(void *arg)
{
    (void)arg;
    PageStackMark a = scratch_begin(NULL, 0);
    PageStackMark b = scratch_begin(&a.stack, 1);
    PageStackMark c = scratch_begin(NULL, 0);
    page_stack_push(b.stack, 64, 8);
    scratch_end(c); /* a and b stay open */
    return 0;
}

Test(checked, a_thread_exiting_with_a_scratch_scope_open_is_fatal, .signal = SIGABRT)
{
    thrd_t t;
    expect_fatal("scratch: a thread exited with 2 scratch scopes still open; scratch_end each scope before the "
                 "thread returns");
    cr_assert_eq(thrd_create(&t, return_with_a_scope_open, NULL), thrd_success);
    thrd_join(t, NULL);
    death_not_reached();
}

static int return_with_every_scope_ended(void *arg)
{
    PageStackMark a = scratch_begin(NULL, 0);
    PageStackMark b = scratch_begin(&a.stack, 1);
    page_stack_push(b.stack, 64, 8);
    scratch_end(b);
    scratch_end(a);
    *(PageStack **)arg = a.stack;
    return 0;
}

Test(checked, a_thread_exiting_with_every_scope_ended_is_fine)
{
    thrd_t t;
    PageStack *stack = NULL;
    cr_assert_eq(thrd_create(&t, return_with_every_scope_ended, &stack), thrd_success);
    cr_assert_eq(thrd_join(t, NULL), thrd_success);
    cr_assert_not_null(stack, "the thread ran");
    cr_assert_eq(scratch_open_scopes(), 0, "another thread's scopes are not this one's");
}

Test(checked, frame_end_after_the_scratch_scope_ended_is_fine)
{
    FrameArena *fa = frame_arena_create(NULL);
    PageStack *frame = frame_arena_begin(fa);
    PageStackMark tmp = scratch_begin(&frame, 1);
    scratch_end(tmp);
    frame_arena_end(fa);
    cr_assert_eq(frame_arena_stats(fa).frames, 1);
    frame_arena_destroy(fa);
}

/* The inline push and its macros, given a NULL stack, stop with the line
 * the out-of-line calls give (a release build faults on the load instead). */
Test(checked, a_null_stack_given_to_the_inline_push_is_fatal, .signal = SIGABRT)
{
    PageStack *volatile none = NULL;
    expect_fatal("page_stack_push: the stack is NULL; pass a stack from page_stack_create");
    push_struct(none, int);
    death_not_reached();
}

Test(checked, a_null_stack_given_to_push_copy_is_fatal, .signal = SIGABRT)
{
    PageStack *volatile none = NULL;
    static const int ints[4];
    expect_fatal("page_stack_push_copy: the stack is NULL; pass a stack from page_stack_create");
    push_array_copy(none, int, ints, 4);
    death_not_reached();
}

/* A job still pushing into its lane after the frame ended races with the
 * main thread reading the frame: the push is fatal, in every lane. */
Test(checked, a_push_to_a_frame_after_its_end_is_fatal, .signal = SIGABRT)
{
    FrameArena *fa = frame_arena_create(&(FrameArenaDesc){.name = "jobs", .lanes = 3});
    for (int f = 0; f < 4; f++) { /* frames 0 to 3 */
        frame_arena_begin(fa);
        for (uint32_t l = 0; l < 3; l++)
            cr_assert_not_null(page_stack_push(frame_arena_lane(fa, l, 0), 16, 8));
        frame_arena_end(fa);
    }
    PushJob late = {frame_arena_lane(fa, 2, 0), NULL};
    expect_fatal("page_stack \"jobs lane 2\": push to the stack of frame 3 after frame_arena_end ended that frame; "
                 "push between frame_arena_begin and frame_arena_end, and wait for every job before the end");
    thrd_t t;
    thrd_create(&t, push_from_thread, &late);
    thrd_join(t, NULL);
    death_not_reached();
}

/* Last frame's stack, still in flight, is there to be read, not pushed to. */
Test(checked, a_push_to_last_frames_stack_is_fatal, .signal = SIGABRT)
{
    FrameArena *fa = frame_arena_create(&(FrameArenaDesc){.name = "game"});
    page_stack_push(frame_arena_begin(fa), 16, 8);
    frame_arena_end(fa);
    frame_arena_begin(fa);
    cr_assert_not_null(page_stack_push(frame_arena_stack(fa, 0), 16, 8), "this frame's stack takes pushes");
    expect_fatal("page_stack \"game\": push to the stack of frame 0 after frame_arena_end ended that frame");
    page_stack_printf(frame_arena_stack(fa, 1), "%d", 1);
    death_not_reached();
}

/* Growing the last block in place is a push too: after the frame's end it
 * is fatal, and so is growing it from a second thread. */
Test(checked, growing_a_block_in_place_after_the_frame_ended_is_fatal, .signal = SIGABRT)
{
    FrameArena *fa = frame_arena_create(&(FrameArenaDesc){.name = "game"});
    PageStack *ps = frame_arena_begin(fa);
    void *list = page_stack_push(ps, 64, 8);
    cr_assert_eq(page_stack_realloc(ps, list, 64, 128, 8), list, "in place, inside the frame");
    frame_arena_end(fa);
    expect_fatal("page_stack \"game\": push to the stack of frame 0 after frame_arena_end ended that frame");
    page_stack_realloc(ps, list, 128, 256, 8);
    death_not_reached();
}

typedef struct GrowJob {
    PageStack *ps;
    void *block;
} GrowJob;

static int grow_from_thread(void *arg)
{
    GrowJob *job = arg;
    page_stack_realloc(job->ps, job->block, 64, 128, 8);
    return 0;
}

Test(checked, growing_a_block_from_a_second_thread_is_fatal, .signal = SIGABRT)
{
    PageStack *ps = page_stack_create(&(PageStackDesc){.name = "shared"});
    GrowJob job = {ps, page_stack_push(ps, 64, 8)};
    expect_fatal("page_stack \"shared\": pushed to from thread");
    thrd_t t;
    thrd_create(&t, grow_from_thread, &job);
    thrd_join(t, NULL);
    death_not_reached();
}

/* The stack takes pushes again once a begin, or a reset by hand, reuses it. */
Test(checked, an_ended_frames_stack_takes_pushes_after_a_reset)
{
    FrameArena *fa = frame_arena_create(&(FrameArenaDesc){.frames_in_flight = 1});
    PageStack *ps = frame_arena_begin(fa);
    frame_arena_end(fa);
    page_stack_reset(ps);
    cr_assert_not_null(page_stack_push(ps, 16, 8), "a reset by hand ends the frame's rule");
    cr_assert_eq(frame_arena_begin(fa), ps);
    cr_assert_not_null(page_stack_push(ps, 16, 8));
    frame_arena_end(fa);
    frame_arena_destroy(fa);
}

/* ------------------------------------------------------------------ the self-check
 * Without AddressSanitizer (which reports these bugs at the bad write), the
 * checked build finds them itself: a write into the redzone after a block
 * when the block is released, a write past the newest block at the reset,
 * a write to released bytes when they are released again or taken up
 * again; and page_stack_check finds all of them at once. */
#if !TEST_ASAN

/* Under valgrind the checked build leaves the self-check off, and memcheck
 * reports these writes itself, at the write (use_after_frame_valgrind proves
 * it). So there the suite's death tests, which expect the self-check's line,
 * are disabled before any runs: a test that skips itself would fail, as
 * Criterion 2.4 judges a skipped test by the signal it expected. */
ReportHook(PRE_ALL)(struct criterion_test_set *set)
{
    if (!TEST_VALGRIND)
        return;
    struct criterion_suite_set *suite;
    FOREACH_SET(suite, set->suites) {
        if (strcmp(suite->suite.name, "self_check") != 0)
            continue;
        struct criterion_test *test;
        FOREACH_SET(test, suite->tests) {
            if (test->data->signal)
                test->data->disabled = true;
        }
    }
}

static PageStack *hud_stack(uint32_t quarantine)
{
    return page_stack_create(&(PageStackDesc){.name = "hud", .quarantine = quarantine, .reserve_size = 1 << 20});
}

/* The message for a write past the block that ends at `end`, push `push`
 * after `resets` resets, found by `fn`, whose first byte written is 0x41. */
static void expect_overflow_found_by(const char *fn, const void *end, int push, int resets)
{
    expect_fatalf("page_stack \"hud\": %s found the block that ends at %p (push %d after %d resets) written past "
                  "its end (the 16 bytes after it read 41 ", fn, end, push, resets);
}

/* The message for a write of 0x42 to the released byte at `at`. */
static void expect_late_write_found_by(const char *fn_and_how, const void *at)
{
    expect_fatalf("page_stack \"hud\": %s, found the byte at %p written after its release (it reads 0x42, not the 0xDD "
                  "it was filled with); a pointer kept past a reset or pop_to was written through", fn_and_how, at);
}

enum {
    Overflow_Reset,
    Overflow_PopTo,
    Overflow_PopToEmpty,
    Overflow_FreeLast,
    Overflow_ReallocGrow,
    Overflow_ReallocShrink,
    Overflow_Destroy,
    Overflow_UnderNewerBlocks,
    Overflow_OneByteOfSixteen,
    Overflow_AfterGrowingInPlace,
    Overflow_Count
};

ParameterizedTestParameters(self_check, a_write_past_a_block_is_found_when_the_block_is_released)
{
    static int cases[Overflow_Count];
    return index_params(cases, Overflow_Count);
}

ParameterizedTest(int *c, self_check, a_write_past_a_block_is_found_when_the_block_is_released,
                  .signal = SIGABRT)
{
    PageStack *ps = hud_stack(0);
    page_stack_reset(ps);
    page_stack_reset(ps);
    PageStackMark outer = page_stack_mark(ps);
    page_stack_push(ps, 40, 8);
    PageStackMark m = page_stack_mark(ps);
    volatile unsigned char *p = page_stack_push(ps, 24, 8); /* push 2 after 2 resets */
    if (*c == Overflow_AfterGrowingInPlace) { /* the block keeps its number */
        cr_assert_eq(page_stack_realloc(ps, (void *)p, 24, 8, 8), p);
        cr_assert_eq(page_stack_realloc(ps, (void *)p, 8, 40, 8), p);
        p[40] = 0x41;
        expect_overflow_found_by("page_stack_reset", (const void *)(p + 40), 2, 2);
        page_stack_reset(ps);
        death_not_reached();
    }
    if (*c == Overflow_OneByteOfSixteen) {
        /* The last byte of the redzone (the message shows the first eight), a
         * byte of its check word, which depends on the address: a fixed value
         * would be the byte already there once in 256 runs, and change nothing. */
        p[24 + 15] ^= 0x41;
        expect_fatal("page_stack \"hud\": page_stack_reset found the block that ends at");
        page_stack_reset(ps);
        death_not_reached();
    }
    p[24] = 0x41;
    if (*c == Overflow_UnderNewerBlocks) { /* its number comes from the next one's redzone: push 3 was popped */
        PageStackMark popped = page_stack_mark(ps);
        page_stack_push(ps, 8, 8);
        page_stack_pop_to(popped);
        for (int i = 0; i < 100; i++)
            page_stack_push(ps, (size_t)i, 1);
    }
    const char *fn = *c == Overflow_PopTo || *c == Overflow_PopToEmpty ? "page_stack_pop_to"
                     : *c == Overflow_FreeLast                         ? "page_stack_free_last"
                     : *c == Overflow_ReallocGrow || *c == Overflow_ReallocShrink ? "page_stack_realloc"
                     : *c == Overflow_Destroy                                       ? "page_stack_destroy"
                                                                                    : "page_stack_reset";
    expect_overflow_found_by(fn, (const void *)(p + 24), 2, 2);
    switch (*c) {
    case Overflow_Reset: page_stack_reset(ps); break;
    case Overflow_PopTo: page_stack_pop_to(m); break;
    case Overflow_PopToEmpty: page_stack_pop_to(outer); break;
    case Overflow_FreeLast: page_stack_free_last(ps, (void *)p, 24); break;
    case Overflow_ReallocGrow: page_stack_realloc(ps, (void *)p, 24, 100, 8); break;
    case Overflow_ReallocShrink: page_stack_realloc(ps, (void *)p, 24, 8, 8); break;
    case Overflow_Destroy: page_stack_destroy(ps); break;
    case Overflow_UnderNewerBlocks: page_stack_reset(ps); break;
    }
    death_not_reached();
}

Test(self_check, a_frame_arena_finds_the_write_at_the_frame_that_reuses_the_stack, .signal = SIGABRT)
{
    FrameArena *fa = frame_arena_create(&(FrameArenaDesc){.name = "game", .frames_in_flight = 2});
    for (int f = 0; f < 2; f++) {
        page_stack_push(frame_arena_begin(fa), 10, 1);
        frame_arena_end(fa);
    }
    PageStack *frame = frame_arena_begin(fa); /* frame 2 */
    page_stack_push(frame, 24, 8);
    volatile unsigned char *p = page_stack_push(frame, 10, 1);
    page_stack_push(frame, 24, 8);
    p[10] = 0x41;
    frame_arena_end(fa);
    frame_arena_begin(fa); /* the other stack */
    frame_arena_end(fa);
    /* named by the frame it was pushed in, not by the stack's resets */
    expect_fatalf("page_stack \"game\": frame_arena_begin found the block that ends at %p (push 2 of frame 2) written "
                  "past its end", (const void *)(p + 10));
    frame_arena_begin(fa);
    death_not_reached();
}

/* A stack reset by hand inside a frame no longer holds only that frame's
 * pushes: its blocks are named by the stack's resets again. */
Test(self_check, a_frame_stack_reset_by_hand_names_blocks_by_resets, .signal = SIGABRT)
{
    FrameArena *fa = frame_arena_create(&(FrameArenaDesc){.name = "game", .frames_in_flight = 1});
    PageStack *frame = frame_arena_begin(fa);
    page_stack_push(frame, 10, 1);
    page_stack_reset(frame);
    volatile unsigned char *p = page_stack_push(frame, 10, 1);
    p[10] = 0x41;
    expect_fatalf("page_stack \"game\": page_stack_check found the block that ends at %p (push 1 after 2 resets) "
                  "written past its end", (const void *)(p + 10));
    frame_arena_check(fa);
    death_not_reached();
}

Test(self_check, a_scratch_scope_finds_the_write_at_its_end, .signal = SIGABRT)
{
    PageStackMark s = scratch_begin(NULL, 0);
    volatile unsigned char *p = page_stack_push(s.stack, 48, 16);
    p[48] = 0x41;
    expect_fatal("page_stack_pop_to found the block that ends at");
    scratch_end(s);
    death_not_reached();
}

enum {
    LateWrite_AfterPop,
    LateWrite_AfterFreeLast,
    LateWrite_AfterShrink,
    LateWrite_AfterInnerPop,
    LateWrite_AfterReset,
    LateWrite_AfterResetAtDestroy,
    LateWrite_AfterPopAtDestroy,
    LateWrite_IntoTheFreedRedzone,
    LateWrite_BesideALaterRelease, /* a second release begins where the first ended: both stay remembered */
    LateWrite_BesideAShrink,       /* or ends where it began: the block below, the last push again, shrunk */
    LateWrite_Count
};

ParameterizedTestParameters(self_check, a_write_after_release_is_found_when_the_bytes_come_round_again)
{
    static int cases[LateWrite_Count];
    return index_params(cases, LateWrite_Count);
}

ParameterizedTest(int *c, self_check, a_write_after_release_is_found_when_the_bytes_come_round_again,
                  .signal = SIGABRT)
{
    PageStack *ps = hud_stack(1);
    page_stack_push(ps, 40, 8);
    PageStackMark outer = page_stack_mark(ps);
    void *below = page_stack_push(ps, 8, 8);
    PageStackMark inner = page_stack_mark(ps);
    volatile unsigned char *p = page_stack_push(ps, 64, 8);
    switch (*c) {
    case LateWrite_AfterPop:
    case LateWrite_AfterPopAtDestroy: page_stack_pop_to(inner); break;
    case LateWrite_AfterFreeLast:
    case LateWrite_IntoTheFreedRedzone: page_stack_free_last(ps, (void *)p, 64); break;
    case LateWrite_AfterShrink: page_stack_realloc(ps, (void *)p, 64, 16, 8); break;
    case LateWrite_AfterInnerPop: page_stack_pop_to(inner); break;
    case LateWrite_AfterReset:
    case LateWrite_AfterResetAtDestroy: page_stack_reset(ps); break;
    case LateWrite_BesideALaterRelease: {
        page_stack_pop_to(inner);
        PageStackMark next = page_stack_mark(ps);
        page_stack_push(ps, 24, 8);
        page_stack_pop_to(next);
        break;
    }
    case LateWrite_BesideAShrink:
        page_stack_pop_to(inner);
        cr_assert_eq(page_stack_realloc(ps, below, 8, 4, 8), below, "shrunk in place");
        break;
    }
    size_t at = *c == LateWrite_IntoTheFreedRedzone ? 64 + 3 : 50;
    p[at] = 0x42;
    switch (*c) {
    case LateWrite_AfterPop:
    case LateWrite_AfterFreeLast:
    case LateWrite_IntoTheFreedRedzone:
    case LateWrite_AfterShrink:
    case LateWrite_BesideALaterRelease:
    case LateWrite_BesideAShrink:
        expect_late_write_found_by("page_stack_reset, releasing it again", (const void *)(p + at));
        page_stack_reset(ps);
        break;
    case LateWrite_AfterInnerPop:
        expect_late_write_found_by("page_stack_pop_to, releasing it again", (const void *)(p + at));
        page_stack_pop_to(outer);
        break;
    case LateWrite_AfterReset: /* quarantine 1: the next reset comes back to these bytes */
        expect_late_write_found_by("page_stack_reset, taking it up again", (const void *)(p + at));
        page_stack_reset(ps);
        break;
    case LateWrite_AfterResetAtDestroy:
        expect_late_write_found_by("page_stack_destroy, checking the quarantine", (const void *)(p + at));
        page_stack_destroy(ps);
        break;
    case LateWrite_AfterPopAtDestroy:
        expect_late_write_found_by("page_stack_destroy, checking what was released", (const void *)(p + at));
        page_stack_destroy(ps);
        break;
    }
    death_not_reached();
}

Test(self_check, a_pointer_kept_across_frames_is_found_when_its_stack_comes_back_to_the_bytes, .signal = SIGABRT)
{
    FrameArena *fa = frame_arena_create(&(FrameArenaDesc){.name = "game", .frames_in_flight = 1});
    volatile unsigned char *kept = page_stack_push(frame_arena_begin(fa), 64, 8);
    frame_arena_end(fa);
    frame_arena_begin(fa);
    kept[0] = 0x42; /* a frame later: the bytes are quarantined, not handed out */
    frame_arena_end(fa);
    /* frame_arena's stacks keep the default quarantine of 4 resets */
    for (int i = 0; i < 3; i++) {
        frame_arena_begin(fa);
        frame_arena_end(fa);
    }
    expect_fatal("frame_arena_begin, taking it up again, found the byte at");
    frame_arena_begin(fa);
    death_not_reached();
}

/* Past the newest block and its redzone no block has been since the region
 * was entered: a write there is found at the reset, by a check, at destroy. */
enum { AboveTop_Fresh, AboveTop_HeldBefore, AboveTop_Check, AboveTop_Destroy, AboveTop_FarInHeldBytes, AboveTop_Count };

ParameterizedTestParameters(self_check, a_write_past_the_newest_block_is_found)
{
    static int cases[AboveTop_Count];
    return index_params(cases, AboveTop_Count);
}

ParameterizedTest(int *c, self_check, a_write_past_the_newest_block_is_found, .signal = SIGABRT)
{
    PageStack *ps = hud_stack(1);
    if (*c == AboveTop_HeldBefore || *c == AboveTop_FarInHeldBytes) { /* 0xDD there now, not 0 */
        page_stack_push(ps, 8192, 8);
        page_stack_reset(ps);
        page_stack_reset(ps);
    }
    volatile unsigned char *p = page_stack_push(ps, 24, 8);
    if (*c == AboveTop_FarInHeldBytes) { /* past what a reset reads: found when the region comes back */
        p[5000] = 0x42;
        page_stack_reset(ps);
        expect_late_write_found_by("page_stack_reset, taking it up again", (const void *)(p + 5000));
        page_stack_reset(ps);
        death_not_reached();
    }
    p[24 + 16 + 50] = 0x42; /* over the redzone, into bytes no block holds */
    const char *fn = *c == AboveTop_Check ? "page_stack_check" : *c == AboveTop_Destroy ? "page_stack_destroy"
                                                                                       : "page_stack_reset";
    expect_fatalf("page_stack \"hud\": %s found the byte at %p, past the newest block, written (it reads 0x42; no "
                  "block has held it since the stack took it up); look for a write beyond the size pushed",
                  fn, (const void *)(p + 24 + 16 + 50));
    switch (*c) {
    case AboveTop_Fresh:
    case AboveTop_HeldBefore: page_stack_reset(ps); break;
    case AboveTop_Check: page_stack_check(ps); break;
    case AboveTop_Destroy: page_stack_destroy(ps); break;
    }
    death_not_reached();
}

/* A stack remembers 16 released ranges between two resets; the oldest is
 * checked when a 17th comes, so a write before that is still found. */
Test(self_check, a_write_to_a_range_the_stack_forgets_is_found_as_it_forgets_it, .signal = SIGABRT)
{
    PageStack *ps = hud_stack(1);
    page_stack_push(ps, 8, 8);
    PageStackMark m = page_stack_mark(ps);
    volatile unsigned char *p = page_stack_push(ps, 64, 8);
    page_stack_pop_to(m);
    p[5] = 0x42;
    for (int i = 0; i < 15; i++) { /* a live block between two releases keeps them apart */
        page_stack_push(ps, 8, 8);
        PageStackMark k = page_stack_mark(ps);
        page_stack_push(ps, 24, 8);
        page_stack_pop_to(k);
    }
    page_stack_push(ps, 8, 8);
    PageStackMark last = page_stack_mark(ps);
    page_stack_push(ps, 24, 8);
    expect_late_write_found_by("page_stack_pop_to, checking what was released", (const void *)(p + 5));
    page_stack_pop_to(last);
    death_not_reached();
}

/* page_stack_check finds each kind of write at once, without releasing anything. */
enum { Check_PastALiveBlock, Check_PoppedBytes, Check_Quarantine, Check_FrameArena, Check_UnderACursor, Check_Count };

ParameterizedTestParameters(self_check, page_stack_check_finds_a_write_without_a_release)
{
    static int cases[Check_Count];
    return index_params(cases, Check_Count);
}

ParameterizedTest(int *c, self_check, page_stack_check_finds_a_write_without_a_release, .signal = SIGABRT)
{
    PageStack *ps = hud_stack(1);
    volatile unsigned char *a = page_stack_push(ps, 30, 2);
    PageStackMark m = page_stack_mark(ps);
    volatile unsigned char *popped = page_stack_push(ps, 64, 8);
    page_stack_pop_to(m);
    page_stack_push(ps, 10, 1);
    switch (*c) {
    case Check_PastALiveBlock:
        a[30] = 0x41;
        expect_overflow_found_by("page_stack_check", (const void *)(a + 30), 1, 0);
        page_stack_check(ps);
        break;
    case Check_PoppedBytes:
        popped[5] = 0x42;
        expect_late_write_found_by("page_stack_check, checking what was released", (const void *)(popped + 5));
        page_stack_check(ps);
        break;
    case Check_Quarantine:
        page_stack_reset(ps);
        a[3] = 0x42;
        expect_late_write_found_by("page_stack_check, checking the quarantine", (const void *)(a + 3));
        page_stack_check(ps);
        break;
    case Check_FrameArena: {
        FrameArena *fa = frame_arena_create(&(FrameArenaDesc){.name = "game", .stack.name = "hud"});
        volatile unsigned char *p = page_stack_push(frame_arena_begin(fa), 12, 4);
        p[12] = 0x41;
        expect_fatalf("page_stack \"hud\": page_stack_check found the block that ends at %p (push 1 of frame 0) "
                      "written past its end (the 16 bytes after it read 41 ", (const void *)(p + 12));
        frame_arena_check(fa);
        break;
    }
    case Check_UnderACursor: { /* every push through a cursor goes out of line here: the stack knows it */
        PageStackCursor cur = page_stack_cursor_begin(ps);
        volatile unsigned char *q = page_stack_cursor_push(&cur, 20, 4);
        page_stack_cursor_push(&cur, 20, 4);
        q[20] = 0x41;
        expect_overflow_found_by("page_stack_check", (const void *)(q + 20), 4, 0);
        page_stack_check(ps);
        break;
    }
    }
    death_not_reached();
}

/* A check forgets nothing: what is written after it is found at the release. */
Test(self_check, a_write_after_a_check_is_found_at_the_release, .signal = SIGABRT)
{
    PageStack *ps = hud_stack(1);
    volatile unsigned char *a = page_stack_push(ps, 30, 2);
    page_stack_push(ps, 10, 1);
    page_stack_check(ps);
    a[30] = 0x41;
    expect_overflow_found_by("page_stack_reset", (const void *)(a + 30), 1, 0);
    page_stack_reset(ps);
    death_not_reached();
}

/* What the stack itself hands out again, or never filled, is no late write. */
Test(self_check, bytes_handed_out_again_are_not_reported)
{
    PageStack *ps = hud_stack(1);
    for (int round = 0; round < 6; round++) {
        /* a shrink, then growth in place over the bytes the shrink released */
        unsigned char *a = page_stack_push(ps, 300, 16);
        memset(a, 1, 300);
        a = page_stack_realloc(ps, a, 300, 20, 16);
        a = page_stack_realloc(ps, a, 20, 1000, 16);
        memset(a, 2, 1000);
        page_stack_reset(ps);
        /* popped back to a block's end, which then grows over the popped bytes */
        a = page_stack_push(ps, 1000, 16);
        PageStackMark m = page_stack_mark(ps);
        memset(page_stack_push(ps, 500, 8), 3, 500);
        page_stack_pop_to(m);
        a = page_stack_realloc(ps, a, 1000, 1600, 16);
        memset(a, 4, 1600);
        page_stack_reset(ps);
        /* more releases than the stack logs */
        for (int i = 0; i < 40; i++) {
            PageStackMark k = page_stack_mark(ps);
            memset(page_stack_push(ps, 24, 8), 5, 24);
            page_stack_pop_to(k);
            memset(page_stack_push(ps, 8, 8), 6, 8);
        }
        page_stack_reset(ps);
        /* more nested marks than the stack remembers */
        PageStackMark marks[80];
        for (int i = 0; i < 80; i++) {
            marks[i] = page_stack_mark(ps);
            memset(page_stack_push(ps, 16, 8), 7, 16);
        }
        for (int i = 79; i >= 0; i--)
            page_stack_pop_to(marks[i]);
        unsigned char *last = page_stack_push(ps, 64, 8);
        memset(last, 8, 64);
        cr_assert(page_stack_free_last(ps, last, 64));
        page_stack_reset(ps);
    }
    page_stack_destroy(ps);
}

Test(self_check, trimmed_quarantine_is_not_reported)
{
    PageStack *ps = page_stack_create(&(PageStackDesc){.quarantine = 2, .reserve_size = 16 << 20});
    for (int round = 0; round < 8; round++) {
        memset(page_stack_push(ps, (size_t)(round % 2 ? 3 : 1) << 20, 16), round, 4096);
        page_stack_reset(ps);
        if (round % 3 == 2)
            page_stack_trim(ps, 0); /* the quarantined regions' pages read zero when committed again */
    }
    page_stack_destroy(ps);
    cr_assert(true, "no report");
}

#endif /* !TEST_ASAN */
