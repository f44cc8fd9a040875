/* job_lanes: frame memory filled by worker threads, one lane each.
 *
 * Every frame the main thread begins the frame arena, and WORKERS threads
 * each cull their share of the entities against a moving camera: each
 * pushes the list of indices it finds visible into its own lane's stack,
 * plus a one-line report. Once they are done the main thread ends the
 * frame, whose sample counts every lane, and reads what they built: this
 * frame's lists, and last frame's, still valid in the lanes of the frame
 * before, to count the entities that stayed in view. It checks every list
 * against a count of its own and exits with 1 on a mismatch.
 *
 * A real engine keeps its workers and hands them jobs; this example starts
 * its threads every frame to stay short.
 *
 *     job_lanes [frames]        (default 300)
 */
#include "frame_arena.h"

#include <inttypes.h>
#include <stdalign.h>
#include <stdio.h>
#include <stdlib.h>

#ifdef _WIN32
#include <windows.h>
#else
#include <pthread.h>
#endif

#define WORKERS 3
#define ENTITIES 30000

typedef struct Entity {
    float x, y;
} Entity;

typedef struct Camera {
    float x0, y0, x1, y1;
} Camera;

typedef struct Job {
    FrameArena *fa;
    uint32_t lane;
    const Entity *entities;
    uint32_t first, end; /* this job's share of the entities */
    Camera camera;
    const uint32_t *visible; /* out: the indices in view, in this lane's stack */
    uint32_t count;
    const char *report;
} Job;

static int in_view(Entity e, Camera c)
{
    return e.x >= c.x0 && e.x < c.x1 && e.y >= c.y0 && e.y < c.y1;
}

static void cull(Job *job)
{
    PageStack *mine = frame_arena_lane(job->fa, job->lane, 0); /* only this thread pushes to it */
    uint32_t share = job->end - job->first, n = 0;
    uint32_t *list = push_array_no_zero(mine, uint32_t, share); /* room for all of them */
    for (uint32_t i = job->first; i < job->end; i++)
        if (in_view(job->entities[i], job->camera))
            list[n++] = i;
    /* The last push shrinks in place: the rest of the room goes back to the lane. */
    job->visible = page_stack_realloc(mine, list, share * sizeof *list, n * sizeof *list, alignof(uint32_t));
    job->count = n;
    job->report = page_stack_printf(mine, "lane %u: %u of %u entities in view", (unsigned)job->lane, (unsigned)n,
                                    (unsigned)share);
}

#ifdef _WIN32
static DWORD WINAPI thread_main(LPVOID arg)
{
    cull(arg);
    return 0;
}

static int run_jobs(Job *jobs, int n)
{
    HANDLE threads[WORKERS];
    int started = 0;
    for (; started < n; started++)
        if (!(threads[started] = CreateThread(NULL, 0, thread_main, &jobs[started], 0, NULL)))
            break;
    for (int i = 0; i < started; i++) {
        WaitForSingleObject(threads[i], INFINITE);
        CloseHandle(threads[i]);
    }
    return started == n;
}
#else
static void *thread_main(void *arg)
{
    cull(arg);
    return NULL;
}

static int run_jobs(Job *jobs, int n)
{
    pthread_t threads[WORKERS];
    int started = 0;
    for (; started < n; started++)
        if (pthread_create(&threads[started], NULL, thread_main, &jobs[started]) != 0)
            break;
    for (int i = 0; i < started; i++)
        pthread_join(threads[i], NULL);
    return started == n;
}
#endif

/* Entities in both sorted lists. */
static uint32_t stayed(const uint32_t *a, uint32_t na, const uint32_t *b, uint32_t nb)
{
    uint32_t i = 0, j = 0, both = 0;
    while (i < na && j < nb) {
        if (a[i] == b[j])
            both++, i++, j++;
        else if (a[i] < b[j])
            i++;
        else
            j++;
    }
    return both;
}

