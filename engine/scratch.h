/* scratch: per-thread temporaries with scope lifetimes.
 *
 * Each thread has two scratch page stacks, created on first use and released
 * when the thread exits (or by scratch_thread_release). A scope is a mark:
 * scratch_begin returns one on a stack that is not in `conflicts`, and
 * scratch_end pops back to it. A function that takes an arena for its result
 * and needs temporaries passes that arena as a conflict, so its scratch is
 * never the stack its caller is filling, even when the caller's arena is
 * itself a scratch stack.
 *
 *     char *path_join(PageStack *out, const char *a, const char *b)
 *     {
 *         PageStackMark tmp = scratch_begin(&out, 1);     // never `out`
 *         char *buf = page_stack_push(tmp.stack, 4096, 1);
 *         ...
 *         char *result = push_array(out, char, len + 1);  // survives the scope
 *         scratch_end(tmp);
 *         return result;
 *     }
 *
 * Scopes nest like any marks: end inner ones first. Both stacks of a thread
 * in `conflicts` is a programming error (fatal, one line). In the checked
 * build, frame_arena_end with a scope of the same thread still open is fatal.
 * The stacks use the page_stack defaults (1 GiB of address space each,
 * committed on demand); a thread's first scratch_begin has no way to report
 * that they cannot be reserved, or that no thread key is left to release them
 * at thread exit, so both are fatal too (one line).
 */
#ifndef FRAME_ARENA_SCRATCH_H
#define FRAME_ARENA_SCRATCH_H

#include "page_stack.h"

#ifdef __cplusplus
extern "C" {
#endif

PageStackMark scratch_begin(PageStack *const *conflicts, size_t count); /* a thread-local stack not in conflicts */
void scratch_end(PageStackMark mark); /* a mark not from this thread's scratch_begin is fatal */
void scratch_thread_release(void); /* optional; thread exit releases too. A scope of this thread still open is fatal. */
uint32_t scratch_open_scopes(void); /* scopes of this thread begun and not yet ended */

#ifdef __cplusplus
}
#endif

#endif
