/* frame_arena: rotation, samples, budget, trim policy and misuse. */
#include "support.h"

#include "frame_arena.h"
#include "os_vm.h"
#include "page_stack_owner.h"

#define KiB ((size_t)1 << 10)
#define MiB ((size_t)1 << 20)

/* One frame that pushes `bytes` (and optionally pops part of it, to make the
 * frame's peak differ from its end pos). */
static PageStack *run_frame(FrameArena *fa, size_t bytes)
{
    PageStack *ps = frame_arena_begin(fa);
    if (bytes)
        cr_assert_not_null(page_stack_push(ps, bytes, 16));
    frame_arena_end(fa);
    return ps;
}

Test(defaults, null_desc)
{
    FrameArena *fa = frame_arena_create(NULL);
    cr_assert_not_null(fa);
    cr_assert_null(frame_arena_stack(fa, 0), "no frame happened yet");
    cr_assert_eq(frame_arena_frame(fa), 0);
    PageStack *a = run_frame(fa, 100);
    PageStack *b = run_frame(fa, 100);
    PageStack *c = run_frame(fa, 100);
    cr_assert_neq(a, b, "two buffers by default");
    cr_assert_eq(a, c);
    cr_assert_eq(frame_arena_stack(fa, 1), b);
    cr_assert_null(frame_arena_stack(fa, 2), "only two frames in flight");
    cr_assert_str_eq(a->name, "frame", "buffers take the arena's name");
    for (int i = 0; i < 300; i++)
        run_frame(fa, 10);
    FrameSample samples[400];
    cr_assert_eq(frame_arena_history(fa, samples, 400), 240, "240 samples kept by default");
    FrameArenaStats st = frame_arena_stats(fa);
    cr_assert_eq(st.frames, 303);
    cr_assert_eq(st.budget_overruns, 0, "no budget by default");
    cr_assert_eq(st.reserved, 2 * ((size_t)1 << 30), "each buffer reserves the page_stack default");
    frame_arena_destroy(fa);
}

Test(defaults, zeroed_desc_and_stack_settings_apply_to_each_buffer)
{
    FrameArena *fa = frame_arena_create(&(FrameArenaDesc){
        .name = "render", .frames_in_flight = 3, .stack = {.reserve_size = 4 * MiB, .initial_commit = 128 * KiB}});
    cr_assert_not_null(fa);
    FrameArenaStats st = frame_arena_stats(fa);
    cr_assert_eq(st.reserved, 3 * 4 * MiB);
    cr_assert_eq(st.committed, 3 * 128 * KiB);
    PageStack *ps = frame_arena_begin(fa);
    cr_assert_str_eq(ps->name, "render");
    frame_arena_end(fa);
    frame_arena_destroy(fa);
    frame_arena_destroy(NULL);
    FrameArena *zero = frame_arena_create(&(FrameArenaDesc){0});
    cr_assert_not_null(zero);
    frame_arena_destroy(zero);
}

Test(defaults, failed_reservation_returns_null)
{
    cr_assert_null(frame_arena_create(&(FrameArenaDesc){.stack = {.reserve_size = SIZE_MAX / 2}}));
    /* Count how many page stacks of 40 TiB this address space holds (3 in 47
     * bits in a plain build, fewer beside ASan's shadow or in the checked
     * build); a frame arena with one buffer more cannot be made, and the
     * buffers made before the failure must be given back. */
    const PageStackDesc huge = {.reserve_size = (size_t)40 << 40};
    PageStack *held[5];
    uint32_t fit = 0;
    while (fit < 5 && (held[fit] = page_stack_create(&huge)) != NULL)
        fit++;
    for (uint32_t i = 0; i < fit; i++)
        page_stack_destroy(held[i]);
    if (fit >= 4) /* a larger address space than 47 bits: nothing to prove here */
        return;
    cr_assert_null(frame_arena_create(&(FrameArenaDesc){.frames_in_flight = fit + 1, .stack = huge}));
    cr_assert_eq(page_stack_create_error(), PageStackError_ReserveFailed, "the last buffer's reservation");
    cr_assert_null(frame_arena_create(&(FrameArenaDesc){.frames_in_flight = 1, .lanes = fit + 1, .stack = huge}),
                   "lanes reserve a stack each");
    cr_assert_eq(page_stack_create_error(), PageStackError_ReserveFailed);
    if (fit > 0) {
        FrameArena *fa = frame_arena_create(&(FrameArenaDesc){.frames_in_flight = fit, .stack = huge});
        cr_assert_not_null(fa, "the failed create left its reservations behind");
        frame_arena_destroy(fa);
        fa = frame_arena_create(&(FrameArenaDesc){.frames_in_flight = 1, .lanes = fit, .stack = huge});
        cr_assert_not_null(fa, "the failed create with lanes left its reservations behind");
        frame_arena_destroy(fa);
    }
}

Test(defaults, a_create_that_fails_says_why)
{
    cr_assert_null(frame_arena_create(&(FrameArenaDesc){.stack = {.reserve_size = (size_t)1 << 60}}));
    cr_assert_eq(page_stack_create_error(), PageStackError_ReserveFailed);
    cr_assert_null(frame_arena_create(&(FrameArenaDesc){.stack = {.reserve_size = SIZE_MAX}}));
    cr_assert_eq(page_stack_create_error(), PageStackError_SizeOverflow);
    size_t page = os_vm_page_size(); /* a reservation whose guard page would wrap its mapping */
    cr_assert_null(frame_arena_create(&(FrameArenaDesc){.stack = {.reserve_size = SIZE_MAX - page + 1, .commit_size = page}}));
    cr_assert_eq(page_stack_create_error(), PageStackError_SizeOverflow);
    /* the OS refuses a commit: the arena's own stack's first, then a buffer's */
    for (uint64_t k = 1; k <= 4; k++) {
        os_vm_inject_commit_failure(k);
        cr_assert_null(frame_arena_create(&(FrameArenaDesc){.stack = {.initial_commit = 64 << 10}}), "commit %llu",
                       (unsigned long long)k);
        cr_assert_eq(page_stack_create_error(), PageStackError_CommitFailed, "commit %llu", (unsigned long long)k);
    }
    os_vm_inject_commit_failure(0);
    FrameArena *fa = frame_arena_create(&(FrameArenaDesc){.stack = {.initial_commit = 64 << 10}});
    cr_assert_not_null(fa);
    cr_assert_eq(page_stack_create_error(), PageStackError_None, "an arena that is made clears it");
    frame_arena_destroy(fa);
}

Test(defaults, too_many_frames_in_flight_is_fatal, .signal = SIGABRT)
{
    expect_fatal("frame_arena \"frame\": frames_in_flight 5 is out of range; use 1 to 4");
    frame_arena_create(&(FrameArenaDesc){.frames_in_flight = 5});
    death_not_reached();
}

Test(defaults, too_many_lanes_is_fatal, .signal = SIGABRT)
{
    expect_fatal("frame_arena \"jobs\": lanes 257 is out of range; use 1 to 256 (0 means 1)");
    frame_arena_create(&(FrameArenaDesc){.name = "jobs", .lanes = 257});
    death_not_reached();
}

/* The limits themselves are taken: 4 frames in flight in 256 lanes, each
 * lane's stack in each frame its own, and frame 0's still there 3 frames on. */
Test(defaults, the_most_frames_in_flight_and_lanes_are_taken)
{
    enum { InFlight = 4, Lanes = 256 };
    FrameArena *fa = frame_arena_create(
        &(FrameArenaDesc){.frames_in_flight = InFlight, .lanes = Lanes, .stack = {.reserve_size = 1 * MiB}});
    cr_assert_not_null(fa);
    cr_assert_eq(frame_arena_lanes(fa), Lanes);
    static unsigned char *blocks[InFlight][Lanes];
    for (int f = 0; f < InFlight; f++) {
        frame_arena_begin(fa);
        for (uint32_t l = 0; l < Lanes; l++) {
            blocks[f][l] = page_stack_push(frame_arena_lane(fa, l, 0), 64, 8);
            memset(blocks[f][l], f * 31 + (int)l % 31, 64);
        }
        frame_arena_end(fa);
    }
    for (int f = 0; f < InFlight; f++)
        for (uint32_t l = 0; l < Lanes; l++) {
            PageStack *ps = frame_arena_lane(fa, l, (uint32_t)(InFlight - 1 - f));
            cr_assert_eq(page_stack_stats(ps).pos, 64, "frame %d lane %u holds its one block", f, l);
            cr_assert(blocks[f][l][0] == f * 31 + (int)l % 31 && blocks[f][l][63] == f * 31 + (int)l % 31,
                      "frame %d lane %u keeps its bytes", f, l);
        }
    cr_assert_null(frame_arena_lane(fa, 0, InFlight), "frame -1 is not kept");
    frame_arena_destroy(fa);
}

