// frame_arena.hpp: construction in place, destructors at pop and reset,
// RAII scopes and the pmr resource. Compiled as C++17.
#include <criterion/criterion.h>

#include "frame_arena.hpp"
#include "test_list.h"

#include <cstdint>
#include <cstring>
#include <list>
#include <map>
#include <memory_resource>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

std::vector<int> destroyed; // the order destructors ran in

struct Tracked {
    int id;
    std::string name; // a real RAII member: LeakSanitizer sees it if ~Tracked never runs
    explicit Tracked(int i) : id(i), name(std::string(64, char('a' + i % 26))) {}
    ~Tracked() { destroyed.push_back(id); }
};

struct alignas(256) OverAligned {
    unsigned char bytes[40];
    int value = 7;
};

int built_before_throw = 0;
struct ThrowsOnFifth {
    ThrowsOnFifth()
    {
        if (built_before_throw == 4)
            throw std::runtime_error("fifth");
        built_before_throw++;
    }
    ~ThrowsOnFifth() { destroyed.push_back(-1); }
};

// A stack whose first pages are committed: on a new stack the first push
// commits them, out of line, and push_new's single push is for the pushes
// after it (in the builds that push inline at all).
PageStack *committed_stack()
{
    PageStack *ps = page_stack_create(nullptr);
    page_stack_push(ps, 1, 1);
    page_stack_reset(ps);
    return ps;
}

} // namespace

Test(cpp, push_new_constructs_in_place_and_reset_destroys_newest_first)
{
    destroyed.clear();
    PageStack *ps = page_stack_create(nullptr);
    Tracked *a = frame_arena::push_new<Tracked>(ps, 1);
    Tracked *b = frame_arena::push_new<Tracked>(ps, 2);
    Tracked *c = frame_arena::push_new<Tracked>(ps, 3);
    cr_assert_eq(a->id, 1);
    cr_assert_eq(c->name.size(), 64u);
    cr_assert_eq(reinterpret_cast<uintptr_t>(b) % alignof(Tracked), 0u);
    cr_assert(destroyed.empty());
    page_stack_reset(ps);
    cr_assert_eq(destroyed, (std::vector<int>{3, 2, 1}));
    page_stack_destroy(ps);
}

Test(cpp, pop_destroys_only_what_it_passes)
{
    destroyed.clear();
    PageStack *ps = page_stack_create(nullptr);
    frame_arena::push_new<Tracked>(ps, 10);
    size_t before = page_stack_pos(ps);
    {
        frame_arena::StackScope scope(ps);
        frame_arena::push_new<Tracked>(ps, 11);
        frame_arena::push_new<Tracked>(ps, 12);
    }
    cr_assert_eq(destroyed, (std::vector<int>{12, 11}));
    cr_assert_eq(page_stack_pos(ps), before, "the scope pops back to its mark");
    page_stack_destroy(ps);
    cr_assert_eq(destroyed, (std::vector<int>{12, 11, 10}), "destroy runs the rest");
}

Test(cpp, trivially_destructible_types_cost_just_a_push)
{
    PageStack *ps = committed_stack(); // where push_new could push a record inline
    int *x = frame_arena::push_new<int>(ps, 42);
    cr_assert_eq(*x, 42);
    cr_assert_eq(page_stack_pos(ps), sizeof(int));
    double *d = frame_arena::push_new_array<double>(ps, 100);
    for (int i = 0; i < 100; i++)
        cr_assert_eq(d[i], 0.0, "value-initialised");
    cr_assert_eq(page_stack_pos(ps), 8 + 100 * sizeof(double), "no cleanup record");
    page_stack_destroy(ps);
}

