/* scratch: per-thread stacks, conflicts, nesting, release at thread exit. */
#include "support.h"

#include "os_vm.h"
#include "scratch.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <stdatomic.h>
#include <threads.h>

static bool mapped(const void *addr)
{
    unsigned char vec;
    uintptr_t page = (uintptr_t)addr & ~(uintptr_t)4095;
    return mincore((void *)page, 1, &vec) == 0 || errno != ENOMEM;
}

Test(scratch, no_conflicts_gives_the_same_stack_and_scopes_nest)
{
    PageStackMark a = scratch_begin(NULL, 0);
    cr_assert_not_null(a.stack);
    char *x = page_stack_push(a.stack, 100, 1);
    memset(x, 'x', 100);
    PageStackMark b = scratch_begin(NULL, 0);
    cr_assert_eq(b.stack, a.stack);
    cr_assert_eq(b.pos, a.pos + 100);
    page_stack_push(b.stack, 5000, 1);
    scratch_end(b);
    cr_assert_eq(page_stack_pos(a.stack), a.pos + 100);
    cr_assert_eq(x[99], 'x', "the outer scope's data survives the inner scope");
    scratch_end(a);
    cr_assert_eq(page_stack_pos(a.stack), a.pos);
}

Test(scratch, one_conflict_gives_the_other_stack)
{
    PageStackMark first = scratch_begin(NULL, 0);
    PageStack *taken = first.stack;
    PageStackMark other = scratch_begin(&taken, 1);
    cr_assert_neq(other.stack, taken);
    cr_assert_not_null(other.stack);
    PageStack *both[] = {other.stack};
    PageStackMark back = scratch_begin(both, 1);
    cr_assert_eq(back.stack, taken);
    scratch_end(back);
    scratch_end(other);
    scratch_end(first);
}

Test(scratch, unrelated_conflicts_are_ignored)
{
    PageStack *mine = page_stack_create(NULL);
    PageStack *list[] = {mine, NULL};
    PageStackMark a = scratch_begin(NULL, 0);
    PageStackMark b = scratch_begin(list, 2);
    cr_assert_eq(b.stack, a.stack);
    cr_assert_neq(b.stack, mine);
    scratch_end(b);
    scratch_end(a);
    page_stack_destroy(mine);
}

/* The thread's first stack anywhere among the conflicts sends the scope to
 * its second (the path of a nested use of scratch), scopes there nest and
 * step a byte as on the first, and each end pops the stack it began on. */
Test(scratch, a_scope_goes_to_the_second_stack_wherever_the_first_is_among_the_conflicts)
{
    PageStack *mine = page_stack_create(NULL);
    PageStackMark outer = scratch_begin(NULL, 0);
    PageStack *first = outer.stack;
    page_stack_push(first, 32, 8);
    PageStack *lists[3][3] = {{first, mine, NULL}, {mine, first, NULL}, {NULL, mine, first}};
    PageStack *second = NULL;
    for (int n = 0; n < 3; n++) {
        PageStackMark on_second = scratch_begin(lists[n], 3);
        cr_assert_neq(on_second.stack, first, "list %d: the first stack is a conflict", n);
        cr_assert_neq(on_second.stack, mine, "list %d", n);
        cr_assert(second == NULL || on_second.stack == second, "list %d: not the thread's second stack", n);
        second = on_second.stack;
        cr_assert_eq(on_second.pos, page_stack_pos(second), "list %d: a scope with nothing under it takes no byte", n);
        PageStackMark nested = scratch_begin(lists[n], 3); /* where on_second began: a byte further */
        cr_assert_eq(nested.stack, second);
        cr_assert_eq(nested.pos, on_second.pos + 1, "list %d", n);
        page_stack_push(second, 100, 8);
        cr_assert_eq(scratch_open_scopes(), 3);
        scratch_end(nested);
        cr_assert_eq(page_stack_pos(second), nested.pos);
        scratch_end(on_second);
        cr_assert_eq(page_stack_pos(second), on_second.pos, "list %d: the second stack popped back", n);
        cr_assert_eq(page_stack_pos(first), outer.pos + 32, "list %d: the first stack untouched", n);
    }
    scratch_end(outer);
    cr_assert_eq(scratch_open_scopes(), 0);
    page_stack_destroy(mine);
}

/* A thread's first scratch_begin, which makes its stacks, with conflicts
 * that cannot hold them yet (a NULL among them, as the stacks were before,
 * or not): the first stack. */
static void *first_scope_with_conflicts(void *arg)
{
    PageStack *const *list = arg;
    PageStackMark m = scratch_begin(list, 2);
    PageStackMark again = scratch_begin(NULL, 0);
    bool first = m.stack != list[0] && again.stack == m.stack && again.pos == m.pos + 1;
    scratch_end(again);
    scratch_end(m);
    return (void *)(uintptr_t)first;
}

ParameterizedTestParameters(scratch, a_threads_first_scope_with_conflicts_goes_on_its_first_stack)
{
    static int cases[2];
    return index_params(cases, 2);
}

ParameterizedTest(int *with_null, scratch, a_threads_first_scope_with_conflicts_goes_on_its_first_stack)
{
    PageStack *mine = page_stack_create(NULL), *also = page_stack_create(NULL);
    PageStack *list[] = {mine, *with_null ? NULL : also};
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, first_scope_with_conflicts, list), 0);
    void *first;
    cr_assert_eq(pthread_join(t, &first), 0);
    cr_assert(first != NULL, "the first scope was not on the thread's first stack");
    page_stack_destroy(also);
    page_stack_destroy(mine);
}

