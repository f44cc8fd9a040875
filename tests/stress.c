/* Long runs of the engine, reported as TAP.
 *
 *     stress threads [FRAMES]   4 threads, each with its own frame arena and
 *                               scratch, FRAMES frames (default 10000) of 64-256
 *                               pushes; every block is verified before its
 *                               buffer is reset and every scratch block before
 *                               its scope ends. Two threads make their scratch
 *                               stacks from scratch_set_defaults' desc at their
 *                               first scratch_begin, two with scratch_thread_init
 *     stress jobs [FRAMES]      the main thread drives 4 frame arenas, one per
 *                               job; each frame it begins them all, 3 worker
 *                               threads fill this frame's buffers (every job on
 *                               another thread than in the frame before) while
 *                               the main thread verifies last frame's, and the
 *                               main thread ends them; each sample's pushes and
 *                               bytes match what the jobs pushed
 *     stress lanes [FRAMES]     the same jobs in one frame arena with a lane
 *                               each: the workers take their lanes' stacks
 *                               themselves, and each frame's one sample sums
 *                               what all the jobs pushed
 *     stress lanes-tracy [FRAMES]  the same with the Tracy mapping's hooks
 *                               (frame_arena_tracy.h, over a recording
 *                               stand-in) on every lane: every alloc shown is
 *                               freed, with the workers pushing at once
 *     stress soak [FRAMES]      one frame arena, FRAMES frames (default
 *                               1000000) of varying load with a spike every
 *                               100000 frames (once, halfway, in a shorter
 *                               run): RSS stays within RSS at frame 1000
 *                               plus the peak committed plus one commit step,
 *                               and committed memory comes back within
 *                               trim_after frames of each spike
 */
#define _POSIX_C_SOURCE 200809L /* pthread barriers under -std=c11 */
#include "frame_arena.h"
#include "scratch.h"

#define FRAME_ARENA_TRACY
#include "frame_arena_tracy.h" /* tests/tracy_stub stands in for Tracy */

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#ifdef _WIN32
#include <windows.h>
#include <psapi.h>
#else
#include <unistd.h>
#endif

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || __has_feature(memory_sanitizer)
#define SANITIZED 1
#endif
#endif
#ifndef SANITIZED
#define SANITIZED 0
#endif

#define THREADS 4
#define MAX_PUSHES 256
/* Every stack here reserves 4 MiB, and a frame takes at most 256 blocks of up
 * to 256 bytes: small, because a checked build reserves ten times the
 * reserve_size for each stack, and with 32-bit pointers all of them (the
 * threads' arenas and scratch stacks) must fit in 4 GiB. */
#define STACK_RESERVE ((size_t)4 << 20)

typedef struct Block {
    unsigned char *p;
    uint32_t size, seed;
} Block;

typedef struct ThreadRun {
    int index;
    long frames;
    uint64_t corruptions, pushes;
    uint32_t seed;
} ThreadRun;

static uint32_t rnd(uint32_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return *s;
}

static void fill(const Block *b)
{
    for (uint32_t i = 0; i < b->size; i++)
        b->p[i] = (unsigned char)(b->seed + i);
}

static uint64_t bad_bytes(const Block *b)
{
    uint64_t bad = 0;
    for (uint32_t i = 0; i < b->size; i++)
        bad += b->p[i] != (unsigned char)(b->seed + i);
    return bad != 0;
}