Test(cpp, arrays_are_value_initialised_and_destroyed_in_reverse)
{
    destroyed.clear();
    struct Counted {
        int id = 0;
        ~Counted() { destroyed.push_back(id); }
    };
    PageStack *ps = page_stack_create(nullptr);
    Counted *arr = frame_arena::push_new_array<Counted>(ps, 4);
    for (int i = 0; i < 4; i++) {
        cr_assert_eq(arr[i].id, 0);
        arr[i].id = i;
    }
    page_stack_reset(ps);
    cr_assert_eq(destroyed, (std::vector<int>{3, 2, 1, 0}));
    // An empty array lies at the top: its cleanup, over nothing, is registered.
    cr_assert_not_null(frame_arena::push_new_array<Counted>(ps, 0));
    cr_assert_not_null(frame_arena::push_new<Counted>(ps));
    page_stack_reset(ps);
    cr_assert_eq(destroyed, (std::vector<int>{3, 2, 1, 0, 0}));
    page_stack_destroy(ps);
}

// On a new stack (separate calls) and on committed pages (one push).
Test(cpp, a_throwing_constructor_unwinds_the_ones_built)
{
    for (PageStack *ps : {page_stack_create(nullptr), committed_stack()}) {
        destroyed.clear();
        built_before_throw = 0;
        bool thrown = false;
        try {
            frame_arena::push_new_array<ThrowsOnFifth>(ps, 10);
        } catch (const std::runtime_error &) {
            thrown = true;
        }
        cr_assert(thrown);
        cr_assert_eq(destroyed.size(), 4u, "the four built were destroyed");
        page_stack_reset(ps);
        cr_assert_eq(destroyed.size(), 4u, "and no cleanup was left behind");
        page_stack_destroy(ps);
    }
}

// push_new pushes the object and its record at once where a push is inline:
// two pushes, counted as two, the record right after the object; a pop to a
// mark taken right after it leaves the object, one taken right before
// destroys it.
Test(cpp, push_new_counts_two_pushes_and_its_object_dies_with_its_record)
{
    destroyed.clear();
    PageStack *ps = committed_stack();
    page_stack_push(ps, 8, 8); // the top a word past a multiple of 16
    PageStackMark before = page_stack_mark(ps);
    uint64_t pushes = page_stack_stats(ps).pushes;
    Tracked *t = frame_arena::push_new<Tracked>(ps, 4);
    cr_assert_eq(page_stack_stats(ps).pushes, pushes + 2, "the object and its record");
    cr_assert_eq(t->id, 4);
#ifndef FRAME_ARENA_CHECKED // the checked build keeps a redzone after every block
    cr_assert_eq(reinterpret_cast<uintptr_t>(t), ps->base + 8, "the object at the top");
    size_t record_at = (sizeof(Tracked) + alignof(void *) - 1) / alignof(void *) * alignof(void *);
    cr_assert_eq(page_stack_pos(ps), 8 + record_at + 5 * sizeof(void *), "its record right after it, five words");
#endif
    PageStackMark after = page_stack_mark(ps);
    frame_arena::push_new<Tracked>(ps, 5);
    page_stack_pop_to(after);
    cr_assert_eq(destroyed, (std::vector<int>{5}), "the first object lives on");
    page_stack_pop_to(before);
    cr_assert_eq(destroyed, (std::vector<int>{5, 4}));
    page_stack_reset(ps);
    cr_assert_eq(destroyed.size(), 2u, "each once");
    page_stack_destroy(ps);
}

// A constructor that pushes to the stack it is built in: its object's record
// goes above what it pushed, as separate calls to the push and to
// page_stack_push_cleanup place it, so that a pop to a mark the constructor
// took first releases both records, the outer object's first.
namespace {

PageStackMark mark_in_constructor;

struct Inner {
    ~Inner() { destroyed.push_back(2); }
};

struct BuildsInner {
    Inner *inner;
    explicit BuildsInner(PageStack *ps)
    {
        mark_in_constructor = page_stack_mark(ps);
        inner = frame_arena::push_new<Inner>(ps);
    }
    ~BuildsInner() { destroyed.push_back(1); }
};

} // namespace

