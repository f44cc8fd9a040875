/* A planted mistake that tests/analyze.py must hear about before it trusts
 * the analyzer's silence on the library: a mark taken on one path only,
 * then popped to on every path. With n <= 0 the mark is whatever the stack
 * of the caller held. Never built into a program. */
#include "page_stack.h"

void analyze_proof(PageStack *ps, int n);

void analyze_proof(PageStack *ps, int n)
{
    PageStackMark mark;
    if (n > 0)
        mark = page_stack_mark(ps);
    page_stack_push(ps, 64, 16);
    page_stack_pop_to(mark);
}
