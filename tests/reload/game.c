/* The game side of the reload test: game code with the engine compiled in,
 * built twice as two shared modules (reload_game_a, reload_game_b) so that
 * the host can unload one copy and go on with the other, as a game whose
 * code is reloaded while it runs. Everything the game keeps across the
 * reload lives in GameState, which the host owns; the arena and the stack
 * were made by the first copy and are used by the second. */
#include "frame_arena.h"
#include "scratch.h"

#include <string.h>

#ifdef _WIN32
#define GAME_API __declspec(dllexport)
#else
#define GAME_API __attribute__((visibility("default")))
#endif

enum { Words = 1000 };

typedef struct GameState {
    FrameArena *frame;
    PageStack *level;
    uint32_t *words;  /* this frame's, each its frame number */
    uint64_t frames;
    char *level_name; /* in the level stack */
    uint64_t frames_seen; /* by the arena's on_frame, which is game code */
} GameState;

static void count_frame(FrameArena *fa, const FrameSample *sample, void *user)
{
    (void)fa, (void)sample;
    ((GameState *)user)->frames_seen++;
}

static FrameArenaDesc frame_hooks(GameState *g)
{
    return (FrameArenaDesc){.on_frame = count_frame, .user = g};
}

GAME_API void game_start(GameState *g)
{
    FrameArenaDesc d = frame_hooks(g);
    d.name = "reloaded";
    d.stack.reserve_size = 1 << 20;
    g->frame = frame_arena_create(&d);
    g->level = page_stack_create(&(PageStackDesc){.name = "level", .reserve_size = 64 << 10});
    g->level_name = page_stack_strdup(g->level, "level one");
}

/* One frame: last frame's words must still be there (two frames in flight),
 * and a scratch scope builds this frame's. 1 when everything held. */
GAME_API int game_frame(GameState *g)
{
    int ok = 1;
    const uint32_t *last = g->words;
    PageStack *frame = frame_arena_begin(g->frame);
    for (int i = 0; last && i < Words; i++)
        ok &= last[i] == (uint32_t)(g->frames - 1);
    PageStackMark tmp = scratch_begin(NULL, 0);
    uint32_t *staging = push_array_no_zero(tmp.stack, uint32_t, Words);
    for (int i = 0; i < Words; i++)
        staging[i] = (uint32_t)g->frames;
    g->words = push_array_copy(frame, uint32_t, staging, Words);
    scratch_end(tmp);
    frame_arena_end(g->frame);
    g->frames++;
    ok &= strcmp(g->level_name, "level one") == 0;
    ok &= frame_arena_stats(g->frame).frames == g->frames;
    ok &= g->frames_seen == g->frames;
    return ok;
}

/* After a reload: the arena's hooks are this copy's functions now. */
GAME_API void game_loaded(GameState *g)
{
    FrameArenaDesc d = frame_hooks(g);
    frame_arena_set_hooks(g->frame, &d);
}

/* A worker's share of a frame: scratch on the calling thread. */
GAME_API int game_worker_step(void)
{
    PageStackMark tmp = scratch_begin(NULL, 0);
    uint64_t *v = push_array(tmp.stack, uint64_t, 512);
    int ok = v[511] == 0;
    scratch_end(tmp);
    return ok;
}

/* The calling thread's first scratch stack (made if it has none). */
GAME_API void *game_scratch_stack(void)
{
    PageStackMark tmp = scratch_begin(NULL, 0);
    scratch_end(tmp);
    return tmp.stack;
}

/* What each worker runs before the code is unloaded, and the main thread. */
GAME_API void game_worker_release(void)
{
    scratch_thread_release();
}

GAME_API void game_unload(void)
{
    scratch_shutdown();
}

/* A push the level stack cannot serve: try_push says why. */
GAME_API int game_try_too_much(GameState *g)
{
    return page_stack_try_push(g->level, 1 << 20, 16) == NULL &&
           page_stack_last_error(g->level) == PageStackError_OutOfReserve;
}

/* The same push with the default on_fail: one line, then abort. */
GAME_API void game_push_too_much(GameState *g)
{
    page_stack_push(g->level, 1 << 20, 16);
}

/* A programming error: the arena's buffer is the arena's to destroy. */
GAME_API void game_destroy_a_frame_buffer(GameState *g)
{
    page_stack_destroy(frame_arena_stack(g->frame, 0));
}

GAME_API void game_end(GameState *g)
{
    frame_arena_destroy(g->frame);
    page_stack_destroy(g->level);
    memset(g, 0, sizeof *g);
}
