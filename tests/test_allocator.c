/* allocator: the page stack behind the alloc/realloc/free hook shape. */
#include "support.h"

#include "allocator.h"

Test(allocator, alloc_realloc_free_follow_the_stack)
{
    PageStack *ps = page_stack_create(NULL);
    Allocator a = page_stack_allocator(ps);
    cr_assert_eq(a.user, ps);
    unsigned char *p = a.alloc(a.user, 100, 32);
    cr_assert_not_null(p);
    cr_assert_eq((uintptr_t)p % 32, 0);
    memset(p, 3, 100);
    unsigned char *q = a.realloc(a.user, p, 100, 5000, 32);
    cr_assert_eq(q, p, "the last block grows in place");
    cr_assert_eq(q[99], 3);
    size_t before_free = page_stack_pos(ps);
    a.free(a.user, q, 5000);
    cr_assert_eq(page_stack_pos(ps), before_free - 5000, "freeing the last block gives it back");
    unsigned char *r = a.alloc(a.user, 64, 32);
    cr_assert_eq(r == p, !TEST_CHECKED, "the next block takes its place (the checked build never reuses at once)");
    page_stack_destroy(ps);
}

Test(allocator, free_of_an_older_block_or_of_unknown_size_does_nothing)
{
    PageStack *ps = page_stack_create(NULL);
    Allocator a = page_stack_allocator(ps);
    void *old = a.alloc(a.user, 64, 8);
    void *last = a.alloc(a.user, 64, 8);
    size_t pos = page_stack_pos(ps);
    a.free(a.user, old, 64);
    cr_assert_eq(page_stack_pos(ps), pos);
    a.free(a.user, last, 0);
    cr_assert_eq(page_stack_pos(ps), pos, "size 0 means unknown: nothing is freed");
    a.free(a.user, NULL, 64);
    cr_assert_eq(page_stack_pos(ps), pos);
    page_stack_destroy(ps);
}

Test(allocator, failure_is_null_without_on_fail_and_changes_nothing)
{
    PageStack *ps = page_stack_create(&(PageStackDesc){.reserve_size = 64 << 10});
    Allocator a = page_stack_allocator(ps);
    unsigned char *p = a.alloc(a.user, 1000, 8);
    memset(p, 9, 1000);
    cr_assert_null(a.alloc(a.user, 1 << 20, 8), "no abort: the default on_fail is not called");
    cr_assert_null(a.realloc(a.user, p, 1000, 1 << 20, 8));
    cr_assert_eq(page_stack_last_error(ps), PageStackError_OutOfReserve);
    cr_assert_eq(page_stack_pos(ps), 1000);
    for (int i = 0; i < 1000; i++)
        cr_assert_eq(p[i], 9);
    cr_assert_eq(page_stack_stats(ps).failed_pushes, 2);
    page_stack_destroy(ps);
}

Test(allocator, null_stack_is_fatal_when_the_allocator_is_made, .signal = SIGABRT)
{
    expect_fatal("page_stack_allocator: the stack is NULL; pass a stack from page_stack_create");
    page_stack_allocator(NULL);
    death_not_reached();
}

Test(allocator, free_last_is_exact)
{
    PageStack *ps = page_stack_create(NULL);
    char *a = page_stack_push(ps, 10, 1);
    char *b = page_stack_push(ps, 20, 16);
    cr_assert_not(page_stack_free_last(ps, a, 10), "not the last push");
    cr_assert_not(page_stack_free_last(ps, b, 19), "not its size");
    cr_assert(page_stack_free_last(ps, b, 20));
    cr_assert_eq(page_stack_pos(ps), 16, "the padding before it stays");
    page_stack_destroy(ps);
}
