/* page_stack: the out-of-line half of the stack allocator.
 *
 * Layout of one reservation (addresses grow to the right):
 *
 *     base                          base+reserved
 *     | usable: committed | uncommitted | guard page | header page(s): PageStack |
 *
 * The PageStack itself lives in the last pages of its own reservation, so the
 * library never calls malloc, and a write that runs past the usable range
 * hits the guard page, which is never committed. Every count (pos, committed,
 * reserved) is from base.
 *
 * The inline push in page_stack.h handles the common case: the block fits
 * below `end`. Everything else lands here: committing the next steps,
 * failures, alignment errors. `end` is the commit end in a plain build; with
 * AddressSanitizer it is kept equal to `cur`, so every push comes here and
 * unpoisons exactly its bytes.
 *
 * Lazy bookkeeping keeps the inline push short: `peak`, `high` (highest pos
 * since the last reset) and `dirty` (highest address ever handed out since it
 * was committed) are brought up to date only before pos goes down, because a
 * push can only raise pos.
 */
#include "page_stack.h"

#include "os_vm.h"

#include <stdbool.h>

#if defined(__SANITIZE_ADDRESS__)
#define PAGE_STACK_POISONING 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define PAGE_STACK_POISONING 1
#endif
#endif

#ifdef PAGE_STACK_POISONING
#include <sanitizer/asan_interface.h>
#define poison(addr, size) ASAN_POISON_MEMORY_REGION((void *)(addr), (size))
#define unpoison(addr, size) ASAN_UNPOISON_MEMORY_REGION((void *)(addr), (size))
#else
#define PAGE_STACK_POISONING 0
#define poison(addr, size) ((void)(addr), (void)(size))
#define unpoison(addr, size) ((void)(addr), (void)(size))
#endif

#define KiB ((size_t)1 << 10)
#define MiB ((size_t)1 << 20)

static bool round_up(size_t value, size_t step, size_t *out)
{
    size_t rem = value % step;
    if (rem == 0) {
        *out = value;
        return true;
    }
    if (value > SIZE_MAX - (step - rem))
        return false;
    *out = value + (step - rem);
    return true;
}

static size_t pos_of(const PageStack *ps)
{
    return ps->cur - ps->base;
}

/* Re-arms the inline push after cur or committed changed. */
static void settle(PageStack *ps)
{
    ps->end = PAGE_STACK_POISONING ? ps->cur : ps->base + ps->committed;
}

/* Brings the lazily kept high-water marks up to date; call before pos goes down. */
static void note_high(PageStack *ps)
{
    size_t pos = pos_of(ps);
    if (pos > ps->peak)
        ps->peak = pos;
    if (pos > ps->high)
        ps->high = pos;
    if (ps->cur > ps->dirty)
        ps->dirty = ps->cur;
}

static PageStack *need_stack(PageStack *ps, const char *fn)
{
    if (!ps)
        os_vm_fatal("%s: the stack is NULL; pass a stack from page_stack_create", fn);
    return ps;
}

static void check_align(const PageStack *ps, size_t align)
{
    if (align == 0 || (align & (align - 1)) != 0)
        os_vm_fatal("page_stack \"%s\": alignment %zu is not a power of two; pass 1, 2, 4, 8, 16, ... "
                    "(alignof(T) for a type)",
                    ps->name, align);
}

static void default_on_fail(PageStack *ps, size_t size, size_t align, void *user)
{
    (void)user;
    os_vm_fatal("page_stack \"%s\": push of %zu bytes (align %zu) failed: %s; pos %zu, committed %zu, reserved %zu",
                ps->name, size, align, page_stack_error_string(ps->last_error), pos_of(ps), ps->committed,
                ps->reserved);
}

static void *fail(PageStack *ps, PageStackError err, size_t size, size_t align, uint32_t how)
{
    ps->last_error = err;
    ps->failed_pushes++;
    if (!(how & PageStackPush_Try))
        ps->on_fail(ps, size, align, ps->user);
    return NULL;
}

/* Commits whole steps so that the first `need` bytes from base are committed. */
static bool commit_to(PageStack *ps, size_t need)
{
    size_t target;
    if (!round_up(need, ps->commit_size, &target) || target > ps->reserved)
        target = ps->reserved;
    size_t grow = target - ps->committed;
    if (!os_vm_commit((void *)(ps->base + ps->committed), grow))
        return false;
    poison(ps->base + ps->committed, grow);
    ps->committed = target;
    ps->commits++;
    return true;
}

