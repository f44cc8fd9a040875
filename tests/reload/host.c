/* The reload test's host: loads the game's code, runs frames, unloads it
 * and loads another copy that goes on with the same arena, stack and
 * threads, as a game that reloads its code while it runs.
 *
 *     reload_host MODULE_A MODULE_B
 *
 * The host does not link the engine: each module has its own copy, and
 * MODULE_A is really unmapped before MODULE_B runs (the test checks it).
 * Without the engine's care, what the second copy would trip on is a
 * pointer into the first: a stack's default on_fail, the text naming what
 * owns a stack, a thread key whose destructor was the first copy's, and
 * the hooks the game gave (frame_arena_set_hooks points them at the second
 * copy's functions). So once
 * the first copy is closed its addresses are mapped inaccessible, where
 * the second copy (the same code) would otherwise be loaded and answer for
 * it: any such pointer faults. The death cases run in a child each and
 * read its stderr. TAP on stdout. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <link.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

typedef struct GameState {
    void *frame, *level, *words;
    uint64_t frames;
    char *level_name;
    uint64_t frames_seen;
} GameState;

typedef struct Game {
    void *handle;
    void (*start)(GameState *);
    void (*loaded)(GameState *);
    int (*frame)(GameState *);
    int (*worker_step)(void);
    void *(*scratch_stack)(void);
    void (*worker_release)(void);
    void (*unload)(void);
    int (*try_too_much)(GameState *);
    void (*push_too_much)(GameState *);
    void (*destroy_a_frame_buffer)(GameState *);
    void (*end)(GameState *);
} Game;

static int checks, failures;

static void check(bool ok, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    printf("%s %d - ", ok ? "ok" : "not ok", ++checks);
    vprintf(fmt, ap);
    printf("\n");
    fflush(stdout);
    va_end(ap);
    failures += !ok;
}

static void *need(void *handle, const char *name)
{
    void *fn = dlsym(handle, name);
    if (!fn) {
        printf("Bail out! %s: %s\n", name, dlerror());
        exit(1);
    }
    return fn;
}

static Game load(const char *path)
{
    Game g = {.handle = dlopen(path, RTLD_NOW | RTLD_LOCAL)};
    if (!g.handle) {
        printf("Bail out! dlopen %s: %s\n", path, dlerror());
        exit(1);
    }
    *(void **)&g.start = need(g.handle, "game_start");
    *(void **)&g.loaded = need(g.handle, "game_loaded");
    *(void **)&g.frame = need(g.handle, "game_frame");
    *(void **)&g.worker_step = need(g.handle, "game_worker_step");
    *(void **)&g.worker_release = need(g.handle, "game_worker_release");
    *(void **)&g.scratch_stack = need(g.handle, "game_scratch_stack");
    *(void **)&g.unload = need(g.handle, "game_unload");
    *(void **)&g.try_too_much = need(g.handle, "game_try_too_much");
    *(void **)&g.push_too_much = need(g.handle, "game_push_too_much");
    *(void **)&g.destroy_a_frame_buffer = need(g.handle, "game_destroy_a_frame_buffer");
    *(void **)&g.end = need(g.handle, "game_end");
    return g;
}

/* The address range a loaded module's segments take. */
typedef struct Range {
    const char *path;
    uintptr_t from, to;
} Range;

static int find_range(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size;
    Range *r = arg;
    if (!info->dlpi_name || strcmp(info->dlpi_name, r->path) != 0)
        return 0;
    for (int i = 0; i < info->dlpi_phnum; i++)
        if (info->dlpi_phdr[i].p_type == PT_LOAD) {
            uintptr_t from = info->dlpi_addr + info->dlpi_phdr[i].p_vaddr;
            uintptr_t to = from + info->dlpi_phdr[i].p_memsz;
            if (!r->from || from < r->from)
                r->from = from;
            if (to > r->to)
                r->to = to;
        }
    return 1;
}

/* A worker thread of the host's that runs what it is handed, one job at a
 * time, and outlives both copies of the game's code. */
static pthread_mutex_t job_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t job_cond = PTHREAD_COND_INITIALIZER;
static int (*job)(void);
static bool job_done, quit;
static int job_result;

static void *worker(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&job_lock);
    for (;;) {
        while (!job && !quit)
            pthread_cond_wait(&job_cond, &job_lock);
        if (!job)
            break;
        int (*run)(void) = job;
        pthread_mutex_unlock(&job_lock);
        int result = run();
        pthread_mutex_lock(&job_lock);
        job = NULL;
        job_result = result;
        job_done = true;
        pthread_cond_broadcast(&job_cond);
    }
    pthread_mutex_unlock(&job_lock);
    return NULL;
}

static int on_worker(int (*run)(void))
{
    pthread_mutex_lock(&job_lock);
    job = run;
    job_done = false;
    pthread_cond_broadcast(&job_cond);
    while (!job_done)
        pthread_cond_wait(&job_cond, &job_lock);
    int result = job_result;
    pthread_mutex_unlock(&job_lock);
    return result;
}

