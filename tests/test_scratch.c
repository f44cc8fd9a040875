/* scratch: per-thread stacks, conflicts, nesting, release at thread exit. */
#include "support.h"

#include "scratch.h"

#include <errno.h>
#include <pthread.h>
#include <sys/mman.h>
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

Test(scratch, both_stacks_in_conflicts_is_fatal, .signal = SIGABRT)
{
    PageStackMark a = scratch_begin(NULL, 0);
    PageStack *first = a.stack;
    PageStackMark b = scratch_begin(&first, 1);
    PageStack *both[] = {a.stack, b.stack};
    expect_fatal("scratch_begin: both scratch stacks of this thread are in conflicts; pass at most one of them");
    scratch_begin(both, 2);
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

Test(scratch, ending_scopes_out_of_order_is_fatal, .signal = SIGABRT)
{
    PageStackMark outer = scratch_begin(NULL, 0);
    page_stack_push(outer.stack, 10, 1);
    PageStackMark inner = scratch_begin(NULL, 0);
    page_stack_push(inner.stack, 10, 1);
    scratch_end(outer);
    expect_fatal("page_stack \"scratch 0\": pop_to a mark above the top");
    scratch_end(inner);
    death_not_reached();
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

static PageStackMark other_threads_mark;

static int begin_a_scope(void *arg)
{
    (void)arg;
    other_threads_mark = scratch_begin(NULL, 0);
    return 0;
}

Test(scratch, ending_another_threads_scope_is_fatal, .signal = SIGABRT)
{
    thrd_t t;
    cr_assert_eq(thrd_create(&t, begin_a_scope, NULL), thrd_success);
    cr_assert_eq(thrd_join(t, NULL), thrd_success);
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
