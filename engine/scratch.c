/* scratch: two lazily created page stacks per thread.
 *
 * The pair is _Thread_local for a fast lookup; a C11 thread-specific key
 * pointing at it gives the hook that releases the stacks when the thread
 * exits. The key is created once for the process. On a failed
 * creation of a scratch stack (address space exhausted) the program stops:
 * scratch_begin has no way to return failure and a caller cannot go on.
 */
#include "scratch.h"

#include "os_vm.h"

#include <stdatomic.h>
#include <threads.h>

typedef struct ScratchPair {
    PageStack *stacks[2];
} ScratchPair;

static _Thread_local ScratchPair thread_scratch;
static _Thread_local uint32_t open_scopes;
static tss_t scratch_key;
static once_flag scratch_once = ONCE_FLAG_INIT;
/* Atomic although call_once orders it: ThreadSanitizer cannot see inside
 * glibc's call_once, and the explicit release/acquire costs nothing here. */
static _Atomic int scratch_key_status = thrd_error;

static void release_pair(void *p)
{
    ScratchPair *pair = p;
    if (!pair)
        return;
    page_stack_destroy(pair->stacks[0]);
    page_stack_destroy(pair->stacks[1]);
    pair->stacks[0] = pair->stacks[1] = NULL;
}

static void create_key(void)
{
    atomic_store_explicit(&scratch_key_status, tss_create(&scratch_key, release_pair), memory_order_release);
}

static ScratchPair *thread_pair(void)
{
    ScratchPair *pair = &thread_scratch;
    if (pair->stacks[0])
        return pair;
    call_once(&scratch_once, create_key);
    if (atomic_load_explicit(&scratch_key_status, memory_order_acquire) != thrd_success)
        os_vm_fatal("scratch: tss_create failed; cannot keep per-thread scratch stacks");
    pair->stacks[0] = page_stack_create(&(PageStackDesc){.name = "scratch 0"});
    pair->stacks[1] = page_stack_create(&(PageStackDesc){.name = "scratch 1"});
    if (!pair->stacks[0] || !pair->stacks[1])
        os_vm_fatal("scratch: cannot reserve this thread's scratch stacks (address space exhausted?)");
    if (tss_set(scratch_key, pair) != thrd_success)
        os_vm_fatal("scratch: tss_set failed; cannot keep per-thread scratch stacks");
    return pair;
}

static int in_conflicts(const PageStack *ps, PageStack *const *conflicts, size_t count)
{
    for (size_t i = 0; i < count; i++)
        if (conflicts[i] == ps)
            return 1;
    return 0;
}

PageStackMark scratch_begin(PageStack *const *conflicts, size_t count)
{
    if (count && !conflicts)
        os_vm_fatal("scratch_begin: conflicts is NULL but count is %zu; pass an array or count 0", count);
    ScratchPair *pair = thread_pair();
    for (int i = 0; i < 2; i++)
        if (!in_conflicts(pair->stacks[i], conflicts, count)) {
            open_scopes++;
            return page_stack_mark(pair->stacks[i]);
        }
    os_vm_fatal("scratch_begin: both scratch stacks of this thread are in conflicts; pass at most one of them "
                "(the arena the result goes to)");
}

void scratch_end(PageStackMark mark)
{
    page_stack_pop_to(mark);
    if (open_scopes)
        open_scopes--;
}

uint32_t scratch_open_scopes(void)
{
    return open_scopes;
}

void scratch_thread_release(void)
{
    if (!thread_scratch.stacks[0])
        return;
    tss_set(scratch_key, NULL);
    release_pair(&thread_scratch);
}
