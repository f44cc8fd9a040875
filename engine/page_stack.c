/* page_stack: the out-of-line half of the stack allocator.
 *
 * Layout of one reservation (addresses grow to the right):
 *
 *                                        base                          base+reserved
 *     | header page(s): PageStack | guard page | usable: committed | uncommitted | guard page |
 *
 * The PageStack itself lives in the first pages of its own reservation, so
 * the library never calls malloc, and its page-table entries sit next to
 * those of the first usable pages (see page_stack_create). A write that runs
 * past either end of the usable range hits a guard page, which is never
 * committed. Every count (pos, committed, reserved) is from base.
 *
 * The inline push in page_stack.h handles the common case: the block fits
 * below `end`. Everything else lands here: committing the next steps,
 * failures, alignment errors. `end` is the commit end in a plain build; in
 * the builds that watch every push (AddressSanitizer, MemorySanitizer,
 * checked, a process running under valgrind, or an on_push hook) it is 0, so
 * every push comes here. The top is kept as `last` (top - 1): see page_stack.h for why.
 *
 * Lazy bookkeeping keeps the inline push short: `high` (highest pos since
 * the last reset) and `dirty` (highest address ever handed out since it was
 * committed) are brought up to date only before pos goes down, because a
 * push can only raise pos; `peak` (the highest before the last reset) takes
 * `high` at each reset, so a pop keeps one high-water mark, not two.
 *
 * The checked build (FRAME_ARENA_CHECKED) changes where bytes go, not what the
 * API means: the reservation holds quarantine + 1 regions of its own and each
 * reset moves to the next, so a released range is not handed out again for
 * `quarantine` resets; every push is followed by a poisoned 16-byte redzone;
 * pop_to does not move the physical top down (the next pushes go above the
 * released range) until the stack is empty again; released bytes are filled
 * with 0xDD and uninitialised pushes with 0xCD. pos and the stats stay
 * logical: as if none of that took space. A small private CheckState after
 * the PageStack in the header pages keeps the logical top and the physical
 * position of recent marks. Without AddressSanitizer the checked build also
 * checks its redzones and fills itself (see "The self-check" below).
 */
#include "page_stack.h"

#include "mem_ops.h"
#include "os_vm.h"
#include "page_stack_owner.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#if defined(__SANITIZE_ADDRESS__)
#define PAGE_STACK_POISONING 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define PAGE_STACK_POISONING 1
#endif
#endif

#ifdef PAGE_STACK_POISONING
#include <sanitizer/asan_interface.h>
#define poison(addr, size) ASAN_POISON_MEMORY_REGION((void *)(addr), (size))
#define unpoison(addr, size) ASAN_UNPOISON_MEMORY_REGION((void *)(addr), (size))
#else
#define PAGE_STACK_POISONING 0
#define poison(addr, size) ((void)(addr), (void)(size))
#define unpoison(addr, size) ((void)(addr), (void)(size))
#endif

/* MemorySanitizer (clang): a block a push hands out without zeroing it reads
 * as uninitialised until it is written, as malloc's does, so a use of a byte
 * the caller never wrote (a field a loop skipped, last frame's data taken
 * for this frame's) is reported where it happens. Every push goes out of
 * line to say so. Released bytes read as uninitialised too (release()). */
#if defined(__has_feature)
#if __has_feature(memory_sanitizer)
#include <sanitizer/msan_interface.h>
#define PAGE_STACK_MSAN 1
#define msan_undefined(addr, size) __msan_allocated_memory((const void *)(addr), (size))
#define msan_defined(addr, size) __msan_unpoison((const void *)(addr), (size))
#endif
#endif
#ifndef PAGE_STACK_MSAN
#define PAGE_STACK_MSAN 0
#define msan_undefined(addr, size) ((void)(addr), (void)(size))
#define msan_defined(addr, size) ((void)(addr), (void)(size))
#endif
/* The checked build's own reads of bytes it filled (its self-check): to
 * MemorySanitizer those bytes are uninitialised, as the game's reads must
 * find them, so the functions that read them are not checked. */
#if PAGE_STACK_MSAN
#define STACK_OWN_READS __attribute__((no_sanitize("memory")))
#else
#define STACK_OWN_READS
#endif

#ifdef FRAME_ARENA_VALGRIND
#include <valgrind/memcheck.h>
#include <valgrind/valgrind.h>
#define under_valgrind() (RUNNING_ON_VALGRIND != 0)
/* A client request costs where the program does not run under valgrind
 * too: its arguments stored, a chain of rotates, an exchange (about 19
 * instructions; a release made two, on every pop and reset). So the stack
 * asks them only where it was made under valgrind (Internal_Valgrind). */
#define valgrind_watches(ps) PAGE_STACK_UNLIKELY(((ps)->flags & Internal_Valgrind) != 0)
/* Whether memcheck holds the byte at p inaccessible, asked without a report
 * (GET_VBITS answers 3 for such a byte; the answer's one byte of bits goes to
 * a compound literal): the checked build's released bytes, redzones and
 * padding, as ASan's poison is. */
#define memcheck_noaccess(p) (VALGRIND_GET_VBITS((const void *)(p), (unsigned char[1]){0}, 1) == 3)
#else
#define under_valgrind() 0
#define valgrind_watches(ps) ((void)(ps), false)
#define memcheck_noaccess(p) ((void)(p), false)
/* Without valgrind's headers the requests vanish, but their arguments count as used. */
#define VALGRIND_CREATE_MEMPOOL(pool, rz, zeroed) ((void)(pool))
#define VALGRIND_DESTROY_MEMPOOL(pool) ((void)(pool))
#define VALGRIND_MEMPOOL_ALLOC(pool, addr, size) ((void)(pool), (void)(addr), (void)(size))
#define VALGRIND_MEMPOOL_FREE(pool, addr) ((void)(pool), (void)(addr))
#define VALGRIND_MEMPOOL_CHANGE(pool, a, b, size) ((void)(pool), (void)(a), (void)(b), (void)(size))
#define VALGRIND_MEMPOOL_TRIM(pool, addr, size) ((void)(pool), (void)(addr), (void)(size))
#define VALGRIND_MAKE_MEM_NOACCESS(addr, size) ((void)(addr), (void)(size))
#define VALGRIND_MAKE_MEM_DEFINED(addr, size) ((void)(addr), (void)(size))
#define VALGRIND_MAKE_MEM_UNDEFINED(addr, size) ((void)(addr), (void)(size))
#endif

#ifdef FRAME_ARENA_CHECKED
#define CHECKED 1
#else
#define CHECKED 0
#endif

#define KiB ((size_t)1 << 10)
#define MiB ((size_t)1 << 20)
#define REDZONE (CHECKED ? (size_t)16 : (size_t)0)
#define MAX_REGIONS 64
#define MARK_LOG 64
#define FILL_PUSH 0xCD
#define FILL_RELEASE 0xDD

#define Internal_WatchEveryPush (1u << 31) /* in ps->flags: a valgrind-watched stack */
#define Internal_CursorOpen (1u << 30)     /* in ps->flags: a cursor is open (its serial is ps->cursors) */
#define Internal_SelfCheck (1u << 29)      /* in ps->flags: a checked stack that checks its redzones and fills itself */
#define Internal_InOnPush (1u << 28)       /* in ps->flags: its on_push hook is running */
#define Internal_InOnPop (1u << 27)        /* in ps->flags: its on_pop hook is running */
#define Internal_InOnReset (1u << 26)      /* in ps->flags: its on_reset hook is running */
#define Internal_InHook (Internal_InOnPush | Internal_InOnPop | Internal_InOnReset)
#define Internal_InCleanup (1u << 25)      /* in ps->flags: one of its cleanups is running (see run_cleanups) */
#define Internal_LogsMarks (1u << 24)      /* in ps->flags: the checked build's, whose marks are logged */
#define Internal_Valgrind (1u << 23)       /* in ps->flags: made under valgrind, which its client requests tell */
#define Internal_PopHooks (1u << 22)       /* in ps->flags: it has on_pop or on_reset (see Internal_PopOutOfLine) */
/* The flags that send a pop or a reset out of line, to its checks and its hooks' calls: one test. free_last's
 * leave out Internal_InCleanup: a cleanup may free_last on its stack. */
#define Internal_PopOutOfLine (Internal_CursorOpen | Internal_InHook | Internal_InCleanup | Internal_PopHooks)
#define Internal_FreeLastOutOfLine (Internal_CursorOpen | Internal_InHook | Internal_PopHooks)
/* The inline mark goes out of line for a stack need_idle stops and for one
 * that logs its marks: one test of the flags. */
_Static_assert((Internal_CursorOpen | Internal_InHook | Internal_LogsMarks) == PAGE_STACK_MARK_OUT_OF_LINE_,
               "page_stack.h's PAGE_STACK_MARK_OUT_OF_LINE_ names the flags the inline mark leaves to the library");
#define RESET_TO SIZE_MAX                  /* need_idle_to's `to` for a reset */
/* A tool hook, with the stack marked as inside it: need_idle stops a call
 * from the hook that would change the stack under the push, pop or reset
 * that called it. The inline push is closed for the call (`end` and
 * `zero_end` 0), so that a push from on_pop or on_reset goes out of line to
 * be stopped as well; a hook left by longjmp leaves it closed, as it leaves
 * the flag. */
#define CALL_HOOK(ps, bit, call)                                                                                   \
    do {                                                                                                           \
        uintptr_t end_ = (ps)->end, zero_end_ = (ps)->zero_end;                                                    \
        (ps)->flags |= (bit);                                                                                      \
        (ps)->end = (ps)->zero_end = 0;                                                                            \
        call;                                                                                                      \
        (ps)->flags &= ~(uint32_t)(bit);                                                                           \
        (ps)->end = end_;                                                                                          \
        (ps)->zero_end = zero_end_;                                                                                \
    } while (0)
#define RELEASED_LOG 16

/* Checked build only: lives right after the PageStack in the header pages. */
typedef struct CheckState {
    size_t lpos;           /* the logical top: what pos means to the user */
    uintptr_t region_base; /* the region in use */
    size_t region_span;    /* distance between region bases (capacity + guard page) */
    size_t capacity;       /* physical bytes a region can hand out */
    uint32_t regions, region;
    uint64_t owner;        /* thread that pushed since the last reset; 0 = none */
    uintptr_t last_ptr;    /* the last push, for in-place realloc */
    size_t last_size;
    size_t last_end;       /* the logical top right after it */
    uint32_t marks;        /* logical -> physical position of the newest marks */
    struct {
        size_t lpos;
        uintptr_t phys;
        uintptr_t last_ptr; /* the last push when the mark was taken, */
        size_t last_size;   /* the top again once popped back to it */
        size_t last_end;
    } mark_log[MARK_LOG];
    size_t region_committed[MAX_REGIONS];
    size_t left_high; /* the highest top, from its region's base, of the regions left since the last reset */
    /* Self-check only (see check_redzones and check_fill): */
    uintptr_t redzone;     /* the newest redzone of a block not yet released; 0 = none */
    uint32_t redzone_push; /* the number of that block: its push since the last reset, counted from 1 */
    uint32_t pushes;       /* pushes since the last reset */
    uint32_t released;     /* ranges of this region released since it was entered, oldest first */
    struct {
        uintptr_t from, to;
    } released_log[RELEASED_LOG];
    size_t region_filled[MAX_REGIONS]; /* bytes from a region's base that read 0xDD since it was left */
    /* A region's last use, for page_stack_trim: its top from its base when
     * it was left, and the highest logical pos since the reset before that
     * (at least what the use held, so page_stack_trim trims it no less). */
    size_t region_top[MAX_REGIONS], region_pos_high[MAX_REGIONS];
    uint64_t frame; /* a frame arena's frame number + 1 since the last reset, to name a block by; 0 = none */
    bool frame_ended; /* frame_arena_end has ended that frame: a push now is a late job's */
} CheckState;

