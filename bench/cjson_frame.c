/* cJSON parsing a frame's worth of documents: allocation hooks on the frame
 * arena versus plain malloc/free, in the same process, rounds interleaved
 * and the starting backend alternated. Prints ns per document (median and
 * 10th percentile over the rounds) and the ratio.
 *
 *     bench_cjson [ROUNDS]     (default 200 rounds of 200 documents)
 */
#include "allocator.h"
#include "frame_arena.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define DOCS 200

static Allocator arena_hooks;

static void *arena_malloc(size_t size)
{
    return arena_hooks.alloc(arena_hooks.user, size, 16);
}

static void arena_free(void *ptr)
{
    arena_hooks.free(arena_hooks.user, ptr, 0);
}

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static char docs[DOCS][512];
static volatile int sink;

static double one_frame(FrameArena *fa, int use_arena)
{
    if (use_arena) {
        arena_hooks = page_stack_allocator(frame_arena_begin(fa));
        cJSON_InitHooks(&(cJSON_Hooks){arena_malloc, arena_free});
    } else {
        cJSON_InitHooks(NULL);
    }
    double start = now_ns();
    for (int d = 0; d < DOCS; d++) {
        cJSON *root = cJSON_Parse(docs[d]);
        sink += cJSON_GetArraySize(cJSON_GetObjectItem(root, "items"));
        cJSON_Delete(root);
    }
    double ns = (now_ns() - start) / DOCS;
    if (use_arena)
        frame_arena_end(fa);
    return ns;
}

static int compare(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    int rounds = argc > 1 ? atoi(argv[1]) : 200;
    if (rounds < 10)
        rounds = 10;
    for (int d = 0; d < DOCS; d++) {
        int n = snprintf(docs[d], sizeof docs[d], "{\"id\": %d, \"name\": \"entity-%d\", \"items\": [", d, d);
        for (int i = 0; i < 12; i++)
            n += snprintf(docs[d] + n, sizeof docs[d] - (size_t)n, "%s{\"k\": %d, \"v\": %d.5}", i ? ", " : "", i, d);
        snprintf(docs[d] + n, sizeof docs[d] - (size_t)n, "]}");
    }
    FrameArena *fa = frame_arena_create(&(FrameArenaDesc){.name = "bench"});
    double *arena = malloc(sizeof(double) * (size_t)rounds), *heap = malloc(sizeof(double) * (size_t)rounds);
    for (int w = 0; w < 20; w++) { /* warm both up */
        one_frame(fa, 1);
        one_frame(fa, 0);
    }
    for (int r = 0; r < rounds; r++) {
        int first = r % 2;
        double a = one_frame(fa, first), b = one_frame(fa, !first);
        arena[r] = first ? a : b;
        heap[r] = first ? b : a;
    }
    qsort(arena, (size_t)rounds, sizeof(double), compare);
    qsort(heap, (size_t)rounds, sizeof(double), compare);
    printf("cJSON parse + delete, %d documents a frame, %d rounds (ns per document)\n", DOCS, rounds);
    printf("%-14s %10s %10s\n", "backend", "median", "p10");
    printf("%-14s %10.0f %10.0f\n", "frame arena", arena[rounds / 2], arena[rounds / 10]);
    printf("%-14s %10.0f %10.0f\n", "glibc malloc", heap[rounds / 2], heap[rounds / 10]);
    printf("malloc / arena: %.2fx (median), %.2fx (p10)\n", heap[rounds / 2] / arena[rounds / 2],
           heap[rounds / 10] / arena[rounds / 10]);
    free(arena);
    free(heap);
    frame_arena_destroy(fa);
    cJSON_InitHooks(NULL);
    return 0;
}