Test(rotation, each_frame_resets_only_the_buffer_it_reuses)
{
    FrameArena *fa = frame_arena_create(&(FrameArenaDesc){.frames_in_flight = 3});
    int *data[8];
    PageStack *stacks[8];
    for (int f = 0; f < 8; f++) {
        stacks[f] = frame_arena_begin(fa);
        cr_assert_eq(frame_arena_frame(fa), (uint64_t)f);
        cr_assert_eq(frame_arena_stack(fa, 0), stacks[f]);
        cr_assert_eq(page_stack_pos(stacks[f]), 0, "begin resets the reused buffer");
        data[f] = push_array(stacks[f], int, 1000);
        for (int i = 0; i < 1000; i++)
            data[f][i] = f * 1000 + i;
        /* The two previous frames are still intact and reachable. */
        for (int back = 1; back <= 2 && back <= f; back++) {
            cr_assert_eq(frame_arena_stack(fa, (uint32_t)back), stacks[f - back]);
            cr_assert_eq(page_stack_pos(stacks[f - back]), 1000 * sizeof(int));
            for (int i = 0; i < 1000; i++)
                cr_assert_eq(data[f - back][i], (f - back) * 1000 + i);
        }
        if (f >= 3)
            cr_assert_eq(stacks[f], stacks[f - 3], "buffers rotate by frame number");
        cr_assert_null(frame_arena_stack(fa, 3));
        frame_arena_end(fa);
        cr_assert_eq(frame_arena_stack(fa, 0), stacks[f], "between end and begin, 0 is the frame just ended");
    }
    frame_arena_destroy(fa);
}

Test(rotation, previous_frame_stays_valid_with_two_buffers)
{
    FrameArena *fa = frame_arena_create(NULL);
    PageStack *ps = frame_arena_begin(fa);
    char *msg = page_stack_push(ps, 32, 1);
    strcpy(msg, "left from frame 0");
    frame_arena_end(fa);
    cr_assert_null(frame_arena_stack(fa, 1), "frame -1 never happened");
    PageStack *now = frame_arena_begin(fa);
    cr_assert_neq(now, ps);
    cr_assert_eq(frame_arena_stack(fa, 1), ps);
    cr_assert_str_eq(msg, "left from frame 0");
    char *more = page_stack_push(now, 1 * MiB, 1);
    memset(more, 0, MiB);
    cr_assert_str_eq(msg, "left from frame 0");
    frame_arena_end(fa);
    frame_arena_destroy(fa);
}

/* A cleanup registered first thing in a frame, in any lane, runs when its
 * buffer is next reset, frames_in_flight frames later, and not before. */
Test(rotation, a_cleanup_registered_first_in_a_frame_runs_when_its_buffer_is_reused)
{
    cleanups_run = 0;
    FrameArena *fa = frame_arena_create(&(FrameArenaDesc){.lanes = 2});
    PageStack *frame = frame_arena_begin(fa);
    cr_assert(page_stack_push_cleanup(frame, count_cleanup, NULL, 1));
    cr_assert(page_stack_push_cleanup(frame_arena_lane(fa, 1, 0), count_cleanup, NULL, 10));
    frame_arena_end(fa);
    frame_arena_begin(fa);
    cr_assert_eq(cleanups_run, 0, "frame 0 is still in flight");
    frame_arena_end(fa);
    frame_arena_begin(fa);
    cr_assert_eq(cleanups_run, 11, "frame 2 reuses frame 0's buffers: both cleanups ran");
    frame_arena_end(fa);
    frame_arena_destroy(fa);
    cr_assert_eq(cleanups_run, 11, "once");
}

Test(rotation, one_buffer_is_reset_every_frame)
{
    FrameArena *fa = frame_arena_create(&(FrameArenaDesc){.frames_in_flight = 1});
    PageStack *a = run_frame(fa, 100);
    PageStack *b = frame_arena_begin(fa);
    cr_assert_eq(a, b);
    cr_assert_eq(page_stack_pos(b), 0);
    cr_assert_null(frame_arena_stack(fa, 1));
    frame_arena_end(fa);
    frame_arena_destroy(fa);
}

Test(samples, describe_each_frame)
{
    FrameArena *fa = frame_arena_create(NULL);
    PageStack *ps = frame_arena_begin(fa);
    page_stack_push(ps, 1000, 8);
    PageStackMark m = page_stack_mark(ps);
    page_stack_push(ps, 5000, 8);
    page_stack_pop_to(m);
    page_stack_push(ps, 24, 8);
    cr_assert_null(page_stack_try_push(ps, SIZE_MAX / 2, 8));
    frame_arena_end(fa);
    FrameArenaStats st = frame_arena_stats(fa);
    cr_assert_eq(st.last.frame, 0);
    cr_assert_eq(st.last.used, 1024);
    cr_assert_eq(st.last.peak, 6000);
    cr_assert_eq(st.last.pushes, 3);
    cr_assert_eq(st.last.failed_pushes, 1);
    cr_assert_eq(st.last.committed, st.committed);
    cr_assert_eq(st.last.committed, 64 * KiB);
    cr_assert_eq(st.peak_all_time, 6000);

    ps = frame_arena_begin(fa);
    page_stack_push(ps, 100, 8);
    frame_arena_end(fa);
    st = frame_arena_stats(fa);
    cr_assert_eq(st.last.frame, 1);
    cr_assert_eq(st.last.used, 100);
    cr_assert_eq(st.last.peak, 100);
    cr_assert_eq(st.last.pushes, 1, "counts are per frame");
    cr_assert_eq(st.last.failed_pushes, 0);
    cr_assert_eq(st.last.committed, 128 * KiB, "committed is the total over all buffers");
    cr_assert_eq(st.peak_all_time, 6000);
    cr_assert_eq(st.frames, 2);
    frame_arena_destroy(fa);
}

/* The sample ring and the trim windows move on every frame: they were
 * mapped at create, so no frame takes a page fault for them, not even before
 * they have gone round once. (The checked build moves each stack to another
 * region of its reservation at every reset, which takes faults by design.) */
#if !TEST_CHECKED
/* One frame of the test below (not inlined: the frames that warm the code
 * and the counted ones run the same copy): 100 KiB on each of the three
 * lanes. Returns
 * how many things went wrong, counted without an assertion: Criterion reports
 * every assertion to its runner, and under ASan the memory that takes comes
 * fresh from its quarantine. */
__attribute__((noinline)) static int lanes_frame(FrameArena *fa)
{
    int wrong = 0;
    PageStack *ps = frame_arena_begin(fa);
    for (uint32_t lane = 0; lane < 3; lane++)
        wrong += page_stack_push(frame_arena_lane(fa, lane, 0), 100 * KiB, 16) == NULL;
    wrong += ps != frame_arena_lane(fa, 0, 0);
    frame_arena_end(fa);
    return wrong;
}

Test(samples, the_bookkeeping_takes_no_page_fault_in_a_frame)
{
    const FrameArenaDesc desc = {.lanes = 3,
                                 .stack = {.initial_commit = 256 * KiB, .flags = PageStackFlag_Prefault}};
    FrameSample out[240];
    /* An arena that goes through every frame the counted one will, first: the
     * code the frames run is mapped in as it first runs (one fault a page,
     * unless the kernel mapped it with a neighbour), and those faults are not
     * the bookkeeping's. */
    FrameArena *fa = frame_arena_create(&desc);
    cr_assert_not_null(fa);
    int wrong = 0;
    for (int f = 0; f < 704; f++)
        wrong += lanes_frame(fa);
    frame_arena_history(fa, out, 240);
    (void)frame_arena_stats(fa);
    frame_arena_destroy(fa);

    fa = frame_arena_create(&desc);
    cr_assert_not_null(fa);
    long before = minor_faults();
    for (int f = 0; f < 700; f++) /* past the 240 samples and the 300 frames of the windows */
        wrong += lanes_frame(fa);
    long faults = minor_faults() - before;
    cr_assert_eq(wrong, 0);
    FrameArenaStats st = frame_arena_stats(fa);
    cr_assert_eq(st.frames, 700);
    cr_assert_eq(st.last.used, 300 * KiB);
    cr_assert_eq(st.trims, 0);
    if (!TEST_VALGRIND) /* valgrind's shadow of the pushed blocks takes faults of its own */
        cr_assert_eq(faults, 0, "700 frames took %ld page faults", faults);
    cr_assert_eq(frame_arena_history(fa, out, 240), 240);
    frame_arena_destroy(fa);
}
#endif