/* A function that takes an arena for its result and needs temporaries. */
static char *join_words(PageStack *out, const char *const *words, int n)
{
    PageStackMark tmp = scratch_begin(&out, 1);
    cr_assert_neq(tmp.stack, out, "scratch is never the caller's arena");
    size_t *lengths = push_array(tmp.stack, size_t, (size_t)n);
    size_t total = 1;
    for (int i = 0; i < n; i++)
        total += (lengths[i] = strlen(words[i])) + 1;
    char *result = push_array(out, char, total);
    char *w = result;
    for (int i = 0; i < n; i++) {
        memcpy(w, words[i], lengths[i]);
        w += lengths[i];
        *w++ = i + 1 < n ? ' ' : '\0';
    }
    scratch_end(tmp);
    return result;
}

Test(scratch, result_in_a_scratch_arena_survives_the_callees_scratch)
{
    const char *words[] = {"reset", "every", "frame"};
    PageStackMark outer = scratch_begin(NULL, 0);
    char *joined = join_words(outer.stack, words, 3);
    PageStackMark again = scratch_begin(NULL, 0);
    cr_assert_eq(again.stack, outer.stack);
    page_stack_push(again.stack, 64, 1);
    cr_assert_str_eq(joined, "reset every frame");
    scratch_end(again);
    scratch_end(outer);
}

/* A cleanup registered first thing in a scope runs at its scratch_end. */
Test(scratch, a_cleanup_registered_first_in_a_scope_runs_at_its_end)
{
    cleanups_run = 0;
    PageStackMark outer = scratch_begin(NULL, 0);
    page_stack_push(outer.stack, 40, 8);
    PageStackMark inner = scratch_begin(NULL, 0);
    cr_assert(page_stack_push_cleanup(inner.stack, count_cleanup, NULL, 1));
    scratch_end(inner);
    cr_assert_eq(cleanups_run, 1);
    memset(page_stack_push(outer.stack, 256, 8), 0x41, 256); /* over where the record was */
    scratch_end(outer);
    cr_assert_eq(cleanups_run, 1, "once");
}

/* The line of an end of `ended` while `innermost`, of scratch stack 0, is
 * the innermost scope open there. */
static void expect_not_innermost(PageStackMark ended, PageStackMark innermost)
{
    expect_fatalf("scratch_end: the scope that began at pos %zu of scratch stack \"scratch 0\" is not the innermost "
                  "one open on this thread, which began at pos %zu; a scope was ended twice, or an outer one before "
                  "an inner one: end each scope once, innermost first",
                  ended.pos, innermost.pos);
}

/* A cleanup that its scope's end runs may open a scratch scope of its own on
 * the same stack, above where the end stops; the thread's count of open
 * scopes comes out right. */
static uint32_t open_in_cleanup;

static void scope_in_cleanup(void *object, size_t count)
{
    (void)object;
    (void)count;
    PageStackMark own = scratch_begin(NULL, 0);
    memset(page_stack_push(own.stack, 64, 8), 0x5A, 64);
    open_in_cleanup = scratch_open_scopes();
    scratch_end(own);
}

Test(scratch, a_cleanup_may_open_a_scope_of_its_own_on_the_stack_being_popped)
{
    PageStackMark outer = scratch_begin(NULL, 0);
    page_stack_push(outer.stack, 40, 8);
    PageStackMark inner = scratch_begin(NULL, 0);
    cr_assert_eq(inner.stack, outer.stack);
    page_stack_push(inner.stack, 24, 8);
    cr_assert(page_stack_push_cleanup(inner.stack, scope_in_cleanup, NULL, 1));
    open_in_cleanup = 0;
    scratch_end(inner);
    cr_assert_eq(open_in_cleanup, 2, "the outer scope and the cleanup's own: the ended one no longer counts");
    cr_assert_eq(scratch_open_scopes(), 1);
    cr_assert_eq(page_stack_pos(outer.stack), inner.pos);
    scratch_end(outer);
    cr_assert_eq(scratch_open_scopes(), 0);
    cr_assert_eq(page_stack_pos(outer.stack), outer.pos);
}

/* The scope a scratch_end is ending counts as ended while the cleanups its
 * pop runs: one that ends it again is a scope ended twice. Let through, it
 * would pop the stack to where the end stops anyway, and the two ends would
 * count the scope around it as ended too. */
static PageStackMark ended_in_cleanup;

static void end_again_in_cleanup(void *object, size_t count)
{
    (void)object;
    (void)count;
    scratch_end(ended_in_cleanup);
}

Test(scratch, a_cleanup_that_ends_its_scope_again_is_fatal, .signal = SIGABRT)
{
    PageStackMark outer = scratch_begin(NULL, 0);
    page_stack_push(outer.stack, 40, 8);
    ended_in_cleanup = scratch_begin(NULL, 0);
    cr_assert(page_stack_push_cleanup(ended_in_cleanup.stack, end_again_in_cleanup, NULL, 1));
    expect_not_innermost(ended_in_cleanup, outer);
    scratch_end(ended_in_cleanup);
    death_not_reached();
}

ParameterizedTestParameters(scratch, both_stacks_in_conflicts_is_fatal)
{
    static int cases[3];
    return index_params(cases, 3);
}

/* In any order among the conflicts. */
ParameterizedTest(int *order, scratch, both_stacks_in_conflicts_is_fatal, .signal = SIGABRT)
{
    PageStackMark a = scratch_begin(NULL, 0);
    PageStack *first = a.stack;
    PageStackMark b = scratch_begin(&first, 1);
    PageStack *lists[3][3] = {{a.stack, b.stack, NULL}, {b.stack, NULL, a.stack}, {NULL, a.stack, b.stack}};
    expect_fatal("scratch_begin: both scratch stacks of this thread are in conflicts; pass at most one of them");
    scratch_begin(lists[*order], 3);
    death_not_reached();
}

/* The scratch stacks are released at thread exit through a thread key, made
 * at the first scratch_begin; with none left that is fatal. */