/* The push reads one cache line of the stack; reset, pop_to and a cursor's begin and end two (see page_stack.h). */
_Static_assert(offsetof(PageStack, high) + sizeof(size_t) <= 64, "the push's fields fit in the first cache line");
_Static_assert(offsetof(PageStack, cursors) + sizeof(uint64_t) <= 128,
               "reset's and pop_to's fields, and a cursor's, fit in the first two lines");

/* The header: the PageStack, the CheckState (checked build), then a copy of
 * the stack's name, so that a name built in a temporary buffer stays good. */
#define NAME_BYTES 64
#define CHECK_STATE_AT (((sizeof(PageStack) + 63) / 64) * 64)
#define HEADER_BYTES (CHECK_STATE_AT + (CHECKED ? sizeof(CheckState) : 0) + NAME_BYTES)

/* The small helpers of the pop, the reset, free_last and the push's slow
 * half are always inlined (PAGE_STACK_INLINE, page_stack.h): gcc inlines
 * them at -O2, but at -O1, -Og and -Os (clang at -Os, some) each was a
 * call, with registers saved around it by its callers. docs/BENCHMARKS.md,
 * "The small helpers at every level". */

PAGE_STACK_INLINE CheckState *check_state(PageStack *ps)
{
    return (CheckState *)(void *)((char *)ps + CHECK_STATE_AT);
}

/* check_state for the calls that only read. */
PAGE_STACK_INLINE const CheckState *check_view(const PageStack *ps)
{
    return (const CheckState *)(const void *)((const char *)ps + CHECK_STATE_AT);
}

/* Keeps the first NAME_BYTES - 1 bytes of name in the header. */
static const char *keep_name(PageStack *ps, const char *name)
{
    char *kept = (char *)ps + HEADER_BYTES - NAME_BYTES;
    const char *nul = memchr(name, 0, NAME_BYTES - 1);
    size_t len = nul ? (size_t)(nul - name) : NAME_BYTES - 1;
    memcpy(kept, name, len);
    kept[len] = 0;
    return kept;
}

static bool round_up(size_t value, size_t step, size_t *out)
{
    size_t rem = value % step;
    if (rem == 0) {
        *out = value;
        return true;
    }
    if (value > SIZE_MAX - (step - rem))
        return false;
    *out = value + (step - rem);
    return true;
}

/* Where the bytes handed out now start: base, or the current checked region. */
PAGE_STACK_INLINE uintptr_t region_base(const PageStack *ps)
{
    return CHECKED ? check_view(ps)->region_base : ps->base;
}

/* Physical bytes a push can reach from region_base. */
PAGE_STACK_INLINE size_t capacity(const PageStack *ps)
{
    return CHECKED ? check_view(ps)->capacity : ps->reserved;
}

/* The inline push keeps `last`, the address just below the top. */
PAGE_STACK_INLINE uintptr_t top(const PageStack *ps)
{
    return ps->last + 1;
}

PAGE_STACK_INLINE void set_top(PageStack *ps, uintptr_t top)
{
    ps->last = top - 1;
}

PAGE_STACK_INLINE size_t pos_of(const PageStack *ps)
{
    return CHECKED ? check_view(ps)->lpos : top(ps) - ps->base;
}

/* Re-arms the inline push after the top or committed changed. */
PAGE_STACK_INLINE uintptr_t inline_end(const PageStack *ps)
{
    bool watched = PAGE_STACK_POISONING || PAGE_STACK_MSAN || CHECKED || (ps->flags & Internal_WatchEveryPush);
#ifdef PAGE_STACK_CARRY_FREE_END
    watched = watched || ps->base + ps->reserved > PAGE_STACK_CARRY_FREE_END; /* see page_stack_block_wraps */
#endif
    return watched ? 0 : ps->base + ps->committed;
}

/* A zeroing push may skip the dirty test below `zero_end` only while every
 * byte above the top reads zero; call after the top went down, the dirty edge
 * moved or `end` changed. Reads the first cache line only. */
PAGE_STACK_INLINE void rearm(PageStack *ps)
{
    /* the rule of page_stack_zero_bound, written out: gcc 12 then compiles reset an instruction shorter */
    ps->zero_end = top(ps) >= ps->dirty ? ps->end : 0;
}

/* While a cursor is open, `end` is 0 (a push on the stack itself goes out of
 * line, which reports it) and the cursor pushes below `cursor_end`. Call after
 * the commit end changed; `end` and `cursor_end` stay as they are otherwise. */
static void settle(PageStack *ps)
{
    if (ps->flags & Internal_CursorOpen) {
        ps->end = 0;
        ps->cursor_end = inline_end(ps);
    } else {
        ps->end = inline_end(ps);
    }
    rearm(ps);
}

/* Brings the lazily kept high-water marks up to date; call before pos goes down. */
PAGE_STACK_INLINE void note_high(PageStack *ps)
{
    size_t pos = pos_of(ps);
    if (pos > ps->high)
        ps->high = pos;
    if (top(ps) > ps->dirty)
        ps->dirty = top(ps);
}

static void need_stack(const PageStack *ps, const char *fn)
{
    if (!ps)
        os_vm_fatal("%s: the stack is NULL; pass a stack from page_stack_create", fn);
}

static void need_not_in_hook(const PageStack *ps, const char *fn)
{
    uint32_t in = ps->flags & Internal_InHook;
    if (in)
        os_vm_fatal("page_stack \"%s\": %s from the stack's own %s hook; a hook may read its stack (stats, pos, "
                    "check) and use any other, but not change it (push, pop, mark, realloc, reset, trim, a cursor, "
                    "destroy)",
                    ps->name, fn, in & Internal_InOnPush ? "on_push" : in & Internal_InOnPop ? "on_pop" : "on_reset");
}

/* Out of line: the test in need_idle stays one test of the flags. */
#if defined(__GNUC__) || defined(__clang__)
__attribute__((noinline, cold))
#endif
OS_VM_NORETURN static void not_idle(const PageStack *ps, const char *fn)
{
    need_not_in_hook(ps, fn);
    os_vm_fatal("page_stack \"%s\": %s while a cursor is open on it; push through the cursor, or end it first "
                "(page_stack_cursor_end)",
                ps->name, fn);
}

/* need_stack, not inside one of its hooks, and no cursor open on it: while
 * one is, the stack is the cursor's. */
static PageStack *need_idle(PageStack *ps, const char *fn)
{
    need_stack(ps, fn);
    if (ps->flags & (Internal_CursorOpen | Internal_InHook))
        not_idle(ps, fn);
    return ps;
}

#if defined(__GNUC__) || defined(__clang__)
__attribute__((noinline, cold))
#endif
OS_VM_NORETURN static void below_cleanup_floor(const PageStack *ps, const char *fn, size_t to)
{
    if (ps->flags & (Internal_CursorOpen | Internal_InHook))
        not_idle(ps, fn);
    if (to == RESET_TO)
        os_vm_fatal("page_stack \"%s\": %s from one of the stack's own cleanups; a cleanup may push, free_last and "
                    "pop down to %zu, where the pop or reset running it stops, not reset the stack",
                    ps->name, fn, ps->cleanup_floor);
    os_vm_fatal("page_stack \"%s\": %s from one of the stack's own cleanups would take it to %zu, below %zu "
                "where the pop running the cleanup stops; a cleanup may push, free_last and pop down to %zu, "
                "not reset the stack or pop it further",
                ps->name, fn, to, ps->cleanup_floor, ps->cleanup_floor);
}

/* need_idle for a pop down to `to`, or a reset (RESET_TO). One of the
 * stack's own cleanups may pop it only down to where the pop running the
 * cleanup stops, and not reset it: either would release what that pop or
 * reset is still walking (its cleanups' records) or undo it. One test of
 * the flags, as need_idle; always inlined, as a call would cost pop_to and
 * reset more than the test. */
PAGE_STACK_INLINE PageStack *need_idle_to(PageStack *ps, const char *fn, size_t to)
{
    need_stack(ps, fn);
    if (PAGE_STACK_UNLIKELY(ps->flags & (Internal_CursorOpen | Internal_InHook | Internal_InCleanup)) &&
        ((ps->flags & (Internal_CursorOpen | Internal_InHook)) || to == RESET_TO || to < ps->cleanup_floor))
        below_cleanup_floor(ps, fn, to);
    return ps;
}

static void check_align(const PageStack *ps, size_t align)
{
    if (align == 0 || (align & (align - 1)) != 0)
        os_vm_fatal("page_stack \"%s\": alignment %zu is not a power of two; pass 1, 2, 4, 8, 16, ... "
                    "(alignof(T) for a type)",
                    ps->name, align);
}

OS_VM_NORETURN static void default_on_fail(const PageStack *ps, size_t size, size_t align)
{
    os_vm_fatal("page_stack \"%s\": push of %zu bytes (align %zu) failed: %s; pos %zu, committed %zu, reserved %zu",
                ps->name, size, align, page_stack_error_string(ps->last_error), pos_of(ps), ps->committed,
                ps->reserved);
}

/* A failure inside on_fail whose push calls on_fail again, this many deep,
 * with the stack unchanged: an on_fail that pushes to its own stack and fails
 * each time, which would recurse until the thread ran out of stack. */
#define FAIL_DEPTH_LIMIT 8

/* The on_fail calls running on this thread, outermost first. A call's record
 * is the thread's, not its stack's: on_fail may do with the stack what it
 * likes, destroy it included, and the push writes nothing to it after
 * on_fail returns, but it takes the call's record off here. A call left by
 * longjmp or a throw takes nothing off: its record goes when a later failure
 * comes from no deeper in the thread's stack (which grows down on every
 * platform the library builds for), as it could not if it were nested in
 * that call. Calls nested deeper than FAIL_CALLS are not recorded (thirty-two
 * on_fail calls running at once, each a failure inside the one before, that
 * changed its stack or failed on another). */
#define FAIL_CALLS 32

typedef struct FailCall {
    const PageStack *ps; /* compared, never followed: the stack may be gone */
    uint64_t generation;
    size_t pos;
    uintptr_t frame; /* fail's, for the call; failures nested in it come from deeper */
} FailCall;

static OS_VM_THREAD_LOCAL struct {
    FailCall calls[FAIL_CALLS];
    uint32_t count;
} fail_calls;

static void *fail(PageStack *ps, PageStackError err, size_t size, size_t align, uint32_t how)
{
    ps->last_error = err;
    ps->failed_pushes++;
    if (how & PageStackPush_Try)
        return NULL;
    /* The default is resolved here, not stored: a stack keeps no pointer
     * into the library's code (page_stack.h, at page_stack_set_hooks). */
    if (!ps->on_fail)
        default_on_fail(ps, size, align);
#if defined(__GNUC__) || defined(__clang__)
    void *here = __builtin_frame_address(0); /* not a local's address: ASan may keep locals elsewhere */
    uintptr_t frame = (uintptr_t)here;
#else
    char here;
    uintptr_t frame = (uintptr_t)(void *)&here;
#endif
    while (fail_calls.count && fail_calls.calls[fail_calls.count - 1].frame <= frame)
        fail_calls.count--; /* left by longjmp or a throw: this failure is not nested in it */
    /* This failure is nested in every call recorded: each that found this
     * stack as it is now is one more call of on_fail on an unchanged stack. */
    size_t pos = pos_of(ps);
    uint32_t depth = 1;
    for (uint32_t i = 0; i < fail_calls.count; i++) {
        const FailCall *c = &fail_calls.calls[i];
        depth += c->ps == ps && c->generation == ps->generation && c->pos == pos;
    }
    if (depth >= FAIL_DEPTH_LIMIT)
        os_vm_fatal("page_stack \"%s\": push of %zu bytes (align %zu) failed inside the stack's own on_fail, %u "
                    "calls of it deep, the stack unchanged (pos %zu): on_fail would be called without end; push "
                    "from on_fail with a try_ call or to another stack",
                    ps->name, size, align, (unsigned)(depth - 1), pos);
    uint32_t call = fail_calls.count;
    if (call < FAIL_CALLS)
        fail_calls.calls[fail_calls.count++] = (FailCall){ps, ps->generation, pos, frame};
    ps->on_fail(ps, size, align, ps->user);
    fail_calls.count = call; /* it returned, and so did every call nested in it */
    return NULL;
}

