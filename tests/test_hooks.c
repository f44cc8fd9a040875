/* Tool hooks: on_push, on_pop, on_reset, on_frame, and their mapping to
 * Tracy's C API (through a recording stand-in for TracyC.h). */
#include "support.h"

#include "frame_arena.h"

#define FRAME_ARENA_TRACY
#include "frame_arena_tracy.h"

#include <threads.h>

typedef struct Events {
    int pushes, pops, resets, frames;
    size_t last_size, last_pop_pos, bytes;
    void *last_ptr;
    FrameSample last_sample;
} Events;

static void record_push(PageStack *ps, void *ptr, size_t size, void *user)
{
    Events *e = user;
    (void)ps;
    e->pushes++;
    e->last_ptr = ptr;
    e->last_size = size;
    e->bytes += size;
}

static void record_pop(PageStack *ps, size_t pos, void *user)
{
    (void)ps;
    ((Events *)user)->pops++;
    ((Events *)user)->last_pop_pos = pos;
}

static void record_reset(PageStack *ps, void *user)
{
    (void)ps;
    ((Events *)user)->resets++;
}

static void record_frame(FrameArena *fa, const FrameSample *sample, void *user)
{
    (void)fa;
    ((Events *)user)->frames++;
    ((Events *)user)->last_sample = *sample;
}

Test(hooks, every_push_pop_and_reset_is_reported)
{
    Events e = {0};
    PageStack *ps = page_stack_create(
        &(PageStackDesc){.on_push = record_push, .on_pop = record_pop, .on_reset = record_reset, .user = &e});
    void *a = page_stack_push(ps, 100, 16);
    cr_assert_eq(e.pushes, 1);
    cr_assert_eq(e.last_ptr, a);
    cr_assert_eq(e.last_size, 100);
    int *arr = push_array(ps, int, 10);
    cr_assert_eq(e.last_ptr, arr, "the inline macros report too");
    PageStackMark m = page_stack_mark(ps);
    page_stack_try_push(ps, 7, 1);
    page_stack_pop_to(m);
    cr_assert_eq(e.pops, 1);
    cr_assert_eq(e.last_pop_pos, m.pos);
    page_stack_pop_to(m);
    cr_assert_eq(e.pops, 1, "a pop that releases nothing is not an event");
    char *r = page_stack_realloc(ps, arr, 40, 80, 4);
    cr_assert_eq(r, (char *)arr);
    cr_assert_eq(e.pops, 2, "an in-place resize is a pop ...");
    cr_assert_eq(e.last_size, 80, "... and a push");
    cr_assert(page_stack_free_last(ps, r, 80));
    cr_assert_eq(e.pops, 3);
    cr_assert_null(page_stack_try_push(ps, SIZE_MAX, 1));
    cr_assert_eq(e.pushes, 4, "failures are not pushes");
    page_stack_reset(ps);
    cr_assert_eq(e.resets, 1);
    page_stack_destroy(ps);
    cr_assert_eq(e.resets, 2, "destroy releases everything too");
}

Test(hooks, frame_end_reports_its_sample)
{
    Events e = {0};
    FrameArena *fa = frame_arena_create(&(FrameArenaDesc){.on_frame = record_frame, .user = &e});
    for (int f = 0; f < 5; f++) {
        page_stack_push(frame_arena_begin(fa), 1000 * (size_t)(f + 1), 8);
        frame_arena_end(fa);
        cr_assert_eq(e.frames, f + 1);
        cr_assert_eq(e.last_sample.frame, (uint64_t)f);
        cr_assert_eq(e.last_sample.used, 1000 * (size_t)(f + 1));
    }
    frame_arena_destroy(fa);
}

/* ---------------------------------------------------------------- Tracy mapping */

static struct {
    int allocs, frees, marks;
    size_t live_bytes;
    double last_plot;
    const char *pool;
} tracy;

void stub_tracy_alloc(const void *ptr, size_t size, const char *name)
{
    (void)ptr;
    tracy.allocs++;
    tracy.live_bytes += size;
    tracy.pool = name;
}

void stub_tracy_free(const void *ptr, const char *name)
{
    (void)ptr;
    (void)name;
    tracy.frees++;
}

void stub_tracy_frame_mark(void)
{
    tracy.marks++;
}

void stub_tracy_plot(const char *name, double value)
{
    (void)name;
    tracy.last_plot = value;
}

