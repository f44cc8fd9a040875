/* scratch: two lazily created page stacks per thread.
 *
 * The pair is thread-local (OS_VM_THREAD_LOCAL) for a fast lookup; an
 * os_vm thread-exit slot pointing at it releases the stacks when the thread
 * exits (pthread keys, Windows thread-local storage: no C11 <threads.h>,
 * which MinGW and macOS lack). The slot is created once for the process, by the first thread
 * that needs it (tried again later if no key was left). On a failed
 * creation of a scratch stack (page_stack_create_error says why) the program stops:
 * scratch_begin has no way to return failure and a caller cannot go on;
 * scratch_thread_init returns it instead. The defaults the stacks are made
 * from are one process-wide copy behind a spin lock, taken only when a
 * thread makes its stacks or the defaults change.
 */
#include "scratch.h"

#include "os_vm.h"
#include "page_stack_owner.h"

#include <stdatomic.h>
#include <stdio.h>

/* The open scopes of a stack whose marks are kept, innermost last, so that
 * an end can tell it is not the innermost one's; deeper ones are counted only. */
enum { KeptScopes = 32 };

typedef struct ScratchPair {
    PageStack *stacks[2];
    uint32_t open[2]; /* scopes begun on each stack and not yet ended; here, where the thread-exit slot points */
    size_t scope_pos[2][KeptScopes]; /* the pos of the marks of the first KeptScopes of them, outermost first */
} ScratchPair;

static uint32_t open_scopes(const ScratchPair *pair)
{
    return pair->open[0] + pair->open[1];
}

static OS_VM_THREAD_LOCAL ScratchPair thread_scratch;

/* &thread_scratch, for a scope's begin and end. Built as position-independent
 * code for a shared library (and so the library is by default, static too,
 * to be linked into one: meson's b_staticpic), the address of a thread-local
 * variable is a call's result (__tls_get_addr, or a TLS descriptor's), and
 * gcc 12 makes the call again at each use rather than keep the result: four
 * times in scratch_begin_stack. Hidden from the optimiser by an empty asm,
 * it is computed once. An executable (PIE included) addresses it from the
 * thread pointer directly, which the asm would only get in the way of.
 * docs/BENCHMARKS.md, "The library as a game links it". */
static inline ScratchPair *this_thread_pair(void)
{
    ScratchPair *pair = &thread_scratch;
#if defined(__PIC__) && !defined(__PIE__) && (defined(__GNUC__) || defined(__clang__))
    __asm__("" : "+r"(pair));
#endif
    return pair;
}
enum { Slot_Unmade, Slot_Making, Slot_Made };
static _Atomic int slot_state = Slot_Unmade;
static int scratch_slot = -1; /* written before slot_state becomes Slot_Made */
static _Atomic uint32_t pairs_held; /* threads holding scratch stacks: scratch_shutdown needs none but its own */

enum { NameBytes = 62 }; /* a name's first 61 bytes and a NUL: a stack keeps 63, and " 0" or " 1" follows */
static atomic_flag defaults_lock = ATOMIC_FLAG_INIT;
static PageStackDesc defaults_desc;  /* its name is unused: defaults_name holds it */
static char defaults_name[NameBytes] = "scratch";

static void release_pair(void *p)
{
    ScratchPair *pair = p;
    if (!pair || !pair->stacks[0])
        return;
    atomic_fetch_sub(&pairs_held, 1);
    page_stack_destroy_owned(pair->stacks[0]);
    page_stack_destroy_owned(pair->stacks[1]);
    pair->stacks[0] = pair->stacks[1] = NULL;
}

/* The thread-exit slot's destructor. A scope still open means a scratch_end
 * was missed: in a thread that lives on, each call that misses it would
 * keep its scratch until the stack runs out. The checked build stops there. */
static void release_at_exit(void *p)
{
#ifdef FRAME_ARENA_CHECKED
    const ScratchPair *pair = p;
    if (pair && open_scopes(pair))
        os_vm_fatal("scratch: a thread exited with %u scratch scope%s still open; scratch_end each scope before the "
                    "thread returns (a scope missed in a loop keeps its scratch until the stack is full)",
                    (unsigned)open_scopes(pair), open_scopes(pair) == 1 ? "" : "s");
#endif
    release_pair(p);
}

/* The first thread to need the slot makes it; any racing one waits the few
 * microseconds that takes. A failure is not kept: the next thread to need
 * the slot tries again, and finds a key another library has freed since.
 * False when no slot could be made. */