Test(scratch, no_thread_key_left_is_fatal, .signal = SIGABRT)
{
    pthread_key_t key;
    int made = 0;
    while (pthread_key_create(&key, NULL) == 0)
        made++;
    cr_assert_gt(made, 0);
    expect_fatal("scratch: no thread-exit slot left (thread keys exhausted); cannot keep per-thread scratch stacks");
    scratch_begin(NULL, 0);
    death_not_reached();
}

Test(scratch, null_conflicts_with_a_count_is_fatal, .signal = SIGABRT)
{
    expect_fatal("scratch_begin: conflicts is NULL but count is 3");
    scratch_begin(NULL, 3);
    death_not_reached();
}

/* The same once the thread has its stacks, which scratch_begin then looks
 * for in the conflicts inline. */
Test(scratch, null_conflicts_with_a_count_is_fatal_on_a_thread_with_its_stacks, .signal = SIGABRT)
{
    scratch_end(scratch_begin(NULL, 0));
    expect_fatal("scratch_begin: conflicts is NULL but count is 2");
    scratch_begin(NULL, 2);
    death_not_reached();
}

/* A scope ended twice stops at its second end, before it pops. Here the
 * other open scope is on the other stack: counted per thread, the second end
 * would have ended it, and releasing the stacks would then have gone on. */
Test(scratch, ending_a_scope_twice_is_fatal, .signal = SIGABRT)
{
    PageStackMark outer = scratch_begin(NULL, 0);
    PageStackMark inner = scratch_begin(&outer.stack, 1);
    cr_assert_str_eq(inner.stack->name, "scratch 1");
    scratch_end(inner);
    cr_assert_eq(scratch_open_scopes(), 1);
    expect_fatal("scratch_end: every scope of scratch stack \"scratch 1\" on this thread has ended; a scope was "
                 "ended twice: end each scope once");
    scratch_end(inner);
    death_not_reached();
}

/* A scope begun where the scope around it began takes a 1-byte block first,
 * so that the two marks differ; both ends take the stack back where it was,
 * the block counted as a push. */
Test(scratch, a_scope_begun_where_the_one_around_it_began_begins_a_byte_further)
{
    PageStackMark outer = scratch_begin(NULL, 0);
    uint64_t pushes = page_stack_stats(outer.stack).pushes;
    PageStackMark inner = scratch_begin(NULL, 0);
    cr_assert_eq(inner.stack, outer.stack);
    cr_assert_eq(inner.pos, outer.pos + 1);
    cr_assert_eq(page_stack_stats(outer.stack).pushes, pushes + 1);
    PageStackMark third = scratch_begin(NULL, 0); /* and again, where `inner` began */
    cr_assert_eq(third.pos, inner.pos + 1);
    page_stack_push(third.stack, 64, 8);
    scratch_end(third);
    cr_assert_eq(page_stack_pos(outer.stack), third.pos, "its byte is the scope around it's to release");
    scratch_end(inner);
    cr_assert_eq(page_stack_pos(outer.stack), inner.pos);
    scratch_end(outer);
    cr_assert_eq(page_stack_pos(outer.stack), outer.pos);
    cr_assert_eq(scratch_open_scopes(), 0);
    /* A scope of the other stack, or one begun after a push, takes no byte. */
    outer = scratch_begin(NULL, 0);
    PageStackMark other = scratch_begin(&outer.stack, 1);
    cr_assert_neq(other.stack, outer.stack);
    cr_assert_eq(other.pos, page_stack_pos(other.stack));
    page_stack_push(outer.stack, 16, 8);
    inner = scratch_begin(&other.stack, 1);
    cr_assert_eq(inner.pos, outer.pos + 16);
    scratch_end(inner);
    scratch_end(other);
    scratch_end(outer);
}

/* Nested on one stack at one position, the second end of the inner scope is
 * not the innermost open scope's either: it stops at once. */
Test(scratch, a_scope_ended_twice_inside_another_begun_at_its_position_stops_at_once, .signal = SIGABRT)
{
    PageStackMark outer = scratch_begin(NULL, 0);
    PageStackMark inner = scratch_begin(NULL, 0);
    scratch_end(inner);
    expect_not_innermost(inner, outer);
    scratch_end(inner);
    death_not_reached();
}

/* On a stack with no byte left, the inner scope begins where the outer one
 * did: the second end of the inner scope passes for the outer one's, and the
 * outer scope's own end stops. */
Test(scratch, on_a_full_stack_a_scope_ended_twice_inside_another_stops_at_the_outer_end, .signal = SIGABRT)
{
    cr_assert_eq(scratch_thread_init(&(PageStackDesc){.reserve_size = 64 << 10}), ScratchError_None);
    PageStackMark first = scratch_begin(NULL, 0);
    while (page_stack_try_push(first.stack, 1, 1))
        ;
    PageStackMark outer = scratch_begin(NULL, 0);
    PageStackMark inner = scratch_begin(NULL, 0);
    cr_assert_eq(inner.pos, outer.pos);
    scratch_end(inner);
    scratch_end(inner);
    expect_not_innermost(outer, first);
    scratch_end(outer);
    death_not_reached();
}

/* Nested on one stack at different positions, the second end of the inner
 * scope is not the innermost open scope's: it stops at once, before it
 * counts the outer scope as ended (which would let scratch_thread_release
 * take the stack from under it). */
Test(scratch, a_scope_ended_twice_inside_another_stops_at_once, .signal = SIGABRT)
{
    PageStackMark outer = scratch_begin(NULL, 0);
    page_stack_push(outer.stack, 64, 8);
    PageStackMark inner = scratch_begin(NULL, 0);
    cr_assert_eq(inner.stack, outer.stack);
    scratch_end(inner);
    expect_not_innermost(inner, outer);
    scratch_end(inner);
    death_not_reached();
}

/* An outer scope ended while an inner one of its stack is open stops at
 * once, where its pop would have released the inner scope's blocks (and
 * the inner scope's end would have found its mark above the top); case 1,
 * the inner scope begun where the outer one did: until 2026-12-03 the outer
 * end passed for the inner one's there, and released the inner scope's
 * blocks while that scope went on using them. */