/* Commits whole steps so that the first `need` bytes from region_base are committed. */
static bool commit_to(PageStack *ps, size_t need)
{
    size_t target;
    if (!round_up(need, ps->commit_size, &target) || target > capacity(ps))
        target = capacity(ps);
    uintptr_t from = region_base(ps) + ps->committed;
    size_t grow = target - ps->committed;
    if (!os_vm_commit((void *)from, grow))
        return false;
    poison(from, grow);
    if (valgrind_watches(ps))
        VALGRIND_MAKE_MEM_NOACCESS(from, grow);
    ps->committed = target;
    ps->commits++;
    return true;
}

/* Bytes [from, to) are no longer handed out: make every build see that. */
static void release(PageStack *ps, uintptr_t from, uintptr_t to)
{
    if (to <= from)
        return;
    if (CHECKED) {
        unpoison(from, to - from); /* redzones and padding inside are poisoned already */
        if (valgrind_watches(ps)) /* and no-access to memcheck: the fill is the stack's own */
            VALGRIND_MAKE_MEM_UNDEFINED(from, to - from);
        memset((void *)from, FILL_RELEASE, to - from);
    }
    msan_undefined(from, to - from); /* MSan: a stale pointer reads no value; the origin is this release */
    poison(from, to - from);
    if (valgrind_watches(ps)) {
        VALGRIND_MEMPOOL_TRIM(ps, region_base(ps), from - region_base(ps));
        VALGRIND_MAKE_MEM_NOACCESS(from, to - from);
    }
}

static void run_cleanups(PageStack *ps, size_t pos);

/* ------------------------------------------------------------------ checked build */

static uint64_t thread_token(void)
{
    static _Atomic uint64_t next_token = 1;
    static OS_VM_THREAD_LOCAL uint64_t token;
    if (!token)
        token = atomic_fetch_add(&next_token, 1);
    return token;
}

/* A push may come from this thread now: the stack's frame, if it serves a
 * frame arena, has not ended, and no other thread pushed since the reset. */
static void check_pusher(PageStack *ps)
{
    CheckState *ck = check_state(ps);
    if (ck->frame_ended)
        os_vm_fatal("page_stack \"%s\": push to the stack of frame %llu after frame_arena_end ended that frame; "
                    "push between frame_arena_begin and frame_arena_end, and wait for every job before the end",
                    ps->name, (unsigned long long)(ck->frame - 1));
    uint64_t me = thread_token();
    if (ck->owner == 0)
        ck->owner = me;
    else if (ck->owner != me)
        os_vm_fatal("page_stack \"%s\": pushed to from thread %llu while thread %llu has pushed to it since its last "
                    "reset; give each thread its own stack (a frame arena may change threads only at "
                    "frame_arena_begin)",
                    ps->name, (unsigned long long)me, (unsigned long long)ck->owner);
}

/* The self-check: a checked build without AddressSanitizer or valgrind,
 * which report these bugs themselves when they happen, finds them later on
 * its own. Each redzone holds the address of the redzone before it (the
 * previous block's), that block's number (its push since the last reset)
 * and a check word made from these and its own address, so the redzones of
 * the blocks not yet released form a list, newest first, and a block's
 * number is kept where its own overflow cannot reach it; a release checks
 * the redzones it releases. Released bytes are filled with 0xDD; a reset
 * checks that the ranges pop_to and free_last released in the region still
 * read so, and that the bytes just past the newest block are as the stack
 * left them (check_above_top); entering a region again, `quarantine` resets
 * later, checks that everything the region held still reads 0xDD. The
 * checks run where the fills run, at releases; a push only writes its
 * redzone. */
static bool self_check(const PageStack *ps)
{
    return CHECKED && (ps->flags & Internal_SelfCheck);
}

/* What a redzone holds: 16 bytes, whatever its alignment. */
typedef struct Redzone {
    uint64_t prev;      /* the redzone before it; 0 = none */
    uint32_t prev_push; /* the number of the block before it */
    uint32_t check;
} Redzone;
_Static_assert(sizeof(Redzone) == 16, "a redzone is 16 bytes");

static uint32_t redzone_check(uintptr_t at, uint64_t prev, uint32_t prev_push)
{
    uint64_t x = ((uint64_t)at * 0x9E3779B97F4A7C15u) ^ prev;
    x ^= x >> 31;
    x = (x + prev_push) * 0xBF58476D1CE4E5B9u;
    return (uint32_t)(x ^ (x >> 32));
}

/* The redzone after a block (push `number` since the last reset), at its end; it becomes the newest. */
static void put_redzone(PageStack *ps, uintptr_t at, uint32_t number)
{
    if (self_check(ps)) {
        CheckState *ck = check_state(ps);
        Redzone rz = {ck->redzone, ck->redzone_push, redzone_check(at, ck->redzone, ck->redzone_push)};
        memcpy((void *)at, &rz, sizeof rz);
        ck->redzone = at;
        ck->redzone_push = number;
    }
    poison(at, REDZONE);
}

/* The redzone at `at`, after the block numbered `number`, is as put_redzone
 * left it: returns the one before, and that block's number in *prev_push. */
STACK_OWN_READS static uintptr_t check_redzone(const PageStack *ps, uintptr_t at, uint32_t number,
                                               uint32_t *prev_push, const char *fn)
{
    const unsigned char *b = (const unsigned char *)at;
    Redzone rz;
    memcpy(&rz, b, sizeof rz);
    if (rz.check != redzone_check(at, rz.prev, rz.prev_push) || rz.prev >= at) {
        uint64_t frame = check_view(ps)->frame;
        os_vm_fatal("page_stack \"%s\": %s found the block that ends at %p (push %lu %s %llu%s) written past its end "
                    "(the 16 bytes after it read %02x %02x %02x %02x %02x %02x %02x %02x ...); look for a write "
                    "beyond the size pushed",
                    ps->name, fn, (const void *)b, (unsigned long)number, frame ? "of frame" : "after",
                    (unsigned long long)(frame ? frame - 1 : ps->generation), frame ? "" : " resets", b[0], b[1], b[2],
                    b[3], b[4], b[5], b[6], b[7]);
    }
    *prev_push = rz.prev_push;
    return (uintptr_t)rz.prev;
}

/* Checks the redzones at or above `from`, newest first, and forgets them. */
static void check_redzones(PageStack *ps, uintptr_t from, const char *fn)
{
    if (!self_check(ps))
        return;
    CheckState *ck = check_state(ps);
    while (ck->redzone && ck->redzone >= from)
        ck->redzone = check_redzone(ps, ck->redzone, ck->redzone_push, &ck->redzone_push, fn);
}

/* Bytes as the stack leaves them: 0xDD where released, 0 where committed
 * and never handed out. Compared a block at a time with libc's memcmp. */
#define DD4 FILL_RELEASE, FILL_RELEASE, FILL_RELEASE, FILL_RELEASE
#define DD32 DD4, DD4, DD4, DD4, DD4, DD4, DD4, DD4
#define DD256 DD32, DD32, DD32, DD32, DD32, DD32, DD32, DD32
#define COMPARE_BLOCK 2048
static const unsigned char released_bytes[COMPARE_BLOCK] = {DD256, DD256, DD256, DD256, DD256, DD256, DD256, DD256};
static const unsigned char fresh_bytes[COMPARE_BLOCK];

/* The first byte in [from, to) that is not `like[0]` (`like` holds a block of them); 0 if none. */
STACK_OWN_READS static uintptr_t first_unlike(uintptr_t from, uintptr_t to, const unsigned char *like)
{
    if (PAGE_STACK_MSAN) { /* MemorySanitizer checks the bytes memcmp reads */
        for (uintptr_t at = from; at < to; at++)
            if (*(const unsigned char *)at != like[0])
                return at;
        return 0;
    }
    for (uintptr_t at = from; at < to;) {
        size_t n = to - at < COMPARE_BLOCK ? (size_t)(to - at) : COMPARE_BLOCK;
        if (memcmp((const void *)at, like, n) != 0) {
            while (*(const unsigned char *)at == like[0])
                at++;
            return at;
        }
        at += n;
    }
    return 0;
}

/* What the byte at `at` reads, for a report. */
STACK_OWN_READS static unsigned byte_at(uintptr_t at)
{
    return *(const unsigned char *)at;
}

/* Released bytes [from, to) still read 0xDD. */
static void check_fill(const PageStack *ps, uintptr_t from, uintptr_t to, const char *fn, const char *how)
{
    uintptr_t at = first_unlike(from, to, released_bytes);
    if (at)
        os_vm_fatal("page_stack \"%s\": %s, %s, found the byte at %p written after its release (it reads "
                    "0x%02x, not the 0xDD it was filled with); a pointer kept past a reset or pop_to was written "
                    "through",
                    ps->name, fn, how, (const void *)at, byte_at(at));
}

/* Checks and forgets the logged ranges that overlap [from, to): they are about to be filled again. */
static void check_released(PageStack *ps, uintptr_t from, uintptr_t to, const char *fn)
{
    CheckState *ck = check_state(ps);
    uint32_t kept = 0;
    for (uint32_t i = 0; i < ck->released; i++) {
        if (ck->released_log[i].to > from && ck->released_log[i].from < to)
            check_fill(ps, ck->released_log[i].from, ck->released_log[i].to, fn, "releasing it again");
        else
            ck->released_log[kept++] = ck->released_log[i];
    }
    ck->released = kept;
}

/* Releases [from, to) of the current region, checking first what is released
 * again in it, and logs it for the reset to check. */
static void release_checked(PageStack *ps, uintptr_t from, uintptr_t to, const char *fn)
{
    if (to <= from)
        return;
    if (self_check(ps)) {
        CheckState *ck = check_state(ps);
        check_released(ps, from, to, fn);
        if (ck->released && ck->released_log[ck->released - 1].to == from) {
            ck->released_log[ck->released - 1].to = to;
        } else {
            if (ck->released == RELEASED_LOG) { /* check and forget the oldest: later writes to it go unseen */
                check_fill(ps, ck->released_log[0].from, ck->released_log[0].to, fn, "checking what was released");
                memmove(&ck->released_log[0], &ck->released_log[1], (RELEASED_LOG - 1) * sizeof ck->released_log[0]);
                ck->released--;
            }
            ck->released_log[ck->released].from = from;
            ck->released_log[ck->released].to = to;
            ck->released++;
        }
    }
    release(ps, from, to);
}

/* The last push grows in place over bytes at or above `from`: they are handed out again. */
static void forget_released_above(PageStack *ps, uintptr_t from)
{
    CheckState *ck = check_state(ps);
    uint32_t kept = 0;
    for (uint32_t i = 0; i < ck->released; i++) {
        if (ck->released_log[i].to > from)
            ck->released_log[i].to = from;
        if (ck->released_log[i].from < ck->released_log[i].to)
            ck->released_log[kept++] = ck->released_log[i];
    }
    ck->released = kept;
}

/* Bytes from region r's base that were filled with 0xDD and are still committed. */
static size_t filled(const CheckState *ck, uint32_t r, size_t committed)
{
    return ck->region_filled[r] < committed ? ck->region_filled[r] : committed;
}

/* Past the newest block (and its redzone) nothing was handed out since the
 * region was entered: up to what the region held before, the bytes read
 * 0xDD, and 0 above. Read as far as ABOVE_TOP past the top: the rest of
 * what the region held is read when the stack takes the region up again. */
#define ABOVE_TOP ((size_t)1 << 10)
static void check_above_top(const PageStack *ps, const char *fn)
{
    const CheckState *ck = check_view(ps);
    uintptr_t from = top(ps), end = ck->region_base + ps->committed;
    uintptr_t to = end - from > ABOVE_TOP ? from + ABOVE_TOP : end;
    uintptr_t held = ck->region_base + filled(ck, ck->region, ps->committed);
    uintptr_t fresh = held < from ? from : held > to ? to : held;
    uintptr_t at = first_unlike(from, fresh, released_bytes);
    if (!at)
        at = first_unlike(fresh, to, fresh_bytes);
    if (at)
        os_vm_fatal("page_stack \"%s\": %s found the byte at %p, past the newest block, written (it reads 0x%02x; "
                    "no block has held it since the stack took it up); look for a write beyond the size pushed",
                    ps->name, fn, (const void *)at, byte_at(at));
}

