/* What tests/cpp_no_exceptions.cpp (built with -fno-exceptions -fno-rtti)
 * and tests/cpp_with_exceptions.cpp give test_cpp_no_exceptions.c. */
#ifndef FRAME_ARENA_TESTS_CPP_NO_EXCEPTIONS_H
#define FRAME_ARENA_TESTS_CPP_NO_EXCEPTIONS_H

#include "frame_arena.h"

#ifdef __cplusplus
extern "C" {
#endif

/* count value-initialised objects by push_new_array, then one by push_new,
 * then a reset of ps: how many destructors ran (their ids in log, in the
 * order they ran), or SIZE_MAX if the objects were not built as they should. */
size_t no_exceptions_array_then_reset(PageStack *ps, size_t count, int *log);
/* A vector of 0..count-1 in ps, a std::pmr::vector over a PageStackResource
 * (through_pmr) or a std::vector<int, frame_arena::StackAllocator<int>>: its
 * sum; *in_stack says whether its storage lies in ps. */
long no_exceptions_vector_sum(PageStack *ps, int count, int through_pmr, int *in_stack);
/* StackAllocator<uint32_t>(ps).allocate(count). */
uint32_t *no_exceptions_stack_allocate(PageStack *ps, size_t count);
/* PageStackResource(ps).allocate(bytes, align). */
void *no_exceptions_allocate(PageStack *ps, size_t bytes, size_t align);
/* count frames of fa through frame_arena::Frame, an object with a destructor
 * pushed by push_new in each: the frames ended; *destroyed, how many of the
 * objects the frames' resets destroyed meanwhile. */
uint64_t no_exceptions_frames(FrameArena *fa, int count, size_t *destroyed);
/* The same allocate with exceptions on: 1 if it threw std::bad_alloc. */
int with_exceptions_allocate_throws(PageStack *ps, size_t bytes, size_t align);

#ifdef __cplusplus
}
#endif

#endif
