// frame_arena.hpp: C++17 on top of the C library. Header-only.
//
// Objects are constructed in place in a page stack; those whose type has a
// non-trivial destructor get it run, newest first, when the stack pops past
// them or resets (the record lives in the stack: page_stack_push_cleanup).
// Trivially destructible types cost exactly a push. RAII guards end marks and
// scratch scopes, Frame begins and ends a frame, and containers allocate
// from a frame through PageStackResource (std::pmr) or StackAllocator<T>
// (the standard containers' allocator parameter).
//
//     PageStack *frame = frame_arena_begin(fa);
//     auto *names = frame_arena::push_new<std::vector<std::string>>(frame);   // destroyed at the reset
//     frame_arena::PageStackResource mem(frame);
//     std::pmr::vector<Vertex> verts(&mem);                                   // storage in the frame
//     {
//         frame_arena::ScratchScope tmp({frame});   // never the frame itself
//         char *buf = static_cast<char *>(page_stack_push(tmp.stack(), 4096, 1));
//     }                                             // scratch_end here
//     {
//         frame_arena::Cursor out(frame);               // pushes in a hot loop
//         float *xs = out.push_uninit<float>(n);
//     }                                             // page_stack_cursor_end here
//
// push_new returns nullptr when the stack cannot serve the push and its
// on_fail returns (the default on_fail aborts); a constructor that throws
// leaves no cleanup behind. When the object fits but the record that runs
// its destructor does not (page_stack_push_cleanup fails without on_fail),
// push_new and push_new_array destroy what they built and return nullptr.
//
// It also builds with exceptions off (-fno-exceptions, and -fno-rtti): then
// no constructor can throw, and an allocation PageStackResource or
// StackAllocator cannot serve is fatal (one line naming the stack and the
// request) where it would throw std::bad_alloc, since a container must not
// be handed nullptr.
// The two builds of this header put everything in different inline
// namespaces (frame_arena::with_exceptions, frame_arena::no_exceptions), so
// files built each way can share a program: the linker never swaps one's
// inline functions for the other's.
#ifndef FRAME_ARENA_FRAME_ARENA_HPP
#define FRAME_ARENA_FRAME_ARENA_HPP

#include "allocator.h"
#include "frame_arena.h"
#include "os_vm.h"
#include "scratch.h"

#include <cstddef>
#include <initializer_list>
#include <memory_resource>
#include <new>
#include <type_traits>
#include <utility>

// __cpp_exceptions: gcc and clang, while exceptions are on; _CPPUNWIND: MSVC's /EHsc.
#if defined(__cpp_exceptions) || defined(_CPPUNWIND)
#define FRAME_ARENA_EXCEPTIONS 1
#define FRAME_ARENA_EXCEPTIONS_NAMESPACE with_exceptions
#else
#define FRAME_ARENA_EXCEPTIONS 0
#define FRAME_ARENA_EXCEPTIONS_NAMESPACE no_exceptions
#endif

// The cursor's members and StackAllocator::allocate are always inlined, as
// page_stack.h's pushes are (PAGE_STACK_INLINE): left to the compiler, a
// build for size (-Os) calls them, and a call takes the cursor's address,
// so its top leaves the register it is for.
#if defined(__GNUC__) || defined(__clang__)
#define FRAME_ARENA_INLINE_ __attribute__((always_inline)) inline
#elif defined(_MSC_VER)
#define FRAME_ARENA_INLINE_ __forceinline
#else
#define FRAME_ARENA_INLINE_ inline
#endif

