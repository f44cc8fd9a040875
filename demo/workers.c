/* workers: persistent SDL threads woken by a semaphore each; one shared
 * semaphore counts finished parts. Each worker thread gets its own scratch
 * stacks from the engine the first time its job asks (made from the scratch
 * defaults main.c sets), and they are released when the thread ends. */
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

Workers *workers_create(uint32_t threads)
{
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
