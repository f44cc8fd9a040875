/* Cursors: a run of pushes with the top in a local (page_stack.h). They hand
 * out what the stack's own pushes would, fail as they do, count every push,
 * and while one is open every other change to its stack stops the program. */
#include "support.h"

#include "frame_arena.h"
#include "page_stack.h"
#include "scratch.h"

#include <sys/wait.h>

#define KiB ((size_t)1 << 10)
#define MiB ((size_t)1 << 20)

/* A mixed run: small blocks, a few that cross commit steps, alignments up to 4 KiB. */
static size_t run_size(int i)
{
    static const size_t sizes[] = {16, 0, 200, 33, 4096, 70 * 1024, 8, 1, 3000, 256 * 1024};
    return sizes[i % 10] + (size_t)(i % 7);
}

static size_t run_align(int i)
{
    static const size_t aligns[] = {8, 16, 64, 1, 4096, 16, 2, 128, 8, 64};
    return aligns[(i * 3) % 10];
}

enum { RUN = 400 };

static PageStack *run_stack(const char *name)
{
    PageStack *ps = page_stack_create(&(PageStackDesc){.name = name, .reserve_size = 256 * MiB});
    cr_assert_not_null(ps);
    return ps;
}

/* ---------------------------------------------------------------- what a cursor hands out */

Test(cursor, hands_out_the_blocks_the_push_would)
{
    PageStack *a = run_stack("push"), *b = run_stack("cursor");
    static uintptr_t offsets[RUN];
    for (int i = 0; i < RUN; i++)
        offsets[i] = (uintptr_t)page_stack_push(a, run_size(i), run_align(i)) - a->base;
    PageStackCursor c = page_stack_cursor_begin(b);
    for (int i = 0; i < RUN; i++) {
        unsigned char *p = page_stack_cursor_push(&c, run_size(i), run_align(i));
        cr_assert_eq((uintptr_t)p - b->base, offsets[i], "block %d: offset %zu, the push gave %zu", i,
                     (size_t)((uintptr_t)p - b->base), (size_t)offsets[i]);
        cr_assert_eq((uintptr_t)p % run_align(i), 0);
    }
    page_stack_cursor_end(&c);
    PageStackStats sa = page_stack_stats(a), sb = page_stack_stats(b);
    cr_assert_eq(sb.pos, sa.pos);
    cr_assert_eq(sb.pushes, (uint64_t)RUN, "every push is counted: %llu", (unsigned long long)sb.pushes);
    cr_assert_eq(sb.committed, sa.committed);
    cr_assert_eq(sb.commits, sa.commits, "the cursor commits in the same steps: %llu against %llu",
                 (unsigned long long)sb.commits, (unsigned long long)sa.commits);
    cr_assert_gt(sb.commits, 1, "the run crossed commit steps");
    page_stack_destroy(a);
    page_stack_destroy(b);
}

Test(cursor, blocks_are_writable_and_do_not_overlap)
{
    PageStack *ps = run_stack("blocks");
    static unsigned char *blocks[RUN];
    PageStackCursor c = page_stack_cursor_begin(ps);
    for (int i = 0; i < RUN; i++) {
        blocks[i] = page_stack_cursor_push(&c, run_size(i), run_align(i));
        memset(blocks[i], i & 0xff, run_size(i));
    }
    page_stack_cursor_end(&c);
    for (int i = 0; i < RUN; i++)
        for (size_t j = 0; j < run_size(i); j++)
            cr_assert_eq(blocks[i][j], (unsigned char)(i & 0xff), "block %d byte %zu overwritten", i, j);
    page_stack_destroy(ps);
}

Test(cursor, the_stack_goes_on_from_where_the_cursor_ended)
{
    PageStack *ps = run_stack("after");
    PageStackMark before = page_stack_mark(ps);
    PageStackCursor c = page_stack_cursor_begin(ps);
    char *first = page_stack_cursor_push(&c, 100, 1);
    page_stack_cursor_end(&c);
    char *next = page_stack_push(ps, 10, 1);
    if (!TEST_CHECKED) /* the checked build puts a redzone after each block and never pops down */
        cr_assert_eq(next, first + 100, "the next push follows the cursor's last block");
    cr_assert_eq(page_stack_pos(ps), 110);
    page_stack_pop_to(before);
    cr_assert_eq(page_stack_pos(ps), 0);
    c = page_stack_cursor_begin(ps); /* a second cursor on the same stack */
    char *again = page_stack_cursor_push(&c, 8, 8);
    if (!TEST_CHECKED)
        cr_assert_eq(again, first);
    page_stack_cursor_end(&c);
    cr_assert_eq(page_stack_pos(ps), 8);
    page_stack_reset(ps);
    cr_assert_eq(page_stack_stats(ps).pushes, 3);
    page_stack_destroy(ps);
}