/* Moves to the region released `quarantine` resets ago, which must still
 * read 0xDD. Everything in the current one is released: call release_region first. */
static void rotate_region(PageStack *ps, const char *fn)
{
    CheckState *ck = check_state(ps);
    size_t used = top(ps) - ck->region_base;
    if (used > ck->region_filled[ck->region])
        ck->region_filled[ck->region] = used;
    if (used > ck->left_high) /* a pop to 0 leaves the region too */
        ck->left_high = used;
    ck->region_top[ck->region] = used;
    ck->region_pos_high[ck->region] = ps->high; /* the callers noted the high */
    ck->region_committed[ck->region] = ps->committed;
    ck->region = (ck->region + 1) % ck->regions;
    ck->region_base = ps->base + (uintptr_t)ck->region * ck->region_span;
    ps->committed = ck->region_committed[ck->region];
    set_top(ps, ck->region_base);
    ck->marks = 0;
    ck->last_ptr = 0;
    ck->redzone = 0;
    ck->released = 0;
    if (self_check(ps))
        check_fill(ps, ck->region_base, ck->region_base + filled(ck, ck->region, ps->committed), fn,
                   "taking it up again");
    if (valgrind_watches(ps))
        VALGRIND_MEMPOOL_TRIM(ps, ck->region_base, 0);
}

/* Every redzone of a block not yet released, every range the stack logged as
 * released and every region in quarantine; nothing is forgotten. */
static void check_everything(const PageStack *ps, const char *fn)
{
    if (!self_check(ps))
        return;
    const CheckState *ck = check_view(ps);
    uint32_t number = ck->redzone_push;
    for (uintptr_t at = ck->redzone; at;)
        at = check_redzone(ps, at, number, &number, fn);
    check_above_top(ps, fn);
    for (uint32_t i = 0; i < ck->released; i++)
        check_fill(ps, ck->released_log[i].from, ck->released_log[i].to, fn, "checking what was released");
    for (uint32_t r = 0; r < ck->regions; r++) {
        uintptr_t base = ps->base + (uintptr_t)r * ck->region_span;
        if (r != ck->region)
            check_fill(ps, base, base + filled(ck, r, ck->region_committed[r]), fn, "checking the quarantine");
    }
}

/* Checked: releases everything the current region holds (every block is
 * dead) before rotate_region leaves it, so nothing is logged. */
static void release_region(PageStack *ps, const char *fn)
{
    uintptr_t base = check_state(ps)->region_base;
    check_redzones(ps, base, fn);
    if (self_check(ps)) {
        check_above_top(ps, fn);
        check_released(ps, base, top(ps), fn);
    }
    release(ps, base, top(ps));
}

/* The physical top to release from when popping to logical position lpos. */
static uintptr_t checked_mark_phys(PageStack *ps, size_t lpos)
{
    CheckState *ck = check_state(ps);
    uintptr_t phys = top(ps);
    while (ck->marks && ck->mark_log[ck->marks - 1].lpos > lpos)
        phys = ck->mark_log[--ck->marks].phys;
    if (ck->marks && ck->mark_log[ck->marks - 1].lpos == lpos) {
        phys = ck->mark_log[ck->marks - 1].phys;
        if (ck->mark_log[ck->marks - 1].last_end == lpos) { /* that push is the top again */
            ck->last_ptr = ck->mark_log[ck->marks - 1].last_ptr;
            ck->last_size = ck->mark_log[ck->marks - 1].last_size;
            ck->last_end = lpos;
        }
    } else if (lpos == 0)
        phys = ck->region_base;
    return phys;
}

/* Whether zeroing or copying may run on to the next 16-byte boundary (both
 * addresses 16-aligned). In a plain build the bytes past a block up to there
 * are committed (the commit end is page-aligned) and readable. Zeros may go
 * above the top (it must read zero there anyway); anything else may not.
 * Builds that poison or watch bytes outside blocks keep to the exact length. */
static bool whole_units(const PageStack *ps, uintptr_t a, uintptr_t b)
{
    return !PAGE_STACK_POISONING && !PAGE_STACK_MSAN && !CHECKED && !(ps->flags & Internal_WatchEveryPush) &&
           ((a | b) & 15) == 0;
}

/* ------------------------------------------------------------------ pushes */

void *page_stack_zero_dirty(PageStack *ps, void *ptr, size_t size)
{
    need_stack(ps, "page_stack_zero_dirty");
    uintptr_t p = (uintptr_t)ptr;
    /* The usual case in a frame after the first: a small block wholly below
     * the dirty edge, and the top too, so `zero_end` stays 0 (a push only
     * raises the top, and it was below the edge before this one). */
    if (PAGE_STACK_LIKELY(p < ps->dirty && size < ps->dirty - p) && size <= FA_MEM_INLINE_MAX &&
        whole_units(ps, p, p)) {
        fa_zero16(ptr, (size + 15) & ~(size_t)15);
        return ptr;
    }
    size_t n = p >= ps->dirty ? 0 : size < ps->dirty - p ? size : ps->dirty - p;
    if (n && whole_units(ps, p, p))
        fa_zero16(ptr, (n + 15) & ~(size_t)15);
    else if (n)
        memset(ptr, 0, n);
    rearm(ps); /* while a cursor is open `end` is 0, and so is this */
    return ptr;
}

/* Bytes handed out that the caller has not written: uninitialised to
 * MemorySanitizer and memcheck, as malloc's are, after the checked build's
 * fill (its 0xCD is no value either). */
static void unwritten(const PageStack *ps, uintptr_t p, size_t size)
{
    msan_undefined(p, size);
    if (valgrind_watches(ps))
        VALGRIND_MAKE_MEM_UNDEFINED(p, size);
}

static void *push_slow(PageStack *ps, size_t size, size_t align, uint32_t how)
{
    check_align(ps, align);
    if (CHECKED)
        check_pusher(ps);
    uintptr_t mask = (uintptr_t)align - 1;
    if (top(ps) > UINTPTR_MAX - mask)
        return fail(ps, PageStackError_OutOfReserve, size, align, how);
    uintptr_t p = (top(ps) + mask) & ~mask;
    if (CHECKED) {
        /* Errors are decided on the logical top, as a plain build would decide them. */
        size_t lpos = check_state(ps)->lpos, lpad = (size_t)((0 - lpos) & mask);
        if (size > SIZE_MAX - lpad)
            return fail(ps, PageStackError_SizeOverflow, size, align, how);
        if (align > ps->reserved || lpad > ps->reserved - lpos || size > ps->reserved - lpos - lpad)
            return fail(ps, PageStackError_OutOfReserve, size, align, how);
    } else if (size > SIZE_MAX - (p - top(ps))) {
        return fail(ps, PageStackError_SizeOverflow, size, align, how);
    }
    size_t off = p - region_base(ps);
    if (off > capacity(ps) || size > capacity(ps) - off || size + REDZONE > capacity(ps) - off)
        return fail(ps, PageStackError_OutOfReserve, size, align, how);
    if (off + size + REDZONE > ps->committed && !commit_to(ps, off + size + REDZONE))
        return fail(ps, PageStackError_CommitFailed, size, align, how);
    unpoison(p, size);
    /* memcheck: a block has a chunk while it has bytes. An empty one may
     * share its address with the next block, and two chunks at one address
     * make memcheck report a "bad mempool". */
    if (size && valgrind_watches(ps))
        VALGRIND_MEMPOOL_ALLOC(ps, p, size);
    if (CHECKED) {
        memset((void *)p, (how & PageStackPush_Zero) ? 0 : FILL_PUSH, size);
        CheckState *ck = check_state(ps);
        ck->lpos += (size_t)((0 - ck->lpos) & mask) + size;
        ck->last_ptr = p;
        ck->last_size = size;
        ck->last_end = ck->lpos;
        put_redzone(ps, p + size, ++ck->pushes);
    } else if ((how & PageStackPush_Zero) && p < ps->dirty) {
        page_stack_zero_dirty(ps, (void *)p, size);
    }
    if (how & PageStackPush_Zero) {
        if (valgrind_watches(ps))
            VALGRIND_MAKE_MEM_DEFINED(p, size); /* fresh pages are zero: memcheck could not know */
        msan_defined(p, size);                  /* nor MemorySanitizer, after a decommit */
    } else {
        unwritten(ps, p, size);
    }
    set_top(ps, p + size + REDZONE);
    ps->pushes++;
    settle(ps);
    if (ps->on_push)
        CALL_HOOK(ps, Internal_InOnPush, ps->on_push(ps, (void *)p, size, ps->user));
    return (void *)p;
}

void *page_stack_push_slow(PageStack *ps, size_t size, size_t align, uint32_t how)
{
    return push_slow(need_idle(ps, "page_stack_push"), size, align, how);
}

/* The pushes of unoptimised code: the inline pushes, compiled here with the
 * library's optimisation (PAGE_STACK_PUSH_CALL in page_stack.h). */
void *page_stack_push_call(PageStack *ps, size_t size, size_t align, uint32_t how)
{
    return page_stack_push_inline(ps, size, align, how);
}

void *page_stack_push_array_call(PageStack *ps, size_t count, size_t size, size_t align, uint32_t how)
{
    return page_stack_push_array_inline(ps, count, size, align, how);
}

/* A push through a cursor past its fast path, for the two calls below. */
static PAGE_STACK_OUT_OF_LINE void *cursor_push_out(PageStackCursor *c, size_t size, size_t align, uint32_t how)
{
    return page_stack_cursor_push_inline(c, size, align, how);
}

/* The cursor's calls take its fast path here and leave the rest to
 * cursor_push_out: compiled whole, the inline push keeps the cursor's
 * address across its trip out of line, and gcc and clang then save and
 * restore registers for every push, the fast ones included. The size is
 * never a compile-time constant here, so a zeroing push is bound by
 * zero_end, as page_stack_cursor_push_inline's would be. */
static inline void *cursor_push_call(PageStackCursor *c, size_t size, size_t align, uint32_t how)
{
    uintptr_t mask = (uintptr_t)align - 1, before = c->last | mask, last;
    uintptr_t bound = (how & PageStackPush_Zero) ? c->zero_end : c->end;
    if (!(align & mask) && !page_stack_block_wraps(before, size, align, &last) && last < bound) {
        c->last = last;
        c->pushes++;
        return (void *)(before + 1);
    }
    return cursor_push_out(c, size, align, how);
}

void *page_stack_cursor_push_call(PageStackCursor *c, size_t size, size_t align, uint32_t how)
{
    return cursor_push_call(c, size, align, how);
}

void *page_stack_cursor_push_array_call(PageStackCursor *c, size_t count, size_t size, size_t align, uint32_t how)
{
    if (page_stack_count_overflows(count, size))
        return cursor_push_out(c, SIZE_MAX, align, how | PAGE_STACK_PUSH_OVERFLOWED_);
    return cursor_push_call(c, count * size, align, how);
}

void *page_stack_push_copy_call(PageStack *ps, const void *src, size_t count, size_t size, size_t align,
                                uint32_t how)
{
    return page_stack_push_copy_inline(ps, src, count, size, align, how);
}

void *page_stack_cursor_push_copy_call(PageStackCursor *c, const void *src, size_t count, size_t size, size_t align,
                                       uint32_t how)
{
    return page_stack_cursor_push_copy_inline(c, src, count, size, align, how);
}

/* count * size overflowed: a bad alignment is still reported first. */
static void *push_overflow(PageStack *ps, size_t align, uint32_t how)
{
    check_align(ps, align);
    return fail(ps, PageStackError_SizeOverflow, SIZE_MAX, align, how);
}

void *page_stack_push_overflow(PageStack *ps, size_t align, uint32_t how)
{
    return push_overflow(need_idle(ps, "page_stack_push"), align, how);
}

