// The same calls as cpp_no_exceptions.cpp, built with exceptions on and
// linked into the same program: each must keep its own build of the header.
#if !defined(__cpp_exceptions)
#error "this file must be built with exceptions on"
#endif

#include "cpp_no_exceptions.h"
#include "frame_arena.hpp"

#include <memory_resource>
#include <new>
#include <type_traits>

static_assert(std::is_same_v<frame_arena::PageStackResource, frame_arena::with_exceptions::PageStackResource>,
              "with exceptions on the header's names are in frame_arena::with_exceptions");

extern "C" int with_exceptions_allocate_throws(PageStack *ps, size_t bytes, size_t align)
{
    frame_arena::PageStackResource memory(ps);
    std::pmr::memory_resource *volatile base = &memory; // as in no_exceptions_allocate
    try {
        (void)base->allocate(bytes, align); // must throw: the stack cannot serve it
    } catch (const std::bad_alloc &) {
        return 1;
    }
    return 0;
}