Test(cursor, push_zero_and_the_typed_pushes_return_zeros_on_used_memory)
{
    PageStack *ps = run_stack("zero");
    unsigned char *dirty = page_stack_push(ps, 64 * KiB, 16);
    memset(dirty, 0xAB, 64 * KiB);
    page_stack_reset(ps);
    PageStackCursor c = page_stack_cursor_begin(ps);
    unsigned char *z = page_stack_cursor_push_zero(&c, 1000, 16);
    uint64_t *s = cursor_push_struct(&c, uint64_t);
    int *arr = cursor_push_array(&c, int, 500);
    unsigned char *fresh = page_stack_cursor_push_zero(&c, 200 * KiB, 16); /* crosses into never-used memory */
    page_stack_cursor_end(&c);
    for (size_t i = 0; i < 1000; i++)
        cr_assert_eq(z[i], 0, "byte %zu", i);
    cr_assert_eq(*s, 0);
    for (int i = 0; i < 500; i++)
        cr_assert_eq(arr[i], 0, "element %d", i);
    for (size_t i = 0; i < 200 * KiB; i++)
        cr_assert_eq(fresh[i], 0, "byte %zu", i);
    page_stack_destroy(ps);
}

Test(cursor, push_array_no_zero_hands_out_count_elements)
{
    PageStack *ps = run_stack("array");
    PageStackCursor c = page_stack_cursor_begin(ps);
    double *d = cursor_push_array_no_zero(&c, double, 10);
    char *after = page_stack_cursor_push(&c, 1, 1);
    page_stack_cursor_end(&c);
    cr_assert_eq((uintptr_t)d % alignof(double), 0);
    cr_assert_geq(after, (char *)(d + 10), "after the array");
    if (!TEST_CHECKED) /* no redzone between them */
        cr_assert_eq(after, (char *)(d + 10));
    page_stack_destroy(ps);
}

/* ---------------------------------------------------------------- failures */

/* push_copy through a cursor gives the block the stack's push_copy gives,
 * holding the source's bytes: from memory elsewhere, from the stack below
 * the cursor, and from a block the cursor itself pushed (above the stack's
 * own top until the end, and live all the same). */
Test(cursor, push_copy_hands_out_the_stack_s_copies)
{
    static unsigned char src[300 * 1024];
    for (size_t i = 0; i < sizeof src; i++)
        src[i] = (unsigned char)(i * 31 + 7);
    PageStack *a = run_stack("push_copy"), *b = run_stack("cursor push_copy");
    unsigned char *below_a = page_stack_push_copy(a, src, 100, 8), *below_b = page_stack_push_copy(b, src, 100, 8);
    unsigned char *prev_a = below_a;
    PageStackCursor c = page_stack_cursor_begin(b);
    unsigned char *prev_b = below_b;
    size_t prev_size = 100;
    for (int i = 0; i < RUN; i++) {
        size_t size = run_size(i), align = run_align(i);
        int from_prev = i % 3 == 1, from_below = i % 3 == 2;
        const unsigned char *from_a = from_prev ? prev_a : from_below ? below_a : src;
        const unsigned char *from_b = from_prev ? prev_b : from_below ? below_b : src;
        size_t n = from_prev ? prev_size : from_below ? 100 : size;
        unsigned char *pa = page_stack_push_copy(a, from_a, n, align);
        unsigned char *pb = i % 2 ? page_stack_cursor_try_push_copy(&c, from_b, n, align)
                                  : page_stack_cursor_push_copy(&c, from_b, n, align);
        cr_assert_eq((uintptr_t)pb - b->base, (uintptr_t)pa - a->base, "block %d: the offsets differ", i);
        cr_assert_eq((uintptr_t)pb % align, 0);
        cr_assert_eq(memcmp(pb, pa, n), 0, "block %d: the bytes differ", i);
        cr_assert_eq(memcmp(pb, src, n), 0, "block %d: not the source's bytes", i);
        prev_a = pa, prev_b = pb, prev_size = n;
    }
    typedef struct Pair { double x; uint32_t tag; } Pair;
    Pair pairs[3];
    memset(pairs, 0, sizeof pairs); /* the padding too: the copy is compared byte for byte */
    pairs[0].x = 1.5, pairs[0].tag = 1, pairs[1].x = -2.5, pairs[1].tag = 2, pairs[2].x = 4, pairs[2].tag = 3;
    Pair *pa = push_array_copy(a, Pair, pairs, 3), *pb = cursor_push_array_copy(&c, Pair, pairs, 3);
    cr_assert_eq((uintptr_t)pb - b->base, (uintptr_t)pa - a->base);
    cr_assert_eq(memcmp(pb, pairs, sizeof pairs), 0);
    cr_assert_not_null(page_stack_cursor_push_copy(&c, NULL, 0, 16), "nothing to copy: NULL is fine");
    page_stack_push_copy(a, NULL, 0, 16);
    page_stack_cursor_end(&c);
    PageStackStats sa = page_stack_stats(a), sb = page_stack_stats(b);
    cr_assert_eq(sb.pos, sa.pos);
    cr_assert_eq(sb.pushes, sa.pushes, "every copy is counted: %llu against %llu", (unsigned long long)sb.pushes,
                 (unsigned long long)sa.pushes);
    cr_assert_eq(sb.pushes, (uint64_t)RUN + 3);
    page_stack_destroy(a);
    page_stack_destroy(b);
}

