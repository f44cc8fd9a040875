/* transient: the arena and malloc backends behind one call (see transient.h). */
#include "transient.h"

#include <SDL.h>
#include <stdlib.h>

const char *const system_names[System_Count] = {"particles", "spawn", "grid", "sort", "vertices", "overlay"};

static void free_slot(MallocSlot *slot)
{
    for (size_t i = 0; i < slot->count; i++)
        free(slot->blocks[i]);
    slot->count = 0;
}

void transient_begin(Transient *t, PageStack *frame, uint64_t frame_number)
{
    uint64_t start = SDL_GetPerformanceCounter();
    t->frame = frame;
    t->slot = (uint32_t)(frame_number % TRANSIENT_SLOTS);
    free_slot(&t->slots[t->slot]); /* whatever the backend now: blocks from a switch must go too */
    memset(t->bytes, 0, sizeof t->bytes);
    t->allocs = t->failed = 0;
    t->alloc_ticks = SDL_GetPerformanceCounter() - start;
}

static void *malloc_block(Transient *t, size_t size, size_t align)
{
    MallocSlot *slot = &t->slots[t->slot];
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
    size_t rounded = (size + align - 1) / align * align; /* aligned_alloc wants a multiple */
    void *p = aligned_alloc(align, rounded ? rounded : align);
    if (p)
        slot->blocks[slot->count++] = p;
    return p;
}

void *transient_alloc(Transient *t, System sys, size_t size, size_t align)
{
    uint64_t start = SDL_GetPerformanceCounter();
    void *p = t->backend == Backend_Arena ? page_stack_try_push(t->frame, size, align) : malloc_block(t, size, align);
    t->alloc_ticks += SDL_GetPerformanceCounter() - start;
    t->bytes[sys] += size;
    t->allocs++;
    if (!p)
        t->failed++;
    return p;
}

void transient_shutdown(Transient *t)
{
    for (int i = 0; i < TRANSIENT_SLOTS; i++) {
        free_slot(&t->slots[i]);
        free(t->slots[i].blocks);
        t->slots[i] = (MallocSlot){0};
    }
}