Test(cpp, an_object_whose_constructor_pushes_gets_its_record_above_what_it_pushed)
{
    destroyed.clear();
    PageStack *ps = committed_stack();
    BuildsInner *outer = frame_arena::push_new<BuildsInner>(ps, ps);
    cr_assert_not_null(outer->inner);
    page_stack_pop_to(mark_in_constructor);
    cr_assert_eq(destroyed, (std::vector<int>{1, 2}), "the pop released both records");
    page_stack_reset(ps);
    cr_assert_eq(destroyed, (std::vector<int>{1, 2}), "and the reset found none");
    page_stack_destroy(ps);
}

// A constructor that throws leaves no record: nothing is destroyed later.
namespace {

struct ThrowsAlways {
    ThrowsAlways() { throw std::runtime_error("always"); }
    ~ThrowsAlways() { destroyed.push_back(-2); }
};

} // namespace

Test(cpp, push_new_of_a_throwing_constructor_registers_nothing)
{
    destroyed.clear();
    PageStack *ps = committed_stack();
    bool thrown = false;
    try {
        frame_arena::push_new<ThrowsAlways>(ps);
    } catch (const std::runtime_error &) {
        thrown = true;
    }
    cr_assert(thrown);
    frame_arena::push_new<Tracked>(ps, 9);
    page_stack_reset(ps);
    cr_assert_eq(destroyed, (std::vector<int>{9}));
    page_stack_destroy(ps);
}

// Runs `push` on a stack that commits a page at a time, where most objects
// and their records do not fit below the commit end and the separate calls
// take over, then checks that the reset destroyed the `made` objects, ids 0
// to made - 1, each once, newest first.
template <class Push>
void check_destroyed_across_commits(int made, Push push)
{
    destroyed.clear();
    PageStackDesc desc{};
    desc.commit_size = os_vm_page_size();
    PageStack *ps = page_stack_create(&desc);
    push(ps);
    cr_assert_gt(page_stack_stats(ps).commits, 10u);
    page_stack_reset(ps);
    cr_assert_eq(destroyed.size(), static_cast<size_t>(made));
    for (int k = 0; k < made; k++)
        cr_assert_eq(destroyed[static_cast<size_t>(k)], made - 1 - k);
    page_stack_destroy(ps);
}

Test(cpp, push_new_across_commits_destroys_each_object_once_newest_first)
{
    const int n = 3000;
    check_destroyed_across_commits(n, [&](PageStack *ps) {
        for (int i = 0; i < n; i++)
            cr_assert_eq(frame_arena::push_new<Tracked>(ps, i)->id, i);
    });
}

// push_new_array on committed pages: the array and its record in one push,
// counted as two, laid out as the separate calls lay them out; the array
// dies with its record, its elements newest first.
namespace {

struct Numbered {
    int id = 0;
    ~Numbered() { destroyed.push_back(id); }
};

} // namespace

Test(cpp, push_new_array_counts_two_pushes_and_its_array_dies_with_its_record)
{
    destroyed.clear();
    PageStack *ps = committed_stack();
    page_stack_push(ps, 8, 8); // the top a word past a multiple of 16
    PageStackMark before = page_stack_mark(ps);
    uint64_t pushes = page_stack_stats(ps).pushes;
    const size_t count = 3; // 12 bytes: a word's padding before the record on 64-bit
    Numbered *arr = frame_arena::push_new_array<Numbered>(ps, count);
    cr_assert_eq(page_stack_stats(ps).pushes, pushes + 2, "the array and its record");
    for (size_t i = 0; i < count; i++) {
        cr_assert_eq(arr[i].id, 0, "value-initialised");
        arr[i].id = static_cast<int>(i) + 1;
    }
#ifndef FRAME_ARENA_CHECKED // the checked build keeps a redzone after every block
    cr_assert_eq(reinterpret_cast<uintptr_t>(arr), ps->base + 8, "the array at the top");
    size_t record_at = (count * sizeof(Numbered) + alignof(void *) - 1) / alignof(void *) * alignof(void *);
    cr_assert_eq(page_stack_pos(ps), 8 + record_at + 5 * sizeof(void *), "its record right after it, five words");
#endif
    PageStackMark after = page_stack_mark(ps);
    frame_arena::push_new_array<Numbered>(ps, 2)[1].id = 9;
#ifndef FRAME_ARENA_CHECKED
    cr_assert_eq(page_stack_pos(ps), after.pos + 2 * sizeof(Numbered) + 5 * sizeof(void *),
                 "an array of whole words has its record right after it, with no padding");
#endif
    page_stack_pop_to(after);
    cr_assert_eq(destroyed, (std::vector<int>{9, 0}), "the first array lives on");
    page_stack_pop_to(before);
    cr_assert_eq(destroyed, (std::vector<int>{9, 0, 3, 2, 1}));
    // An empty array on committed pages: its record, over nothing, is registered.
    cr_assert_not_null(frame_arena::push_new_array<Numbered>(ps, 0));
    cr_assert_eq(page_stack_stats(ps).pushes, pushes + 6, "an empty array counts its two pushes too");
    page_stack_reset(ps);
    cr_assert_eq(destroyed.size(), 5u, "each once, and nothing for the empty array");
    page_stack_destroy(ps);
}

