/* Tool hooks: on_push, on_pop, on_reset, on_frame, and their mapping to
 * Tracy's C API (through a recording stand-in for TracyC.h). */
#include "support.h"

#include "frame_arena.h"

#define FRAME_ARENA_TRACY
#include "frame_arena_tracy.h"

#include <setjmp.h>
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
    page_stack_push(ps, 8, 8);
    uint64_t counted = page_stack_stats(ps).pushes;
    cr_assert_eq(page_stack_realloc(ps, a, 100, 50, 16), a);
    cr_assert_eq(e.pushes, 5, "an older block shrunk where it is: no new block to report");
    cr_assert_eq(page_stack_stats(ps).pushes, counted + 1, "though the stats count it");
    page_stack_reset(ps);
    cr_assert_eq(e.resets, 1);
    page_stack_destroy(ps);
    cr_assert_eq(e.resets, 2, "destroy releases everything too");
}

/* A stack with on_pop alone pushes inline, but an in-place realloc is still
 * a pop to it: the inline realloc leaves such a stack to the library. */
static void count_pop(PageStack *ps, size_t pos, void *user)
{
    (void)ps;
    *(size_t *)user = pos + 1;
}

Test(hooks, on_pop_alone_sees_an_in_place_realloc)
{
    size_t popped = 0;
    PageStack *ps = page_stack_create(&(PageStackDesc){.on_pop = count_pop, .user = &popped});
    page_stack_push(ps, 8, 8);
    size_t pos = page_stack_pos(ps);
    char *a = page_stack_push(ps, 40, 8);
    cr_assert_eq(page_stack_realloc(ps, a, 40, 80, 8), a);
    cr_assert_eq(popped, pos + 1, "on_pop saw the block given back at pos %zu", pos);
    page_stack_destroy(ps);
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

/* A hook runs inside the push, pop or reset that called it: it may read its
 * stack and use any other, and the stack is its own again once the hook
 * returns. */
typedef struct Watcher {
    PageStack *log; /* another stack the hooks write to */
    size_t seen_pos, popped_to;
    int calls;
} Watcher;

static void log_push(PageStack *ps, void *ptr, size_t size, void *user)
{
    Watcher *w = user;
    (void)ptr;
    w->seen_pos = page_stack_stats(ps).pos;
    page_stack_check(ps);
    size_t *entry = push_struct(w->log, size_t);
    *entry = size;
    w->calls++;
}

static void log_pop(PageStack *ps, size_t pos, void *user)
{
    Watcher *w = user;
    w->seen_pos = page_stack_pos(ps);
    *push_struct(w->log, size_t) = w->popped_to = pos;
    w->calls++;
}

static void log_reset(PageStack *ps, void *user)
{
    Watcher *w = user;
    w->seen_pos = page_stack_pos(ps);
    page_stack_strdup(w->log, "reset");
    w->calls++;
}

Test(hooks, may_read_their_stack_and_use_another)
{
    Watcher w = {.log = page_stack_create(&(PageStackDesc){.name = "log"})};
    PageStack *ps = page_stack_create(
        &(PageStackDesc){.name = "watched", .on_push = log_push, .on_pop = log_pop, .on_reset = log_reset, .user = &w});
    PageStackMark m = page_stack_mark(ps);
    void *a = page_stack_push(ps, 100, 16);
    cr_assert_not_null(a);
    cr_assert_eq(w.seen_pos, page_stack_pos(ps), "on_push sees the top after the push");
    page_stack_pop_to(m);
    cr_assert_eq(w.popped_to, m.pos, "on_pop ran, and logged where the top went");
    page_stack_push(ps, 40, 8);
    page_stack_reset(ps);
    cr_assert_eq(w.calls, 4, "push, pop, push, reset");
    cr_assert_gt(page_stack_pos(w.log), 0, "the hooks wrote to the other stack");
    /* the stack is its own again: every call the hooks may not make works here */
    PageStackMark again = page_stack_mark(ps);
    cr_assert_not_null(page_stack_push(ps, 64, 8));
    page_stack_pop_to(again);
    PageStackCursor c = page_stack_cursor_begin(ps);
    cr_assert_not_null(page_stack_cursor_push(&c, 16, 8));
    page_stack_cursor_end(&c);
    page_stack_trim(ps, 0);
    page_stack_reset(ps);
    cr_assert_eq(w.calls, 8);
    page_stack_destroy(ps);
    page_stack_destroy(w.log);
}

/* From a hook, a call that would change the stack under the push, pop or
 * reset that called the hook is fatal, naming the call and the hook. */
enum {
    Reentry_PushFromPush,
    Reentry_PushFromPop,
    Reentry_PushFromReset,
    Reentry_ResetFromPush,
    Reentry_PopToFromPop,
    Reentry_MarkFromPush,
    Reentry_TrimFromPop,
    Reentry_CursorFromPush,
    Reentry_DestroyFromReset,
    Reentry_ReallocFromPop,
    Reentry_Count
};

static const struct {
    const char *hook, *call;
} reentries[Reentry_Count] = {
    [Reentry_PushFromPush] = {"on_push", "page_stack_push"},
    [Reentry_PushFromPop] = {"on_pop", "page_stack_push"},
    [Reentry_PushFromReset] = {"on_reset", "page_stack_push"},
    [Reentry_ResetFromPush] = {"on_push", "page_stack_reset"},
    [Reentry_PopToFromPop] = {"on_pop", "page_stack_pop_to"},
    [Reentry_MarkFromPush] = {"on_push", "page_stack_mark"},
    [Reentry_TrimFromPop] = {"on_pop", "page_stack_trim"},
    [Reentry_CursorFromPush] = {"on_push", "page_stack_cursor_begin"},
    [Reentry_DestroyFromReset] = {"on_reset", "page_stack_destroy"},
    [Reentry_ReallocFromPop] = {"on_pop", "page_stack_realloc"},
};

typedef struct Reentry {
    int how;
    bool armed; /* the hooks do nothing while the test sets the stack up */
    PageStackMark mark;
} Reentry;

static void reenter(PageStack *ps, Reentry *r)
{
    if (!r->armed)
        return;
    switch (r->how) {
    case Reentry_PushFromPush:
    case Reentry_PushFromPop:
    case Reentry_PushFromReset: page_stack_push(ps, 16, 8); break;
    case Reentry_ResetFromPush: page_stack_reset(ps); break;
    case Reentry_PopToFromPop: page_stack_pop_to(r->mark); break;
    case Reentry_MarkFromPush: page_stack_mark(ps); break;
    case Reentry_TrimFromPop: page_stack_trim(ps, 0); break;
    case Reentry_CursorFromPush: page_stack_cursor_begin(ps); break;
    case Reentry_DestroyFromReset: page_stack_destroy(ps); break;
    case Reentry_ReallocFromPop: page_stack_realloc(ps, NULL, 0, 16, 8); break;
    }
}

static void reenter_from_push(PageStack *ps, void *ptr, size_t size, void *user)
{
    (void)ptr, (void)size;
    if (!strcmp(reentries[((Reentry *)user)->how].hook, "on_push"))
        reenter(ps, user);
}

static void reenter_from_pop(PageStack *ps, size_t pos, void *user)
{
    (void)pos;
    if (!strcmp(reentries[((Reentry *)user)->how].hook, "on_pop"))
        reenter(ps, user);
}

static void reenter_from_reset(PageStack *ps, void *user)
{
    if (!strcmp(reentries[((Reentry *)user)->how].hook, "on_reset"))
        reenter(ps, user);
}

/* Each case twice: with all three hooks set, and with the reentering hook
 * alone. Without on_push the stack pushes inline, so a push from on_pop or
 * on_reset is stopped only because the hook's call closes the inline push
 * (it used to go through, and the pop under way then dropped its block). */
ParameterizedTestParameters(hooks, calls_into_their_own_stack_are_fatal)
{
    static int cases[2 * Reentry_Count];
    return index_params(cases, 2 * Reentry_Count);
}

ParameterizedTest(int *param, hooks, calls_into_their_own_stack_are_fatal, .signal = SIGABRT)
{
    int how = *param % Reentry_Count;
    bool alone = *param >= Reentry_Count;
    const char *hook = reentries[how].hook;
    Reentry r = {.how = how};
    PageStackDesc desc = {.name = "watched", .on_push = reenter_from_push, .on_pop = reenter_from_pop,
                          .on_reset = reenter_from_reset, .user = &r};
    if (alone) {
        if (strcmp(hook, "on_push"))
            desc.on_push = NULL;
        if (strcmp(hook, "on_pop"))
            desc.on_pop = NULL;
        if (strcmp(hook, "on_reset"))
            desc.on_reset = NULL;
    }
    PageStack *ps = page_stack_create(&desc);
    page_stack_push(ps, 32, 8);
    r.mark = page_stack_mark(ps);
    page_stack_push(ps, 100, 16);
    r.armed = true;
    expect_fatalf("page_stack \"watched\": %s from the stack's own %s hook; a hook may read", reentries[how].call,
                  hook);
    if (!strcmp(hook, "on_push"))
        page_stack_push(ps, 100, 16);
    else if (!strcmp(hook, "on_pop"))
        page_stack_pop_to(r.mark);
    else
        page_stack_reset(ps);
    death_not_reached();
}

/* A hook that returns opens the inline push again where it was: a stack
 * with on_pop and on_reset alone pushes inline before, between and after
 * its hooks, and a zeroing push still finds zeros above a pop's top. */
static void count_hook_pop(PageStack *ps, size_t pos, void *user)
{
    (void)pos;
    cr_assert_eq(ps->end, 0, "the inline push is closed while on_pop runs");
    ++*(int *)user;
}

static void count_hook_reset(PageStack *ps, void *user)
{
    cr_assert_eq(ps->end, 0, "the inline push is closed while on_reset runs");
    ++*(int *)user;
}

Test(hooks, a_hook_that_returns_leaves_the_inline_push_open)
{
    int calls = 0;
    PageStack *ps = page_stack_create(&(PageStackDesc){.reserve_size = 1 << 20, .commit_size = 1 << 16,
                                                       .on_pop = count_hook_pop, .on_reset = count_hook_reset,
                                                       .user = &calls});
    uint8_t *a = page_stack_push(ps, 64, 16);
    cr_assert_not_null(a);
    PageStack *twin = page_stack_create(&(PageStackDesc){.reserve_size = 1 << 20});
    uintptr_t end = ps->end;
    cr_assert_eq(end != 0, twin->end != 0, "a stack without on_push pushes inline where the build does");
    page_stack_destroy(twin);
    PageStackMark m = page_stack_mark(ps);
    memset(page_stack_push(ps, 256, 16), 0xAB, 256);
    page_stack_pop_to(m);
    cr_assert_eq(calls, 1);
    cr_assert_eq(ps->end, end, "the pop's on_pop gave the inline push back");
    uint8_t *z = page_stack_push_zero(ps, 256, 16);
    for (int i = 0; i < 256; i++)
        cr_assert_eq(z[i], 0, "byte %d of a zeroing push over popped bytes", i);
    page_stack_reset(ps);
    cr_assert_eq(calls, 2);
    cr_assert_eq(ps->end, end, "the reset's on_reset gave the inline push back");
    uint64_t pushes = page_stack_stats(ps).pushes;
    cr_assert_not_null(page_stack_push(ps, 32, 8));
    cr_assert_eq(page_stack_stats(ps).pushes, pushes + 1);
    page_stack_destroy(ps);
    cr_assert_eq(calls, 3, "destroy runs on_reset");
}

/* A hook must return. One left by longjmp leaves the push it was called from
 * done and the stack readable, but marked as inside the hook: the next change
 * is fatal, not a change under a hook that may still hold the stack. */
static jmp_buf hook_exit;

static void leave_by_longjmp(PageStack *ps, void *ptr, size_t size, void *user)
{
    (void)ps, (void)ptr, (void)size, (void)user;
    longjmp(hook_exit, 1);
}

Test(hooks, a_hook_left_by_longjmp_leaves_its_stack_refusing_changes, .signal = SIGABRT)
{
    PageStack *ps = page_stack_create(&(PageStackDesc){.name = "jumped", .on_push = leave_by_longjmp});
    void *volatile block = NULL;
    if (!setjmp(hook_exit))
        block = page_stack_push(ps, 48, 16);
    cr_assert_null(block, "the push did not return: its hook jumped out");
    cr_assert_eq(page_stack_pos(ps), 48, "the push was done before its hook ran");
    cr_assert_eq(page_stack_stats(ps).pushes, 1);
    page_stack_check(ps);
    expect_fatal("page_stack \"jumped\": page_stack_push from the stack's own on_push hook");
    page_stack_push(ps, 16, 8);
    death_not_reached();
}

/* ---------------------------------------------------------------- Tracy mapping */

static struct {
    int allocs, frees, marks;
    size_t live_bytes;
    uintptr_t live_sum; /* the addresses allocated less those freed: 0 when each free was of an alloc */
    double last_plot;
    const char *pool;
} tracy;

void stub_tracy_alloc(const void *ptr, size_t size, const char *name)
{
    tracy.live_sum += (uintptr_t)ptr;
    tracy.allocs++;
    tracy.live_bytes += size;
    tracy.pool = name;
}

void stub_tracy_free(const void *ptr, const char *name)
{
    (void)name;
    tracy.live_sum -= (uintptr_t)ptr;
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
    cr_assert_eq(tracy.live_sum, 0, "each free was of an address Tracy was given");
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
    cr_assert_eq(tracy.live_sum, 0, "each free was of an address Tracy was given");
    cr_assert_eq(t.count, 0);
    cr_assert_eq(t.dropped, 0);
}

/* The table holds FRAME_ARENA_TRACY_MAX_LIVE pushes: those beyond it are
 * counted in `dropped` and never shown, so Tracy gets a free for every
 * alloc it saw and for nothing else, and room a pop makes is used again. */
Test(hooks, tracy_mapping_drops_the_pushes_its_table_cannot_hold)
{
    static FrameArenaTracy t = {.name = "full"};
    PageStack *ps = page_stack_create(&(PageStackDesc){
        .name = "full", .on_push = frame_arena_tracy_on_push, .on_pop = frame_arena_tracy_on_pop,
        .on_reset = frame_arena_tracy_on_reset, .user = &t});
    const int max = FRAME_ARENA_TRACY_MAX_LIVE;
    PageStackMark at_10 = {0};
    for (int i = 0; i < max + 5; i++) {
        if (i == 10)
            at_10 = page_stack_mark(ps);
        page_stack_push(ps, 16, 16);
    }
    cr_assert_eq(tracy.allocs, max, "only what the table holds is shown");
    cr_assert_eq(t.count, (uint32_t)max);
    cr_assert_eq(t.dropped, 5);

    page_stack_pop_to(at_10);
    cr_assert_eq(tracy.frees, max - 10, "the shown pushes above the mark are freed, the dropped ones are not");
    cr_assert_eq(t.count, 10);

    for (int i = 0; i < 3; i++)
        page_stack_push(ps, 16, 16);
    cr_assert_eq(tracy.allocs, max + 3, "pushes after the pop are shown again");
    cr_assert_eq(t.dropped, 5, "and none dropped");

    page_stack_reset(ps);
    cr_assert_eq(t.count, 0);
    cr_assert_eq(tracy.frees, tracy.allocs, "every alloc Tracy saw was freed, once");
    cr_assert_eq(tracy.live_sum, 0, "each free was of an address Tracy was given");
    page_stack_destroy(ps);
}

/* ------------------------------------------------------- set_hooks: after a reload of the code */

typedef struct Failures {
    int calls;
    size_t size;
} Failures;

static void count_failure(PageStack *ps, size_t size, size_t align, void *user)
{
    (void)ps, (void)align;
    ((Failures *)user)->calls++;
    ((Failures *)user)->size = size;
}

Test(hooks, set_hooks_replaces_on_fail_the_hooks_and_user)
{
    Events first = {0}, second = {0};
    PageStack *ps = page_stack_create(&(PageStackDesc){.reserve_size = 1 << 20, .on_push = record_push, .user = &first});
    PageStack *twin = page_stack_create(&(PageStackDesc){.reserve_size = 1 << 20}); /* never had hooks */
    page_stack_push(ps, 100, 8);
    page_stack_push(twin, 100, 8);
    cr_assert_eq(first.pushes, 1);
    cr_assert_eq(ps->end, 0, "a stack with on_push pushes out of line");

    page_stack_set_hooks(ps, &(PageStackDesc){.on_push = record_push, .on_pop = record_pop, .on_reset = record_reset,
                                              .user = &second, .reserve_size = 12345 /* not read */});
    PageStackMark m = page_stack_mark(ps);
    void *p = page_stack_push(ps, 64, 16);
    page_stack_pop_to(m);
    page_stack_reset(ps);
    page_stack_reset(twin);
    cr_assert_eq(first.pushes, 1, "the old hooks are not called");
    cr_assert_eq(second.pushes, 1);
    cr_assert_eq(second.last_ptr, p, "the new ones are, with the new user");
    cr_assert_eq(second.pops, 1);
    cr_assert_eq(second.resets, 1);
    cr_assert_eq(page_stack_stats(ps).reserved, page_stack_stats(twin).reserved, "nothing else changed");

    Failures failed = {0};
    page_stack_set_hooks(ps, &(PageStackDesc){.on_fail = count_failure, .user = &failed});
    page_stack_push(ps, 100, 8);
    page_stack_push(twin, 100, 8);
    cr_assert_eq(second.pushes, 1, "hooks left NULL are gone");
    cr_assert_eq((ps->end != 0), (twin->end != 0), "and the inline push is open again where the build has it");
    cr_assert_null(page_stack_push(ps, 2 << 20, 8));
    cr_assert_eq(failed.calls, 1, "the new on_fail is called");
    cr_assert_eq(failed.size, (size_t)2 << 20);
    cr_assert_eq(page_stack_pos(ps), page_stack_pos(twin));
    page_stack_destroy(ps);
    page_stack_destroy(twin);
}

Test(hooks, set_hooks_with_nothing_brings_back_the_default_on_fail, .signal = SIGABRT)
{
    Failures failed = {0};
    PageStack *ps = page_stack_create(
        &(PageStackDesc){.name = "rebound", .reserve_size = 1 << 20, .on_fail = count_failure, .user = &failed});
    page_stack_set_hooks(ps, &(PageStackDesc){0});
    expect_fatal("frame_arena: page_stack \"rebound\": push of 2097152 bytes (align 8) failed: out of reserved "
                 "address space");
    page_stack_push(ps, 2 << 20, 8);
    death_not_reached();
}

static int budget_calls;

static void record_budget(FrameArena *fa, size_t used, void *user)
{
    (void)fa, (void)used, (void)user;
    budget_calls++;
}

Test(hooks, frame_arena_set_hooks_reaches_every_buffer_and_lane)
{
    Events first = {0}, second = {0};
    FrameArena *fa = frame_arena_create(&(FrameArenaDesc){
        .lanes = 2, .budget = 100, .on_frame = record_frame, .on_budget = record_budget, .user = &first,
        .stack = {.on_push = record_push, .user = &first}});
    page_stack_push(frame_arena_begin(fa), 200, 8);
    frame_arena_end(fa);
    cr_assert_eq(first.pushes, 1);
    cr_assert_eq(first.frames, 1);
    cr_assert_eq(budget_calls, 1, "over budget once");

    frame_arena_set_hooks(fa, &(FrameArenaDesc){
        .on_frame = record_frame, .user = &second, .budget = 1 /* not read */,
        .stack = {.on_push = record_push, .on_reset = record_reset, .user = &second}});
    for (int f = 0; f < 2; f++) { /* each slot of the two frames in flight */
        frame_arena_begin(fa);
        for (uint32_t lane = 0; lane < 2; lane++)
            page_stack_push(frame_arena_lane(fa, lane, 0), 200, 8);
        frame_arena_end(fa);
    }
    cr_assert_eq(first.pushes, 1, "the old hooks are not called");
    cr_assert_eq(first.frames, 1);
    cr_assert_eq(second.pushes, 4, "every lane of every buffer calls the new on_push");
    cr_assert_eq(second.resets, 4, "and on_reset");
    cr_assert_eq(second.frames, 2, "on_frame is the new one");
    cr_assert_eq(budget_calls, 1, "no on_budget now: over budget twice, reported nowhere");
    cr_assert_eq(frame_arena_stats(fa).budget_overruns, 3, "though counted");
    frame_arena_destroy(fa);
}

static void set_hooks_misuse(int which)
{
    static PageStack *ps;
    ps = page_stack_create(&(PageStackDesc){.name = "hooked"});
    FrameArena *fa = frame_arena_create(&(FrameArenaDesc){.name = "rehooked", .lanes = 2});
    switch (which) {
    case 0:
        expect_fatal("frame_arena: page_stack \"hooked\": page_stack_set_hooks with desc NULL");
        page_stack_set_hooks(ps, NULL);
        break;
    case 1: {
        PageStackCursor c = page_stack_cursor_begin(ps);
        (void)c;
        expect_fatal("frame_arena: page_stack \"hooked\": page_stack_set_hooks while a cursor is open on it");
        page_stack_set_hooks(ps, &(PageStackDesc){0});
        break;
    }
    case 2:
        expect_fatal("frame_arena: frame_arena \"rehooked\": frame_arena_set_hooks with desc NULL");
        frame_arena_set_hooks(fa, NULL);
        break;
    case 3: {
        frame_arena_begin(fa);
        PageStackCursor c = page_stack_cursor_begin(frame_arena_lane(fa, 1, 0));
        (void)c;
        expect_fatal("frame_arena: page_stack \"rehooked lane 1\": frame_arena_set_hooks while a cursor is open on it");
        frame_arena_set_hooks(fa, &(FrameArenaDesc){0});
        break;
    }
    case 4:
        expect_fatal("frame_arena: frame_arena_set_hooks: the frame arena is NULL");
        frame_arena_set_hooks(NULL, &(FrameArenaDesc){0});
        break;
    case 5:
        expect_fatal("frame_arena: page_stack_set_hooks: the stack is NULL");
        page_stack_set_hooks(NULL, &(PageStackDesc){0});
        break;
    }
    death_not_reached();
}

ParameterizedTestParameters(hooks, set_hooks_misuse_is_fatal)
{
    static int cases[] = {0, 1, 2, 3, 4, 5};
    return cr_make_param_array(int, cases, 6);
}

ParameterizedTest(int *which, hooks, set_hooks_misuse_is_fatal, .signal = SIGABRT)
{
    set_hooks_misuse(*which);
}

static void rehook_from_on_push(PageStack *ps, void *ptr, size_t size, void *user)
{
    (void)ptr, (void)size, (void)user;
    page_stack_set_hooks(ps, &(PageStackDesc){0});
}

Test(hooks, set_hooks_from_the_stacks_own_hook_is_fatal, .signal = SIGABRT)
{
    PageStack *ps = page_stack_create(&(PageStackDesc){.name = "self", .on_push = rehook_from_on_push});
    expect_fatal("frame_arena: page_stack \"self\": page_stack_set_hooks from the stack's own on_push hook");
    page_stack_push(ps, 8, 8);
    death_not_reached();
}

static void rehook_from_on_budget(FrameArena *fa, size_t used, void *user)
{
    (void)used, (void)user;
    frame_arena_set_hooks(fa, &(FrameArenaDesc){0});
}

Test(hooks, frame_arena_set_hooks_from_on_budget_is_fatal, .signal = SIGABRT)
{
    FrameArena *fa = frame_arena_create(&(FrameArenaDesc){.name = "spent", .budget = 1, .on_budget = rehook_from_on_budget});
    page_stack_push(frame_arena_begin(fa), 64, 8);
    expect_fatal("frame_arena: frame_arena \"spent\": frame_arena_set_hooks called from on_budget, inside "
                 "frame_arena_end");
    frame_arena_end(fa);
    death_not_reached();
}

/* The inline push opens and closes with on_push: whichever path a push
 * takes after set_hooks, a zeroing push over used memory is zero, the top
 * moves by what was pushed, and on_push sees each push while it is set. */
Test(hooks, pushes_after_set_hooks_are_right_on_either_path)
{
    Events e = {0};
    PageStack *ps = page_stack_create(&(PageStackDesc){.reserve_size = 1 << 20});
    for (int round = 0; round < 4; round++) {
        PageStackMark m = page_stack_mark(ps);
        memset(page_stack_push(ps, 4096, 16), 0xAB, 4096); /* used memory for the zeroing pushes below */
        page_stack_pop_to(m);
        bool hooked = round % 2 == 0;
        page_stack_set_hooks(ps, &(PageStackDesc){.on_push = hooked ? record_push : NULL, .user = &e});
        int before = e.pushes;
        size_t pos = page_stack_pos(ps);
        unsigned char *z = page_stack_push_zero(ps, 200, 16);
        for (int i = 0; i < 200; i++)
            cr_assert_eq(z[i], 0, "round %d: byte %d of a zeroing push over used memory", round, i);
        uint64_t *v = push_array(ps, uint64_t, 6);
        cr_assert_eq(page_stack_pos(ps), pos + 200 + 48, "round %d: the two blocks, one after the other", round);
        for (int i = 0; i < 6; i++)
            cr_assert_eq(v[i], 0, "round %d: element %d of a zeroed array", round, i);
        cr_assert_eq(e.pushes - before, hooked ? 2 : 0, "round %d: on_push saw what it was set for", round);
        page_stack_pop_to(m);
    }
    page_stack_destroy(ps);
}
