/* allocator: frame_arena memory behind the hook shape other libraries take.
 *
 * Many C libraries let the caller replace malloc/realloc/free (sokol's
 * allocator desc, cJSON_InitHooks, stb's STBI_MALLOC, ...). Allocator is
 * that shape with a user pointer; page_stack_allocator adapts a page stack
 * to it, so a library's per-frame allocations land in the frame arena and go
 * away with the frame:
 *
 *     Allocator a = page_stack_allocator(frame);
 *     void *p = a.alloc(a.user, 256, 16);           // a push
 *     p = a.realloc(a.user, p, 256, 1024, 16);      // in place: p was the last push
 *     a.free(a.user, p, 1024);                      // gives it back: it is the last push
 *
 * alloc and realloc return NULL when the stack cannot serve the request (no
 * on_fail, the stack unchanged), as libraries expect of malloc. free gives
 * the block back only when it is the last push; otherwise it does nothing
 * and the memory returns at the next pop or reset. A size of 0 passed to
 * free means "unknown" (hooks that only get a pointer) and frees nothing.
 */
#ifndef FRAME_ARENA_ALLOCATOR_H
#define FRAME_ARENA_ALLOCATOR_H

#include "page_stack.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct Allocator {
    void *(*alloc)(void *user, size_t size, size_t align);
    void *(*realloc)(void *user, void *ptr, size_t old_size, size_t new_size, size_t align);
    void (*free)(void *user, void *ptr, size_t size);
    void *user;
} Allocator;

Allocator page_stack_allocator(PageStack *ps); /* a NULL stack is fatal */

#ifdef __cplusplus
}
#endif

#endif
