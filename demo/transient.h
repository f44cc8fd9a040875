/* transient: where the demo's per-frame buffers come from.
 *
 * The same game code runs on either backend, so the two can be compared
 * live (F2): the frame arena (push, nothing to free, reset by
 * frame_arena_begin) or malloc/free (every block remembered and freed when
 * its frame's slot comes round again, frames_in_flight frames later, which
 * is the lifetime the arena gives for free). Each allocation is charged to
 * a system, so the overlay can show where a frame's bytes went, and the time
 * spent allocating and freeing is measured for whichever backend is active.
 *
 * Lanes: the frame arena has a lane for each worker thread. Lane L's
 * allocations (transient_lane_alloc) go to the arena's lane L stack, or to
 * lane L's own list of malloc blocks, and are counted in lane L's counters,
 * so the worker on lane L is the only thread that touches them until the
 * workers are done. transient_alloc is lane 0's, the main thread's.
 */
#ifndef DEMO_TRANSIENT_H
#define DEMO_TRANSIENT_H

#include "frame_arena.h"

#include <stdbool.h>

typedef enum System {
    System_Particles,
    System_Spawn,
    System_Grid,
    System_Sort,
    System_Vertices,
    System_Overlay,
    System_Count,
} System;

extern const char *const system_names[System_Count];

typedef enum Backend {
    Backend_Arena,
    Backend_Malloc,
    Backend_Count,
} Backend;

#define TRANSIENT_SLOTS 2  /* frames in flight: last frame's particles are read this frame */
#define TRANSIENT_LANES 64 /* the most lanes: one per thread, and --threads goes up to 64 */

typedef struct MallocSlot {
    void **blocks;
    size_t count, capacity;
} MallocSlot;

typedef struct TransientCounts {
    size_t bytes[System_Count]; /* given this frame, per system (a block the backend refused is in `failed` alone) */
    uint32_t allocs, failed;    /* this frame: the blocks given, and those refused */
    uint64_t alloc_ticks;       /* this frame, in SDL performance-counter ticks */
} TransientCounts;

typedef struct TransientLane {
    PageStack *frame;                  /* the arena backend's stack: this lane's of this frame */
    MallocSlot slots[TRANSIENT_SLOTS]; /* the malloc backend's blocks per frame slot */
    TransientCounts counts;
} TransientLane;

typedef struct Transient {
    Backend backend;
    uint32_t slot;
    uint32_t lanes; /* the arena's lanes, set by transient_begin */
    TransientLane lane[TRANSIENT_LANES];
} Transient;

/* Starts a frame, after frame_arena_begin: takes this frame's stack of every
 * lane of fa (at most TRANSIENT_LANES) and frees the malloc blocks of the
 * slot being reused. */
void transient_begin(Transient *t, FrameArena *fa, uint64_t frame_number);

/* Uninitialised memory for this frame (and the next), on lane 0. NULL only
 * if the backend is out of memory, counted in `failed`. */
void *transient_alloc(Transient *t, System sys, size_t size, size_t align);

/* The same on lane `lane` (below t->lanes; fatal otherwise), for the one
 * thread that works on that lane this frame. */
void *transient_lane_alloc(Transient *t, uint32_t lane, System sys, size_t size, size_t align);

/* A copy of the size bytes at src for this frame (and the next), on lane
 * 0: page_stack_try_push_copy on the arena, a block and memcpy on malloc.
 * src may be NULL when size is 0. NULL as transient_alloc; the copy's time
 * counts as allocation time on either backend. */
void *transient_copy(Transient *t, System sys, const void *src, size_t size, size_t align);

/* Lane 0's allocations so far, for transient_pop: the arena stack's mark,
 * or the malloc backend's count of this frame's blocks. */
typedef struct TransientMark {
    PageStackMark arena;
    size_t blocks;
} TransientMark;

TransientMark transient_mark(Transient *t);

/* Gives back lane 0's blocks allocated since m, taken in this frame, as
 * the draw gives back its batch buffer once it is done: the arena pops its
 * stack to m, malloc frees them. They stay counted as given this frame
 * (bytes, blocks); the time counts as allocation time. */
void transient_pop(Transient *t, TransientMark m);

/* The bytes a block on lane `lane` (below t->lanes) could still have this
 * frame, as far as the backend can tell: on the arena, what the lane's
 * stack reserves above its top (the OS may yet refuse to commit them);
 * SIZE_MAX on malloc, which cannot tell. To size a block before it is
 * asked for (the particle update's), or after one was refused
 * (transient_fit). */
size_t transient_room(const Transient *t, uint32_t lane);

/* What a fallback leaves free on a lane for the rest of the frame: the
 * grid, the entities' vertices and the overlay with its stats took 30 KiB
 * of lane 0 in a frame of one particle (the report's `used`, 640x360); on
 * lane 0 the rest is room for the buffer that the quads the lanes could
 * not hold are drawn from in batches, popped before the entities (main.c). */
#define TRANSIENT_SPARE ((size_t)64 << 10)

/* After a block of `asked` items of item_bytes each was refused on the
 * lane: how many to ask for instead. On the arena, what the lane's room
 * holds beside TRANSIENT_SPARE; half of `asked` where the room was there
 * (the OS refused to commit it) and on malloc, which cannot tell. */
size_t transient_fit(const Transient *t, uint32_t lane, size_t asked, size_t item_bytes);

/* This frame's counts summed over the lanes: read once the workers are done. */
TransientCounts transient_counts(const Transient *t);

/* The bytes c counts, over every system. */
size_t transient_bytes(const TransientCounts *c);

/* Frees everything the malloc backend still holds. */
void transient_shutdown(Transient *t);

#endif
