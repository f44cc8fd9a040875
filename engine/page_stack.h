/* page_stack: a stack allocator over one large reservation of address space.
 *
 * Pages are committed on demand as the top (pos) rises, push/pop are a pointer
 * bump, and reset is O(1). It is the building block of frame_arena and scratch.
 * It is not a general allocator (there is no free of a single block except the
 * last), not thread-safe (one stack, one thread at a time), and it never
 * calls malloc: its bookkeeping lives inside its own reservation.
 *
 *     PageStack *ps = page_stack_create(NULL);           // 1 GiB reserved, nothing committed
 *     Particle *p = push_array(ps, Particle, 1000);      // zeroed, aligned, committed on demand
 *     PageStackMark m = page_stack_mark(ps);
 *     char *tmp = page_stack_push(ps, 4096, 16);         // uninitialised bytes
 *     page_stack_pop_to(m);                              // tmp is gone, p stays
 *     page_stack_reset(ps);                              // everything gone, O(1)
 *     page_stack_destroy(ps);
 *
 * Failure: a push that cannot be served (reservation exhausted, commit refused
 * by the OS, size overflow) leaves the stack unchanged and usable; try_push
 * returns NULL and page_stack_last_error says why; push calls desc.on_fail,
 * whose default prints one line and aborts. An on_fail that returns makes the
 * push return NULL; it may use the stack (the push touches nothing after it),
 * but a push of its own there that fails again calls it again, so log with a
 * try_ call or into another stack: a failure that would call it an eighth
 * time, each call nested in the last with the stack unchanged, is fatal (one
 * line) before the recursion runs the thread out of stack. A call that has
 * returned counts for nothing after (on_fail may even destroy the stack: the
 * push writes nothing to it after on_fail returns). A create that
 * returns NULL leaves the reason in page_stack_create_error. Programming
 * errors (an alignment that is not a power of two, pop_to a mark above the
 * top or taken before the last reset) print one line and abort in every
 * build.
 *
 * Builds: built with AddressSanitizer, the library poisons every byte that is
 * committed but not handed out, and what pop_to and reset release, so a read
 * of a released block is reported. Pushes then always take the out-of-line
 * path. PageStack's fields are visible only so that the push can be inlined;
 * they are read-only to users and may change between versions.
 */