/* pthreads, not C11 threads: ThreadSanitizer does not see glibc's thrd_create. */
static void *thread_main(void *arg)
{
    ThreadRun *run = arg;
    FrameArena *fa = frame_arena_create(&(FrameArenaDesc){.name = "stress", .stack = {.reserve_size = STACK_RESERVE}});
    Block *blocks[2] = {calloc(MAX_PUSHES, sizeof(Block)), calloc(MAX_PUSHES, sizeof(Block))};
    uint32_t counts[2] = {0, 0};
    bool own_scratch = run->index % 2; /* the others take the defaults at their first scratch_begin */
    ScratchError made = own_scratch ? scratch_thread_init(&(PageStackDesc){.name = "stress scratch",
                                                                         .reserve_size = STACK_RESERVE,
                                                                         .initial_commit = 64 << 10,
                                                                         .flags = PageStackFlag_Prefault})
                                    : ScratchError_None;
    if (!fa || !blocks[0] || !blocks[1] || made != ScratchError_None) {
        run->corruptions = UINT64_MAX;
        return NULL;
    }
    for (long f = 0; f < run->frames; f++) {
        /* This frame's begin resets the buffer of frame f-2: verify it first, and frame f-1 too. */
        for (int k = 0; k < 2; k++)
            for (uint32_t i = 0; i < counts[k]; i++)
                run->corruptions += bad_bytes(&blocks[k][i]);
        PageStack *frame = frame_arena_begin(fa);
        Block *mine = blocks[f % 2];
        uint32_t n = 64 + rnd(&run->seed) % (MAX_PUSHES - 64 + 1);
        for (uint32_t i = 0; i < n; i++) {
            Block b = {NULL, 1 + rnd(&run->seed) % 256, rnd(&run->seed)};
            b.p = page_stack_push(frame, b.size, (size_t)1 << (rnd(&run->seed) % 7));
            fill(&b);
            mine[i] = b;
        }
        counts[f % 2] = n;
        run->pushes += n;
        PageStackMark tmp = scratch_begin(&frame, 1);
        Block s = {NULL, 512, rnd(&run->seed)};
        s.p = page_stack_push(tmp.stack, s.size, 16);
        fill(&s);
        run->corruptions += bad_bytes(&s);
        scratch_end(tmp);
        frame_arena_end(fa);
    }
    frame_arena_destroy(fa);
    free(blocks[0]);
    free(blocks[1]);
    return NULL;
}

/* The stand-in for Tracy: the mapping calls these under its lock. */
static uint64_t tracy_allocs, tracy_frees, tracy_marks;

void stub_tracy_alloc(const void *ptr, size_t size, const char *name)
{
    (void)ptr, (void)size, (void)name;
    tracy_allocs++;
}

void stub_tracy_free(const void *ptr, const char *name)
{
    (void)ptr, (void)name;
    tracy_frees++;
}

void stub_tracy_frame_mark(void)
{
    tracy_marks++;
}

void stub_tracy_plot(const char *name, double value)
{
    (void)name, (void)value;
}

static int run_threads(long frames)
{
    ThreadRun runs[THREADS];
    pthread_t threads[THREADS];
    if (scratch_set_defaults(&(PageStackDesc){.reserve_size = STACK_RESERVE}) != ScratchError_None) {
        printf("TAP version 13\n1..1\nnot ok 1 - cannot set the scratch defaults\n");
        return 1;
    }
    for (int i = 0; i < THREADS; i++) {
        runs[i] = (ThreadRun){.index = i, .frames = frames, .seed = 0x1234567u * (uint32_t)(i + 1)};
        if (pthread_create(&threads[i], NULL, thread_main, &runs[i]) != 0) {
            printf("TAP version 13\n1..1\nnot ok 1 - cannot start thread %d\n", i);
            return 1;
        }
    }
    uint64_t corruptions = 0, pushes = 0;
    for (int i = 0; i < THREADS; i++) {
        pthread_join(threads[i], NULL);
        corruptions += runs[i].corruptions;
        pushes += runs[i].pushes;
    }
    printf("TAP version 13\n1..1\n%s 1 - %d threads x %ld frames, %" PRIu64 " pushes verified: %" PRIu64
           " corrupted blocks\n",
           corruptions ? "not ok" : "ok", THREADS, frames, pushes, corruptions);
    return corruptions != 0;
}

/* A job system: frame memory pushed by workers and read by the main thread a
 * frame later. Arena j (or lane j of the one arena) belongs to job j; in
 * frame f worker w runs the jobs j with (j + f) % WORKERS == w, so every
 * stack changes threads at its begin. */
