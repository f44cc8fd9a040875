/* engine_check: the engine's tests as one plain C11 program, for platforms
 * where Criterion is not available (Windows, cross-built with MinGW-w64 and
 * run under wine in CI). It runs on Linux too, so every lane keeps it honest.
 *
 * Output is TAP. Each check is a function; a failed expectation prints a
 * diagnostic and marks the check "not ok" but lets the others run. Death
 * checks run this program again as a child ("engine_check --die NAME") with
 * stderr sent to a file, and pass when the child aborted and its stderr holds
 * the expected fatal line; fault checks run a child the same way and pass
 * when a memory access fault ended it (a write outside the stack prints
 * nothing: the guard pages stop it).
 */
#define _DEFAULT_SOURCE /* mincore */
#define __USE_MINGW_ANSI_STDIO 1
#include "frame_arena.h"
#include "mem_ops.h"
#include "os_vm.h"
#include "page_stack.h"
#include "scratch.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef _WIN32
#define WIN32_LEAN_AND_MEAN
#include <windows.h>
#else
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
extern char **environ;
#endif

#define KiB ((size_t)1024)
#define MiB (1024 * KiB)

#ifdef FRAME_ARENA_CHECKED
#define CHECKED 1 /* pops never reuse bytes and resets move to a fresh region */
#else
#define CHECKED 0
#endif

/* The checked build without ASan checks its redzones and fills itself. */
#if defined(__SANITIZE_ADDRESS__)
#define SELF_CHECK 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SELF_CHECK 0
#endif
#endif
#ifndef SELF_CHECK
#define SELF_CHECK CHECKED
#endif

static int failures_in_check;

#define EXPECT(cond, ...)                                                                                    \
    do {                                                                                                     \
        if (!(cond)) {                                                                                       \
            failures_in_check++;                                                                             \
            printf("# %s:%d: expected %s: ", __FILE__, __LINE__, #cond);                                     \
            printf(__VA_ARGS__);                                                                             \
            printf("\n");                                                                                    \
        }                                                                                                    \
    } while (0)

static const char *self_path;
static bool posix_elsewhere; /* --posix-elsewhere: the POSIX file as built for macOS and the BSDs */

/* ------------------------------------------------------------------ platform helpers */

/* Whether the page holding addr belongs to any mapping or reservation. */
static bool address_in_use(const void *addr)
{
#ifdef _WIN32
    MEMORY_BASIC_INFORMATION info;
    return VirtualQuery(addr, &info, sizeof info) == sizeof info && info.State != MEM_FREE;
#else
    unsigned char vec;
    uintptr_t page = (uintptr_t)addr & ~(uintptr_t)(os_vm_page_size() - 1);
    return mincore((void *)page, 1, &vec) == 0 || errno != ENOMEM;
#endif
}

typedef void *(*ThreadFn)(void *);

#ifdef _WIN32
typedef struct {
    ThreadFn fn;
    void *arg;
} ThreadStart;

static DWORD WINAPI thread_entry(LPVOID p)
{
    ThreadStart *start = p;
    start->fn(start->arg);
    return 0;
}
#endif

/* Runs fn(arg) on a new OS thread and waits for it to exit. */
static bool run_thread(ThreadFn fn, void *arg)
{
#ifdef _WIN32
    ThreadStart start = {fn, arg};
    HANDLE h = CreateThread(NULL, 0, thread_entry, &start, 0, NULL);
    if (!h)
        return false;
    WaitForSingleObject(h, INFINITE);
    CloseHandle(h);
    return true;
#else
    pthread_t t;
    if (pthread_create(&t, NULL, fn, arg) != 0)
        return false;
    return pthread_join(t, NULL) == 0;
#endif
}

/* Runs "self --die name" with stderr in a file; returns what it wrote (static
 * buffer), whether it ended abnormally (SIGABRT, or a non-zero exit) and
 * whether a memory access fault ended it (SIGSEGV or SIGBUS; on Windows an
 * access violation). Where the program runs under an emulator (qemu-user for
 * a cross build), ENGINE_CHECK_EMULATOR holds its command line (the program
 * by its path, words split at spaces), and the child runs under it too. */
static const char *run_death(const char *name, bool *died, bool *faulted)
{
    static char text[4096];
    char path[512];
    text[0] = '\0';
    *died = false;
    *faulted = false;
#ifdef _WIN32
    /* A new file for each case, so that none is a file an earlier child may
     * still hold open; a child that could not be started says so, rather
     * than passing for a case that did not die. */
    char dir[MAX_PATH];
    if (!GetTempPathA(sizeof dir, dir) || !GetTempFileNameA(dir, "ec", 0, path)) {
        snprintf(text, sizeof text, "engine_check: no temporary file (error %lu)", GetLastError());
        return text;
    }
    SECURITY_ATTRIBUTES sa = {.nLength = sizeof sa, .bInheritHandle = TRUE};
    HANDLE err = CreateFileA(path, GENERIC_WRITE, FILE_SHARE_READ, &sa, CREATE_ALWAYS, FILE_ATTRIBUTE_NORMAL, NULL);
    if (err == INVALID_HANDLE_VALUE) {
        snprintf(text, sizeof text, "engine_check: cannot open %s (error %lu)", path, GetLastError());
        return text;
    }
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "\"%s\" --die %s", self_path, name);
    STARTUPINFOA si = {.cb = sizeof si, .dwFlags = STARTF_USESTDHANDLES};
    si.hStdInput = GetStdHandle(STD_INPUT_HANDLE);
    si.hStdOutput = err;
    si.hStdError = err;
    PROCESS_INFORMATION pi;
    /* wine, on a loaded machine, now and then fails to start a process with
     * ERROR_INTERNAL_ERROR (1359) and starts it when asked again. */
    DWORD start_error = ERROR_INTERNAL_ERROR;
    for (int attempt = 0; start_error == ERROR_INTERNAL_ERROR && attempt < 5; attempt++) {
        if (attempt)
            Sleep(200);
        start_error = CreateProcessA(NULL, cmd, NULL, NULL, TRUE, 0, NULL, NULL, &si, &pi) ? 0 : GetLastError();
    }
    if (!start_error) {
        WaitForSingleObject(pi.hProcess, INFINITE);
        DWORD code = 0;
        GetExitCodeProcess(pi.hProcess, &code);
        *died = code != 0;
        *faulted = code == (DWORD)EXCEPTION_ACCESS_VIOLATION;
        CloseHandle(pi.hProcess);
        CloseHandle(pi.hThread);
    }
    CloseHandle(err);
    if (start_error) {
        remove(path);
        snprintf(text, sizeof text, "engine_check: the child did not start (CreateProcess error %lu)",
                 (unsigned long)start_error);
        return text;
    }
#else
    snprintf(path, sizeof path, "/tmp/engine_check_%ld.err", (long)getpid());
    char words[512], *argv[16];
    int argc = 0;
    const char *emulator = getenv("ENGINE_CHECK_EMULATOR");
    snprintf(words, sizeof words, "%s", emulator ? emulator : "");
    for (char *w = strtok(words, " "); w && argc < 12; w = strtok(NULL, " "))
        argv[argc++] = w;
    argv[argc++] = (char *)self_path;
    argv[argc++] = (char *)"--die";
    argv[argc++] = (char *)name;
    argv[argc] = NULL;
    /* posix_spawn, not fork: a fork copies this process's page tables and
     * makes every page it writes afterwards fault once (under MemorySanitizer,
     * whose shadow it writes with every byte, about 4,300 faults for each of
     * the 37 children). glibc's posix_spawn shares the memory until the exec. */
    posix_spawn_file_actions_t actions;
    pid_t pid = -1;
    int error = posix_spawn_file_actions_init(&actions);
    if (!error) { /* destroyed only once made */
        error = posix_spawn_file_actions_addopen(&actions, 1, path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (!error)
            error = posix_spawn_file_actions_adddup2(&actions, 1, 2);
        if (!error)
            error = posix_spawn(&pid, argv[0], &actions, NULL, argv, environ);
        posix_spawn_file_actions_destroy(&actions);
    }
    if (error) {
        snprintf(text, sizeof text, "engine_check: the child did not start (posix_spawn: %s)", strerror(error));
        return text;
    }
    int status = 0;
    if (waitpid(pid, &status, 0) == pid) {
        *died = WIFSIGNALED(status) ? WTERMSIG(status) == SIGABRT : WIFEXITED(status) && WEXITSTATUS(status) != 0;
        *faulted = WIFSIGNALED(status) && (WTERMSIG(status) == SIGSEGV || WTERMSIG(status) == SIGBUS);
    }
#endif
    FILE *f = fopen(path, "rb");
    if (f) {
        size_t n = fread(text, 1, sizeof text - 1, f);
        text[n] = '\0';
        fclose(f);
    }
    remove(path);
    return text;
}

/* ------------------------------------------------------------------ os_vm */

static bool all_equal(const unsigned char *p, size_t n, unsigned char value)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != value)
            return false;
    return true;
}

static bool all_zero(const unsigned char *p, size_t n)
{
    return all_equal(p, n, 0);
}

#if defined(__has_feature)
#if __has_feature(memory_sanitizer)
#include <sanitizer/msan_interface.h>
#define UNWRITTEN_READ_ON_PURPOSE(p, n) __msan_unpoison((p), (n))
#endif
#endif
#if !defined(UNWRITTEN_READ_ON_PURPOSE) && defined(FRAME_ARENA_VALGRIND) /* engine_check_unity: memcheck too */
#include <valgrind/memcheck.h>
#define UNWRITTEN_READ_ON_PURPOSE(p, n) VALGRIND_MAKE_MEM_DEFINED((p), (n))
#endif
#ifndef UNWRITTEN_READ_ON_PURPOSE
#define UNWRITTEN_READ_ON_PURPOSE(p, n) ((void)(p), (void)(n))
#endif

/* Whether the n bytes a plain push handed out read zero, as fresh pages do.
 * Under MemorySanitizer and memcheck those bytes are uninitialised until
 * written (the engine says so, as malloc would), and this is the read that
 * checks what they hold all the same. */
static bool pushed_reads_zero(unsigned char *p, size_t n)
{
    UNWRITTEN_READ_ON_PURPOSE(p, n);
    return all_zero(p, n);
}

/* Commit [base, base+size), check it reads zero, dirty it, decommit, commit
 * again: it must read zero again. */
static void cycle_commit(unsigned char *base, size_t size, int fill)
{
    EXPECT(os_vm_commit(base, size), "commit %zu bytes", size);
    EXPECT(all_zero(base, size), "fresh pages read zero");
    memset(base, fill, size);
    os_vm_decommit(base, size, 0);
    EXPECT(os_vm_commit(base, size), "commit again");
    EXPECT(all_zero(base, size), "decommitted pages read zero when committed again");
}