ParameterizedTestParameters(scratch, ending_scopes_out_of_order_is_fatal)
{
    static int cases[2];
    return index_params(cases, 2);
}

ParameterizedTest(int *at_one_position, scratch, ending_scopes_out_of_order_is_fatal, .signal = SIGABRT)
{
    PageStackMark outer = scratch_begin(NULL, 0);
    if (!*at_one_position)
        page_stack_push(outer.stack, 64, 8);
    PageStackMark inner = scratch_begin(NULL, 0);
    page_stack_push(inner.stack, 64, 8);
    expect_not_innermost(outer, inner);
    scratch_end(outer);
    death_not_reached();
}

/* The order is checked while the scope ended is one of the outermost 32 of
 * its stack: here the 31st ends while the 32nd is open. */
Test(scratch, the_order_is_checked_down_to_the_32nd_scope, .signal = SIGABRT)
{
    PageStackMark marks[32];
    for (int d = 0; d < 32; d++) {
        marks[d] = scratch_begin(NULL, 0);
        page_stack_push(marks[d].stack, 16, 8);
    }
    expect_not_innermost(marks[30], marks[31]);
    scratch_end(marks[30]);
    death_not_reached();
}

/* A 33rd scope begun where the 32nd began takes its byte too: once it has
 * ended, its second end is the 32nd's place in the order, and stops. */
Test(scratch, a_33rd_scope_begun_where_the_32nd_began_ended_twice_stops_at_once, .signal = SIGABRT)
{
    PageStackMark marks[33];
    for (int d = 0; d < 32; d++) {
        marks[d] = scratch_begin(NULL, 0);
        if (d < 31)
            page_stack_push(marks[d].stack, 16, 8);
    }
    marks[32] = scratch_begin(NULL, 0);
    cr_assert_eq(marks[32].pos, marks[31].pos + 1);
    scratch_end(marks[32]);
    expect_not_innermost(marks[32], marks[31]);
    scratch_end(marks[32]);
    death_not_reached();
}

/* Scopes nested deeper than the stack keeps marks of, each with blocks of
 * its own, end innermost first without a report, the scopes below and above
 * that depth alike; and so do scopes begun at one position, and a scope of
 * the other stack open all the while (what the thread keeps of one stack's
 * scopes does not run into the other's). */
Test(scratch, deeply_nested_scopes_end_innermost_first)
{
    enum { Depth = 40 };
    PageStackMark marks[Depth];
    marks[0] = scratch_begin(NULL, 0);
    PageStackMark other = scratch_begin(&marks[0].stack, 1);
    cr_assert_neq(other.stack, marks[0].stack);
    for (int d = 1; d < Depth; d++) {
        if (d % 3 != 0) /* every third scope begins where the one before it did */
            page_stack_push(marks[0].stack, 16, 8);
        marks[d] = scratch_begin(&other.stack, 1);
        cr_assert_eq(marks[d].stack, marks[0].stack);
    }
    cr_assert_eq(scratch_open_scopes(), Depth + 1);
    for (int d = Depth - 1; d >= 0; d--) {
        scratch_end(marks[d]);
        cr_assert_eq(page_stack_pos(marks[d].stack), marks[d].pos);
    }
    scratch_end(other);
    cr_assert_eq(scratch_open_scopes(), 0);
    scratch_thread_release();
}

Test(scratch, destroying_a_scratch_stack_is_fatal, .signal = SIGABRT)
{
    PageStackMark tmp = scratch_begin(NULL, 0);
    expect_fatal("page_stack_destroy: the stack \"scratch 0\" belongs to this thread's scratch; the thread's exit "
                 "or scratch_thread_release releases it");
    page_stack_destroy(tmp.stack);
    death_not_reached();
}

Test(scratch, ending_a_mark_of_another_stack_is_fatal, .signal = SIGABRT)
{
    PageStack *ps = page_stack_create(NULL);
    PageStackMark tmp = scratch_begin(NULL, 0);
    scratch_end(tmp);
    expect_fatal("scratch_end: the mark is not from this thread's scratch_begin; end it on the thread that began it "
                 "(a mark of another stack goes to page_stack_pop_to)");
    scratch_end(page_stack_mark(ps));
    death_not_reached();
}

/* A zeroed mark (a scope never begun) on a thread that has no scratch stacks
 * yet, whose two stack pointers are NULL too. */
Test(scratch, ending_a_zeroed_mark_is_fatal, .signal = SIGABRT)
{
    expect_fatal("scratch_end: the mark is not from this thread's scratch_begin");
    scratch_end((PageStackMark){0});
    death_not_reached();
}

static PageStackMark other_threads_mark;
static atomic_int other_scope_begun;

/* Begins a scope and keeps it open, the thread alive, until the process
 * ends: a thread that exits with a scope open is fatal in the checked build. */
static int begin_a_scope(void *arg)
{
    (void)arg;
    other_threads_mark = scratch_begin(NULL, 0);
    atomic_store(&other_scope_begun, 1);
    for (;;)
        pause();
    return 0;
}

Test(scratch, ending_another_threads_scope_is_fatal, .signal = SIGABRT)
{
    thrd_t t;
    cr_assert_eq(thrd_create(&t, begin_a_scope, NULL), thrd_success);
    while (!atomic_load(&other_scope_begun))
        thrd_yield();
    expect_fatal("scratch_end: the mark is not from this thread's scratch_begin");
    scratch_end(other_threads_mark);
    death_not_reached();
}