#ifndef FRAME_ARENA_PAGE_STACK_H
#define FRAME_ARENA_PAGE_STACK_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#ifdef __cplusplus
#include <type_traits> /* push_array_copy's check that T may be copied as bytes */
extern "C" {
#else
#include <stdalign.h> /* alignof in C; a keyword in C++, where not every library has this header */
#endif

/* The inline functions below are C, casts included. A C++ game that builds
 * with -Wold-style-cast, or gcc's -Wuseless-cast (some of the casts change
 * nothing on a 64-bit target and are needed on a 32-bit one), is not told of
 * them; the macros at the end, which expand in the game's own code, use C++
 * casts there (tests/strict_warnings.cpp). */
#if defined(__cplusplus) && (defined(__GNUC__) || defined(__clang__))
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wold-style-cast"
#ifndef __clang__
#pragma GCC diagnostic ignored "-Wuseless-cast"
#endif
#endif

/* PAGE_STACK_CURSOR_FN: a cursor's functions take its address, so each must
 * be inlined for the cursor to stay in registers; the compiler's size
 * heuristics are not left to decide it. PAGE_STACK_INLINE: nor are they for
 * the stack's inline pushes and their helpers, which a build for size (-Os)
 * or -O0 would otherwise call (at -Os, 38 instructions a push instead of
 * 13). PAGE_STACK_OUT_OF_LINE: the pushes' slow halves stay calls with
 * link-time optimisation too, where gcc would otherwise inline one into a
 * loop of pushes and keep a copy of the top alive for it (a push one
 * instruction longer). */
#if defined(__GNUC__) || defined(__clang__)
#define PAGE_STACK_LIKELY(x) __builtin_expect(!!(x), 1)
#define PAGE_STACK_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define PAGE_STACK_CONSTANT(x) __builtin_constant_p(x)
#define PAGE_STACK_CURSOR_FN static inline __attribute__((always_inline))
#define PAGE_STACK_INLINE static inline __attribute__((always_inline))
#define PAGE_STACK_OUT_OF_LINE __attribute__((noinline))
#elif defined(_MSC_VER)
#define PAGE_STACK_LIKELY(x) (x)
#define PAGE_STACK_UNLIKELY(x) (x)
#define PAGE_STACK_CONSTANT(x) 0
#define PAGE_STACK_CURSOR_FN static __forceinline
#define PAGE_STACK_INLINE static __forceinline
#define PAGE_STACK_OUT_OF_LINE __declspec(noinline)
#else
#define PAGE_STACK_LIKELY(x) (x)
#define PAGE_STACK_UNLIKELY(x) (x)
#define PAGE_STACK_CONSTANT(x) 0
#define PAGE_STACK_CURSOR_FN static inline
#define PAGE_STACK_INLINE static inline
#define PAGE_STACK_OUT_OF_LINE
#endif

/* PAGE_STACK_PRINTF: lets gcc and clang check page_stack_printf's arguments
 * against its format (MinGW's gcc against the C99 printf the library uses). */
#if defined(__MINGW32__)
#define PAGE_STACK_PRINTF(f, a) __attribute__((format(gnu_printf, f, a)))
#elif defined(__GNUC__) || defined(__clang__)
#define PAGE_STACK_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define PAGE_STACK_PRINTF(f, a)
#endif

/* Makes the compiler hold x in a register here, at no cost in instructions.
 * The push uses it so that its load of the top stays a move of its own
 * instead of being folded into the next operation, as clang 14 did: on Zen 3
 * the folded form made frames of pushes 1.4-2.1x the naive bump's time
 * instead of 1.1-1.3x (docs/BENCHMARKS.md, "The load of the top"). */
#if defined(__GNUC__) || defined(__clang__)
#define PAGE_STACK_IN_REGISTER(x) __asm__("" : "+r"(x))
#else
#define PAGE_STACK_IN_REGISTER(x) ((void)0)
#endif

/* PAGE_STACK_PUSH_CALL: 1 makes every push, and every push through a cursor,
 * one call to the library (page_stack_push_call and the five like it below:
 * arrays, copies, and the same through a cursor), which runs the same inline
 * push compiled with the library's optimisation; 0 inlines it into your
 * code. By default it is 1 in code that gcc or clang compile without
 * optimisation (-O0: no __OPTIMIZE__) and 0 otherwise. At -O0 the inlined
 * push is kept in memory step by step, about 90 instructions; a call to the
 * library built with -O2 is about 20, the call included (docs/BENCHMARKS.md,
 * "Debug builds"). So a debug build wants the library optimised: the meson
 * build compiles it with -O2 when the rest is -O0 (-Ddebug_engine=true keeps
 * it at -O0), and so does the CMake build in its Debug type or with no build
 * type (FRAME_ARENA_DEBUG_ENGINE keeps it). Copied in, compile it with -O2.
 * Define it to 0 to step into the pushes in a debugger, or when the library
 * is built without optimisation too; to 1 in an unoptimised build by another
 * compiler (MSVC's /Od, say). The blocks, failures and checks are the same
 * either way. */
#ifndef PAGE_STACK_PUSH_CALL
#if (defined(__GNUC__) || defined(__clang__)) && !defined(__OPTIMIZE__)
#define PAGE_STACK_PUSH_CALL 1
#else
#define PAGE_STACK_PUSH_CALL 0
#endif
#endif

/* PAGE_STACK_FN_(page_stack_push) names the push a call makes:
 * page_stack_push_call, the library's copy, or page_stack_push_inline; the
 * same for page_stack_push_array, page_stack_push_copy and the cursor's
 * three. Every push function and macro below calls it straight, not through
 * another inline function: at -O0 each level in between would copy every
 * argument once more. */
#if PAGE_STACK_PUSH_CALL
#define PAGE_STACK_FN_(name) name##_call
#else
#define PAGE_STACK_FN_(name) name##_inline
#endif

/* *sum = a + b; true when that wrapped. At -O2 gcc 12 makes the same add and
 * branch on the carry of the comparison as of __builtin_add_overflow, but at
 * -Og and -Os it keeps the builtin's result in a register and tests it again:
 * 3-4 more instructions a push (docs/BENCHMARKS.md, "Optimisation levels").
 * clang 14 keeps the builtin, whose code it builds as it is measured there;
 * the comparison changes its cursor's loop at -O2. */
PAGE_STACK_INLINE int page_stack_add_overflows(uintptr_t a, size_t b, uintptr_t *sum)
{
#if defined(__clang__)
    return __builtin_add_overflow(a, b, sum);
#else
    *sum = a + b;
    return *sum < a;
#endif
}

/* Whether count elements of size bytes overflow size_t. A size known at
 * compile time (sizeof in the array macros) divides at compile time, which
 * leaves one compare; any other multiplies and tests the overflow, where a
 * division would cost tens of cycles. */
PAGE_STACK_INLINE int page_stack_count_overflows(size_t count, size_t size)
{
#if defined(__GNUC__) || defined(__clang__)
    size_t product;
    if (!PAGE_STACK_CONSTANT(size))
        return __builtin_mul_overflow(count, size, &product);
#endif
    return size != 0 && count > SIZE_MAX / size;
}

/* The push's carry test: *last = before + size, true when that wrapped. With
 * a size and an alignment that are both compile-time constants below 2^32 on
 * a 64-bit target it cannot wrap, and folds away as the alignment test does:
 * `before` is the last byte handed out, below the commit end, with at most
 * its 32 low bits set; a stack whose reservation reaches the top 2^33 bytes
 * of the address space (kernel space on every 64-bit system) gets no inline
 * pushes at all (its `end` stays 0; see inline_end in page_stack.c and its
 * test, tests/test_carry_guard.c), and where `end` is 0 no wrapped sum
 * passes the bound. */
#if UINTPTR_MAX > 0xFFFFFFFFu
#define PAGE_STACK_CARRY_FREE_END (UINTPTR_MAX - ((uintptr_t)1 << 33))
#define PAGE_STACK_SMALL_CONSTANT(x) (PAGE_STACK_CONSTANT(x) && (uint64_t)(x) < ((uint64_t)1 << 32))
#else
#define PAGE_STACK_SMALL_CONSTANT(x) ((void)(x), 0)
#endif
/* The bound below which a zeroing push has nothing to zero (`zero_end`): `end`
 * while the top, last + 1, is at or above the dirty edge (every byte above it
 * reads zero), else 0. */
PAGE_STACK_INLINE uintptr_t page_stack_zero_bound(uintptr_t last, uintptr_t dirty, uintptr_t end)
{
    return last + 1 >= dirty ? end : 0;
}

PAGE_STACK_INLINE int page_stack_block_wraps(uintptr_t before, size_t size, size_t align, uintptr_t *last)
{
    if (PAGE_STACK_SMALL_CONSTANT(size) && PAGE_STACK_SMALL_CONSTANT(align - 1)) {
        *last = before + size;
        return 0;
    }
    return page_stack_add_overflows(before, size, last);
}

/* Zeroes the n bytes at p for a push of a small constant size (n <= 64), in
 * memsets of at most 16 bytes, the last one overlapping the one before where
 * n is not a multiple of 16. Compilers turn each into one or two stores at
 * every optimisation level, where gcc 12 at -Os turns one memset of more than
 * 16 bytes into `rep stos`: a frame of push_struct of 32 bytes then took 5-8
 * times the same pushes without zeroing (frame_bench's push_struct line;
 * docs/BENCHMARKS.md, "Optimisation levels"). n is a constant, so the tests
 * fold away. */
PAGE_STACK_INLINE void page_stack_zero_small(void *p, size_t n)
{
    unsigned char *b = (unsigned char *)p;
    if (n <= 16) {
        memset(b, 0, n);
        return;
    }
    memset(b, 0, 16);
    if (n > 32) {
        memset(b + 16, 0, 16);
        if (n > 48)
            memset(b + 32, 0, 16);
    }
    memset(b + n - 16, 0, 16);
}

typedef struct PageStack PageStack;

typedef enum PageStackFlag {
    PageStackFlag_Prefault = 1u << 0,  /* commit and touch initial_commit at create: the first frame takes no
                                          page faults */
    PageStackFlag_HugePages = 1u << 1, /* 2 MiB-aligned reservation, transparent huge pages where the OS has them;
                                          commit_size defaults to 2 MiB; silently plain pages elsewhere */
} PageStackFlag;

typedef struct PageStackDesc {
    const char *name;      /* in every diagnostic and stat; default "page_stack"; copied (its first 63 bytes) */
    size_t reserve_size;   /* address space reserved; default 1 GiB (64-bit), 64 MiB (32-bit); rounded up to
                              commit_size */
    size_t commit_size;    /* commit step; default 64 KiB (2 MiB with HugePages); rounded up to the page size */
    size_t initial_commit; /* committed at create (touched too with Prefault); never trimmed below; default 0 */
    uint32_t flags;        /* PageStackFlag_*; default 0; other bits are fatal */
    void (*on_fail)(PageStack *ps, size_t size, size_t align, void *user); /* default: one line on stderr, abort */
    void *user;            /* passed to on_fail and the hooks; default NULL */
    /* Tool hooks (profilers, leak trackers); NULL = none, and then they cost nothing.
     * A stack with on_push set sends every push through the out-of-line path.
     * A hook may read its stack (stats, pos, check) and use any other stack;
     * a call that would change its own (push, pop, mark, realloc, reset,
     * trim, a cursor, destroy) is fatal, one line naming the call and the hook.
     * A hook must return: one left by longjmp (or a C++ throw) leaves its stack
     * marked as inside the hook, and every later change to it is fatal so. */
    void (*on_push)(PageStack *ps, void *ptr, size_t size, void *user); /* after each push that returned memory */
    void (*on_pop)(PageStack *ps, size_t pos, void *user);  /* the top went down to pos: pop_to, free_last, realloc */
    void (*on_reset)(PageStack *ps, void *user);            /* before a reset (or destroy) releases everything */
    uint32_t quarantine;   /* checked build only: resets before released bytes are reused; default 4, at most 63 */
} PageStackDesc;

typedef struct PageStackMark {
    PageStack *stack;
    size_t pos;
    uint64_t generation;
} PageStackMark;

typedef struct PageStackStats {
    size_t pos;       /* bytes from the base up to the top */
    size_t peak;      /* highest pos since create */
    size_t committed; /* bytes from the base that are committed */
    size_t reserved;  /* bytes from the base a push can reach */
    uint64_t pushes;  /* successful calls that returned memory */
    uint64_t failed_pushes, commits, decommits, resets;
} PageStackStats;

typedef enum PageStackError {
    PageStackError_None,
    PageStackError_OutOfReserve, /* the reservation cannot hold the block */
    PageStackError_CommitFailed, /* the OS refused to commit more memory */
    PageStackError_SizeOverflow, /* the size, or count * element size, overflows size_t once padded */
    PageStackError_ReserveFailed, /* page_stack_create: the OS refused the address space (lower reserve_size) */
} PageStackError;

/* How page_stack_push_with serves a request; the named pushes below pick these. */
typedef enum PageStackPush {
    PageStackPush_Zero = 1u << 0, /* zero the block (only bytes that may be dirty are written) */
    PageStackPush_Try = 1u << 1,  /* return NULL on failure instead of calling on_fail */
} PageStackPush;

/* A cleanup's record (page_stack_push_cleanup), pushed in the stack above the
 * object it cleans up. Read-only to users: the fields exist for the inline
 * registration. */
typedef struct PageStackCleanup {
    void (*fn)(void *object, size_t count);
    void *object;
    size_t count;
    size_t pos; /* the top just above the record: it runs when the top goes below, releasing the record */
    struct PageStackCleanup *prev;
} PageStackCleanup;

/* Read-only to users: the fields exist for the inline push below. The push
 * reads the first cache line only; reset and pop_to read the first two, as do
 * a cursor's begin and end (the stack lives at the start of a page), so a
 * frame that starts with the stack cold in the cache pays two misses for its
 * bookkeeping, not four. */
struct PageStack {
    /* bytes 0-63: the push, and the top and high-water bookkeeping of reset and pop_to */
    uintptr_t last;     /* the top minus one: the last byte handed out (base - 1 when empty) */
    uintptr_t end;      /* a block whose last byte lies below this is pushed inline: the commit end, or 0 when
                           every push goes out of line (ASan, MSan, checked, valgrind, an on_push hook,
                           a cursor, a hook running) */
    uintptr_t zero_end; /* `end` while the top is at or above `dirty`, else 0: a zeroing push whose last byte
                           lies below this is pushed inline with nothing to zero */
    uint64_t pushes;
    uintptr_t base;
    uintptr_t dirty; /* bytes at or above this were never handed out since they were committed (they read zero) */
    size_t peak, high; /* highest pos before the last reset (taken from high at the reset), and since it (lazily) */
    /* bytes 64-127: the rest of what reset and pop_to read, and a cursor's begin and end */
    uint64_t generation; /* resets since create: a mark from an earlier generation is stale */
    PageStackCleanup *cleanups; /* newest first; see page_stack_push_cleanup */
    void (*on_reset)(PageStack *ps, void *user);
    void (*on_pop)(PageStack *ps, size_t pos, void *user);
    void *user;
    uint32_t flags;
    PageStackError last_error;
    uintptr_t cursor_end; /* the end an open cursor pushes inline below (`end` itself is 0 while one is open) */
    uint64_t cursors;     /* cursors opened since create: the serial of the last, the open one if any */
    /* the rest: creation, commits, failures */
    size_t committed, reserved, commit_size, initial_commit, map_size;
    uint64_t failed_pushes, commits, decommits;
    const char *name;
    void (*on_fail)(PageStack *ps, size_t size, size_t align, void *user);
    void (*on_push)(PageStack *ps, void *ptr, size_t size, void *user);
    uint32_t owner; /* 0, or what made the stack and destroys it (a frame arena, scratch): see page_stack_destroy */
    size_t cleanup_floor; /* while its cleanups run: the pos the pop or reset running them goes down to */
};

/* desc NULL or zeroed: all defaults; NULL if it cannot be made */
PageStack *page_stack_create(const PageStackDesc *desc);
/* Why this thread's last page_stack_create (or frame_arena_create) returned
 * NULL: ReserveFailed (the OS refused the address space), CommitFailed (the
 * OS refused to commit initial_commit or the stack's own fields) or
 * SizeOverflow (a size rounds up past SIZE_MAX); None if it returned a stack. */
PageStackError page_stack_create_error(void);
void page_stack_destroy(PageStack *ps);                  /* NULL is a no-op; a frame arena's or scratch stack: fatal */
/* Takes desc's on_fail, on_push, on_pop, on_reset and user in place of the
 * stack's (its other fields are not read): NULL ones mean none, and the
 * default on_fail. A stack holds no pointer into the library's own code or
 * data, so one made by code that is then unloaded and loaded again (a game
 * reloading its code while it runs) goes on working under the new copy;
 * the hooks you gave it are yours, and if they were in the old code this
 * points it at the new functions. The new hooks see only what comes after:
 * a tool that pairs pushes with pops (the Tracy mapping) should be given
 * the same table as its `user`, or be swapped in on an empty stack. Fatal:
 * desc NULL, a cursor open on the stack, a call from one of its hooks. Not
 * while another thread pushes to it. */
void page_stack_set_hooks(PageStack *ps, const PageStackDesc *desc);

/* The out-of-line half of every push: commits, failures, checks, poisoning. */
PAGE_STACK_OUT_OF_LINE void *page_stack_push_slow(PageStack *ps, size_t size, size_t align, uint32_t how);
/* A zeroing push's block [ptr, ptr + size), already pushed: zeroes its bytes below `dirty`, if any, and
 * re-arms `zero_end` once the top is at or above `dirty`. Returns ptr: the push ends with the call. */
PAGE_STACK_OUT_OF_LINE void *page_stack_zero_dirty(PageStack *ps, void *ptr, size_t size);
/* count * size overflowed: records SizeOverflow and fails like a push of SIZE_MAX bytes. */
PAGE_STACK_OUT_OF_LINE void *page_stack_push_overflow(PageStack *ps, size_t align, uint32_t how);

/* The push. align: any power of two, applied to the absolute address.
 * Inside committed memory it is a bump of the top; anything else goes out of
 * line. Keeping `last` = top - 1 makes the aligned start (last | mask) + 1,
 * and the block's last byte (last | mask) + size, whose carry out of the add
 * catches a size that overflows. An align of 0 makes last | mask all ones, so
 * it carries (or, for size 0, fails the bound); an align that is not a power
 * of two fails (align & mask). Either way the slow path reports it. With a
 * constant align the alignment test folds away, and with a constant size as
 * well the carry test (page_stack_block_wraps): 7 instructions for a size and
 * an align known at compile time (push_struct, push_array of a constant
 * count), 12 for both at run time (gcc 12 and clang 14, x86-64 -O2;
 * bench/ir.py counts them, docs/BENCHMARKS.md has the figures).
 * A zeroing push bounds its block by `zero_end` instead, which is `end` only
 * while every byte above the top reads zero: on never-used memory it is the
 * plain push with another bound, no dirty test. Otherwise, inside the commit
 * end, the bytes below the dirty edge are zeroed out of line, and `zero_end`
 * is re-armed there once the top has passed the edge. A small constant size
 * is zeroed with a few stores instead, wherever it lands. */
/* gcc warns about memset with a constant size that cannot fit (a test of
 * SIZE_MAX, say) although that branch is unreachable: the add carries. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wstringop-overflow"
#endif
PAGE_STACK_INLINE void *page_stack_push_inline(PageStack *ps, size_t size, size_t align, uint32_t how)
{
#ifdef FRAME_ARENA_CHECKED
    if (!ps) /* the checked build names the mistake; a release build faults on the load below */
        return page_stack_push_slow(ps, size, align, how);
#endif
    uintptr_t mask = (uintptr_t)align - 1;
    uintptr_t top_last = ps->last;
    PAGE_STACK_IN_REGISTER(top_last);
    uintptr_t before = top_last | mask; /* the byte before the aligned start */
    uintptr_t last;                     /* the block's last byte */
    uintptr_t p;                        /* the block */
    int small = PAGE_STACK_CONSTANT(size) && size <= 64; /* a few stores cost less than testing for them */
    int fresh_only = (how & PageStackPush_Zero) && !small;
    /* A bad alignment or a wrap leave by the goto: with the bound's tests
     * nested under these two, clang 14 at -O1 tested the bound twice (16
     * instructions a push, 12 now, as at -O2; docs/BENCHMARKS.md,
     * "Optimisation levels"). gcc counts the same either way. */
    if (PAGE_STACK_UNLIKELY(align & mask) || PAGE_STACK_UNLIKELY(page_stack_block_wraps(before, size, align, &last)))
        goto slow;
    p = before + 1;
    if (PAGE_STACK_LIKELY(last < (fresh_only ? ps->zero_end : ps->end))) {
        ps->last = last;
        ps->pushes++;
        if ((how & PageStackPush_Zero) && small)
            page_stack_zero_small((void *)p, size);
        return (void *)p;
    }
    if (fresh_only && last < ps->end) { /* below the dirty edge: zero what was used */
        ps->last = last;
        ps->pushes++;
        return page_stack_zero_dirty(ps, (void *)p, size);
    }
slow:
    return page_stack_push_slow(ps, size, align, how);
}

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

