/* Test helpers shared by the suites.
 *
 * Death tests: Criterion's .signal checks how the test process died; these
 * helpers also check what it printed. expect_fatal() sends stderr to a
 * private file and installs a SIGABRT handler that reads it back: if the
 * expected text is there the handler lets the abort kill the process (the
 * test passes on .signal = SIGABRT); if not, it prints what it saw and exits
 * normally, which Criterion reports as a failure of the death test. An abort
 * before the test called expect_fatal (or expect_abort_output) fails it the
 * same way: a death test that died earlier than it meant to, of another
 * error, would pass on its signal alone. So does a fault (SIGSEGV) before
 * expect_fault(), which a test that must fault calls just before the access
 * that must.
 */
#ifndef FRAME_ARENA_TESTS_SUPPORT_H
#define FRAME_ARENA_TESTS_SUPPORT_H

#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "page_stack.h"
#include "test_list.h"

#if defined(__SANITIZE_ADDRESS__)
#define TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TEST_ASAN 1
#endif
#endif
#ifndef TEST_ASAN
#define TEST_ASAN 0
#endif

/* The checked build moves bytes around (quarantine regions, redzones,
 * monotonic pops): tests of exact commit counts and addresses are for the
 * plain build, where DESIGN.md's commit bound holds. */
#ifdef FRAME_ARENA_CHECKED
#define TEST_CHECKED 1
#else
#define TEST_CHECKED 0
#endif

/* True while the test runs under valgrind (./dev test-memcheck runs the
 * suites so): its shadow memory takes page faults of its own, and it keeps
 * the process's limits (RLIMIT_DATA) and address space itself, so tests of
 * fault counts and limits have nothing to measure there. */
#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#define TEST_VALGRIND (RUNNING_ON_VALGRIND != 0)
#endif
#endif
#ifndef TEST_VALGRIND
#define TEST_VALGRIND 0
#endif
/* Around a test's reads of bytes it knows a stack has released or never
 * written, made to show what a release build leaves there: memcheck rightly
 * reports them, so its reports are off in between, for this thread. */
#ifdef VALGRIND_DISABLE_ERROR_REPORTING
#define memcheck_quiet_begin() VALGRIND_DISABLE_ERROR_REPORTING
#define memcheck_quiet_end() VALGRIND_ENABLE_ERROR_REPORTING
#else
#define memcheck_quiet_begin() ((void)0)
#define memcheck_quiet_end() ((void)0)
#endif

/* 1 when the build has UBSan (tests/meson.build says so: gcc names no macro for it). */
#ifndef TEST_UBSAN
#define TEST_UBSAN 0
#endif

/* Takes every thread key the process has left into keys (room for
 * PTHREAD_KEYS_MAX), so that the next pthread_key_create fails; returns how
 * many it took, at least one. */
static inline int take_every_thread_key(pthread_key_t *keys)
{
    int taken = 0;
    while (taken < PTHREAD_KEYS_MAX && pthread_key_create(&keys[taken], NULL) == 0)
        taken++;
    cr_assert_gt(taken, 0);
    pthread_key_t one_more;
    cr_assert_neq(pthread_key_create(&one_more, NULL), 0, "every key is taken");
    return taken;
}

/* A field of /proc/self/status in kB ("VmData:", "VmLck:", ...); 0 if absent. */
static inline size_t status_kib(const char *field)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    size_t value = 0, n = strlen(field);
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, field, n))
            value = strtoull(line + n + 1, NULL, 10);
    if (f)
        fclose(f);
    return value;
}

/* Whether the kernel's VmFlags for the mapping that holds addr
 * (/proc/self/smaps) include flag: "hg" (huge-page advice), "lo" (locked). */