static void *(*scratch_stack_fn)(void);
static void *worker_stack;

static int note_worker_stack(void)
{
    worker_stack = scratch_stack_fn();
    return 1;
}

/* Whether the page at p is mapped: msync fails with ENOMEM on pages that are not. */
static bool mapped(const void *p)
{
    long page = sysconf(_SC_PAGESIZE);
    return msync((void *)((uintptr_t)p & ~(uintptr_t)(page - 1)), (size_t)page, MS_ASYNC) == 0;
}

static void (*release_job_fn)(void);

static int release_job(void)
{
    release_job_fn();
    return 1;
}

/* Runs fn(g) in a child: it must stop with SIGABRT and print `expected`. */
static void expect_death(const char *what, void (*fn)(GameState *), GameState *g, const char *expected)
{
    int fds[2];
    if (pipe(fds) != 0) {
        printf("Bail out! pipe\n");
        exit(1);
    }
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fds[1], 2);
        close(fds[0]);
        fn(g);
        _exit(0);
    }
    close(fds[1]);
    char err[2048] = "";
    size_t len = 0;
    ssize_t n;
    while (len < sizeof err - 1 && (n = read(fds[0], err + len, sizeof err - 1 - len)) > 0)
        len += (size_t)n;
    err[len] = 0;
    close(fds[0]);
    for (char *c = err; *c; c++) /* one TAP line */
        if (*c == '\n')
            *c = ' ';
    int status = 0;
    waitpid(pid, &status, 0);
    bool aborted = WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT;
    check(aborted && strstr(err, expected), "%s: SIGABRT with \"%s\" (%s %d; stderr: %s)", what, expected,
          WIFSIGNALED(status) ? "signal" : "exit", WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status),
          err);
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: reload_host MODULE_A MODULE_B\n");
        return 2;
    }
    pthread_t thread;
    pthread_create(&thread, NULL, worker, NULL);
    GameState state = {0};

    Game a = load(argv[1]);
    a.start(&state);
    bool ok = true;
    for (int i = 0; i < 3; i++)
        ok &= a.frame(&state) == 1;
    check(ok, "the first copy runs three frames");
    check(on_worker(a.worker_step) == 1, "a worker uses its scratch under the first copy");
    release_job_fn = a.worker_release;
    on_worker(release_job); /* before the unload: the worker gives its scratch back */
    a.unload();
    Range range = {.path = argv[1]};
    dl_iterate_phdr(find_range, &range);
    check(range.from != 0, "the first copy's addresses are known");
    check(dlclose(a.handle) == 0, "the first copy is closed");
    check(dlopen(argv[1], RTLD_NOW | RTLD_NOLOAD) == NULL, "and unmapped: nothing of it is left to call");
    long page = sysconf(_SC_PAGESIZE);
    uintptr_t from = range.from & ~(uintptr_t)(page - 1);
    void *fence = mmap((void *)from, range.to - from, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE,
                       -1, 0);
    check(fence == (void *)from, "its addresses are mapped inaccessible: a pointer into it faults");

    Game b = load(argv[2]);
    b.loaded(&state); /* the arena's on_frame was the first copy's */
    ok = true;
    for (int i = 0; i < 3; i++)
        ok &= b.frame(&state) == 1;
    check(ok, "the second copy goes on with the arena, the stack and last frame's data the first made, and "
              "the arena calls the second copy's on_frame");
    check(state.frames == 6, "six frames in all (%llu)", (unsigned long long)state.frames);
    check(on_worker(b.worker_step) == 1, "the worker uses scratch under the second copy");
    scratch_stack_fn = b.scratch_stack;
    on_worker(note_worker_stack);
    check(worker_stack && mapped(worker_stack), "the worker holds its scratch stacks");
    check(b.try_too_much(&state) == 1, "a push the first copy's stack cannot serve fails with OutOfReserve");
    expect_death("a failed push calls the default on_fail", b.push_too_much, &state,
                 "frame_arena: page_stack \"level\": push of 1048576 bytes (align 16) failed: out of reserved "
                 "address space");
    expect_death("a frame buffer's destroy names its owner", b.destroy_a_frame_buffer, &state,
                 "frame_arena: page_stack_destroy: the stack \"reloaded\" belongs to a frame arena; destroy the "
                 "arena with frame_arena_destroy");

    /* The worker still holds its scratch of the second copy: its exit
     * releases it through the second copy's key, and calls nothing of the
     * first copy's (whose addresses now fault). */
    pthread_mutex_lock(&job_lock);
    quit = true;
    pthread_cond_broadcast(&job_cond);
    pthread_mutex_unlock(&job_lock);
    pthread_join(thread, NULL);
    check(!mapped(worker_stack), "the worker's exit released its scratch stacks, through the second copy's key");
    b.end(&state);
    b.unload();
    check(dlclose(b.handle) == 0, "the second copy is closed");
    printf("1..%d\n", checks);
    return failures != 0;
}