/* page_stack_push_inline, compiled in the library: the push of
 * unoptimised code (PAGE_STACK_PUSH_CALL). */
void *page_stack_push_call(PageStack *ps, size_t size, size_t align, uint32_t how);

/* Every push comes here: inline, or a call (PAGE_STACK_PUSH_CALL). */
PAGE_STACK_INLINE void *page_stack_push_with(PageStack *ps, size_t size, size_t align, uint32_t how)
{
    return PAGE_STACK_FN_(page_stack_push)(ps, size, align, how);
}

/* uninitialised bytes */
PAGE_STACK_INLINE void *page_stack_push(PageStack *ps, size_t size, size_t align)
{
    return PAGE_STACK_FN_(page_stack_push)(ps, size, align, 0);
}

/* zeroed; no memset on never-used pages */
PAGE_STACK_INLINE void *page_stack_push_zero(PageStack *ps, size_t size, size_t align)
{
    return PAGE_STACK_FN_(page_stack_push)(ps, size, align, PageStackPush_Zero);
}

/* NULL on failure, stack unchanged */
PAGE_STACK_INLINE void *page_stack_try_push(PageStack *ps, size_t size, size_t align)
{
    return PAGE_STACK_FN_(page_stack_push)(ps, size, align, PageStackPush_Try);
}