#define WORKERS 3
#define JOBS 4

typedef struct Jobs {
    bool lanes;                  /* one arena, fa[0], with a lane per job */
    FrameArena *fa[JOBS];
    PageStack *stack[JOBS];      /* this frame's buffer of each job, set by the main thread (not with lanes) */
    Block *blocks[JOBS][2];      /* what each job pushed in the frames f % 2 */
    uint32_t counts[JOBS][2];
    size_t used[JOBS];           /* bytes pushed this frame, padding included */
    uint32_t seed[JOBS];
    long frame, frames;
    pthread_barrier_t start, done;
} Jobs;

typedef struct Worker {
    Jobs *jobs;
    int index;
} Worker;

static void *worker_main(void *arg)
{
    Worker *w = arg;
    Jobs *J = w->jobs;
    for (;;) {
        pthread_barrier_wait(&J->start);
        long f = J->frame;
        if (f >= J->frames)
            return NULL;
        for (int j = 0; j < JOBS; j++) {
            if ((j + f) % WORKERS != w->index)
                continue;
            PageStack *ps = J->lanes ? frame_arena_lane(J->fa[0], (uint32_t)j, 0) : J->stack[j];
            Block *mine = J->blocks[j][f % 2];
            uint32_t n = 64 + rnd(&J->seed[j]) % (MAX_PUSHES - 64 + 1);
            for (uint32_t i = 0; i < n; i++) {
                Block b = {NULL, 1 + rnd(&J->seed[j]) % 256, rnd(&J->seed[j])};
                b.p = page_stack_push(ps, b.size, (size_t)1 << (rnd(&J->seed[j]) % 7));
                fill(&b);
                mine[i] = b;
            }
            J->counts[j][f % 2] = n;
            J->used[j] = page_stack_pos(ps);
        }
        pthread_barrier_wait(&J->done);
    }
}