#if !TEST_CHECKED && defined(__linux__) /* the checked build fills every push */
/* Resident bytes of the process (/proc/self/statm). */
static size_t resident_bytes(void)
{
    unsigned long size = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    cr_assert_not_null(f);
    cr_assert_eq(fscanf(f, "%lu %lu", &size, &resident), 2);
    fclose(f);
    return (size_t)resident * (size_t)sysconf(_SC_PAGESIZE);
}

/* Mapping the bookkeeping at create stops at a few MiB: 10,000,000 frames of
 * trim window are 160 MB that the window would reach over two days. */
Test(samples, an_extreme_trim_after_is_not_mapped_at_create)
{
    size_t before = resident_bytes();
    FrameArena *fa = frame_arena_create(&(FrameArenaDesc){.trim_after = 10000000});
    cr_assert_not_null(fa);
    size_t grown = resident_bytes() - before;
    cr_assert_lt(grown, 40 * MiB, "create made %zu bytes resident for 160 MB of window", grown);
    run_frame(fa, 4 * KiB);
    cr_assert_eq(frame_arena_stats(fa).frames, 1);
    frame_arena_destroy(fa);
}
#endif

Test(samples, history_is_oldest_first_with_rolling_min_avg_max)
{
    FrameArena *fa = frame_arena_create(&(FrameArenaDesc){.history = 5});
    FrameSample out[8];
    cr_assert_eq(frame_arena_history(fa, out, 8), 0);
    FrameArenaStats st = frame_arena_stats(fa);
    cr_assert_eq(st.used_min, 0);
    cr_assert_eq(st.used_max, 0);
    for (size_t f = 0; f < 8; f++)
        run_frame(fa, (f + 1) * 100); /* used: 100 .. 800 */
    size_t n = frame_arena_history(fa, out, 8);
    cr_assert_eq(n, 5);
    for (size_t i = 0; i < n; i++) {
        cr_assert_eq(out[i].frame, 3 + i);
        cr_assert_eq(out[i].used, (4 + i) * 100);
    }
    n = frame_arena_history(fa, out, 2);
    cr_assert_eq(n, 2, "the newest two");
    cr_assert_eq(out[0].frame, 6);
    cr_assert_eq(out[1].frame, 7);
    cr_assert_eq(frame_arena_history(fa, NULL, 0), 0);
    st = frame_arena_stats(fa);
    cr_assert_eq(st.used_min, 400);
    cr_assert_eq(st.used_max, 800);
    cr_assert_eq(st.used_avg, 600);
    cr_assert_eq(st.frames, 8);
    frame_arena_destroy(fa);
}

/* used_avg is the mean rounded down; engine_check checks a sum past a
 * 32-bit size_t, and the next test the division of sums past 64 bits. */
Test(samples, used_avg_is_the_mean_rounded_down)
{
    FrameArena *fa = frame_arena_create(&(FrameArenaDesc){.history = 4});
    for (int f = 0; f < 4; f++)
        run_frame(fa, 1);
    FrameArenaStats st = frame_arena_stats(fa);
    cr_assert_eq(st.used_avg, 1, "four frames of 1 byte: avg %zu", st.used_avg);
    run_frame(fa, 2);
    run_frame(fa, 3);
    run_frame(fa, 5);
    st = frame_arena_stats(fa);
    cr_assert_eq(st.used_avg, 2, "1, 2, 3, 5: avg %zu", st.used_avg);
    run_frame(fa, 7);
    st = frame_arena_stats(fa);
    cr_assert_eq(st.used_avg, 4, "2, 3, 5, 7: avg %zu", st.used_avg);
    cr_assert_eq(st.used_min, 2);
    cr_assert_eq(st.used_max, 7);
    frame_arena_destroy(fa);
}

/* The division behind used_avg, for sums past 64 bits, which no test can
 * push: against 128-bit arithmetic, at the edges (hi = n - 1, lo all ones,
 * n = 1 and 2^32 - 1) and at seeded random hi < n. */
__extension__ typedef unsigned __int128 u128; /* gcc and clang on 64-bit targets, where Criterion runs */

Test(samples, the_mean_of_a_sum_past_64_bits_is_exact)
{
    const uint32_t ns[] = {1, 2, 3, 7, 240, 65537, 0x80000000u, UINT32_MAX};
    uint64_t x = 0x9E3779B97F4A7C15u;
    for (size_t k = 0; k < sizeof ns / sizeof ns[0]; k++) {
        uint32_t n = ns[k];
        for (int i = 0; i < 1000; i++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            uint64_t hi = i == 0 ? n - 1 : i == 1 ? 0 : x % n, lo = i < 2 ? UINT64_MAX : x * 0x2545F4914F6CDD1Du;
            u128 sum = (u128)hi << 64 | lo;
            uint64_t want = (uint64_t)(sum / n), got = page_stack_mean_of_sum(hi, lo, n);
            cr_assert_eq(got, want, "n %u, hi %llu, lo %llu: %llu, want %llu", (unsigned)n, (unsigned long long)hi,
                         (unsigned long long)lo, (unsigned long long)got, (unsigned long long)want);
        }
    }
}

Test(samples, history_into_null_is_fatal, .signal = SIGABRT)
{
    FrameArena *fa = frame_arena_create(NULL);
    run_frame(fa, 10);
    expect_fatal("frame_arena_history with out NULL and max 4");
    frame_arena_history(fa, NULL, 4);
    death_not_reached();
}

typedef struct BudgetLog {
    int calls;
    size_t used;
    FrameArena *fa;
} BudgetLog;

static void on_budget(FrameArena *fa, size_t used, void *user)
{
    BudgetLog *log = user;
    log->calls++;
    log->used = used;
    log->fa = fa;
}

Test(budget, callback_once_per_frame_whose_peak_crosses_it)
{
    BudgetLog log = {0};
    FrameArena *fa = frame_arena_create(&(FrameArenaDesc){.budget = 10000, .on_budget = on_budget, .user = &log});
    run_frame(fa, 10000);
    cr_assert_eq(log.calls, 0, "at the budget is not over it");
    PageStack *ps = frame_arena_begin(fa);
    for (int i = 0; i < 30; i++)
        page_stack_push(ps, 1000, 1); /* crosses the budget many times: one call */
    frame_arena_end(fa);
    cr_assert_eq(log.calls, 1);
    cr_assert_eq(log.used, 30000);
    cr_assert_eq(log.fa, fa);
    ps = frame_arena_begin(fa);
    PageStackMark m = page_stack_mark(ps);
    page_stack_push(ps, 20000, 1);
    page_stack_pop_to(m); /* the peak counts, not the end pos */
    frame_arena_end(fa);
    cr_assert_eq(log.calls, 2);
    cr_assert_eq(log.used, 20000);
    run_frame(fa, 5);
    cr_assert_eq(log.calls, 2);
    cr_assert_eq(frame_arena_stats(fa).budget_overruns, 2);
    frame_arena_destroy(fa);
}

/* The callbacks may read the arena and trim it: a budget callback that gives
 * an over-budget frame's spare memory back at once, and an on_frame that
 * does the same, each record the frame once. */
typedef struct TrimLog {
    size_t given_in_budget, given_in_frame;
    uint64_t frames_seen; /* frame_arena_stats(fa).frames as on_budget saw it */
} TrimLog;

static void trim_when_over(FrameArena *fa, size_t used, void *user)
{
    (void)used;
    TrimLog *log = user;
    log->given_in_budget += frame_arena_trim(fa);
    log->frames_seen = frame_arena_stats(fa).frames;
}

static void trim_each_frame(FrameArena *fa, const FrameSample *sample, void *user)
{
    (void)sample;
    ((TrimLog *)user)->given_in_frame += frame_arena_trim(fa);
}

Test(budget, the_callbacks_may_read_and_trim_the_arena)
{
    TrimLog log = {0};
    FrameArena *fa = frame_arena_create(
        &(FrameArenaDesc){.budget = 64 * KiB, .on_budget = trim_when_over, .on_frame = trim_each_frame, .user = &log});
    for (int f = 0; f < 6; f++) {
        PageStack *ps = frame_arena_begin(fa);
        PageStackMark m = page_stack_mark(ps);
        cr_assert_not_null(page_stack_push(ps, 4 * MiB, 16));
        page_stack_pop_to(m); /* the frame's peak stays 4 MiB; it holds nothing at its end */
        frame_arena_end(fa);
        cr_assert_eq(log.frames_seen, (uint64_t)f, "on_budget sees the frames before this one");
    }
    FrameArenaStats st = frame_arena_stats(fa);
    cr_assert_eq(st.frames, 6, "each frame recorded once");
    cr_assert_eq(st.budget_overruns, 6);
    cr_assert_geq(log.given_in_budget, 6 * 3 * MiB, "on_budget gave each frame's 4 MiB back: %zu", log.given_in_budget);
    cr_assert_eq(log.given_in_frame, 0, "nothing left for on_frame");
    cr_assert_lt(st.committed, 1 * MiB, "%zu bytes committed", st.committed);
    frame_arena_destroy(fa);
}