/* count elements of size bytes; a product that overflows size_t fails with SizeOverflow.
 * Forced inline like the pushes: left to the compiler, gcc's debug level
 * -Og called a copy of it, where a push_array_no_zero took 49 instructions
 * instead of 10, and -Os 15 instead of 8 (bench/ir.py). frame_arena.hpp's
 * StackAllocator keeps a copy of its own that is not forced: forced, it cost
 * a std::list two instructions a node at -O2 (bench/cpp_ir.py). */
PAGE_STACK_INLINE void *page_stack_push_array_inline(PageStack *ps, size_t count, size_t size, size_t align,
                                                    uint32_t how)
{
    if (page_stack_count_overflows(count, size))
        return page_stack_push_overflow(ps, align, how);
    return page_stack_push_inline(ps, count * size, align, how);
}

/* page_stack_push_array_inline, compiled in the library (PAGE_STACK_PUSH_CALL). */
void *page_stack_push_array_call(PageStack *ps, size_t count, size_t size, size_t align, uint32_t how);

PAGE_STACK_INLINE void *page_stack_push_array_with(PageStack *ps, size_t count, size_t size, size_t align,
                                                  uint32_t how)
{
    return PAGE_STACK_FN_(page_stack_push_array)(ps, count, size, align, how);
}

/* push_copy's checks out of line: src NULL with bytes to copy, or bytes of
 * this stack that no live block holds, are fatal (one line); a src elsewhere
 * returns. */
PAGE_STACK_OUT_OF_LINE void page_stack_copy_check(PageStack *ps, const void *src, size_t count, size_t size);

/* push_copy's inline test, true when the copy's checks must run: bytes to
 * copy from a source that starts below the end of the stack's committed
 * memory and ends past `top` (bytes no live block holds, wherever the
 * source starts), or from NULL. from + bytes > top, without the sum's
 * overflow: from - 1 >= top - bytes where bytes <= top (always true for
 * from 0), and always where bytes > top. The second test looks only at
 * copies of 64 KiB or more, so that it folds away for a smaller size known
 * at compile time: a top lies above the lowest 64 KiB, which Windows never
 * maps and Linux keeps unmapped by default (vm.mmap_min_addr), and which a
 * reservation made with no address hint, as os_vm_reserve makes them, does
 * not get in practice (the systems place one high). The checked build runs
 * the checks for every copy, as every push goes out of line there. */
PAGE_STACK_INLINE int page_stack_copy_suspect(const PageStack *ps, uintptr_t top, const void *src, size_t bytes)
{
#ifdef FRAME_ARENA_CHECKED
    (void)ps, (void)top, (void)src;
    return bytes != 0;
#else
    uintptr_t from = (uintptr_t)src;
    return PAGE_STACK_UNLIKELY(from - 1 >= top - bytes || (bytes >= 65536 && bytes > top)) &&
           from < ps->base + ps->committed && bytes;
#endif
}

/* A push of count elements of size bytes, aligned to align, holding a copy
 * of the count * size bytes at src: the push, then memcpy, both inline, so
 * that a size known at compile time copies with a few moves. It fails as
 * the push does (how: 0 or PageStackPush_Try), copying nothing, and counts
 * as one push. src may be any readable bytes, a live block of this stack or
 * of a frame still in flight included. Fatal: src NULL unless there is
 * nothing to copy (a count or size of 0), and bytes of this stack above its
 * top, which a pop or reset released or no push has handed out yet, from a
 * source in the stack or one that starts below it (in the checked build also
 * a released block that something was pushed over since, as realloc's
 * check). A NULL stack is what it is to the push: a fault, or one line in
 * the checked build. page_stack_push_copy and _try_push_copy copy one block
 * of size bytes; push_array_copy and try_push_array_copy copy n elements of
 * a type, and gcc and clang warn when src points to another type (C++: an
 * error, and so is a type that is not trivially copyable). */
