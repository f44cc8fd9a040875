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

/* What made the stack: page_stack_destroy's line names it. An enum, not a
 * string, so that a stack holds no pointer into the library's data. */
typedef enum PageStackOwner {
    PageStackOwner_None,
    PageStackOwner_FrameArena,
    PageStackOwner_Scratch,
} PageStackOwner;
void page_stack_set_owner(PageStack *ps, PageStackOwner owner);
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

/* For scratch: page_stack_pos, inline where the stack's fields hold it (all
 * but the checked build, whose pos is its own). */
static inline size_t page_stack_pos_here(const PageStack *ps)
{
#ifdef FRAME_ARENA_CHECKED
    return page_stack_pos(ps);
#else
    return (size_t)(ps->last + 1 - ps->base);
#endif
}

/* For the trim policy of frame_arena_end, which keeps committed what recent
 * frames needed:
 * - page_stack_extent: the bytes from the base that the frame since the
 *   last reset has needed committed, given its high-water mark `peak`. That
 *   is `peak`, except in the checked build, where it is the highest top of a
 *   region since the reset: redzones included. Pops there lower no top, but
 *   a pop to 0 moves to the next region.
 * - page_stack_most_committed: the most that any region of the stack holds
 *   committed. That is `committed`, except in the checked build, where the
 *   regions in quarantine count too.
 * - page_stack_trim_extent: page_stack_trim to an extent. That is
 *   page_stack_trim, except in the checked build, where it trims every region
 *   to the extent (the current one no lower than its physical top), while
 *   page_stack_trim spares a region the pages its last use took if that
 *   use's pos fitted in `keep`. */
#ifdef FRAME_ARENA_CHECKED
size_t page_stack_extent(const PageStack *ps, size_t peak);
size_t page_stack_most_committed(const PageStack *ps);
void page_stack_trim_extent(PageStack *ps, size_t extent);
#else
static inline size_t page_stack_extent(const PageStack *ps, size_t peak)
{
    (void)ps;
    return peak;
}
static inline size_t page_stack_most_committed(const PageStack *ps)
{
    return ps->committed;
}
static inline void page_stack_trim_extent(PageStack *ps, size_t extent)
{
    page_stack_trim(ps, extent);
}
#endif

/* For frame_arena_stats: floor((hi * 2^64 + lo) / n), for 0 < n and hi < n,
 * which is the mean of n sizes whose sum is lo with hi carries out of 64
 * bits. Long division by 32-bit digits: no step needs more than 64 bits.
 * The result is below 2^64 because hi < n. */
static inline uint64_t page_stack_mean_of_sum(uint64_t hi, uint64_t lo, uint32_t n)
{
    uint64_t upper = hi << 32 | lo >> 32; /* hi < n < 2^32 */
    uint64_t q1 = upper / n, lower = (upper % n) << 32 | (lo & 0xFFFFFFFFu);
    return q1 << 32 | lower / n; /* q1 < 2^32 as hi < n; lower < n * 2^32 */
}

#endif