/* on_budget runs in the middle of frame_arena_end: beginning or ending a
 * frame from it, or destroying the arena, is fatal. */
enum { FromBudget_End, FromBudget_Begin, FromBudget_Destroy, FromBudget_Count };

static void call_from_budget(FrameArena *fa, size_t used, void *user)
{
    (void)used;
    switch (*(const int *)user) {
    case FromBudget_End: frame_arena_end(fa); break;
    case FromBudget_Begin: frame_arena_begin(fa); break;
    case FromBudget_Destroy: frame_arena_destroy(fa); break;
    }
}

ParameterizedTestParameters(misuse, calls_from_on_budget_are_fatal)
{
    static int cases[FromBudget_Count];
    return index_params(cases, FromBudget_Count);
}

ParameterizedTest(int *call, misuse, calls_from_on_budget_are_fatal, .signal = SIGABRT)
{
    static const char *const names[FromBudget_Count] = {"frame_arena_end", "frame_arena_begin", "frame_arena_destroy"};
    FrameArena *fa = frame_arena_create(&(FrameArenaDesc){.budget = 100, .on_budget = call_from_budget, .user = call});
    page_stack_push(frame_arena_begin(fa), 1000, 8);
    expect_fatalf("frame_arena \"frame\": %s called from on_budget, inside frame_arena_end; on_budget may read the "
                  "arena and trim it", names[*call]);
    frame_arena_end(fa);
    death_not_reached();
}

/* on_frame runs once the frame has ended: it may destroy the arena (a game
 * that decides to quit there). */
static void destroy_from_frame(FrameArena *fa, const FrameSample *sample, void *user)
{
    (void)sample;
    frame_arena_destroy(fa);
    *(bool *)user = true;
}

Test(hooks, on_frame_may_destroy_the_arena)
{
    bool destroyed = false;
    FrameArena *fa = frame_arena_create(&(FrameArenaDesc){.on_frame = destroy_from_frame, .user = &destroyed});
    page_stack_push(frame_arena_begin(fa), 1000, 8);
    frame_arena_end(fa);
    cr_assert(destroyed);
}

Test(budget, counted_without_a_callback)
{
    FrameArena *fa = frame_arena_create(&(FrameArenaDesc){.budget = 100});
    run_frame(fa, 101);
    run_frame(fa, 100);
    cr_assert_eq(frame_arena_stats(fa).budget_overruns, 1);
    frame_arena_destroy(fa);
}

static size_t buffer_committed(FrameArena *fa, uint32_t frames_ago)
{
    return page_stack_stats(frame_arena_stack(fa, frames_ago)).committed;
}

#if !TEST_CHECKED /* exact commits: plain build only */
Test(trim, memory_comes_back_trim_after_frames_after_a_spike)
{
    const uint32_t trim_after = 10;
    FrameArena *fa = frame_arena_create(&(FrameArenaDesc){.trim_after = trim_after});
    for (int f = 0; f < 20; f++)
        run_frame(fa, 100 * KiB);
    size_t steady = frame_arena_stats(fa).committed;
    cr_assert_eq(steady, 2 * 128 * KiB);
    run_frame(fa, 10 * MiB); /* frame 20, buffer 0 */
    cr_assert_geq(frame_arena_stats(fa).committed, 10 * MiB);
    for (uint32_t k = 1; k < trim_after; k++) {
        run_frame(fa, 100 * KiB);
        cr_assert_geq(frame_arena_stats(fa).committed, 10 * MiB, "trimmed %u frames after the spike", k);
    }
    run_frame(fa, 100 * KiB); /* frame 30: the spike has left the window */
    FrameArenaStats st = frame_arena_stats(fa);
    cr_assert_eq(st.committed, steady, "committed falls back");
    cr_assert_eq(st.trims, 1);
    cr_assert_eq(st.last.committed, steady);
    for (int f = 0; f < 100; f++)
        run_frame(fa, 100 * KiB);
    cr_assert_eq(frame_arena_stats(fa).trims, 1, "nothing more to trim");
    frame_arena_destroy(fa);
}
#endif

/* frame_arena_trim gives back at once what the policy would give back
 * trim_after frames later, in every buffer, and keeps the bytes of the
 * frames in flight: the spike's while it is in flight, the frame's own. What
 * it kept for a frame in flight goes back when that buffer is next reset,
 * without a second call; the open frame's buffer is not trimmed again. */
Test(trim, frame_arena_trim_gives_memory_back_now_and_keeps_the_frames_in_flight)
{
    FrameArena *fa = frame_arena_create(&(FrameArenaDesc){.trim_after = 300});
    for (int f = 0; f < 4; f++)
        run_frame(fa, 100 * KiB);
    size_t steady = frame_arena_stats(fa).committed;
    unsigned char *spike = page_stack_push(frame_arena_begin(fa), 10 * MiB, 16);
    memset(spike, 0x5A, 10 * MiB);
    frame_arena_end(fa);
    PageStack *open = frame_arena_begin(fa);
    unsigned char *now = page_stack_push(open, 100 * KiB, 16);
    memset(now, 0x3C, 100 * KiB);
    size_t before = frame_arena_stats(fa).committed;
    cr_assert_eq(frame_arena_trim(fa), 0, "the spike is still in flight: nothing above it to give back now");
    cr_assert_eq(frame_arena_stats(fa).committed, before);
    cr_assert_eq(frame_arena_stats(fa).trims, 0);
    cr_assert(spike[0] == 0x5A && spike[10 * MiB - 1] == 0x5A, "last frame's bytes stay");
    cr_assert_not_null(page_stack_push(open, 3 * MiB, 16), "this frame grows after the trim");
    frame_arena_end(fa);

    now = page_stack_push(frame_arena_begin(fa), 100 * KiB, 16); /* resets the spike's buffer */
    memset(now, 0x3C, 100 * KiB);
    FrameArenaStats st = frame_arena_stats(fa);
    cr_assert_eq(st.trims, 1, "the spike's buffer was trimmed when it was reset");
    cr_assert_lt(st.committed, before + 3 * MiB + 128 * KiB - 9 * MiB,
                 "the spike's memory came back: %zu bytes committed", st.committed);
    cr_assert_geq(page_stack_stats(open).committed, 3 * MiB, "the frame open at the call keeps what it grew to");
#if !TEST_CHECKED /* exact commits: plain build only */
    cr_assert_eq(page_stack_stats(frame_arena_stack(fa, 0)).committed, steady / 2, "back to a steady frame's commit");
#else
    (void)steady;
#endif
    cr_assert_eq(frame_arena_trim(fa), 0,
                 "nothing more to give back in the spike's buffer, nor above the open frame's 3 MiB");
    frame_arena_end(fa);
    run_frame(fa, 100 * KiB); /* the open frame's buffer is reset: marked by the second call, trimmed */
    cr_assert_eq(frame_arena_stats(fa).trims, 2);
#if !TEST_CHECKED
    cr_assert_eq(frame_arena_stats(fa).committed, steady, "back to the steady frames' commits");
#endif
    for (size_t i = 0; i < 100 * KiB; i += 4 * KiB)
        cr_assert_eq(now[i], 0x3C, "last frame's bytes stay");
    for (int f = 0; f < 4; f++)
        run_frame(fa, 3 * MiB); /* the arena commits again as frames need it, and is not trimmed again */
    cr_assert_geq(frame_arena_stats(fa).committed, 6 * MiB);
    cr_assert_eq(frame_arena_stats(fa).trims, 2);
    frame_arena_destroy(fa);
}

/* Called between frames (after a level load, say), frame_arena_trim gives
 * back every buffer's spare memory within frames_in_flight frames, lane by
 * lane, each buffer once its frame has left flight. */