static void check_os_vm_reserve_commit_decommit(void)
{
    size_t page = os_vm_page_size();
    EXPECT(page >= 4096 && (page & (page - 1)) == 0, "page size %zu", page);
    unsigned char *base = os_vm_reserve(4 * MiB, 64 * KiB, 0);
    EXPECT(base != NULL, "a 4 MiB reservation");
    if (!base)
        return;
    EXPECT((uintptr_t)base % (64 * KiB) == 0, "aligned to 64 KiB, got %p", (void *)base);
    cycle_commit(base, 128 * KiB, 0xAB);
    /* 0 bytes: nothing changes, at the reservation's base or inside it (on
     * Windows a decommit of size 0 at the base would take all of it) */
    EXPECT(os_vm_commit(base, page) && os_vm_commit(base + 2 * page, 0), "an empty commit succeeds");
    base[0] = 7;
    os_vm_prefault(base + 4 * page, 0);
    os_vm_decommit(base, 0, 0);
    os_vm_decommit(base + page, 0, 0);
    EXPECT(base[0] == 7, "the committed page kept its byte after empty prefaults and decommits");
    os_vm_release(base, 4 * MiB);
    EXPECT(!address_in_use(base), "released address space is free");
}

/* A prefault changes no byte: pages that hold data keep every byte of it,
 * the first one of each page included (the byte a touch reaches), and
 * pages never written read zero. The range spans several of the POSIX
 * prefault's 256 KiB steps where pages are 4 KiB. Until 2026-12-04 the
 * Windows prefault, and the POSIX one where the kernel has no
 * MADV_POPULATE_WRITE, wrote a 0 to each page's first byte. */
static void check_os_vm_prefault_keeps_what_the_pages_hold(void)
{
    size_t page = os_vm_page_size(), pages = 80, size = pages * page;
    unsigned char *base = os_vm_reserve(size, 0, 0);
    EXPECT(base != NULL, "a reservation of %zu pages", pages);
    if (!base)
        return;
    bool committed = os_vm_commit(base, size);
    EXPECT(committed, "commit %zu pages", pages);
    if (!committed) {
        os_vm_release(base, size);
        return;
    }
    for (size_t i = 0; i < pages; i += 2) /* even pages hold data, odd ones stay fresh */
        memset(base + i * page, (int)(i % 251 + 1), page);
    os_vm_prefault(base, size);
    size_t changed = 0;
    for (size_t i = 0; i < pages; i++) {
        unsigned char want = i % 2 ? 0 : (unsigned char)(i % 251 + 1);
        for (size_t k = 0; k < page; k++)
            changed += base[i * page + k] != want;
    }
    EXPECT(changed == 0, "%zu bytes of %zu pages changed by the prefault", changed, pages);
    os_vm_release(base, size);
}

static void check_os_vm_large_alignment(void)
{
    unsigned char *base = os_vm_reserve(8 * MiB, 2 * MiB, 0);
    EXPECT(base && (uintptr_t)base % (2 * MiB) == 0, "2 MiB alignment, got %p", (void *)base);
    if (base)
        os_vm_release(base, 8 * MiB);
}

static void check_os_vm_huge_pages_or_fallback(void)
{
    /* Large pages where the OS grants them, normal pages otherwise: the same behaviour either way. */
    unsigned char *base = os_vm_reserve(4 * MiB, 2 * MiB, OsVmFlag_HugePages);
    EXPECT(base != NULL, "a huge-page reserve never fails for want of the privilege");
    if (!base)
        return;
    printf("# huge-page reserve got %s pages\n", os_vm_is_large(base) ? "large" : "normal (fallback)");
    cycle_commit(base, 2 * MiB, 0x5A);
    os_vm_release(base, 4 * MiB);
    EXPECT(!os_vm_is_large(base), "a released range is no longer large");
}

static void check_os_vm_injected_commit_failure(void)
{
    unsigned char *base = os_vm_reserve(1 * MiB, 0, 0);
    os_vm_inject_commit_failure(2);
    EXPECT(os_vm_commit(base, 64 * KiB), "the first commit still works");
    EXPECT(!os_vm_commit(base + 64 * KiB, 64 * KiB), "the second one fails as injected");
    EXPECT(os_vm_commit(base + 64 * KiB, 64 * KiB), "injection fires once");
    os_vm_release(base, 1 * MiB);
}

/* The process's thread keys (POSIX) or thread-local storage indices
 * (Windows), taken and given back directly, to run the OS out of them. */
#ifdef _WIN32
typedef DWORD OsKey;
static bool take_os_key(OsKey *k)
{
    *k = TlsAlloc();
    return *k != TLS_OUT_OF_INDEXES;
}
static void give_os_key(OsKey k)
{
    TlsFree(k);
}
#else
typedef pthread_key_t OsKey;
static bool take_os_key(OsKey *k)
{
    return pthread_key_create(k, NULL) == 0;
}
static void give_os_key(OsKey k)
{
    pthread_key_delete(k);
}
#endif
#define MAX_OS_KEYS 65536

static int slot_exits;
static int slot_under_test = -1;
static int slot_exits_of_other_values; /* on_exit runs only for the value stored, never NULL */
static void count_slot_exit(void *value)
{
    slot_exits += value == &slot_exits;
    slot_exits_of_other_values += value != &slot_exits;
}
static void *store_nothing(void *arg)
{
    return arg;
}
static void *store_in_slot(void *arg)
{
    (void)arg;
    os_vm_thread_slot_set(slot_under_test, &slot_exits);
    return NULL;
}

/* With no key left in the process, asking for a slot more often than there
 * are slots fails each time and uses none up: once a key is free, the next
 * call gets a slot, and it works. */
static void check_os_vm_thread_slot_refused_is_not_used_up(void)
{
    static OsKey keys[MAX_OS_KEYS];
    size_t taken = 0;
    while (taken < MAX_OS_KEYS && take_os_key(&keys[taken]))
        taken++;
    EXPECT(taken > 0 && taken < MAX_OS_KEYS, "the OS runs out of keys: %zu taken", taken);
    int refused = 0;
    for (int i = 0; i < OS_VM_THREAD_SLOTS + 2; i++)
        refused += os_vm_thread_slot_create(count_slot_exit) == -1;
    EXPECT(refused == OS_VM_THREAD_SLOTS + 2, "every call refused while no key is free: %d", refused);
    if (taken)
        give_os_key(keys[--taken]);
    slot_under_test = os_vm_thread_slot_create(count_slot_exit);
    EXPECT(slot_under_test >= 0, "a slot once a key is free: %d", slot_under_test);
    while (taken)
        give_os_key(keys[--taken]);
    if (slot_under_test >= 0) {
        EXPECT(run_thread(store_in_slot, NULL), "thread started");
        EXPECT(slot_exits == 1, "the slot's exit function ran for the thread: %d times", slot_exits);
        EXPECT(run_thread(store_nothing, NULL), "thread started");
        EXPECT(slot_exits == 1 && slot_exits_of_other_values == 0,
               "nothing ran for a thread that stored nothing: %d exits, %d of other values", slot_exits,
               slot_exits_of_other_values);
        /* deleted with a value still stored on this thread: dropped, on every OS */
        os_vm_thread_slot_set(slot_under_test, &slot_exits);
        os_vm_thread_slot_delete(slot_under_test);
        EXPECT(slot_exits == 1, "a deleted slot called nothing for the value still stored: %d exits", slot_exits);
    }
}

/* ------------------------------------------------------------------ page_stack */

static void check_page_stack_push_align_grow(void)
{
    PageStack *ps = page_stack_create(&(PageStackDesc){.reserve_size = 16 * MiB, .commit_size = 64 * KiB});
    EXPECT(ps != NULL, "create");
    if (!ps)
        return;
    size_t aligns[] = {1, 8, 16, 64, 4096};
    for (size_t i = 0; i < 2000; i++) {
        size_t align = aligns[i % 5], size = 1 + (i * 37) % 3000;
        unsigned char *p = page_stack_push(ps, size, align);
        EXPECT(p && (uintptr_t)p % align == 0, "push %zu aligned %zu", size, align);
        if (p)
            p[0] = p[size - 1] = (unsigned char)i;
    }
    PageStackStats st = page_stack_stats(ps);
    EXPECT(st.pushes == 2000, "2000 pushes counted, got %llu", (unsigned long long)st.pushes);
    EXPECT(st.committed >= st.pos && st.committed - st.pos < 64 * KiB + 4096, "committed %zu for pos %zu",
           st.committed, st.pos);
    page_stack_reset(ps);
    EXPECT(page_stack_pos(ps) == 0, "reset empties the stack");
    unsigned char *z = page_stack_push_zero(ps, 100 * KiB, 16);
    EXPECT(z && all_zero(z, 100 * KiB), "push_zero over used bytes zeroes them");
    page_stack_destroy(ps);
}

/* Empty blocks: a push of 0 bytes takes no room, so the next block starts
 * at its address, and a realloc to or from 0 bytes keeps the last block
 * where it is. Under memcheck (engine_check_valgrind) an empty block has no
 * chunk of its own: two at one address are a "bad mempool". */
static void check_page_stack_empty_blocks(void)
{
    PageStack *ps = page_stack_create(&(PageStackDesc){.reserve_size = 1 * MiB});
    EXPECT(ps != NULL, "create");
    if (!ps)
        return;
    unsigned char *e = page_stack_push(ps, 0, 16), *a = page_stack_push(ps, 48, 16);
    EXPECT(e && (CHECKED || a == e) && page_stack_pos(ps) == 48, /* checked: a redzone follows every block */
           "the block after an empty one starts at its address");
    if (a)
        memset(a, 1, 48);
    unsigned char *r = page_stack_realloc(ps, a, 48, 0, 16);
    EXPECT(r == a && page_stack_pos(ps) == 0, "a realloc to 0 bytes gives the block's bytes back in place");
    unsigned char *g = page_stack_realloc(ps, r, 0, 64, 16);
    EXPECT(g == a && page_stack_pos(ps) == 64, "a realloc from 0 bytes grows it in place");
    if (g)
        memset(g, 2, 64);
    unsigned char *h = page_stack_realloc(ps, g, 64, 200, 16);
    EXPECT(h == g && page_stack_pos(ps) == 200, "a realloc of the last block grows it in place");
    if (h) {
        memset(h + 64, 4, 136); /* the bytes it added are the caller's to write */
        EXPECT(h[63] == 2 && h[199] == 4, "and keeps its bytes");
    }
    h = page_stack_realloc(ps, h, 200, 64, 16);
    EXPECT(h == g && page_stack_pos(ps) == 64, "and shrinks it in place");
    PageStackCursor c = page_stack_cursor_begin(ps);
    unsigned char *ce = page_stack_cursor_push(&c, 0, 16), *cb = page_stack_cursor_push(&c, 32, 16);
    page_stack_cursor_end(&c);
    EXPECT(ce && (CHECKED || cb == ce) && page_stack_pos(ps) == 96, "the same through a cursor");
    if (cb)
        memset(cb, 3, 32);
    page_stack_destroy(ps);
}

/* A cursor gives the blocks the push gives, commits as it goes, and hands
 * its pushes to the stack at its end. */