PAGE_STACK_INLINE void *page_stack_push_copy_inline(PageStack *ps, const void *src, size_t count, size_t size,
                                                   size_t align, uint32_t how)
{
#ifdef FRAME_ARENA_CHECKED
    if (!ps) { /* the checked build names the mistake; a release build faults on the load below */
        page_stack_copy_check(ps, src, count, size); /* fatal with NULL */
        return NULL; /* not reached: for gcc's -Wnull-dereference, which cannot tell */
    }
#endif
    if (page_stack_count_overflows(count, size))
        return page_stack_push_overflow(ps, align, how);
    size_t bytes = count * size;
    if (page_stack_copy_suspect(ps, ps->last + 1, src, bytes))
        page_stack_copy_check(ps, src, count, size);
    void *p = page_stack_push_inline(ps, bytes, align, how);
    if (p && bytes) /* memcpy from NULL is undefined even for 0 bytes */
        memcpy(p, src, bytes);
    return p;
}

/* page_stack_push_copy_inline, compiled in the library (PAGE_STACK_PUSH_CALL). */
void *page_stack_push_copy_call(PageStack *ps, const void *src, size_t count, size_t size, size_t align,
                                uint32_t how);

PAGE_STACK_INLINE void *page_stack_push_copy_with(PageStack *ps, const void *src, size_t count, size_t size,
                                                 size_t align, uint32_t how)
{
    return PAGE_STACK_FN_(page_stack_push_copy)(ps, src, count, size, align, how);
}

PAGE_STACK_INLINE void *page_stack_push_copy(PageStack *ps, const void *src, size_t size, size_t align)
{
    return PAGE_STACK_FN_(page_stack_push_copy)(ps, src, 1, size, align, 0);
}

PAGE_STACK_INLINE void *page_stack_try_push_copy(PageStack *ps, const void *src, size_t size, size_t align)
{
    return PAGE_STACK_FN_(page_stack_push_copy)(ps, src, 1, size, align, PageStackPush_Try);
}

/* A cursor: a run of pushes to one stack with the top held in the caller's
 * local variable instead of in the stack, for a loop that pushes many blocks.
 *
 *     PageStackCursor c = page_stack_cursor_begin(ps);
 *     for (int i = 0; i < n; i++)
 *         items[i] = cursor_push_struct(&c, Item);      // the same pushes, the same memory
 *     page_stack_cursor_end(&c);                        // the stack has them all now
 *
 * Why: the stack's top lives in memory, and a byte written through a pushed
 * block may alias it, so the compiler stores the top after every push and
 * loads it again for the next one. A cursor is a local whose address is never
 * taken (every function below that takes its address is inline), so the
 * compiler keeps its top and its push count in registers: a push is a few
 * register operations and no store. (Unoptimised code keeps it in memory
 * anyway, and passes its address to page_stack_cursor_push_call: see
 * PAGE_STACK_PUSH_CALL.) The duties stay: the alignment is
 * checked, a size that overflows fails, every push is counted (into the
 * stack at the end), and anything that does not fit the committed memory
 * goes out of line as a plain push does: commits, failures, on_fail, hooks,
 * ASan poisoning and the checked build's fills all behave alike.
 *
 * Rules (each break is fatal, with one line naming the stack, in every build):
 * one cursor per stack at a time; while it is open, nothing else changes the
 * stack: a push, mark, pop_to, reset, trim, realloc, free_last, push_cleanup
 * or destroy on it is fatal, and so are frame_arena_end and scratch_end over
 * it. page_stack_pos, page_stack_stats and page_stack_last_error may be read
 * (the last tells why a try push through the cursor failed), and
 * page_stack_check may look at every push made through it; pos and stats
 * count the cursor's pushes up to its last trip out of line (exactly, in an
 * on_push hook) and all of them after its end. A cursor is used only until
 * its end. Keep it in one local and pass its address: a copy used after the
 * end, or left behind by pushes through the other copy, is caught when it
 * goes out of line (the checked build sends every push there). */
typedef struct PageStackCursor {
    uintptr_t last;     /* as PageStack.last */
    uintptr_t end;      /* as PageStack.end; 0 after the end */
    uintptr_t zero_end; /* as PageStack.zero_end, for the cursor's own top */
    uint64_t pushes;    /* pushes not yet added to the stack's count */
    PageStack *stack;
    uint64_t serial;  /* which opening of the stack this is; 0 after the end */
} PageStackCursor;

/* Internal to the cursor: the push's count * size overflowed. */
#define PAGE_STACK_PUSH_OVERFLOWED_ (1u << 30)

/* The out-of-line halves of the cursor: open returns the serial; the others
 * take the cursor's state by value, so that its address never escapes. */
uint64_t page_stack_cursor_open(PageStack *ps);
PAGE_STACK_OUT_OF_LINE void *page_stack_cursor_push_slow(PageStack *ps, uint64_t serial, uintptr_t last,
                                                         uint64_t pushes, size_t size, size_t align, uint32_t how);
void page_stack_cursor_close(PageStack *ps, uint64_t serial, uintptr_t last, uint64_t pushes);
/* page_stack_copy_check for a copy through the cursor: the stack takes the
 * cursor's top and pushes first, so the cursor's own blocks count as live. */
PAGE_STACK_OUT_OF_LINE void page_stack_cursor_copy_check(PageStack *ps, uint64_t serial, uintptr_t last,
                                                         uint64_t pushes, const void *src, size_t count, size_t size);

/* Opens a cursor on ps (fatal if one is open, or ps is NULL). */
PAGE_STACK_CURSOR_FN PageStackCursor page_stack_cursor_begin(PageStack *ps)
{
    PageStackCursor c;
    c.serial = page_stack_cursor_open(ps);
    c.stack = ps;
    c.last = ps->last;
    c.end = ps->cursor_end;
    c.zero_end = page_stack_zero_bound(c.last, ps->dirty, c.end);
    c.pushes = 0;
    return c;
}

/* page_stack_push_inline through the cursor: the same blocks, the same failures. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wstringop-overflow" /* as in page_stack_push_inline */
#endif
PAGE_STACK_CURSOR_FN void *page_stack_cursor_push_inline(PageStackCursor *c, size_t size, size_t align,
                                                         uint32_t how)
{
    uintptr_t mask = (uintptr_t)align - 1;
    uintptr_t before = c->last | mask;
    uintptr_t last;
    uintptr_t start; /* the block */
    int small = PAGE_STACK_CONSTANT(size) && size <= 64;
    int fresh_only = (how & PageStackPush_Zero) && !small;
    if (PAGE_STACK_UNLIKELY(align & mask) || PAGE_STACK_UNLIKELY(page_stack_block_wraps(before, size, align, &last)))
        goto slow; /* as in page_stack_push_inline */
    start = before + 1;
    if (PAGE_STACK_LIKELY(last < (fresh_only ? c->zero_end : c->end))) {
        c->last = last;
        c->pushes++;
        if ((how & PageStackPush_Zero) && small)
            page_stack_zero_small((void *)start, size);
        return (void *)start;
    }
    if (fresh_only && last < c->end) {
        c->last = last;
        c->pushes++;
        void *zeroed = page_stack_zero_dirty(c->stack, (void *)start, size); /* start need not live across the call */
        c->zero_end = page_stack_zero_bound(last, c->stack->dirty, c->end); /* armed past the dirty edge */
        return zeroed;
    }
slow:;
    void *p = page_stack_cursor_push_slow(c->stack, c->serial, c->last, c->pushes, size, align, how);
    c->last = c->stack->last;
    c->end = c->stack->cursor_end;
    c->zero_end = page_stack_zero_bound(c->last, c->stack->dirty, c->end);
    c->pushes = 0;
    return p;
}
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