// An array element whose constructor does more than take its id: what
// on_element says, given the id (from 1) and the stack the array is in.
namespace {

PageStack *elements_in;
int elements_built;
void (*on_element)(PageStack *ps, int id);

struct Element {
    int id;
    Element() : id(++elements_built) { on_element(elements_in, id); }
    ~Element() { destroyed.push_back(id); }
};

} // namespace

// Elements whose constructors push to the stack: the array's record goes
// above what they pushed, as with the separate calls, so that a pop to a
// mark the first constructor took releases the array first, then what each
// element pushed.
Test(cpp, an_array_whose_constructors_push_gets_its_record_above_what_they_pushed)
{
    destroyed.clear();
    elements_built = 0;
    on_element = [](PageStack *ps, int id) {
        if (id == 1)
            mark_in_constructor = page_stack_mark(ps);
        frame_arena::push_new<Tracked>(ps, 100 + id);
    };
    PageStack *ps = elements_in = committed_stack();
    Element *arr = frame_arena::push_new_array<Element>(ps, 3);
    cr_assert_eq(arr[2].id, 3);
    page_stack_pop_to(mark_in_constructor);
    cr_assert_eq(destroyed, (std::vector<int>{3, 2, 1, 103, 102, 101}), "the pop released every record");
    page_stack_reset(ps);
    cr_assert_eq(destroyed.size(), 6u, "and the reset found none");
    page_stack_destroy(ps);
}

// The same with arrays: each element destroyed once, newest first.
Test(cpp, push_new_array_across_commits_destroys_each_element_once_newest_first)
{
    const int n = 1000, length = 7;
    check_destroyed_across_commits(n * length, [&](PageStack *ps) {
        for (int i = 0; i < n; i++) {
            Numbered *arr = frame_arena::push_new_array<Numbered>(ps, length);
            for (int j = 0; j < length; j++)
                arr[j].id = i * length + j;
        }
    });
}

static void ignore_failure(PageStack *, size_t, size_t, void *) {}

