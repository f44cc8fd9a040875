/* frame_loop: the frame lifecycle in a small simulated game loop.
 *
 * Each frame pushes the transient buffers a game builds (particles carried
 * over from last frame, sort keys, a vertex array, a list of sparks pushed
 * one by one through a cursor, a debug string) into the frame arena, reads
 * last frame's particles while they are still valid, and never frees
 * anything: frame_arena_begin resets the buffer it reuses. Every
 * 60 frames it prints the arena's rolling stats, and at the end a summary.
 *
 *     frame_loop [frames]        (default 600)
 */
#include "frame_arena.h"
#include "scratch.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct Particle {
    float x, y, vx, vy;
} Particle;

typedef struct Vertex {
    float x, y;
    uint32_t color;
} Vertex;

typedef struct Spark {
    float x, y;
    struct Spark *next;
} Spark;

/* Many small pushes in one loop: a cursor keeps the stack's top in a
 * register for the loop instead of storing and loading it at every push. */
static Spark *collect_sparks(PageStack *frame, const Particle *particles, size_t count, size_t *out_count)
{
    Spark *list = NULL;
    size_t n = 0;
    PageStackCursor c = page_stack_cursor_begin(frame);
    for (size_t i = 0; i < count; i++)
        if (particles[i].y > 0.9f) {
            Spark *s = cursor_push_struct(&c, Spark);
            *s = (Spark){particles[i].x, particles[i].y, list};
            list = s;
            n++;
        }
    page_stack_cursor_end(&c);
    *out_count = n;
    return list;
}

static uint32_t rng_state = 0x9E3779B9u;

static float rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 17;
    rng_state ^= rng_state << 5;
    return (float)(rng_state & 0xFFFFFF) / (float)0x1000000;
}

/* Survivors of last frame plus new spawns, written into this frame's buffer. */
static Particle *step_particles(PageStack *frame, const Particle *prev, size_t prev_count, size_t spawn,
                                size_t *out_count)
{
    Particle *next = push_array_no_zero(frame, Particle, prev_count + spawn);
    size_t n = 0;
    for (size_t i = 0; i < prev_count; i++) {
        Particle p = prev[i];
        p.vy += 0.01f;
        p.x += p.vx;
        p.y += p.vy;
        if (p.y < 1.0f)
            next[n++] = p;
    }
    for (size_t i = 0; i < spawn; i++)
        next[n++] = (Particle){rnd(), 0.0f, (rnd() - 0.5f) * 0.01f, rnd() * 0.01f};
    *out_count = n;
    return next;
}

int main(int argc, char **argv)
{
    char *end = NULL; /* set only when there is an argument */
    long frames = argc > 1 ? strtol(argv[1], &end, 10) : 600;
    if (frames <= 0 || (end && *end)) {
        fprintf(stderr, "usage: frame_loop [frames]   (frames > 0)\n");
        return 2;
    }
    FrameArena *fa = frame_arena_create(&(FrameArenaDesc){.budget = 4 << 20, .trim_after = 120});
    if (!fa) {
        fprintf(stderr, "frame_loop: cannot make the frame arena: %s\n",
                page_stack_error_string(page_stack_create_error()));
        return 1;
    }
    Particle *particles = NULL;
    size_t count = 0;
    for (long f = 0; f < frames; f++) {
        PageStack *frame = frame_arena_begin(fa);

        /* a burst every 200 frames shows the trim policy at work */
        size_t spawn = (f % 200 == 100) ? 40000 : 400;
        particles = step_particles(frame, particles, count, spawn, &count);

        uint32_t *keys = push_array_no_zero(frame, uint32_t, count);
        for (size_t i = 0; i < count; i++)
            keys[i] = (uint32_t)(particles[i].y * 65535.0f);

        Vertex *verts = push_array_no_zero(frame, Vertex, count * 4);
        for (size_t i = 0; i < count * 4; i++)
            verts[i] = (Vertex){particles[i / 4].x, particles[i / 4].y, keys[i / 4]};

        size_t spark_count;
        const Spark *sparks = collect_sparks(frame, particles, count, &spark_count);
        float lowest = 0.0f;
        for (const Spark *s = sparks; s; s = s->next)
            lowest = s->y > lowest ? s->y : lowest;

        PageStackMark tmp = scratch_begin(&frame, 1); /* a debug line, gone at scratch_end */
        const char *line = page_stack_printf(tmp.stack, "frame %ld: %zu particles, %zu sparks down to %.2f", f,
                                             count, spark_count, (double)lowest);
        if ((f + 1) % 300 == 0)
            puts(line);
        scratch_end(tmp);

        frame_arena_end(fa);

        if ((f + 1) % 60 == 0) {
            FrameArenaStats st = frame_arena_stats(fa);
            printf("frame %4" PRIu64 "  particles %6zu  sparks %5zu  used %8zu  avg %8zu  max %8zu  committed %9zu"
                   "  trims %" PRIu64 "\n",
                   st.last.frame, count, spark_count, st.last.used, st.used_avg, st.used_max, st.committed, st.trims);
        }
    }
    FrameArenaStats st = frame_arena_stats(fa);
    printf("%" PRIu64 " frames, all-time peak %zu bytes, committed %zu of %zu reserved, %" PRIu64
           " over budget, %" PRIu64 " trims\n",
           st.frames, st.peak_all_time, st.committed, st.reserved, st.budget_overruns, st.trims);
    frame_arena_destroy(fa);
    return 0;
}