Test(cursor, a_failed_try_push_leaves_cursor_and_stack_usable)
{
    PageStack *ps = page_stack_create(&(PageStackDesc){.name = "small", .reserve_size = MiB});
    PageStackCursor c = page_stack_cursor_begin(ps);
    char *a = page_stack_cursor_push(&c, 100, 1);
    cr_assert_null(page_stack_cursor_try_push(&c, 2 * MiB, 16));
    cr_assert_eq(page_stack_last_error(ps), PageStackError_OutOfReserve, "readable while the cursor is open");
    cr_assert_null(page_stack_cursor_push_array_with(&c, SIZE_MAX / 2, 4, 4, PageStackPush_Try));
    cr_assert_eq(page_stack_last_error(ps), PageStackError_SizeOverflow);
    cr_assert_null(page_stack_cursor_try_push(&c, SIZE_MAX, 1));
    char *b = page_stack_cursor_push(&c, 10, 1);
    cr_assert_geq(b, a + 100, "after the first block");
    if (!TEST_CHECKED) /* no redzone between them */
        cr_assert_eq(b, a + 100, "nothing moved for the failures");
    page_stack_cursor_end(&c);
    PageStackStats st = page_stack_stats(ps);
    cr_assert_eq(st.pos, 110);
    cr_assert_eq(st.pushes, 2);
    cr_assert_eq(st.failed_pushes, 3);
    page_stack_destroy(ps);
}

Test(cursor, a_failed_push_calls_on_fail, .signal = SIGABRT)
{
    PageStack *ps = page_stack_create(&(PageStackDesc){.name = "tight", .reserve_size = MiB});
    PageStackCursor c = page_stack_cursor_begin(ps);
    page_stack_cursor_push(&c, 64, 8);
    expect_fatal("page_stack \"tight\": push of 2097152 bytes (align 16) failed: out of reserved address space");
    page_stack_cursor_push(&c, 2 * MiB, 16);
    death_not_reached();
}

/* An alignment that is not a power of two (0 included) stops the program as the push does. */
ParameterizedTestParameters(cursor, a_bad_alignment_is_fatal)
{
    static size_t aligns[] = {24, 0, 3};
    return cr_make_param_array(size_t, aligns, sizeof aligns / sizeof aligns[0]);
}

ParameterizedTest(size_t *align, cursor, a_bad_alignment_is_fatal, .signal = SIGABRT)
{
    PageStack *ps = run_stack("align");
    page_stack_push(ps, 1, 1); /* committed room: the cursor's inline push must send it to the check */
    PageStackCursor c = page_stack_cursor_begin(ps);
    expect_fatalf("page_stack \"align\": alignment %zu is not a power of two", *align);
    page_stack_cursor_push(&c, *align ? 16 : 0, *align);
    death_not_reached();
}

/* ---------------------------------------------------------------- what the stack shows */

static size_t hook_calls, hook_pos;