static void check_page_stack_cursor(void)
{
    PageStack *a = page_stack_create(&(PageStackDesc){.reserve_size = 16 * MiB});
    PageStack *b = page_stack_create(&(PageStackDesc){.reserve_size = 16 * MiB});
    EXPECT(a && b, "create");
    if (!a || !b)
        return;
    size_t aligns[] = {1, 8, 16, 64, 4096};
    PageStackCursor c = page_stack_cursor_begin(b);
    for (size_t i = 0; i < 2000; i++) {
        size_t align = aligns[i % 5], size = 1 + (i * 37) % 3000;
        unsigned char *p = page_stack_push(a, size, align);
        unsigned char *q = page_stack_cursor_push(&c, size, align);
        EXPECT(p && q && (uintptr_t)(p - (unsigned char *)a->base) == (uintptr_t)(q - (unsigned char *)b->base),
               "block %zu at the push's offset", i);
        if (q)
            q[0] = q[size - 1] = (unsigned char)i;
    }
    EXPECT(page_stack_cursor_try_push(&c, 32 * MiB, 16) == NULL, "a push beyond the reservation fails");
    /* a copy of the cursor's own last block, above the stack's top until the end */
    unsigned char *last = page_stack_cursor_push(&c, 24, 8);
    memcpy(last, "cursor blocks are live..", 24);
    unsigned char *copy = page_stack_cursor_push_copy(&c, last, 24, 8);
    EXPECT(copy && memcmp(copy, "cursor blocks are live..", 24) == 0, "a cursor copies its own block");
    page_stack_push(a, 24, 8);
    page_stack_push(a, 24, 8);
    page_stack_cursor_end(&c);
    PageStackStats sa = page_stack_stats(a), sb = page_stack_stats(b);
    EXPECT(sb.pos == sa.pos && sb.pushes == 2002 && sb.failed_pushes == 1 && sb.committed == sa.committed,
           "pos %zu (push: %zu), pushes %llu, failed %llu, committed %zu (push: %zu)", sb.pos, sa.pos,
           (unsigned long long)sb.pushes, (unsigned long long)sb.failed_pushes, sb.committed, sa.committed);
    page_stack_reset(b);
    page_stack_destroy(a);
    page_stack_destroy(b);
}

static void check_page_stack_marks(void)
{
    PageStack *ps = page_stack_create(NULL);
    char *a = page_stack_push(ps, 10, 1);
    PageStackMark m = page_stack_mark(ps);
    page_stack_push(ps, 1000, 8);
    PageStackMark inner = page_stack_mark(ps);
    page_stack_push(ps, 5000, 8);
    char *above = page_stack_push(ps, 5000, 8);
    EXPECT(page_stack_holds(ps, a) && page_stack_holds(ps, a + 9) && page_stack_holds(ps, above + 4999),
           "the stack holds its blocks");
    page_stack_pop_to(inner);
    /* The checked build leaves a pop's bytes below its top and knows them by
     * ASan's poison, memcheck's no-access bytes (engine_check_valgrind) or its
     * self-check's log, which holds this range (page_stack.h). */
    EXPECT(!page_stack_holds(ps, above) && !page_stack_holds(ps, above + 4999), "not a popped block");
    page_stack_pop_to(m);
    EXPECT(page_stack_pos(ps) == m.pos, "pos back at the mark");
    char *b = page_stack_push(ps, 1, 1);
    EXPECT(CHECKED ? b > a + 10 : b == a + 10, "the next push reuses the popped bytes (checked: never)");
    EXPECT(page_stack_holds(ps, a) && page_stack_holds(ps, b), "a block below the mark, and the new one");
    int local = 0;
    EXPECT(!page_stack_holds(ps, &local) && !page_stack_holds(ps, NULL), "nor memory not its own");
    page_stack_reset(ps);
    EXPECT(!page_stack_holds(ps, a), "nor after a reset");
    page_stack_destroy(ps);
}

static int cleanup_runs;
static size_t cleanup_counts;

static void count_cleanup(void *object, size_t count)
{
    (void)object;
    cleanup_runs++;
    cleanup_counts = cleanup_counts * 10 + count; /* the order they ran in, newest first */
}

/* Cleanups run newest first when a pop or reset releases their records: a
 * record pushed right after a mark, or first on the stack, too. */
static void check_page_stack_cleanups(void)
{
    PageStack *ps = page_stack_create(NULL);
    EXPECT(page_stack_push_cleanup(ps, count_cleanup, NULL, 1), "a cleanup first on the stack");
    page_stack_push(ps, 10, 1);
    EXPECT(page_stack_push_cleanup(ps, count_cleanup, NULL, 2), "a cleanup over an object");
    PageStackMark m = page_stack_mark(ps);
    EXPECT(page_stack_push_cleanup(ps, count_cleanup, NULL, 3), "a cleanup right after a mark");
    page_stack_pop_to(m);
    EXPECT(cleanup_runs == 1 && cleanup_counts == 3, "the pop to the mark ran the one above it: %d runs, %zu",
           cleanup_runs, cleanup_counts);
    memset(page_stack_push(ps, 200, 8), 0x41, 200); /* over where its record was */
    page_stack_reset(ps);
    EXPECT(cleanup_runs == 3 && cleanup_counts == 321, "the reset ran the other two, newest first: %d runs, %zu",
           cleanup_runs, cleanup_counts);
    page_stack_destroy(ps);
}

static void check_page_stack_errors(void)
{
    PageStack *ps = page_stack_create(&(PageStackDesc){.reserve_size = 1 * MiB});
    void *big = page_stack_try_push(ps, 2 * MiB, 8);
    EXPECT(big == NULL && page_stack_last_error(ps) == PageStackError_OutOfReserve, "out of reserve, error %d",
           (int)page_stack_last_error(ps));
    EXPECT(page_stack_pos(ps) == 0, "a failed push leaves the stack unchanged");
    void *wide = page_stack_push_array_with(ps, SIZE_MAX / 2 + 1, 2, 2, PageStackPush_Try); /* wraps to 0 */
    EXPECT(wide == NULL && page_stack_last_error(ps) == PageStackError_SizeOverflow, "size overflow, error %d",
           (int)page_stack_last_error(ps));
    os_vm_inject_commit_failure(1);
    void *refused = page_stack_try_push(ps, 100 * KiB, 8);
    EXPECT(refused == NULL && page_stack_last_error(ps) == PageStackError_CommitFailed, "commit failed, error %d",
           (int)page_stack_last_error(ps));
    void *ok = page_stack_try_push(ps, 100 * KiB, 8);
    EXPECT(ok != NULL, "works again once the OS commits");
    EXPECT(page_stack_stats(ps).failed_pushes == 3, "three failed pushes counted");
    page_stack_destroy(ps);
}

/* A size that takes the block past the end of the address space fails, at
 * every alignment, through the stack and through a cursor, and moves
 * nothing: the push's carry test, compiler builtin or portable fallback. */
static void check_sizes_that_wrap_fail(void)
{
    PageStack *ps = page_stack_create(NULL);
    uintptr_t top = (uintptr_t)page_stack_push(ps, 64, 1) + 64;
    size_t wraps[] = {SIZE_MAX, SIZE_MAX - 62, (size_t)0 - top, (size_t)0 - top + 1, (size_t)0 - top - 1};
    size_t wrong = 0;
    for (size_t i = 0; i < sizeof wraps / sizeof wraps[0]; i++)
        for (size_t align = 1; align <= 4096; align <<= 1) {
            wrong += page_stack_try_push(ps, wraps[i], align) != NULL;
            PageStackCursor c = page_stack_cursor_begin(ps);
            wrong += page_stack_cursor_try_push(&c, wraps[i], align) != NULL;
            page_stack_cursor_end(&c);
            wrong += page_stack_pos(ps) != 64;
        }
    EXPECT(wrong == 0, "%zu pushes of sizes that wrap the address space were served or moved the top", wrong);
    EXPECT(page_stack_stats(ps).failed_pushes == 2 * 5 * 13, "%llu failed pushes counted, expected 130",
           (unsigned long long)page_stack_stats(ps).failed_pushes);
    page_stack_destroy(ps);
}

/* A create that returns NULL says why, on its own thread, until the next create. */
static void check_create_errors(void)
{
    bool wide = SIZE_MAX > 0xFFFFFFFFu;
    EXPECT(page_stack_create(&(PageStackDesc){.reserve_size = SIZE_MAX}) == NULL &&
               page_stack_create_error() == PageStackError_SizeOverflow,
           "reserve_size SIZE_MAX: error %d", (int)page_stack_create_error());
    size_t page = os_vm_page_size(); /* the guard page after it would wrap the mapping to a few pages */
    EXPECT(page_stack_create(&(PageStackDesc){.reserve_size = SIZE_MAX - page + 1, .commit_size = page}) == NULL &&
               page_stack_create_error() == PageStackError_SizeOverflow,
           "reserve_size SIZE_MAX - page + 1: error %d", (int)page_stack_create_error());
    /* Every reservation within 64 pages of SIZE_MAX, on a page boundary or
     * half a page off, with commit steps of one and two pages, 64 KiB and
     * 2 MiB, huge pages or not: never made, whatever the create adds to it. */
    size_t steps[] = {page, 2 * page, 64 * KiB, 2 * MiB};
    for (size_t s = 0; s < sizeof steps / sizeof steps[0]; s++)
        for (size_t k = 0; k < 128; k++)
            for (uint32_t flags = 0; flags <= PageStackFlag_HugePages; flags += PageStackFlag_HugePages) {
                size_t reserve = SIZE_MAX - k * (page / 2);
                PageStack *made = page_stack_create(
                    &(PageStackDesc){.reserve_size = reserve, .commit_size = steps[s], .flags = flags});
                PageStackError error = page_stack_create_error();
                EXPECT(made == NULL && (error == PageStackError_SizeOverflow || error == PageStackError_ReserveFailed),
                       "reserve_size SIZE_MAX - %zu, commit_size %zu, flags %u: made %p, error %d", k * (page / 2),
                       steps[s], (unsigned)flags, (void *)made, (int)error);
                page_stack_destroy(made);
            }
    PageStack *ps = page_stack_create(NULL);
    EXPECT(ps && page_stack_create_error() == PageStackError_None, "a create that succeeds: error %d",
           (int)page_stack_create_error());
    page_stack_destroy(ps);
    /* 1 EiB (64-bit), 3 GiB of 4 (32-bit): more address space than a process
     * has; a 32-bit checked stack, which reserves twice that per region, sees
     * its sizes overflow first. */
    size_t huge = wide ? SIZE_MAX / 16 + 1 : SIZE_MAX / 4 * 3;
    PageStackError too_big = CHECKED && !wide ? PageStackError_SizeOverflow : PageStackError_ReserveFailed;
    EXPECT(page_stack_create(&(PageStackDesc){.reserve_size = huge}) == NULL && page_stack_create_error() == too_big,
           "reserve_size %zu: error %d", huge, (int)page_stack_create_error());
    os_vm_inject_commit_failure(1); /* the stack's own fields */
    EXPECT(page_stack_create(NULL) == NULL && page_stack_create_error() == PageStackError_CommitFailed,
           "its header refused: error %d", (int)page_stack_create_error());
    os_vm_inject_commit_failure(2); /* the initial commit */
    EXPECT(page_stack_create(&(PageStackDesc){.initial_commit = 1 * MiB}) == NULL &&
               page_stack_create_error() == PageStackError_CommitFailed,
           "initial_commit refused: error %d", (int)page_stack_create_error());
    os_vm_inject_commit_failure(0);
    EXPECT(frame_arena_create(&(FrameArenaDesc){.stack.reserve_size = huge}) == NULL &&
               page_stack_create_error() == too_big,
           "an arena whose stacks cannot be reserved: error %d", (int)page_stack_create_error());
    FrameArena *fa = frame_arena_create(NULL);
    EXPECT(fa && page_stack_create_error() == PageStackError_None, "an arena that is made: error %d",
           (int)page_stack_create_error());
    frame_arena_destroy(fa);
    if (!wide)
        EXPECT(frame_arena_create(&(FrameArenaDesc){.history = UINT32_MAX}) == NULL &&
                   page_stack_create_error() == PageStackError_SizeOverflow,
               "history 2^32 - 1 on 32 bits: error %d", (int)page_stack_create_error());
}