/* Checked: the number a block resized in place keeps (its redzone is at `redzone`). */
static uint32_t resized_number(PageStack *ps, uintptr_t redzone)
{
    CheckState *ck = check_state(ps);
    return ck->redzone == redzone ? ck->redzone_push : ++ck->pushes;
}

/* ptr is the last push: move the top (and its redzone) to ptr + new_size. */
static void *resize_last(PageStack *ps, uintptr_t p, size_t old_size, size_t new_size, size_t align, uint32_t how)
{
    size_t off = p - region_base(ps), block_pos = pos_of(ps) - old_size;
    uint32_t number = 0;
    if (new_size > old_size) {
        if (CHECKED)
            check_pusher(ps); /* growing is pushing */
        if (CHECKED && new_size - old_size > ps->reserved - check_state(ps)->lpos)
            return fail(ps, PageStackError_OutOfReserve, new_size, align, how);
        if (new_size > capacity(ps) - off || new_size + REDZONE > capacity(ps) - off)
            return fail(ps, PageStackError_OutOfReserve, new_size, align, how);
        if (off + new_size + REDZONE > ps->committed && !commit_to(ps, off + new_size + REDZONE))
            return fail(ps, PageStackError_CommitFailed, new_size, align, how);
        if (CHECKED) {
            number = resized_number(ps, p + old_size);
            check_redzones(ps, p, "page_stack_realloc"); /* the block's own, about to be handed out */
            if (self_check(ps))
                forget_released_above(ps, p + old_size);
        }
        unpoison(p + old_size, new_size - old_size);
        if (CHECKED) {
            if (valgrind_watches(ps)) /* addressable to memcheck, for the fill */
                VALGRIND_MAKE_MEM_UNDEFINED(p + old_size, new_size - old_size);
            memset((void *)(p + old_size), FILL_PUSH, new_size - old_size);
        }
        unwritten(ps, p + old_size, new_size - old_size); /* as realloc's: the bytes it adds */
    } else {
        note_high(ps);
        if (CHECKED) { /* the redzone moves down to the new end */
            number = resized_number(ps, p + old_size);
            check_redzones(ps, p, "page_stack_realloc");
            release_checked(ps, p + new_size + REDZONE, p + old_size + REDZONE, "page_stack_realloc");
        } else {
            release(ps, p + new_size, p + old_size);
        }
    }
    /* memcheck's chunk for the block (see push_slow): an empty block had
     * none; a release has trimmed the chunk of a shrunk one to what it
     * keeps, or (a plain build's, to 0 bytes) freed it. */
    if (valgrind_watches(ps)) {
        if (old_size && new_size)
            VALGRIND_MEMPOOL_CHANGE(ps, p, p, new_size);
        else if (new_size)
            VALGRIND_MEMPOOL_ALLOC(ps, p, new_size);
        else if (CHECKED && old_size)
            VALGRIND_MEMPOOL_FREE(ps, p);
    }
    if (CHECKED) {
        CheckState *ck = check_state(ps);
        ck->lpos = ck->lpos - old_size + new_size;
        ck->last_size = new_size;
        ck->last_end = ck->lpos;
        put_redzone(ps, p + new_size, number);
        if (p + new_size + REDZONE > top(ps)) /* a shrink leaves the top where it was: monotonic */
            set_top(ps, p + new_size + REDZONE);
    } else {
        set_top(ps, p + new_size);
    }
    ps->pushes++;
    settle(ps);
    if (ps->on_pop) /* to a tool, a resize is the block given back and pushed again */
        CALL_HOOK(ps, Internal_InOnPop, ps->on_pop(ps, block_pos, ps->user));
    if (ps->on_push)
        CALL_HOOK(ps, Internal_InOnPush, ps->on_push(ps, (void *)p, new_size, ps->user));
    return (void *)p;
}

/* Whether [p, p + size) is the last push, so that it can move in place. */
PAGE_STACK_INLINE bool is_last(const PageStack *ps, uintptr_t p, size_t size)
{
    return CHECKED ? check_view(ps)->last_ptr == p && check_view(ps)->last_size == size
                   : p >= ps->base && p <= top(ps) && top(ps) - p == size;
}

/* Whether the block at p of the current region (whose top lies above it)
 * was released all the same: in the checked build pops leave the top where
 * it was. With ASan its first byte is poisoned; under valgrind memcheck
 * holds it inaccessible; with the self-check it lies in a range the region
 * has released (as far as the stack remembers them). Elsewhere a block below
 * the top is live. */
static bool released_below_top(const PageStack *ps, uintptr_t p, size_t size)
{
    if (!CHECKED)
        return false;
#if PAGE_STACK_POISONING
    (void)ps;
    return size && __asan_address_is_poisoned((void *)p);
#else
    if (under_valgrind()) /* where the self-check is off */
        return size && memcheck_noaccess(p);
    if (!self_check(ps))
        return false;
    const CheckState *ck = check_view(ps);
    for (uint32_t i = 0; i < ck->released; i++)
        if (p >= ck->released_log[i].from && p < ck->released_log[i].to)
            return true;
    return false;
#endif
}

/* Whether p lies in the region in use: below the top a block of the stack's
 * own, live or released, and above it bytes no block holds. */
static bool in_region(const PageStack *ps, uintptr_t p)
{
    return p >= region_base(ps) && p - region_base(ps) < capacity(ps);
}

/* Checked build: whether p lies in another region of the stack's
 * reservation than the one in use, which a reset has left. */
static bool in_other_region(const PageStack *ps, uintptr_t p)
{
    if (!CHECKED)
        return false;
    const CheckState *ck = check_view(ps);
    return p >= ps->base && p - ps->base < (uintptr_t)ck->regions * ck->region_span;
}

/* A block of this stack given to realloc or push_copy (`call`) must be one
 * still pushed, whole: a block a pop or reset released may be handed out
 * again, and a size (named size_name in the report) that reaches past the
 * top is not the block's (the copy would read past it). A block of another
 * stack or allocator is not checked. */
static void need_live_block(const PageStack *ps, uintptr_t p, size_t size, const char *call, const char *size_name)
{
    uintptr_t t = top(ps);
    bool here = in_region(ps, p);
    if (!here && !in_other_region(ps, p))
        return;
    if (!here || p >= t || released_below_top(ps, p, size))
        os_vm_fatal("page_stack \"%s\": %s of the block at %p, which a pop or reset released; %s only a block "
                    "that is still pushed",
                    ps->name, call, (void *)p, call);
    if (size > t - p)
        os_vm_fatal("page_stack \"%s\": %s of the block at %p with %s %zu, but the top is %zu bytes above it; "
                    "pass the size the block was pushed or last resized with",
                    ps->name, call, (void *)p, size_name, size, (size_t)(t - p));
}

static void need_copy_source(const PageStack *ps, const void *src, size_t count, size_t size)
{
    if (!src)
        os_vm_fatal("page_stack \"%s\": push_copy from src NULL (count %zu, size %zu); pass the bytes to copy (src "
                    "may be NULL only with a count or size of 0)",
                    ps->name, count, size);
    uintptr_t p = (uintptr_t)src;
    size_t bytes = count * size;
    need_live_block(ps, p, bytes, "push_copy", "size");
    /* A source from below the stack's memory that runs into it must end by
     * the top, as one inside it must (and, in the checked build, reach no
     * region a reset has left). */
    if (p < ps->base && bytes > ps->base - p &&
        (bytes - (ps->base - p) > top(ps) - ps->base || region_base(ps) != ps->base))
        os_vm_fatal("page_stack \"%s\": push_copy of %zu bytes from %p runs from below the stack's memory into "
                    "bytes no live block holds; copy only bytes of blocks that are still pushed",
                    ps->name, bytes, (void *)p);
}

bool page_stack_holds(const PageStack *ps, const void *p)
{
    need_stack(ps, "page_stack_holds");
    if (ps->flags & Internal_CursorOpen)
        os_vm_fatal("page_stack \"%s\": page_stack_holds while a cursor is open on it; the cursor's blocks lie "
                    "above the top until page_stack_cursor_end, so ask once it has ended",
                    ps->name);
    uintptr_t a = (uintptr_t)p;
    return p && in_region(ps, a) && a < top(ps) && !released_below_top(ps, a, 1);
}

void page_stack_copy_check(PageStack *ps, const void *src, size_t count, size_t size)
{
    need_stack(ps, "page_stack_push_copy");
    need_idle(ps, "page_stack_push"); /* the push's own report: an open cursor's blocks lie above the top */
    need_copy_source(ps, src, count, size);
}

static void *realloc_with(PageStack *ps, void *ptr, size_t old_size, size_t new_size, size_t align, uint32_t how)
{
    if (!ptr)
        return page_stack_push_with(ps, new_size, align, how);
    check_align(ps, align);
    uintptr_t p = (uintptr_t)ptr;
    /* A block that is not aligned as asked (it was pushed with less) moves
     * to one that is, even where it could stay: the result is always aligned. */
    bool last = is_last(ps, p, old_size), aligned = (p & ((uintptr_t)align - 1)) == 0;
    if (last && aligned)
        return resize_last(ps, p, old_size, new_size, align, how);
    if (!last)
        need_live_block(ps, p, old_size, "realloc", "old_size");
    if (aligned && new_size <= old_size) {
        ps->pushes++;
        return ptr;
    }
    void *moved = page_stack_push_with(ps, new_size, align, how);
    /* Whole units only while they stay inside the new block: bytes written
     * above the top would pass for never-used (zero) memory. */
    size_t keep = old_size < new_size ? old_size : new_size, units = (keep + 15) & ~(size_t)15;
    if (moved && units <= new_size && whole_units(ps, p, (uintptr_t)moved))
        fa_copy16(moved, ptr, units);
    else if (moved)
        memcpy(moved, ptr, keep);
    return moved;
}

void *page_stack_realloc_slow(PageStack *ps, void *ptr, size_t old_size, size_t new_size, size_t align, uint32_t how)
{
    need_idle(ps, how & PageStackPush_Try ? "page_stack_try_realloc" : "page_stack_realloc");
    return realloc_with(ps, ptr, old_size, new_size, align, how);
}

void *page_stack_realloc_call(PageStack *ps, void *ptr, size_t old_size, size_t new_size, size_t align, uint32_t how)
{
    return page_stack_realloc_inline(ps, ptr, old_size, new_size, align, how);
}

/* The bodies below are each shared by two callers and inlined into both
 * (PAGE_STACK_INLINE): a call to reset_with would add 4 instructions to
 * page_stack_reset (bench/ir.py counts them), one to pop_down would save
 * registers in page_stack_pop_to_pos, and one to free_last_block would in
 * page_stack_free_last. The public pop, reset and
 * free_last each test once for every case their checks would stop or that
 * has calls to make, and send those to an out-of-line copy by a tail call:
 * a call to a function that does not return (os_vm_fatal) would make them
 * keep a stack frame on every call (3 to 5 instructions, x86-64). */

/* The last push [p, p + size) given back: the top goes down to p. */
PAGE_STACK_INLINE bool free_last_block(PageStack *ps, uintptr_t p, size_t size)
{
    note_high(ps);
    if (CHECKED) {
        check_redzones(ps, p, "page_stack_free_last");
        release_checked(ps, p, p + size + REDZONE, "page_stack_free_last");
        check_state(ps)->lpos -= size; /* the top stays put: monotonic */
        check_state(ps)->last_ptr = 0;
    } else {
        release(ps, p, p + size);
        set_top(ps, p);
    }
    rearm(ps);
    return true;
}

/* A free_last with calls to make first, the cleanups above the block and
 * on_pop: out of line, as the pop's are (pop_down_calling), so that the
 * common free_last makes no call and saves no register for them. */
#if defined(__GNUC__) || defined(__clang__)
__attribute__((noinline))
#endif
static bool free_last_calling(PageStack *ps, uintptr_t p, size_t size)
{
    if (ps->cleanups) /* a block with a cleanup record after it is never the last push */
        run_cleanups(ps, pos_of(ps) - size);
    if (ps->on_pop)
        CALL_HOOK(ps, Internal_InOnPop, ps->on_pop(ps, pos_of(ps) - size, ps->user));
    return free_last_block(ps, p, size);
}