static void on_push_pos(PageStack *ps, void *ptr, size_t size, void *user)
{
    (void)user;
    hook_calls++;
    hook_pos = page_stack_pos(ps);
    cr_assert_eq(hook_pos, hook_calls * size, "the hook sees the stack with its push on top");
    cr_assert_not_null(ptr);
}

Test(cursor, an_on_push_hook_sees_every_push_with_the_exact_top)
{
    hook_calls = 0;
    PageStack *ps = page_stack_create(&(PageStackDesc){.name = "hooked", .on_push = on_push_pos});
    PageStackCursor c = page_stack_cursor_begin(ps);
    for (int i = 0; i < 50; i++)
        page_stack_cursor_push(&c, 24, 8);
    page_stack_cursor_end(&c);
    cr_assert_eq(hook_calls, 50);
    cr_assert_eq(hook_pos, page_stack_pos(ps));
    page_stack_destroy(ps);
}

Test(cursor, pos_and_stats_may_be_read_while_open_and_are_whole_at_the_end)
{
    PageStack *ps = run_stack("read");
    page_stack_push(ps, 40, 8);
    PageStackCursor c = page_stack_cursor_begin(ps);
    for (int i = 0; i < 10; i++)
        page_stack_cursor_push(&c, 16, 8);
    size_t open_pos = page_stack_pos(ps);
    PageStackStats open_stats = page_stack_stats(ps);
    cr_assert_geq(open_pos, 40);
    cr_assert_leq(open_pos, 200, "at most what the cursor has pushed");
    page_stack_cursor_end(&c);
    cr_assert_eq(page_stack_pos(ps), 200);
    cr_assert_eq(page_stack_stats(ps).pushes, 11);
    cr_assert_leq(open_stats.pushes, 11);
    page_stack_destroy(ps);
}

Test(cursor, a_frame_arena_frame_counts_the_cursors_pushes)
{
    FrameArena *fa = frame_arena_create(&(FrameArenaDesc){.name = "frames"});
    for (int frame = 0; frame < 3; frame++) {
        PageStack *ps = frame_arena_begin(fa);
        PageStackCursor c = page_stack_cursor_begin(ps);
        for (int i = 0; i < 100 * (frame + 1); i++)
            page_stack_cursor_push(&c, 32, 16);
        page_stack_cursor_end(&c);
        frame_arena_end(fa);
        FrameSample s;
        cr_assert_eq(frame_arena_history(fa, &s, 1), 1);
        cr_assert_eq(s.pushes, 100u * (unsigned)(frame + 1));
        cr_assert_eq(s.used, 3200u * (size_t)(frame + 1));
    }
    frame_arena_destroy(fa);
}

Test(cursor, works_inside_a_scratch_scope)
{
    PageStackMark m = scratch_begin(NULL, 0);
    PageStackCursor c = page_stack_cursor_begin(m.stack);
    int *v = cursor_push_array(&c, int, 64);
    v[63] = 1;
    page_stack_cursor_end(&c);
    cr_assert_geq(page_stack_pos(m.stack), m.pos + 64 * sizeof(int));
    scratch_end(m);
    cr_assert_eq(page_stack_pos(m.stack), m.pos);
}

/* ---------------------------------------------------------------- misuse */

/* With a cursor open, every call that changes its stack stops the program
 * with one line naming the stack and the call; the parameter is an index. */
enum {
    Open_Push,
    Open_TryPush,
    Open_ArrayOverflow,
    Open_Realloc,
    Open_TryRealloc,
    Open_FreeLast,
    Open_PushCleanup,
    Open_Mark,
    Open_PopTo,
    Open_Reset,
    Open_Trim,
    Open_Destroy,
    Open_Printf,
    Open_TryPrintf,
    Open_Strdup,
    Open_Strndup,
    Open_TryStrdup,
    Open_TryStrndup,
    Open_PushCopy,
    Open_TryArrayCopy,
    Open_CopyOfACursorBlock,
    Open_Count
};

static void ignore_cleanup(void *object, size_t count)
{
    (void)object;
    (void)count;
}

ParameterizedTestParameters(cursor_open, every_change_to_the_stack_is_fatal)
{
    static int calls[Open_Count];
    return index_params(calls, Open_Count);
}

