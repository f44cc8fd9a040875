/* frame_arena: memory that lives for a frame (or a few), reset in O(1).
 *
 * N page stacks (frames_in_flight, 1..4) are rotated by the frame number:
 * frame_arena_begin picks the buffer last used N frames ago, resets it and
 * returns it, so data pushed in frame F stays valid through frame F+N-1. At
 * frame_arena_end the arena records a per-frame sample (bytes used, peak,
 * pushes, committed), checks the soft budget, and applies the trim policy:
 * committed memory above the recent high-water is given back to the OS only
 * after trim_after quiet frames, never in a steady state.
 * It knows nothing of SDL or the OS. begin, end and the calls that read the
 * arena are made from one thread at a time (begin may happen on another
 * thread than the previous end).
 *
 * Lanes, for threads that push in the same frame: with desc.lanes = L, each
 * frame has L stacks, one per lane, and begin resets them all. A worker takes
 * its lane's stack with frame_arena_lane(fa, lane, 0) and is the only thread
 * pushing to it until the frame ends; begin returns lane 0's. Once the
 * workers are done (whatever waits for your jobs), end sums the lanes into
 * the frame's sample, and the data of every lane stays valid as long as a
 * single stack's would. Each lane is trimmed by its own high-water. While
 * workers push, only frame_arena_lane, _lanes, _stack and _frame, which
 * write nothing, may be called: begin, end, stats, history and check read
 * or change every lane's stack.
 *
 *     FrameArena *fa = frame_arena_create(&(FrameArenaDesc){ .budget = 8 << 20 });
 *     for (;;) {
 *         PageStack *frame = frame_arena_begin(fa);     // last frame's buffer stays valid
 *         Vertex *v = push_array(frame, Vertex, count);
 *         ...
 *         frame_arena_end(fa);
 *     }
 *     frame_arena_destroy(fa);
 *
 * Programming errors (fatal, one line): begin twice without end, end without
 * begin, begin, end or destroy from on_budget (it runs inside end; it may
 * read the arena and trim it; on_frame, which runs once the frame has ended,
 * may destroy it), frames_in_flight above 4, lanes above 256, a lane not
 * below lanes.
 * The checked build also stops a push to a frame's stack after its end.
 */
#ifndef FRAME_ARENA_FRAME_ARENA_H
#define FRAME_ARENA_FRAME_ARENA_H

#include "page_stack.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct FrameArena FrameArena;

typedef struct FrameSample {
    uint64_t frame;                 /* the frame number this sample describes */
    size_t used, peak, committed;   /* used: pos at end; peak: highest pos inside the frame; committed: all buffers */
    uint32_t pushes, failed_pushes; /* inside the frame; used, peak and the pushes are summed over the lanes */
} FrameSample;

typedef struct FrameArenaDesc {
    const char *name;          /* default "frame"; also the buffers' name unless stack.name is set (with
                                  " lane N" after it when lanes > 1, the name cut so that it fits in the
                                  63 bytes a stack keeps); copied */
    uint32_t frames_in_flight; /* 1..4, default 2: data pushed in frame N stays valid through frame N+1 */
    PageStackDesc stack;       /* used for each buffer (its defaults) */
    size_t budget;             /* soft per-frame budget in bytes; 0 = none */
    void (*on_budget)(FrameArena *fa, size_t used, void *user); /* once per frame whose peak crosses budget, inside
                                                                   frame_arena_end; may be NULL */
    void *user;                /* passed to on_budget and on_frame */
    /* at each end, with the frame's sample; may be NULL */
    void (*on_frame)(FrameArena *fa, const FrameSample *sample, void *user);
    uint32_t history;          /* per-frame samples kept; default 240 (40 bytes each) */
    uint32_t trim_after;       /* quiet frames before decommitting above the recent high-water; default 300;
                                  UINT32_MAX = never trim (lanes x trim_after x 16 bytes of windows; these
                                  and the samples are mapped at create while they take under 4 MiB) */
    uint32_t lanes;            /* 1..256, default 1: stacks per frame, one for each thread pushing at once */
} FrameArenaDesc;