/* page_stack_cursor_push_inline, compiled in the library: a push through a
 * cursor in unoptimised code (PAGE_STACK_PUSH_CALL), where the cursor lives
 * in memory anyway. */
void *page_stack_cursor_push_call(PageStackCursor *c, size_t size, size_t align, uint32_t how);

/* Every push through a cursor comes here: inline, or a call (PAGE_STACK_PUSH_CALL). */
PAGE_STACK_CURSOR_FN void *page_stack_cursor_push_with(PageStackCursor *c, size_t size, size_t align, uint32_t how)
{
    return PAGE_STACK_FN_(page_stack_cursor_push)(c, size, align, how);
}

PAGE_STACK_CURSOR_FN void *page_stack_cursor_push(PageStackCursor *c, size_t size, size_t align)
{
    return PAGE_STACK_FN_(page_stack_cursor_push)(c, size, align, 0);
}

PAGE_STACK_CURSOR_FN void *page_stack_cursor_push_zero(PageStackCursor *c, size_t size, size_t align)
{
    return PAGE_STACK_FN_(page_stack_cursor_push)(c, size, align, PageStackPush_Zero);
}

PAGE_STACK_CURSOR_FN void *page_stack_cursor_try_push(PageStackCursor *c, size_t size, size_t align)
{
    return PAGE_STACK_FN_(page_stack_cursor_push)(c, size, align, PageStackPush_Try);
}

PAGE_STACK_CURSOR_FN void *page_stack_cursor_push_array_inline(PageStackCursor *c, size_t count, size_t size,
                                                                size_t align, uint32_t how)
{
    if (page_stack_count_overflows(count, size))
        return page_stack_cursor_push_inline(c, SIZE_MAX, align, how | PAGE_STACK_PUSH_OVERFLOWED_);
    return page_stack_cursor_push_inline(c, count * size, align, how);
}

/* page_stack_cursor_push_array_inline, compiled in the library (PAGE_STACK_PUSH_CALL). */
void *page_stack_cursor_push_array_call(PageStackCursor *c, size_t count, size_t size, size_t align, uint32_t how);

PAGE_STACK_CURSOR_FN void *page_stack_cursor_push_array_with(PageStackCursor *c, size_t count, size_t size,
                                                              size_t align, uint32_t how)
{
    return PAGE_STACK_FN_(page_stack_cursor_push_array)(c, count, size, align, how);
}

/* page_stack_push_copy_inline through the cursor: the same blocks, the same
 * failures and the same checks of src, the cursor's own blocks being live. */
PAGE_STACK_CURSOR_FN void *page_stack_cursor_push_copy_inline(PageStackCursor *c, const void *src, size_t count,
                                                               size_t size, size_t align, uint32_t how)
{
    if (page_stack_count_overflows(count, size))
        return page_stack_cursor_push_inline(c, SIZE_MAX, align, how | PAGE_STACK_PUSH_OVERFLOWED_);
    size_t bytes = count * size;
    if (page_stack_copy_suspect(c->stack, c->last + 1, src, bytes)) {
        page_stack_cursor_copy_check(c->stack, c->serial, c->last, c->pushes, src, count, size);
        c->pushes = 0; /* the stack took them */
    }
    void *p = page_stack_cursor_push_inline(c, bytes, align, how);
    if (p && bytes)
        memcpy(p, src, bytes);
    return p;
}

/* page_stack_cursor_push_copy_inline, compiled in the library (PAGE_STACK_PUSH_CALL). */
void *page_stack_cursor_push_copy_call(PageStackCursor *c, const void *src, size_t count, size_t size, size_t align,
                                       uint32_t how);

PAGE_STACK_CURSOR_FN void *page_stack_cursor_push_copy_with(PageStackCursor *c, const void *src, size_t count,
                                                             size_t size, size_t align, uint32_t how)
{
    return PAGE_STACK_FN_(page_stack_cursor_push_copy)(c, src, count, size, align, how);
}

PAGE_STACK_CURSOR_FN void *page_stack_cursor_push_copy(PageStackCursor *c, const void *src, size_t size, size_t align)
{
    return PAGE_STACK_FN_(page_stack_cursor_push_copy)(c, src, 1, size, align, 0);
}

PAGE_STACK_CURSOR_FN void *page_stack_cursor_try_push_copy(PageStackCursor *c, const void *src, size_t size,
                                                            size_t align)
{
    return PAGE_STACK_FN_(page_stack_cursor_push_copy)(c, src, 1, size, align, PageStackPush_Try);
}

/* Hands the cursor's pushes to the stack and closes it; the cursor is spent. */
PAGE_STACK_CURSOR_FN void page_stack_cursor_end(PageStackCursor *c)
{
    page_stack_cursor_close(c->stack, c->serial, c->last, c->pushes);
    c->end = 0; /* a later push goes out of line, which reports it */
    c->pushes = 0;
    c->serial = 0;
}

/* ptr NULL: a push. ptr the last push: grows or shrinks in place (same pointer).
 * Otherwise: ptr itself when shrinking, push + copy when growing. The result
 * is aligned to align: a block that is not (pushed with a smaller alignment)
 * moves, push + copy, even where it could stay. Failure behaves like push;
 * ptr stays valid.
 * Fatal: a block of this stack that a pop or reset released (while nothing
 * has been pushed over it; in the checked build whatever was pushed since),
 * or an old_size that reaches past the top. A block from elsewhere is copied. */
/* The out-of-line half of realloc, every case the inline one leaves to it
 * (how: 0 or PageStackPush_Try). */
PAGE_STACK_OUT_OF_LINE void *page_stack_realloc_slow(PageStack *ps, void *ptr, size_t old_size, size_t new_size,
                                                     size_t align, uint32_t how);

/* The inline realloc grows the last push in place, as the push bumps the
 * top: where the block ends at the top and starts in the stack, is aligned
 * as asked, and its new end lies inside the commit end, on a stack without
 * on_pop (which an in-place realloc calls). That is a growing array's every
 * call, and a few instructions where the library takes about a hundred. The
 * rest goes out of line: a NULL stack or ptr, another block, a shrink, a
 * commit, a bad alignment, and every stack whose pushes go out of line
 * (`end` 0). The block's last byte is p - 1 + old_size. Adding the growth,
 * new_size - old_size, to `last` carries for every shrink (the difference
 * wraps, and the shrink takes off at most old_size, which is no more than
 * `last`), so the one carry test keeps out both a shrink and a size past
 * the address space. */
PAGE_STACK_INLINE void *page_stack_realloc_inline(PageStack *ps, void *ptr, size_t old_size, size_t new_size,
                                                 size_t align, uint32_t how)
{
    uintptr_t p = (uintptr_t)ptr, mask = (uintptr_t)align - 1, last;
    if (PAGE_STACK_LIKELY(ps != NULL) && PAGE_STACK_LIKELY(p - 1 + old_size == ps->last) &&
        PAGE_STACK_LIKELY(((p | align) & mask) == 0) &&
        !page_stack_add_overflows(ps->last, new_size - old_size, &last) && PAGE_STACK_LIKELY(last < ps->end) &&
        PAGE_STACK_LIKELY(p >= ps->base) && PAGE_STACK_LIKELY(!ps->on_pop)) {
        ps->last = last;
        ps->pushes++;
        return ptr;
    }
    return page_stack_realloc_slow(ps, ptr, old_size, new_size, align, how);
}