static void zero_dirty_part(const PageStack *ps, uintptr_t p, size_t size)
{
    if (p < ps->dirty)
        memset((void *)p, 0, (size < ps->dirty - p ? size : ps->dirty - p));
}

void *page_stack_push_slow(PageStack *ps, size_t size, size_t align, uint32_t how)
{
    need_stack(ps, "page_stack_push");
    check_align(ps, align);
    uintptr_t mask = (uintptr_t)align - 1;
    if (ps->cur > UINTPTR_MAX - mask)
        return fail(ps, PageStackError_OutOfReserve, size, align, how);
    uintptr_t p = (ps->cur + mask) & ~mask;
    if (size > SIZE_MAX - (p - ps->cur))
        return fail(ps, PageStackError_SizeOverflow, size, align, how);
    size_t off = p - ps->base;
    if (off > ps->reserved || size > ps->reserved - off)
        return fail(ps, PageStackError_OutOfReserve, size, align, how);
    if (off + size > ps->committed && !commit_to(ps, off + size))
        return fail(ps, PageStackError_CommitFailed, size, align, how);
    unpoison(p, size);
    if (how & PageStackPush_Zero)
        zero_dirty_part(ps, p, size);
    ps->cur = p + size;
    ps->pushes++;
    settle(ps);
    return (void *)p;
}

void *page_stack_push_overflow(PageStack *ps, size_t align, uint32_t how)
{
    need_stack(ps, "page_stack_push");
    check_align(ps, align);
    return fail(ps, PageStackError_SizeOverflow, SIZE_MAX, align, how);
}

void *page_stack_realloc(PageStack *ps, void *ptr, size_t old_size, size_t new_size, size_t align)
{
    need_stack(ps, "page_stack_realloc");
    if (!ptr)
        return page_stack_push(ps, new_size, align);
    check_align(ps, align);
    uintptr_t p = (uintptr_t)ptr;
    if (p >= ps->base && p <= ps->cur && ps->cur - p == old_size) {
        /* ptr is the last push: move the top. */
        size_t off = p - ps->base;
        if (new_size <= old_size) {
            note_high(ps);
            poison(p + new_size, old_size - new_size);
        } else if (new_size > ps->reserved - off) {
            return fail(ps, PageStackError_OutOfReserve, new_size, align, 0);
        } else if (off + new_size > ps->committed && !commit_to(ps, off + new_size)) {
            return fail(ps, PageStackError_CommitFailed, new_size, align, 0);
        } else {
            unpoison(p + old_size, new_size - old_size);
        }
        ps->cur = p + new_size;
        ps->pushes++;
        settle(ps);
        return ptr;
    }
    if (new_size <= old_size) {
        ps->pushes++;
        return ptr;
    }
    void *moved = page_stack_push(ps, new_size, align);
    if (moved)
        memcpy(moved, ptr, old_size);
    return moved;
}

PageStackMark page_stack_mark(PageStack *ps)
{
    need_stack(ps, "page_stack_mark");
    return (PageStackMark){ps, pos_of(ps), ps->generation};
}

void page_stack_pop_to(PageStackMark mark)
{
    PageStack *ps = mark.stack;
    if (!ps)
        os_vm_fatal("page_stack_pop_to: the mark has no stack; take marks with page_stack_mark or scratch_begin");
    if (mark.generation != ps->generation)
        os_vm_fatal("page_stack \"%s\": pop_to a stale mark (taken before the last reset); "
                    "do not keep marks across a reset",
                    ps->name);
    size_t pos = pos_of(ps);
    if (mark.pos > pos)
        os_vm_fatal("page_stack \"%s\": pop_to a mark above the top (mark %zu, top %zu): scopes ended out of "
                    "order; end inner scopes before outer ones",
                    ps->name, mark.pos, pos);
    note_high(ps);
    ps->cur = ps->base + mark.pos;
    poison(ps->cur, pos - mark.pos);
    settle(ps);
}

size_t page_stack_pos(const PageStack *ps)
{
    need_stack((PageStack *)ps, "page_stack_pos");
    return pos_of(ps);
}

void page_stack_reset(PageStack *ps)
{
    need_stack(ps, "page_stack_reset");
    note_high(ps);
    poison(ps->base, pos_of(ps));
    ps->cur = ps->base;
    ps->high = 0;
    ps->generation++;
    ps->resets++;
    settle(ps);
}