static inline bool vm_flag(const void *addr, const char *flag)
{
    FILE *f = fopen("/proc/self/smaps", "r");
    char line[4096], word[8]; /* a whole line: a mapping's path may be long */
    snprintf(word, sizeof word, " %s ", flag);
    bool inside = false, found = false;
    unsigned long lo, hi;
    while (f && fgets(line, sizeof line, f)) {
        if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2)
            inside = lo <= (uintptr_t)addr && (uintptr_t)addr < hi;
        else if (inside && !strncmp(line, "VmFlags:", 8))
            found = strstr(line + 8, word) != NULL; /* after "VmFlags:", each flag between spaces */
    }
    if (f)
        fclose(f);
    return found;
}

/* The OS's refusals, made for one test: a seccomp filter, which a test
 * process installs for itself alone (each test runs in a process of its
 * own). Little-endian only: the filter reads an argument's low 32 bits. */
#if defined(__linux__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#define TEST_SYSCALL_FILTER 1

/* From here on this test's process gets `err` from every call of system call
 * `nr` whose argument `arg`, its low 32 bits masked with `mask`, is `value`
 * (a mask of 0: every call). Skips the test where the kernel takes no
 * filter. */
static inline void refuse_syscall(int nr, int arg, uint32_t mask, uint32_t value, int err)
{
    struct sock_filter code[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)nr, 0, 4),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, (uint32_t)offsetof(struct seccomp_data, args[arg])),
        BPF_STMT(BPF_ALU | BPF_AND | BPF_K, mask),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, value, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (uint32_t)err),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = {.len = sizeof code / sizeof code[0], .filter = code};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 || prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0)
        cr_skip_test("this kernel takes no seccomp filter (%s)", strerror(errno));
}
#endif

/* A cleanup (page_stack_push_cleanup) that adds its count to cleanups_run. */
static int cleanups_run;

static inline void count_cleanup(void *object, size_t count)
{
    (void)object;
    cleanups_run += (int)count;
}

/* The parameters 0 .. n-1, for a ParameterizedTest that picks its case by
 * index: Criterion copies parameters into the process that runs the test,
 * so an index travels where a function pointer might not. */
static inline struct criterion_test_params index_params(int *cases, int n)
{
    for (int i = 0; i < n; i++)
        cases[i] = i;
    return cr_make_param_array(int, cases, (size_t)n);
}

static int death_capture_fd = -1;
static int death_real_stderr = -1;
static const char *death_expected;
static bool death_one_line;

static void death_complain(const char *what, const char *seen)
{
    if (write(death_real_stderr, what, strlen(what)) < 0 || write(death_real_stderr, seen, strlen(seen)) < 0 ||
        write(death_real_stderr, "\n", 1) < 0)
        _exit(4);
}

static void death_on_abort(int sig)
{
    static char seen[8192];
    ssize_t n = pread(death_capture_fd, seen, sizeof seen - 1, 0);
    seen[n > 0 ? n : 0] = '\0';
    const char *newline = strchr(seen, '\n');
    bool ok = strstr(seen, death_expected) != NULL;
    if (death_one_line)
        ok = ok && strncmp(seen, "frame_arena: ", 13) == 0 && newline && newline[1] == '\0';
    if (!ok) {
        death_complain(death_one_line ? "expected one line 'frame_arena: ...' containing the expected text; got: "
                                      : "expected text not found in: ",
                       seen);
        _exit(3);
    }
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, sig);
    signal(sig, SIG_DFL);
    sigprocmask(SIG_UNBLOCK, &set, NULL);
    raise(sig);
}

/* Until a test arms an expected text, an abort fails it, and until it
 * calls expect_fault a fault does (see the top). */
static void death_unarmed(int sig)
{
    const char *line = sig == SIGSEGV ? "the test faulted before the access it expects to fault (expect_fault)\n"
                                      : "the test aborted before it said what the abort must print (expect_fatal)\n";
    if (write(STDERR_FILENO, line, strlen(line)) < 0)
        _exit(4);
    _exit(3);
}

__attribute__((constructor)) static void death_arm_nothing(void)
{
    signal(SIGABRT, death_unarmed);
    signal(SIGSEGV, death_unarmed);
}

