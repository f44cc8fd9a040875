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
 * `dropped` and not shown, so that every alloc Tracy sees is freed. The
 * hooks take a spin lock around the table, so the lanes of one arena may be
 * pushed from several threads at once.
 */
#ifndef FRAME_ARENA_FRAME_ARENA_TRACY_H
#define FRAME_ARENA_FRAME_ARENA_TRACY_H

#ifdef FRAME_ARENA_TRACY

#include "frame_arena.h"

#include <tracy/TracyC.h>

#if defined(_MSC_VER) && !defined(__clang__)
#include <intrin.h>
#endif

#ifndef FRAME_ARENA_TRACY_MAX_LIVE
#define FRAME_ARENA_TRACY_MAX_LIVE 65536
#endif

typedef struct FrameArenaTracy {
    const char *name; /* the pool in Tracy's memory views: Tracy keeps the pointer, names the pool by it
                         and reads the string when it needs it, so a string literal (valid while the
                         program runs), not a buffer */
    const char *plot; /* the plot of bytes used per frame, a string literal too; NULL = name */
    long lock;        /* held by a hook while it uses the table; 0 = free */
    uint32_t count;   /* pushes live in Tracy now */
    uint64_t dropped; /* pushes not shown: the table was full */
    struct {
        void *ptr;
        PageStack *ps;
        size_t end; /* the stack's pos after the push */
    } live[FRAME_ARENA_TRACY_MAX_LIVE];
} FrameArenaTracy;

/* C casts, as in page_stack.h: not a C++ game's -Wold-style-cast's business. */
#if defined(__cplusplus) && (defined(__GNUC__) || defined(__clang__))
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wold-style-cast"
#endif

static inline void frame_arena_tracy_lock(FrameArenaTracy *t)
{
#if defined(_MSC_VER) && !defined(__clang__)
    while (_InterlockedExchange(&t->lock, 1))
        ;
#else
    while (__atomic_exchange_n(&t->lock, 1, __ATOMIC_ACQUIRE))
        while (__atomic_load_n(&t->lock, __ATOMIC_RELAXED))
            ;
#endif
}

static inline void frame_arena_tracy_unlock(FrameArenaTracy *t)
{
#if defined(_MSC_VER) && !defined(__clang__)
    _InterlockedExchange(&t->lock, 0);
#else
    __atomic_store_n(&t->lock, 0, __ATOMIC_RELEASE);
#endif
}

static inline void frame_arena_tracy_on_push(PageStack *ps, void *ptr, size_t size, void *user)
{
    FrameArenaTracy *t = (FrameArenaTracy *)user;
    size_t end = page_stack_pos(ps);
    frame_arena_tracy_lock(t);
    if (t->count == FRAME_ARENA_TRACY_MAX_LIVE) {
        t->dropped++;
    } else {
        t->live[t->count].ptr = ptr;
        t->live[t->count].ps = ps;
        t->live[t->count].end = end;
        t->count++;
        TracyCAllocN(ptr, size, t->name);
    }
    frame_arena_tracy_unlock(t);
}

/* Frees, newest first, this stack's pushes that ended above pos. */
static inline void frame_arena_tracy_on_pop(PageStack *ps, size_t pos, void *user)
{
    FrameArenaTracy *t = (FrameArenaTracy *)user;
    uint32_t kept = 0;
    frame_arena_tracy_lock(t);
    for (uint32_t i = t->count; i > 0; i--)
        if (t->live[i - 1].ps == ps && t->live[i - 1].end > pos)
            TracyCFreeN(t->live[i - 1].ptr, t->name);
    for (uint32_t i = 0; i < t->count; i++)
        if (!(t->live[i].ps == ps && t->live[i].end > pos))
            t->live[kept++] = t->live[i];
    t->count = kept;
    frame_arena_tracy_unlock(t);
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

#if defined(__cplusplus) && (defined(__GNUC__) || defined(__clang__))
#pragma GCC diagnostic pop
#endif

#endif /* FRAME_ARENA_TRACY */
#endif