/* What follows the width of size_t and of the address space. A 64-bit build
 * checks the defaults and the overflow that both widths share; a 32-bit one
 * (CI's i686 lane) also the products that only overflow there and the
 * address space that runs out. */
static void check_size_t_width(void)
{
    bool wide = SIZE_MAX > 0xFFFFFFFFu;
    PageStack *ps = page_stack_create(NULL);
    EXPECT(ps && page_stack_stats(ps).reserved == (wide ? 1024 : 64) * MiB, "default reservation %zu",
           ps ? page_stack_stats(ps).reserved : 0);
    /* 2^29 eight-byte elements: 4 GiB, past the reservation on 64 bits, past size_t on 32. */
    PageStackError expected = wide ? PageStackError_OutOfReserve : PageStackError_SizeOverflow;
    void *p = page_stack_push_array_with(ps, (size_t)1 << 29, 8, 8, PageStackPush_Try);
    EXPECT(p == NULL && page_stack_last_error(ps) == expected, "2^29 x 8 bytes: error %d, expected %d",
           (int)page_stack_last_error(ps), (int)expected);
    PageStackCursor c = page_stack_cursor_begin(ps);
    p = page_stack_cursor_push_array_with(&c, (size_t)1 << 29, 8, 8, PageStackPush_Try);
    page_stack_cursor_end(&c);
    EXPECT(p == NULL && page_stack_last_error(ps) == expected, "a cursor's 2^29 x 8 bytes: error %d, expected %d",
           (int)page_stack_last_error(ps), (int)expected);
    EXPECT(page_stack_pos(ps) == 0 && page_stack_stats(ps).failed_pushes == 2, "failed pushes leave pos %zu",
           page_stack_pos(ps));
    unsigned char *q = page_stack_push(ps, 100, 64);
    EXPECT(q && ((uintptr_t)q & 63) == 0 && page_stack_pos(ps) == 100, "a push after them: pos %zu",
           page_stack_pos(ps));
    page_stack_destroy(ps);
    if (wide)
        return;
    /* The arena's bookkeeping: the history's 40-byte samples and the trim
     * windows' 16-byte entries, per lane, overflow a 32-bit size_t. */
    EXPECT(frame_arena_create(&(FrameArenaDesc){.history = UINT32_MAX}) == NULL, "history 2^32 - 1 is refused");
    EXPECT(frame_arena_create(&(FrameArenaDesc){.trim_after = (uint32_t)1 << 28, .lanes = 16}) == NULL,
           "trim_after 2^28 in 16 lanes is refused");
    /* 4 frames x 256 lanes of 64 MiB is 64 GiB: the reservations run out
     * part way, and what was made is given back, every time. */
    for (int i = 0; i < 4; i++)
        EXPECT(frame_arena_create(&(FrameArenaDesc){.frames_in_flight = 4, .lanes = 256}) == NULL,
               "64 GiB of stacks in a 4 GiB address space, attempt %d", i);
    /* Then an arena of 1 GiB (16 stacks of 64 MiB; in the checked build 2,
     * which take 10 times their reservation): only if nothing leaked. */
    FrameArena *fa = frame_arena_create(&(FrameArenaDesc){.lanes = CHECKED ? 1 : 8});
    EXPECT(fa != NULL, "an arena of %d stacks after the failures", CHECKED ? 2 : 16);
    if (fa) {
        PageStack *frame = frame_arena_begin(fa);
        EXPECT(page_stack_push(frame, 1 * MiB, 16) != NULL, "its frame takes a push");
        frame_arena_end(fa);
    }
    frame_arena_destroy(fa);
    /* The history's average: 100 frames of 44 MiB add up to 4.3 GiB, more
     * than a 32-bit size_t holds. One buffer, so the frames go on using the
     * same pages; the pushes leave them untouched (but in the checked build). */
    fa = frame_arena_create(&(FrameArenaDesc){.frames_in_flight = 1, .history = 100});
    EXPECT(fa != NULL, "an arena for 100 frames of 44 MiB");
    if (!fa)
        return;
    for (int f = 0; f < 100; f++) {
        PageStack *frame = frame_arena_begin(fa);
        page_stack_push(frame, 44 * MiB + (size_t)f, 1); /* 44 MiB + 0 .. 99: the mean is 44 MiB + 49 */
        frame_arena_end(fa);
    }
    FrameArenaStats st = frame_arena_stats(fa);
    EXPECT(st.used_avg == 44 * MiB + 49 && st.used_min == 44 * MiB && st.used_max == 44 * MiB + 99,
           "the mean of 100 frames of 44 MiB: avg %zu, min %zu, max %zu", st.used_avg, st.used_min, st.used_max);
    frame_arena_destroy(fa);
}

static void check_page_stack_strings(void)
{
    PageStack *ps = page_stack_create(NULL);
    size_t pos = page_stack_pos(ps);
    char *s = page_stack_printf(ps, "%llu %lld %s", 1ULL << 40, -5LL, "x");
    EXPECT(s && strcmp(s, "1099511627776 -5 x") == 0, "printf gives \"%s\"", s ? s : "(null)");
    EXPECT(page_stack_pos(ps) == pos + 19, "one push of the length + 1: pos %zu", page_stack_pos(ps));
    char *wide = page_stack_printf(ps, "%300d|", 42); /* longer than the first try at formatting */
    EXPECT(wide && strlen(wide) == 301 && strcmp(wide + 298, "42|") == 0, "a 301-character string is whole");
    if (!wide) { /* copied below: a NULL source of 302 bytes would stop the run instead of failing this check */
        page_stack_destroy(ps);
        return;
    }
    char *copy = page_stack_strdup(ps, "ship.png");
    char *part = page_stack_strndup(ps, "ship.png", 4);
    EXPECT(copy && strcmp(copy, "ship.png") == 0, "strdup copies");
    EXPECT(part && strcmp(part, "ship") == 0, "strndup stops at n");
    EXPECT(s && strcmp(s, "1099511627776 -5 x") == 0, "later strings leave the first alone");
    double d[3] = {0.5, -1e300, 3};
    page_stack_push(ps, 1, 1);
    pos = page_stack_pos(ps);
    double *dc = push_array_copy(ps, double, d, 3);
    EXPECT(dc && (uintptr_t)dc % alignof(double) == 0 && memcmp(dc, d, sizeof d) == 0,
           "push_array_copy copies, aligned");
    EXPECT(page_stack_pos(ps) == ((pos + alignof(double) - 1) & ~(alignof(double) - 1)) + sizeof d,
           "one push of the array: pos %zu", page_stack_pos(ps));
    char *bytes = page_stack_push_copy(ps, wide, 302, 64);
    EXPECT(bytes && (uintptr_t)bytes % 64 == 0 && memcmp(bytes, wide, 302) == 0, "push_copy copies, aligned");
    EXPECT(page_stack_push_copy(ps, NULL, 0, 8) != NULL, "push_copy of nothing from NULL is a push of 0 bytes");
    page_stack_destroy(ps);
}

static void check_page_stack_trim_and_huge_pages(void)
{
    PageStack *ps = page_stack_create(&(PageStackDesc){.reserve_size = 8 * MiB, .flags = PageStackFlag_HugePages});
    EXPECT(ps != NULL, "a huge-page stack is created, large pages or not");
    if (!ps)
        return;
    unsigned char *p = page_stack_push(ps, 3 * MiB, 64);
    memset(p, 0xEE, 3 * MiB);
    page_stack_reset(ps);
    page_stack_trim(ps, 0);
    PageStackStats st = page_stack_stats(ps);
    EXPECT(st.committed == 0, "trimmed to nothing, committed %zu", st.committed);
    unsigned char *q = page_stack_push_zero(ps, 3 * MiB, 64);
    EXPECT(q && (CHECKED || q == p) && all_zero(q, 3 * MiB), "trimmed memory reads zero when pushed again");
    page_stack_destroy(ps);
}

/* A prefaulted stack's initial commit is mapped at create, whatever the page
 * size: every page of it is resident before the first push (POSIX: mincore;
 * Windows has no such question, so there it reads zero and takes a push).
 * qemu-user answers madvise(MADV_POPULATE_WRITE) without mapping anything,
 * so under an emulator only the rest is checked. (The checked build's push
 * fills the block, which maps it whatever the prefault did.) */
static void check_page_stack_prefault_maps_the_initial_commit(void)
{
    size_t page = os_vm_page_size();
    size_t size = 1 * MiB + 3 * page; /* not a whole number of commit steps */
    PageStack *ps = page_stack_create(&(PageStackDesc){.initial_commit = size, .flags = PageStackFlag_Prefault});
    EXPECT(ps != NULL, "a prefaulted stack is created");
    if (!ps)
        return;
    size_t committed = page_stack_stats(ps).committed;
    EXPECT(committed >= size && committed % page == 0, "committed %zu for %zu asked", committed, size);
    unsigned char *p = page_stack_push(ps, committed, page);
    EXPECT(p != NULL, "a push of the whole commit");
#ifndef _WIN32
    static unsigned char resident[4096];
    size_t pages = committed / page, missing = 0;
    if (getenv("ENGINE_CHECK_EMULATOR")) {
        printf("# under an emulator: the prefault's pages are not checked for residency\n");
    } else if (p && pages <= sizeof resident && mincore(p, committed, resident) == 0) {
        for (size_t i = 0; i < pages; i++)
            missing += !(resident[i] & 1);
    } else {
        missing = pages; /* mincore failed or the commit is larger than asked for */
    }
    EXPECT(missing == 0, "%zu of %zu pages not mapped", missing, pages);
#endif
    EXPECT(p && (CHECKED || pushed_reads_zero(p, committed)), "the commit reads zero"); /* checked: filled with 0xCD */
    page_stack_destroy(ps);
}

/* ------------------------------------------------------------------ mem_ops */

static void check_mem_ops_touch_exactly_n_bytes(void)
{
    _Alignas(16) unsigned char buf[160], src[160];
    for (size_t i = 0; i < sizeof src; i++)
        src[i] = (unsigned char)(i + 1);
    for (size_t n = 0; n <= 128; n += 16) {
        memset(buf, 0xEE, sizeof buf);
        fa_zero16(buf + 16, n);
        EXPECT(buf[15] == 0xEE && buf[16 + n] == 0xEE, "fa_zero16(%zu) stays inside", n);
        EXPECT(all_zero(buf + 16, n), "fa_zero16(%zu) zeroes", n);
        memset(buf, 0xEE, sizeof buf);
        fa_copy16(buf + 16, src, n);
        EXPECT(buf[15] == 0xEE && buf[16 + n] == 0xEE, "fa_copy16(%zu) stays inside", n);
        EXPECT(memcmp(buf + 16, src, n) == 0, "fa_copy16(%zu) copies", n);
    }
}

