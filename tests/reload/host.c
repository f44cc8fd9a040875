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
 * copy's functions). So once the first copy is closed its addresses are
 * mapped inaccessible, where the second copy (the same code) would
 * otherwise be loaded and answer for it: any such pointer faults. Each
 * death case runs the reload again in a child (`--die CASE MODULE_A
 * MODULE_B`) and reads its stderr. TAP on stdout. Linux (dlopen) and
 * Windows (LoadLibrary, run under wine in the windows lanes). */
#ifdef _WIN32
#include <windows.h>
#else
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <link.h>
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
#endif
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct GameState {
    void *frame, *level, *words;
    uint64_t frames;
    char *level_name;
    uint64_t frames_seen;
} GameState;

/* ------------------------------------------------------------------ the OS's part */

typedef struct Range {
    uintptr_t from, to;
} Range;

#ifdef _WIN32
typedef HMODULE Module;

static Module module_open(const char *path)
{
    return LoadLibraryA(path);
}

static void *module_symbol(Module m, const char *name)
{
    FARPROC fn = GetProcAddress(m, name);
    void *p; /* ISO C has no cast from a function pointer to void *: copy its bytes */
    memcpy(&p, &fn, sizeof p);
    return p;
}

static bool module_close(Module m)
{
    return FreeLibrary(m) != 0;
}

/* The image's extent, from its PE header. */
static Range module_range(Module m, const char *path)
{
    (void)path;
    const IMAGE_DOS_HEADER *dos = (const IMAGE_DOS_HEADER *)m;
    const IMAGE_NT_HEADERS *nt = (const IMAGE_NT_HEADERS *)((const char *)m + dos->e_lfanew);
    return (Range){(uintptr_t)m, (uintptr_t)m + nt->OptionalHeader.SizeOfImage};
}

static bool mapped(uintptr_t p)
{
    MEMORY_BASIC_INFORMATION info;
    return VirtualQuery((const void *)p, &info, sizeof info) && info.State != MEM_FREE;
}

static bool fence(Range r)
{
    return VirtualAlloc((void *)r.from, r.to - r.from, MEM_RESERVE, PAGE_NOACCESS) == (void *)r.from;
}

typedef HANDLE Thread;
static SRWLOCK job_lock = SRWLOCK_INIT;
static CONDITION_VARIABLE job_cond = CONDITION_VARIABLE_INIT;

static void lock(void)
{
    AcquireSRWLockExclusive(&job_lock);
}

static void unlock(void)
{
    ReleaseSRWLockExclusive(&job_lock);
}

static void wait_job(void)
{
    SleepConditionVariableSRW(&job_cond, &job_lock, INFINITE, 0);
}

static void wake_all(void)
{
    WakeAllConditionVariable(&job_cond);
}

#else
typedef void *Module;

static Module module_open(const char *path)
{
    return dlopen(path, RTLD_NOW | RTLD_LOCAL);
}

static void *module_symbol(Module m, const char *name)
{
    return dlsym(m, name);
}

static bool module_close(Module m)
{
    return dlclose(m) == 0;
}

typedef struct Search {
    const char *path;
    Range range;
} Search;

static int find_range(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size;
    Search *s = arg;
    if (!info->dlpi_name || strcmp(info->dlpi_name, s->path) != 0)
        return 0;
    for (int i = 0; i < info->dlpi_phnum; i++)
        if (info->dlpi_phdr[i].p_type == PT_LOAD) {
            uintptr_t from = info->dlpi_addr + info->dlpi_phdr[i].p_vaddr;
            uintptr_t to = from + info->dlpi_phdr[i].p_memsz;
            if (!s->range.from || from < s->range.from)
                s->range.from = from;
            if (to > s->range.to)
                s->range.to = to;
        }
    return 1;
}

/* The extent of the module's segments, from the loader's list. */
static Range module_range(Module m, const char *path)
{
    (void)m;
    Search s = {.path = path};
    dl_iterate_phdr(find_range, &s);
    long page = sysconf(_SC_PAGESIZE);
    s.range.from &= ~(uintptr_t)(page - 1);
    return s.range;
}

/* msync fails with ENOMEM on pages that are not mapped. */
static bool mapped(uintptr_t p)
{
    long page = sysconf(_SC_PAGESIZE);
    return msync((void *)(p & ~(uintptr_t)(page - 1)), (size_t)page, MS_ASYNC) == 0;
}

static bool fence(Range r)
{
    void *at = mmap((void *)r.from, r.to - r.from, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE,
                    -1, 0);
    return at == (void *)r.from;
}

typedef pthread_t Thread;
static pthread_mutex_t job_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t job_cond = PTHREAD_COND_INITIALIZER;

static void lock(void)
{
    pthread_mutex_lock(&job_lock);
}

static void unlock(void)
{
    pthread_mutex_unlock(&job_lock);
}

static void wait_job(void)
{
    pthread_cond_wait(&job_cond, &job_lock);
}

