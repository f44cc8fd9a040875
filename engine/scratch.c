/* scratch: two lazily created page stacks per thread.
 *
 * The pair is _Thread_local for a fast lookup; an os_vm thread-exit slot
 * pointing at it releases the stacks when the thread exits (pthread keys,
 * Windows fiber-local storage: no C11 <threads.h>, which MinGW and macOS
 * lack). The slot is created once for the process. On a failed
 * creation of a scratch stack (address space exhausted) the program stops:
 * scratch_begin has no way to return failure and a caller cannot go on.
 */
#include "scratch.h"

#include "os_vm.h"
#include "page_stack_owner.h"

#include <stdatomic.h>

typedef struct ScratchPair {
    PageStack *stacks[2];
} ScratchPair;

static _Thread_local ScratchPair thread_scratch;
static _Thread_local uint32_t open_scopes;
enum { Slot_Unmade, Slot_Making, Slot_Made };
static _Atomic int slot_state = Slot_Unmade;
static int scratch_slot = -1; /* written once, before slot_state becomes Slot_Made */

static void release_pair(void *p)
{
    ScratchPair *pair = p;
    if (!pair)
        return;
    page_stack_destroy_owned(pair->stacks[0]);
    page_stack_destroy_owned(pair->stacks[1]);
    pair->stacks[0] = pair->stacks[1] = NULL;
}

/* The first thread makes the slot; any racing one waits the few
 * microseconds that takes. */
static void make_slot_once(void)
{
    int state = atomic_load_explicit(&slot_state, memory_order_acquire);
    if (state == Slot_Unmade &&
        atomic_compare_exchange_strong_explicit(&slot_state, &state, Slot_Making, memory_order_acquire,
                                                memory_order_acquire)) {
        scratch_slot = os_vm_thread_slot_create(release_pair);
        atomic_store_explicit(&slot_state, Slot_Made, memory_order_release);
        return;
    }
    while (atomic_load_explicit(&slot_state, memory_order_acquire) != Slot_Made)
        ;
}

static ScratchPair *thread_pair(void)
{
    ScratchPair *pair = &thread_scratch;
    if (pair->stacks[0])
        return pair;
    make_slot_once();
    if (scratch_slot < 0)
        os_vm_fatal("scratch: no thread-exit slot left (thread keys exhausted); cannot keep per-thread "
                    "scratch stacks");
    pair->stacks[0] = page_stack_create(&(PageStackDesc){.name = "scratch 0"});
    pair->stacks[1] = page_stack_create(&(PageStackDesc){.name = "scratch 1"});
    if (!pair->stacks[0] || !pair->stacks[1])
        os_vm_fatal("scratch: cannot reserve this thread's scratch stacks (address space exhausted?)");
    for (int i = 0; i < 2; i++)
        page_stack_set_owner(pair->stacks[i], "this thread's scratch; the thread's exit or scratch_thread_release "
                                              "releases it");
    os_vm_thread_slot_set(scratch_slot, pair);
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
    if (!mark.stack || (mark.stack != thread_scratch.stacks[0] && mark.stack != thread_scratch.stacks[1]))
        os_vm_fatal("scratch_end: the mark is not from this thread's scratch_begin; end it on the thread that "
                    "began it (a mark of another stack goes to page_stack_pop_to)");
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
    if (open_scopes)
        os_vm_fatal("scratch_thread_release: %u scratch scope%s of this thread %s still open; scratch_end %s first",
                    (unsigned)open_scopes, open_scopes == 1 ? "" : "s", open_scopes == 1 ? "is" : "are",
                    open_scopes == 1 ? "it" : "them");
    if (!thread_scratch.stacks[0])
        return;
    os_vm_thread_slot_set(scratch_slot, NULL);
    release_pair(&thread_scratch);
}