// A count whose bytes overflow, or do not fit the stack: push_new_array
// returns nullptr where on_fail returns, with the push's error, builds
// nothing and leaves the stack as it was, on committed pages or not.
Test(cpp, push_new_array_of_too_many_fails_and_builds_nothing)
{
    destroyed.clear();
    for (int committed = 0; committed < 2; committed++) {
        PageStackDesc desc{};
        desc.reserve_size = 64 << 10;
        desc.on_fail = ignore_failure; // a failed push returns NULL
        PageStack *ps = page_stack_create(&desc);
        if (committed) {
            page_stack_push(ps, 1, 1);
            page_stack_reset(ps);
        }
        const size_t edge = SIZE_MAX / sizeof(Numbered);
        struct Case {
            size_t count;
            PageStackError error;
        } cases[] = {{(64 << 10) / sizeof(Numbered) + 1, PageStackError_OutOfReserve}, // one more than fits
                     {SIZE_MAX / 2 / sizeof(Numbered) + 1, PageStackError_OutOfReserve},
                     {edge, PageStackError_OutOfReserve},
                     {edge + 1, PageStackError_SizeOverflow},
                     {SIZE_MAX, PageStackError_SizeOverflow}};
        for (const Case &c : cases) {
            cr_assert_null(frame_arena::push_new_array<Numbered>(ps, c.count), "count %zu", c.count);
            cr_assert_eq(page_stack_last_error(ps), c.error, "count %zu: error %d, not %d", c.count,
                         page_stack_last_error(ps), c.error);
        }
        PageStackStats st = page_stack_stats(ps);
        cr_assert_eq(st.failed_pushes, sizeof cases / sizeof cases[0]);
        cr_assert_eq(st.pos, 0u, "failed pushes leave the stack as it was");
        cr_assert_not_null(frame_arena::push_new_array<Numbered>(ps, 4), "and it serves the next");
        page_stack_destroy(ps);
        cr_assert_eq(destroyed.size(), 4u * static_cast<size_t>(committed + 1), "only those were built");
    }
}

// Pushes what `make` builds into a 64 KiB stack left with sizeof(T) + gap
// bytes, for every gap up to 256, and checks what happens when the object
// fits but its cleanup record does not: make returns nullptr, the object was
// destroyed there, once, and a reset destroys nothing more. Returns in how
// many gaps that happened.
template <class T, class Make>
int fill_until_the_record_does_not_fit(size_t objects, Make make)
{
    int caught = 0;
    for (size_t gap = 0; gap < 256; gap += 8) {
        destroyed.clear();
        PageStackDesc desc{};
        desc.reserve_size = 64 * 1024;
        desc.on_fail = ignore_failure; // a failed push returns NULL
        PageStack *ps = page_stack_create(&desc);
        size_t room = page_stack_stats(ps).reserved;
        page_stack_push(ps, room - objects * sizeof(T) - gap, 1);
        T *made = make(ps);
        size_t after_make = destroyed.size();
        if (!made && after_make > 0) {
            caught++;
            cr_assert_eq(after_make, objects, "gap %zu: every object destroyed once", gap);
        }
        page_stack_reset(ps);
        cr_assert_eq(destroyed.size(), made ? objects : after_make, "gap %zu: destroyed %zu times", gap,
                     destroyed.size());
        page_stack_destroy(ps);
    }
    return caught;
}

Test(cpp, an_object_whose_cleanup_record_does_not_fit_is_destroyed_and_not_returned)
{
    int caught = fill_until_the_record_does_not_fit<Tracked>(1, [](PageStack *ps) {
        return frame_arena::push_new<Tracked>(ps, 7);
    });
    cr_assert_gt(caught, 0, "no gap left room for the object and none for its record");
    struct Counted {
        int id = 5;
        ~Counted() { destroyed.push_back(id); }
    };
    caught = fill_until_the_record_does_not_fit<Counted>(3, [](PageStack *ps) {
        return frame_arena::push_new_array<Counted>(ps, 3);
    });
    cr_assert_gt(caught, 0, "no gap left room for the array and none for its record");
}

// A constructor that fills the stack to the end: the record it then needs
// above what it pushed does not fit, and push_new destroys the object and
// returns nullptr, as when the record alone does not fit.
namespace {

void fill_to_the_end(PageStack *ps)
{
    size_t room = page_stack_stats(ps).reserved - page_stack_pos(ps);
    while (room > 0 && !page_stack_try_push(ps, room, 1)) // the checked build's redzones take a few bytes
        room--;
}

struct FillsTheStack {
    explicit FillsTheStack(PageStack *ps) { fill_to_the_end(ps); }
    ~FillsTheStack() { destroyed.push_back(3); }
};

} // namespace