ParameterizedTest(int *call, cursor_open, every_change_to_the_stack_is_fatal, .signal = SIGABRT)
{
    static const char *const names[Open_Count] = {
        "page_stack_push", "page_stack_push", "page_stack_push", "page_stack_realloc", "page_stack_try_realloc",
        "page_stack_free_last", "page_stack_push_cleanup", "page_stack_mark", "page_stack_pop_to",
        "page_stack_reset", "page_stack_trim", "page_stack_destroy", "page_stack_printf", "page_stack_try_printf",
        "page_stack_strdup", "page_stack_strndup", "page_stack_try_strdup", "page_stack_try_strndup",
        "page_stack_push", "page_stack_push", "page_stack_push",
    };
    PageStack *ps = run_stack("busy");
    PageStackMark m = page_stack_mark(ps);
    void *last = page_stack_push(ps, 32, 8);
    PageStackCursor c = page_stack_cursor_begin(ps);
    void *through_cursor = page_stack_cursor_push(&c, 16, 8); /* above the stack's top until the cursor ends */
    expect_fatalf("page_stack \"busy\": %s while a cursor is open on it; push through the cursor, or end it first "
                  "(page_stack_cursor_end)", names[*call]);
    switch (*call) {
    case Open_Push: page_stack_push(ps, 16, 8); break;
    case Open_TryPush: page_stack_try_push(ps, 16, 8); break;
    case Open_ArrayOverflow: push_array(ps, int, SIZE_MAX / 2); break;
    case Open_Realloc: page_stack_realloc(ps, last, 32, 64, 8); break;
    case Open_TryRealloc: page_stack_try_realloc(ps, last, 32, 64, 8); break;
    case Open_FreeLast: page_stack_free_last(ps, last, 32); break;
    case Open_PushCleanup: page_stack_push_cleanup(ps, ignore_cleanup, last, 1); break;
    case Open_Mark: page_stack_mark(ps); break;
    case Open_PopTo: page_stack_pop_to(m); break;
    case Open_Reset: page_stack_reset(ps); break;
    case Open_Trim: page_stack_trim(ps, 0); break;
    case Open_Destroy: page_stack_destroy(ps); break;
    case Open_Printf: page_stack_printf(ps, "%d", 1); break;
    case Open_TryPrintf: page_stack_try_printf(ps, "%d", 1); break;
    case Open_Strdup: page_stack_strdup(ps, "s"); break;
    case Open_Strndup: page_stack_strndup(ps, "s", 1); break;
    case Open_TryStrdup: page_stack_try_strdup(ps, "s"); break;
    case Open_TryStrndup: page_stack_try_strndup(ps, "s", 1); break;
    case Open_PushCopy: page_stack_push_copy(ps, "copied", 7, 1); break;
    case Open_TryArrayCopy: try_push_array_copy(ps, char, "copied", 7); break;
    case Open_CopyOfACursorBlock: page_stack_push_copy(ps, through_cursor, 16, 8); break;
    }
    death_not_reached();
}

Test(cursor_open, a_second_cursor_on_the_stack_is_fatal, .signal = SIGABRT)
{
    PageStack *ps = run_stack("twice");
    PageStackCursor c = page_stack_cursor_begin(ps);
    (void)c;
    expect_fatal("page_stack \"twice\": page_stack_cursor_begin while a cursor is open on it; end that one first");
    page_stack_cursor_begin(ps);
    death_not_reached();
}

/* page_stack_holds cannot see the cursor's blocks, which lie above the top
 * until the cursor ends: asking while one is open is fatal, and once it has
 * ended they are held. */
Test(cursor_open, page_stack_holds_is_fatal, .signal = SIGABRT)
{
    PageStack *ps = run_stack("asked");
    PageStackCursor c = page_stack_cursor_begin(ps);
    void *p = page_stack_cursor_push(&c, 8, 8);
    expect_fatal("page_stack \"asked\": page_stack_holds while a cursor is open on it; the cursor's blocks lie "
                 "above the top until page_stack_cursor_end, so ask once it has ended");
    page_stack_holds(ps, p);
    death_not_reached();
}

Test(cursor_open, its_blocks_are_held_once_it_ends)
{
    PageStack *ps = run_stack("ended");
    PageStackCursor c = page_stack_cursor_begin(ps);
    unsigned char *first = page_stack_cursor_push(&c, 8, 8);
    unsigned char *last = page_stack_cursor_push(&c, 24, 8);
    page_stack_cursor_end(&c);
    cr_assert(page_stack_holds(ps, first));
    cr_assert(page_stack_holds(ps, last + 23));
    if (!TEST_CHECKED)
        cr_assert_not(page_stack_holds(ps, last + 24));
    page_stack_destroy(ps);
}