static bool make_slot(void)
{
    for (;;) {
        int state = atomic_load_explicit(&slot_state, memory_order_acquire);
        if (state == Slot_Made)
            return true;
        if (state == Slot_Unmade &&
            atomic_compare_exchange_strong_explicit(&slot_state, &state, Slot_Making, memory_order_acquire,
                                                    memory_order_acquire)) {
            int slot = os_vm_thread_slot_create(release_at_exit);
            if (slot < 0) {
                atomic_store_explicit(&slot_state, Slot_Unmade, memory_order_release);
                return false;
            }
            scratch_slot = slot;
            atomic_store_explicit(&slot_state, Slot_Made, memory_order_release);
            return true;
        }
        /* another thread is making it: look again when it is done */
    }
}

static void lock_defaults(void)
{
    while (atomic_flag_test_and_set_explicit(&defaults_lock, memory_order_acquire))
        ;
}

static void unlock_defaults(void)
{
    atomic_flag_clear_explicit(&defaults_lock, memory_order_release);
}

/* A copy of the defaults; its name points into `name`. */
static PageStackDesc current_defaults(char name[NameBytes])
{
    lock_defaults();
    PageStackDesc d = defaults_desc;
    memcpy(name, defaults_name, NameBytes);
    unlock_defaults();
    d.name = name;
    return d;
}

/* The stack that is `index` of a pair made from desc, named "NAME index". */
static PageStack *make_stack(const PageStackDesc *desc, int index)
{
    char name[NameBytes + 2];
    snprintf(name, sizeof name, "%.*s %d", NameBytes - 1, desc->name ? desc->name : "scratch", index);
    PageStackDesc d = *desc;
    d.name = name;
    return page_stack_create(&d);
}

/* Both stacks or neither. */
static ScratchError make_pair(const PageStackDesc *desc, ScratchPair *out)
{
    if (!make_slot())
        return ScratchError_NoThreadSlot;
    out->stacks[0] = make_stack(desc, 0);
    out->stacks[1] = out->stacks[0] ? make_stack(desc, 1) : NULL;
    if (!out->stacks[1]) {
        page_stack_destroy(out->stacks[0]);
        out->stacks[0] = NULL;
        return ScratchError_NoAddressSpace;
    }
    for (int i = 0; i < 2; i++)
        page_stack_set_owner(out->stacks[i], PageStackOwner_Scratch);
    return ScratchError_None;
}

static void need_no_open_scope(const char *fn)
{
    uint32_t open = open_scopes(&thread_scratch);
    if (open)
        os_vm_fatal("%s: %u scratch scope%s of this thread %s still open; scratch_end %s first", fn, (unsigned)open,
                    open == 1 ? "" : "s", open == 1 ? "is" : "are", open == 1 ? "it" : "them");
}

/* Out of line and cold: scratch_begin, once the thread has its stacks, keeps
 * no room for a name nor the registers this needs. */
#if defined(__GNUC__) || defined(__clang__)
__attribute__((noinline, cold))
#endif
static ScratchPair *make_thread_pair(void)
{
    ScratchPair *pair = &thread_scratch;
    char name[NameBytes];
    PageStackDesc d = current_defaults(name);
    switch (make_pair(&d, pair)) {
    case ScratchError_None:
        break;
    case ScratchError_NoThreadSlot:
        os_vm_fatal("scratch: no thread-exit slot left (thread keys exhausted); cannot keep per-thread "
                    "scratch stacks");
    case ScratchError_NoAddressSpace:
        os_vm_fatal("scratch: cannot make this thread's scratch stacks: %s; scratch_set_defaults can make them "
                    "smaller",
                    page_stack_error_string(page_stack_create_error()));
    }
    atomic_fetch_add(&pairs_held, 1);
    os_vm_thread_slot_set(scratch_slot, pair);
    return pair;
}

ScratchError scratch_set_defaults(const PageStackDesc *desc)
{
    PageStackDesc d = desc ? *desc : (PageStackDesc){0};
    if (desc) {
        PageStackDesc trial = d;
        if (!(trial.flags & ~PAGE_STACK_KNOWN_FLAGS)) /* else page_stack_create reports the flags as they were given */
            trial.flags &= ~(uint32_t)PageStackFlag_Prefault;
        trial.on_fail = NULL;
        trial.on_push = NULL;
        trial.on_pop = NULL;
        trial.on_reset = NULL;
        PageStack *ps = make_stack(&trial, 0);
        if (!ps)
            return ScratchError_NoAddressSpace;
        page_stack_destroy(ps);
    }
    char name[NameBytes];
    snprintf(name, sizeof name, "%s", d.name ? d.name : "scratch");
    d.name = NULL;
    lock_defaults();
    memcpy(defaults_name, name, NameBytes);
    defaults_desc = d;
    unlock_defaults();
    return ScratchError_None;
}

