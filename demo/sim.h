/* sim: the demo's world, free of SDL rendering.
 *
 * Two lifetimes, two arenas:
 *  - entities (attractors, emitters, obstacles) live as long as the level, in
 *    a level PageStack that R (restart) resets;
 *  - particles live one frame: each step reads the previous array (last
 *    frame's buffer, still valid with two frames in flight) and writes the
 *    survivors plus new spawns into a fresh array of this frame. There is no
 *    particle pool and no free list: compaction comes from copying forward.
 * Every step also builds a spatial hash grid of the obstacles and a spawn
 * list in frame memory. The particle update is split across worker threads,
 * each compacting its part through its own scratch stack (or in place, where
 * that cannot hold it); the result depends on neither the number of threads
 * nor the scratch's size.
 *
 * A frame short of memory (a small --frame-reserve, a failing malloc)
 * degrades the world rather than losing it: the particles' array takes as
 * many as fit with their sort keys, the spawns held back first and then the
 * oldest particles shed (World.held, World.shed). Only a step that cannot
 * have even that, or its grid, drops every particle (World.failed).
 */
#ifndef DEMO_SIM_H
#define DEMO_SIM_H

#include "transient.h"
#include "workers.h"

#include <cglm/struct.h>
#include <stdbool.h>

typedef enum EntityKind {
    Entity_Attractor,
    Entity_Emitter,
    Entity_Obstacle,
} EntityKind;

typedef struct Entity {
    vec2s pos, vel;
    float radius;
    EntityKind kind;
} Entity;

typedef struct Particle {
    vec2s pos, vel;
    float life;    /* seconds left */
    uint32_t seed; /* per-particle randomness, independent of thread count */
} Particle;

typedef struct World {
    PageStack *level; /* entity lifetime */
    Entity *entities;
    uint32_t entity_count;
    Particle *particles; /* in frame memory: this frame's after a step, else last frame's */
    uint32_t count;
    uint32_t target;     /* particles the emitters keep alive */
    uint64_t seed, rng;
    uint64_t steps;
    float width, height;
    vec2s burst_at;
    uint32_t burst;      /* particles to spawn at burst_at on the next step */
    uint32_t failed;     /* steps that could not get their memory: every particle dropped */
    uint64_t shed, held; /* particles left out for want of frame memory: the oldest, and spawns not made */
    size_t scratch_peak, scratch_reserved; /* the highest top any thread's scratch stack reached; its reservation */
    uint64_t in_place;   /* update parts their thread's scratch could not hold, compacted in place */
} World;

/* level: the PageStack for entities. Places entities from seed. */
void world_init(World *w, PageStack *level, uint64_t seed, float width, float height, uint32_t target);
void world_restart(World *w); /* resets the level stack, new entities, no particles */

/* One fixed step of dt seconds into this frame's memory. */
void world_step(World *w, Transient *t, Workers *workers, float dt);

/* Frames without a step still move the particles into this frame's memory,
 * because last frame's buffer is reset at the next begin. */
void world_carry(World *w, Transient *t);

uint64_t world_checksum(const World *w);

#endif