static void wake_all(void)
{
    pthread_cond_broadcast(&job_cond);
}
#endif

/* ------------------------------------------------------------------ TAP */

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

/* ------------------------------------------------------------------ the game's code */

typedef struct Game {
    Module module;
    Range range;
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

static void *need(Module m, const char *name)
{
    void *fn = module_symbol(m, name);
    if (!fn) {
        printf("Bail out! no %s in the game's module\n", name);
        exit(1);
    }
    return fn;
}

static Game load(const char *path)
{
    Game g = {.module = module_open(path)};
    if (!g.module) {
        printf("Bail out! cannot load %s\n", path);
        exit(1);
    }
    g.range = module_range(g.module, path);
    *(void **)&g.start = need(g.module, "game_start");
    *(void **)&g.loaded = need(g.module, "game_loaded");
    *(void **)&g.frame = need(g.module, "game_frame");
    *(void **)&g.worker_step = need(g.module, "game_worker_step");
    *(void **)&g.scratch_stack = need(g.module, "game_scratch_stack");
    *(void **)&g.worker_release = need(g.module, "game_worker_release");
    *(void **)&g.unload = need(g.module, "game_unload");
    *(void **)&g.try_too_much = need(g.module, "game_try_too_much");
    *(void **)&g.push_too_much = need(g.module, "game_push_too_much");
    *(void **)&g.destroy_a_frame_buffer = need(g.module, "game_destroy_a_frame_buffer");
    *(void **)&g.end = need(g.module, "game_end");
    return g;
}

/* Closes the game's code and maps its addresses inaccessible: true when
 * both worked and nothing of it is left mapped in between. */
static bool unload_and_fence(Game *g)
{
    bool closed = module_close(g->module);
    bool gone = g->range.from && !mapped(g->range.from);
    return closed && gone && fence(g->range);
}

/* ------------------------------------------------------------------ a worker thread */

/* A thread of the host's that runs what it is handed, one job at a time,
 * and outlives both copies of the game's code. */
static int (*job)(void);
static bool job_done, quit;
static int job_result;

#ifdef _WIN32
static DWORD WINAPI worker(LPVOID arg)
#else
static void *worker(void *arg)
#endif
{
    (void)arg;
    lock();
    for (;;) {
        while (!job && !quit)
            wait_job();
        if (!job)
            break;
        int (*run)(void) = job;
        unlock();
        int result = run();
        lock();
        job = NULL;
        job_result = result;
        job_done = true;
        wake_all();
    }
    unlock();
    return 0;
}

static int on_worker(int (*run)(void))
{
    lock();
    job = run;
    job_done = false;
    wake_all();
    while (!job_done)
        wait_job();
    int result = job_result;
    unlock();
    return result;
}

static Thread start_worker(void)
{
#ifdef _WIN32
    return CreateThread(NULL, 0, worker, NULL, 0, NULL);
#else
    pthread_t t;
    pthread_create(&t, NULL, worker, NULL);
    return t;
#endif
}

static void stop_worker(Thread t)
{
    lock();
    quit = true;
    wake_all();
    unlock();
#ifdef _WIN32
    WaitForSingleObject(t, INFINITE);
    CloseHandle(t);
#else
    pthread_join(t, NULL);
#endif
}

static Game game; /* the copy loaded now, for the jobs */
static void *worker_stack;

static int worker_step_job(void)
{
    return game.worker_step();
}

static int note_worker_stack(void)
{
    worker_stack = game.scratch_stack();
    return 1;
}

static int release_job(void)
{
    game.worker_release();
    return 1;
}

/* ------------------------------------------------------------------ the death cases */

static const char *self_path;

/* Runs "self --die name a b" with stderr in a file: whether it stopped with
 * abort() and printed `expected`. */
static void expect_death(const char *name, const char *a, const char *b, const char *what, const char *expected)
{
    char path[512], text[4096] = "";
    bool aborted = false;
    fflush(stdout);
#ifdef _WIN32
    char dir[MAX_PATH];
    if (!GetTempPathA(sizeof dir, dir) || !GetTempFileNameA(dir, "rl", 0, path)) {
        check(false, "%s: no temporary file (error %lu)", what, GetLastError());
        return;
    }
    SECURITY_ATTRIBUTES sa = {.nLength = sizeof sa, .bInheritHandle = TRUE};
    HANDLE err = CreateFileA(path, GENERIC_WRITE, FILE_SHARE_READ, &sa, CREATE_ALWAYS, FILE_ATTRIBUTE_NORMAL, NULL);
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "\"%s\" --die %s \"%s\" \"%s\"", self_path, name, a, b);
    STARTUPINFOA si = {.cb = sizeof si, .dwFlags = STARTF_USESTDHANDLES};
    si.hStdInput = GetStdHandle(STD_INPUT_HANDLE);
    si.hStdOutput = err;
    si.hStdError = err;
    PROCESS_INFORMATION pi;
    if (err != INVALID_HANDLE_VALUE && CreateProcessA(NULL, cmd, NULL, NULL, TRUE, 0, NULL, NULL, &si, &pi)) {
        WaitForSingleObject(pi.hProcess, INFINITE);
        DWORD code = 0;
        GetExitCodeProcess(pi.hProcess, &code);
        aborted = code == 3; /* what abort() exits with */
        CloseHandle(pi.hProcess);
        CloseHandle(pi.hThread);
    }
    if (err != INVALID_HANDLE_VALUE)
        CloseHandle(err);
#else
    snprintf(path, sizeof path, "/tmp/reload_host_%ld.err", (long)getpid());
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        dup2(fd, 1);
        dup2(fd, 2);
        execl(self_path, self_path, "--die", name, a, b, (char *)NULL);
        _exit(127);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    aborted = WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT;
#endif
    FILE *f = fopen(path, "rb");
    if (f) {
        size_t n = fread(text, 1, sizeof text - 1, f);
        text[n] = 0;
        fclose(f);
    }
    remove(path);
    for (char *c = text; *c; c++) /* one TAP line */
        if (*c == '\n' || *c == '\r')
            *c = ' ';
    check(aborted && strstr(text, expected), "%s: abort with \"%s\" (it printed: %s)", what, expected, text);
}

