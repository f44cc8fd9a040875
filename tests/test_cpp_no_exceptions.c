/* frame_arena.hpp with exceptions off: what tests/cpp_no_exceptions.cpp,
 * built with -fno-exceptions -fno-rtti, does with it. Criterion's C++ macros
 * need exceptions, so the checks are made here, in C. */
#include "support.h"

#include "cpp_no_exceptions.h"

Test(no_exceptions, push_new_array_builds_in_order_and_reset_destroys_newest_first)
{
    PageStack *ps = page_stack_create(NULL);
    int log[8] = {0};
    cr_assert_eq(no_exceptions_array_then_reset(ps, 7, log), 8u, "seven from the array, one from push_new");
    for (int i = 0; i < 8; i++)
        cr_assert_eq(log[i], 7 - i, "destructor %d ran for object %d", i, log[i]);
    cr_assert_eq(page_stack_pos(ps), 0u);
    page_stack_destroy(ps);
}

Test(no_exceptions, containers_allocate_from_the_stack_through_pmr_and_stack_allocator)
{
    for (int through_pmr = 0; through_pmr <= 1; through_pmr++) {
        const char *how = through_pmr ? "PageStackResource" : "StackAllocator";
        PageStack *ps = page_stack_create(NULL);
        int in_stack = 0;
        cr_assert_eq(no_exceptions_vector_sum(ps, 10000, through_pmr, &in_stack), 10000L * 9999 / 2, "%s", how);
        cr_assert(in_stack, "%s: the vector's storage is in the stack", how);
        cr_assert_gt(page_stack_stats(ps).pushes, 10u, "%s: the vector grew by pushes", how);
        page_stack_destroy(ps);
    }
}

Test(no_exceptions, an_allocation_the_stack_allocator_cannot_serve_is_fatal, .signal = SIGABRT)
{
    PageStack *ps = page_stack_create(&(PageStackDesc){.name = "vec", .reserve_size = 64 << 10});
    expect_fatal("page_stack \"vec\": StackAllocator cannot allocate 4194304 bytes (align 4): out of reserved "
                 "address space (raise reserve_size); exceptions are off, so there is no std::bad_alloc to throw");
    no_exceptions_stack_allocate(ps, 1 << 20);
    death_not_reached();
}

Test(no_exceptions, a_count_whose_bytes_overflow_is_fatal, .signal = SIGABRT)
{
    PageStack *ps = page_stack_create(&(PageStackDesc){.name = "vec"});
    expect_fatalf("page_stack \"vec\": StackAllocator cannot allocate %zu bytes (align 4): size overflows size_t; "
                  "exceptions are off",
                  SIZE_MAX);
    no_exceptions_stack_allocate(ps, SIZE_MAX / 2);
    death_not_reached();
}

Test(no_exceptions, the_largest_count_that_does_not_overflow_reports_its_bytes, .signal = SIGABRT)
{
    PageStack *ps = page_stack_create(&(PageStackDesc){.name = "vec"});
    expect_fatalf("page_stack \"vec\": StackAllocator cannot allocate %zu bytes (align 4)", SIZE_MAX / 4 * 4);
    no_exceptions_stack_allocate(ps, SIZE_MAX / 4);
    death_not_reached();
}

Test(no_exceptions, frame_guards_begin_and_end_frames)
{
    FrameArena *fa = frame_arena_create(NULL);
    size_t destroyed = 0;
    cr_assert_eq(no_exceptions_frames(fa, 5, &destroyed), 5u);
    cr_assert_eq(destroyed, 3u, "frames 0-2 were reset by the begins of frames 2-4 (two frames in flight)");
    frame_arena_destroy(fa);
}

Test(no_exceptions, an_allocation_the_resource_cannot_serve_is_fatal, .signal = SIGABRT)
{
    PageStack *ps = page_stack_create(&(PageStackDesc){.name = "pmr", .reserve_size = 64 << 10});
    expect_fatal("page_stack \"pmr\": PageStackResource cannot allocate 1048576 bytes (align 16): out of reserved "
                 "address space (raise reserve_size); exceptions are off, so there is no std::bad_alloc to throw");
    no_exceptions_allocate(ps, 1 << 20, 16);
    death_not_reached();
}

/* Without the two inline namespaces the linker would keep one copy of the
 * resource's allocate for both files, and one of them would behave as the
 * other was built: this one would die, or the test above would throw. */
Test(no_exceptions, a_file_built_with_exceptions_in_the_same_program_still_throws)
{
    PageStack *ps = page_stack_create(&(PageStackDesc){.reserve_size = 64 << 10});
    cr_assert_eq(with_exceptions_allocate_throws(ps, 1 << 20, 16), 1, "std::bad_alloc");
    cr_assert_eq(page_stack_stats(ps).failed_pushes, 1u);
    cr_assert_neq(no_exceptions_allocate(ps, 4096, 16), NULL, "what fits is served");
    page_stack_destroy(ps);
}