int main(int argc, char **argv)
{
    char *end = NULL; /* set only when there is an argument */
    long frames = argc > 1 ? strtol(argv[1], &end, 10) : 300;
    if (frames <= 0 || (end && *end)) {
        fprintf(stderr, "usage: job_lanes [frames]   (frames > 0)\n");
        return 2;
    }
    /* A frame here holds about 40 KiB a lane: 16 MiB of address space a
     * stack is room to spare. The default (1 GiB, 64 MiB in a 32-bit
     * program) is for a game that does not know its frame yet; the checked
     * build reserves ten times as much again, too much for six stacks in a
     * 32-bit program under qemu-i386, whose address space has less room. */
    FrameArena *fa = frame_arena_create(
        &(FrameArenaDesc){.name = "cull", .lanes = WORKERS, .stack = {.reserve_size = 16u << 20}});
    if (!fa) {
        fprintf(stderr, "job_lanes: cannot make the frame arena: %s\n",
                page_stack_error_string(page_stack_create_error()));
        return 1;
    }
    Entity *entities = malloc(ENTITIES * sizeof *entities); /* level data: lives outside the frames */
    if (!entities) {
        fprintf(stderr, "job_lanes: out of memory\n");
        return 1;
    }
    uint32_t seed = 12345;
    for (uint32_t i = 0; i < ENTITIES; i++) {
        seed = seed * 1664525u + 1013904223u;
        entities[i].x = (float)(seed >> 16) / 65536.0f * 1000.0f;
        seed = seed * 1664525u + 1013904223u;
        entities[i].y = (float)(seed >> 16) / 65536.0f * 1000.0f;
    }
    Job jobs[WORKERS], last[WORKERS];
    int wrong = 0;
    for (long f = 0; f < frames; f++) {
        frame_arena_begin(fa); /* resets every lane's stack of frame f - 2 */
        float at = (float)(f % 200) * 4.0f;
        Camera camera = {at, at, at + 200.0f, at + 150.0f};
        for (uint32_t w = 0; w < WORKERS; w++)
            jobs[w] = (Job){.fa = fa, .lane = w, .entities = entities, .camera = camera,
                            .first = (uint32_t)((uint64_t)ENTITIES * w / WORKERS),
                            .end = (uint32_t)((uint64_t)ENTITIES * (w + 1) / WORKERS)};
        if (!run_jobs(jobs, WORKERS)) {
            fprintf(stderr, "job_lanes: cannot start the workers\n");
            return 1;
        }
        frame_arena_end(fa); /* after every job: the sample counts all the lanes */

        uint32_t visible = 0, kept = 0, expected = 0;
        for (uint32_t i = 0; i < ENTITIES; i++)
            expected += (uint32_t)in_view(entities[i], camera);
        for (uint32_t w = 0; w < WORKERS; w++) {
            visible += jobs[w].count;
            for (uint32_t k = 0; k < jobs[w].count; k++) {
                uint32_t i = jobs[w].visible[k];
                wrong += i < jobs[w].first || i >= jobs[w].end || !in_view(entities[i], camera);
            }
            /* Last frame's list is still valid: its lane's stack is reset only at the next begin. */
            if (f > 0)
                kept += stayed(last[w].visible, last[w].count, jobs[w].visible, jobs[w].count);
        }
        FrameSample s = frame_arena_stats(fa).last;
        /* Each lane pushed its list, shrank it (a realloc counts as a push) and its report. */
        wrong += visible != expected || s.pushes != 3 * WORKERS;
        if ((f + 1) % 60 == 0) {
            printf("frame %4" PRIu64 "  in view %5u  stayed %5u  pushes %6u  used %7zu  (%s)\n", s.frame, visible,
                   kept, s.pushes, s.used, jobs[WORKERS - 1].report);
        }
        for (uint32_t w = 0; w < WORKERS; w++)
            last[w] = jobs[w];
    }
    FrameArenaStats st = frame_arena_stats(fa);
    printf("%" PRIu64 " frames on %d lanes, all-time peak %zu bytes, committed %zu; %d wrong\n", st.frames,
           WORKERS, st.peak_all_time, st.committed, wrong);
    free(entities);
    frame_arena_destroy(fa);
    return wrong ? 1 : 0;
}
