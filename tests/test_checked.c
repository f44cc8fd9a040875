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

Test(checked, uninitialised_pushes_are_0xCD_and_released_bytes_0xDD)
{
    PageStack *ps = page_stack_create(NULL);
    unsigned char *p = page_stack_push(ps, 32, 8);
    for (int i = 0; i < 32; i++)
        cr_assert_eq(p[i], 0xCD);
    unsigned char *z = page_stack_push_zero(ps, 32, 8);
    for (int i = 0; i < 32; i++)
        cr_assert_eq(z[i], 0);
    memset(p, 0x11, 32);
    page_stack_reset(ps);
    for (int i = 0; i < 32; i++)
        cr_assert_eq(peek(p + i), 0xDD, "byte %d after reset", i);
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
