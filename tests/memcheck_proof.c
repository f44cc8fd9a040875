/* A Criterion program that tests/memcheck_proof.py runs the way the
 * memcheck setup runs the suites (./dev test-memcheck: tests/memcheck.py
 * with --trace-children=yes), to prove the setup fails a test whose process
 * memcheck found an error in, and no other. Not a suite of its own: run
 * natively every test passes (the bad reads read what is there, and the
 * tests look only at what is certain). */
#include "support.h"

/* memcheck must fail this one: a branch on pushed bytes never written. */
Test(proof, branches_on_unwritten_bytes)
{
    PageStack *ps = page_stack_create(NULL);
    volatile unsigned char *p = page_stack_push(ps, 64, 8);
    cr_assert_neq(p[3], 7);
    page_stack_destroy(ps);
}

/* A read of a block that a reset released, with memcheck's reports on or
 * off around it. Called last, so a tail call: memcheck's report names the
 * test by Criterion's trampoline for it. */
static void read_a_released_block(bool quiet)
{
    PageStack *ps = page_stack_create(NULL);
    volatile int *p = push_array(ps, int, 4);
    p[1] = 5;
    page_stack_reset(ps);
    if (quiet)
        memcheck_quiet_begin();
    int kept = p[1];
    if (quiet)
        memcheck_quiet_end();
    (void)kept;
    page_stack_destroy(ps);
}

/* And this one. */
Test(proof, reads_a_released_block)
{
    read_a_released_block(false);
}

/* The same read with memcheck's reports off around it passes. */
Test(proof, reads_a_released_block_quietly)
{
    read_a_released_block(true);
}

/* A death test's bad access is memcheck's error too, but the process dies
 * of its signal, as the test wants: it passes. */
Test(proof, faults_on_purpose, .signal = SIGSEGV)
{
    PageStack *ps = page_stack_create(NULL);
    volatile unsigned char *p = page_stack_push(ps, 64, 8);
    page_stack_destroy(ps);
    expect_fault();
    p[0] = 1;
    death_not_reached();
}

/* Pushed, written, read back: nothing to report. */
Test(proof, writes_then_reads)
{
    PageStack *ps = page_stack_create(NULL);
    int *p = push_array_no_zero(ps, int, 16);
    for (int i = 0; i < 16; i++)
        p[i] = i;
    int sum = 0;
    for (int i = 0; i < 16; i++)
        sum += p[i];
    cr_assert_eq(sum, 120);
    page_stack_destroy(ps);
}