/* page_stack_free_last on a stack need_idle lets through; `hooked` false
 * where the caller knows it has no on_pop. */
PAGE_STACK_INLINE bool free_last_idle(PageStack *ps, void *ptr, size_t size, bool hooked)
{
    uintptr_t p = (uintptr_t)ptr;
    if (!ptr || !is_last(ps, p, size))
        return false;
    if (PAGE_STACK_UNLIKELY(ps->cleanups || (hooked && ps->on_pop)))
        return free_last_calling(ps, p, size);
    return free_last_block(ps, p, size);
}

/* page_stack_free_last of a stack that a check would stop or that has a
 * hook: the checks, each failure stopping the program with its own
 * message, then the free and its calls. Out of line and not declared as
 * not returning, so that the free reaches it by a tail call and keeps no
 * stack frame for it. */
#if defined(__GNUC__) || defined(__clang__)
__attribute__((noinline, cold))
#endif
static bool free_last_checked(PageStack *ps, void *ptr, size_t size)
{
    return free_last_idle(need_idle(ps, "page_stack_free_last"), ptr, size, true);
}

bool page_stack_free_last(PageStack *ps, void *ptr, size_t size)
{
    if (PAGE_STACK_UNLIKELY(!ps || (ps->flags & Internal_FreeLastOutOfLine)))
        return free_last_checked(ps, ptr, size);
    return free_last_idle(ps, ptr, size, false);
}

/* ------------------------------------------------------------------ strings */

/* The bytes from p, a live byte, that a string of the stack's own may span:
 * up to the top, or in the checked build up to the end of the newest block
 * when p lies in it (the redzone after it is no string's). SIZE_MAX for a
 * string elsewhere. */
static size_t string_room(const PageStack *ps, uintptr_t p)
{
    if (!in_region(ps, p))
        return SIZE_MAX;
    if (CHECKED) {
        const CheckState *ck = check_view(ps);
        if (ck->last_ptr && p >= ck->last_ptr && p - ck->last_ptr < ck->last_size)
            return ck->last_size - (p - ck->last_ptr);
    }
    return top(ps) - p;
}

/* Whether s lies in the stack's memory (in the checked build, a region a
 * reset left included): a string string_length checks. */
static bool own_string(const PageStack *ps, const char *s)
{
    return in_region(ps, (uintptr_t)s) || in_other_region(ps, (uintptr_t)s);
}

/* The length of s, whole (bounded false) or up to its first n bytes; call
 * names the call in reports. A string of the stack's own must start in a
 * block still pushed, as a copy's source must, which is checked before a
 * byte of it is read, and must end by the top (or its n bytes must). */
static size_t string_length(const PageStack *ps, const char *s, const char *call, bool bounded, size_t n)
{
    size_t room = SIZE_MAX, limit = bounded ? n : SIZE_MAX;
    if (own_string(ps, s)) {
        need_live_block(ps, (uintptr_t)s, 1, call, "size");
        room = string_room(ps, (uintptr_t)s);
    }
    if (room == SIZE_MAX && limit == SIZE_MAX)
        return strlen(s);
    size_t span = limit < room ? limit : room;
    const char *nul = memchr(s, 0, span); /* reads no further than the NUL, the n-th byte or the top */
    if (!nul && span < limit)
        os_vm_fatal("page_stack \"%s\": %s of the string at %p finds no NUL in the %zu bytes up to the top; "
                    "a string of the stack's own ends, NUL included, in a block still pushed%s",
                    ps->name, call, (const void *)s, room,
                    bounded ? " (or pass an n that stops below the top)" : "");
    return nul ? (size_t)(nul - s) : span;
}

/* A string that fits here is formatted once and copied into its block; a
 * longer one is formatted again, into its block. */
#define FORMAT_LOCAL 256

PAGE_STACK_PRINTF(4, 0) static char *format_with(PageStack *ps, const char *fn, uint32_t how, const char *fmt,
                                                 va_list ap)
{
    need_idle(ps, fn);
    if (!fmt)
        os_vm_fatal("page_stack \"%s\": %s with fmt NULL; pass a format string", ps->name, fn);
    if (own_string(ps, fmt)) /* the format is a string too: one of the stack's own is checked as strdup's is */
        (void)string_length(ps, fmt, "printf", false, 0);
    char local[FORMAT_LOCAL];
    va_list again;
    va_copy(again, ap);
    int caller_errno = errno; /* given back: a success leaves errno as it was */
    errno = 0;
    int n = vsnprintf(local, sizeof local, fmt, ap);
    if (n < 0)
        os_vm_fatal("page_stack \"%s\": %s: the C library cannot format it (%s); check the arguments against "
                    "the format, and any wide strings",
                    ps->name, fn, errno ? strerror(errno) : "vsnprintf failed");
    errno = caller_errno;
    char *p = page_stack_push_with(ps, (size_t)n + 1, 1, how);
    if (p && (size_t)n < sizeof local)
        memcpy(p, local, (size_t)n + 1);
    else if (p)
        vsnprintf(p, (size_t)n + 1, fmt, again);
    va_end(again);
    return p;
}

char *page_stack_printf(PageStack *ps, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *p = format_with(ps, "page_stack_printf", 0, fmt, ap);
    va_end(ap);
    return p;
}

char *page_stack_vprintf(PageStack *ps, const char *fmt, va_list ap)
{
    return format_with(ps, "page_stack_vprintf", 0, fmt, ap);
}

char *page_stack_try_printf(PageStack *ps, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *p = format_with(ps, "page_stack_try_printf", PageStackPush_Try, fmt, ap);
    va_end(ap);
    return p;
}

char *page_stack_try_vprintf(PageStack *ps, const char *fmt, va_list ap)
{
    return format_with(ps, "page_stack_try_vprintf", PageStackPush_Try, fmt, ap);
}

/* len bytes of s, then a NUL; how: 0 or PageStackPush_Try. */
static char *copy_string(PageStack *ps, const char *s, size_t len, uint32_t how)
{
    if (len == SIZE_MAX) /* no real string is that long, but len + 1 must not wrap to 0 */
        return page_stack_push_overflow(ps, 1, how);
    char *p = page_stack_push_with(ps, len + 1, 1, how);
    if (p) {
        memcpy(p, s, len);
        p[len] = 0;
    }
    return p;
}

/* s whole (bounded false), or at most its first n bytes. */
static char *dup_string(PageStack *ps, const char *fn, uint32_t how, const char *s, bool bounded, size_t n)
{
    need_idle(ps, fn);
    if (!s)
        os_vm_fatal("page_stack \"%s\": %s with s NULL; pass a string", ps->name, fn);
    /* n == 0: nothing to read, so any pointer, as a copy of 0 bytes takes */
    size_t len = bounded && n == 0 ? 0 : string_length(ps, s, bounded ? "strndup" : "strdup", bounded, n);
    return copy_string(ps, s, len, how);
}

char *page_stack_strdup(PageStack *ps, const char *s)
{
    return dup_string(ps, "page_stack_strdup", 0, s, false, 0);
}

char *page_stack_try_strdup(PageStack *ps, const char *s)
{
    return dup_string(ps, "page_stack_try_strdup", PageStackPush_Try, s, false, 0);
}

char *page_stack_strndup(PageStack *ps, const char *s, size_t n)
{
    return dup_string(ps, "page_stack_strndup", 0, s, true, n);
}

char *page_stack_try_strndup(PageStack *ps, const char *s, size_t n)
{
    return dup_string(ps, "page_stack_try_strndup", PageStackPush_Try, s, true, n);
}

/* ------------------------------------------------------------------ cursors */

uint64_t page_stack_cursor_open(PageStack *ps)
{
    need_stack(ps, "page_stack_cursor_begin");
    need_not_in_hook(ps, "page_stack_cursor_begin");
    if (ps->flags & Internal_CursorOpen)
        os_vm_fatal("page_stack \"%s\": page_stack_cursor_begin while a cursor is open on it; end that one "
                    "first (one cursor per stack at a time)",
                    ps->name);
    ps->flags |= Internal_CursorOpen;
    ps->cursor_end = ps->end; /* no commit read: the stack's `end` is the inline end while no cursor is open */
    ps->end = 0;
    ps->zero_end = 0;
    return ++ps->cursors;
}

/* The cursor's state is the open cursor's own and not behind the stack's
 * top; then the stack takes it (its top and its pushes). */
static void take_cursor(PageStack *ps, uint64_t serial, uintptr_t last, uint64_t pushes, const char *fn)
{
    need_stack(ps, fn);
    if (serial == 0)
        os_vm_fatal("page_stack \"%s\": %s with a cursor already ended; begin a new one", ps->name, fn);
    if (!(ps->flags & Internal_CursorOpen) || serial != ps->cursors)
        os_vm_fatal("page_stack \"%s\": %s with a cursor that is not the stack's open one (a copy of one "
                    "already ended); keep the cursor in one local and pass its address",
                    ps->name, fn);
    if (last < ps->last || (CHECKED && last != ps->last))
        os_vm_fatal("page_stack \"%s\": %s with a copy of the open cursor that another copy has pushed past; "
                    "keep the cursor in one local and pass its address",
                    ps->name, fn);
    ps->last = last;
    ps->pushes += pushes;
}

void *page_stack_cursor_push_slow(PageStack *ps, uint64_t serial, uintptr_t last, uint64_t pushes, size_t size,
                                  size_t align, uint32_t how)
{
    take_cursor(ps, serial, last, pushes, "page_stack_cursor_push");
    if (how & PAGE_STACK_PUSH_OVERFLOWED_)
        return push_overflow(ps, align, how);
    return push_slow(ps, size, align, how);
}

void page_stack_cursor_copy_check(PageStack *ps, uint64_t serial, uintptr_t last, uint64_t pushes, const void *src,
                                  size_t count, size_t size)
{
    take_cursor(ps, serial, last, pushes, "page_stack_cursor_push");
    need_copy_source(ps, src, count, size);
}

void page_stack_cursor_close(PageStack *ps, uint64_t serial, uintptr_t last, uint64_t pushes)
{
    take_cursor(ps, serial, last, pushes, "page_stack_cursor_end");
    ps->flags &= ~Internal_CursorOpen;
    ps->end = ps->cursor_end;
    rearm(ps);
}

/* ------------------------------------------------------------------ cleanups */

/* Links a cleanup's record c, pushed, into the list. Always inline: gcc
 * -Og calls it otherwise. */
PAGE_STACK_INLINE bool link_cleanup(PageStack *ps, PageStackCleanup *c, void (*fn)(void *object, size_t count),
                                void *object, size_t count)
{
    /* Its own top, not the one before it: a pop to a mark taken just before
     * the registration releases the record, and must run it first. */
    *c = (PageStackCleanup){fn, object, count, pos_of(ps), ps->cleanups};
    ps->cleanups = c;
    return true;
}

/* The record's push out of line (a commit, a full stack, a stack whose
 * pushes all go out of line): reached by a jump, so that the common path
 * keeps no registers for the call. */
#if defined(__GNUC__) || defined(__clang__)
__attribute__((noinline))
#endif
static bool push_cleanup_slow(PageStack *ps, void (*fn)(void *object, size_t count), void *object, size_t count)
{
    void *c = page_stack_push_slow(ps, sizeof(PageStackCleanup), alignof(PageStackCleanup), PageStackPush_Try);
    return c && link_cleanup(ps, c, fn, object, count);
}

/* The whole registration, every check made: what page_stack_push_cleanup
 * leaves to the library, and all of it in unoptimised code. */
