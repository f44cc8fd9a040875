/* A program for tests/registered.py alone, built with link-time optimisation
 * (see tests/meson.build): one Test and one ParameterizedTest, which Criterion
 * must know. Built with TEST_LIST_NO_KEEP, it shows the check failing as it
 * must: Criterion 2.4.1 loses the parameterized test. The suite never runs
 * these tests; registered.py only lists them. */
#include "test_list.h"

#include "page_stack.h"

Test(proof, plain)
{
    PageStack *ps = page_stack_create(NULL);
    cr_assert_not_null(page_stack_push(ps, 16, 16));
    page_stack_destroy(ps);
}

ParameterizedTestParameters(proof, parameterized)
{
    static size_t sizes[] = {1, 64, 4096};
    return cr_make_param_array(size_t, sizes, sizeof sizes / sizeof sizes[0]);
}

ParameterizedTest(size_t *size, proof, parameterized)
{
    PageStack *ps = page_stack_create(NULL);
    cr_assert_eq(page_stack_pos(ps), 0);
    page_stack_push(ps, *size, 1);
    cr_assert_eq(page_stack_pos(ps), *size);
    page_stack_destroy(ps);
}
