/* Every public header, each inline function called and each macro expanded,
 * as a game's C code compiles them with strict warnings and -Werror (the
 * flags: strict_c_args in tests/meson.build). The headers' inline code is
 * compiled into the game's own files, so a warning there would be the
 * game's to silence. Compiled only. */
#define FRAME_ARENA_TRACY
#include "allocator.h"
#include "frame_arena.h"
#include "frame_arena_tracy.h"
#include "mem_ops.h"
#include "os_vm.h"
#include "scratch.h"

typedef struct Vertex {
    float x, y, u, v;
    unsigned rgba;
} Vertex;

static void strict_cleanup(void *object, size_t count)
{
    (void)object, (void)count;
}

size_t strict_frame(FrameArena *fa, const Vertex *src, size_t n);
size_t strict_frame(FrameArena *fa, const Vertex *src, size_t n)
{
    static FrameArenaTracy tracy = {.name = "strict"};
    PageStack *ps = frame_arena_begin(fa);
    Vertex *a = push_array(ps, Vertex, n);
    Vertex *b = push_array_no_zero(ps, Vertex, n);
    Vertex *one = push_struct(ps, Vertex);
    Vertex *t = try_push_array(ps, Vertex, n);
    Vertex *c = push_array_copy(ps, Vertex, src, n);
    Vertex *tc = try_push_array_copy(ps, Vertex, src, n);
    char *raw = page_stack_push(ps, 64, 16);
    raw = page_stack_push_zero(ps, 64, 16);
    raw = page_stack_try_push(ps, 64, 16);
    raw = page_stack_push_copy(ps, src, sizeof *src, 16);
    raw = page_stack_try_push_copy(ps, src, sizeof *src, 16);
    if (raw) /* a try_ push may return NULL */
        fa_zero16(raw, 16);
    fa_copy16(page_stack_push(ps, 32, 16), src, 16);
    PageStackCursor cur = page_stack_cursor_begin(ps);
    Vertex *ca = cursor_push_array(&cur, Vertex, n);
    Vertex *cb = cursor_push_array_no_zero(&cur, Vertex, n);
    Vertex *cs = cursor_push_struct(&cur, Vertex);
    Vertex *cc = cursor_push_array_copy(&cur, Vertex, src, n);
    raw = page_stack_cursor_push(&cur, 8, 8);
    raw = page_stack_cursor_push_zero(&cur, 8, 8);
    raw = page_stack_cursor_try_push(&cur, 8, 8);
    raw = page_stack_cursor_push_copy(&cur, src, sizeof *src, 8);
    raw = page_stack_cursor_try_push_copy(&cur, src, sizeof *src, 8);
    page_stack_cursor_end(&cur);
    a[0].x = b[0].y = one->u = c[0].v = ca[0].x = cb[0].y = cs->u = cc[0].v = 1.0f; /* what a game does next */
    PageStackMark m = page_stack_mark(ps);
    Vertex *g = page_stack_realloc(ps, NULL, 0, sizeof(Vertex), _Alignof(Vertex));
    g = page_stack_realloc(ps, g, sizeof(Vertex), 2 * sizeof(Vertex), _Alignof(Vertex));
    Vertex *tg = page_stack_try_realloc(ps, g, 2 * sizeof(Vertex), 3 * sizeof(Vertex), _Alignof(Vertex));
    bool registered = page_stack_push_cleanup(ps, strict_cleanup, g, 1);
    size_t grown = (size_t)(g != NULL) + (size_t)(tg != NULL) + (size_t)registered;
    page_stack_pop_to(m);
    PageStackMark tmp = scratch_begin(&ps, 1);
    Allocator al = page_stack_allocator(tmp.stack);
    void *p = al.alloc(al.user, 16, 8);
    scratch_end(tmp);
    frame_arena_tracy_on_push(ps, raw, 8, &tracy);
    frame_arena_end(fa);
    return (size_t)(a != b) + (size_t)(one != t) + (size_t)(c != tc) + (size_t)(ca != cb) + (size_t)(cs != cc) +
           (size_t)(p != NULL) + grown + os_vm_page_size();
}