/* page_stack_realloc_inline, compiled in the library (PAGE_STACK_PUSH_CALL). */
void *page_stack_realloc_call(PageStack *ps, void *ptr, size_t old_size, size_t new_size, size_t align, uint32_t how);

PAGE_STACK_INLINE void *page_stack_realloc(PageStack *ps, void *ptr, size_t old_size, size_t new_size, size_t align)
{
    return PAGE_STACK_FN_(page_stack_realloc)(ps, ptr, old_size, new_size, align, 0);
}

/* The same, but NULL on failure without calling on_fail; ptr stays valid. */
PAGE_STACK_INLINE void *page_stack_try_realloc(PageStack *ps, void *ptr, size_t old_size, size_t new_size,
                                              size_t align)
{
    return PAGE_STACK_FN_(page_stack_realloc)(ps, ptr, old_size, new_size, align, PageStackPush_Try);
}
/* Gives the block back if it is the last push (the top moves down to ptr) and
 * returns true; any other block stays until a pop or reset: false. */
bool page_stack_free_last(PageStack *ps, void *ptr, size_t size);

/* Strings in the stack: each is one push of its length + 1 bytes, alignment
 * 1, NUL-terminated, and fails as a push does (on_fail; NULL if it returns).
 * page_stack_printf formats with the C library's vsnprintf; a format it
 * cannot carry out (an encoding error in a %ls argument, a result longer
 * than INT_MAX) is fatal, and so is a NULL stack, format or string.
 * page_stack_strndup copies at most n bytes of s, fewer if s ends sooner.
 * A string of the stack's own, printf's format included, must start in a
 * block still pushed: one a pop or reset released is fatal, as for push_copy
 * (checked before it is read). It must also end by the top: strdup or printf
 * of one with no NUL below the top, or strndup of one with none in n bytes
 * that reach past the top, is fatal before a byte past the top is read. */
PAGE_STACK_PRINTF(2, 3) char *page_stack_printf(PageStack *ps, const char *fmt, ...);
PAGE_STACK_PRINTF(2, 0) char *page_stack_vprintf(PageStack *ps, const char *fmt, va_list ap);
/* The same, but NULL on failure without calling on_fail (a debug label a full stack can skip). */
PAGE_STACK_PRINTF(2, 3) char *page_stack_try_printf(PageStack *ps, const char *fmt, ...);
PAGE_STACK_PRINTF(2, 0) char *page_stack_try_vprintf(PageStack *ps, const char *fmt, va_list ap);
char *page_stack_strdup(PageStack *ps, const char *s);
char *page_stack_strndup(PageStack *ps, const char *s, size_t n);
char *page_stack_try_strdup(PageStack *ps, const char *s); /* NULL on failure without calling on_fail */
char *page_stack_try_strndup(PageStack *ps, const char *s, size_t n);

/* Registers fn(object, count) to run when a pop_to, reset or destroy releases
 * the record this call pushes: a pop to any mark taken before the call
 * (scratch_end's included), a reset (frame_arena_begin's included) or a
 * destroy; never free_last. Push an object in the stack before registering
 * it, so that its cleanup runs before its bytes go; an object of the stack
 * that a pop or reset released is fatal (at the top that takes a count other
 * than 0: with 0 it may be an empty block there). Cleanups run newest
 * first, before the bytes are released. A cleanup may push to its stack,
 * free_last there and pop it down to where the pop running it stops (what
 * it leaves goes with the rest); a reset, a deeper pop or a destroy of the
 * stack from a cleanup is fatal. A cleanup must return (as a hook must). A
 * stack without cleanups pays one pointer test per pop or reset.
 * Returns false (nothing registered) if the record cannot be pushed; fn NULL
 * is fatal. This is what frame_arena.hpp uses to run C++ destructors.
 * The record is pushed and linked inline where a push would be inline and
 * the object lies at or below the stack's last byte handed out (below the
 * base too: the object need not be the stack's); anything else, and NULL
 * for ps or fn, goes to page_stack_push_cleanup_slow, which makes every
 * check. */
PAGE_STACK_OUT_OF_LINE bool page_stack_push_cleanup_slow(PageStack *ps, void (*fn)(void *object, size_t count),
                                                         void *object, size_t count);

/* Internal: fills the record pushed at `record`, whose last byte is the
 * stack's last byte handed out (`last`), and links it: the inline
 * registration's, and frame_arena.hpp's push_new's and push_new_array's. */
PAGE_STACK_INLINE void page_stack_link_record_(PageStack *ps, PageStackCleanup *record, uintptr_t last,
                                               void (*fn)(void *object, size_t count), void *object, size_t count)
{
    record->fn = fn;
    record->object = object;
    record->count = count;
    record->pos = last + 1 - ps->base; /* its own top: a pop to a mark taken just before releases it */
    record->prev = ps->cleanups;
    ps->cleanups = record;
}

#if PAGE_STACK_PUSH_CALL
/* Unoptimised code makes the call alone: through an inline function, -O0
 * would copy the four arguments to the stack and back first. */
#define page_stack_push_cleanup page_stack_push_cleanup_slow
#else
PAGE_STACK_INLINE bool page_stack_push_cleanup(PageStack *ps, void (*fn)(void *object, size_t count), void *object,
                                               size_t count)
{
    if (PAGE_STACK_UNLIKELY(!ps) || PAGE_STACK_UNLIKELY(!fn))
        return page_stack_push_cleanup_slow(ps, fn, object, count);
    uintptr_t top_last = ps->last;
    PAGE_STACK_IN_REGISTER(top_last);
    /* The record's last byte cannot wrap: the top lies below the commit end,
     * which a guard page follows (`end` is 0 where every push goes out of
     * line). An object above the top is one a pop or reset released, or one
     * that is not the stack's: the library tells them apart. */
    uintptr_t c = (top_last | (alignof(PageStackCleanup) - 1)) + 1, last = c + sizeof(PageStackCleanup) - 1;
    if (PAGE_STACK_UNLIKELY(last >= ps->end) || PAGE_STACK_UNLIKELY((uintptr_t)object > top_last))
        return page_stack_push_cleanup_slow(ps, fn, object, count);
    ps->last = last;
    ps->pushes++;
    page_stack_link_record_(ps, (PageStackCleanup *)c, last, fn, object, count);
    return true;
}
#endif

/* Marks. page_stack_mark and page_stack_pop_to are inline, so that a mark
 * stays in the caller's registers from the one to the other: a 24-byte
 * struct returned from a call or passed to one goes through memory, and the
 * stack's top with it, which made a scope of two pushes three times as long
 * (docs/BENCHMARKS.md, "Scopes"). The mark is taken inline where the stack
 * is idle and keeps no log of marks (all but the checked build); the rest,
 * and every check of the pop, is out of line. */
#define PAGE_STACK_MARK_OUT_OF_LINE_ 0x5D000000u /* internal: flags of a stack whose marks go out of line */
PageStackMark page_stack_mark_slow(PageStack *ps);
void page_stack_pop_to_pos(PageStack *ps, size_t pos, uint64_t generation);