namespace frame_arena {
inline namespace FRAME_ARENA_EXCEPTIONS_NAMESPACE {

namespace detail {
// push_new's cleanup: one destructor, no loop.
template <class T>
void destroy_one(void *object, size_t)
{
    static_cast<T *>(object)->~T();
}

template <class T>
void destroy_array(void *object, size_t count)
{
    T *first = static_cast<T *>(object);
    for (size_t i = count; i > 0; i--)
        first[i - 1].~T();
}

// A standard allocator's allocate that the stack cannot serve: std::bad_alloc,
// or with exceptions off one fatal line (a container must not get nullptr).
[[noreturn]] inline void allocation_failed(const PageStack *ps, const char *who, size_t bytes, size_t align)
{
#if FRAME_ARENA_EXCEPTIONS
    (void)ps, (void)who, (void)bytes, (void)align;
    throw std::bad_alloc();
#else
    os_vm_fatal("page_stack \"%s\": %s cannot allocate %zu bytes (align %zu): %s; exceptions are off, so there is "
                "no std::bad_alloc to throw",
                ps->name, who, bytes, align, page_stack_error_string(page_stack_last_error(ps)));
#endif
}

// A standard allocator's deallocate: gives [p, p + bytes) back if it is the
// stack's last push. Outside the checked build a block that does not end at
// the top (`last` + 1) is not the last push, and is left to the next pop or
// reset without the call (a node container frees its nodes oldest first,
// none of them the last push, and a growing vector its old storage). The
// checked build makes the call every time, for its checks.
inline void give_back_if_last(PageStack *ps, void *p, size_t bytes) noexcept
{
#ifndef FRAME_ARENA_CHECKED
    if (reinterpret_cast<uintptr_t>(p) + bytes != ps->last + 1)
        return;
#endif
    page_stack_free_last(ps, p, bytes);
}

// page_stack_push_array_with, left to the compiler: forced inline, as the C
// macros' is, it cost a std::list on StackAllocator two instructions a node
// at -O2 (bench/cpp_ir.py), the size's constant tests no longer folding.
// Unoptimised code calls the library's copy, count test included, as the
// C macros do (PAGE_STACK_PUSH_CALL): here that test would divide.
inline void *push_elements(PageStack *ps, size_t count, size_t size, size_t align, uint32_t how)
{
#if PAGE_STACK_PUSH_CALL
    return page_stack_push_array_call(ps, count, size, align, how);
#else
    if (size != 0 && count > SIZE_MAX / size)
        return page_stack_push_overflow(ps, align, how);
    return page_stack_push_inline(ps, count * size, align, how);
#endif
}

// The end of push_new's and push_new_array's single push of their objects
// and the record that destroys them: the record, reserved at `record` with
// `last` its last byte, is linked where the top is still there; a
// constructor that pushed to the stack (or popped it) moved the top, and
// the record goes to the new top by page_stack_push_cleanup, as separate
// calls would place it. False when that push fails: the caller destroys
// the objects.
FRAME_ARENA_INLINE_ bool link_or_push_record(PageStack *ps, uintptr_t record, uintptr_t last,
                                             void (*fn)(void *object, size_t count), void *object, size_t count)
{
    if (PAGE_STACK_LIKELY(ps->last == last)) {
        page_stack_link_record_(ps, reinterpret_cast<PageStackCleanup *>(record), last, fn, object, count);
        return true;
    }
    return page_stack_push_cleanup(ps, fn, object, count);
}
} // namespace detail

// One T constructed from args, in ps. Over-aligned types get their alignment.
template <class T, class... Args>
T *push_new(PageStack *ps, Args &&...args)
{
#if !PAGE_STACK_PUSH_CALL
    if constexpr (!std::is_trivially_destructible_v<T>) {
        // The object and its cleanup's record in one inline push, the record
        // right after the object, as page_stack_push_cleanup would place it
        // (the object aligned to at least a word), linked once the
        // constructor has returned (detail::link_or_push_record: a
        // constructor that pushed gets its record above what it pushed, so
        // that a pop releasing that reaches the record first). Where the two
        // do not fit inline, the separate calls below.
        constexpr size_t offset = (sizeof(T) + alignof(PageStackCleanup) - 1) & ~(alignof(PageStackCleanup) - 1);
        constexpr size_t align = alignof(T) > alignof(PageStackCleanup) ? alignof(T) : alignof(PageStackCleanup);
        uintptr_t last;
        if (PAGE_STACK_LIKELY(ps != nullptr) &&
            !page_stack_block_wraps(ps->last | (align - 1), offset + sizeof(PageStackCleanup), align, &last) &&
            PAGE_STACK_LIKELY(last < ps->end)) {
            uintptr_t p = (ps->last | (align - 1)) + 1;
            ps->last = last;
            ps->pushes += 2; // the object and its record, counted as the two calls count them
            T *object = ::new (reinterpret_cast<void *>(p)) T(std::forward<Args>(args)...);
            if (!detail::link_or_push_record(ps, p + offset, last, detail::destroy_one<T>, object, 1)) {
                object->~T();
                return nullptr;
            }
            return object;
        }
    }
#endif
    void *memory = page_stack_push(ps, sizeof(T), alignof(T));
    if (!memory)
        return nullptr;
    T *object = ::new (memory) T(std::forward<Args>(args)...);
    if constexpr (!std::is_trivially_destructible_v<T>) {
        if (!page_stack_push_cleanup(ps, detail::destroy_one<T>, object, 1)) {
            object->~T();
            return nullptr;
        }
    }
    return object;
}

namespace detail {
// Value-initialises first[0, count); a constructor that throws destroys
// those already built, in reverse, and the exception goes on.
template <class T>
void construct_array(T *first, size_t count)
{
#if FRAME_ARENA_EXCEPTIONS
    size_t built = 0;
    try {
        for (; built < count; built++)
            ::new (static_cast<void *>(first + built)) T();
    } catch (...) {
        destroy_array<T>(first, built);
        throw;
    }
#else
    for (size_t i = 0; i < count; i++) // nothing can throw
        ::new (static_cast<void *>(first + i)) T();
#endif
}
} // namespace detail

// count value-initialised T, in ps; destroyed in reverse order.
template <class T>
T *push_new_array(PageStack *ps, size_t count)
{
#if !PAGE_STACK_PUSH_CALL
    if constexpr (!std::is_trivially_destructible_v<T>) {
        // The array and its cleanup's record in one inline push, as push_new
        // makes for one object: the record right after the array, linked
        // once every constructor has returned. A count whose bytes come
        // near SIZE_MAX takes the separate calls, which report the overflow.
        constexpr size_t word = alignof(PageStackCleanup);
        constexpr size_t align = alignof(T) > word ? alignof(T) : word;
        uintptr_t last;
        if (PAGE_STACK_LIKELY(ps != nullptr) && PAGE_STACK_LIKELY(count <= SIZE_MAX / 2 / sizeof(T))) {
            size_t offset = (count * sizeof(T) + word - 1) & ~(word - 1);
            if (!page_stack_block_wraps(ps->last | (align - 1), offset + sizeof(PageStackCleanup), align, &last) &&
                PAGE_STACK_LIKELY(last < ps->end)) {
                uintptr_t p = (ps->last | (align - 1)) + 1;
                ps->last = last;
                ps->pushes += 2; // the array and its record, counted as the two calls count them
                T *first = reinterpret_cast<T *>(p);
                detail::construct_array<T>(first, count);
                if (!detail::link_or_push_record(ps, p + offset, last, detail::destroy_array<T>, first, count)) {
                    detail::destroy_array<T>(first, count);
                    return nullptr;
                }
                return first;
            }
        }
    }
#endif
    T *first = static_cast<T *>(page_stack_push_array_with(ps, count, sizeof(T), alignof(T), 0));
    if (!first)
        return nullptr;
    detail::construct_array<T>(first, count);
    if constexpr (!std::is_trivially_destructible_v<T>) {
        if (!page_stack_push_cleanup(ps, detail::destroy_array<T>, first, count)) {
            detail::destroy_array<T>(first, count);
            return nullptr;
        }
    }
    return first;
}

// A frame: frame_arena_begin when constructed, frame_arena_end when it goes
// out of scope (an early continue or an exception included).
//
//     for (;;) {
//         frame_arena::Frame frame(fa);
//         auto *hits = push_array(frame.stack(), Hit, n);   // or frame.lane(w) from worker w
//     }
class Frame {
public:
    explicit Frame(FrameArena *fa) : fa_(fa), stack_(frame_arena_begin(fa)) {}
    ~Frame() { frame_arena_end(fa_); }
    Frame(const Frame &) = delete;
    Frame &operator=(const Frame &) = delete;
    PageStack *stack() const { return stack_; } // lane 0's
    PageStack *lane(uint32_t lane) const { return frame_arena_lane(fa_, lane, 0); }
    uint64_t number() const { return frame_arena_frame(fa_); }

private:
    FrameArena *fa_;
    PageStack *stack_;
};

// Pops back to where it was taken when it goes out of scope. The two
// destructors below pass the mark's fields themselves, as page_stack_pop_to
// and scratch_end do: a compiler that keeps structs in memory (gcc's -Og)
// would copy the whole mark for those calls' parameter, with a load that
// waits for the stores that wrote it (docs/BENCHMARKS.md, "A mark at -Og").
class StackScope {
public:
    explicit StackScope(PageStack *ps) : mark_(page_stack_mark(ps)) {}
    ~StackScope() { page_stack_pop_to_pos(mark_.stack, mark_.pos, mark_.generation); }
    StackScope(const StackScope &) = delete;
    StackScope &operator=(const StackScope &) = delete;
    PageStack *stack() const { return mark_.stack; }

private:
    PageStackMark mark_;
};

// A scratch scope on a stack not in `conflicts`, ended when it goes out of scope.
class ScratchScope {
public:
    explicit ScratchScope(std::initializer_list<PageStack *> conflicts = {})
        : mark_(scratch_begin(conflicts.begin(), conflicts.size()))
    {
    }
    ~ScratchScope() { scratch_end_at(mark_.stack, mark_.pos, mark_.generation); }
    ScratchScope(const ScratchScope &) = delete;
    ScratchScope &operator=(const ScratchScope &) = delete;
    PageStack *stack() const { return mark_.stack; }

private:
    PageStackMark mark_;
};

// A cursor (page_stack.h: a run of pushes with the top in a register),
// ended when it goes out of scope. It cannot be copied, so the one misuse C
// cannot rule out at compile time is gone. Types must be trivial: a cleanup
// record cannot be pushed while a cursor is open.
//
//     frame_arena::Cursor out(frame);
//     for (...) { Vertex *v = out.push_uninit<Vertex>(4); ... }
class Cursor {
public:
    FRAME_ARENA_INLINE_ explicit Cursor(PageStack *ps) : c_(page_stack_cursor_begin(ps)) {}
    FRAME_ARENA_INLINE_ ~Cursor() { page_stack_cursor_end(&c_); }
    Cursor(const Cursor &) = delete;
    Cursor &operator=(const Cursor &) = delete;
    PageStack *stack() const { return c_.stack; }
    FRAME_ARENA_INLINE_ void *push(size_t size, size_t align) { return page_stack_cursor_push(&c_, size, align); }
    FRAME_ARENA_INLINE_ void *try_push(size_t size, size_t align)
    {
        return page_stack_cursor_try_push(&c_, size, align);
    }
    template <class T>
    FRAME_ARENA_INLINE_ T *push_zeroed(size_t count) // count zeroed T
    {
        static_assert(std::is_trivial_v<T>, "a cursor pushes trivial types only (no cleanups while it is open)");
        return static_cast<T *>(page_stack_cursor_push_array_with(&c_, count, sizeof(T), alignof(T),
                                                                  PageStackPush_Zero));
    }
    template <class T>
    FRAME_ARENA_INLINE_ T *push_uninit(size_t count) // count uninitialised T
    {
        static_assert(std::is_trivial_v<T>, "a cursor pushes trivial types only (no cleanups while it is open)");
        return static_cast<T *>(page_stack_cursor_push_array_with(&c_, count, sizeof(T), alignof(T), 0));
    }
    // A copy of count T from src, a block of this cursor's included.
    template <class T>
    FRAME_ARENA_INLINE_ T *push_copy(const T *src, size_t count)
    {
        return cursor_push_array_copy(&c_, T, src, count); // its static_assert: T trivially copyable
    }

private:
    PageStackCursor c_;
};

// std::pmr::memory_resource over a page stack: allocate pushes (std::bad_alloc
// when the stack cannot serve it; with exceptions off, a fatal line),
// deallocate gives back the last push only; everything else goes with the
// next pop or reset.
class PageStackResource : public std::pmr::memory_resource {
public:
    explicit PageStackResource(PageStack *ps) : ps_(ps) {}
    PageStack *stack() const { return ps_; }

private:
    void *do_allocate(size_t bytes, size_t alignment) override
    {
        void *p = page_stack_try_push(ps_, bytes, alignment);
        if (!p)
            detail::allocation_failed(ps_, "PageStackResource", bytes, alignment);
        return p;
    }
    void do_deallocate(void *p, size_t bytes, size_t) override { detail::give_back_if_last(ps_, p, bytes); }
    bool do_is_equal(const std::pmr::memory_resource &other) const noexcept override { return this == &other; }

    PageStack *ps_;
};

// An allocator for the standard containers over a page stack, as
// PageStackResource is for std::pmr but without its virtual call: the push
// is inlined into the container's growth. allocate pushes n T (std::bad_alloc
// when the stack cannot serve it, or n * sizeof(T) overflows; with
// exceptions off, a fatal line), deallocate gives back the last push only.
// Copies, and copies rebound to another type (a std::list's nodes, a
// std::map's), share the stack and compare equal.
//
//     using Verts = std::vector<Vertex, frame_arena::StackAllocator<Vertex>>;
//     Verts verts{frame_arena::StackAllocator<Vertex>(frame)};
template <class T>
class StackAllocator {
public:
    using value_type = T;
    explicit StackAllocator(PageStack *ps) noexcept : ps_(ps) {}
    template <class U>
    StackAllocator(const StackAllocator<U> &other) noexcept : ps_(other.stack()) // implicit: containers rebind
    {
    }
    PageStack *stack() const noexcept { return ps_; }
    FRAME_ARENA_INLINE_ T *allocate(size_t n)
    {
        void *p = detail::push_elements(ps_, n, sizeof(T), alignof(T), PageStackPush_Try);
        if (!p)
            detail::allocation_failed(ps_, "StackAllocator", n > SIZE_MAX / sizeof(T) ? SIZE_MAX : n * sizeof(T),
                                      alignof(T));
        return static_cast<T *>(p);
    }
    void deallocate(T *p, size_t n) noexcept { detail::give_back_if_last(ps_, p, n * sizeof(T)); }

private:
    PageStack *ps_;
};

template <class T, class U>
bool operator==(const StackAllocator<T> &a, const StackAllocator<U> &b) noexcept
{
    return a.stack() == b.stack();
}

template <class T, class U>
bool operator!=(const StackAllocator<T> &a, const StackAllocator<U> &b) noexcept
{
    return a.stack() != b.stack();
}

} // namespace FRAME_ARENA_EXCEPTIONS_NAMESPACE
} // namespace frame_arena

#endif