Test(cpp, an_object_whose_constructor_fills_the_stack_is_destroyed_and_not_returned)
{
    destroyed.clear();
    PageStackDesc desc{};
    desc.reserve_size = 64 * 1024;
    desc.initial_commit = 64 * 1024; // all of it: the object and its record fit inline
    desc.on_fail = ignore_failure;
    PageStack *ps = page_stack_create(&desc);
    cr_assert_null(frame_arena::push_new<FillsTheStack>(ps, ps));
    cr_assert_eq(destroyed, (std::vector<int>{3}), "destroyed once, there");
    page_stack_reset(ps);
    cr_assert_eq(destroyed, (std::vector<int>{3}), "and not registered");
    page_stack_destroy(ps);
}

Test(cpp, an_array_whose_constructor_fills_the_stack_is_destroyed_and_not_returned)
{
    destroyed.clear();
    elements_built = 0;
    on_element = [](PageStack *ps, int id) {
        if (id == 2) // the array's record, above what it pushed, does not fit
            fill_to_the_end(ps);
    };
    PageStackDesc desc{};
    desc.reserve_size = 64 * 1024;
    desc.initial_commit = 64 * 1024; // all of it: the array and its record fit inline
    desc.on_fail = ignore_failure;
    PageStack *ps = elements_in = page_stack_create(&desc);
    cr_assert_null(frame_arena::push_new_array<Element>(ps, 3));
    cr_assert_eq(destroyed, (std::vector<int>{3, 2, 1}), "each element destroyed once, there, newest first");
    page_stack_reset(ps);
    cr_assert_eq(destroyed.size(), 3u, "and none registered");
    page_stack_destroy(ps);
}

Test(cpp, over_aligned_types_get_their_alignment)
{
    PageStack *ps = page_stack_create(nullptr);
    page_stack_push(ps, 3, 1);
    OverAligned *o = frame_arena::push_new<OverAligned>(ps);
    cr_assert_eq(reinterpret_cast<uintptr_t>(o) % 256, 0u);
    cr_assert_eq(o->value, 7);
    OverAligned *arr = frame_arena::push_new_array<OverAligned>(ps, 3);
    cr_assert_eq(reinterpret_cast<uintptr_t>(arr) % 256, 0u);
    page_stack_destroy(ps);
}

Test(cpp, frame_objects_die_when_their_buffer_is_reused)
{
    destroyed.clear();
    FrameArena *fa = frame_arena_create(nullptr);
    frame_arena::push_new<Tracked>(frame_arena_begin(fa), 100);
    frame_arena_end(fa);
    frame_arena::push_new<Tracked>(frame_arena_begin(fa), 101);
    frame_arena_end(fa);
    cr_assert(destroyed.empty(), "both frames are still in flight");
    frame_arena_begin(fa);
    cr_assert_eq(destroyed, (std::vector<int>{100}));
    frame_arena_end(fa);
    frame_arena_destroy(fa);
    cr_assert_eq(destroyed, (std::vector<int>{100, 101}));
}

Test(cpp, a_frame_begins_and_ends_with_its_scope)
{
    FrameArenaDesc desc{};
    desc.name = "scoped";
    desc.lanes = 2;
    FrameArena *fa = frame_arena_create(&desc);
    PageStack *first;
    {
        frame_arena::Frame frame(fa);
        first = frame.stack();
        cr_assert_eq(first, frame_arena_stack(fa, 0));
        cr_assert_eq(frame.lane(0), first);
        cr_assert_eq(frame.lane(1), frame_arena_lane(fa, 1, 0));
        cr_assert_eq(frame.number(), 0u);
        page_stack_push(frame.lane(1), 100, 8);
    }
    FrameArenaStats st = frame_arena_stats(fa);
    cr_assert_eq(st.frames, 1u, "ended at the end of the scope");
    cr_assert_eq(st.last.used, 100u);
    try {
        frame_arena::Frame frame(fa);
        cr_assert_eq(frame.number(), 1u);
        throw std::runtime_error("a system failed");
    } catch (const std::runtime_error &) {
    }
    cr_assert_eq(frame_arena_stats(fa).frames, 2u, "an exception ends the frame too");
    {
        frame_arena::Frame frame(fa); /* fatal if either frame were still open */
        cr_assert_eq(frame.stack(), first, "the buffers rotate");
    }
    frame_arena_destroy(fa);
}

