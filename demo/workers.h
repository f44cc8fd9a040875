/* workers: a small pool of SDL threads that run one job split in parts.
 * The calling thread runs part 0 itself; workers_run returns when every part
 * is done. */
#ifndef DEMO_WORKERS_H
#define DEMO_WORKERS_H

#include "scratch.h"

#include <stdint.h>

typedef void (*WorkerJob)(void *ctx, uint32_t part, uint32_t parts);
typedef struct Workers Workers;

/* threads >= 1, the caller included. Each thread makes its scratch stacks
 * as it starts. NULL on failure; when a thread could not make them,
 * *scratch_failed says why (else it is NULL, and SDL_GetError says why a
 * thread or a semaphore could not be made, or nothing for a refused
 * calloc). */
Workers *workers_create(uint32_t threads, const char **scratch_failed);
void workers_run(Workers *w, WorkerJob job, void *ctx);
uint32_t workers_count(const Workers *w);
void workers_destroy(Workers *w);

/* Why scratch_set_defaults or scratch_thread_init failed with err, as one
 * phrase (NULL for ScratchError_None); called on the thread that failed. */
const char *scratch_failure(ScratchError err);

#endif
