/* transient: the arena and malloc backends behind one call (see transient.h). */
#include "transient.h"

#include <SDL.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const system_names[System_Count] = {"particles", "spawn", "grid", "sort", "vertices", "overlay"};

static void free_slot(MallocSlot *slot)
{
    for (size_t i = 0; i < slot->count; i++)
        free(slot->blocks[i]);
    slot->count = 0;
}

void transient_begin(Transient *t, FrameArena *fa, uint64_t frame_number)
{
    uint64_t start = SDL_GetPerformanceCounter();
    uint32_t lanes = frame_arena_lanes(fa);
    t->lanes = lanes < TRANSIENT_LANES ? lanes : TRANSIENT_LANES;
    t->slot = (uint32_t)(frame_number % TRANSIENT_SLOTS);
    for (uint32_t l = 0; l < t->lanes; l++) {
        TransientLane *lane = &t->lane[l];
        lane->frame = frame_arena_lane(fa, l, 0);
        free_slot(&lane->slots[t->slot]); /* whatever the backend now: blocks from before a switch must go too */
        lane->counts = (TransientCounts){0};
    }
    t->lane[0].counts.alloc_ticks = SDL_GetPerformanceCounter() - start;
}

static void *malloc_block(TransientLane *lane, uint32_t slot_index, size_t size, size_t align)
{
    MallocSlot *slot = &lane->slots[slot_index];
    if (slot->count == slot->capacity) {
        size_t capacity = slot->capacity ? slot->capacity * 2 : 64;
        void **blocks = realloc(slot->blocks, capacity * sizeof *blocks);
        if (!blocks)
            return NULL;
        slot->blocks = blocks;
        slot->capacity = capacity;
    }
    if (align < sizeof(void *))
        align = sizeof(void *);
    if (size > SIZE_MAX - align) /* as the arena's push: too big fails, not rounded to a small block */
        return NULL;
    size_t rounded = (size + align - 1) / align * align; /* aligned_alloc wants a multiple */
    void *p = aligned_alloc(align, rounded ? rounded : align);
    if (p)
        slot->blocks[slot->count++] = p;
    return p;
}

/* Charges one allocation of size bytes, started at `start`, to the lane:
 * its time, and its bytes and block if the backend gave them (p), else a
 * failure; returns p. */
static void *counted(TransientLane *lane, System sys, size_t size, uint64_t start, void *p)
{
    lane->counts.alloc_ticks += SDL_GetPerformanceCounter() - start;
    if (p) {
        lane->counts.bytes[sys] += size;
        lane->counts.allocs++;
    } else {
        lane->counts.failed++;
    }
    return p;
}

static void check_lane(const Transient *t, uint32_t lane)
{
    if (lane >= t->lanes) {
        fprintf(stderr, "transient: lane %u of %u\n", (unsigned)lane, (unsigned)t->lanes);
        abort();
    }
}

void *transient_lane_alloc(Transient *t, uint32_t lane_index, System sys, size_t size, size_t align)
{
    check_lane(t, lane_index);
    TransientLane *lane = &t->lane[lane_index];
    uint64_t start = SDL_GetPerformanceCounter();
    void *p = t->backend == Backend_Arena ? page_stack_try_push(lane->frame, size, align)
                                          : malloc_block(lane, t->slot, size, align);
    return counted(lane, sys, size, start, p);
}

void *transient_alloc(Transient *t, System sys, size_t size, size_t align)
{
    return transient_lane_alloc(t, 0, sys, size, align);
}

void *transient_copy(Transient *t, System sys, const void *src, size_t size, size_t align)
{
    TransientLane *lane = &t->lane[0];
    uint64_t start = SDL_GetPerformanceCounter();
    void *p;
    if (t->backend == Backend_Arena) {
        p = page_stack_try_push_copy(lane->frame, src, size, align);
    } else {
        p = malloc_block(lane, t->slot, size, align);
        if (p && size)
            memcpy(p, src, size);
    }
    return counted(lane, sys, size, start, p);
}

TransientMark transient_mark(Transient *t)
{
    TransientLane *lane = &t->lane[0];
    if (t->backend == Backend_Arena)
        return (TransientMark){.arena = page_stack_mark(lane->frame)};
    return (TransientMark){.blocks = lane->slots[t->slot].count};
}

void transient_pop(Transient *t, TransientMark m)
{
    TransientLane *lane = &t->lane[0];
    uint64_t start = SDL_GetPerformanceCounter();
    if (t->backend == Backend_Arena) {
        page_stack_pop_to(m.arena);
    } else {
        MallocSlot *slot = &lane->slots[t->slot];
        while (slot->count > m.blocks)
            free(slot->blocks[--slot->count]);
    }
    lane->counts.alloc_ticks += SDL_GetPerformanceCounter() - start;
}

size_t transient_room(const Transient *t, uint32_t lane)
{
    check_lane(t, lane);
    if (t->backend != Backend_Arena)
        return SIZE_MAX;
    PageStackStats st = page_stack_stats(t->lane[lane].frame);
    return st.reserved - st.pos;
}

size_t transient_fit(const Transient *t, uint32_t lane, size_t asked, size_t item_bytes)
{
    size_t room = transient_room(t, lane);
    if (room == SIZE_MAX)
        return asked / 2;
    size_t fit = room > TRANSIENT_SPARE ? (room - TRANSIENT_SPARE) / item_bytes : 0;
    return fit < asked ? fit : asked / 2;
}

TransientCounts transient_counts(const Transient *t)
{
    TransientCounts sum = {0};
    for (uint32_t l = 0; l < t->lanes; l++) {
        const TransientCounts *c = &t->lane[l].counts;
        for (int s = 0; s < System_Count; s++)
            sum.bytes[s] += c->bytes[s];
        sum.allocs += c->allocs;
        sum.failed += c->failed;
        sum.alloc_ticks += c->alloc_ticks;
    }
    return sum;
}

size_t transient_bytes(const TransientCounts *c)
{
    size_t sum = 0;
    for (int s = 0; s < System_Count; s++)
        sum += c->bytes[s];
    return sum;
}

void transient_shutdown(Transient *t)
{
    for (uint32_t l = 0; l < TRANSIENT_LANES; l++)
        for (int i = 0; i < TRANSIENT_SLOTS; i++) {
            free_slot(&t->lane[l].slots[i]);
            free(t->lane[l].slots[i].blocks);
            t->lane[l].slots[i] = (MallocSlot){0};
        }
}
