/* workers: a small pool of SDL threads that run one job split in parts.
 * The calling thread runs part 0 itself; workers_run returns when every part
 * is done. */
#ifndef DEMO_WORKERS_H
#define DEMO_WORKERS_H

#include <stdint.h>

typedef void (*WorkerJob)(void *ctx, uint32_t part, uint32_t parts);
typedef struct Workers Workers;

Workers *workers_create(uint32_t threads); /* threads >= 1, the caller included; NULL on failure */
void workers_run(Workers *w, WorkerJob job, void *ctx);
uint32_t workers_count(const Workers *w);
void workers_destroy(Workers *w);

#endif