Test(cpp, scratch_scope_avoids_its_conflicts_and_ends_itself)
{
    PageStack *frame = page_stack_create(nullptr);
    PageStack *used;
    size_t pos;
    {
        frame_arena::ScratchScope outer;
        used = outer.stack();
        pos = page_stack_pos(used);
        page_stack_push(outer.stack(), 100, 1);
        frame_arena::ScratchScope inner({outer.stack(), frame});
        cr_assert_neq(inner.stack(), outer.stack());
        cr_assert_neq(inner.stack(), frame);
    }
    cr_assert_eq(page_stack_pos(used), pos, "both scopes ended");
    cr_assert_eq(scratch_open_scopes(), 0u);
    page_stack_destroy(frame);
}

Test(cpp, pmr_containers_allocate_from_the_frame)
{
    PageStack *ps = page_stack_create(nullptr);
    frame_arena::PageStackResource memory(ps);
    const auto *lo = static_cast<const char *>(page_stack_push(ps, 0, 1));
    {
        std::pmr::vector<int> values(&memory);
        for (int i = 0; i < 10000; i++)
            values.push_back(i);
        cr_assert_eq(values[9999], 9999);
        const char *data = reinterpret_cast<const char *>(values.data());
        cr_assert(data >= lo && data < lo + page_stack_pos(ps), "the storage is in the stack");
        std::pmr::string text("frame memory, not the heap: a string long enough to allocate", &memory);
        cr_assert_eq(text.size(), 60u);
    }
    cr_assert_gt(page_stack_stats(ps).pushes, 10u, "the vector grew by pushes");
    cr_assert(memory.is_equal(memory), "a resource is equal to itself"); // std's == looks at the address first
    bool threw = false;
    PageStackDesc desc{};
    desc.reserve_size = 64 << 10;
    PageStack *tiny = page_stack_create(&desc);
    frame_arena::PageStackResource small(tiny);
    try {
        std::pmr::vector<char> big(1 << 20, 'x', &small);
    } catch (const std::bad_alloc &) {
        threw = true;
    }
    cr_assert(threw, "an allocation the stack cannot serve throws bad_alloc");
    page_stack_destroy(tiny);
    page_stack_destroy(ps);
}

// Whether alloc.allocate(n) throws std::bad_alloc.
template <class Allocator> static bool allocate_throws(Allocator &alloc, size_t n)
{
    try {
        (void)alloc.allocate(n);
    } catch (const std::bad_alloc &) {
        return true;
    }
    return false;
}