Test(trim, frame_arena_trim_between_frames_reaches_every_buffer)
{
    enum { Lanes = 2, InFlight = 3 };
    FrameArena *fa = frame_arena_create(&(FrameArenaDesc){.frames_in_flight = InFlight, .lanes = Lanes});
    unsigned char *held[InFlight][Lanes];
    for (int f = 0; f < InFlight; f++) { /* each frame in flight holds 4 MiB in each lane */
        frame_arena_begin(fa);
        for (uint32_t l = 0; l < Lanes; l++) {
            held[f][l] = page_stack_push(frame_arena_lane(fa, l, 0), 4 * MiB, 16);
            memset(held[f][l], 0x40 + f, 4 * MiB);
        }
        frame_arena_end(fa);
    }
    size_t before = frame_arena_stats(fa).committed;
    cr_assert_geq(before, InFlight * Lanes * 4 * MiB);
    cr_assert_eq(frame_arena_trim(fa), 0, "every buffer holds a frame in flight");
    for (int f = 0; f < InFlight; f++) {
        for (int g = f + 1; g < InFlight; g++) /* the frames still in flight keep their bytes */
            for (uint32_t l = 0; l < Lanes; l++)
                cr_assert(held[g][l][0] == 0x40 + g && held[g][l][4 * MiB - 1] == 0x40 + g, "frame %d lane %u", g, l);
        run_frame(fa, 10);
        FrameArenaStats st = frame_arena_stats(fa);
        cr_assert_eq(st.trims, (uint64_t)(f + 1) * Lanes, "after %d frames", f + 1);
        cr_assert_leq(st.committed, before - (size_t)(f + 1) * Lanes * 3 * MiB, "after %d frames: %zu committed", f + 1,
                      st.committed);
    }
    run_frame(fa, 10);
    cr_assert_eq(frame_arena_stats(fa).trims, InFlight * Lanes, "each buffer trimmed once");
    frame_arena_destroy(fa);
}

/* The policy runs in every build: after a spike, trim_after frames on, the
 * arena gives memory back (the checked build's commits are not exact, so
 * here only that it does). */
Test(trim, a_spike_comes_back_in_every_build)
{
    FrameArena *fa = frame_arena_create(&(FrameArenaDesc){.trim_after = 10});
    for (int f = 0; f < 20; f++)
        run_frame(fa, 100 * KiB);
    run_frame(fa, 10 * MiB);
    size_t spiked = frame_arena_stats(fa).committed;
    cr_assert_geq(spiked, 10 * MiB);
    for (int f = 0; f < 12; f++)
        run_frame(fa, 100 * KiB);
    FrameArenaStats st = frame_arena_stats(fa);
    cr_assert_geq(st.trims, 1);
    cr_assert_leq(st.committed, spiked - 8 * MiB, "%zu committed after the spike's %zu", st.committed, spiked);
    frame_arena_destroy(fa);
}

/* Nothing trimmed, and nothing decommitted in either of the two buffers. */
static void never_trimmed(FrameArena *fa)
{
    cr_assert_eq(frame_arena_stats(fa).trims, 0);
    cr_assert_eq(page_stack_stats(frame_arena_stack(fa, 0)).decommits, 0);
    cr_assert_eq(page_stack_stats(frame_arena_stack(fa, 1)).decommits, 0);
}

/* trim_after frames after the spike, not later, whatever the build keeps:
 * 3 frames is not a whole turn of the checked build's regions (5 per
 * buffer by default, the regions in quarantine the spike's among them). */
static void spike_comes_back_trim_after_frames_later(uint32_t quarantine)
{
    const uint32_t trim_after = 3;
    /* 16 MiB reserved: at the most quarantine, the checked build's 64 regions
     * of a buffer take 2 GiB of address space, where valgrind has not 128 */
    FrameArena *fa = frame_arena_create(
        &(FrameArenaDesc){.trim_after = trim_after, .stack = {.quarantine = quarantine, .reserve_size = 16 * MiB}});
    cr_assert_not_null(fa);
    for (int f = 0; f < 2 * 64 + 20; f++) /* every region of both buffers used: the checked build's commit settles */
        run_frame(fa, 100 * KiB);
    run_frame(fa, 10 * MiB);
    size_t spiked = frame_arena_stats(fa).committed;
    for (uint32_t k = 1; k < trim_after; k++) {
        run_frame(fa, 100 * KiB);
        cr_assert_eq(frame_arena_stats(fa).committed, spiked, "trimmed %u frames after the spike", k);
    }
    run_frame(fa, 100 * KiB);
    FrameArenaStats st = frame_arena_stats(fa);
    cr_assert_eq(st.trims, 1);
    cr_assert_leq(st.committed, spiked - 9 * MiB, "%zu committed after the spike's %zu", st.committed, spiked);
    frame_arena_destroy(fa);
}

Test(trim, a_spike_comes_back_trim_after_frames_later_in_every_build)
{
    spike_comes_back_trim_after_frames_later(0);
}

/* The most regions a checked stack has (64): the policy looks at each of
 * them, and at no more. */
Test(trim, a_spike_comes_back_trim_after_frames_later_at_the_most_quarantine)
{
    spike_comes_back_trim_after_frames_later(63);
}

/* A spike of small pushes: its pos fits in what the steady frames keep, but
 * in the checked build its redzones took more pages, which its region in
 * quarantine still holds when the spike leaves the window. The policy
 * trims that region too (to the window's extent), trim_after frames on,
 * not when the regions come round to it a buffer's 64 frames later. */
Test(trim, a_spike_of_small_pushes_comes_back_from_its_region_in_quarantine)
{
    const uint32_t trim_after = 4;
    FrameArena *fa = frame_arena_create(
        &(FrameArenaDesc){.trim_after = trim_after, .stack = {.quarantine = 63, .reserve_size = 16 * MiB}});
    cr_assert_not_null(fa);
    for (int f = 0; f < 2 * 64 + 20; f++) /* every region of both buffers used */
        run_frame(fa, 400 * KiB);
    FrameArenaStats steady = frame_arena_stats(fa);
    PageStack *ps = frame_arena_begin(fa);
    for (int i = 0; i < 20000; i++) /* 320,000 bytes: the checked build's redzones double it */
        cr_assert_not_null(page_stack_push(ps, 16, 16));
    cr_assert_lt(page_stack_pos(ps), 400 * KiB);
    frame_arena_end(fa);
    for (uint32_t f = 0; f < trim_after + 2; f++)
        run_frame(fa, 400 * KiB);
    FrameArenaStats st = frame_arena_stats(fa);
    cr_assert_eq(st.committed, steady.committed, "%zu committed, %zu before the spike", st.committed,
                 steady.committed);
    cr_assert_eq(st.trims - steady.trims, TEST_CHECKED ? 1 : 0, "the spike's buffer trimmed once");
    frame_arena_destroy(fa);
}

/* Frames of many small pushes: in the checked build each has a redzone
 * after it, which the frame's commit holds as well. */
Test(trim, never_in_a_steady_state_of_small_pushes)
{
    FrameArena *fa = frame_arena_create(&(FrameArenaDesc){.trim_after = 10});
    for (int f = 0; f < 100; f++) {
        PageStack *ps = frame_arena_begin(fa);
        for (int i = 0; i < 10000; i++)
            cr_assert_not_null(page_stack_push(ps, 16, 16));
        frame_arena_end(fa);
    }
    never_trimmed(fa);
    frame_arena_destroy(fa);
}

/* Frames that end holding nothing: each one's bytes in a scope popped back
 * to 0, which in the checked build moves the stack to its next region. */
Test(trim, never_in_a_steady_state_of_scopes_popped_to_0)
{
    FrameArena *fa = frame_arena_create(&(FrameArenaDesc){.trim_after = 10});
    for (int f = 0; f < 100; f++) {
        PageStack *ps = frame_arena_begin(fa);
        PageStackMark m = page_stack_mark(ps);
        cr_assert_not_null(page_stack_push(ps, 1 * MiB, 16));
        page_stack_pop_to(m);
        frame_arena_end(fa);
    }
    never_trimmed(fa);
    frame_arena_destroy(fa);
}

Test(trim, never_in_a_steady_state)
{
    FrameArena *fa = frame_arena_create(&(FrameArenaDesc){.trim_after = 30});
    static const size_t pattern[] = {300 * KiB, 10 * KiB, 1 * MiB, 64 * KiB, 700 * KiB, 0, 1 * MiB - 1};
    for (int f = 0; f < 2000; f++)
        run_frame(fa, pattern[f % 7]);
    never_trimmed(fa);
    frame_arena_destroy(fa);
}

/* The quarter rule in every build. The checked build holds each frame in
 * another region of the buffer, so there the commit of one region is not
 * the buffer's (only the plain build checks it), and a block has a redzone
 * after it: the sizes leave room for one. */
Test(trim, only_when_it_frees_a_quarter)
{
    FrameArena *fa = frame_arena_create(&(FrameArenaDesc){.trim_after = 5, .frames_in_flight = 1});
    run_frame(fa, 1000 * KiB); /* 1024 KiB committed */
    for (int f = 0; f < 20; f++)
        run_frame(fa, 800 * KiB); /* T = 832 KiB: would free 192 KiB < 256 KiB */
    if (!TEST_CHECKED)
        cr_assert_eq(buffer_committed(fa, 0), 1024 * KiB);
    cr_assert_eq(frame_arena_stats(fa).trims, 0);
    for (int f = 0; f < 5; f++)
        run_frame(fa, 700 * KiB); /* T = 704 KiB: frees 320 KiB >= 256 KiB */
    if (!TEST_CHECKED)
        cr_assert_eq(buffer_committed(fa, 0), 704 * KiB);
    cr_assert_eq(frame_arena_stats(fa).trims, 1);
    frame_arena_destroy(fa);
}

