/* workers: persistent SDL threads woken by a semaphore each; one shared
 * semaphore counts finished parts. Each worker thread makes its own scratch
 * stacks as it starts (scratch_thread_init, from the scratch defaults main.c
 * sets), so that a failure to reserve them is the pool's failure to start,
 * with its reason, and not a fatal error at the thread's first scratch
 * scope; they are released when the thread ends. */
#include "workers.h"

#include "scratch.h"

#include <SDL.h>
#include <stdbool.h>
#include <stdlib.h>

typedef struct Worker {
    struct Workers *pool;
    uint32_t part;
    SDL_Thread *thread;
    SDL_sem *go;
    const char *failed; /* why the thread could not make its scratch stacks; NULL: it made them */
} Worker;

struct Workers {
    uint32_t count;
    Worker *workers; /* count - 1 of them: part 0 runs on the caller */
    SDL_sem *done;
    WorkerJob job;
    void *ctx;
    bool quit;
};

static int worker_main(void *arg)
{
    Worker *self = arg;
    self->failed = scratch_failure(scratch_thread_init(NULL));
    SDL_SemPost(self->pool->done); /* started: workers_create reads `failed` */
    if (self->failed)
        return 0;
    for (;;) {
        SDL_SemWait(self->go);
        if (self->pool->quit)
            break;
        self->pool->job(self->pool->ctx, self->part, self->pool->count);
        SDL_SemPost(self->pool->done);
    }
    scratch_thread_release();
    return 0;
}

const char *scratch_failure(ScratchError err)
{
    switch (err) {
    case ScratchError_None: return NULL;
    case ScratchError_NoAddressSpace: return page_stack_error_string(page_stack_create_error()); /* this thread's */
    case ScratchError_NoThreadSlot: return "no thread key is left to release them at the thread's exit";
    }
    return "unknown error";
}

Workers *workers_create(uint32_t threads, const char **scratch_failed)
{
    *scratch_failed = NULL;
    Workers *w = calloc(1, sizeof *w);
    if (!w || threads == 0)
        return free(w), NULL;
    w->count = threads;
    w->done = SDL_CreateSemaphore(0);
    w->workers = calloc(threads, sizeof *w->workers);
    if (!w->done || !w->workers)
        return workers_destroy(w), NULL;
    for (uint32_t i = 1; i < threads; i++) {
        Worker *k = &w->workers[i];
        *k = (Worker){.pool = w, .part = i, .go = SDL_CreateSemaphore(0)};
        if (k->go)
            k->thread = SDL_CreateThread(worker_main, "particles", k);
        if (!k->thread) {
            if (k->go)
                SDL_DestroySemaphore(k->go);
            w->count = i; /* destroy joins the ones that started */
            return workers_destroy(w), NULL;
        }
    }
    for (uint32_t i = 1; i < threads; i++)
        SDL_SemWait(w->done);
    for (uint32_t i = 1; i < threads; i++)
        if (w->workers[i].failed) {
            *scratch_failed = w->workers[i].failed;
            return workers_destroy(w), NULL; /* the ones that failed have ended: a post wakes nothing */
        }
    return w;
}

void workers_run(Workers *w, WorkerJob job, void *ctx)
{
    w->job = job;
    w->ctx = ctx;
    for (uint32_t i = 1; i < w->count; i++)
        SDL_SemPost(w->workers[i].go);
    job(ctx, 0, w->count);
    for (uint32_t i = 1; i < w->count; i++)
        SDL_SemWait(w->done);
}

uint32_t workers_count(const Workers *w)
{
    return w->count;
}

void workers_destroy(Workers *w)
{
    if (!w)
        return;
    w->quit = true;
    for (uint32_t i = 1; w->workers && i < w->count; i++) {
        if (w->workers[i].thread) {
            SDL_SemPost(w->workers[i].go);
            SDL_WaitThread(w->workers[i].thread, NULL);
        }
        if (w->workers[i].go)
            SDL_DestroySemaphore(w->workers[i].go);
    }
    if (w->done)
        SDL_DestroySemaphore(w->done);
    free(w->workers);
    free(w);
}