/* Releasing would unmap what the open scope still uses. */
Test(scratch, thread_release_with_a_scope_open_is_fatal, .signal = SIGABRT)
{
    PageStackMark outer = scratch_begin(NULL, 0);
    page_stack_push(outer.stack, 100, 1);
    PageStackMark inner = scratch_begin(NULL, 0);
    scratch_end(inner);
    expect_fatal("scratch_thread_release: 1 scratch scope of this thread is still open; scratch_end it first");
    scratch_thread_release();
    death_not_reached();
}

Test(scratch, thread_release_names_how_many_scopes_are_open, .signal = SIGABRT)
{
    scratch_begin(NULL, 0);
    scratch_begin(NULL, 0);
    expect_fatal("scratch_thread_release: 2 scratch scopes of this thread are still open; scratch_end them first");
    scratch_thread_release();
    death_not_reached();
}

static atomic_int workers_ready;

typedef struct ThreadResult {
    PageStack *stacks[2];
    char *data;
    int ok;
} ThreadResult;

static int worker(void *arg)
{
    ThreadResult *r = arg;
    PageStackMark a = scratch_begin(NULL, 0);
    PageStack *first = a.stack;
    PageStackMark b = scratch_begin(&first, 1);
    r->stacks[0] = a.stack;
    r->stacks[1] = b.stack;
    r->data = page_stack_push(b.stack, 4096, 1);
    memset(r->data, 7, 4096);
    /* Both threads hold their stacks at once before either goes on. */
    atomic_fetch_add(&workers_ready, 1);
    while (atomic_load(&workers_ready) < 2)
        thrd_yield();
    for (int i = 0; i < 1000; i++) {
        PageStackMark t = scratch_begin(NULL, 0);
        int *v = push_array(t.stack, int, 100);
        v[99] = i;
        r->ok += v[99] == i;
        scratch_end(t);
    }
    scratch_end(b);
    scratch_end(a);
    return 0;
}

Test(scratch, threads_get_their_own_stacks_released_at_exit)
{
    ThreadResult results[2] = {0};
    thrd_t threads[2];
    PageStackMark mine = scratch_begin(NULL, 0);
    for (int i = 0; i < 2; i++)
        cr_assert_eq(thrd_create(&threads[i], worker, &results[i]), thrd_success);
    for (int i = 0; i < 2; i++)
        thrd_join(threads[i], NULL);
    for (int i = 0; i < 2; i++) {
        cr_assert_eq(results[i].ok, 1000);
        cr_assert_neq(results[i].stacks[0], results[i].stacks[1]);
        cr_assert_neq(results[i].stacks[0], mine.stack);
        cr_assert_neq(results[i].stacks[0], results[1 - i].stacks[0]);
        cr_assert_not(mapped(results[i].stacks[0]), "thread exit released scratch 0");
        cr_assert_not(mapped(results[i].data), "thread exit released scratch 1");
    }
    cr_assert(mapped(mine.stack), "this thread's stacks are untouched");
    scratch_end(mine);
}

/* Two threads whose first scratch_begin comes at once: the one that finds the
 * thread key being made waits for it and makes no second one. This program
 * links with -Wl,--wrap=pthread_key_create (tests/meson.build): armed, the
 * first key waits inside its making until the other thread has spun for a
 * few clock ticks of its own CPU time, which it can only be doing in
 * scratch_begin's wait. */
int __real_pthread_key_create(pthread_key_t *key, void (*destructor)(void *));
static atomic_bool hold_first_key;
static atomic_int keys_made;      /* while armed */
static atomic_bool making_key;    /* the first key is being made, and waits */
static atomic_int racer_tid;      /* the thread that must wait for it; 0 until it starts */
static atomic_bool racer_spun;    /* it did, for at least RacerTicks */
enum { RacerTicks = 3, RacerWaitSeconds = 30 };