/* Internal: a struct value built where it is returned, a compound literal
 * in C and a temporary in C++. */
#ifdef __cplusplus
#define PAGE_STACK_VALUE_(T) T
#else
#define PAGE_STACK_VALUE_(T) (T)
#endif

PAGE_STACK_INLINE PageStackMark page_stack_mark(PageStack *ps)
{
    /* unoptimised code (PAGE_STACK_PUSH_CALL) is shorter with the call alone */
    if (PAGE_STACK_PUSH_CALL || PAGE_STACK_UNLIKELY(!ps || (ps->flags & PAGE_STACK_MARK_OUT_OF_LINE_)))
        return page_stack_mark_slow(ps);
    /* Built in the return value itself: at gcc's -Og, which keeps a struct in
     * memory, a local mark returned was three 8-byte stores read back at once
     * by a 16-byte load, which waits for the stores to reach the cache. */
    return PAGE_STACK_VALUE_(PageStackMark){ps, (size_t)(ps->last + 1 - ps->base), ps->generation};
}

/* A mark equal to the top is a no-op. clang's static analyzer reports a
 * mark left unset on some path only where it is passed whole to a function
 * whose body it does not see, so it sees this one as such a call. */
#ifdef __clang_analyzer__
void page_stack_pop_to(PageStackMark mark);
#else
PAGE_STACK_INLINE void page_stack_pop_to(PageStackMark mark)
{
    page_stack_pop_to_pos(mark.stack, mark.pos, mark.generation);
}
#endif

size_t page_stack_pos(const PageStack *ps);
/* Whether p points into what the stack still holds: a block pushed and not
 * yet released by a pop or reset (or the alignment padding, and in the
 * checked build the redzones, between such blocks). For debug checks, such
 * as that a pointer a game is about to keep past the frame is not frame
 * memory. False for NULL, for any other memory, and for bytes the stack has
 * released. The checked build leaves a pop's bytes below its top until the
 * stack is empty or reset: with ASan, or run under valgrind, it knows them
 * all (from the poison, or from memcheck); otherwise the last 16 ranges
 * that pops released since the last reset, so older ones count as held
 * there. It reads no byte of the block. Fatal: a NULL stack, a cursor open on it (the
 * cursor's blocks lie above the top until page_stack_cursor_end). Not
 * while another thread pushes to the stack. */
bool page_stack_holds(const PageStack *ps, const void *p);
void page_stack_reset(PageStack *ps);              /* O(1): pos = 0, generation + 1 */
/* Decommits above max(pos, keep, initial_commit), in commit steps. The
 * checked build trims each of its regions so, except that a region keeps
 * what its last use took (redzones included) when that use's pos fitted:
 * a trim after every frame to a keep that holds the frame gives nothing back
 * there either. Fatal: a NULL stack, a cursor open on it, a call from its own
 * tool hook. */
void page_stack_trim(PageStack *ps, size_t keep);

PageStackStats page_stack_stats(const PageStack *ps);
/* The checked build without ASan: checks now what its releases check later
 * (the redzone after every block not yet released, the bytes past the
 * newest block, every released byte the stack still holds) and stops with
 * one line at the first one written. Call it after each system to find
 * which one wrote. Any other build, or under valgrind: does nothing (ASan
 * and memcheck report a bad write as it happens). A NULL stack is fatal. */
void page_stack_check(const PageStack *ps);
PageStackError page_stack_last_error(const PageStack *ps); /* of the most recent failed push; None if none failed */
const char *page_stack_error_string(PageStackError err);

#if defined(__cplusplus) && (defined(__GNUC__) || defined(__clang__))
#pragma GCC diagnostic pop
#endif

/* The macros' casts, and the null pointer of their type checks, as the
 * language of the code they expand in writes them. */
#ifdef __cplusplus
#define PAGE_STACK_AS_(T, p) static_cast<T *>(p)
#define PAGE_STACK_NULL_(T) static_cast<const T *>(nullptr)
#else
#define PAGE_STACK_AS_(T, p) ((T *)(p))
#define PAGE_STACK_NULL_(T) ((const T *)0)
#endif

#define push_struct(ps, T) \
    PAGE_STACK_AS_(T, PAGE_STACK_FN_(page_stack_push)((ps), sizeof(T), alignof(T), PageStackPush_Zero))
#define push_array(ps, T, n) \
    PAGE_STACK_AS_(T, PAGE_STACK_FN_(page_stack_push_array)((ps), (n), sizeof(T), alignof(T), PageStackPush_Zero))
#define push_array_no_zero(ps, T, n) \
    PAGE_STACK_AS_(T, PAGE_STACK_FN_(page_stack_push_array)((ps), (n), sizeof(T), alignof(T), 0))
#define try_push_array(ps, T, n) \
    PAGE_STACK_AS_(T, PAGE_STACK_FN_(page_stack_push_array)((ps), (n), sizeof(T), alignof(T), \
                                                            PageStackPush_Zero | PageStackPush_Try))
/* The comparison, never evaluated, is the type check: src must point to T
 * (or be void *). In C++ T must also be trivially copyable: a copy of its
 * bytes is not a copy of a std::string or a std::vector. */
#ifdef __cplusplus
#define PAGE_STACK_COPYABLE_(T) \
    ((void)[] { static_assert(std::is_trivially_copyable<T>::value, \
                              "push_array_copy copies bytes: T must be trivially copyable"); })
#else
#define PAGE_STACK_COPYABLE_(T) ((void)0)
#endif
#define push_array_copy(ps, T, src, n) \
    ((void)sizeof((src) == PAGE_STACK_NULL_(T)), PAGE_STACK_COPYABLE_(T), \
     PAGE_STACK_AS_(T, PAGE_STACK_FN_(page_stack_push_copy)((ps), (src), (n), sizeof(T), alignof(T), 0)))
#define try_push_array_copy(ps, T, src, n) \
    ((void)sizeof((src) == PAGE_STACK_NULL_(T)), PAGE_STACK_COPYABLE_(T), \
     PAGE_STACK_AS_(T, PAGE_STACK_FN_(page_stack_push_copy)((ps), (src), (n), sizeof(T), alignof(T), \
                                                           PageStackPush_Try)))

#define cursor_push_struct(c, T) \
    PAGE_STACK_AS_(T, PAGE_STACK_FN_(page_stack_cursor_push)((c), sizeof(T), alignof(T), PageStackPush_Zero))
#define cursor_push_array(c, T, n) \
    PAGE_STACK_AS_(T, PAGE_STACK_FN_(page_stack_cursor_push_array)((c), (n), sizeof(T), alignof(T), \
                                                                   PageStackPush_Zero))
#define cursor_push_array_no_zero(c, T, n) \
    PAGE_STACK_AS_(T, PAGE_STACK_FN_(page_stack_cursor_push_array)((c), (n), sizeof(T), alignof(T), 0))
#define cursor_push_array_copy(c, T, src, n) \
    ((void)sizeof((src) == PAGE_STACK_NULL_(T)), PAGE_STACK_COPYABLE_(T), \
     PAGE_STACK_AS_(T, PAGE_STACK_FN_(page_stack_cursor_push_copy)((c), (src), (n), sizeof(T), alignof(T), 0)))

#ifdef __cplusplus
}
#endif

#endif