bool page_stack_push_cleanup_slow(PageStack *ps, void (*fn)(void *object, size_t count), void *object, size_t count)
{
    need_idle(ps, "page_stack_push_cleanup");
    if (!fn) /* caught here, not when a later pop or reset would call it */
        os_vm_fatal("page_stack \"%s\": page_stack_push_cleanup with fn NULL; pass the function to run", ps->name);
    /* An object of the stack's own at or above the top was released (the
     * next pushes take its bytes, and the cleanup would run on theirs); with
     * a count of 0 it may be an empty block at the top, and only one above
     * it is. The checked build's pops leave the top: there also one in a
     * range the stack remembers releasing, with ASan one whose first byte is
     * poisoned unless the count is 0 (an empty block's first byte is its
     * redzone's), or one in a region a reset left. */
    uintptr_t p = (uintptr_t)object;
    bool released = in_region(ps, p) ? p >= top(ps) + (count == 0) || released_below_top(ps, p, count != 0)
                                     : in_other_region(ps, p);
    if (released)
        os_vm_fatal("page_stack \"%s\": page_stack_push_cleanup over the object at %p, which a pop or reset "
                    "released; register a cleanup over an object that is still pushed",
                    ps->name, object);
    /* The record's push, as the inline registration makes it (`end` is 0
     * wherever every push goes out of line), for unoptimised code and an
     * object above the top that is not the stack's. Written out rather than
     * through a push of the header, whose slow half is a call: across it
     * this function would keep fn, object and count in saved registers. */
    uintptr_t c = (ps->last | (alignof(PageStackCleanup) - 1)) + 1, last = c + sizeof(PageStackCleanup) - 1;
    if (PAGE_STACK_UNLIKELY(last >= ps->end))
        return push_cleanup_slow(ps, fn, object, count);
    ps->last = last;
    ps->pushes++;
    return link_cleanup(ps, (PageStackCleanup *)c, fn, object, count);
}

/* Runs, newest first, every cleanup whose record lies (in part) above `pos`,
 * with the stack marked as inside its cleanups down to `pos` (need_idle_to;
 * nested, as when a cleanup pops to a mark of its own, it is restored). Out
 * of line: inlined, clang 14 keeps what it restores in callee-saved
 * registers and saves them on every reset and pop_to, cleanups or not. */
#if defined(__GNUC__) || defined(__clang__)
__attribute__((noinline))
#endif
static void run_cleanups(PageStack *ps, size_t pos)
{
    uint32_t outer = ps->flags & Internal_InCleanup;
    size_t outer_floor = ps->cleanup_floor;
    ps->flags |= Internal_InCleanup;
    ps->cleanup_floor = pos;
    while (ps->cleanups && ps->cleanups->pos > pos) {
        PageStackCleanup *c = ps->cleanups;
        ps->cleanups = c->prev;
        c->fn(c->object, c->count);
    }
    ps->flags = (ps->flags & ~(uint32_t)Internal_InCleanup) | outer;
    ps->cleanup_floor = outer_floor;
}

/* ------------------------------------------------------------------ marks, reset, trim */

PageStackMark page_stack_mark_slow(PageStack *ps)
{
    need_idle(ps, "page_stack_mark");
    if (CHECKED) {
        CheckState *ck = check_state(ps);
        if (ck->marks == MARK_LOG) { /* forget the oldest: popping to it releases less, never more */
            memmove(&ck->mark_log[0], &ck->mark_log[1], (MARK_LOG - 1) * sizeof ck->mark_log[0]);
            ck->marks--;
        }
        ck->mark_log[ck->marks].lpos = ck->lpos;
        ck->mark_log[ck->marks].phys = top(ps);
        ck->mark_log[ck->marks].last_ptr = ck->last_ptr;
        ck->mark_log[ck->marks].last_size = ck->last_size;
        ck->mark_log[ck->marks].last_end = ck->last_end;
        ck->marks++;
    }
    return (PageStackMark){ps, pos_of(ps), ps->generation};
}

/* A pop's work once its mark is known good: the stack goes down to `to`. */
PAGE_STACK_INLINE void pop_down(PageStack *ps, size_t to)
{
    note_high(ps);
    if (CHECKED) {
        /* Monotonic: what was popped is released, the physical top stays, until the stack is empty. */
        uintptr_t from = checked_mark_phys(ps, to);
        if (to == 0) {
            release_region(ps, "page_stack_pop_to");
        } else {
            check_redzones(ps, from, "page_stack_pop_to");
            release_checked(ps, from, top(ps), "page_stack_pop_to");
        }
        check_state(ps)->lpos = to;
        if (to != check_state(ps)->last_end) /* popped back to its end: still the top */
            check_state(ps)->last_ptr = 0;
        if (to == 0)
            rotate_region(ps, "page_stack_pop_to");
    } else {
        uintptr_t old_top = top(ps);
        set_top(ps, ps->base + to);
        release(ps, top(ps), old_top);
    }
    rearm(ps);
}

/* A pop from pos to `to` that has calls to make first: the cleanups it
 * releases, then on_pop. Out of line, so that a pop with none (the common
 * case) saves no registers for them. */
#if defined(__GNUC__) || defined(__clang__)
__attribute__((noinline))
#endif
static void pop_down_calling(PageStack *ps, size_t to, size_t pos)
{
    if (ps->cleanups)
        run_cleanups(ps, to);
    if (ps->on_pop && to < pos)
        CALL_HOOK(ps, Internal_InOnPop, ps->on_pop(ps, to, ps->user));
    pop_down(ps, to);
}

/* A pop with its checks made in turn, each failure stopping the program
 * with its own message, then its calls (cleanups, on_pop) and the pop. */
PAGE_STACK_INLINE void pop_to_in_turn(PageStack *ps, size_t to, uint64_t generation)
{
    if (!ps)
        os_vm_fatal("page_stack_pop_to: the mark has no stack; take marks with page_stack_mark or scratch_begin");
    need_idle_to(ps, "page_stack_pop_to", to);
    if (generation != ps->generation)
        os_vm_fatal("page_stack \"%s\": pop_to a stale mark (taken before the last reset); "
                    "do not keep marks across a reset",
                    ps->name);
    size_t pos = pos_of(ps);
    if (to > pos)
        os_vm_fatal("page_stack \"%s\": pop_to a mark above the top (mark %zu, top %zu): scopes ended out of "
                    "order; end inner scopes before outer ones",
                    ps->name, to, pos);
    if (PAGE_STACK_UNLIKELY(ps->cleanups || ps->on_pop))
        pop_down_calling(ps, to, pos);
    else
        pop_down(ps, to);
}

#if UINTPTR_MAX > 0xFFFFFFFFu
/* pop_to_in_turn out of line, for the pops page_stack_pop_to_pos sends it:
 * not declared as not returning, so that the pop reaches it by a tail call
 * and keeps no stack frame for the calls that stop the program. */
#if defined(__GNUC__) || defined(__clang__)
__attribute__((noinline, cold))
#endif
static void pop_to_checked(PageStack *ps, size_t to, uint64_t generation)
{
    pop_to_in_turn(ps, to, generation);
}
#endif

/* page_stack_pop_to, which passes the mark's fields in registers: its
 * stack, its pos (`to`) and its generation. */
void page_stack_pop_to_pos(PageStack *ps, size_t to, uint64_t generation)
{
#if UINTPTR_MAX > 0xFFFFFFFFu
    /* Every pop that a check would stop or that has calls to make goes to
     * pop_to_checked: one test each. */
    if (PAGE_STACK_UNLIKELY(!ps || (ps->flags & Internal_PopOutOfLine) || generation != ps->generation ||
                            to > pos_of(ps) || ps->cleanups)) {
        pop_to_checked(ps, to, generation);
        return;
    }
    pop_down(ps, to);
#else
    /* With 32-bit registers the generation takes two, which the tail call
     * would keep, with two more registers saved for them (gcc -m32: 74
     * instructions a pop against 69). */
    pop_to_in_turn(ps, to, generation);
#endif
}

size_t page_stack_pos(const PageStack *ps)
{
    need_stack(ps, "page_stack_pos");
    return pos_of(ps);
}

/* The reset's call to on_reset, out of line: the inline reset of a stack
 * without the hook keeps no registers for it. */
#if defined(__GNUC__) || defined(__clang__)
__attribute__((noinline))
#endif
static void call_on_reset(PageStack *ps)
{
    CALL_HOOK(ps, Internal_InOnReset, ps->on_reset(ps, ps->user));
}

/* A reset's work once its checks have passed and its calls are made. */
PAGE_STACK_INLINE void reset_down(PageStack *ps, const char *fn)
{
    note_high(ps);
    if (CHECKED) {
        release_region(ps, fn);
        check_state(ps)->pushes = 0;
        check_state(ps)->lpos = 0;
        check_state(ps)->owner = 0;
        check_state(ps)->frame = 0;
        check_state(ps)->frame_ended = false;
        rotate_region(ps, fn);
        check_state(ps)->left_high = 0;
    } else {
        release(ps, ps->base, top(ps));
    }
    set_top(ps, region_base(ps));
    if (ps->high > ps->peak)
        ps->peak = ps->high;
    ps->high = 0;
    ps->generation++;
    rearm(ps);
}

/* A reset that any check would stop, or that has calls to make first (the
 * cleanups, on_reset): each check in turn, each failure stopping the
 * program with its own message, then the calls and the reset. Out of line
 * and not declared as not returning, so that the reset reaches it by a
 * tail call and keeps no registers or stack frame for it. */
#if defined(__GNUC__) || defined(__clang__)
__attribute__((noinline))
#endif
static void reset_checked(PageStack *ps, const char *fn)
{
    need_idle_to(ps, fn, RESET_TO);
    if (ps->cleanups)
        run_cleanups(ps, 0);
    ps->cleanups = NULL;
    if (ps->on_reset)
        call_on_reset(ps);
    reset_down(ps, fn);
}

PAGE_STACK_INLINE void reset_with(PageStack *ps, const char *fn)
{
    /* need_idle_to stops a reset for each of its three flags; the fourth, hooks to call */
    if (PAGE_STACK_UNLIKELY(!ps || (ps->flags & Internal_PopOutOfLine) || ps->cleanups)) {
        reset_checked(ps, fn);
        return;
    }
    reset_down(ps, fn);
}

void page_stack_reset(PageStack *ps)
{
    reset_with(ps, "page_stack_reset");
}

void page_stack_begin_frame(PageStack *ps, uint64_t frame)
{
    reset_with(ps, "frame_arena_begin");
    if (CHECKED)
        check_state(ps)->frame = frame + 1;
}

void page_stack_end_frame(PageStack *ps)
{
    if (CHECKED && check_state(ps)->frame)
        check_state(ps)->frame_ended = true;
}

/* Decommits the committed bytes of one region above `keep` (a commit-step multiple). */
static size_t trim_region(PageStack *ps, uintptr_t base, size_t committed, size_t keep)
{
    if (committed <= keep)
        return committed;
    uintptr_t from = base + keep;
    unpoison(from, committed - keep); /* uncommitted memory faults on its own; keep the shadow clean */
    os_vm_decommit((void *)from, committed - keep, ps->flags & PageStackFlag_HugePages ? OsVmFlag_HugePages : 0);
    ps->decommits++;
    if (ps->dirty > from && ps->dirty <= base + committed)
        ps->dirty = from;
    return keep;
}

#ifdef FRAME_ARENA_CHECKED
/* What page_stack_trim keeps of region r besides the target: the pages its
 * last use reached, if that use's pos fitted in the target. Its redzones
 * took the pages above the target, and a stack trimmed every frame would
 * otherwise give them back and commit them again when it came round to r.
 * The trim policy's target is an extent (page_stack_extent), which counts
 * the redzones: there, only the target. */
static size_t last_use_kept(const PageStack *ps, uint32_t r, size_t target, bool by_extent)
{
    const CheckState *ck = check_view(ps);
    size_t used;
    if (by_extent || ck->region_pos_high[r] > target || !round_up(ck->region_top[r], ps->commit_size, &used) ||
        used < target)
        return target;
    return used;
}
#endif

