/* transient: where the demo's per-frame buffers come from.
 *
 * The same game code runs on either backend, so the two can be compared
 * live (F2): the frame arena (push, nothing to free, reset by
 * frame_arena_begin) or malloc/free (every block remembered and freed when
 * its frame's slot comes round again, frames_in_flight frames later, which
 * is the lifetime the arena gives for free). Each allocation is charged to
 * a system, so the overlay can show where a frame's bytes went, and the time
 * spent allocating and freeing is measured for whichever backend is active.
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
} Backend;

#define TRANSIENT_SLOTS 2 /* frames in flight: last frame's particles are read this frame */

typedef struct MallocSlot {
    void **blocks;
    size_t count, capacity;
} MallocSlot;

typedef struct Transient {
    Backend backend;
    PageStack *frame;                  /* the arena backend's buffer for this frame */
    MallocSlot slots[TRANSIENT_SLOTS]; /* the malloc backend's blocks per frame slot */
    uint32_t slot;
    size_t bytes[System_Count];        /* requested this frame, per system */
    uint32_t allocs, failed;           /* this frame */
    uint64_t alloc_ticks;              /* this frame, in SDL performance-counter ticks */
} Transient;

/* Starts a frame: frees the malloc blocks of the slot being reused. frame is
 * the frame arena's buffer for this frame (used by the arena backend). */
void transient_begin(Transient *t, PageStack *frame, uint64_t frame_number);

/* Uninitialised memory for this frame (and the next). NULL only if the
 * backend is out of memory, counted in `failed`. */
void *transient_alloc(Transient *t, System sys, size_t size, size_t align);

/* Frees everything the malloc backend still holds. */
void transient_shutdown(Transient *t);

#endif