typedef struct FrameArenaStats {
    FrameSample last;                    /* last completed frame (zeroed before the first) */
    size_t used_min, used_avg, used_max; /* over the kept history; avg: the mean, rounded down */
    size_t peak_all_time, committed, reserved; /* committed and reserved: totals over all buffers now */
    uint64_t frames, trims, budget_overruns;   /* frames: completed; trims: buffers trimmed */
} FrameArenaStats;

/* desc NULL or zeroed: all defaults. NULL if it cannot be made, and
 * page_stack_create_error says why: ReserveFailed or CommitFailed for one of
 * its stacks, SizeOverflow for its bookkeeping (history, trim_after, lanes) or
 * a stack's sizes. */
FrameArena *frame_arena_create(const FrameArenaDesc *desc);
void frame_arena_destroy(FrameArena *fa);                   /* NULL is a no-op */
/* Takes desc's on_budget, on_frame and user, and desc->stack's on_fail,
 * hooks and user for every buffer (page_stack_set_hooks), in place of the
 * arena's; its other fields are not read. An arena holds no pointer into
 * the library's own code or data: after a reload of the code that made it,
 * this points it at the new copy's functions. Fatal: desc NULL, a call from
 * on_budget, a cursor open on a buffer (then nothing changes). From the
 * thread that calls frame_arena_begin and _end, while no worker pushes. */
void frame_arena_set_hooks(FrameArena *fa, const FrameArenaDesc *desc);
PageStack *frame_arena_begin(FrameArena *fa); /* next frame: resets the buffer last used frames_in_flight frames ago */
void frame_arena_end(FrameArena *fa);         /* records this frame's sample, applies the budget and the trim policy */
PageStack *frame_arena_stack(FrameArena *fa, uint32_t frames_ago); /* 0 = current (or just ended); NULL if not kept */
/* Lane `lane`'s stack of that frame (lane 0's is frame_arena_stack's); NULL if
 * not kept. It writes nothing: workers may call it at once during a frame. */
PageStack *frame_arena_lane(FrameArena *fa, uint32_t lane, uint32_t frames_ago);
uint32_t frame_arena_lanes(const FrameArena *fa); /* desc.lanes, after its default */
/* number of the current frame, or of the last ended; 0 before the first */
uint64_t frame_arena_frame(const FrameArena *fa);

FrameArenaStats frame_arena_stats(const FrameArena *fa);
void frame_arena_check(const FrameArena *fa); /* page_stack_check on each of its stacks (the checked build) */
/* Gives back to the OS now, in every buffer and lane, the committed memory
 * above what the buffer holds (and above its initial_commit), instead of
 * trim_after frames later: after a level load, or when the game goes to the
 * background. The frames in flight keep their data; what they hold goes back
 * when their buffers are next reset by frame_arena_begin, so one call gives
 * everything back within frames_in_flight frames (the buffer of a frame open
 * at the call keeps what that frame goes on to push). Any time the arena's
 * thread owns it (not while workers push). Returns the bytes given back now;
 * each buffer trimmed, now or at its reset, counts in stats.trims. */
size_t frame_arena_trim(FrameArena *fa);
/* newest min(max, kept), oldest first */
size_t frame_arena_history(const FrameArena *fa, FrameSample *out, size_t max);
/* Which frame in flight holds the byte at p: 0 for the current frame (or the
 * one just ended), 1 for the one before, up to frames_in_flight - 1, on any
 * lane (page_stack_holds on each of the arena's stacks); -1 when no frame
 * still holds it: another allocator's memory, or a frame's that
 * frame_arena_begin has reset since. For debug checks: a pointer about to
 * be kept for longer than frames_in_flight frames must give -1. From the
 * arena's thread, while no worker pushes. Fatal: a NULL arena, a cursor
 * open on one of its stacks. */
int frame_arena_frames_ago(const FrameArena *fa, const void *p);

#ifdef __cplusplus
}
#endif

#endif