Test(cursor_open, cursors_on_two_stacks_are_independent)
{
    PageStack *a = run_stack("a"), *b = run_stack("b");
    PageStackCursor ca = page_stack_cursor_begin(a), cb = page_stack_cursor_begin(b);
    for (int i = 0; i < 10; i++) {
        page_stack_cursor_push(&ca, 16, 16);
        page_stack_cursor_push(&cb, 32, 16);
    }
    page_stack_cursor_end(&cb);
    page_stack_cursor_end(&ca);
    cr_assert_eq(page_stack_pos(a), 160);
    cr_assert_eq(page_stack_pos(b), 320);
    page_stack_destroy(a);
    page_stack_destroy(b);
}

/* A cursor opened on an ended frame's stack is still open when a later
 * begin comes back to that stack to reset it. */
Test(cursor_open, frame_arena_begin_on_its_stack_is_fatal, .signal = SIGABRT)
{
    FrameArena *fa = frame_arena_create(&(FrameArenaDesc){.name = "level", .frames_in_flight = 1});
    frame_arena_begin(fa);
    frame_arena_end(fa);
    PageStackCursor c = page_stack_cursor_begin(frame_arena_stack(fa, 0));
    (void)c; /* open, with nothing pushed: the checked build stops a push to an ended frame */
    expect_fatal("page_stack \"level\": frame_arena_begin while a cursor is open on it; push through the cursor, or "
                 "end it first (page_stack_cursor_end)");
    frame_arena_begin(fa);
    death_not_reached();
}

Test(cursor_open, frame_arena_end_is_fatal, .signal = SIGABRT)
{
    FrameArena *fa = frame_arena_create(&(FrameArenaDesc){.name = "level"});
    PageStack *ps = frame_arena_begin(fa);
    PageStackCursor c = page_stack_cursor_begin(ps);
    page_stack_cursor_push(&c, 16, 8);
    expect_fatal("frame_arena_end while a cursor is open on it; push through the cursor, or end it first");
    frame_arena_end(fa);
    death_not_reached();
}

Test(cursor_open, scratch_end_is_fatal, .signal = SIGABRT)
{
    PageStackMark m = scratch_begin(NULL, 0);
    PageStackCursor c = page_stack_cursor_begin(m.stack);
    page_stack_cursor_push(&c, 16, 8);
    expect_fatal("page_stack_pop_to while a cursor is open on it");
    scratch_end(m);
    death_not_reached();
}

Test(cursor_misuse, begin_on_null_is_fatal, .signal = SIGABRT)
{
    expect_fatal("page_stack_cursor_begin: the stack is NULL; pass a stack from page_stack_create");
    page_stack_cursor_begin(NULL);
    death_not_reached();
}

Test(cursor_misuse, a_zeroed_cursor_is_fatal, .signal = SIGABRT)
{
    PageStackCursor c = {0};
    expect_fatal("page_stack_cursor_push: the stack is NULL; pass a stack from page_stack_create");
    page_stack_cursor_push(&c, 16, 8);
    death_not_reached();
}

/* A spent cursor: a push through it (0) or a second end (1). */
ParameterizedTestParameters(cursor_misuse, a_cursor_after_its_end_is_fatal)
{
    static int calls[2];
    return index_params(calls, 2);
}

ParameterizedTest(int *call, cursor_misuse, a_cursor_after_its_end_is_fatal, .signal = SIGABRT)
{
    PageStack *ps = run_stack("spent");
    PageStackCursor c = page_stack_cursor_begin(ps);
    page_stack_cursor_push(&c, 16, 8);
    page_stack_cursor_end(&c);
    expect_fatalf("page_stack \"spent\": %s with a cursor already ended; begin a new one",
                  *call ? "page_stack_cursor_end" : "page_stack_cursor_push");
    if (*call)
        page_stack_cursor_end(&c);
    else
        page_stack_cursor_push(&c, 16, 8);
    death_not_reached();
}

