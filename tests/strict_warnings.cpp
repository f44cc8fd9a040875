// tests/strict_warnings.c's check for a C++ game: every public header, the
// C++ one's templates instantiated, built with strict warnings and -Werror
// (strict_cpp_args in tests/meson.build: -Wold-style-cast,
// -Wzero-as-null-pointer-constant and gcc's -Wuseless-cast among them).
// Compiled only.
#define FRAME_ARENA_TRACY
#include "frame_arena.hpp"
#include "frame_arena_tracy.h"
#include "mem_ops.h"

#include <string>
#include <vector>

struct Vertex {
    float x, y, u, v;
    unsigned rgba;
};

size_t strict_frame_cpp(FrameArena *fa, const Vertex *src, size_t n);
size_t strict_frame_cpp(FrameArena *fa, const Vertex *src, size_t n)
{
    static FrameArenaTracy tracy{};
    frame_arena::Frame frame(fa);
    PageStack *ps = frame.stack();
    Vertex *a = push_array(ps, Vertex, n);
    Vertex *b = push_array_no_zero(ps, Vertex, n);
    Vertex *one = push_struct(ps, Vertex);
    Vertex *t = try_push_array(ps, Vertex, n);
    Vertex *c = push_array_copy(ps, Vertex, src, n);
    Vertex *tc = try_push_array_copy(ps, Vertex, src, n);
    void *raw = page_stack_push(ps, 64, 16);
    raw = page_stack_push_zero(ps, 64, 16);
    raw = page_stack_try_push(ps, 64, 16);
    raw = page_stack_push_copy(ps, src, sizeof *src, 16);
    raw = page_stack_try_push_copy(ps, src, sizeof *src, 16);
    if (raw) // a try_ push may return NULL
        fa_zero16(raw, 16);
    fa_copy16(page_stack_push(ps, 32, 16), src, 16);
    auto *name = frame_arena::push_new<std::string>(ps, "strict");
    auto *lists = frame_arena::push_new_array<std::vector<int>>(ps, 3);
    frame_arena::PageStackResource memory(ps);
    std::pmr::vector<Vertex> verts(&memory);
    verts.push_back(*src);
    std::vector<Vertex, frame_arena::StackAllocator<Vertex>> typed{frame_arena::StackAllocator<Vertex>(ps)};
    typed.push_back(*src);
    size_t count = 0;
    {
        frame_arena::Cursor out(ps);
        Vertex *q = out.push_uninit<Vertex>(n);
        Vertex *z = out.push_zeroed<Vertex>(n);
        Vertex *k = out.push_copy(src, n);
        count += static_cast<size_t>(q != z) + static_cast<size_t>(k != nullptr) +
                 static_cast<size_t>(out.push(8, 8) != out.try_push(8, 8));
    }
    PageStackCursor cur = page_stack_cursor_begin(ps);
    Vertex *ca = cursor_push_array(&cur, Vertex, n);
    Vertex *cb = cursor_push_array_no_zero(&cur, Vertex, n);
    Vertex *cs = cursor_push_struct(&cur, Vertex);
    Vertex *cc = cursor_push_array_copy(&cur, Vertex, src, n);
    page_stack_cursor_end(&cur);
    a[0].x = b[0].y = one->u = c[0].v = ca[0].x = cb[0].y = cs->u = cc[0].v = 1.0f; // what a game does next
    {
        PageStackMark m = page_stack_mark(ps);
        auto *g = static_cast<Vertex *>(page_stack_realloc(ps, nullptr, 0, sizeof(Vertex), alignof(Vertex)));
        g = static_cast<Vertex *>(page_stack_realloc(ps, g, sizeof(Vertex), 2 * sizeof(Vertex), alignof(Vertex)));
        count += page_stack_try_realloc(ps, g, 2 * sizeof(Vertex), 3 * sizeof(Vertex), alignof(Vertex)) != nullptr;
        page_stack_pop_to(m);
    }
    {
        frame_arena::ScratchScope tmp({ps});
        frame_arena::StackScope inner(tmp.stack());
        count += page_stack_strdup(inner.stack(), "strict") != nullptr;
    }
    frame_arena_tracy_on_push(ps, raw, 8, &tracy);
    return count + static_cast<size_t>(a != b) + static_cast<size_t>(one != t) + static_cast<size_t>(c != tc) +
           static_cast<size_t>(ca != cb) + static_cast<size_t>(cs != cc) + name->size() + lists[2].size() + typed.size();
}