ScratchError scratch_thread_init(const PageStackDesc *desc)
{
    need_no_open_scope("scratch_thread_init");
    char name[NameBytes];
    PageStackDesc d = desc ? *desc : current_defaults(name);
    ScratchPair made = {0}; /* no scope open: need_no_open_scope said so */
    ScratchError error = make_pair(&d, &made);
    if (error != ScratchError_None)
        return error;
    release_pair(&thread_scratch);
    thread_scratch = made;
    atomic_fetch_add(&pairs_held, 1);
    os_vm_thread_slot_set(scratch_slot, &thread_scratch);
    return ScratchError_None;
}

PAGE_STACK_INLINE int in_conflicts(const PageStack *ps, PageStack *const *conflicts, size_t count)
{
    for (size_t i = 0; i < count; i++)
        if (conflicts[i] == ps)
            return 1;
    return 0;
}

/* Opens a scope on the thread's stack i at `pos`. Always inline: gcc at
 * -Og called it from scratch_begin_stack's common path. */
PAGE_STACK_INLINE PageStack *open_scope(ScratchPair *pair, int i, size_t pos)
{
    uint32_t open = pair->open[i];
    if (open < KeptScopes)
        pair->scope_pos[i][open] = pos; /* the position scratch_begin's mark takes */
    pair->open[i] = open + 1;
    return pair->stacks[i];
}

/* A mark is only a position: a scope begun where the scope around it on its
 * stack began, with nothing pushed between, begins a byte further, so that
 * its end and that scope's can be told apart. Out of line, so that the
 * common path keeps no registers for it. */
#if defined(__GNUC__) || defined(__clang__)
__attribute__((noinline))
#endif
static PageStack *open_scope_past_outer(ScratchPair *pair, int i)
{
    (void)page_stack_try_push(pair->stacks[i], 1, 1); /* no room: as before, found at the outer scope's end */
    return open_scope(pair, i, page_stack_pos(pair->stacks[i]));
}

/* Opens a scope on the thread's stack i. Every path out is a tail call or a
 * return, so that the common one saves no register. */
PAGE_STACK_INLINE PageStack *open_scope_on(ScratchPair *pair, int i)
{
    uint32_t open = pair->open[i];
    size_t pos = page_stack_pos_here(pair->stacks[i]);
    if (PAGE_STACK_UNLIKELY(open && open <= KeptScopes && pos == pair->scope_pos[i][open - 1]))
        return open_scope_past_outer(pair, i);
    return open_scope(pair, i, pos);
}

/* scratch_begin_stack's rarest paths, from begin_with: the thread's first
 * scope, which makes its stacks (no conflict can hold them yet, so the
 * scope goes on the first); conflicts given as NULL with a count; and both
 * of the thread's stacks in the conflicts. With the stacks made and the
 * conflicts not NULL, begin_with comes here only for that: it was called
 * because the first stack is in them, and found the second there too. */
#if defined(__GNUC__) || defined(__clang__)
__attribute__((noinline))
#endif
static PageStack *begin_first(PageStack *const *conflicts, size_t count)
{
    if (count && !conflicts)
        os_vm_fatal("scratch_begin: conflicts is NULL but count is %zu; pass an array or count 0", count);
    if (thread_scratch.stacks[0])
        os_vm_fatal("scratch_begin: both scratch stacks of this thread are in conflicts; pass at most one of them "
                    "(the arena the result goes to)");
    return open_scope_on(make_thread_pair(), 0);
}

/* scratch_begin_stack's other paths, above all conflicts that hold the
 * thread's first stack: a nested use of scratch, the caller's own scratch
 * scope passed as the arena for the result. Those go to the second stack,
 * its index a constant, without searching the conflicts for the first
 * again: with the thread's stacks made and conflicts not NULL, that is why
 * scratch_begin_stack came here. Every path out is a tail call. */
#if defined(__GNUC__) || defined(__clang__)
__attribute__((noinline))
#endif
static PageStack *begin_with(PageStack *const *conflicts, size_t count)
{
    ScratchPair *pair = this_thread_pair();
    if (PAGE_STACK_UNLIKELY(!pair->stacks[0] || !conflicts ||
                            in_conflicts(pair->stacks[1], conflicts, count)))
        return begin_first(conflicts, count);
    return open_scope_on(pair, 1);
}