void page_stack_trim(PageStack *ps, size_t keep)
{
    need_stack(ps, "page_stack_trim");
    size_t floor = pos_of(ps);
    if (keep > floor)
        floor = keep;
    if (ps->initial_commit > floor)
        floor = ps->initial_commit;
    size_t target;
    if (!round_up(floor, ps->commit_size, &target) || target > ps->reserved)
        target = ps->reserved;
    if (target >= ps->committed)
        return;
    note_high(ps);
    uintptr_t from = ps->base + target;
    size_t size = ps->committed - target;
    unpoison(from, size); /* uncommitted memory faults on its own; keep the shadow clean */
    os_vm_decommit((void *)from, size);
    ps->committed = target;
    ps->decommits++;
    if (ps->dirty > from)
        ps->dirty = from;
    settle(ps);
}

PageStackStats page_stack_stats(const PageStack *ps)
{
    need_stack((PageStack *)ps, "page_stack_stats");
    size_t pos = pos_of(ps);
    return (PageStackStats){
        .pos = pos,
        .peak = pos > ps->peak ? pos : ps->peak,
        .committed = ps->committed,
        .reserved = ps->reserved,
        .pushes = ps->pushes,
        .failed_pushes = ps->failed_pushes,
        .commits = ps->commits,
        .decommits = ps->decommits,
        .resets = ps->resets,
    };
}

PageStackError page_stack_last_error(const PageStack *ps)
{
    need_stack((PageStack *)ps, "page_stack_last_error");
    return ps->last_error;
}

const char *page_stack_error_string(PageStackError err)
{
    switch (err) {
    case PageStackError_None: return "no error";
    case PageStackError_OutOfReserve: return "out of reserved address space (raise reserve_size)";
    case PageStackError_CommitFailed: return "the OS refused to commit memory";
    case PageStackError_SizeOverflow: return "size overflows size_t";
    }
    return "unknown error";
}

PageStack *page_stack_create(const PageStackDesc *desc)
{
    PageStackDesc d = desc ? *desc : (PageStackDesc){0};
    size_t page = os_vm_page_size();
    bool huge = (d.flags & PageStackFlag_HugePages) != 0;
    if (!d.name)
        d.name = "page_stack";
    if (!d.on_fail)
        d.on_fail = default_on_fail;
    if (!d.commit_size)
        d.commit_size = huge ? 2 * MiB : 64 * KiB;
    if (!d.reserve_size)
        d.reserve_size = sizeof(void *) >= 8 ? 1024 * MiB : 64 * MiB;
    size_t commit_size, reserved, initial, header;
    if (!round_up(d.commit_size, page, &commit_size) || !round_up(d.reserve_size, commit_size, &reserved) ||
        !round_up(d.initial_commit, commit_size, &initial) || !round_up(sizeof(PageStack), page, &header))
        return NULL;
    if (initial > reserved)
        os_vm_fatal("page_stack \"%s\": initial_commit %zu exceeds reserve_size %zu; raise reserve_size or "
                    "lower initial_commit",
                    d.name, d.initial_commit, reserved);
    if (reserved > SIZE_MAX - page - header)
        return NULL;
    size_t map_size = reserved + page + header;
    char *map = os_vm_reserve(map_size, huge ? 2 * MiB : page, huge ? OsVmFlag_HugePages : 0);
    if (!map)
        return NULL;
    PageStack *ps = (PageStack *)(map + reserved + page);
    if (!os_vm_commit(ps, header) || (initial && !os_vm_commit(map, initial))) {
        os_vm_release(map, map_size);
        return NULL;
    }
    *ps = (PageStack){
        .cur = (uintptr_t)map,
        .dirty = (uintptr_t)map,
        .base = (uintptr_t)map,
        .committed = initial,
        .reserved = reserved,
        .commit_size = commit_size,
        .initial_commit = initial,
        .map_size = map_size,
        .commits = initial ? 1 : 0,
        .flags = d.flags,
        .name = d.name,
        .on_fail = d.on_fail,
        .user = d.user,
    };
    if (initial && (d.flags & PageStackFlag_Prefault))
        os_vm_prefault(map, initial);
    poison(map, initial);
    settle(ps);
    return ps;
}

void page_stack_destroy(PageStack *ps)
{
    if (!ps)
        return;
    void *map = (void *)ps->base;
    size_t map_size = ps->map_size;
    unpoison(map, ps->committed); /* the address range may be mapped again by anyone */
    os_vm_release(map, map_size);
}
