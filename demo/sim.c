/* sim: entities in the level arena, particles carried forward frame to frame
 * (see sim.h). Everything a step needs besides the entities is built in
 * frame memory through the transient backend and simply forgotten. */
#include "sim.h"

#include "scratch.h"

#include <math.h>
#include <string.h>

#define ATTRACTORS 3
#define EMITTERS 4
#define OBSTACLES 12
#define GRID_CELL 48.0f

static uint64_t next_u64(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static float next_unit(uint64_t *state) /* [0, 1) */
{
    return (float)(next_u64(state) >> 40) / (float)(1u << 24);
}

static void place_entities(World *w)
{
    uint64_t rng = w->seed;
    w->entity_count = ATTRACTORS + EMITTERS + OBSTACLES;
    w->entities = push_array(w->level, Entity, w->entity_count);
    for (uint32_t i = 0; i < w->entity_count; i++) {
        Entity *e = &w->entities[i];
        e->kind = i < ATTRACTORS ? Entity_Attractor : i < ATTRACTORS + EMITTERS ? Entity_Emitter : Entity_Obstacle;
        e->pos = (vec2s){{w->width * (0.1f + 0.8f * next_unit(&rng)), w->height * (0.1f + 0.8f * next_unit(&rng))}};
        float speed = e->kind == Entity_Obstacle ? 20.0f : 40.0f;
        float angle = 6.2831853f * next_unit(&rng);
        e->vel = (vec2s){{cosf(angle) * speed, sinf(angle) * speed}};
        e->radius = e->kind == Entity_Obstacle ? 18.0f + 30.0f * next_unit(&rng)
                    : e->kind == Entity_Attractor ? 10.0f
                                                  : 6.0f;
    }
    w->rng = next_u64(&rng);
}

void world_init(World *w, PageStack *level, uint64_t seed, float width, float height, uint32_t target)
{
    *w = (World){.level = level, .seed = seed, .width = width, .height = height, .target = target};
    place_entities(w);
}

void world_restart(World *w)
{
    page_stack_reset(w->level);
    w->particles = NULL;
    w->count = 0;
    w->burst = 0;
    place_entities(w);
}

static void move_entities(World *w, float dt)
{
    for (uint32_t i = 0; i < w->entity_count; i++) {
        Entity *e = &w->entities[i];
        e->pos = glms_vec2_add(e->pos, glms_vec2_scale(e->vel, dt));
        if ((e->pos.x < e->radius && e->vel.x < 0) || (e->pos.x > w->width - e->radius && e->vel.x > 0))
            e->vel.x = -e->vel.x;
        if ((e->pos.y < e->radius && e->vel.y < 0) || (e->pos.y > w->height - e->radius && e->vel.y > 0))
            e->vel.y = -e->vel.y;
    }
}

/* Spatial hash grid of the obstacles: cell c holds items[start[c] .. start[c+1]). */
typedef struct Grid {
    uint32_t cols, rows;
    uint32_t *start;
    uint16_t *items;
} Grid;

static int clamp_cell(float v, uint32_t n)
{
    int c = (int)(v / GRID_CELL);
    return c < 0 ? 0 : c >= (int)n ? (int)n - 1 : c;
}

static bool build_grid(Grid *g, const World *w, Transient *t)
{
    g->cols = (uint32_t)(w->width / GRID_CELL) + 1;
    g->rows = (uint32_t)(w->height / GRID_CELL) + 1;
    uint32_t cells = g->cols * g->rows;
    g->start = transient_alloc(t, System_Grid, (cells + 1) * sizeof(uint32_t), alignof(uint32_t));
    uint32_t *cursor = transient_alloc(t, System_Grid, cells * sizeof(uint32_t), alignof(uint32_t));
    if (!g->start || !cursor)
        return false;
    memset(g->start, 0, (cells + 1) * sizeof(uint32_t));
    for (int pass = 0; pass < 2; pass++) {
        for (uint32_t i = 0; i < w->entity_count; i++) {
            const Entity *e = &w->entities[i];
            if (e->kind != Entity_Obstacle)
                continue;
            int x0 = clamp_cell(e->pos.x - e->radius, g->cols), x1 = clamp_cell(e->pos.x + e->radius, g->cols);
            int y0 = clamp_cell(e->pos.y - e->radius, g->rows), y1 = clamp_cell(e->pos.y + e->radius, g->rows);
            for (int y = y0; y <= y1; y++)
                for (int x = x0; x <= x1; x++) {
                    uint32_t c = (uint32_t)y * g->cols + (uint32_t)x;
                    if (pass == 0)
                        g->start[c + 1]++;
                    else
                        g->items[cursor[c]++] = (uint16_t)i;
                }
        }
        if (pass == 0) {
            for (uint32_t c = 0; c < cells; c++)
                g->start[c + 1] += g->start[c];
            memcpy(cursor, g->start, cells * sizeof(uint32_t));
            g->items = transient_alloc(t, System_Grid, (g->start[cells] + 1) * sizeof(uint16_t), alignof(uint16_t));
            if (!g->items)
                return false;
        }
    }
    return true;
}

typedef struct StepJob {
    const World *w;
    const Grid *grid;
    const Particle *in;
    uint32_t n;
    Particle *out;
    uint32_t kept[64];
    bool in_place[64]; /* the part's scratch could not hold it: compacted in the output instead */
    size_t scratch_peak[64], scratch_reserved[64]; /* of the scratch stack each part used */
    float dt;
} StepJob;

static bool update_particle(Particle *p, const World *w, const Grid *g, float dt)
{
    vec2s acc = {{0.0f, 30.0f}};
    for (uint32_t a = 0; a < ATTRACTORS; a++) {
        vec2s d = glms_vec2_sub(w->entities[a].pos, p->pos);
        float dist2 = glms_vec2_dot(d, d) + 400.0f;
        acc = glms_vec2_add(acc, glms_vec2_scale(d, 4.0e6f / (dist2 * sqrtf(dist2))));
    }
    p->vel = glms_vec2_scale(glms_vec2_add(p->vel, glms_vec2_scale(acc, dt)), 0.995f);
    p->pos = glms_vec2_add(p->pos, glms_vec2_scale(p->vel, dt));
    uint32_t c = (uint32_t)clamp_cell(p->pos.y, g->rows) * g->cols + (uint32_t)clamp_cell(p->pos.x, g->cols);
    for (uint32_t i = g->start[c]; i < g->start[c + 1]; i++) {
        const Entity *o = &w->entities[g->items[i]];
        vec2s d = glms_vec2_sub(p->pos, o->pos);
        float dist = glms_vec2_norm(d);
        if (dist < o->radius && dist > 1e-4f) {
            vec2s n = glms_vec2_scale(d, 1.0f / dist);
            p->pos = glms_vec2_add(o->pos, glms_vec2_scale(n, o->radius));
            float vn = glms_vec2_dot(p->vel, n);
            if (vn < 0)
                p->vel = glms_vec2_sub(p->vel, glms_vec2_scale(n, 1.8f * vn));
        }
    }
    if ((p->pos.x < 0 && p->vel.x < 0) || (p->pos.x > w->width && p->vel.x > 0))
        p->vel.x *= -0.8f;
    if ((p->pos.y < 0 && p->vel.y < 0) || (p->pos.y > w->height && p->vel.y > 0))
        p->vel.y *= -0.8f;
    p->life -= dt;
    return p->life > 0.0f;
}

/* One part of the update: survivors go to the thread's own scratch, then to
 * this part's place in the output (which cannot overlap another part's).
 * A part its scratch cannot hold (--scratch-reserve) is not an error: its
 * survivors go straight to that place, which gives the same particles in
 * the same order (the output is this frame's, the input last frame's). */
static void step_part(void *ctx, uint32_t part, uint32_t parts)
{
    StepJob *job = ctx;
    uint32_t begin = (uint32_t)((uint64_t)job->n * part / parts);
    uint32_t end = (uint32_t)((uint64_t)job->n * (part + 1) / parts);
    PageStackMark tmp = scratch_begin(NULL, 0);
    Particle *scratch = page_stack_push_array_with(tmp.stack, end - begin, sizeof(Particle), alignof(Particle),
                                                   PageStackPush_Try);
    Particle *kept = scratch ? scratch : job->out + begin;
    uint32_t k = 0;
    for (uint32_t i = begin; i < end; i++) {
        Particle p = job->in[i];
        if (update_particle(&p, job->w, job->grid, job->dt))
            kept[k++] = p;
    }
    if (scratch)
        memcpy(job->out + begin, scratch, k * sizeof *scratch);
    job->kept[part] = k;
    job->in_place[part] = !scratch;
    PageStackStats st = page_stack_stats(tmp.stack);
    job->scratch_peak[part] = st.peak;
    job->scratch_reserved[part] = st.reserved;
    scratch_end(tmp);
}

static Particle spawn_one(World *w, vec2s at, float speed)
{
    uint64_t r = next_u64(&w->rng);
    float angle = 6.2831853f * (float)(r & 0xFFFF) / 65536.0f;
    float s = speed * (0.3f + 0.7f * (float)((r >> 16) & 0xFFFF) / 65536.0f);
    return (Particle){
        .pos = at,
        .vel = {{cosf(angle) * s, sinf(angle) * s}},
        .life = 2.0f + 4.0f * (float)((r >> 32) & 0xFFFF) / 65536.0f,
        .seed = (uint32_t)(r >> 48) | 1u,
    };
}

static void drop_particles(World *w)
{
    w->failed++;
    w->particles = NULL;
    w->count = 0;
}

/* What a step can keep of *n particles and spawn of *spawns within lane 0's
 * room, beside TRANSIENT_SPARE for the rest of the frame (all of both on
 * malloc, which cannot tell): each particle takes its place in the new
 * array and its sort key, pushed by the draw; a spawn its place in the
 * spawn list besides. The spawns are held back first, then the oldest
 * particles shed. */
static void fit_step(const Transient *t, uint32_t *n, uint32_t *spawns)
{
    size_t room = transient_room(t, 0);
    if (room == SIZE_MAX)
        return;
    room = room > TRANSIENT_SPARE ? room - TRANSIENT_SPARE : 0;
    const size_t each = sizeof(Particle) + sizeof(uint64_t), spawn_each = each + sizeof(Particle);
    if (room / each < *n)
        *n = (uint32_t)(room / each);
    room -= *n * each;
    if (room / spawn_each < *spawns)
        *spawns = (uint32_t)(room / spawn_each);
}

void world_step(World *w, Transient *t, Workers *workers, float dt)
{
    move_entities(w, dt);
    Grid grid;
    if (!build_grid(&grid, w, t)) {
        drop_particles(w);
        return;
    }

    /* Spawn list: refill toward the target, plus any pending burst. */
    uint32_t want = 0;
    if (w->count < w->target) {
        want = w->target - w->count;
        uint32_t per_step = w->target / 40 + 16;
        want = want < per_step ? want : per_step;
    }
    uint32_t spawn_count = want + w->burst;
    w->burst = 0;
    uint32_t n = w->count, spawns = spawn_count;
    fit_step(t, &n, &spawns);
    Particle *spawn = transient_alloc(t, System_Spawn, (spawns + 1) * sizeof(Particle), alignof(Particle));
    if (!spawn)
        spawns = 0;
    Particle *out = NULL;
    for (int attempt = 0; !out && attempt < 2; attempt++) {
        if (attempt) { /* refused all the same (malloc, or the OS would not commit the room): half of it */
            uint32_t half = (uint32_t)(((size_t)n + spawns) / 2);
            spawns = half > n ? half - n : 0;
            n = half < n ? half : n;
        }
        out = transient_alloc(t, System_Particles, ((size_t)n + spawns + 1) * sizeof(Particle), alignof(Particle));
    }
    if (!out) {
        drop_particles(w);
        return;
    }
    for (uint32_t i = 0; spawn && i < spawns; i++) /* (spawns is 0 without a spawn list) */
        spawn[i] = spawn_one(w, i < want ? w->entities[ATTRACTORS + i % EMITTERS].pos : w->burst_at,
                             i < want ? 160.0f : 320.0f);
    w->shed += w->count - n;
    w->held += spawn_count - spawns;
    const Particle *in = w->particles;
    if (n < w->count) /* the newest are kept */
        in += w->count - n;
    StepJob job = {.w = w, .grid = &grid, .in = in, .n = n, .out = out, .dt = dt};
    uint32_t parts = workers_count(workers);
    workers_run(workers, step_part, &job);
    for (uint32_t part = 0; part < parts; part++) {
        w->in_place += job.in_place[part];
        if (job.scratch_peak[part] > w->scratch_peak) {
            w->scratch_peak = job.scratch_peak[part];
            w->scratch_reserved = job.scratch_reserved[part];
        }
    }
    uint32_t kept = job.kept[0];
    for (uint32_t part = 1; part < parts; part++) {
        uint32_t begin = (uint32_t)((uint64_t)job.n * part / parts);
        memmove(out + kept, out + begin, job.kept[part] * sizeof *out);
        kept += job.kept[part];
    }
    if (spawn && spawns)
        memcpy(out + kept, spawn, spawns * sizeof *out);
    w->particles = out;
    w->count = kept + spawns;
    w->steps++;
}

void world_carry(World *w, Transient *t)
{
    uint32_t n = w->count, spawns = 0;
    fit_step(t, &n, &spawns);
    Particle *out = NULL;
    for (int attempt = 0; !out && attempt < 2; attempt++) { /* the newest n, then half of them as a step */
        if (attempt)
            n /= 2;
        out = transient_copy(t, System_Particles, n ? w->particles + (w->count - n) : NULL,
                             (size_t)n * sizeof(Particle), alignof(Particle));
    }
    if (!out) {
        drop_particles(w);
        return;
    }
    w->shed += w->count - n;
    w->particles = out;
    w->count = n;
}

static uint64_t fnv(uint64_t h, uint32_t word)
{
    for (int k = 0; k < 4; k++)
        h = (h ^ ((word >> (8 * k)) & 0xFF)) * 0x100000001B3ull;
    return h;
}

uint64_t world_checksum(const World *w)
{
    uint64_t h = fnv(0xCBF29CE484222325ull, w->count);
    for (uint32_t i = 0; i < w->count; i++) {
        const Particle *p = &w->particles[i];
        h = fnv(h, (uint32_t)(int32_t)(p->pos.x * 64.0f));
        h = fnv(h, (uint32_t)(int32_t)(p->pos.y * 64.0f));
        h = fnv(h, p->seed);
    }
    return h;
}