/* "At least a quarter": exactly a quarter is trimmed. */
Test(trim, exactly_a_quarter_is_enough)
{
    FrameArena *fa = frame_arena_create(&(FrameArenaDesc){.trim_after = 5, .frames_in_flight = 1});
    run_frame(fa, 1024 * KiB - 64);
    for (int f = 0; f < 4; f++)
        run_frame(fa, 768 * KiB - 64);
    if (!TEST_CHECKED)
        cr_assert_eq(buffer_committed(fa, 0), 1024 * KiB, "the 1 MiB frame is still in the window");
    cr_assert_eq(frame_arena_stats(fa).trims, 0, "the 1 MiB frame is still in the window");
    run_frame(fa, 768 * KiB - 64); /* T = 768 KiB: frees 256 KiB, a quarter of 1024 */
    if (!TEST_CHECKED)
        cr_assert_eq(buffer_committed(fa, 0), 768 * KiB);
    cr_assert_eq(frame_arena_stats(fa).trims, 1);
    frame_arena_destroy(fa);
}

/* When the largest peak leaves the window, the largest of the frames still
 * in it holds the commit, until it leaves too. In every build: the checked
 * build puts each frame's blocks above the last few frames' (its
 * quarantine), so its commits are not the plain build's, but its trims come
 * at the same frames, each giving memory back. */
Test(trim, a_spike_that_leaves_the_window_hands_over_to_the_next_largest)
{
    FrameArena *fa = frame_arena_create(&(FrameArenaDesc){.trim_after = 10, .frames_in_flight = 1});
    for (int f = 0; f < 10; f++) /* frame 0: 4 MiB, frame 4: 2 MiB, the rest 10 KiB */
        run_frame(fa, f == 0 ? 4 * MiB : f == 4 ? 2 * MiB : 10 * KiB);
    size_t spike = buffer_committed(fa, 0), handed = 0;
    if (!TEST_CHECKED)
        cr_assert_eq(spike, 4 * MiB, "frame 0 is still in the window");
    cr_assert_eq(frame_arena_stats(fa).trims, 0);
    for (int f = 10; f < 14; f++) { /* frame 0 has left the window, frame 4 has not */
        run_frame(fa, 10 * KiB);
        size_t committed = buffer_committed(fa, 0);
        handed = f == 10 ? committed : handed;
        cr_assert(committed < spike && committed == handed, "frame %d: %zu committed after %zu, then %zu", f,
                  committed, spike, handed);
        if (!TEST_CHECKED)
            cr_assert_eq(committed, 2 * MiB, "frame %d", f);
        cr_assert_eq(frame_arena_stats(fa).trims, 1, "frame %d", f);
    }
    run_frame(fa, 10 * KiB); /* frame 14: frame 4 has left */
    size_t committed = buffer_committed(fa, 0);
    cr_assert_lt(committed, handed);
    if (!TEST_CHECKED)
        cr_assert_eq(committed, 64 * KiB);
    cr_assert_eq(frame_arena_stats(fa).trims, 2);
    frame_arena_destroy(fa);
}

#if !TEST_CHECKED /* exact commits: plain build only */
Test(trim, never_below_initial_commit_and_off_with_uint32_max)
{
    FrameArena *fa = frame_arena_create(&(FrameArenaDesc){
        .trim_after = 2, .frames_in_flight = 1, .stack = {.initial_commit = 512 * KiB}});
    run_frame(fa, 4 * MiB);
    for (int f = 0; f < 5; f++)
        run_frame(fa, 0);
    cr_assert_eq(buffer_committed(fa, 0), 512 * KiB);
    frame_arena_destroy(fa);

    fa = frame_arena_create(&(FrameArenaDesc){.trim_after = UINT32_MAX, .frames_in_flight = 1});
    run_frame(fa, 4 * MiB);
    for (int f = 0; f < 1000; f++)
        run_frame(fa, 0);
    cr_assert_eq(buffer_committed(fa, 0), 4 * MiB);
    cr_assert_eq(frame_arena_stats(fa).trims, 0);
    frame_arena_destroy(fa);
}
#endif

#if !TEST_CHECKED /* exact commits: plain build only */
Test(trim, keeps_data_of_frames_still_in_flight)
{
    FrameArena *fa = frame_arena_create(&(FrameArenaDesc){.trim_after = 1});
    PageStack *ps = frame_arena_begin(fa);
    unsigned char *big = page_stack_push(ps, 4 * MiB, 1);
    memset(big, 0x3C, 4 * MiB);
    frame_arena_end(fa);
    run_frame(fa, 10); /* window = this frame only, but frame 0's data is still in flight */
    cr_assert_eq(big[4 * MiB - 1], 0x3C);
    cr_assert_geq(page_stack_stats(ps).committed, 4 * MiB);
    run_frame(fa, 10); /* frame 0's buffer is reused: now it may go */
    cr_assert_eq(page_stack_stats(ps).committed, 64 * KiB);
    frame_arena_destroy(fa);
}
#endif

/* Lanes: one stack per lane in every frame, all reset by begin, each kept
 * for as many frames as a single stack would be. */
/* frame_arena_frames_ago: the frame whose memory a pointer is in, on any
 * lane, until frame_arena_begin resets that frame's buffer; every buffer
 * and lane in turn, over more than a whole rotation. */
Test(lanes, frames_ago_names_the_frame_that_holds_a_pointer)
{
    enum { InFlight = 3, Lanes = 2, Frames = 8 };
    FrameArena *fa = frame_arena_create(&(FrameArenaDesc){.name = "ages", .frames_in_flight = InFlight,
                                                          .lanes = Lanes});
    char *blocks[Frames][Lanes];
    const size_t sizes[Lanes] = {32, 48};
    int outside = 0;
    int *heap = malloc(sizeof *heap);
    cr_assert_not_null(heap);
    cr_assert_eq(frame_arena_frames_ago(fa, &outside), -1, "no frame yet");
    for (int f = 0; f < Frames; f++) {
        frame_arena_begin(fa);
        for (uint32_t l = 0; f >= InFlight && l < Lanes; l++) /* before anything is pushed over them */
            cr_assert_eq(frame_arena_frames_ago(fa, blocks[f - InFlight][l]), -1,
                         "frame %d, lane %u: a block of a buffer begin reset", f - InFlight, (unsigned)l);
        for (uint32_t l = 0; l < Lanes; l++)
            blocks[f][l] = page_stack_push(frame_arena_lane(fa, l, 0), sizes[l], 8);
        for (int g = f >= InFlight - 1 ? f - (InFlight - 1) : 0; g <= f; g++)
            for (uint32_t l = 0; l < Lanes; l++) {
                cr_assert_eq(frame_arena_frames_ago(fa, blocks[g][l]), f - g, "frame %d, lane %u", g, (unsigned)l);
                cr_assert_eq(frame_arena_frames_ago(fa, blocks[g][l] + sizes[l] - 1), f - g);
            }
        frame_arena_end(fa);
        cr_assert_eq(frame_arena_frames_ago(fa, blocks[f][Lanes - 1]), 0, "the frame just ended");
    }
    cr_assert_eq(frame_arena_frames_ago(fa, NULL), -1);
    cr_assert_eq(frame_arena_frames_ago(fa, &outside), -1);
    cr_assert_eq(frame_arena_frames_ago(fa, heap), -1);
    frame_arena_destroy(fa);
    free(heap);
}