PageStack *scratch_begin_stack(PageStack *const *conflicts, size_t count)
{
    ScratchPair *pair = this_thread_pair();
    if (PAGE_STACK_UNLIKELY(!pair->stacks[0] ||
                            (count && (!conflicts || in_conflicts(pair->stacks[0], conflicts, count)))))
        return begin_with(conflicts, count);
    return open_scope_on(pair, 0);
}

/* An end that is not of the innermost open scope of its stack is a scope
 * ended twice, or an outer scope ended before an inner one. Let through, it
 * would count another scope of the thread as ended: the checks for an open
 * scope would miss that one, and scratch_thread_release would release the
 * stacks under it. An end with no scope of its stack open is found at once;
 * otherwise the end's mark must be the innermost scope's, while that is one
 * of the first KeptScopes. No two of those begin at one position (see
 * scratch_begin) unless the stack had no byte left for the step between.
 *
 * end_checked is scratch_end_at for the ends its test refuses: each check
 * in turn, each failure stopping the program with its own message. It ends
 * the scope when they pass (no end that comes here does), so it is not
 * taken to be one that never returns, and scratch_end_at reaches it by a
 * tail call, with no stack frame of its own for the calls that stop the
 * program. */
#if defined(__GNUC__) || defined(__clang__)
__attribute__((noinline, cold))
#endif
static void end_checked(PageStack *stack, size_t pos, uint64_t generation)
{
    ScratchPair *pair = this_thread_pair();
    int i = stack == pair->stacks[1];
    if (!stack || stack != pair->stacks[i])
        os_vm_fatal("scratch_end: the mark is not from this thread's scratch_begin; end it on the thread that "
                    "began it (a mark of another stack goes to page_stack_pop_to)");
    uint32_t open = pair->open[i];
    if (!open)
        os_vm_fatal("scratch_end: every scope of scratch stack \"%s\" on this thread has ended; a scope was "
                    "ended twice: end each scope once",
                    stack->name);
    if (open <= KeptScopes && pos != pair->scope_pos[i][open - 1])
        os_vm_fatal("scratch_end: the scope that began at pos %zu of scratch stack \"%s\" is not the innermost "
                    "one open on this thread, which began at pos %zu; a scope was ended twice, or an outer one "
                    "before an inner one: end each scope once, innermost first",
                    pos, stack->name, pair->scope_pos[i][open - 1]);
    pair->open[i] = open - 1;
    page_stack_pop_to_pos(stack, pos, generation);
}

void scratch_end_at(PageStack *stack, size_t pos, uint64_t generation)
{
    ScratchPair *pair = this_thread_pair();
    int i = stack == pair->stacks[1];
    uint32_t open = pair->open[i];
    if (PAGE_STACK_UNLIKELY(!stack || stack != pair->stacks[i] || !open ||
                            (open <= KeptScopes && pos != pair->scope_pos[i][open - 1]))) {
        end_checked(stack, pos, generation);
        return;
    }
    /* Counted as ended before the pop, which is then a tail call: a cleanup
     * the pop runs that ends this scope again finds it ended. */
    pair->open[i] = open - 1;
    page_stack_pop_to_pos(stack, pos, generation);
}

uint32_t scratch_open_scopes(void)
{
    return open_scopes(&thread_scratch);
}

void scratch_thread_release(void)
{
    need_no_open_scope("scratch_thread_release");
    if (!thread_scratch.stacks[0])
        return;
    os_vm_thread_slot_set(scratch_slot, NULL);
    release_pair(&thread_scratch);
}

void scratch_shutdown(void)
{
    need_no_open_scope("scratch_shutdown");
    uint32_t others = atomic_load(&pairs_held) - (thread_scratch.stacks[0] != NULL);
    if (others)
        os_vm_fatal("scratch_shutdown: %u other thread%s still hold%s scratch stacks; each calls "
                    "scratch_thread_release first (a thread's exit releases its own)",
                    (unsigned)others, others == 1 ? "" : "s", others == 1 ? "s" : "");
    scratch_thread_release();
    int state = Slot_Made;
    if (atomic_compare_exchange_strong(&slot_state, &state, Slot_Making)) {
        os_vm_thread_slot_delete(scratch_slot);
        scratch_slot = -1;
        atomic_store_explicit(&slot_state, Slot_Unmade, memory_order_release);
    }
}