static void check_realloc_copy_and_zero_keep_neighbours(void)
{
    PageStack *ps = page_stack_create(NULL);
    for (int round = 0; round < 2; round++) { /* the second round runs over dirty memory */
        unsigned char *a = page_stack_push(ps, 17, 16), *b = page_stack_push(ps, 16, 16);
        memset(a, 'a', 17);
        memset(b, 'b', 16);
        unsigned char *c = page_stack_realloc(ps, a, 17, 40, 16);
        EXPECT(c > b && memcmp(c, "aaaaaaaaaaaaaaaaa", 17) == 0, "the moved block keeps its bytes");
        EXPECT(b[0] == 'b' && b[15] == 'b', "the block between is untouched");
        memset(c, 'c', 40);
        unsigned char *z = page_stack_push_zero(ps, 33, 16);
        EXPECT(all_zero(z, 33) && c[39] == 'c', "a zeroed push of 33 bytes is zero and leaves the block below");
        page_stack_reset(ps);
    }
    page_stack_destroy(ps);
}

static void check_realloc_copy_leaves_fresh_memory_zero(void)
{
    /* A copy in whole 16-byte units must not leave bytes above the new top
     * that a later zeroing push would take for never-used memory. */
    PageStack *ps = page_stack_create(NULL);
    unsigned char *a = page_stack_push(ps, 17, 16), *b = page_stack_push(ps, 15, 1);
    memset(a, 'a', 17);
    memset(b, 'b', 15);
    unsigned char *c = page_stack_realloc(ps, a, 17, 20, 16);
    EXPECT(c > b && memcmp(c, "aaaaaaaaaaaaaaaaa", 17) == 0, "moved with its bytes");
    volatile size_t twelve = 12; /* a size known only at run time: no unconditional zeroing */
    unsigned char *z = page_stack_push_zero(ps, twelve, 1);
    EXPECT((CHECKED || z == c + 20) && all_zero(z, 12), "the zeroing push right after the moved block reads zero");
    page_stack_destroy(ps);
}

/* ------------------------------------------------------------------ frame_arena */

static void check_frame_arena_rotation_and_stats(void)
{
    FrameArena *fa = frame_arena_create(&(FrameArenaDesc){.frames_in_flight = 2, .history = 8});
    EXPECT(fa != NULL, "create");
    if (!fa)
        return;
    int *kept = NULL;
    for (int frame = 1; frame <= 10; frame++) {
        PageStack *ps = frame_arena_begin(fa);
        if (kept)
            EXPECT(*kept == frame - 1, "last frame's data survives one frame, got %d", *kept);
        kept = page_stack_push(ps, sizeof *kept, sizeof *kept);
        *kept = frame;
        page_stack_push(ps, (size_t)frame * KiB, 16);
        frame_arena_end(fa);
    }
    FrameSample samples[8];
    size_t n = frame_arena_history(fa, samples, 8);
    EXPECT(n == 8 && samples[7].frame == 9, "8 samples, newest frame 9 (frames count from 0), got %zu, %llu", n,
           (unsigned long long)samples[n ? n - 1 : 0].frame);
    EXPECT(samples[7].pushes == 2, "two pushes in the last frame, got %u", samples[7].pushes);
    EXPECT(frame_arena_stats(fa).frames == 10, "10 frames");
    frame_arena_destroy(fa);
}

/* frame_arena_trim gives a spike's memory back at once and keeps what the
 * frames in flight hold; what it kept for them goes back when their buffers
 * are reset, without a second call. */
static void check_frame_arena_trim(void)
{
    FrameArena *fa = frame_arena_create(&(FrameArenaDesc){.frames_in_flight = 2});
    EXPECT(fa != NULL, "create");
    if (!fa)
        return;
    unsigned char *spike = page_stack_push(frame_arena_begin(fa), 8 * MiB, 16);
    memset(spike, 0x5A, 8 * MiB);
    frame_arena_end(fa);
    unsigned char *last = page_stack_push(frame_arena_begin(fa), 64 * KiB, 16);
    memset(last, 0x3C, 64 * KiB);
    frame_arena_end(fa);
    frame_arena_begin(fa); /* resets the spike's buffer */
    size_t before = frame_arena_stats(fa).committed, given = frame_arena_trim(fa);
    EXPECT(given >= 7 * MiB && frame_arena_stats(fa).committed == before - given,
           "the spike's memory given back: %zu of %zu bytes", given, before);
    EXPECT(all_equal(last, 64 * KiB, 0x3C), "last frame's bytes stay");
    EXPECT(frame_arena_trim(fa) == 0, "nothing more to give back");
    frame_arena_end(fa);
    spike = page_stack_push(frame_arena_begin(fa), 8 * MiB, 16);
    memset(spike, 0x5A, 8 * MiB);
    frame_arena_end(fa);
    before = frame_arena_stats(fa).committed;
    uint64_t trims = frame_arena_stats(fa).trims;
    frame_arena_trim(fa); /* between frames: the spike is in flight */
    frame_arena_begin(fa);
    EXPECT(all_equal(spike, 8 * MiB, 0x5A), "the spike's bytes stay while it is in flight");
    frame_arena_end(fa);
    frame_arena_begin(fa); /* resets the spike's buffer */
    EXPECT(frame_arena_stats(fa).committed + 7 * MiB <= before && frame_arena_stats(fa).trims > trims,
           "the spike's memory given back when its buffer is reset: %zu of %zu bytes committed",
           frame_arena_stats(fa).committed, before);
    frame_arena_end(fa);
    frame_arena_destroy(fa);
}

static void check_frame_arena_budget(void)
{
    FrameArena *fa = frame_arena_create(&(FrameArenaDesc){.budget = 1 * MiB});
    for (int i = 0; i < 3; i++) {
        page_stack_push(frame_arena_begin(fa), 2 * MiB, 16);
        frame_arena_end(fa);
    }
    EXPECT(frame_arena_stats(fa).budget_overruns == 3, "each frame over budget counted");
    frame_arena_destroy(fa);
}

typedef struct {
    FrameArena *fa;
    uint32_t lane;
    unsigned char *block;
} LaneJob;

static void *fill_lane(void *arg)
{
    LaneJob *job = arg;
    job->block = page_stack_push(frame_arena_lane(job->fa, job->lane, 0), 3000, 64);
    memset(job->block, 0x40 + (int)job->lane, 3000);
    return NULL;
}

/* Each lane is filled on a thread of its own; the sample sums them, and
 * every lane's block of the last frame survives the next begin. */
static void check_frame_arena_lanes(void)
{
    FrameArena *fa = frame_arena_create(&(FrameArenaDesc){.lanes = 3, .stack = {.reserve_size = 4 * MiB}});
    EXPECT(fa != NULL && frame_arena_lanes(fa) == 3, "create with 3 lanes");
    if (!fa)
        return;
    LaneJob jobs[3];
    for (int frame = 0; frame < 3; frame++) {
        frame_arena_begin(fa);
        for (uint32_t l = 0; l < 3; l++) {
            jobs[l] = (LaneJob){fa, l, NULL};
            EXPECT(run_thread(fill_lane, &jobs[l]), "lane %u's thread started", (unsigned)l);
        }
        frame_arena_end(fa);
        FrameSample s = frame_arena_stats(fa).last;
        EXPECT(s.pushes == 3 && s.used == 3 * 3000, "the sample sums the lanes: %u pushes, %zu bytes", s.pushes,
               s.used);
    }
    frame_arena_begin(fa);
    for (uint32_t l = 0; l < 3; l++)
        EXPECT(jobs[l].block && jobs[l].block[0] == 0x40 + l && jobs[l].block[2999] == 0x40 + l &&
                   frame_arena_lane(fa, l, 1) != frame_arena_lane(fa, l, 0),
               "lane %u's block of the last frame is intact", (unsigned)l);
    for (uint32_t l = 0; l < 3; l++)
        EXPECT(frame_arena_frames_ago(fa, jobs[l].block + 2999) == 1, "lane %u's block is the last frame's",
               (unsigned)l);
    frame_arena_end(fa);
    frame_arena_begin(fa);
    EXPECT(frame_arena_frames_ago(fa, jobs[0].block) == -1, "a block of a frame whose buffer was reset");
    frame_arena_end(fa);
    frame_arena_destroy(fa);
}

/* ------------------------------------------------------------------ scratch */

typedef struct {
    PageStack *stacks[2];
    uintptr_t bases[2];
    bool distinct;
    size_t reserved[2];
    char names[2][64];
} ScratchProbe;

static void *scratch_thread(void *arg)
{
    ScratchProbe *probe = arg;
    PageStackMark a = scratch_begin(NULL, 0);
    PageStackMark b = scratch_begin(&a.stack, 1);
    probe->stacks[0] = a.stack;
    probe->stacks[1] = b.stack;
    char *x = page_stack_push(a.stack, 64, 8), *y = page_stack_push(b.stack, 64, 8);
    probe->bases[0] = (uintptr_t)x;
    probe->bases[1] = (uintptr_t)y;
    probe->distinct = a.stack != b.stack;
    for (int i = 0; i < 2; i++) {
        probe->reserved[i] = page_stack_stats(probe->stacks[i]).reserved;
        snprintf(probe->names[i], sizeof probe->names[i], "%s", probe->stacks[i]->name);
    }
    scratch_end(b);
    scratch_end(a);
    return NULL;
}

static void check_scratch_per_thread_released_at_exit(void)
{
    ScratchProbe mine = {0}, theirs = {0};
    scratch_thread(&mine);
    EXPECT(mine.distinct, "two stacks on this thread");
    EXPECT(run_thread(scratch_thread, &theirs), "thread started");
    EXPECT(theirs.distinct, "two stacks on the other thread");
    EXPECT(theirs.stacks[0] != mine.stacks[0] && theirs.stacks[0] != mine.stacks[1], "stacks are per thread");
    EXPECT(!address_in_use((void *)theirs.bases[0]) && !address_in_use((void *)theirs.bases[1]),
           "the other thread's scratch stacks were released when it exited");
    EXPECT(address_in_use((void *)mine.bases[0]), "this thread's stacks live on");
    EXPECT(scratch_open_scopes() == 0, "no scope left open");
}

static void check_scratch_defaults_and_thread_init(void)
{
    ScratchProbe before = {0}, theirs = {0}, mine = {0}, back = {0};
    scratch_thread(&before);
    PageStack *plain = page_stack_create(NULL);
    size_t default_reserve = page_stack_stats(plain).reserved;
    page_stack_destroy(plain);
    EXPECT(scratch_set_defaults(&(PageStackDesc){.name = "job", .reserve_size = 8 * MiB}) == ScratchError_None,
           "defaults of 8 MiB set");
    EXPECT(run_thread(scratch_thread, &theirs), "thread started");
    EXPECT(theirs.reserved[0] == 8 * MiB && theirs.reserved[1] == 8 * MiB,
           "a new thread's stacks come from the defaults: %zu, %zu bytes", theirs.reserved[0], theirs.reserved[1]);
    EXPECT(strcmp(theirs.names[0], "job 0") == 0 && strcmp(theirs.names[1], "job 1") == 0,
           "and are named from them: \"%s\", \"%s\"", theirs.names[0], theirs.names[1]);
    scratch_thread(&mine);
    EXPECT(mine.stacks[0] == before.stacks[0] && mine.reserved[0] == default_reserve,
           "this thread keeps the stacks it had");
    EXPECT(scratch_thread_init(&(PageStackDesc){.reserve_size = 4 * MiB}) == ScratchError_None, "thread init");
    scratch_thread(&mine);
    EXPECT(mine.reserved[0] == 4 * MiB && mine.reserved[1] == 4 * MiB && strcmp(mine.names[1], "scratch 1") == 0,
           "thread init made this thread's stacks from its desc: %zu bytes, \"%s\"", mine.reserved[1],
           mine.names[1]);
    EXPECT(!address_in_use((void *)before.bases[0]) && !address_in_use((void *)before.bases[1]),
           "and released the ones it had");
    EXPECT(scratch_set_defaults(&(PageStackDesc){.reserve_size = SIZE_MAX - 64 * MiB}) == ScratchError_NoAddressSpace,
           "defaults that cannot be reserved are refused");
    EXPECT(scratch_thread_init(NULL) == ScratchError_None, "thread init from the defaults");
    scratch_thread(&back);
    EXPECT(back.reserved[0] == 8 * MiB && strcmp(back.names[0], "job 0") == 0,
           "the refused defaults left the ones before: %zu bytes, \"%s\"", back.reserved[0], back.names[0]);
    EXPECT(scratch_set_defaults(NULL) == ScratchError_None && scratch_thread_init(NULL) == ScratchError_None,
           "back to the page_stack defaults");
    scratch_thread(&back);
    EXPECT(back.reserved[0] == default_reserve && strcmp(back.names[0], "scratch 0") == 0,
           "the page_stack defaults again: %zu bytes", back.reserved[0]);
    EXPECT(scratch_open_scopes() == 0, "no scope left open");
}