static int run_jobs(long frames, bool lanes, bool tracy)
{
    static FrameArenaTracy map = {.name = "jobs"};
    static Jobs J;
    J.frames = frames;
    J.lanes = lanes;
    int arenas = lanes ? 1 : JOBS;
    bool ok = pthread_barrier_init(&J.start, NULL, WORKERS + 1) == 0 &&
              pthread_barrier_init(&J.done, NULL, WORKERS + 1) == 0;
    static const char *const names[JOBS] = {"job0", "job1", "job2", "job3"}; /* an arena keeps its name */
    for (int j = 0; ok && j < JOBS; j++) {
        if (j < arenas)
            J.fa[j] = frame_arena_create(&(FrameArenaDesc){
                .name = lanes ? "jobs" : names[j], .lanes = lanes ? JOBS : 1,
                .stack = {.reserve_size = STACK_RESERVE,
                          .on_push = tracy ? frame_arena_tracy_on_push : NULL,
                          .on_pop = tracy ? frame_arena_tracy_on_pop : NULL,
                          .on_reset = tracy ? frame_arena_tracy_on_reset : NULL,
                          .user = &map},
                .on_frame = tracy ? frame_arena_tracy_on_frame : NULL,
                .user = &map});
        J.blocks[j][0] = calloc(MAX_PUSHES, sizeof(Block));
        J.blocks[j][1] = calloc(MAX_PUSHES, sizeof(Block));
        J.seed[j] = 0x9e3779b9u * (uint32_t)(j + 1);
        ok = (j >= arenas || J.fa[j]) && J.blocks[j][0] && J.blocks[j][1];
    }
    Worker workers[WORKERS];
    pthread_t threads[WORKERS];
    int started = 0;
    for (; ok && started < WORKERS; started++) {
        workers[started] = (Worker){&J, started};
        ok = pthread_create(&threads[started], NULL, worker_main, &workers[started]) == 0;
    }
    if (!ok) {
        printf("TAP version 13\n1..1\nnot ok 1 - cannot set up the jobs\n");
        return 1;
    }
    uint64_t corruptions = 0, pushes = 0, bad_samples = 0;
    for (long f = 0; f < frames; f++) {
        for (int j = 0; j < arenas; j++)
            J.stack[j] = frame_arena_begin(J.fa[j]); /* resets the buffers of frame f - 2 */
        J.frame = f;
        pthread_barrier_wait(&J.start);
        /* While the workers fill frame f, the main thread reads what they pushed in frame f - 1. */
        for (int j = 0; f > 0 && j < JOBS; j++)
            for (uint32_t i = 0; i < J.counts[j][(f - 1) % 2]; i++)
                corruptions += bad_bytes(&J.blocks[j][(f - 1) % 2][i]);
        pthread_barrier_wait(&J.done);
        uint32_t frame_pushes = 0;
        size_t frame_used = 0;
        for (int j = 0; j < JOBS; j++) {
            frame_pushes += J.counts[j][f % 2];
            frame_used += J.used[j];
            if (lanes)
                continue;
            frame_arena_end(J.fa[j]);
            FrameSample s = frame_arena_stats(J.fa[j]).last;
            bad_samples += s.frame != (uint64_t)f || s.pushes != J.counts[j][f % 2] || s.used != J.used[j];
        }
        if (lanes) { /* one sample for all the jobs */
            frame_arena_end(J.fa[0]);
            FrameSample s = frame_arena_stats(J.fa[0]).last;
            bad_samples += s.frame != (uint64_t)f || s.pushes != frame_pushes || s.used != frame_used;
        }
        pushes += frame_pushes;
    }
    J.frame = frames; /* releases the workers */
    pthread_barrier_wait(&J.start);
    for (int i = 0; i < WORKERS; i++)
        pthread_join(threads[i], NULL);
    for (int j = 0; j < JOBS; j++)
        for (int k = 0; k < 2; k++)
            for (uint32_t i = 0; i < J.counts[j][k]; i++)
                corruptions += bad_bytes(&J.blocks[j][k][i]);
    for (int j = 0; j < JOBS; j++) {
        if (j < arenas)
            frame_arena_destroy(J.fa[j]);
        free(J.blocks[j][0]);
        free(J.blocks[j][1]);
    }
    pthread_barrier_destroy(&J.start);
    pthread_barrier_destroy(&J.done);
    printf("TAP version 13\n1..%d\n", tracy ? 3 : 2);
    printf("%s 1 - %d jobs (%s) on %d workers x %ld frames, %" PRIu64 " pushes verified a frame later: %" PRIu64
           " corrupted blocks\n",
           corruptions ? "not ok" : "ok", JOBS, lanes ? "a lane each in one arena" : "an arena each", WORKERS,
           frames, pushes, corruptions);
    printf("%s 2 - each frame's sample has the frame, pushes and bytes %s: %" PRIu64 " wrong\n",
           bad_samples ? "not ok" : "ok", lanes ? "all the jobs pushed" : "its job pushed", bad_samples);
    bool tracy_ok = !tracy || (tracy_frees == tracy_allocs && tracy_allocs >= pushes && map.count == 0 &&
                               map.dropped == 0 && tracy_marks == (uint64_t)frames);
    if (tracy)
        printf("%s 3 - the Tracy mapping showed %" PRIu64 " allocs and freed %" PRIu64 " (%u live, %" PRIu64
               " dropped), %" PRIu64 " frame marks\n",
               tracy_ok ? "ok" : "not ok", tracy_allocs, tracy_frees, (unsigned)map.count, map.dropped, tracy_marks);
    return corruptions != 0 || bad_samples != 0 || !tracy_ok;
}

#ifdef _WIN32
static size_t rss_bytes(void) /* the working set: the pages resident for the process */
{
    PROCESS_MEMORY_COUNTERS counters;
    return K32GetProcessMemoryInfo(GetCurrentProcess(), &counters, sizeof counters) ? counters.WorkingSetSize : 0;
}
#else
static size_t rss_bytes(void)
{
    long pages = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &resident) != 2)
            resident = 0;
        fclose(f);
    }
    return (size_t)resident * (size_t)sysconf(_SC_PAGESIZE);
}
#endif