/* The child of a death case: the reload again, quietly, then the misuse. */
static int die(const char *name, const char *a, const char *b)
{
    GameState state = {0};
    game = load(a);
    game.start(&state);
    game.frame(&state);
    game.unload();
    if (!unload_and_fence(&game)) {
        fprintf(stderr, "reload_host: the first copy could not be unloaded and fenced\n");
        return 1;
    }
    game = load(b);
    game.loaded(&state);
    game.frame(&state);
    if (strcmp(name, "push_too_much") == 0)
        game.push_too_much(&state);
    else if (strcmp(name, "destroy_a_frame_buffer") == 0)
        game.destroy_a_frame_buffer(&state);
    fprintf(stderr, "reload_host: %s did not stop the program\n", name);
    return 1;
}

/* ------------------------------------------------------------------ the test */

int main(int argc, char **argv)
{
#ifdef _WIN32
    static char module[MAX_PATH];
    GetModuleFileNameA(NULL, module, sizeof module);
    self_path = module;
#else
    self_path = argv[0];
#endif
    if (argc == 5 && strcmp(argv[1], "--die") == 0)
        return die(argv[2], argv[3], argv[4]);
    if (argc != 3) {
        fprintf(stderr, "usage: reload_host MODULE_A MODULE_B\n");
        return 2;
    }
    Thread thread = start_worker();
    GameState state = {0};

    game = load(argv[1]);
    check(game.range.from != 0 && game.range.to > game.range.from, "the first copy's addresses are known");
    game.start(&state);
    bool ok = true;
    for (int i = 0; i < 3; i++)
        ok &= game.frame(&state) == 1;
    check(ok, "the first copy runs three frames");
    check(on_worker(worker_step_job) == 1, "a worker uses its scratch under the first copy");
    on_worker(release_job); /* before the unload: the worker gives its scratch back */
    game.unload();
    check(unload_and_fence(&game),
          "the first copy is closed and unmapped, and its addresses are mapped inaccessible: a pointer into it "
          "faults");

    game = load(argv[2]);
    game.loaded(&state); /* the arena's on_frame was the first copy's */
    ok = true;
    for (int i = 0; i < 3; i++)
        ok &= game.frame(&state) == 1;
    check(ok, "the second copy goes on with the arena, the stack and last frame's data the first made, and "
              "the arena calls the second copy's on_frame");
    check(state.frames == 6, "six frames in all (%llu)", (unsigned long long)state.frames);
    check(on_worker(worker_step_job) == 1, "the worker uses scratch under the second copy");
    on_worker(note_worker_stack);
    check(worker_stack && mapped((uintptr_t)worker_stack), "the worker holds its scratch stacks");
    check(game.try_too_much(&state) == 1, "a push the first copy's stack cannot serve fails with OutOfReserve");
    expect_death("push_too_much", argv[1], argv[2], "a failed push calls the default on_fail",
                 "frame_arena: page_stack \"level\": push of 1048576 bytes (align 16) failed: out of reserved "
                 "address space");
    expect_death("destroy_a_frame_buffer", argv[1], argv[2], "a frame buffer's destroy names its owner",
                 "frame_arena: page_stack_destroy: the stack \"reloaded\" belongs to a frame arena; destroy the "
                 "arena with frame_arena_destroy");

    /* The worker still holds its scratch of the second copy: its exit
     * releases it through the second copy's key, and calls nothing of the
     * first copy's (whose addresses now fault). */
    stop_worker(thread);
    check(!mapped((uintptr_t)worker_stack), "the worker's exit released its scratch stacks, through the second "
                                            "copy's key");
    game.end(&state);
    game.unload();
    check(module_close(game.module), "the second copy is closed");
    printf("1..%d\n", checks);
    return failures != 0;
}