/* Slots the process can still make: each made, counted, then deleted. */
static int free_thread_slots(void)
{
    int made[OS_VM_THREAD_SLOTS], n = 0;
    while (n < OS_VM_THREAD_SLOTS && (made[n] = os_vm_thread_slot_create(count_slot_exit)) >= 0)
        n++;
    for (int i = 0; i < n; i++)
        os_vm_thread_slot_delete(made[i]);
    return n;
}

/* Before the library's code is unloaded: scratch_shutdown releases this
 * thread's stacks and gives its thread slot back, and scratch works again
 * afterwards, a thread's exit releasing its stacks under the new slot. */
static void check_scratch_shutdown(void)
{
    ScratchProbe mine = {0}, theirs = {0};
    scratch_thread(&mine);
    int free_before = free_thread_slots();
    scratch_shutdown();
    EXPECT(!address_in_use((void *)mine.bases[0]) && !address_in_use((void *)mine.bases[1]),
           "this thread's stacks were released");
    EXPECT(free_thread_slots() == free_before + 1, "scratch's thread slot was given back: %d free, %d before",
           free_thread_slots(), free_before);
    EXPECT(run_thread(scratch_thread, &theirs), "thread started");
    EXPECT(theirs.distinct && !address_in_use((void *)theirs.bases[0]),
           "scratch works again, and a thread's exit releases its stacks");
    scratch_thread(&mine);
    EXPECT(mine.distinct && address_in_use((void *)mine.bases[0]), "on this thread too");
    scratch_shutdown();
    EXPECT(scratch_open_scopes() == 0, "no scope left open");
}

/* ------------------------------------------------------------------ misuse: fatal one-line errors */

static void die_bad_alignment(void)
{
    page_stack_push(page_stack_create(NULL), 8, 3);
}

static void die_copy_from_null(void)
{
    const void *volatile no_bytes = NULL; /* hidden from the nonnull checks */
    page_stack_push_copy(page_stack_create(&(PageStackDesc){.name = "copy"}), no_bytes, 8, 8);
}

static void die_copy_from_below(void) /* never read: the check stops the copy first */
{
    PageStack *ps = page_stack_create(&(PageStackDesc){.name = "copy"});
    page_stack_push(ps, 64, 8);
    page_stack_push_copy(ps, (const void *)(ps->base - 64), 64 + 1 * MiB, 8);
}

static void die_out_of_reserve(void)
{
    page_stack_push(page_stack_create(&(PageStackDesc){.name = "tiny", .reserve_size = 64 * KiB}), 1 * MiB, 8);
}

static void die_stale_mark(void)
{
    PageStack *ps = page_stack_create(NULL);
    PageStackMark m = page_stack_mark(ps);
    page_stack_reset(ps);
    page_stack_pop_to(m);
}

static void die_holds_with_cursor_open(void)
{
    PageStack *ps = page_stack_create(&(PageStackDesc){.name = "asked"});
    PageStackCursor c = page_stack_cursor_begin(ps);
    page_stack_holds(ps, page_stack_cursor_push(&c, 8, 8));
}

static void die_begin_twice(void)
{
    FrameArena *fa = frame_arena_create(NULL);
    frame_arena_begin(fa);
    frame_arena_begin(fa);
}

static void die_both_scratch_conflict(void)
{
    PageStackMark a = scratch_begin(NULL, 0);
    PageStackMark b = scratch_begin(&a.stack, 1);
    PageStack *both[] = {a.stack, b.stack};
    scratch_begin(both, 2);
}

static void die_destroy_arena_buffer(void)
{
    page_stack_destroy(frame_arena_begin(frame_arena_create(NULL)));
}

static void die_scratch_end_foreign_mark(void)
{
    scratch_end(page_stack_mark(page_stack_create(NULL)));
}

static void die_scope_ended_twice(void)
{
    PageStackMark a = scratch_begin(NULL, 0);
    PageStackMark b = scratch_begin(&a.stack, 1);
    scratch_end(b);
    scratch_end(b);
}

static void die_scopes_ended_out_of_order(void)
{
    PageStackMark outer = scratch_begin(NULL, 0);
    page_stack_push(outer.stack, 64, 8);
    PageStackMark inner = scratch_begin(NULL, 0);
    page_stack_push(inner.stack, 64, 8);
    scratch_end(outer);
}

/* The outer scope's mark is the inner one's position but for the byte the inner one takes first. */
static void die_scopes_begun_at_one_position_ended_out_of_order(void)
{
    PageStackMark outer = scratch_begin(NULL, 0);
    PageStackMark inner = scratch_begin(NULL, 0);
    page_stack_push(inner.stack, 64, 8);
    scratch_end(outer);
}

static void die_release_with_scope_open(void)
{
    scratch_begin(NULL, 0);
    scratch_thread_release();
}

static void die_shutdown_with_scope_open(void)
{
    scratch_begin(NULL, 0);
    scratch_shutdown();
}

static void die_thread_init_with_scope_open(void)
{
    scratch_begin(NULL, 0);
    scratch_thread_init(NULL);
}

static void die_reset_with_cursor_open(void)
{
    PageStack *ps = page_stack_create(&(PageStackDesc){.name = "busy"});
    PageStackCursor c = page_stack_cursor_begin(ps);
    page_stack_cursor_push(&c, 16, 8);
    page_stack_reset(ps);
}

static void die_unknown_flags(void)
{
    page_stack_create(&(PageStackDesc){.flags = 1u << 7});
}

static void die_prefault_of_part_of_a_page(void)
{
    size_t page = os_vm_page_size();
    unsigned char *p = os_vm_reserve(16 * page, 0, 0);
    if (p && os_vm_commit(p, 4 * page))
        os_vm_prefault(p, page + 64);
}

/* Not the touch's bare fault: one line naming the range. */
static void die_prefault_of_uncommitted_pages(void)
{
    size_t page = os_vm_page_size();
    unsigned char *p = os_vm_reserve(16 * page, 0, 0);
    if (p && os_vm_commit(p + page, 3 * page))
        os_vm_prefault(p, 4 * page);
}

/* The 16 pages of a reservation already released, for the cases below:
 * the OS answers a commit of them as it answers a lack of memory, a decommit
 * likewise, and a second release not at all (munmap). Each must stop with
 * one line: POSIX names the range, Windows the OS's error. */
static unsigned char *released_pages(void)
{
    unsigned char *p = os_vm_reserve(16 * os_vm_page_size(), 0, 0);
    if (p)
        os_vm_release(p, 16 * os_vm_page_size());
    return p;
}

/* The line of a commit, decommit or release of pages no reservation holds:
 * the OS's error on Windows, the library's own words elsewhere (os_vm_posix.c
 * asks whether the range is mapped). Each names the call, so that the line
 * of another call that failed first does not pass for it. */
#ifdef _WIN32
#define UNRESERVED(call, advice) "os_vm: " call " (Virtual"
#else
#define UNRESERVED(call, advice) ": the range is not (wholly) reserved; " advice
#endif

static void die_commit_of_released_pages(void)
{
    unsigned char *p = released_pages();
    if (p)
        os_vm_commit(p, os_vm_page_size());
}

static void die_release_twice(void)
{
    unsigned char *p = released_pages();
    if (p)
        os_vm_release(p, 16 * os_vm_page_size());
}

static void die_release_of_0_bytes(void)
{
    unsigned char *p = os_vm_reserve(16 * os_vm_page_size(), 0, 0);
    if (p)
        os_vm_release(p, 0);
}

static void die_decommit_of_released_pages(void)
{
    unsigned char *p = released_pages();
    if (p)
        os_vm_decommit(p, os_vm_page_size(), 0);
}

static void die_realloc_of_a_popped_block(void)
{
    PageStack *ps = page_stack_create(&(PageStackDesc){.name = "tmp"});
    PageStackMark m = page_stack_mark(ps);
    void *gone = page_stack_push(ps, 100, 8);
    page_stack_pop_to(m);
    page_stack_realloc(ps, gone, 100, 4 * KiB, 8);
}

static void die_strdup_of_a_popped_string(void)
{
    PageStack *ps = page_stack_create(&(PageStackDesc){.name = "tmp"});
    PageStackMark m = page_stack_mark(ps);
    char *gone = page_stack_strdup(ps, "level_03");
    page_stack_pop_to(m);
    page_stack_strdup(ps, gone);
}

static void die_printf_of_a_popped_format(void)
{
    PageStack *ps = page_stack_create(&(PageStackDesc){.name = "tmp"});
    PageStackMark m = page_stack_mark(ps);
    char *gone = page_stack_strdup(ps, "frame %d");
    page_stack_pop_to(m);
    page_stack_printf(ps, gone, 12);
}

static void die_strdup_with_no_nul_below_the_top(void)
{
    PageStack *ps = page_stack_create(&(PageStackDesc){.name = "tmp"});
    char *name = page_stack_push(ps, 8, 1);
    memcpy(name, "level_03", 8); /* no NUL */
    page_stack_strdup(ps, name);
}

static void die_cleanup_over_a_popped_object(void)
{
    PageStack *ps = page_stack_create(&(PageStackDesc){.name = "scoped"});
    push_array(ps, int, 4);
    PageStackMark m = page_stack_mark(ps);
    int *gone = push_array(ps, int, 4);
    page_stack_pop_to(m);
    page_stack_push_cleanup(ps, count_cleanup, gone, 4);
}

static void push_to_own_stack(PageStack *ps, void *ptr, size_t size, void *user)
{
    (void)ptr, (void)user;
    if (size == 100)
        page_stack_push(ps, 16, 8);
}

#if CHECKED
static void *return_with_a_scope_open(void *arg)
{
    (void)arg;
    scratch_begin(NULL, 0);
    return NULL;
}

static void die_thread_exit_with_scope_open(void)
{
    run_thread(return_with_a_scope_open, NULL);
}
#endif

static void die_push_from_on_push(void)
{
    PageStack *ps = page_stack_create(&(PageStackDesc){.name = "watched", .on_push = push_to_own_stack});
    page_stack_push(ps, 100, 8);
}

static void push_to_own_stack_from_on_pop(PageStack *ps, size_t pos, void *user)
{
    (void)pos, (void)user;
    page_stack_push(ps, 16, 8);
}

