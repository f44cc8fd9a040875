/* The guard in inline_end for reservations at the top of the address space
 * (see page_stack_block_wraps in page_stack.h): a stack whose reservation
 * reaches above PAGE_STACK_CARRY_FREE_END gets no inline pushes, because the
 * pushes of a constant size carry no carry test. No process can reserve up
 * there, so this file compiles page_stack.c itself, with the guard moved to a
 * variable that the tests set at the end of a real reservation (the program
 * links the other engine sources, not the library; see tests/meson.build). */
#include "support.h"

#include "page_stack.h"

static uintptr_t guard_end = UINTPTR_MAX;
#ifdef PAGE_STACK_CARRY_FREE_END
#undef PAGE_STACK_CARRY_FREE_END
#define PAGE_STACK_CARRY_FREE_END guard_end
#define GUARDED 1
#else
#define GUARDED 0 /* a 32-bit target: constant sizes keep the carry test, there is no guard */
#endif

#include "page_stack.c"

#define KiB ((size_t)1 << 10)

/* ASan, the checked build and a run under valgrind send every push out of line anyway. */
#define WATCHED (PAGE_STACK_POISONING || CHECKED || under_valgrind())

/* After every block of push_odd_blocks_to_the_end: still out of line. */
static void inline_push_off(const PageStack *ps, const PageStackCursor *c, size_t served)
{
    if (!WATCHED)
        cr_assert_eq(c ? c->end : ps->end, 0, "block %zu: the inline push was re-armed", served);
}

ParameterizedTestParameters(carry_guard, a_reservation_reaching_above_the_guard_gets_no_inline_push)
{
    static int cases[2];
    return index_params(cases, 2);
}

ParameterizedTest(int *through_cursor, carry_guard, a_reservation_reaching_above_the_guard_gets_no_inline_push)
{
    if (!GUARDED)
        cr_skip_test("no guard on this target");
    PageStack *ps = page_stack_create(&(PageStackDesc){.reserve_size = 256 * KiB, .commit_size = 16 * KiB});
    cr_assert_not_null(ps);
    uintptr_t reach = ps->base + ps->reserved;
    cr_assert_eq(ps->end, WATCHED ? 0 : ps->base + ps->committed, "armed while the guard is out of reach");

    guard_end = reach - 1;
    page_stack_trim(ps, 0); /* reads the guard again, as every change of the commit end does */
    cr_assert_eq(ps->end, 0);
    cr_assert_eq(ps->zero_end, 0);
    push_odd_blocks_to_the_end(ps, *through_cursor, inline_push_off);
    cr_assert_eq(ps->end, 0, "re-armed by the commits on the way up");

    page_stack_reset(ps);
    unsigned char *z = push_array(ps, unsigned char, 64); /* a zeroing push below the dirty edge, out of line */
    for (size_t i = 0; i < 64; i++)
        cr_assert_eq(z[i], 0, "byte %zu of a zeroing push is not zero", i);

    guard_end = reach; /* a reservation ending at the guard is still below it */
    page_stack_trim(ps, 0);
    cr_assert_eq(ps->end, WATCHED ? 0 : ps->base + ps->committed, "not re-armed once the guard is out of reach");
    guard_end = UINTPTR_MAX;
    page_stack_destroy(ps);
}