Test(cursor_misuse, a_copy_used_after_the_end_is_fatal_and_the_stack_is_intact)
{
    PageStack *ps = run_stack("copied");
    PageStackCursor c = page_stack_cursor_begin(ps);
    PageStackCursor copy = c;
    page_stack_cursor_push(&c, 16, 8);
    page_stack_cursor_end(&c);
    cr_assert_eq(page_stack_pos(ps), 16);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        expect_fatal("page_stack \"copied\": page_stack_cursor_end with a cursor that is not the stack's open one");
        page_stack_cursor_end(&copy);
        _exit(0);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT, "the copy's end stopped the program");
    c = page_stack_cursor_begin(ps); /* a new cursor: the old copy is still not it */
    pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        expect_fatal("page_stack \"copied\": page_stack_cursor_push with a cursor that is not the stack's open one");
        page_stack_cursor_push(&copy, 2 * MiB, 16); /* too big for the inline path: goes out of line */
        _exit(0);
    }
    waitpid(pid, &status, 0);
    cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT, "the copy's push stopped the program");
    page_stack_cursor_end(&c);
    cr_assert_eq(page_stack_pos(ps), 16, "nothing the copy did reached the stack");
    page_stack_destroy(ps);
}

/* push_copy through a cursor from bytes no live block holds: NULL, a block
 * popped before the cursor began, past the cursor's own top, or from below
 * the stack's memory to past that top. */
enum { CursorCopy_Null, CursorCopy_Popped, CursorCopy_PastTheTop, CursorCopy_FromBelow, CursorCopy_Count };

ParameterizedTestParameters(cursor_misuse, push_copy_from_no_live_block_is_fatal)
{
    static int calls[CursorCopy_Count];
    return index_params(calls, CursorCopy_Count);
}

ParameterizedTest(int *call, cursor_misuse, push_copy_from_no_live_block_is_fatal, .signal = SIGABRT)
{
    PageStack *ps = run_stack("copier");
    PageStackMark m = page_stack_mark(ps);
    unsigned char *gone = page_stack_push(ps, 64, 16);
    page_stack_pop_to(m);
    if (TEST_CHECKED)
        page_stack_push(ps, 200, 8); /* elsewhere this push could take the block's bytes */
    PageStackCursor c = page_stack_cursor_begin(ps);
    unsigned char *mine = *call == CursorCopy_PastTheTop ? page_stack_cursor_push(&c, 32, 16) : NULL;
    const void *volatile nothing = NULL; /* hidden from the nonnull checks */
    switch (*call) {
    case CursorCopy_Null:
        expect_fatal("page_stack \"copier\": push_copy from src NULL (count 1, size 8)");
        page_stack_cursor_push_copy(&c, nothing, 8, 8);
        break;
    case CursorCopy_Popped:
        expect_fatalf("page_stack \"copier\": push_copy of the block at %p, which a pop or reset released",
                      (void *)gone);
        page_stack_cursor_push_copy(&c, gone, 64, 16);
        break;
    case CursorCopy_PastTheTop:
        expect_fatalf("page_stack \"copier\": push_copy of the block at %p with size 4096, but the top is ",
                      (void *)mine);
        cursor_push_array_copy(&c, unsigned char, mine, 4096);
        break;
    case CursorCopy_FromBelow: { /* never read: the check stops the copy first */
        const void *below = (const void *)(ps->base - 64);
        expect_fatalf("page_stack \"copier\": push_copy of %zu bytes from %p runs from below the stack's memory "
                      "into bytes no live block holds",
                      (size_t)(64 + MiB), below);
        page_stack_cursor_push_copy(&c, below, 64 + MiB, 16);
        break;
    }
    }
    death_not_reached();
}

Test(cursor_misuse, a_copy_left_behind_by_the_other_is_fatal, .signal = SIGABRT)
{
    PageStack *ps = run_stack("behind");
    PageStackCursor c = page_stack_cursor_begin(ps);
    PageStackCursor copy = c;
    page_stack_cursor_push(&c, 1 * MiB, 16); /* commits: goes out of line and publishes the top */
    expect_fatal("page_stack \"behind\": page_stack_cursor_push with a copy of the open cursor that another copy "
                 "has pushed past");
    page_stack_cursor_push(&copy, 2 * MiB, 16);
    death_not_reached();
}

#if TEST_ASAN
Test(cursor_poison, a_read_past_a_cursor_push_is_reported, .signal = SIGABRT)
{
    PageStack *ps = run_stack("poisoned");
    PageStackCursor c = page_stack_cursor_begin(ps);
    volatile char *p = page_stack_cursor_push(&c, 13, 1);
    expect_abort_output("use-after-poison", false);
    char x = p[13];
    (void)x;
    death_not_reached();
}
#endif