Test(hooks, tracy_mapping_pairs_every_alloc_with_a_free)
{
    static FrameArenaTracy t = {.name = "frame"};
    FrameArena *fa = frame_arena_create(&(FrameArenaDesc){
        .stack = {.on_push = frame_arena_tracy_on_push, .on_pop = frame_arena_tracy_on_pop,
                  .on_reset = frame_arena_tracy_on_reset, .user = &t},
        .on_frame = frame_arena_tracy_on_frame,
        .user = &t});
    for (int f = 0; f < 10; f++) {
        PageStack *frame = frame_arena_begin(fa);
        for (int i = 0; i < 50; i++)
            page_stack_push(frame, 64, 16);
        PageStackMark m = page_stack_mark(frame);
        for (int i = 0; i < 20; i++)
            page_stack_push(frame, 32, 16);
        page_stack_pop_to(m);
        frame_arena_end(fa);
        cr_assert_eq(tracy.last_plot, 50.0 * 64);
        cr_assert_eq(t.count, (uint32_t)(f == 0 ? 50 : 100), "two frames in flight are live");
    }
    cr_assert_eq(tracy.marks, 10);
    cr_assert_eq(tracy.allocs, 10 * 70);
    cr_assert_eq(tracy.frees, 10 * 70 - 100, "everything but the frames in flight was freed");
    cr_assert_str_eq(tracy.pool, "frame");
    frame_arena_destroy(fa);
    cr_assert_eq(tracy.frees, tracy.allocs, "destroy frees the rest");
    cr_assert_eq(t.count, 0);
    cr_assert_eq(t.dropped, 0);
}

/* Lanes push from several threads at once; the mapping's table is shared
 * by every stack of the arena, so each hook holds its lock. */
#define TRACY_LANES 3
#define TRACY_LANE_PUSHES 6000

typedef struct TracyLaneJob {
    FrameArena *fa;
    uint32_t lane;
} TracyLaneJob;

static int push_in_lane(void *arg)
{
    TracyLaneJob *job = arg;
    PageStack *mine = frame_arena_lane(job->fa, job->lane, 0);
    for (int i = 0; i < TRACY_LANE_PUSHES; i++) {
        page_stack_push(mine, 16, 8);
        if (i % 100 == 99) { /* a scope of 10 pushes, popped: frees from this thread too */
            PageStackMark m = page_stack_mark(mine);
            for (int k = 0; k < 10; k++)
                page_stack_push(mine, 32, 16);
            page_stack_pop_to(m);
        }
    }
    return 0;
}

Test(hooks, tracy_mapping_takes_the_pushes_of_lanes_on_several_threads)
{
    static FrameArenaTracy t = {.name = "lanes"};
    FrameArena *fa = frame_arena_create(&(FrameArenaDesc){
        .lanes = TRACY_LANES,
        .stack = {.on_push = frame_arena_tracy_on_push, .on_pop = frame_arena_tracy_on_pop,
                  .on_reset = frame_arena_tracy_on_reset, .user = &t},
        .on_frame = frame_arena_tracy_on_frame,
        .user = &t});
    const int per_frame = TRACY_LANES * TRACY_LANE_PUSHES, scoped = TRACY_LANES * (TRACY_LANE_PUSHES / 100) * 10;
    for (int f = 0; f < 4; f++) {
        frame_arena_begin(fa);
        TracyLaneJob jobs[TRACY_LANES];
        thrd_t threads[TRACY_LANES];
        for (uint32_t l = 0; l < TRACY_LANES; l++) {
            jobs[l] = (TracyLaneJob){fa, l};
            cr_assert_eq(thrd_create(&threads[l], push_in_lane, &jobs[l]), thrd_success);
        }
        for (uint32_t l = 0; l < TRACY_LANES; l++)
            thrd_join(threads[l], NULL);
        frame_arena_end(fa);
        cr_assert_eq(tracy.allocs, (f + 1) * (per_frame + scoped), "every push was shown");
        cr_assert_eq(t.count, (uint32_t)(f == 0 ? per_frame : 2 * per_frame),
                     "the pushes of the two frames in flight are live, no more, no fewer");
    }
    cr_assert_eq(tracy.marks, 4);
    frame_arena_destroy(fa);
    cr_assert_eq(tracy.frees, tracy.allocs, "every alloc Tracy saw was freed");
    cr_assert_eq(t.count, 0);
    cr_assert_eq(t.dropped, 0);
}