Test(lanes, each_lane_has_its_own_stack_in_every_frame)
{
    enum { Lanes = 3, Frames = 7 };
    FrameArena *fa = frame_arena_create(&(FrameArenaDesc){.name = "jobs", .lanes = Lanes});
    cr_assert_eq(frame_arena_lanes(fa), Lanes);
    cr_assert_null(frame_arena_lane(fa, 2, 0), "no frame happened yet");
    PageStack *stacks[Frames][Lanes];
    int *data[Frames][Lanes];
    for (int f = 0; f < Frames; f++) {
        PageStack *first = frame_arena_begin(fa);
        for (uint32_t l = 0; l < Lanes; l++) {
            PageStack *ps = stacks[f][l] = frame_arena_lane(fa, l, 0);
            cr_assert_not_null(ps);
            cr_assert_eq(page_stack_pos(ps), 0, "begin resets every lane of the frame");
            for (uint32_t k = 0; k < l; k++)
                cr_assert_neq(ps, stacks[f][k], "each lane has its own stack");
            if (f >= 1)
                cr_assert_neq(ps, stacks[f - 1][l], "the frame before is still in flight");
            if (f >= 2)
                cr_assert_eq(ps, stacks[f - 2][l], "the lanes rotate with the frames");
            data[f][l] = push_array(ps, int, 100 + l);
            for (uint32_t i = 0; i < 100 + l; i++)
                data[f][l][i] = f * 1000 + (int)(l * 100 + i);
        }
        cr_assert_eq(first, stacks[f][0], "begin returns lane 0");
        cr_assert_eq(frame_arena_stack(fa, 0), stacks[f][0]);
        for (uint32_t l = 0; f >= 1 && l < Lanes; l++) {
            cr_assert_eq(frame_arena_lane(fa, l, 1), stacks[f - 1][l]);
            for (uint32_t i = 0; i < 100 + l; i++) /* last frame's blocks, in every lane, are intact */
                cr_assert_eq(data[f - 1][l][i], (f - 1) * 1000 + (int)(l * 100 + i));
        }
        cr_assert_null(frame_arena_lane(fa, 1, 2), "two frames in flight");
        frame_arena_end(fa);
        cr_assert_eq(frame_arena_lane(fa, 2, 0), stacks[f][2], "between end and begin, 0 is the frame just ended");
    }
    cr_assert_str_eq(stacks[0][0]->name, "jobs lane 0");
    cr_assert_str_eq(stacks[0][2]->name, "jobs lane 2", "a report names the lane");
    cr_assert_eq(frame_arena_stats(fa).reserved, 2 * Lanes * ((size_t)1 << 30), "a stack per lane and frame");
    frame_arena_destroy(fa);

    /* stack.name names the buffers; a long one is cut, not the lane's number */
    const char *longest = "a name much longer than the sixty-three bytes a stack keeps of it, lanes or not";
    fa = frame_arena_create(&(FrameArenaDesc){.name = "arena", .lanes = 256, .stack = {.name = longest, .reserve_size = 64 * KiB}});
    cr_assert_not_null(fa);
    frame_arena_begin(fa);
    char want[64];
    snprintf(want, sizeof want, "%.*s lane 7", 63 - 7, longest);
    cr_assert_str_eq(frame_arena_lane(fa, 7, 0)->name, want);
    snprintf(want, sizeof want, "%.*s lane 255", 63 - 9, longest);
    cr_assert_str_eq(frame_arena_lane(fa, 255, 0)->name, want);
    frame_arena_end(fa);
    frame_arena_destroy(fa);
    fa = frame_arena_create(&(FrameArenaDesc){.name = "arena", .stack = {.name = longest}});
    snprintf(want, sizeof want, "%.63s", longest);
    cr_assert_str_eq(frame_arena_begin(fa)->name, want, "one lane: the stack's name, its first 63 bytes");
    frame_arena_end(fa);
    frame_arena_destroy(fa);

    fa = frame_arena_create(&(FrameArenaDesc){.name = "one"});
    cr_assert_eq(frame_arena_lanes(fa), 1, "one lane by default");
    cr_assert_str_eq(frame_arena_begin(fa)->name, "one", "a single lane keeps the plain name");
    cr_assert_eq(frame_arena_lane(fa, 0, 0), frame_arena_stack(fa, 0));
    frame_arena_end(fa);
    frame_arena_destroy(fa);
}

static size_t budget_seen;
static void note_budget(FrameArena *fa, size_t used, void *user)
{
    (void)fa;
    (void)user;
    budget_seen = used;
}

/* The frame's sample, its budget and the history count every lane. */
Test(lanes, the_sample_sums_the_lanes)
{
    FrameArena *fa = frame_arena_create(&(FrameArenaDesc){
        .lanes = 3, .budget = 100 * KiB, .on_budget = note_budget, .stack = {.reserve_size = 4 * MiB}});
    frame_arena_begin(fa);
    PageStack *a = frame_arena_lane(fa, 0, 0), *b = frame_arena_lane(fa, 1, 0), *c = frame_arena_lane(fa, 2, 0);
    cr_assert_not_null(page_stack_push(a, 40 * KiB, 16));
    PageStackMark m = page_stack_mark(b);
    cr_assert_not_null(page_stack_push(b, 50 * KiB, 16));
    cr_assert_not_null(page_stack_push(b, 10 * KiB, 16));
    page_stack_pop_to(m); /* lane 1 ends empty with a peak of 60 KiB */
    cr_assert_not_null(page_stack_push(c, 1 * KiB, 16));
    cr_assert_null(page_stack_try_push(c, 8 * MiB, 16));
    frame_arena_end(fa);
    FrameSample s = frame_arena_stats(fa).last;
    cr_assert_eq(s.used, 41 * KiB, "used: the lanes' ends summed");
    cr_assert_eq(s.peak, 101 * KiB, "peak: the lanes' peaks summed");
    cr_assert_eq(s.pushes, 4);
    cr_assert_eq(s.failed_pushes, 1);
    cr_assert_eq(budget_seen, 101 * KiB, "the budget holds for the lanes together");
    cr_assert_eq(frame_arena_stats(fa).budget_overruns, 1);
    cr_assert_eq(frame_arena_stats(fa).peak_all_time, 101 * KiB);

    frame_arena_begin(fa); /* the next frame counts its own pushes in every lane */
    page_stack_push(frame_arena_lane(fa, 2, 0), 100, 1);
    frame_arena_end(fa);
    s = frame_arena_stats(fa).last;
    cr_assert_eq(s.pushes, 1);
    cr_assert_eq(s.failed_pushes, 0);
    cr_assert_eq(s.used, 100);
    cr_assert_eq(frame_arena_stats(fa).budget_overruns, 1);
    frame_arena_destroy(fa);
}

#if !TEST_CHECKED /* exact commits: plain build only */
/* A spike in one lane comes back down to that lane's own level, not to the
 * busiest lane's, and the busy lane is never trimmed. */
Test(lanes, each_lane_is_trimmed_by_its_own_high_water)
{
    const uint32_t trim_after = 10;
    FrameArena *fa = frame_arena_create(&(FrameArenaDesc){.lanes = 2, .trim_after = trim_after});
    for (uint32_t f = 0; f < 40; f++) {
        frame_arena_begin(fa);
        page_stack_push(frame_arena_lane(fa, 0, 0), 4 * MiB, 16);
        page_stack_push(frame_arena_lane(fa, 1, 0), f == 20 ? 10 * MiB : 100 * KiB, 16);
        frame_arena_end(fa);
        size_t lane1 = page_stack_stats(frame_arena_lane(fa, 1, 0)).committed;
        if (f >= 20 && f < 20 + trim_after && f % 2 == 0)
            cr_assert_geq(lane1, 10 * MiB, "trimmed %u frames after the spike", f - 20);
        if (f >= 20 + trim_after)
            cr_assert_eq(lane1, 128 * KiB, "lane 1 falls back to its own level at frame %u", f);
    }
    for (uint32_t ago = 0; ago < 2; ago++) {
        cr_assert_eq(page_stack_stats(frame_arena_lane(fa, 0, ago)).committed, 4 * MiB);
        cr_assert_eq(page_stack_stats(frame_arena_lane(fa, 0, ago)).decommits, 0, "lane 0 is steady");
    }
    cr_assert_eq(frame_arena_stats(fa).trims, 1, "only lane 1's spike buffer");
    frame_arena_destroy(fa);
}
#endif

Test(lanes, a_lane_out_of_range_is_fatal, .signal = SIGABRT)
{
    FrameArena *fa = frame_arena_create(&(FrameArenaDesc){.name = "jobs", .lanes = 2});
    frame_arena_begin(fa);
    cr_assert_not_null(frame_arena_lane(fa, 1, 0));
    expect_fatal("frame_arena \"jobs\": frame_arena_lane 2 is out of range; the arena has 2 lane(s) "
                 "(FrameArenaDesc.lanes)");
    frame_arena_lane(fa, 2, 0);
    death_not_reached();
}

Test(lanes, end_with_a_cursor_open_on_a_lane_is_fatal, .signal = SIGABRT)
{
    FrameArena *fa = frame_arena_create(&(FrameArenaDesc){.name = "jobs", .lanes = 3});
    frame_arena_begin(fa);
    PageStackCursor c = page_stack_cursor_begin(frame_arena_lane(fa, 2, 0));
    cursor_push_struct(&c, int);
    expect_fatal("page_stack \"jobs lane 2\": frame_arena_end while a cursor is open on it; push through the "
                 "cursor, or end it first");
    frame_arena_end(fa);
    death_not_reached();
}