/* The next access must fault: SIGSEGV kills the test, which passes on .signal = SIGSEGV. */
static inline void expect_fault(void)
{
    signal(SIGSEGV, SIG_DFL);
}

static void expect_abort_output(const char *expected, bool one_line)
{
    FILE *capture = tmpfile();
    cr_assert(capture != NULL);
    fflush(stderr);
    death_real_stderr = dup(STDERR_FILENO);
    death_capture_fd = fileno(capture);
    death_expected = expected;
    death_one_line = one_line;
    dup2(death_capture_fd, STDERR_FILENO);
    signal(SIGABRT, death_on_abort);
}

/* The next abort must print exactly one line "frame_arena: ...expected...". */
static inline void expect_fatal(const char *expected)
{
    expect_abort_output(expected, true);
}

/* expect_fatal with the expected text formatted as printf formats it: the
 * addresses, sizes and names a message quotes. */
__attribute__((format(printf, 1, 2))) static inline void expect_fatalf(const char *fmt, ...)
{
    static char expected[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(expected, sizeof expected, fmt, ap);
    va_end(ap);
    cr_assert(n >= 0 && (size_t)n < sizeof expected, "the expected text fits in %zu bytes", sizeof expected);
    expect_fatal(expected);
}

/* Tests that the death path was not reached report it on the real stderr. */
static inline void death_not_reached(void)
{
    if (death_real_stderr >= 0)
        dup2(death_real_stderr, STDERR_FILENO);
    cr_assert_fail("the call returned; it should have stopped the program");
}

/* Page faults taken by the calling thread. Not the process's: Criterion's
 * test process has a thread of its own that talks to the runner, and a fault
 * it takes while a test counts would land in the test's count. */
static inline long minor_faults(void)
{
    struct rusage ru;
    getrusage(RUSAGE_THREAD, &ru);
    return ru.ru_minflt;
}

/* Pushes zeroed blocks of an odd constant size (3,277 bytes, alignment 1)
 * until the reservation is full, through a cursor or the stack's own try
 * push, and checks that no block overlaps the one before, that each block's
 * last byte is committed (writing it would fault otherwise), and that the
 * pushes stop at the reservation's end with OutOfReserve, every one counted
 * and, outside the checked build's redzones, the reservation packed. each, if
 * not NULL, is called after every block with the stack and the cursor (NULL
 * without one). Returns how many blocks were handed out. */
typedef struct OddBlock {
    unsigned char bytes[3277];
} OddBlock;

static inline size_t push_odd_blocks_to_the_end(PageStack *ps, bool through_cursor,
                                                void (*each)(const PageStack *, const PageStackCursor *, size_t))
{
    size_t reserved = page_stack_stats(ps).reserved, served = 0;
    uint64_t pushes_before = page_stack_stats(ps).pushes;
    PageStackCursor c = {0};
    if (through_cursor)
        c = page_stack_cursor_begin(ps);
    uint32_t how = PageStackPush_Zero | PageStackPush_Try;
    OddBlock *b, *prev = NULL;
    while ((b = through_cursor ? page_stack_cursor_push_array_with(&c, 1, sizeof(OddBlock), alignof(OddBlock), how)
                               : try_push_array(ps, OddBlock, 1)) != NULL) {
        if (prev)
            cr_assert_geq((uintptr_t)b, (uintptr_t)(prev + 1), "block %zu overlaps the one before", served);
        b->bytes[0] = 1;
        b->bytes[sizeof b->bytes - 1] = 1;
        prev = b;
        served++;
        if (each)
            each(ps, through_cursor ? &c : NULL, served);
    }
    if (through_cursor)
        page_stack_cursor_end(&c);
    cr_assert_eq(page_stack_last_error(ps), PageStackError_OutOfReserve);
    cr_assert_leq(page_stack_pos(ps), reserved);
    cr_assert_eq(page_stack_stats(ps).pushes - pushes_before, served);
    if (!TEST_CHECKED) /* no redzones: packed to the end of the reservation */
        cr_assert_eq(served, reserved / sizeof(OddBlock));
    return served;
}

#endif