static long cpu_ticks(int tid)
{
    char path[64], line[512];
    snprintf(path, sizeof path, "/proc/self/task/%d/stat", tid);
    FILE *f = fopen(path, "r");
    cr_assert(f, "%s", path);
    size_t n = fread(line, 1, sizeof line - 1, f);
    fclose(f);
    line[n] = '\0';
    const char *p = strrchr(line, ')'); /* the name may hold spaces; the fields after it do not */
    long utime = 0, stime = 0;
    cr_assert(p && sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %ld %ld", &utime, &stime) == 2);
    return utime + stime;
}

int __wrap_pthread_key_create(pthread_key_t *key, void (*destructor)(void *))
{
    if (atomic_load(&hold_first_key) && atomic_fetch_add(&keys_made, 1) == 0) {
        atomic_store(&making_key, true);
        int tid;
        while (!(tid = atomic_load(&racer_tid)))
            thrd_yield();
        long from = cpu_ticks(tid);
        struct timespec pause = {.tv_nsec = 1000000};
        for (int ms = 0; ms < RacerWaitSeconds * 1000 && !racer_spun; ms++) {
            atomic_store(&racer_spun, cpu_ticks(tid) - from >= RacerTicks);
            thrd_sleep(&pause, NULL);
        }
    }
    return __real_pthread_key_create(key, destructor);
}

static atomic_bool racer_began; /* the racer's scope is open: the first thread may end */

static int first_to_begin(void *arg)
{
    ThreadResult *r = arg;
    PageStackMark m = scratch_begin(NULL, 0); /* makes the key, and waits inside */
    r->stacks[0] = m.stack;
    r->data = push_array(m.stack, char, 100);
    memset(r->data, 1, 100);
    while (!atomic_load(&racer_began)) /* alive, so that its stacks' addresses are not given again */
        thrd_yield();
    r->ok = r->data[99] == 1;
    scratch_end(m);
    return 0;
}

Test(scratch, a_thread_that_finds_the_thread_key_being_made_waits_for_it)
{
    atomic_store(&hold_first_key, true);
    ThreadResult first = {0};
    thrd_t t;
    cr_assert_eq(thrd_create(&t, first_to_begin, &first), thrd_success);
    while (!atomic_load(&making_key))
        thrd_yield();
    atomic_store(&racer_tid, (int)syscall(SYS_gettid));
    PageStackMark m = scratch_begin(NULL, 0); /* finds the key being made */
    cr_assert(atomic_load(&racer_spun), "this thread waited in scratch_begin while the key was made");
    char *mine = push_array(m.stack, char, 100);
    memset(mine, 2, 100);
    atomic_store(&racer_began, true);
    thrd_join(t, NULL);
    atomic_store(&hold_first_key, false);
    cr_assert_eq(atomic_load(&keys_made), 1, "one thread key, made once");
    cr_assert_eq(first.ok, 1);
    cr_assert_neq(first.stacks[0], m.stack, "each thread has its own stacks, both alive");
    cr_assert_not(mapped(first.stacks[0]), "the key made by the other thread released its stacks at its exit");
    cr_assert_eq(mine[99], 2);
    scratch_end(m);
}

Test(scratch, thread_release_gives_the_stacks_back_and_they_come_again)
{
    PageStackMark a = scratch_begin(NULL, 0);
    PageStack *old = a.stack;
    char *p = page_stack_push(a.stack, 100, 1);
    scratch_end(a);
    scratch_thread_release();
    cr_assert_not(mapped(p));
    scratch_thread_release(); /* twice is harmless */
    PageStackMark b = scratch_begin(NULL, 0);
    cr_assert_not_null(b.stack);
    cr_assert_eq(page_stack_pos(b.stack), 0);
    (void)old;
    scratch_end(b);
}

/* ------------------------------------------------------- shutdown: before the code is unloaded */

/* A thread that uses scratch, then waits, holding its stacks or having
 * released them, until the test lets it exit. */
typedef struct Parked {
    bool release;      /* scratch_thread_release before parking */
    atomic_int stage;  /* 1: parked; 2: may exit */
    PageStack *stack;  /* its scratch 0 */
} Parked;

static int use_scratch_and_park(void *arg)
{
    Parked *p = arg;
    PageStackMark m = scratch_begin(NULL, 0);
    p->stack = m.stack;
    push_array(m.stack, int, 100);
    scratch_end(m);
    if (p->release)
        scratch_thread_release();
    atomic_store(&p->stage, 1);
    while (atomic_load(&p->stage) != 2)
        thrd_yield();
    return 0;
}

static void park(Parked *p, thrd_t *t)
{
    cr_assert_eq(thrd_create(t, use_scratch_and_park, p), thrd_success);
    while (atomic_load(&p->stage) != 1)
        thrd_yield();
}

static void unpark(Parked *p, thrd_t t)
{
    atomic_store(&p->stage, 2);
    thrd_join(t, NULL);
}

static void ignore_exit(void *value)
{
    (void)value;
}

Test(scratch, shutdown_releases_the_stacks_and_gives_the_thread_key_back)
{
    Parked released = {.release = true}, exited = {.release = false};
    thrd_t t1, t2;
    park(&exited, &t2);
    unpark(&exited, t2); /* its exit released its stacks */
    park(&released, &t1);
    PageStackMark m = scratch_begin(NULL, 0); /* this thread's stacks, made */
    scratch_end(m);
    cr_assert_eq(scratch_thread_init(NULL), ScratchError_None); /* and replaced: still one pair held */
    m = scratch_begin(NULL, 0);
    char *mine = page_stack_push(m.stack, 100, 1);
    scratch_end(m);

    scratch_shutdown(); /* the parked thread released its own: allowed */
    cr_assert_not(mapped(mine), "this thread's stacks are released");
    cr_assert_not(mapped(released.stack));
    cr_assert_not(mapped(exited.stack));
    int slot = os_vm_thread_slot_create(ignore_exit);
    cr_assert_eq(slot, 0, "scratch's thread key, the process's first slot, was given back");
    os_vm_thread_slot_delete(slot);
    unpark(&released, t1);

    /* Scratch works again, on this thread and others, and shuts down again. */
    m = scratch_begin(NULL, 0);
    cr_assert_eq(page_stack_pos(m.stack), 0);
    push_array(m.stack, int, 10);
    scratch_end(m);
    Parked again = {.release = false};
    park(&again, &t1);
    cr_assert(mapped(again.stack));
    unpark(&again, t1);
    cr_assert_not(mapped(again.stack), "a thread's exit releases its stacks under the new key");
    scratch_shutdown();
    scratch_shutdown(); /* with nothing held, harmless */
    slot = os_vm_thread_slot_create(ignore_exit);
    cr_assert_eq(slot, 0, "the key made again was given back again");
}

Test(scratch, shutdown_while_another_thread_holds_its_stacks_is_fatal, .signal = SIGABRT)
{
    static Parked holding = {.release = false};
    static Parked holding_too = {.release = false};
    thrd_t t1, t2;
    park(&holding, &t1);
    park(&holding_too, &t2);
    PageStackMark m = scratch_begin(NULL, 0); /* this thread's own do not count */
    scratch_end(m);
    expect_fatal("frame_arena: scratch_shutdown: 2 other threads still hold scratch stacks; each calls "
                 "scratch_thread_release first (a thread's exit releases its own)");
    scratch_shutdown();
    death_not_reached();
}

Test(scratch, shutdown_with_a_scope_open_is_fatal, .signal = SIGABRT)
{
    scratch_begin(NULL, 0);
    expect_fatal("frame_arena: scratch_shutdown: 1 scratch scope of this thread is still open; scratch_end it "
                 "first");
    scratch_shutdown();
    death_not_reached();
}

/* ------------------------------------------------------- sizes: defaults and thread init */

#define MiB ((size_t)1 << 20)

/* This thread's two scratch stacks, made if it has none. */
static void this_threads_stacks(PageStack *out[2])
{
    PageStackMark a = scratch_begin(NULL, 0);
    PageStackMark b = scratch_begin(&a.stack, 1);
    out[0] = a.stack;
    out[1] = b.stack;
    scratch_end(b);
    scratch_end(a);
}

static size_t default_reserve(void)
{
    PageStack *ps = page_stack_create(NULL);
    size_t reserved = page_stack_stats(ps).reserved;
    page_stack_destroy(ps);
    return reserved;
}

Test(scratch, thread_init_makes_this_threads_stacks_from_its_desc)
{
    cr_assert_eq(scratch_thread_init(&(PageStackDesc){.name = "physics", .reserve_size = 8 * MiB,
                                                      .initial_commit = MiB, .flags = PageStackFlag_Prefault}),
                 ScratchError_None);
    PageStack *s[2];
    this_threads_stacks(s);
    cr_assert_str_eq(s[0]->name, "physics 0");
    cr_assert_str_eq(s[1]->name, "physics 1");
    for (int i = 0; i < 2; i++) {
        PageStackStats st = page_stack_stats(s[i]);
        cr_assert_eq(st.reserved, 8 * MiB);
        cr_assert_eq(st.committed, MiB, "initial_commit is committed at once");
        PageStackMark m = scratch_begin(i ? &s[0] : NULL, i ? 1 : 0);
        cr_assert_eq(m.stack, s[i]);
        cr_assert_not_null(page_stack_try_push(m.stack, 8 * MiB - 4096, 1));
        cr_assert_null(page_stack_try_push(m.stack, 8192, 1));
        cr_assert_eq(page_stack_last_error(m.stack), PageStackError_OutOfReserve, "8 MiB is all it has");
        scratch_end(m);
    }
}

Test(scratch, thread_init_replaces_the_stacks_and_releases_the_old_ones)
{
    PageStack *old[2];
    this_threads_stacks(old);
    cr_assert_eq(page_stack_stats(old[0]).reserved, default_reserve(), "made at first use from the defaults");
    cr_assert_str_eq(old[0]->name, "scratch 0");
    cr_assert_eq(scratch_thread_init(&(PageStackDesc){.reserve_size = 4 * MiB}), ScratchError_None);
    for (int i = 0; i < 2; i++)
        cr_assert_not(mapped(old[i]), "the old scratch %d is released", i);
    PageStack *now[2];
    this_threads_stacks(now);
    for (int i = 0; i < 2; i++) {
        cr_assert_neq(now[i], old[0]);
        cr_assert_neq(now[i], old[1]);
        cr_assert_eq(page_stack_stats(now[i]).reserved, 4 * MiB);
    }
    cr_assert_str_eq(now[1]->name, "scratch 1", "no name: the default name");
    scratch_thread_release();
    cr_assert_not(mapped(now[0]));
    this_threads_stacks(now);
    cr_assert_eq(page_stack_stats(now[0]).reserved, default_reserve(),
                 "after a release the next stacks come from the defaults again");
}

Test(scratch, thread_init_with_a_scope_open_is_fatal, .signal = SIGABRT)
{
    scratch_begin(NULL, 0);
    expect_fatal("scratch_thread_init: 1 scratch scope of this thread is still open; scratch_end it first");
    scratch_thread_init(NULL);
    death_not_reached();
}

/* With every thread key taken scratch_thread_init returns the error, each
 * time, however often it is asked (more often than os_vm has slots); once a
 * key is free again it makes the stacks (the failure is not kept for the
 * process). */
Test(scratch, thread_init_with_no_thread_key_left_returns_the_error)
{
    static pthread_key_t keys[PTHREAD_KEYS_MAX];
    int made = take_every_thread_key(keys);
    pthread_key_t one_more;
    cr_assert_eq(scratch_thread_init(NULL), ScratchError_NoThreadSlot);
    for (int i = 0; i < OS_VM_THREAD_SLOTS + 2; i++)
        cr_assert_eq(scratch_thread_init(&(PageStackDesc){.reserve_size = 4 * MiB}), ScratchError_NoThreadSlot);
    cr_assert_eq(scratch_open_scopes(), 0u);

    cr_assert_eq(pthread_key_delete(keys[--made]), 0);
    cr_assert_eq(scratch_thread_init(&(PageStackDesc){.reserve_size = 4 * MiB}), ScratchError_None);
    PageStack *s[2];
    this_threads_stacks(s);
    cr_assert_eq(page_stack_stats(s[0]).reserved, 4 * MiB);
    cr_assert_neq(pthread_key_create(&one_more, NULL), 0, "scratch took the key that was freed");
    PageStackMark m = scratch_begin(NULL, 0);
    cr_assert_not_null(page_stack_push(m.stack, 100, 8));
    scratch_end(m);
    cr_assert_eq(scratch_open_scopes(), 0u);
}

typedef struct MadeStacks {
    char names[2][64];
    size_t reserved[2], committed[2];
} MadeStacks;

static int make_and_describe(void *arg)
{
    MadeStacks *m = arg;
    PageStack *s[2];
    this_threads_stacks(s);
    for (int i = 0; i < 2; i++) {
        snprintf(m->names[i], sizeof m->names[i], "%s", s[i]->name);
        m->reserved[i] = page_stack_stats(s[i]).reserved;
        m->committed[i] = page_stack_stats(s[i]).committed;
        PageStackMark t = scratch_begin(i ? &s[0] : NULL, i ? 1 : 0);
        memset(page_stack_push(t.stack, 1000, 8), 1, 1000);
        scratch_end(t);
    }
    return 0;
}

static MadeStacks in_a_new_thread(void)
{
    MadeStacks m = {0};
    thrd_t t;
    cr_assert_eq(thrd_create(&t, make_and_describe, &m), thrd_success);
    thrd_join(t, NULL);
    return m;
}

Test(scratch, set_defaults_shapes_the_stacks_threads_make_later)
{
    PageStack *mine[2];
    this_threads_stacks(mine);
    char name[16] = "job";
    cr_assert_eq(scratch_set_defaults(&(PageStackDesc){.name = name, .reserve_size = 16 * MiB}), ScratchError_None);
    strcpy(name, "overwritten");
    MadeStacks m = in_a_new_thread();
    cr_assert_str_eq(m.names[0], "job 0", "the name was copied");
    cr_assert_str_eq(m.names[1], "job 1");
    cr_assert_eq(m.reserved[0], 16 * MiB);
    cr_assert_eq(m.reserved[1], 16 * MiB);

    PageStack *still[2];
    this_threads_stacks(still);
    cr_assert_eq(still[0], mine[0], "a thread that has its stacks keeps them");
    cr_assert_eq(page_stack_stats(still[0]).reserved, default_reserve());
    cr_assert_eq(scratch_thread_init(NULL), ScratchError_None);
    this_threads_stacks(still);
    cr_assert_str_eq(still[0]->name, "job 0", "thread init without a desc takes the defaults");
    cr_assert_eq(page_stack_stats(still[1]).reserved, 16 * MiB);
    scratch_shutdown(); /* the defaults stay: the next begin makes the stacks from them */
    this_threads_stacks(still);
    cr_assert_str_eq(still[0]->name, "job 0", "after scratch_shutdown");
    cr_assert_eq(page_stack_stats(still[1]).reserved, 16 * MiB, "after scratch_shutdown");

    cr_assert_eq(scratch_set_defaults(NULL), ScratchError_None);
    m = in_a_new_thread();
    cr_assert_str_eq(m.names[0], "scratch 0", "NULL brings back the page_stack defaults");
    cr_assert_eq(m.reserved[1], default_reserve());
}

Test(scratch, set_defaults_keeps_the_first_61_bytes_of_the_name)
{
    char name[100];
    memset(name, 'n', sizeof name - 1);
    name[sizeof name - 1] = '\0';
    cr_assert_eq(scratch_set_defaults(&(PageStackDesc){.name = name}), ScratchError_None);
    MadeStacks m = in_a_new_thread();
    cr_assert_eq(strlen(m.names[1]), 63u);
    cr_assert_eq(strncmp(m.names[1], name, 61), 0);
    cr_assert_str_eq(m.names[1] + 61, " 1", "the stack's number is never cut off");
}

Test(scratch, thread_init_keeps_the_first_61_bytes_of_the_name)
{
    char name[100];
    memset(name, 'p', sizeof name - 1);
    name[sizeof name - 1] = '\0';
    cr_assert_eq(scratch_thread_init(&(PageStackDesc){.name = name}), ScratchError_None);
    PageStack *s[2];
    this_threads_stacks(s);
    for (int i = 0; i < 2; i++) {
        cr_assert_eq(strlen(s[i]->name), 63u);
        cr_assert_eq(strncmp(s[i]->name, name, 61), 0);
        cr_assert_str_eq(s[i]->name + 61, i ? " 1" : " 0", "the stack's number is never cut off");
    }
    scratch_thread_release();
}

Test(scratch, set_defaults_that_cannot_be_reserved_keeps_the_defaults_it_had)
{
    cr_assert_eq(scratch_set_defaults(&(PageStackDesc){.name = "small", .reserve_size = 16 * MiB}), ScratchError_None);
    cr_assert_eq(scratch_set_defaults(&(PageStackDesc){.name = "huge", .reserve_size = SIZE_MAX / 2}),
                 ScratchError_NoAddressSpace);
    MadeStacks m = in_a_new_thread();
    cr_assert_str_eq(m.names[0], "small 0");
    cr_assert_eq(m.reserved[0], 16 * MiB);
}

Test(scratch, set_defaults_with_unknown_flags_is_fatal, .signal = SIGABRT)
{
    expect_fatal("page_stack \"job 0\": flags 0x81 include bits no PageStackFlag names (0x80)");
    scratch_set_defaults(&(PageStackDesc){.name = "job", .flags = PageStackFlag_Prefault | 0x80});
    death_not_reached();
}

Test(scratch, set_defaults_with_initial_commit_above_reserve_size_is_fatal, .signal = SIGABRT)
{
    expect_fatal("page_stack \"scratch 0\": initial_commit 33554432 exceeds reserve_size 16777216");
    scratch_set_defaults(&(PageStackDesc){.reserve_size = 16 * MiB, .initial_commit = 32 * MiB});
    death_not_reached();
}

static atomic_int hook_calls;

static void count_push(PageStack *ps, void *ptr, size_t size, void *user)
{
    (void)ps, (void)ptr, (void)size, (void)user;
    atomic_fetch_add(&hook_calls, 1);
}

static void count_reset(PageStack *ps, void *user)
{
    (void)ps, (void)user;
    atomic_fetch_add(&hook_calls, 1);
}

/* The check made from the desc neither prefaults nor calls its hooks; the
 * stacks the threads make then do both. */
Test(scratch, set_defaults_checks_its_desc_without_prefault_or_hooks)
{
    long faults = minor_faults();
    cr_assert_eq(scratch_set_defaults(&(PageStackDesc){.reserve_size = 128 * MiB, .initial_commit = 64 * MiB,
                                                       .flags = PageStackFlag_Prefault, .on_push = count_push,
                                                       .on_reset = count_reset}),
                 ScratchError_None);
    /* A prefault takes 16,384 faults; ASan poisons the commit's 8 MiB of shadow (2,048). */
    cr_assert_lt(minor_faults() - faults, 8192, "the check did not touch its 64 MiB");
    cr_assert_eq(atomic_load(&hook_calls), 0);
    MadeStacks m = in_a_new_thread();
    cr_assert_eq(m.committed[0], 64 * MiB);
    cr_assert_eq(m.committed[1], 64 * MiB);
    cr_assert_geq(atomic_load(&hook_calls), 2, "a thread's stacks call the hooks (a push on each)");
}