Test(cpp, stack_allocator_containers_allocate_from_the_stack)
{
    PageStack *ps = page_stack_create(nullptr);
    const auto *lo = static_cast<const char *>(page_stack_push(ps, 0, 1));
    auto inside = [&](const void *p) { // between lo and a push made now (pos leaves out the checked build's redzones)
        const auto *hi = static_cast<const char *>(page_stack_push(ps, 0, 1));
        return static_cast<const char *>(p) >= lo && static_cast<const char *>(p) < hi;
    };
    frame_arena::StackAllocator<int> ints(ps);
    {
        std::vector<int, frame_arena::StackAllocator<int>> values(ints);
        for (int i = 0; i < 10000; i++)
            values.push_back(i);
        cr_assert_eq(values[9999], 9999);
        cr_assert(inside(values.data()), "the vector's storage is in the stack");
        std::list<int, frame_arena::StackAllocator<int>> list(ints); // its nodes: the allocator rebound
        list.push_back(7);
        cr_assert(inside(&list.front()), "the list's node is in the stack");
        using Pair = std::pair<const int, std::string>;
        std::map<int, std::string, std::less<int>, frame_arena::StackAllocator<Pair>> map{
            frame_arena::StackAllocator<Pair>(ps)};
        map[3] = "three";
        cr_assert(inside(&*map.begin()), "the map's node is in the stack");
        cr_assert_eq(map.get_allocator().stack(), ps);
    }
    frame_arena::StackAllocator<double> doubles(ints);
    cr_assert(doubles == ints && !(doubles != ints), "a rebound copy shares the stack and compares equal");
    PageStack *other = page_stack_create(nullptr);
    cr_assert(frame_arena::StackAllocator<int>(other) != ints);

    size_t pos = page_stack_pos(ps);
    int *older = ints.allocate(3);
    size_t after_older = page_stack_pos(ps);
    int *last = ints.allocate(10);
    cr_assert_eq(reinterpret_cast<uintptr_t>(last) % alignof(int), 0u);
    size_t top = page_stack_pos(ps);
    ints.deallocate(older, 3);
    cr_assert_eq(page_stack_pos(ps), top, "a block that is not the last push stays");
    ints.deallocate(last, 10);
    cr_assert_eq(page_stack_pos(ps), after_older, "the last push is given back");
    cr_assert_gt(after_older, pos);

    PageStackDesc desc{};
    desc.reserve_size = 64 << 10;
    PageStack *tiny = page_stack_create(&desc);
    frame_arena::StackAllocator<char> small(tiny);
    for (size_t n : {size_t(1) << 20, SIZE_MAX / 2}) // more than the stack holds, more than any stack holds
        cr_assert(allocate_throws(small, n), "allocate(%zu) throws bad_alloc", n);
    frame_arena::StackAllocator<std::uint64_t> words(tiny);
    // The largest count whose bytes fit fails for the room, one more for
    // the overflow, as the C array macros do.
    const size_t edge = SIZE_MAX / sizeof(std::uint64_t);
    for (size_t n : {edge, edge + 1, SIZE_MAX / 4}) {
        cr_assert(allocate_throws(words, n), "allocate(%zu) throws bad_alloc", n);
        PageStackError want = n == edge ? PageStackError_OutOfReserve : PageStackError_SizeOverflow;
        cr_assert_eq(page_stack_last_error(tiny), want, "allocate(%zu): error %d, not %d", n,
                     page_stack_last_error(tiny), want);
    }
    PageStackStats st = page_stack_stats(tiny);
    cr_assert_eq(st.failed_pushes, 5u);
    cr_assert_eq(st.pos, 0u, "failed pushes leave the stack as it was");
    page_stack_destroy(tiny);
    page_stack_destroy(other);
    page_stack_destroy(ps);
}

Test(cpp, a_cursor_pushes_and_ends_with_its_scope)
{
    PageStack *ps = page_stack_create(nullptr);
    float *xs;
    {
        frame_arena::Cursor out(ps);
        cr_assert_eq(out.stack(), ps);
        xs = out.push_zeroed<float>(100);
        for (int i = 0; i < 100; i++)
            cr_assert_eq(xs[i], 0.0f, "zeroed");
        auto *ids = out.push_uninit<std::uint32_t>(10);
        cr_assert_geq(reinterpret_cast<char *>(ids), reinterpret_cast<char *>(xs + 100), "after the floats");
        for (std::uint32_t i = 0; i < 10; i++)
            ids[i] = 7 * i + 1;
        const std::uint32_t *copy = out.push_copy(ids, 10); /* a block of the cursor's own: live */
        cr_assert_eq(std::memcmp(copy, ids, 10 * sizeof *ids), 0);
        cr_assert_null(out.try_push(size_t(1) << 62, 16));
        cr_assert_not_null(out.push(8, 8));
    }
    cr_assert_eq(page_stack_pos(ps), 100 * sizeof(float) + 20 * sizeof(std::uint32_t) + 8,
                 "ended: the stack has it all");
    cr_assert_eq(page_stack_stats(ps).pushes, 4u);
    page_stack_reset(ps); /* fatal if the cursor were still open */
    page_stack_destroy(ps);
}