/* page_stack_trim, and (by_extent) page_stack_trim_extent. */
static void trim_stack(PageStack *ps, size_t keep, bool by_extent)
{
    need_idle(ps, "page_stack_trim");
    size_t floor = pos_of(ps);
    if (keep > floor)
        floor = keep;
    if (ps->initial_commit > floor)
        floor = ps->initial_commit;
    size_t target;
    if (!round_up(floor, ps->commit_size, &target) || target > ps->reserved)
        target = ps->reserved;
    note_high(ps);
#ifdef FRAME_ARENA_CHECKED
    /* Quarantined regions hold nothing live; the current one keeps its physical top. */
    CheckState *ck = check_state(ps);
    for (uint32_t r = 0; r < ck->regions; r++)
        if (r != ck->region)
            ck->region_committed[r] = trim_region(ps, ps->base + (uintptr_t)r * ck->region_span,
                                                  ck->region_committed[r], last_use_kept(ps, r, target, by_extent));
    size_t phys = top(ps) - ck->region_base, keep_here = last_use_kept(ps, ck->region, target, by_extent);
    if (phys > keep_here && !round_up(phys, ps->commit_size, &keep_here))
        keep_here = ps->committed;
    ps->committed = trim_region(ps, ck->region_base, ps->committed, keep_here);
    for (uint32_t r = 0; r < ck->regions; r++) /* decommitted bytes read zero when committed again */
        ck->region_filled[r] = filled(ck, r, r == ck->region ? ps->committed : ck->region_committed[r]);
#else
    (void)by_extent;
    ps->committed = trim_region(ps, ps->base, ps->committed, target);
#endif
    settle(ps);
}

void page_stack_trim(PageStack *ps, size_t keep)
{
    trim_stack(ps, keep, false);
}

#ifdef FRAME_ARENA_CHECKED
size_t page_stack_extent(const PageStack *ps, size_t peak)
{
    (void)peak; /* the logical one: the regions hold more */
    const CheckState *ck = check_view(ps);
    size_t here = top(ps) - ck->region_base;
    return here > ck->left_high ? here : ck->left_high;
}

void page_stack_trim_extent(PageStack *ps, size_t extent)
{
    trim_stack(ps, extent, true);
}

size_t page_stack_most_committed(const PageStack *ps)
{
    const CheckState *ck = check_view(ps);
    size_t most = ps->committed;
    for (uint32_t r = 0; r < ck->regions; r++)
        if (r != ck->region && ck->region_committed[r] > most)
            most = ck->region_committed[r];
    return most;
}
#endif

PageStackStats page_stack_stats(const PageStack *ps)
{
    need_stack(ps, "page_stack_stats");
    size_t pos = pos_of(ps), committed = ps->committed, peak = ps->high > ps->peak ? ps->high : ps->peak;
    if (CHECKED) {
        const CheckState *ck = check_view(ps);
        for (uint32_t r = 0; r < ck->regions; r++)
            if (r != ck->region)
                committed += ck->region_committed[r];
    }
    return (PageStackStats){
        .pos = pos,
        .peak = pos > peak ? pos : peak,
        .committed = committed,
        .reserved = ps->reserved,
        .pushes = ps->pushes,
        .failed_pushes = ps->failed_pushes,
        .commits = ps->commits,
        .decommits = ps->decommits,
        .resets = ps->generation,
    };
}

void page_stack_check(const PageStack *ps)
{
    need_stack(ps, "page_stack_check");
    check_everything(ps, "page_stack_check"); /* nothing outside the self-checking build */
}

PageStackError page_stack_last_error(const PageStack *ps)
{
    need_stack(ps, "page_stack_last_error");
    return ps->last_error;
}

const char *page_stack_error_string(PageStackError err)
{
    switch (err) {
    case PageStackError_None: return "no error";
    case PageStackError_OutOfReserve: return "out of reserved address space (raise reserve_size)";
    case PageStackError_CommitFailed: return "the OS refused to commit memory";
    case PageStackError_SizeOverflow: return "size overflows size_t";
    case PageStackError_ReserveFailed: return "the OS refused to reserve the address space (lower reserve_size)";
    }
    return "unknown error";
}

/* ------------------------------------------------------------------ create, destroy */

static OS_VM_THREAD_LOCAL PageStackError create_error; /* of this thread's last create */

PageStackError page_stack_create_error(void)
{
    return create_error;
}

void page_stack_set_create_error(PageStackError err)
{
    create_error = err;
}

static PageStack *create_failed(PageStackError err)
{
    create_error = err;
    return NULL;
}

PageStack *page_stack_create(const PageStackDesc *desc)
{
    PageStackDesc d = desc ? *desc : (PageStackDesc){0};
    size_t page = os_vm_page_size();
    bool huge = (d.flags & PageStackFlag_HugePages) != 0;
    if (!d.name)
        d.name = "page_stack";
    if (!d.commit_size)
        d.commit_size = huge ? 2 * MiB : 64 * KiB;
    if (!d.reserve_size)
        d.reserve_size = sizeof(void *) >= 8 ? 1024 * MiB : 64 * MiB;
    if (!d.quarantine)
        d.quarantine = 4;
    uint32_t known = PAGE_STACK_KNOWN_FLAGS;
    if (d.flags & ~known)
        os_vm_fatal("page_stack \"%s\": flags 0x%x include bits no PageStackFlag names (0x%x); pass "
                    "PageStackFlag_* values",
                    d.name, (unsigned)d.flags, (unsigned)(d.flags & ~known));
    size_t commit_size, reserved, initial, header;
    if (!round_up(d.commit_size, page, &commit_size) || !round_up(d.reserve_size, commit_size, &reserved) ||
        !round_up(d.initial_commit, commit_size, &initial) || !round_up(HEADER_BYTES, page, &header))
        return create_failed(PageStackError_SizeOverflow);
    if (initial > reserved)
        os_vm_fatal("page_stack \"%s\": initial_commit %zu exceeds reserve_size %zu; raise reserve_size or "
                    "lower initial_commit",
                    d.name, d.initial_commit, reserved);
    /* Checked: quarantine + 1 regions, each with room for redzones and monotonic pops, and a guard. */
    uint32_t regions = CHECKED ? (d.quarantine < MAX_REGIONS ? d.quarantine + 1 : MAX_REGIONS) : 1;
    size_t cap = reserved;
    if (CHECKED && (reserved > (SIZE_MAX - 4 * MiB) / 2 || !round_up(2 * reserved + 64 * KiB, commit_size, &cap)))
        return create_failed(PageStackError_SizeOverflow);
    if (cap > SIZE_MAX - page) /* the guard page after it would wrap the span to a few pages */
        return create_failed(PageStackError_SizeOverflow);
    size_t span = cap + page;
    /* The header pages and a guard page come first, so the stack's fields
     * and its first pages have their page-table entries side by side (in one
     * cache line: the reservation starts on a 32 KiB boundary, eight 4 KiB
     * entries): a frame that finds them all cold pays one page walk for both,
     * not one for each. With huge pages the usable range starts 2 MiB in. */
    size_t lead = header + page;
    if (huge && !round_up(lead, 2 * MiB, &lead))
        return create_failed(PageStackError_SizeOverflow);
    if (span > (SIZE_MAX - lead) / regions)
        return create_failed(PageStackError_SizeOverflow);
    size_t map_size = lead + span * regions;
    size_t align = huge ? 2 * MiB : page < 32 * KiB ? 32 * KiB : page;
    char *map = os_vm_reserve(map_size, align, huge ? OsVmFlag_HugePages : 0);
    if (!map)
        return create_failed(PageStackError_ReserveFailed);
    PageStack *ps = (PageStack *)(void *)map;
    char *usable = map + lead;
    if (!os_vm_commit(ps, header) || (initial && !os_vm_commit(usable, initial))) {
        os_vm_release(map, map_size);
        return create_failed(PageStackError_CommitFailed);
    }
    *ps = (PageStack){
        .last = (uintptr_t)usable - 1,
        .dirty = CHECKED ? UINTPTR_MAX : (uintptr_t)usable,
        .base = (uintptr_t)usable,
        .committed = initial,
        .reserved = reserved,
        .commit_size = commit_size,
        .initial_commit = initial,
        .map_size = map_size,
        .commits = initial ? 1 : 0,
        .flags = d.flags | (under_valgrind() || d.on_push ? Internal_WatchEveryPush : 0) |
                 (under_valgrind() ? Internal_Valgrind : 0) |
                 (CHECKED && !PAGE_STACK_POISONING && !under_valgrind() ? Internal_SelfCheck : 0) |
                 (CHECKED ? Internal_LogsMarks : 0) | (d.on_pop || d.on_reset ? Internal_PopHooks : 0),
        .name = keep_name(ps, d.name),
        .on_fail = d.on_fail,
        .user = d.user,
        .on_push = d.on_push,
        .on_pop = d.on_pop,
        .on_reset = d.on_reset,
    };
    if (CHECKED) {
        CheckState *ck = check_state(ps);
        *ck = (CheckState){.region_base = (uintptr_t)usable, .region_span = span, .capacity = cap, .regions = regions};
    }
    if (initial && (d.flags & PageStackFlag_Prefault))
        os_vm_prefault(usable, initial);
    if (valgrind_watches(ps))
        VALGRIND_CREATE_MEMPOOL(ps, 0, 0);
    poison(usable, initial);
    if (valgrind_watches(ps))
        VALGRIND_MAKE_MEM_NOACCESS(usable, initial);
    settle(ps);
    create_error = PageStackError_None;
    return ps;
}

static void destroy_stack(PageStack *ps)
{
    need_idle(ps, "page_stack_destroy");
    if (ps->flags & Internal_InCleanup)
        os_vm_fatal("page_stack \"%s\": page_stack_destroy from one of the stack's own cleanups; destroy it once "
                    "the pop or reset running the cleanup has returned",
                    ps->name);
    if (ps->cleanups)
        run_cleanups(ps, 0);
    if (ps->on_reset)
        call_on_reset(ps);
    void *map = ps; /* the header comes first in the reservation */
    size_t map_size = ps->map_size;
    if (valgrind_watches(ps))
        VALGRIND_DESTROY_MEMPOOL(ps);
    /* The address range may be mapped again by anyone: clear the shadow of what was poisoned. */
    if (CHECKED) {
        CheckState *ck = check_state(ps);
        check_everything(ps, "page_stack_destroy"); /* the last frame's blocks, what it released, the quarantine */
        ck->region_committed[ck->region] = ps->committed;
        for (uint32_t r = 0; r < ck->regions; r++)
            unpoison(ps->base + (uintptr_t)r * ck->region_span, ck->region_committed[r]);
    } else {
        unpoison(ps->base, ps->committed);
    }
    os_vm_release(map, map_size);
}

void page_stack_destroy(PageStack *ps)
{
    if (!ps)
        return;
    if (ps->owner)
        os_vm_fatal("page_stack_destroy: the stack \"%s\" belongs to %s", ps->name,
                    ps->owner == PageStackOwner_FrameArena
                        ? "a frame arena; destroy the arena with frame_arena_destroy"
                        : "this thread's scratch; the thread's exit or scratch_thread_release releases it");
    destroy_stack(ps);
}

PageStack *page_stack_need_idle(PageStack *ps, const char *fn)
{
    return need_idle(ps, fn);
}

void page_stack_set_hooks(PageStack *ps, const PageStackDesc *desc)
{
    need_idle(ps, "page_stack_set_hooks");
    if (!desc)
        os_vm_fatal("page_stack \"%s\": page_stack_set_hooks with desc NULL; pass a desc holding the on_fail, hooks "
                    "and user to take (NULL fields: none, and the default on_fail)",
                    ps->name);
    ps->on_fail = desc->on_fail;
    ps->on_push = desc->on_push;
    ps->on_pop = desc->on_pop;
    ps->on_reset = desc->on_reset;
    ps->user = desc->user;
    ps->flags &= ~(Internal_WatchEveryPush | Internal_PopHooks);
    if ((ps->flags & Internal_Valgrind) || desc->on_push)
        ps->flags |= Internal_WatchEveryPush;
    if (desc->on_pop || desc->on_reset)
        ps->flags |= Internal_PopHooks;
    settle(ps); /* the inline push is open again without on_push, closed with it */
}

void page_stack_set_owner(PageStack *ps, PageStackOwner owner)
{
    need_stack(ps, "page_stack_set_owner");
    ps->owner = owner;
}

void page_stack_destroy_owned(PageStack *ps)
{
    if (ps)
        destroy_stack(ps);
}
