/* frame_arena_tracy.h: the tool hooks mapped to Tracy's C API (opt-in).
 *
 * Empty unless the including file defines FRAME_ARENA_TRACY and can include
 * <tracy/TracyC.h> (Tracy's public/ directory on the include path, and
 * TRACY_ENABLE defined for a profiling build). Each push becomes
 * TracyCAllocN in a named pool, each pop and reset frees what it released
 * with TracyCFreeN, and each frame end is a TracyCFrameMark plus a plot of
 * the frame's bytes.
 *
 *     #define FRAME_ARENA_TRACY
 *     #include "frame_arena_tracy.h"
 *
 *     static FrameArenaTracy tracy = {.name = "frame"};   // static: it holds the live-push table
 *     FrameArena *fa = frame_arena_create(&(FrameArenaDesc){
 *         .stack = {.on_push = frame_arena_tracy_on_push, .on_pop = frame_arena_tracy_on_pop,
 *                   .on_reset = frame_arena_tracy_on_reset, .user = &tracy},
 *         .on_frame = frame_arena_tracy_on_frame, .user = &tracy});
 *
 * The stacks' `user` is the FrameArenaTracy, so a custom on_fail on those
 * stacks receives it too. Up to FRAME_ARENA_TRACY_MAX_LIVE pushes are
 * tracked at once (default 65536); pushes beyond that are counted in
 * `dropped` and not shown, so that every alloc Tracy sees is freed.
 */
#ifndef FRAME_ARENA_FRAME_ARENA_TRACY_H
#define FRAME_ARENA_FRAME_ARENA_TRACY_H

#ifdef FRAME_ARENA_TRACY

#include "frame_arena.h"

#include <tracy/TracyC.h>

#ifndef FRAME_ARENA_TRACY_MAX_LIVE
#define FRAME_ARENA_TRACY_MAX_LIVE 65536
#endif

typedef struct FrameArenaTracy {
    const char *name; /* the pool in Tracy's memory views; must outlive the arena */
    const char *plot; /* the plot of bytes used per frame; NULL = name */
    uint32_t count;   /* pushes live in Tracy now */
    uint64_t dropped; /* pushes not shown: the table was full */
    struct {
        void *ptr;
        PageStack *ps;
        size_t end; /* the stack's pos after the push */
    } live[FRAME_ARENA_TRACY_MAX_LIVE];
} FrameArenaTracy;

static inline void frame_arena_tracy_on_push(PageStack *ps, void *ptr, size_t size, void *user)
{
    FrameArenaTracy *t = (FrameArenaTracy *)user;
    if (t->count == FRAME_ARENA_TRACY_MAX_LIVE) {
        t->dropped++;
        return;
    }
    t->live[t->count].ptr = ptr;
    t->live[t->count].ps = ps;
    t->live[t->count].end = page_stack_pos(ps);
    t->count++;
    TracyCAllocN(ptr, size, t->name);
}

/* Frees, newest first, this stack's pushes that ended above pos. */
static inline void frame_arena_tracy_on_pop(PageStack *ps, size_t pos, void *user)
{
    FrameArenaTracy *t = (FrameArenaTracy *)user;
    uint32_t kept = 0;
    for (uint32_t i = t->count; i > 0; i--)
        if (t->live[i - 1].ps == ps && t->live[i - 1].end > pos)
            TracyCFreeN(t->live[i - 1].ptr, t->name);
    for (uint32_t i = 0; i < t->count; i++)
        if (!(t->live[i].ps == ps && t->live[i].end > pos))
            t->live[kept++] = t->live[i];
    t->count = kept;
}

static inline void frame_arena_tracy_on_reset(PageStack *ps, void *user)
{
    frame_arena_tracy_on_pop(ps, 0, user);
}

static inline void frame_arena_tracy_on_frame(FrameArena *fa, const FrameSample *sample, void *user)
{
    FrameArenaTracy *t = (FrameArenaTracy *)user;
    (void)fa;
    TracyCFrameMark;
    TracyCPlot(t->plot ? t->plot : t->name, (double)sample->used);
}

#endif /* FRAME_ARENA_TRACY */
#endif