/* on_pop alone: the stack pushes inline, and the hook's push is stopped only
 * because the call to the hook closes the inline push. */
static void die_push_from_on_pop(void)
{
    PageStack *ps = page_stack_create(&(PageStackDesc){.name = "watched", .on_pop = push_to_own_stack_from_on_pop});
    PageStackMark m = page_stack_mark(ps);
    page_stack_push(ps, 100, 8);
    page_stack_pop_to(m);
}

static void reset_own_stack(void *object, size_t count)
{
    (void)count;
    page_stack_reset(object);
}

static void die_reset_from_a_cleanup(void)
{
    PageStack *ps = page_stack_create(&(PageStackDesc){.name = "scoped"});
    page_stack_push(ps, 16, 8);
    PageStackMark m = page_stack_mark(ps);
    page_stack_push_cleanup(ps, reset_own_stack, ps, 1);
    page_stack_pop_to(m);
}

#if SELF_CHECK
static void die_write_past_a_block(void)
{
    PageStack *ps = page_stack_create(&(PageStackDesc){.name = "hud"});
    volatile unsigned char *p = page_stack_push(ps, 24, 8);
    p[24] = 0x41;
    page_stack_reset(ps);
}

static void die_write_after_reset(void)
{
    PageStack *ps = page_stack_create(&(PageStackDesc){.name = "hud"});
    volatile unsigned char *p = page_stack_push(ps, 64, 8);
    page_stack_reset(ps);
    p[10] = 0x42;
    page_stack_destroy(ps);
}

static void die_check_finds_a_write(void)
{
    FrameArena *fa = frame_arena_create(&(FrameArenaDesc){.name = "hud"});
    volatile unsigned char *p = page_stack_push(frame_arena_begin(fa), 12, 4);
    p[12] = 0x41;
    frame_arena_check(fa);
}
#endif

typedef struct Death {
    const char *name;
    void (*fn)(void);
    const char *message;
} Death;

static const Death deaths[] = {
#if SELF_CHECK
    {"write_past_a_block", die_write_past_a_block, "page_stack \"hud\": page_stack_reset found the block that ends at"},
    {"write_after_reset", die_write_after_reset,
     "page_stack \"hud\": page_stack_destroy, checking the quarantine, found the byte at"},
    {"check_finds_a_write", die_check_finds_a_write, "page_stack \"hud\": page_stack_check found the block that ends at"},
#endif
    {"bad_alignment", die_bad_alignment, "alignment 3 is not a power of two"},
    {"out_of_reserve", die_out_of_reserve, "page_stack \"tiny\": push of 1048576 bytes (align 8) failed"},
    {"copy_from_null", die_copy_from_null, "page_stack \"copy\": push_copy from src NULL (count 1, size 8)"},
    {"copy_from_below", die_copy_from_below,
     "page_stack \"copy\": push_copy of 1048640 bytes from"},
    {"stale_mark", die_stale_mark, "pop_to a stale mark"},
    {"holds_with_cursor_open", die_holds_with_cursor_open,
     "page_stack \"asked\": page_stack_holds while a cursor is open on it"},
    {"begin_twice", die_begin_twice, "frame_arena_begin called twice without frame_arena_end"},
    {"both_scratch_conflict", die_both_scratch_conflict, "both scratch stacks of this thread are in conflicts"},
    {"destroy_arena_buffer", die_destroy_arena_buffer,
     "page_stack_destroy: the stack \"frame\" belongs to a frame arena"},
    {"scratch_end_foreign_mark", die_scratch_end_foreign_mark,
     "scratch_end: the mark is not from this thread's scratch_begin"},
    {"scope_ended_twice", die_scope_ended_twice,
     "scratch_end: every scope of scratch stack \"scratch 1\" on this thread has ended; a scope was ended twice"},
    {"scopes_ended_out_of_order", die_scopes_ended_out_of_order,
     "scratch_end: the scope that began at pos 0 of scratch stack \"scratch 0\" is not the innermost one open"},
    {"scopes_begun_at_one_position_ended_out_of_order", die_scopes_begun_at_one_position_ended_out_of_order,
     "scratch_end: the scope that began at pos 0 of scratch stack \"scratch 0\" is not the innermost one open on "
     "this thread, which began at pos 1;"},
    {"release_with_scope_open", die_release_with_scope_open,
     "scratch_thread_release: 1 scratch scope of this thread is still open"},
    {"shutdown_with_scope_open", die_shutdown_with_scope_open,
     "scratch_shutdown: 1 scratch scope of this thread is still open"},
    {"thread_init_with_scope_open", die_thread_init_with_scope_open,
     "scratch_thread_init: 1 scratch scope of this thread is still open"},
    {"unknown_flags", die_unknown_flags, "flags 0x80 include bits no PageStackFlag names"},
    {"prefault_of_part_of_a_page", die_prefault_of_part_of_a_page,
     "the address and the size must be multiples of the page size"},
    {"release_of_0_bytes", die_release_of_0_bytes, "os_vm: release of 0 bytes at "},
    {"reset_with_cursor_open", die_reset_with_cursor_open,
     "page_stack \"busy\": page_stack_reset while a cursor is open on it"},
    {"realloc_of_a_popped_block", die_realloc_of_a_popped_block,
     "page_stack \"tmp\": realloc of the block at"},
    {"strdup_of_a_popped_string", die_strdup_of_a_popped_string,
     "page_stack \"tmp\": strdup of the block at"},
    {"printf_of_a_popped_format", die_printf_of_a_popped_format, "page_stack \"tmp\": printf of the block at"},
    {"strdup_with_no_nul_below_the_top", die_strdup_with_no_nul_below_the_top,
     "page_stack \"tmp\": strdup of the string at"},
    {"cleanup_over_a_popped_object", die_cleanup_over_a_popped_object,
     "page_stack \"scoped\": page_stack_push_cleanup over the object at"},
#if CHECKED
    {"thread_exit_with_scope_open", die_thread_exit_with_scope_open,
     "scratch: a thread exited with 1 scratch scope still open"},
#endif
    {"push_from_on_push", die_push_from_on_push,
     "page_stack \"watched\": page_stack_push from the stack's own on_push hook"},
    {"push_from_on_pop", die_push_from_on_pop,
     "page_stack \"watched\": page_stack_push from the stack's own on_pop hook"},
    {"reset_from_a_cleanup", die_reset_from_a_cleanup,
     "page_stack \"scoped\": page_stack_reset from one of the stack's own cleanups"},
};

/* Misuse that only a program run natively can show: qemu-user answers every
 * madvise with success and does nothing, so under it a prefault cannot tell
 * pages that are not committed. */
static const Death native_deaths[] = {
    {"prefault_of_uncommitted_pages", die_prefault_of_uncommitted_pages,
     "the range is not (wholly) committed"},
};

/* Misuse of pages no reservation holds any more, which os_vm finds by asking
 * the system whether they are mapped. */
static const Death released_deaths[] = {
    {"commit_of_released_pages", die_commit_of_released_pages, UNRESERVED("commit", "commit only pages")},
    {"release_twice", die_release_twice, UNRESERVED("release", "release each reservation once")},
    {"decommit_of_released_pages", die_decommit_of_released_pages, UNRESERVED("decommit", "decommit only pages")},
};

/* Whether the system says that pages just unmapped are not mapped. Natively
 * it does; qemu-user running a 32-bit program on a 64-bit host keeps the
 * guest's whole address space mapped for itself, and there msync (os_vm's
 * question where madvise has none) answers success for released pages. */
static bool released_pages_are_told(void)
{
#ifdef _WIN32
    return true;
#else
    size_t page = os_vm_page_size();
    void *p = mmap(NULL, page, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED || munmap(p, page) != 0)
        return true;
    return msync(p, page, MS_ASYNC) != 0;
#endif
}

/* The child's fatal line is the first thing it said, whole, with the
 * message in it, and the engine said nothing else: another line of its own
 * before or after would be another error. What the platform adds after an
 * abort (MinGW's C runtime, an emulator) may follow. */
static bool one_fatal_line(const char *err, const char *message)
{
    static const char prefix[] = "frame_arena: ";
    const char *end = strchr(err, '\n');
    if (strncmp(err, prefix, sizeof prefix - 1) != 0 || !end || strstr(end, prefix))
        return false;
    const char *at = strstr(err, message);
    return at && at + strlen(message) <= end;
}

static void expect_deaths(const Death *cases, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        bool died, faulted;
        const char *err = run_death(cases[i].name, &died, &faulted);
        EXPECT(died, "%s: the program stopped", cases[i].name);
        EXPECT(one_fatal_line(err, cases[i].message),
               "%s: the first line of stderr, the engine's only one, holds \"%s\"; stderr was: %s", cases[i].name,
               cases[i].message, err);
    }
}

/* The POSIX file built as for the systems that are not Linux has no
 * MADV_POPULATE_WRITE to ask: its prefault writes to each page, and the
 * write to a page not committed faults, as os_vm.h says of macOS. */
static void expect_prefault_faults(void)
{
    for (size_t i = 0; i < sizeof native_deaths / sizeof native_deaths[0]; i++) {
        bool died, faulted;
        const char *err = run_death(native_deaths[i].name, &died, &faulted);
        EXPECT(faulted, "%s: the touch of a page not committed faulted; the program ended %s, saying: %s",
               native_deaths[i].name, died ? "otherwise" : "normally", err);
    }
}

static void check_misuse_is_fatal_with_one_line(void)
{
    expect_deaths(deaths, sizeof deaths / sizeof deaths[0]);
    if (getenv("ENGINE_CHECK_EMULATOR") && !released_pages_are_told())
        printf("# under an emulator that keeps released pages mapped: %zu misuse case(s) of released pages are "
               "not checked\n",
               sizeof released_deaths / sizeof released_deaths[0]);
    else
        expect_deaths(released_deaths, sizeof released_deaths / sizeof released_deaths[0]);
    if (getenv("ENGINE_CHECK_EMULATOR"))
        printf("# under an emulator: %zu misuse case(s) of a prefault are not checked\n",
               sizeof native_deaths / sizeof native_deaths[0]);
    else if (posix_elsewhere)
        expect_prefault_faults();
    else
        expect_deaths(native_deaths, sizeof native_deaths / sizeof native_deaths[0]);
}

/* A process that ends with a scratch scope open on the thread that ends it
 * (a fatal error elsewhere, a quit from inside a scope) ends as it meant to:
 * thread-exit slots run when a thread ends, not when the process does, so the
 * checked build's "a thread exited with ... still open" is not said then.
 * On Windows, while the slots were fiber-local storage, ExitProcess ran the
 * ending thread's callbacks: the checked build failed both cases there, and
 * every misuse case with a scope open said a second fatal line. On Windows a
 * fiber's deletion is no thread's end either (scratch_on_fibers). */
typedef struct QuietEnd {
    const char *name;
    int (*fn)(void); /* what main returns, if it returns */
    bool aborts;
} QuietEnd;

static int return_from_main_with_a_scope_open(void)
{
    scratch_begin(NULL, 0);
    return 0;
}

static int abort_with_a_scope_open(void)
{
    scratch_begin(NULL, 0);
    abort();
}

static void say_exit(void *value)
{
    (void)value;
    fputs("engine_check: a slot's on_exit ran as the process ended\n", stderr);
}

static int return_from_main_with_a_slot_value(void)
{
    int slot = os_vm_thread_slot_create(say_exit);
    if (slot < 0)
        return 1;
    os_vm_thread_slot_set(slot, &slot);
    return 0;
}

