// frame_arena.hpp built as a game built with -fno-exceptions -fno-rtti builds
// it. test_cpp_no_exceptions.c calls these and checks what they did.
#if defined(__cpp_exceptions) || defined(__GXX_RTTI)
#error "this file must be built with -fno-exceptions -fno-rtti"
#endif

#include "cpp_no_exceptions.h"
#include "frame_arena.hpp"

#include <memory_resource>
#include <type_traits>
#include <vector>

static_assert(std::is_same_v<frame_arena::PageStackResource, frame_arena::no_exceptions::PageStackResource>,
              "with exceptions off the header's names are in frame_arena::no_exceptions");

namespace {

int next_id;
int *destroyed_log;
size_t destroyed_count;

struct Counted {
    int id = next_id++;
    ~Counted() { destroyed_log[destroyed_count++] = id; }
};

} // namespace

extern "C" size_t no_exceptions_array_then_reset(PageStack *ps, size_t count, int *log)
{
    next_id = 0;
    destroyed_log = log;
    destroyed_count = 0;
    Counted *first = frame_arena::push_new_array<Counted>(ps, count);
    Counted *one = frame_arena::push_new<Counted>(ps);
    for (size_t i = 0; i < count; i++)
        if (first[i].id != static_cast<int>(i))
            return SIZE_MAX; // not built in order
    if (one->id != static_cast<int>(count) || destroyed_count != 0)
        return SIZE_MAX;
    page_stack_reset(ps);
    return destroyed_count;
}

namespace {

// Fills values with 0..count-1 and sums them; *in_stack: whether their storage lies in ps.
template <class Vector>
long sum_in_stack(PageStack *ps, Vector &values, int count, int *in_stack)
{
    const char *lo = static_cast<const char *>(page_stack_push(ps, 0, 1));
    for (int i = 0; i < count; i++)
        values.push_back(i);
    const char *data = reinterpret_cast<const char *>(values.data());
    const char *hi = static_cast<const char *>(page_stack_push(ps, 0, 1)); // pos leaves out checked redzones
    *in_stack = data >= lo && data < hi;
    long sum = 0;
    for (int v : values)
        sum += v;
    return sum;
}

} // namespace

extern "C" long no_exceptions_vector_sum(PageStack *ps, int count, int through_pmr, int *in_stack)
{
    if (through_pmr) {
        frame_arena::PageStackResource memory(ps);
        std::pmr::vector<int> values(&memory);
        return sum_in_stack(ps, values, count, in_stack);
    }
    std::vector<int, frame_arena::StackAllocator<int>> values{frame_arena::StackAllocator<int>(ps)};
    return sum_in_stack(ps, values, count, in_stack);
}

extern "C" uint32_t *no_exceptions_stack_allocate(PageStack *ps, size_t count)
{
    return frame_arena::StackAllocator<uint32_t>(ps).allocate(count);
}

extern "C" void *no_exceptions_allocate(PageStack *ps, size_t bytes, size_t align)
{
    frame_arena::PageStackResource memory(ps);
    // Through the base class, as a container calls it, and through a pointer
    // the compiler cannot see through: a call it can resolve is inlined, and
    // an inlined copy would hide what the linker chose for the program.
    std::pmr::memory_resource *volatile base = &memory;
    return base->allocate(bytes, align);
}

namespace {
size_t tickets_destroyed;
struct Ticket {
    ~Ticket() { tickets_destroyed++; }
};
} // namespace

extern "C" uint64_t no_exceptions_frames(FrameArena *fa, int count, size_t *destroyed)
{
    tickets_destroyed = 0;
    for (int i = 0; i < count; i++) {
        frame_arena::Frame frame(fa);
        if (!frame_arena::push_new<Ticket>(frame.stack()))
            return 0;
    }
    *destroyed = tickets_destroyed;
    return frame_arena_stats(fa).frames;
}