Test(lanes, destroying_a_lane_of_the_arena_is_fatal, .signal = SIGABRT)
{
    FrameArena *fa = frame_arena_create(&(FrameArenaDesc){.name = "jobs", .lanes = 2});
    frame_arena_begin(fa);
    expect_fatal("page_stack_destroy: the stack \"jobs lane 1\" belongs to a frame arena; destroy the arena with "
                 "frame_arena_destroy");
    page_stack_destroy(frame_arena_lane(fa, 1, 0));
    death_not_reached();
}

Test(misuse, begin_twice_is_fatal, .signal = SIGABRT)
{
    FrameArena *fa = frame_arena_create(&(FrameArenaDesc){.name = "game"});
    frame_arena_begin(fa);
    expect_fatal("frame_arena \"game\": frame_arena_begin called twice without frame_arena_end; end each frame "
                 "before beginning the next");
    frame_arena_begin(fa);
    death_not_reached();
}

/* The arena and its buffers keep copies of the name: a name built in a
 * buffer that is reused at once still names them in every report. */
Test(misuse, a_name_from_a_temporary_buffer_still_names_the_arena, .signal = SIGABRT)
{
    char name[32];
    snprintf(name, sizeof name, "level %d", 3);
    FrameArena *fa = frame_arena_create(&(FrameArenaDesc){.name = name});
    memset(name, 'x', sizeof name - 1);
    cr_assert_str_eq(frame_arena_begin(fa)->name, "level 3");
    expect_fatal("frame_arena \"level 3\": frame_arena_begin called twice without frame_arena_end");
    frame_arena_begin(fa);
    death_not_reached();
}

Test(misuse, end_without_begin_is_fatal, .signal = SIGABRT)
{
    FrameArena *fa = frame_arena_create(NULL);
    expect_fatal("frame_arena \"frame\": frame_arena_end called without frame_arena_begin");
    frame_arena_end(fa);
    death_not_reached();
}

Test(misuse, end_twice_is_fatal, .signal = SIGABRT)
{
    FrameArena *fa = frame_arena_create(NULL);
    run_frame(fa, 1);
    expect_fatal("frame_arena_end called without frame_arena_begin");
    frame_arena_end(fa);
    death_not_reached();
}

Test(misuse, destroying_a_buffer_of_the_arena_is_fatal, .signal = SIGABRT)
{
    FrameArena *fa = frame_arena_create(&(FrameArenaDesc){.name = "game"});
    PageStack *frame = frame_arena_begin(fa);
    expect_fatal("page_stack_destroy: the stack \"game\" belongs to a frame arena; destroy the arena with "
                 "frame_arena_destroy");
    page_stack_destroy(frame);
    death_not_reached();
}

/* A destroyed arena's handle is dead, as a pointer after free is: the arena
 * lived in a stack of its own that went back to the OS, so a begin, an end
 * or a second destroy faults while nothing has mapped the address again,
 * and so does a write to a block of its frames. */
enum { DeadArena_Begin, DeadArena_End, DeadArena_DestroyAgain, DeadArena_WriteBlock, DeadArena_Count };

ParameterizedTestParameters(misuse, a_destroyed_arena_and_its_frames_fault)
{
    static int cases[DeadArena_Count];
    return index_params(cases, DeadArena_Count);
}

ParameterizedTest(int *how, misuse, a_destroyed_arena_and_its_frames_fault, .signal = SIGSEGV)
{
    FrameArena *fa = frame_arena_create(NULL);
    volatile unsigned char *p = page_stack_push(frame_arena_begin(fa), 64, 8);
    if (*how != DeadArena_End)
        frame_arena_end(fa);
    frame_arena_destroy(fa);
    expect_fault();
    switch (*how) {
    case DeadArena_Begin: frame_arena_begin(fa); break;
    case DeadArena_End: frame_arena_end(fa); break;
    case DeadArena_DestroyAgain: frame_arena_destroy(fa); break;
    case DeadArena_WriteBlock: p[0] = 1; break;
    }
    death_not_reached();
}

/* frame_arena_check finds nothing in frames used as they should be, in any
 * build, inside a frame and between two, and changes no byte of them. */
Test(misuse, check_passes_sound_frames_and_leaves_them_as_they_were)
{
    FrameArena *fa = frame_arena_create(NULL);
    unsigned char *blocks[8];
    for (int frame = 0; frame < 8; frame++) {
        blocks[frame] = page_stack_push(frame_arena_begin(fa), 300, 16);
        memset(blocks[frame], frame, 300);
        frame_arena_check(fa);
        frame_arena_end(fa);
        frame_arena_check(fa);
        for (int b = 0; b < 300; b++) /* this frame's block, and the one before it, still in flight */
            cr_assert(blocks[frame][b] == frame && (frame == 0 || blocks[frame - 1][b] == frame - 1));
    }
    cr_assert_eq(frame_arena_stats(fa).frames, 8);
    frame_arena_destroy(fa);
}

/* Every function given a NULL arena (but destroy, a no-op) stops with one
 * line naming it; the parameter is an index into the calls below. */
enum { NullArena_Begin, NullArena_End, NullArena_Stack, NullArena_Lane, NullArena_Lanes, NullArena_Frame,
       NullArena_Stats, NullArena_History, NullArena_Check, NullArena_Trim, NullArena_FramesAgo, NullArena_Count };

ParameterizedTestParameters(misuse, null_arena_is_fatal)
{
    static int calls[NullArena_Count];
    return index_params(calls, NullArena_Count);
}

ParameterizedTest(int *call, misuse, null_arena_is_fatal, .signal = SIGABRT)
{
    static const char *const names[NullArena_Count] = {"frame_arena_begin", "frame_arena_end",
        "frame_arena_stack", "frame_arena_lane", "frame_arena_lanes", "frame_arena_frame", "frame_arena_stats",
        "frame_arena_history", "frame_arena_check", "frame_arena_trim", "frame_arena_frames_ago"};
    FrameSample out[4];
    expect_fatalf("%s: the frame arena is NULL; pass one from frame_arena_create", names[*call]);
    switch (*call) {
    case NullArena_Begin: frame_arena_begin(NULL); break;
    case NullArena_End: frame_arena_end(NULL); break;
    case NullArena_Stack: frame_arena_stack(NULL, 0); break;
    case NullArena_Lane: frame_arena_lane(NULL, 0, 0); break;
    case NullArena_Lanes: frame_arena_lanes(NULL); break;
    case NullArena_Frame: frame_arena_frame(NULL); break;
    case NullArena_Stats: frame_arena_stats(NULL); break;
    case NullArena_History: frame_arena_history(NULL, out, 4); break;
    case NullArena_Check: frame_arena_check(NULL); break;
    case NullArena_Trim: frame_arena_trim(NULL); break;
    case NullArena_FramesAgo: frame_arena_frames_ago(NULL, out); break;
    }
    death_not_reached();
}

Test(misuse, stale_mark_from_an_earlier_frame_is_fatal, .signal = SIGABRT)
{
    FrameArena *fa = frame_arena_create(&(FrameArenaDesc){.frames_in_flight = 1});
    PageStack *ps = frame_arena_begin(fa);
    PageStackMark m = page_stack_mark(ps);
    frame_arena_end(fa);
    frame_arena_begin(fa);
    expect_fatal("pop_to a stale mark");
    page_stack_pop_to(m);
    death_not_reached();
}

/* Carrying last frame's array into this one is push_array_copy's work with
 * two frames in flight; with one, last frame's buffer is this frame's, and
 * begin released the array: the copy stops the program instead of copying
 * bytes the frame may already have written over. */
Test(misuse, copying_last_frame_with_one_frame_in_flight_is_fatal, .signal = SIGABRT)
{
    int seeds[100];
    for (int i = 0; i < 100; i++)
        seeds[i] = i * i;
    FrameArena *two = frame_arena_create(NULL);
    int *carried = push_array_copy(frame_arena_begin(two), int, seeds, 100);
    frame_arena_end(two);
    carried = push_array_copy(frame_arena_begin(two), int, carried, 100);
    cr_assert_eq(memcmp(carried, seeds, sizeof seeds), 0, "two frames in flight: last frame's array is live");
    frame_arena_end(two);

    FrameArena *one = frame_arena_create(&(FrameArenaDesc){.name = "single", .frames_in_flight = 1});
    int *last = push_array_copy(frame_arena_begin(one), int, seeds, 100);
    frame_arena_end(one);
    PageStack *frame = frame_arena_begin(one);
    expect_fatalf("page_stack \"single\": push_copy of the block at %p, which a pop or reset released", (void *)last);
    push_array_copy(frame, int, last, 100);
    death_not_reached();
}
