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
 * Scopes nest like any marks: end inner ones first, each once. Both stacks
 * of a thread in `conflicts`, a scope ended twice, and an outer scope ended
 * while an inner one of its stack is open are programming errors (fatal,
 * one line), found at that end: a scope's end must be of the innermost one
 * open on its stack. The cleanups an end runs (page_stack_push_cleanup)
 * see its scope ended: they may open scopes of their own, and ending that
 * scope again is a second end. A mark is only a position, so a scope begun
 * where the scope around it on the same stack began (nothing pushed
 * between) takes a 1-byte block first, to begin elsewhere; only when the
 * stack has no room for it is a second end of such a scope found at the
 * outer scope's end.
 * Of scopes nested deeper than 32 on one stack only the count is kept, and
 * their order is not checked. In the checked build,
 * frame_arena_end with a scope of the same thread still open is fatal, and
 * so is a thread's exit with one of its scopes open (a missed scratch_end,
 * which in a thread that lives on would keep its scratch).
 * Sizes: a thread's stacks are made at its first scratch_begin from the
 * scratch defaults, which are the page_stack defaults (1 GiB of address space
 * each on 64-bit targets, 64 MiB on 32-bit, committed on demand) until
 * scratch_set_defaults changes them. scratch_begin has no way to report that
 * they cannot be reserved, or that no thread key is left to release them at
 * thread exit, so both are fatal there (one line). A thread that wants other
 * stacks than the defaults, or to handle that failure itself, calls
 * scratch_thread_init first:
 *
 *     scratch_set_defaults(&(PageStackDesc){.reserve_size = 64 << 20});  // at startup: every thread's
 *     if (scratch_thread_init(&(PageStackDesc){.initial_commit = 1 << 20,
 *                                              .flags = PageStackFlag_Prefault}) != ScratchError_None)
 *         ...                                                           // this thread's, now
 */
#ifndef FRAME_ARENA_SCRATCH_H
#define FRAME_ARENA_SCRATCH_H

#include "page_stack.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum ScratchError {
    ScratchError_None,
    ScratchError_NoAddressSpace, /* a stack could not be made from the desc: its reservation or initial commit was
                                    refused (page_stack_create_error says which) */
    ScratchError_NoThreadSlot,   /* no thread key is left to release a thread's stacks at its exit (tried again
                                    at the next call) */
} ScratchError;

/* Every thread that makes its scratch stacks after this call makes them from
 * desc; threads that have theirs keep them. Copied, name included: the stacks
 * are named "NAME 0" and "NAME 1" (the name's first 61 bytes; default
 * "scratch"). NULL brings back the page_stack defaults. To check it, a stack
 * is made from it (without its Prefault flag and hooks) and destroyed at
 * once: if that fails the defaults stay as they were and the error says why;
 * what page_stack_create finds fatal (unknown flags, initial_commit above
 * reserve_size) is fatal here. Any thread may call it at any time. Its hooks
 * and `user` go to every thread's stacks, so they are called from several
 * threads at once. */
ScratchError scratch_set_defaults(const PageStackDesc *desc);

/* Makes this thread's two scratch stacks now, from desc (NULL: the scratch
 * defaults), and releases any it had. On an error nothing changes: the thread
 * keeps the stacks it had, or gets the defaults at its first scratch_begin.
 * The new stacks are made before the old ones go, so replacing them needs
 * room for both pairs. A scratch scope of this thread still open is fatal. */
ScratchError scratch_thread_init(const PageStackDesc *desc);

/* The out-of-line halves of scratch_begin and scratch_end, which are inline
 * so that a scope's mark stays in the caller's registers, as
 * page_stack_mark's does: scratch_begin_stack picks the stack and opens the
 * scope on it, and the mark is then taken of that stack. */
PageStack *scratch_begin_stack(PageStack *const *conflicts, size_t count);
void scratch_end_at(PageStack *stack, size_t pos, uint64_t generation);

/* A mark of a thread-local stack not in conflicts. */
PAGE_STACK_INLINE PageStackMark scratch_begin(PageStack *const *conflicts, size_t count)
{
    return page_stack_mark(scratch_begin_stack(conflicts, count));
}

/* A mark not from this thread's scratch_begin, ended before, or not the
 * innermost open on its stack, is fatal. (To clang's static analyzer a call,
 * as page_stack_pop_to is.) */
#ifdef __clang_analyzer__
void scratch_end(PageStackMark mark);
#else
PAGE_STACK_INLINE void scratch_end(PageStackMark mark)
{
    scratch_end_at(mark.stack, mark.pos, mark.generation);
}
#endif

void scratch_thread_release(void); /* optional; thread exit releases too. A scope of this thread still open is fatal. */
uint32_t scratch_open_scopes(void); /* scopes of this thread begun and not yet ended */

/* Before the code of the library is unloaded (a game's code reloaded while it
 * runs, a plugin's dlclose or FreeLibrary): releases this thread's scratch
 * stacks and gives back the thread key that releases a thread's at its exit,
 * which would otherwise call into the unloaded code. Every other thread that
 * used scratch calls scratch_thread_release first (or has exited); one that
 * still holds its stacks, or a scope of this thread still open, is fatal
 * (one line). Nothing else may use scratch during the call. Scratch works
 * again afterwards: the next scratch_begin makes a new key. The defaults set
 * by scratch_set_defaults stay. */
void scratch_shutdown(void);

#ifdef __cplusplus
}
#endif

#endif
