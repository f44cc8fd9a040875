/* page_stack_owner: for the library's own modules; not installed.
 *
 * A frame arena's buffers and a thread's scratch stacks are made and
 * destroyed by their module. Marked with an owner, such a stack makes
 * page_stack_destroy from anyone else fatal (one line naming the owner and
 * what to call instead) instead of leaving the module with a released stack.
 */
#ifndef FRAME_ARENA_PAGE_STACK_OWNER_H
#define FRAME_ARENA_PAGE_STACK_OWNER_H

#include "page_stack.h"

/* Every bit a PageStackFlag names; page_stack_create stops on any other. */
#define PAGE_STACK_KNOWN_FLAGS ((uint32_t)(PageStackFlag_Prefault | PageStackFlag_HugePages))

/* owner completes "the stack ... belongs to %s" and must outlive the stack. */
void page_stack_set_owner(PageStack *ps, const char *owner);
void page_stack_destroy_owned(PageStack *ps); /* NULL is a no-op */
/* page_stack_reset for frame_arena_begin, whose name its reports carry; in
 * the checked build the self-check then names a block by its push in frame
 * `frame` instead of by the stack's resets. */
void page_stack_begin_frame(PageStack *ps, uint64_t frame);
/* For frame_arena_end: in the checked build, a push to ps before its next
 * reset is fatal (a job that outlived its frame). */
void page_stack_end_frame(PageStack *ps);
/* For frame_arena_create: what page_stack_create_error reports on this thread. */
void page_stack_set_create_error(PageStackError err);
/* Fatal, naming fn, if ps is NULL or a cursor is open on it. */
PageStack *page_stack_need_idle(PageStack *ps, const char *fn);

#endif
