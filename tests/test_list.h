/* Every test a Criterion program defines, listed where tests/registered.py
 * can compare it with the tests Criterion finds and runs.
 *
 * Criterion finds its tests through a table it keeps in a section of the
 * program. Criterion 2.4.1 (Debian 12's) marks a Test's entry there as used,
 * but not a ParameterizedTest's, so link-time optimisation (-flto, meson's
 * b_lto) drops those entries: the tests are never run, and the run passes.
 * Built with LTO, 76 of the 173 cases of the page_stack suite vanished so.
 * Here every ParameterizedTest holds a used reference to its entry, which
 * keeps it (TEST_LIST_NO_KEEP leaves it out, for the proof in
 * tests/meson.build).
 *
 * And every Test and ParameterizedTest puts its name ("suite/name") in the
 * section fa_tests as well; a program started with FRAME_ARENA_LIST_TESTS
 * set prints those names, one a line, and exits. registered.py compares
 * them with `--list`: a test the program defines and Criterion does not
 * know, for whatever reason, fails the check. */
#ifndef FRAME_ARENA_TESTS_TEST_LIST_H
#define FRAME_ARENA_TESTS_TEST_LIST_H

#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define TEST_LIST_NAME_(Suite, Name, ...)                                                                     \
    __attribute__((used, section("fa_tests"))) static const char *const Suite##_##Name##_listed = #Suite "/" #Name;

#ifdef TEST_LIST_NO_KEEP
#define TEST_LIST_KEEP_(Suite, Name)
#else
#define TEST_LIST_KEEP_(Suite, Name)                                                                          \
    extern struct criterion_test *CR_IDENTIFIER_(Suite, Name, ptr);                                           \
    __attribute__((used)) static struct criterion_test **const Suite##_##Name##_kept =                        \
        &CR_IDENTIFIER_(Suite, Name, ptr);
#endif
#define TEST_LIST_PARAMETERIZED_(Type, Suite, Name, ...) TEST_LIST_NAME_(Suite, Name, 0) TEST_LIST_KEEP_(Suite, Name)

/* Criterion's own two macros, each after its entry in the list. */
#undef Test
#define Test(...) TEST_LIST_NAME_(__VA_ARGS__, 0) CR_EXPAND(CR_TEST_BASE(__VA_ARGS__, .sentinel_ = 0))
#undef ParameterizedTest
#define ParameterizedTest(...)                                                                                \
    TEST_LIST_PARAMETERIZED_(__VA_ARGS__, 0) CR_EXPAND(CR_PARAM_TEST_BASE(__VA_ARGS__, .sentinel_ = 0))

/* The linker's bounds of the section (GNU ld, gold, lld; ELF targets). */
extern const char *const __start_fa_tests[];
extern const char *const __stop_fa_tests[];

__attribute__((constructor)) static void test_list_print(void)
{
    if (!getenv("FRAME_ARENA_LIST_TESTS"))
        return;
    for (const char *const *name = __start_fa_tests; name < __stop_fa_tests; name++)
        printf("%s\n", *name);
    fflush(stdout);
    _exit(0);
}

#endif