static int run_soak(long frames)
{
    const uint32_t trim_after = 300;
    const size_t step = 64u << 10, spike = 48u << 20;
    FrameArena *fa = frame_arena_create(&(FrameArenaDesc){.name = "soak", .trim_after = trim_after});
    uint32_t seed = 99;
    size_t rss_base = 0, rss_max = 0, committed_max = 0, steady_committed = 0;
    long spikes = 0, late_returns = 0, last_spike = -1;
    const long period = frames < 100000 ? frames : 100000;
    for (long f = 0; f < frames; f++) {
        PageStack *frame = frame_arena_begin(fa);
        uint32_t n = 20 + (uint32_t)(f * 7919 % 180);
        for (uint32_t i = 0; i < n; i++) {
            uint32_t size = 16 + rnd(&seed) % 2048;
            unsigned char *p = page_stack_push(frame, size, 16);
            p[0] = p[size - 1] = (unsigned char)i;
        }
        if (f % period == period / 2) {
            unsigned char *big = page_stack_push(frame, spike, 64);
            memset(big, 1, spike);
            spikes++;
            last_spike = f;
        }
        frame_arena_end(fa);
        FrameArenaStats st = frame_arena_stats(fa);
        committed_max = st.committed > committed_max ? st.committed : committed_max;
        if (f >= 1000 && f < period / 2 && st.committed > steady_committed)
            steady_committed = st.committed; /* the most the varying load needs before any spike */
        /* trim_after frames after a spike, and at every later frame, the spike is gone again */
        if (last_spike >= 0 && f >= last_spike + (long)trim_after && st.committed > steady_committed + step)
            late_returns++;
        if (f % 100 == 99 || f == last_spike) { /* the spike frame itself too */
            size_t rss = rss_bytes();
            if (f == 999)
                rss_base = rss;
            rss_max = rss > rss_max ? rss : rss_max;
        }
    }
    size_t bound = rss_base + committed_max + step;
    frame_arena_destroy(fa);
    printf("TAP version 13\n1..2\n");
    /* A sanitizer's shadow memory grows with the memory touched: the bound is the plain build's. */
    bool rss_ok = SANITIZED || rss_max <= bound;
    printf("%s 1 - RSS max %zu <= RSS at frame 1000 (%zu) + peak committed (%zu) + one step over %ld frames%s\n",
           rss_ok ? "ok" : "not ok", rss_max, rss_base, committed_max, frames,
           SANITIZED ? " # SKIP a sanitizer's shadow memory is in RSS" : "");
    printf("%s 2 - committed back at steady (%zu) within %u frames of each of %ld spikes (%ld late frames)\n",
           late_returns == 0 && spikes > 0 ? "ok" : "not ok", steady_committed, trim_after, spikes, late_returns);
    return !(rss_ok && late_returns == 0 && spikes > 0);
}

int main(int argc, char **argv)
{
    long frames = argc > 2 ? strtol(argv[2], NULL, 10) : 0;
    if (argc > 1 && !strcmp(argv[1], "threads"))
        return run_threads(frames > 0 ? frames : 10000);
    if (argc > 1 && !strcmp(argv[1], "jobs"))
        return run_jobs(frames > 0 ? frames : 10000, false, false);
    if (argc > 1 && !strcmp(argv[1], "lanes"))
        return run_jobs(frames > 0 ? frames : 10000, true, false);
    if (argc > 1 && !strcmp(argv[1], "lanes-tracy"))
        return run_jobs(frames > 0 ? frames : 10000, true, true);
    if (argc > 1 && !strcmp(argv[1], "soak"))
        return run_soak(frames > 0 ? frames : 1000000);
    fprintf(stderr, "usage: stress threads|jobs|lanes|lanes-tracy|soak [FRAMES]\n");
    return 2;
}