#ifdef _WIN32
/* A fiber job system: a worker thread runs jobs on fibers, and scratch is the
 * thread's, whichever fiber asks. A job fiber that first used scratch on the
 * thread is deleted while the thread goes on, its scope open; that releases
 * nothing. The thread's exit releases its stacks. (Until 2026-12-03 the
 * slot was fiber-local storage, whose callback runs when a fiber is deleted:
 * the checked build stopped there with "a thread exited", the plain build
 * released the stacks under the open scope.) */
typedef struct FiberProbe {
    void *worker_fiber;
    uintptr_t job_block, scope_block;
} FiberProbe;

static VOID WINAPI scratch_job(PVOID arg)
{
    FiberProbe *probe = arg;
    PageStackMark m = scratch_begin(NULL, 0); /* the thread's first scratch: the slot's value is set here */
    probe->job_block = (uintptr_t)page_stack_push(m.stack, 64, 8);
    scratch_end(m);
    SwitchToFiber(probe->worker_fiber);
}

static void *fiber_worker(void *arg)
{
    FiberProbe *probe = arg;
    probe->worker_fiber = ConvertThreadToFiber(NULL);
    void *job = CreateFiber(0, scratch_job, probe);
    if (!probe->worker_fiber || !job) {
        fputs("engine_check: no fibers\n", stderr);
        return NULL;
    }
    SwitchToFiber(job);
    PageStackMark m = scratch_begin(NULL, 0);
    char *block = page_stack_push(m.stack, 64, 8);
    probe->scope_block = (uintptr_t)block;
    DeleteFiber(job);
    if (!address_in_use(block))
        fputs("engine_check: deleting a fiber released the thread's scratch stacks\n", stderr);
    else
        memset(block, 1, 64);
    scratch_end(m);
    ConvertFiberToThread();
    return NULL;
}

static int scratch_on_fibers(void)
{
    FiberProbe probe = {0};
    if (!run_thread(fiber_worker, &probe) || !probe.job_block || !probe.scope_block)
        fputs("engine_check: the fiber worker did not run\n", stderr);
    else if (address_in_use((void *)probe.scope_block))
        fputs("engine_check: the worker's exit did not release its scratch stacks\n", stderr);
    return 0;
}
#endif

static const QuietEnd quiet_ends[] = {
#ifdef _WIN32
    {"scratch_on_fibers", scratch_on_fibers, false},
#endif
    {"return_from_main_with_a_scope_open", return_from_main_with_a_scope_open, false},
    {"abort_with_a_scope_open", abort_with_a_scope_open, true},
    {"return_from_main_with_a_slot_value", return_from_main_with_a_slot_value, false}, /* os_vm.h's promise */
};

static void check_a_process_ends_quietly_with_a_scope_open(void)
{
    for (size_t i = 0; i < sizeof quiet_ends / sizeof quiet_ends[0]; i++) {
        bool died, faulted;
        const char *err = run_death(quiet_ends[i].name, &died, &faulted);
        EXPECT(died == quiet_ends[i].aborts, "%s: the program %s", quiet_ends[i].name,
               quiet_ends[i].aborts ? "stopped" : "exited with 0");
        EXPECT(!strstr(err, "frame_arena: ") && !strstr(err, "engine_check: "),
               "%s: neither the engine nor an on_exit said anything; stderr was: %s", quiet_ends[i].name, err);
    }
}

static const Death *find_in(const Death *cases, size_t count, const char *name)
{
    for (size_t i = 0; i < count; i++)
        if (strcmp(name, cases[i].name) == 0)
            return &cases[i];
    return NULL;
}

static const Death *find_death(const char *name)
{
    const Death *d = find_in(deaths, sizeof deaths / sizeof deaths[0], name);
    if (!d)
        d = find_in(native_deaths, sizeof native_deaths / sizeof native_deaths[0], name);
    if (!d)
        d = find_in(released_deaths, sizeof released_deaths / sizeof released_deaths[0], name);
    return d;
}

/* ------------------------------------------------------------------ guard pages: writes outside fault */

/* Said just before the access that must fault, and last: a fault that came
 * earlier, of something else, leaves it out, and the case fails. */
#define ABOUT_TO_FAULT "engine_check: the access that must fault"

static void about_to_fault(void)
{
    fputs(ABOUT_TO_FAULT "\n", stderr);
    fflush(stderr);
}

/* Whether the line above is the last thing the child said (CR LF on
 * Windows); an emulator's own report of the fault ("qemu: uncaught target
 * signal 11 ...") may follow it. */
static bool said_last(const char *err)
{
    const char *at = strstr(err, ABOUT_TO_FAULT);
    if (!at)
        return false;
    for (const char *line = strchr(at, '\n'); line; line = strchr(line + 1, '\n')) {
        const char *next = line + 1;
        if (*next && *next != '\n' && *next != '\r' && strncmp(next, "qemu: ", 6) != 0)
            return false;
    }
    return true;
}

static void fault_above_committed(void)
{
    PageStack *ps = page_stack_create(NULL);
    volatile unsigned char *p = page_stack_push(ps, 100, 1);
    size_t committed = page_stack_stats(ps).committed;
    about_to_fault();
    p[committed] = 1; /* the first byte above the committed range */
}

static void fault_below_first_block(void)
{
    PageStack *ps = page_stack_create(NULL);
    volatile unsigned char *p = page_stack_push(ps, 16, 16);
    about_to_fault();
    p[-1] = 1; /* the guard page below the usable range */
}

static void fault_push_after_destroy(void)
{
    PageStack *ps = page_stack_create(NULL);
    page_stack_destroy(ps);
    about_to_fault();
    page_stack_push(ps, 16, 16); /* the header went back to the OS with the reservation */
}

#ifdef _WIN32
/* Ends the child with the exception's code, so that the parent reads an
 * access violation from the exit code whoever would handle the crash (wine
 * otherwise starts its debugger, which ends the process with its own code). */
static LONG WINAPI exit_with_exception_code(EXCEPTION_POINTERS *e)
{
    ExitProcess((UINT)e->ExceptionRecord->ExceptionCode);
}
#endif

/* A named check or fault case. */
typedef struct Case {
    const char *name;
    void (*fn)(void);
} Case;

static const Case faults[] = {
    {"write_above_committed", fault_above_committed},
    {"write_below_first_block", fault_below_first_block},
    {"push_after_destroy", fault_push_after_destroy},
};

static void check_writes_outside_the_stack_fault(void)
{
    for (size_t i = 0; i < sizeof faults / sizeof faults[0]; i++) {
        bool died, faulted;
        const char *err = run_death(faults[i].name, &died, &faulted);
        EXPECT(faulted && said_last(err),
               "%s: the write faulted, after the line said before it; the program ended %s, saying: %s",
               faults[i].name, faulted ? "with a fault" : "otherwise", err);
    }
}

/* ------------------------------------------------------------------ driver */

static const Case checks[] = {
    {"os_vm reserve, commit, decommit, release", check_os_vm_reserve_commit_decommit},
    {"os_vm prefault keeps what the pages hold", check_os_vm_prefault_keeps_what_the_pages_hold},
    {"os_vm 2 MiB alignment", check_os_vm_large_alignment},
    {"os_vm huge pages or fallback", check_os_vm_huge_pages_or_fallback},
    {"os_vm injected commit failure", check_os_vm_injected_commit_failure},
    {"os_vm thread slot the OS refuses is not used up", check_os_vm_thread_slot_refused_is_not_used_up},
    {"page_stack push, align, grow, reset, zero", check_page_stack_push_align_grow},
    {"page_stack empty blocks", check_page_stack_empty_blocks},
    {"page_stack cursor", check_page_stack_cursor},
    {"page_stack marks", check_page_stack_marks},
    {"page_stack cleanups", check_page_stack_cleanups},
    {"page_stack errors leave the stack unchanged", check_page_stack_errors},
    {"page_stack sizes that wrap the address space fail", check_sizes_that_wrap_fail},
    {"a create that fails says why", check_create_errors},
    {"page_stack strings and copies", check_page_stack_strings},
    {"size_t width: defaults, overflow, address space", check_size_t_width},
    {"page_stack trim and huge pages", check_page_stack_trim_and_huge_pages},
    {"page_stack prefault maps the initial commit", check_page_stack_prefault_maps_the_initial_commit},
    {"mem_ops touch exactly n bytes", check_mem_ops_touch_exactly_n_bytes},
    {"realloc copy and zeroing keep neighbours", check_realloc_copy_and_zero_keep_neighbours},
    {"realloc copy leaves fresh memory zero", check_realloc_copy_leaves_fresh_memory_zero},
    {"frame_arena rotation and stats", check_frame_arena_rotation_and_stats},
    {"frame_arena trim", check_frame_arena_trim},
    {"frame_arena budget", check_frame_arena_budget},
    {"frame_arena lanes filled from threads", check_frame_arena_lanes},
    {"scratch per thread, released at thread exit", check_scratch_per_thread_released_at_exit},
    {"scratch defaults and thread init", check_scratch_defaults_and_thread_init},
    {"scratch shutdown", check_scratch_shutdown},
    {"misuse is fatal with one line", check_misuse_is_fatal_with_one_line},
    {"a process ends quietly with a scratch scope open", check_a_process_ends_quietly_with_a_scope_open},
    {"writes above the committed range or below the first block, and a push after destroy, fault",
     check_writes_outside_the_stack_fault},
};

int main(int argc, char **argv)
{
#ifdef _WIN32
    static char module[MAX_PATH];
    GetModuleFileNameA(NULL, module, sizeof module);
    self_path = module;
#else
    self_path = argv[0];
#endif
    setvbuf(stdout, NULL, _IONBF, 0);
    if (argc == 3 && strcmp(argv[1], "--die") == 0) {
        const Death *death = find_death(argv[2]);
        if (death) {
            death->fn();
            fprintf(stderr, "engine_check: %s did not stop the program\n", argv[2]);
            return 0;
        }
        for (size_t i = 0; i < sizeof quiet_ends / sizeof quiet_ends[0]; i++)
            if (strcmp(argv[2], quiet_ends[i].name) == 0)
                return quiet_ends[i].fn();
        for (size_t i = 0; i < sizeof faults / sizeof faults[0]; i++)
            if (strcmp(argv[2], faults[i].name) == 0) {
#ifdef _WIN32
                SetUnhandledExceptionFilter(exit_with_exception_code);
#endif
                faults[i].fn();
                fprintf(stderr, "engine_check: %s did not fault\n", argv[2]);
                return 0;
            }
        fprintf(stderr, "engine_check: no death case %s\n", argv[2]);
        return 0;
    }
    /* os_vm_posix.c built with __linux__ undefined (see tests/meson.build) */
    posix_elsewhere = argc == 2 && strcmp(argv[1], "--posix-elsewhere") == 0;
    size_t count = sizeof checks / sizeof checks[0];
    int failed = 0;
    printf("TAP version 13\n1..%zu\n# page size %zu\n", count, os_vm_page_size());
    for (size_t i = 0; i < count; i++) {
        failures_in_check = 0;
        checks[i].fn();
        failed += failures_in_check != 0;
        printf("%s %zu - %s\n", failures_in_check ? "not ok" : "ok", i + 1, checks[i].name);
    }
    return failed ? 1 : 0;
}
