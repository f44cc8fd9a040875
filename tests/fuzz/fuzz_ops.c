/* A byte stream read as operations on a page stack, a frame arena and the
 * scratch stacks, checked after every operation against a reference model:
 *
 *  - every returned pointer is aligned as asked and no two live blocks overlap;
 *  - every live block still holds the pattern written into it (blocks of the
 *    previous frame included, while it is in flight, in either of its two
 *    lanes);
 *  - push_zero blocks read zero, also right after a realloc that moved a
 *    block; pos is exactly what the model computes;
 *    pos <= committed <= reserved; pushes and failed pushes are counted;
 *  - a failed push names the right error and leaves pos and committed alone;
 *  - pushes through a cursor get the same verdicts as the stack's own;
 *  - a string (printf, strdup, strndup and their try_ forms) is the string
 *    asked for, with the verdicts of a push of its length + 1;
 *  - a scratch scope is on a stack not in its conflicts (the innermost
 *    scope's, some of the time), begins at that stack's top, and is
 *    counted by scratch_open_scopes until it ends;
 *  - scratch_thread_init, between scopes, makes new empty scratch stacks of
 *    the size asked, and after scratch_shutdown the next scratch_begin makes
 *    new ones from the defaults scratch_set_defaults gave, which stay;
 *  - a cleanup runs exactly once, newest first, when a pop_to or reset
 *    releases its record (a pop to a mark taken just before it included),
 *    and never otherwise;
 *  - free_last gives back the last push, and no other block;
 *  - page_stack_trim leaves exactly max(pos, keep), in whole commit steps,
 *    committed where more was (in the checked build, which counts every
 *    region's pages: no more than before, nor than that in each region,
 *    or what the region's last use took where that use's pos fitted in it,
 *    and the current one's physical top stays committed), and counts
 *    a decommit when it gave some back (the checked build one for each
 *    region), none if not; a second trim to the same keep changes nothing;
 *  - a frame's sample holds what its lanes hold at its end (used) and the
 *    sum of their highest tops (peak: some pushes are given back at once),
 *    the pushes they served and refused, and the arena's committed bytes
 *    after the end; the frame is counted, and the minimum, mean and
 *    maximum of the history's used bytes and the all-time peak are the
 *    model's;
 *  - a frame whose peak crosses the budget is counted and on_budget is
 *    called once with its peak; a frame that meets it is not;
 *  - in plain builds, the trim policy leaves no buffer of a lane a quarter
 *    or more above the lane's largest peak of the last TRIM_AFTER frames,
 *    in whole commit steps, and takes none below it; in the checked build
 *    no region of a buffer a quarter or more above the largest of those
 *    frames' physical tops as the model bounds them;
 *  - frame_arena_trim, in a frame or between two, gives back what it says
 *    and leaves the blocks of the frames in flight as they were;
 *  - a copy of a live block (push_copy, the array macros and their try_
 *    forms, and through a cursor) holds the block's bytes, with the
 *    verdicts of a push of its size;
 *  - a string of the stack's own memory (strdup, strndup, printf's format,
 *    from a live block) is copied whole, with the verdicts of a push of its
 *    length + 1;
 *  - hooks put on and taken off by page_stack_set_hooks and
 *    frame_arena_set_hooks, at any point: while on, on_push is called once
 *    for every push counted, on_pop with the pos a pop or free_last goes
 *    down to, on_reset once per reset and on_frame once per frame end with
 *    its number; while off, none of them; and the pushes around each change
 *    keep every check above (the inline push closes while on_push is set).
 *
 * fuzz_ops_run() aborts with a one-line reason on the first violation, so a
 * fuzzer reports it as a crash and the replay as a failed test.
 */
#include "fuzz_ops.h"

#include "frame_arena.h"
#include "os_vm.h"
#include "scratch.h"
#ifdef FRAME_ARENA_CHECKED
#include "page_stack_owner.h" /* page_stack_most_committed */
#endif

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_BLOCKS 96
#define MAX_MARKS 16
#define MAX_SCOPES 6
#define MAX_CLEANUPS 24
#define RESERVE ((size_t)4 << 20)
#define COMMIT_STEP ((size_t)64 << 10) /* the stack's commit_size */
#define QUARANTINE 2 /* the checked build's stacks hold QUARANTINE + 1 regions */
/* The scratch defaults the interpreter sets: a size of its own, which no
 * scratch_thread_init asks for. Not the library's 1 GiB, which an emulator
 * pays for at every reservation (qemu-user 7.2 keeps about 6 MB of its own
 * for each GiB reserved, after the release too). */
#define SCRATCH_DEFAULT_RESERVE (3 * RESERVE)
/* A size far above the reservation: 4 GiB, or 1 GiB where size_t has 32 bits. */
#define BIG_SIZE ((size_t)(SIZE_MAX > 0xFFFFFFFFu ? (uint64_t)1 << 32 : (uint64_t)1 << 30))

typedef enum Owner { Owner_Stack, Owner_Frame, Owner_Scratch } Owner;

typedef struct Block {
    unsigned char *p;
    size_t size;
    uint32_t seed;
    Owner owner;
    uint64_t frame;   /* Owner_Frame: the frame it was pushed in */
    uint32_t scope;   /* Owner_Scratch: the scope depth it belongs to */
    uint64_t seq;     /* order of the push, to know which marks it is above */
    size_t end;       /* Owner_Stack: the stack's pos just after it */
    int zero;         /* pushed zeroed and not written since */
} Block;

typedef struct Model {
    PageStack *ps;
    FrameArena *fa;
    Block blocks[MAX_BLOCKS];
    uint32_t nblocks;
    struct {
        PageStackMark mark;
        uint64_t seq;
    } marks[MAX_MARKS];
    uint64_t seq;
    int last_tracked; /* the stack's last push is the newest block */
    uint32_t nmarks;
    size_t pos; /* the stack's expected pos */
    uint64_t pushes, failed;
    int in_frame;
    uint64_t frame; /* the frame in progress or last ended */
    PageStackMark scopes[MAX_SCOPES];
    uint32_t nscopes;
    const uint8_t *data;
    size_t size, at;
    int failures_expected;
    struct {
        size_t id, end; /* the record's number and the pos just above it */
    } cleanups[MAX_CLEANUPS]; /* pending, oldest first */
    uint32_t ncleanups;
    size_t cleanup_ids;
    size_t release_to; /* the pos the pop or reset under way goes down to */
    size_t phys;       /* at least what the pushes since the last reset or pop to 0 took of a checked region */
    /* The stack's hooks (op 22): on while `hooked`; on_push calls counted, to
     * match the stack's push count since they went on (`hook_from`). */
    int hooked;
    uint64_t hook_pushes, hook_from, hook_pops, hook_resets;
    size_t hook_pop_pos;
    /* The frame arena's: on_push of every buffer and lane, and on_frame. */
    int frame_hooked;
    uint64_t frame_hook_pushes, frame_pushes, frame_ends;
    uint64_t frame_ended; /* the frame on_frame was last given */
    uint32_t frame_served, frame_refused; /* this frame's pushes to its lanes, served and refused */
    size_t lane_peak[2];                  /* the highest pos of each lane in this frame */
    size_t lane_phys[2];                  /* as phys, for each lane's stack of this frame */
    uint64_t budget_calls; /* on_budget, which is always on */
    size_t budget_used;    /* what it was last given */
} Model;

static void violation(const char *what, unsigned long long a, unsigned long long b)
{
    fprintf(stderr, "fuzz_ops: %s (%llu, %llu)\n", what, a, b);
    fflush(stderr);
    abort();
}

static uint32_t take(Model *m, int bytes)
{
    uint32_t v = 0;
    for (int i = 0; i < bytes; i++)
        v = v << 8 | (m->at < m->size ? m->data[m->at++] : 0);
    return v;
}

static void on_fail_count(PageStack *ps, size_t size, size_t align, void *user)
{
    (void)ps, (void)size, (void)align;
    ((Model *)user)->failures_expected--;
}

static void hooked_push(PageStack *ps, void *ptr, size_t size, void *user)
{
    Model *m = user;
    (void)ptr, (void)size;
    if (!m->hooked || ps != m->ps)
        violation("on_push called while the stack's hooks are off: hooked", (unsigned long long)m->hooked, 0);
    m->hook_pushes++;
}

static void hooked_pop(PageStack *ps, size_t pos, void *user)
{
    Model *m = user;
    if (!m->hooked || ps != m->ps)
        violation("on_pop called while the stack's hooks are off: pos", pos, 0);
    m->hook_pops++;
    m->hook_pop_pos = pos;
}

static void hooked_reset(PageStack *ps, void *user)
{
    Model *m = user;
    if (!m->hooked || ps != m->ps)
        violation("on_reset called while the stack's hooks are off: hooked", (unsigned long long)m->hooked, 0);
    m->hook_resets++;
}

static void frame_hooked_push(PageStack *ps, void *ptr, size_t size, void *user)
{
    Model *m = user;
    (void)ps, (void)ptr, (void)size;
    if (!m->frame_hooked)
        violation("a frame's on_push called while the arena's hooks are off: frame", m->frame, 0);
    m->frame_hook_pushes++;
}

static void frame_hooked_end(FrameArena *fa, const FrameSample *sample, void *user)
{
    Model *m = user;
    (void)fa;
    if (!m->frame_hooked)
        violation("on_frame called while the arena's hooks are off: frame", sample->frame, 0);
    m->frame_ends++;
    m->frame_ended = sample->frame;
}

static void over_budget(FrameArena *fa, size_t used, void *user)
{
    Model *m = user;
    (void)fa;
    m->budget_calls++;
    m->budget_used = used;
}

/* The stack's desc for page_stack_set_hooks: on_fail and user as at create, and the hooks if on. */
static void set_stack_hooks(Model *m, int on)
{
    page_stack_set_hooks(m->ps, &(PageStackDesc){.on_fail = on_fail_count, .user = m,
                                                 .on_push = on ? hooked_push : NULL,
                                                 .on_pop = on ? hooked_pop : NULL,
                                                 .on_reset = on ? hooked_reset : NULL});
    m->hooked = on;
    m->hook_from = page_stack_stats(m->ps).pushes;
    m->hook_pushes = 0;
}

static void set_frame_hooks(Model *m, int on)
{
    frame_arena_set_hooks(m->fa, &(FrameArenaDesc){.user = m, .on_budget = over_budget,
                                                   .on_frame = on ? frame_hooked_end : NULL,
                                                   .stack = {.user = m, .on_push = on ? frame_hooked_push : NULL}});
    m->frame_hooked = on;
    m->frame_hook_pushes = m->frame_pushes = 0;
}

static int thorough = 1;

/* The frame arena outlives a run, and so do its history and its all-time
 * peak: the model of them does too. */
#define HISTORY 8
#define TRIM_AFTER 8
#define BUDGET ((size_t)2 << 20) /* a lane's half (a frame push asks for one now and then) meets it; more crosses it */
static size_t history_used[HISTORY], all_time_peak;
static uint64_t frames_ended;
static size_t lane_peaks[TRIM_AFTER][2]; /* each lane's peak in the last TRIM_AFTER frames, by frame % TRIM_AFTER */
#ifdef FRAME_ARENA_CHECKED
static size_t lane_tops[TRIM_AFTER][2]; /* the same frames' lane_phys: at least each one's physical top */
#endif
/* The model's stack in the checked build: `phys` of its last QUARANTINE + 1
 * uses of a region, each ended by a reset or a pop to 0, oldest first from
 * left_next. A cleanup's pop to 0 moves the stack to its next region too,
 * which the model does not see: such a use counts in the phys of the use it
 * is part of, so each region's last use took no more than one of these, or
 * the phys of this one. */
static size_t left_phys[QUARANTINE + 1];
static uint32_t left_next;

/* The sample just recorded goes into the model's history; the arena's
 * minimum, mean (rounded down) and maximum over it, and its all-time peak,
 * must match. */
static void check_history(const FrameArenaStats *st)
{
    history_used[frames_ended++ % HISTORY] = st->last.used;
    if (st->last.peak > all_time_peak)
        all_time_peak = st->last.peak;
    uint64_t kept = frames_ended < HISTORY ? frames_ended : HISTORY, sum = 0;
    size_t lo = SIZE_MAX, hi = 0;
    for (uint64_t i = 0; i < kept; i++) {
        size_t used = history_used[i];
        sum += used;
        lo = used < lo ? used : lo;
        hi = used > hi ? used : hi;
    }
    if (st->used_min != lo)
        violation("frame history: used_min, the model's", st->used_min, lo);
    if (st->used_max != hi)
        violation("frame history: used_max, the model's", st->used_max, hi);
    if (st->used_avg != (size_t)(sum / kept))
        violation("frame history: used_avg, the model's", st->used_avg, sum / kept);
    if (st->peak_all_time != all_time_peak)
        violation("all-time peak: stats, model", st->peak_all_time, all_time_peak);
}

void fuzz_ops_thorough(int on)
{
    thorough = on;
}

/* The bytes of a block that carry its pattern, as spans [i, span_end) from
 * i = 0 on. Thorough: all of a block up to 64 KiB; the first and last 4 KiB
 * and every 65537th byte of a larger one (some are 4 MiB). Quick (the
 * fuzzer): all of a block up to 256 bytes, else 32 bytes at each end and
 * every 1031st byte. */
static size_t span_end(size_t size, size_t i)
{
    size_t dense = thorough ? 65536 : 256, edge = thorough ? 4096 : 32;
    if (size <= dense || i >= size - edge)
        return size;
    return i < edge ? edge : i + 1;
}

static size_t next_span(size_t size, size_t end)
{
    size_t edge = thorough ? 4096 : 32, stride = thorough ? 65537 : 1031;
    if (end >= size)
        return size;
    return end - 1 + stride < size - edge ? end - 1 + stride : size - edge;
}

/* The pattern's byte i is (seed + 13 i) mod 256, and 13 * 197 = 1 mod 256, so
 * it is ramp[(i + 197 seed) mod 256] with ramp[j] = 13 j mod 256: a span is
 * written and compared in runs of up to 256 bytes from the ramp (or from
 * zeros), by memcpy and memcmp. Byte by byte, a replay spent most of its
 * time here. */
#define RUN 256
static unsigned char ramp[2 * RUN];
static const unsigned char zeros[RUN];

static const unsigned char *pattern_at(uint32_t seed, int zero, size_t i)
{
    if (zero)
        return zeros;
    if (!ramp[1])
        for (size_t j = 0; j < sizeof ramp; j++)
            ramp[j] = (unsigned char)(j * 13u);
    return ramp + ((i + seed * 197u) & (RUN - 1));
}

static void pattern(unsigned char *p, size_t n, uint32_t seed)
{
    for (size_t i = 0, end; i < n; i = next_span(n, end))
        for (end = span_end(n, i); i < end; i += RUN)
            memcpy(p + i, pattern_at(seed, 0, i), end - i < RUN ? end - i : RUN);
}

/* The first of the pattern's bytes of a block of `size` (zeros if `zero`)
 * below `limit` that p does not hold, or SIZE_MAX. */
static size_t pattern_mismatch(const unsigned char *p, size_t size, size_t limit, uint32_t seed, int zero)
{
    for (size_t i = 0, end = 0; i < size && end < limit; i = next_span(size, end))
        for (end = span_end(size, i) < limit ? span_end(size, i) : limit; i < end; i += RUN) {
            size_t n = end - i < RUN ? end - i : RUN;
            const unsigned char *want = pattern_at(seed, zero, i);
            if (memcmp(p + i, want, n))
                for (size_t k = 0;; k++)
                    if (p[i + k] != want[k])
                        return i + k;
        }
    return SIZE_MAX;
}

static void verify_byte(const Block *b, size_t i)
{
    unsigned char want = b->zero ? 0 : (unsigned char)(b->seed + i * 13u);
    if (b->p[i] != want)
        violation("live block changed: size, offset", b->size, i);
}

/* After every operation the ends of each block and a stride through it; the
 * whole of every block every 16 operations, before a block is dropped, and at
 * the end of a run. */
static void verify_block(const Block *b, int whole)
{
    if (!thorough && !whole) { /* the fuzzer's quick look: both ends */
        for (size_t i = 0; i < 8 && i < b->size; i++) {
            verify_byte(b, i);
            verify_byte(b, b->size - 1 - i);
        }
        return;
    }
    if (whole || b->size <= 64) {
        size_t at = pattern_mismatch(b->p, b->size, b->size, b->seed, b->zero);
        if (at != SIZE_MAX)
            violation("live block changed: size, offset", b->size, at);
        return;
    }
    for (size_t i = 0; i < 16; i++) {
        verify_byte(b, i);
        verify_byte(b, b->size - 1 - i);
    }
    for (size_t i = 16; b->size <= 65536 && i < b->size; i += 257)
        verify_byte(b, i);
}

/* A live block is held from its first byte to its last: by the stack, or
 * by the frame it was pushed in (frame_arena_frames_ago counts back from
 * the frame in progress or last ended). */
static void verify_held(const Model *m, const Block *b)
{
    if (!b->size)
        return;
    const unsigned char *ends[2] = {b->p, b->p + b->size - 1};
    for (int e = 0; e < 2; e++) {
        if (b->owner == Owner_Stack && !page_stack_holds(m->ps, ends[e]))
            violation("the stack does not hold a live block's byte: offset, size", (size_t)(ends[e] - b->p), b->size);
        if (b->owner == Owner_Frame && frame_arena_frames_ago(m->fa, ends[e]) != (int)(m->frame - b->frame))
            violation("frames_ago of a live frame block: got, frames since its push",
                      (unsigned long long)(long long)frame_arena_frames_ago(m->fa, ends[e]), m->frame - b->frame);
    }
}

static void verify_all(Model *m, int whole)
{
    for (uint32_t i = 0; i < m->nblocks; i++) {
        verify_block(&m->blocks[i], whole);
        verify_held(m, &m->blocks[i]);
    }
    PageStackStats st = page_stack_stats(m->ps);
    if (st.pos != m->pos)
        violation("pos differs from the model: pos, model", st.pos, m->pos);
    if (!(st.pos <= st.reserved) || !(st.committed <= st.reserved * 16))
        violation("pos <= committed <= reserved broken: committed, reserved", st.committed, st.reserved);
    if (st.pushes != m->pushes)
        violation("pushes miscounted: stats, model", st.pushes, m->pushes);
    if (st.failed_pushes != m->failed)
        violation("failed pushes miscounted: stats, model", st.failed_pushes, m->failed);
    if (m->hooked && m->hook_pushes != st.pushes - m->hook_from)
        violation("on_push calls differ from the pushes counted: calls, pushes", m->hook_pushes,
                  st.pushes - m->hook_from);
    if (m->frame_hooked && m->frame_hook_pushes != m->frame_pushes)
        violation("a frame's on_push calls differ from its pushes: calls, pushes", m->frame_hook_pushes,
                  m->frame_pushes);
#ifndef FRAME_ARENA_CHECKED
    if (st.pos > st.committed)
        violation("pos above committed", st.pos, st.committed);
#endif
}

static void add_block(Model *m, unsigned char *p, size_t size, size_t align, Owner owner, int zero)
{
    if ((uintptr_t)p % align)
        violation("misaligned block: address, align", (uintptr_t)p, align);
    for (uint32_t i = 0; i < m->nblocks; i++) {
        const Block *b = &m->blocks[i];
        if (size && b->size && p < b->p + b->size && b->p < p + size)
            violation("new block overlaps a live one: sizes", size, b->size);
    }
    Block b = {p, size, (uint32_t)m->at * 2654435761u, owner, m->frame, m->nscopes, m->seq++, m->pos, zero};
    if (zero) {
        size_t at = pattern_mismatch(p, size, size, 0, 1);
        if (at != SIZE_MAX)
            violation("push_zero block not zero: offset, size", at, size);
    } else {
        pattern(p, size, b.seed);
    }
    m->last_tracked = owner == Owner_Stack && m->nblocks < MAX_BLOCKS;
    if (m->nblocks < MAX_BLOCKS)
        m->blocks[m->nblocks++] = b;
}

static void drop_blocks(Model *m, int (*dead)(const Model *, const Block *))
{
    uint32_t kept = 0;
    for (uint32_t i = 0; i < m->nblocks; i++)
        if (!dead(m, &m->blocks[i]))
            m->blocks[kept++] = m->blocks[i];
        else
            verify_block(&m->blocks[i], 0); /* called before the release: it was intact until now */
    m->nblocks = kept;
}

static size_t pick_size(Model *m)
{
    static const size_t edges[] = {0, 1, 7, 16, 4095, 4096, 65535, 65536, 65537, (size_t)1 << 20};
    uint32_t r = take(m, 2);
    if (r % 16 == 0)
        return edges[(r >> 4) % (sizeof edges / sizeof edges[0])];
    return r % 3 ? r % 256 : r % 8192;
}

/* The checked build's pops leave its physical top where it is until the
 * stack is reset or popped to 0 (docs/RELIABILITY.md, "The builds"), so a
 * push that a plain build would serve may find its region, twice the
 * reservation and 64 KiB, used up: OutOfReserve. `phys` counts what the
 * pushes since then may have taken, at the most. */
static void took(size_t *phys, size_t size, size_t align)
{
    *phys += size + align + 16;
}

/* n bytes rounded up to whole commit steps. */
static size_t in_steps(size_t n)
{
    return (n + COMMIT_STEP - 1) / COMMIT_STEP * COMMIT_STEP;
}

/* The model's stack left its region (a reset, or a pop to 0). */
static void left_region(Model *m)
{
    left_phys[left_next] = m->phys;
    left_next = (left_next + 1) % (QUARANTINE + 1);
    m->phys = 0;
}

static int region_full(size_t phys, size_t size, size_t align)
{
#ifdef FRAME_ARENA_CHECKED
    return phys + size + align + 16 > 2 * RESERVE + 64 * 1024;
#else
    (void)phys, (void)size, (void)align;
    return 0;
#endif
}

static int may_run_out(const Model *m, size_t size, size_t align)
{
    return region_full(m->phys, size, align);
}

/* The model's verdict for a push of size at `pos` on a stack of RESERVE bytes. */
static PageStackError expected_error(size_t pos, size_t size, size_t align)
{
    size_t pad = (size_t)(0 - pos) & (align - 1);
    if (size > SIZE_MAX - pad)
        return PageStackError_SizeOverflow;
    if (pos + pad > RESERVE || size > RESERVE - pos - pad)
        return PageStackError_OutOfReserve;
    return PageStackError_None;
}

/* Before a push: maybe make its commit fail; a push that calls on_fail must call it once. */
static int arm_push(Model *m, uint32_t how)
{
    int inject = take(m, 1) % 16 == 0;
    if (inject)
        os_vm_inject_commit_failure(1);
    if (!(how & PageStackPush_Try))
        m->failures_expected = 1;
    return inject;
}

/* After a push to the model's stack: checks p against the model's verdict
 * `want` and records the block or the failure. */
static void record_push(Model *m, unsigned char *p, uint32_t how, size_t size, size_t align, PageStackError want,
                        int inject, size_t committed_before)
{
    os_vm_inject_commit_failure(0);
    if (p) {
        if (want != PageStackError_None)
            violation("push succeeded where it must fail: size, align", size, align);
        m->pos += ((size_t)(0 - m->pos) & (align - 1)) + size;
        m->pushes++;
        took(&m->phys, size, align);
        add_block(m, p, size, align, Owner_Stack, (how & PageStackPush_Zero) != 0);
        return;
    }
    PageStackError got = page_stack_last_error(m->ps);
    if (want == PageStackError_None ? !((inject && got == PageStackError_CommitFailed) ||
                                        (got == PageStackError_OutOfReserve && may_run_out(m, size, align)))
                                    : got != want)
        violation("wrong failure: error, expected", got, want);
    if (!(how & PageStackPush_Try) && m->failures_expected != 0)
        violation("on_fail not called exactly once", (unsigned long long)m->failures_expected, 0);
    PageStackStats after = page_stack_stats(m->ps); /* exact even under a cursor: a failure went out of line */
    if (after.pos != m->pos || after.committed != committed_before)
        violation("a failed push changed the stack: pos, committed", after.pos, after.committed);
    m->failed++;
}

static void stack_push(Model *m, uint32_t how, size_t size, size_t align)
{
    size_t committed = page_stack_stats(m->ps).committed;
    PageStackError want = expected_error(m->pos, size, align);
    int inject = arm_push(m, how);
    unsigned char *p = page_stack_push_with(m->ps, size, align, how);
    record_push(m, p, how, size, align, want, inject, committed);
}

/* 1 to 8 pushes through a cursor, of every kind, with the same verdicts as
 * the stack's own; the stack's counts are checked after the cursor's end.
 * committed changes only out of line, so read before the cursor it is exact. */
static void cursor_run(Model *m)
{
    uint32_t n = take(m, 1) % 8 + 1;
    size_t committed = page_stack_stats(m->ps).committed;
    PageStackCursor c = page_stack_cursor_begin(m->ps);
    for (uint32_t i = 0; i < n; i++) {
        uint32_t r = take(m, 1);
        size_t align = (size_t)1 << (r % 13);
        uint32_t how = (r >> 4) % 3 == 1 ? PageStackPush_Zero : (r >> 4) % 3 == 2 ? PageStackPush_Try : 0;
        const Block *src = r >> 6 == 2 && m->nblocks ? &m->blocks[take(m, 1) % m->nblocks] : NULL;
        Block from = src ? *src : (Block){0}; /* a copy of a live block, maybe one this cursor pushed */
        size_t size = r >> 6 == 3 ? SIZE_MAX - take(m, 1) : src ? from.size : pick_size(m);
        PageStackError want = expected_error(m->pos, size, align);
        int inject = arm_push(m, how);
        unsigned char *p = src ? page_stack_cursor_push_copy_with(&c, from.p, 1, size, align, how & PageStackPush_Try)
                               : page_stack_cursor_push_with(&c, size, align, how);
        size_t at = src && p ? pattern_mismatch(p, size, size, from.seed, from.zero) : SIZE_MAX;
        if (at != SIZE_MAX)
            violation("cursor push_copy gave other bytes: offset, size", at, size);
        if (src)
            how &= PageStackPush_Try;
        record_push(m, p, how, size, align, want, inject, committed);
        committed = page_stack_stats(m->ps).committed;
    }
    page_stack_cursor_end(&c);
}

/* A string of 0 to 8191 characters (mostly short, some on either side of
 * the 256 bytes page_stack_printf formats on the C stack first) by printf,
 * strdup, strndup or their try_ forms: the same verdicts as a push of its
 * length + 1 at alignment 1, and the characters it was made from. */
static void string_push(Model *m)
{
    static char text[8193];
    if (!text[0])
        for (size_t i = 0; i < sizeof text - 1; i++)
            text[i] = (char)('a' + i % 23);
    uint32_t r = take(m, 2);
    size_t len = r % 4 == 0 ? r % 8192 : r % 300;
    int kind = (int)((r >> 12) % 6); /* printf, strdup, strndup, try_printf, try_strdup, try_strndup */
    const char *from = kind == 1 || kind == 4 ? text + 8192 - len : text;
    size_t size = len + (kind == 0 || kind == 3 ? 2 : 1); /* the printfs add a '|' */
    uint32_t how = kind >= 3 ? PageStackPush_Try : 0;
    size_t committed = page_stack_stats(m->ps).committed;
    PageStackError want = expected_error(m->pos, size, 1);
    int inject = arm_push(m, how);
    char *p = kind == 0   ? page_stack_printf(m->ps, "%.*s|", (int)len, text)
              : kind == 1 ? page_stack_strdup(m->ps, from)
              : kind == 2 ? page_stack_strndup(m->ps, text, len)
              : kind == 3 ? page_stack_try_printf(m->ps, "%.*s|", (int)len, text)
              : kind == 4 ? page_stack_try_strdup(m->ps, from)
                          : page_stack_try_strndup(m->ps, text, len);
    if (p && (strlen(p) != size - 1 || memcmp(p, from, len) != 0 || (size == len + 2 && p[len] != '|')))
        violation("a string push gave the wrong string: kind, length", (unsigned long long)kind, len);
    record_push(m, (unsigned char *)p, how, size, 1, want, inject, committed);
}

/* A string of the stack's own memory: the bytes of a live block of up to
 * 256 (written whole, and with a NUL in any 256 of its pattern's bytes) from
 * an offset whose string ends inside the block, given to strdup, strndup (n
 * at least its length) or, where it holds no '%', printf as the format. The
 * checks on a string of the stack's own must take it, a block of the stack,
 * of a frame in flight or of a scratch scope alike: the verdicts of a push
 * of its length + 1, and its bytes. */
static void own_string_push(Model *m)
{
    if (!m->nblocks)
        return;
    const Block *b = &m->blocks[take(m, 1) % m->nblocks];
    uint32_t r = take(m, 2);
    if (!b->size || b->size > 256)
        return;
    Block src = *b; /* the push may add a block to the table */
    size_t off = r % src.size, len = 0;
    const char *s = (const char *)src.p + off;
    while (off + len < src.size && s[len])
        len++;
    if (off + len == src.size)
        return; /* no NUL in the block after off: a string that would run on */
    int kind = (int)((r >> 8) % 3); /* strdup, strndup, printf */
    if (kind == 2 && memchr(s, '%', len))
        kind = 0;
    uint32_t how = (r >> 10) % 2 ? PageStackPush_Try : 0;
    size_t committed = page_stack_stats(m->ps).committed;
    PageStackError want = expected_error(m->pos, len + 1, 1);
    int inject = arm_push(m, how);
    size_t n = len + (r >> 11) % 4;
    char *p = kind == 0   ? (how ? page_stack_try_strdup(m->ps, s) : page_stack_strdup(m->ps, s))
              : kind == 1 ? (how ? page_stack_try_strndup(m->ps, s, n) : page_stack_strndup(m->ps, s, n))
              : (how ? page_stack_try_printf : page_stack_printf)(m->ps, s, 0);
    if (p && (strlen(p) != len || memcmp(p, s, len) != 0))
        violation("a string of the stack's own was copied wrong: kind, length", (unsigned long long)kind, len);
    record_push(m, (unsigned char *)p, how, len + 1, 1, want, inject, committed);
}

/* A copy of a live block (of the stack itself, a frame in flight or a
 * scratch scope) pushed to the stack by push_copy, try_push_copy or the
 * array macros: the verdicts of a push of its size, and the source's bytes. */
static void copy_push(Model *m, size_t align)
{
    if (!m->nblocks)
        return;
    const Block *b = &m->blocks[take(m, 1) % m->nblocks];
    uint32_t r = take(m, 1);
    int kind = (int)(r % 4); /* push_copy, try_push_copy, push_array_copy of uint32_t, try_push_array_copy */
    uint32_t how = kind % 2 ? PageStackPush_Try : 0;
    size_t size = b->size, count = size / 4;
    if (kind >= 2) {
        size = count * 4;
        align = 4;
    }
    Block src = *b; /* the push may add a block to the table */
    size_t committed = page_stack_stats(m->ps).committed;
    PageStackError want = expected_error(m->pos, size, align);
    int inject = arm_push(m, how);
    const uint32_t *words = (const uint32_t *)(const void *)src.p;
    unsigned char *p = kind == 0   ? page_stack_push_copy(m->ps, src.p, size, align)
                       : kind == 1 ? page_stack_try_push_copy(m->ps, src.p, size, align)
                       : kind == 2 ? (unsigned char *)push_array_copy(m->ps, uint32_t, words, count)
                                   : (unsigned char *)try_push_array_copy(m->ps, uint32_t, words, count);
    /* the bytes the source's pattern wrote */
    size_t at = p ? pattern_mismatch(p, src.size, size, src.seed, src.zero) : SIZE_MAX;
    if (at != SIZE_MAX)
        violation("push_copy gave other bytes: offset, size", at, size);
    record_push(m, p, how, size, align, want, inject, committed);
}

static int above_mark(const Model *m, const Block *b)
{
    return b->owner == Owner_Stack && b->seq >= m->marks[m->nmarks - 1].seq;
}

static int stack_block(const Model *m, const Block *b)
{
    (void)m;
    return b->owner == Owner_Stack;
}

static int frame_block_reused(const Model *m, const Block *b)
{
    /* begin of frame m->frame resets the buffer of frame m->frame - 2 */
    return b->owner == Owner_Frame && b->frame + 2 <= m->frame;
}

static int scope_block_ended(const Model *m, const Block *b)
{
    return b->owner == Owner_Scratch && b->scope > m->nscopes;
}

/* A cleanup's object is the model and its count the record's number: it
 * must be the newest pending one, and its record must lie above the pos the
 * pop or reset goes down to. What it pushes goes with the rest. */
static void fuzz_cleanup(void *object, size_t id)
{
    Model *m = object;
    if (!m->ncleanups || m->cleanups[m->ncleanups - 1].id != id)
        violation("a cleanup ran out of turn: id, newest pending", id,
                  m->ncleanups ? m->cleanups[m->ncleanups - 1].id : 0);
    if (m->cleanups[m->ncleanups - 1].end <= m->release_to)
        violation("a cleanup ran whose record stays: record end, released to", m->cleanups[m->ncleanups - 1].end,
                  m->release_to);
    m->ncleanups--;
    if (id % 4 == 0) { /* one in four uses its stack, as a cleanup may: a push, and for half of them a pop back */
        PageStackMark own = page_stack_mark(m->ps);
        size_t n = id % 200 + 1;
        unsigned char *p = page_stack_try_push(m->ps, n, 8);
        if (p) {
            memset(p, 0x5A, n);
            m->pushes++;
            took(&m->phys, n, 8);
        } else {
            m->failed++;
        }
        if (id % 8 == 0)
            page_stack_pop_to(own);
    }
}

/* A cleanup on the model's stack, whatever lies under it: an object just
 * pushed, a mark, or nothing since the last reset. Its record is a try push
 * of a few dozen bytes. */
static void push_cleanup(Model *m)
{
    if (m->ncleanups == MAX_CLEANUPS)
        return;
    size_t id = ++m->cleanup_ids, before = m->pos;
    if (!page_stack_push_cleanup(m->ps, fuzz_cleanup, m, id)) {
        if ((RESERVE - before >= 128 && !may_run_out(m, 64, 16)) ||
            page_stack_last_error(m->ps) != PageStackError_OutOfReserve)
            violation("a cleanup record that fits was refused: pos, error", before, page_stack_last_error(m->ps));
        m->failed++;
        return;
    }
    m->pos = page_stack_pos(m->ps);
    if (m->pos <= before || m->pos - before > 128)
        violation("a cleanup record moved pos by: before, after", before, m->pos);
    m->pushes++;
    took(&m->phys, 128, 1);
    m->last_tracked = 0;
    m->cleanups[m->ncleanups].id = id;
    m->cleanups[m->ncleanups].end = m->pos;
    m->ncleanups++;
}

/* free_last of the newest block when it is the last push, of an older one,
 * or of a block of another stack: only the first is given back. Blocks the
 * model cannot place are left: 0 bytes pushed after them, a mark on them,
 * or an older block of 0 bytes at the newest one's address (pushed where
 * the checked build's physical top was, in a region a pop to 0 left and
 * the quarantine's rotation has come back to), which is the last push to
 * free_last as much as the newest is. */
static void free_last(Model *m)
{
    if (!m->nblocks)
        return;
    const Block *newest = &m->blocks[m->nblocks - 1];
    Block *b = take(m, 1) % 2 ? &m->blocks[m->nblocks - 1] : &m->blocks[take(m, 1) % m->nblocks];
    int last = m->last_tracked && b == newest;
    if (b->owner == Owner_Stack && ((!last && b->end == m->pos) || (m->nmarks && m->marks[m->nmarks - 1].seq > b->seq)))
        return;
    if (!last && b->p == newest->p && b->size == newest->size)
        return;
    if (last)
        verify_block(b, 1); /* intact until its release */
    size_t pushes = page_stack_stats(m->ps).pushes;
    if (page_stack_free_last(m->ps, b->p, b->size) != last)
        violation("free_last: freed, the last push", !last, last);
    if (page_stack_stats(m->ps).pushes != pushes)
        violation("free_last changed the push count", page_stack_stats(m->ps).pushes, pushes);
    if (last) {
        m->pos -= b->size;
        m->nblocks--;
        m->last_tracked = 0;
        if (m->hooked && m->hook_pop_pos != m->pos)
            violation("free_last: on_pop was given, the new pos", m->hook_pop_pos, m->pos);
    }
}

/* The trim policy at a frame's end: each buffer of a lane holds no more than
 * the lane's largest peak of the last TRIM_AFTER frames, in whole commit
 * steps, unless what it holds above that is under a quarter; and the policy
 * never takes it below that. Before frame TRIM_AFTER - 1 the window also
 * holds the model's zeros from before the first frame, which lower nothing.
 * The checked build's regions keep their physical tops, which the model
 * bounds from above only: there no region of a buffer holds more than the
 * largest of the window's lane_phys, in whole commit steps, unless what it
 * holds above that is under a quarter (the policy's own target is no
 * higher, so a buffer it did not trim meets this too). */
static size_t window_high(size_t window[TRIM_AFTER][2], uint32_t lane)
{
    size_t high = 0;
    for (uint32_t f = 0; f < TRIM_AFTER; f++)
        high = window[f][lane] > high ? window[f][lane] : high;
    return high;
}

static void check_trim_policy(const Model *m, size_t before[2][2])
{
#ifdef FRAME_ARENA_CHECKED
    (void)before;
    for (uint32_t lane = 0; lane < 2; lane++) {
        size_t target = in_steps(window_high(lane_tops, lane));
        for (uint32_t ago = 0; ago < 2; ago++) {
            PageStack *ps = frame_arena_lane(m->fa, lane, ago);
            size_t most = ps ? page_stack_most_committed(ps) : 0;
            if (most > target && most - target >= most / 4)
                violation("trim policy left a region a quarter or more above the window's highest top: committed, top",
                          most, target);
        }
    }
#else
    for (uint32_t lane = 0; lane < 2; lane++) {
        size_t target = in_steps(window_high(lane_peaks, lane));
        for (uint32_t ago = 0; ago < 2; ago++) {
            PageStack *ps = frame_arena_lane(m->fa, lane, ago);
            if (!ps)
                continue;
            size_t committed = page_stack_stats(ps).committed;
            size_t floor = before[lane][ago] < target ? before[lane][ago] : target;
            if (committed > target && committed - target >= committed / 4)
                violation("trim policy left a buffer a quarter or more above the window's high: committed, high",
                          committed, target);
            if (committed < floor)
                violation("trim policy took a buffer below the window's high: committed, high", committed, target);
        }
    }
#endif
}

/* Ends the frame, and checks its sample and the arena's history. */
static void end_frame(Model *m)
{
    FrameArenaStats was = frame_arena_stats(m->fa);
    uint64_t ends = m->frame_ends, frames = was.frames, calls = m->budget_calls;
    size_t used = 0, peak = 0, before[2][2];
    for (uint32_t lane = 0; lane < 2; lane++) {
        used += page_stack_pos(frame_arena_lane(m->fa, lane, 0));
        peak += m->lane_peak[lane];
        lane_peaks[m->frame % TRIM_AFTER][lane] = m->lane_peak[lane];
#ifdef FRAME_ARENA_CHECKED
        lane_tops[m->frame % TRIM_AFTER][lane] = m->lane_phys[lane];
#endif
        for (uint32_t ago = 0; ago < 2; ago++) {
            PageStack *ps = frame_arena_lane(m->fa, lane, ago);
            before[lane][ago] = ps ? page_stack_stats(ps).committed : 0;
        }
    }
    frame_arena_end(m->fa);
    check_trim_policy(m, before);
    m->in_frame = 0;
    if (m->frame_hooked && (m->frame_ends != ends + 1 || m->frame_ended != m->frame))
        violation("frame end: on_frame calls, and the frame it was given", m->frame_ends - ends,
                  m->frame_ended);
    FrameArenaStats st = frame_arena_stats(m->fa);
    if (st.frames != frames + 1 || st.last.frame != m->frame)
        violation("frame end: frames counted, the frame its sample names", st.frames - frames, st.last.frame);
    if (st.last.used != used)
        violation("frame sample: used, the lanes' pos summed", st.last.used, used);
    if (st.last.peak != peak)
        violation("frame sample: peak, the lanes' highest pos summed", st.last.peak, peak);
    if (st.last.pushes != m->frame_served)
        violation("frame sample: pushes, the model's", st.last.pushes, m->frame_served);
    if (st.last.failed_pushes != m->frame_refused)
        violation("frame sample: failed pushes, the model's", st.last.failed_pushes, m->frame_refused);
    if (st.last.committed != st.committed)
        violation("frame sample: committed, the arena's after the end", st.last.committed, st.committed);
    check_history(&st);
    int over = st.last.peak > BUDGET;
    if (st.budget_overruns - was.budget_overruns != (uint64_t)over)
        violation("budget: overruns counted for a frame, its peak", st.budget_overruns - was.budget_overruns,
                  st.last.peak);
    if (m->budget_calls - calls != (uint64_t)over)
        violation("budget: calls to on_budget for a frame, its peak", m->budget_calls - calls, st.last.peak);
    if (over && m->budget_used != st.last.peak)
        violation("on_budget was given, the frame's peak", m->budget_used, st.last.peak);
}

static void op(Model *m, uint32_t code)
{
    size_t align = (size_t)1 << (take(m, 1) % 13);
    switch (code % 23) {
    case 0: stack_push(m, 0, pick_size(m), align); break;
    case 1: stack_push(m, PageStackPush_Zero, pick_size(m), align); break;
    case 2: {
        static const size_t huge[] = {SIZE_MAX, SIZE_MAX - 1, SIZE_MAX / 2, SIZE_MAX / 2 + 1,
                                      BIG_SIZE, RESERVE, RESERVE + 1};
        stack_push(m, PageStackPush_Try, huge[take(m, 1) % 7], align);
        break;
    }
    case 3: { /* realloc the newest stack block (in place) */
        if (!m->last_tracked)
            break;
        Block *b = &m->blocks[m->nblocks - 1];
        if (m->nmarks && m->marks[m->nmarks - 1].seq > b->seq)
            break; /* a mark sits on top of it */
        size_t new_size = pick_size(m);
        m->failures_expected = 1;
        unsigned char *q = page_stack_realloc(m->ps, b->p, b->size, new_size, 1);
        if (!q) {
            m->failed++;
            break;
        }
        if (q != b->p)
            violation("realloc of the last push moved it: old, new size", b->size, new_size);
        m->pos = m->pos - b->size + new_size;
        m->pushes++;
        took(&m->phys, new_size, 1);
        size_t keep = b->size < new_size ? b->size : new_size;
        size_t at = pattern_mismatch(q, b->size, keep, b->seed, b->zero);
        if (at != SIZE_MAX)
            violation("realloc lost bytes: offset, size", at, keep);
        b->size = new_size;
        b->end = m->pos;
        b->zero = 0;
        pattern(q, new_size, b->seed);
        break;
    }
    case 4:
        if (m->nmarks < MAX_MARKS) {
            m->marks[m->nmarks].mark = page_stack_mark(m->ps);
            m->marks[m->nmarks].seq = m->seq;
            if (m->marks[m->nmarks].mark.pos != m->pos)
                violation("mark.pos differs from pos", m->marks[m->nmarks].mark.pos, m->pos);
            m->nmarks++;
        }
        break;
    case 5:
        if (m->nmarks) {
            m->nmarks -= take(m, 1) % m->nmarks; /* pop to a random open mark, inner ones end too */
            drop_blocks(m, above_mark);
            m->release_to = m->marks[m->nmarks - 1].mark.pos;
            size_t from = m->pos;
            uint64_t pops = m->hook_pops;
            page_stack_pop_to(m->marks[m->nmarks - 1].mark);
            m->pos = m->marks[m->nmarks - 1].mark.pos;
            if (m->hooked && (from > m->pos ? m->hook_pops == pops || m->hook_pop_pos != m->pos : m->hook_pops != pops))
                violation("pop_to: on_pop calls, and the pos it was last given", m->hook_pops - pops, m->hook_pop_pos);
            if (m->pos == 0)
                left_region(m);
            if (m->ncleanups && m->cleanups[m->ncleanups - 1].end > m->pos)
                violation("pop_to left a cleanup whose record it released: record end, pos",
                          m->cleanups[m->ncleanups - 1].end, m->pos);
            m->last_tracked = 0;
            m->nmarks--;
        }
        break;
    case 6: {
        PageStackMark before = page_stack_mark(m->ps);
        drop_blocks(m, stack_block);
        m->release_to = 0;
        uint64_t resets = m->hook_resets, counted = page_stack_stats(m->ps).resets;
        page_stack_reset(m->ps);
        if (page_stack_stats(m->ps).resets != counted + 1)
            violation("reset: resets counted, before", page_stack_stats(m->ps).resets, counted);
        if (m->hooked && m->hook_resets != resets + 1)
            violation("reset: on_reset calls", m->hook_resets - resets, 1);
        if (m->ncleanups)
            violation("reset left cleanups: pending, newest end", m->ncleanups, m->cleanups[m->ncleanups - 1].end);
        PageStackMark after = page_stack_mark(m->ps);
        if (after.generation != before.generation + 1 || after.pos != 0)
            violation("reset: generation, pos", after.generation - before.generation, after.pos);
        m->pos = 0;
        left_region(m);
        m->nmarks = 0;
        m->last_tracked = 0;
        break;
    }
    case 7:
        if (m->in_frame) {
            while (m->nscopes) { /* the checked build wants scratch scopes closed at frame end */
                m->nscopes--;
                drop_blocks(m, scope_block_ended);
                scratch_end(m->scopes[m->nscopes]);
            }
            end_frame(m);
        } else {
            m->frame = frame_arena_stats(m->fa).frames == 0 ? 0 : frame_arena_frame(m->fa) + 1;
            drop_blocks(m, frame_block_reused);
            frame_arena_begin(m->fa);
            if (frame_arena_frame(m->fa) != m->frame)
                violation("frame number: got, expected", frame_arena_frame(m->fa), m->frame);
            m->in_frame = 1;
            m->frame_served = m->frame_refused = 0;
            m->lane_peak[0] = m->lane_peak[1] = 0;
            m->lane_phys[0] = m->lane_phys[1] = 0; /* begin reset the lanes' stacks */
        }
        break;
    case 8:
        if (m->in_frame) {
            size_t size = pick_size(m);
            uint32_t lane = take(m, 1) % 2;
            PageStack *frame = frame_arena_lane(m->fa, lane, 0);
            size_t pos = page_stack_pos(frame);
            if (size == 65537) /* one push in 160: the rest of the lane, or a byte more, which fails */
                size = RESERVE - pos + m->at % 2;
            else if (size == (size_t)1 << 20) /* and one in 160 a half, a quarter... a 32nd of the rest */
                size = (RESERVE - pos) >> (1 + m->at % 5);
            unsigned char *p = page_stack_try_push(frame, size, align);
            m->frame_pushes += p != NULL;
            m->frame_served += p != NULL;
            m->frame_refused += p == NULL;
            size_t top = page_stack_pos(frame);
            if (top > m->lane_peak[lane])
                m->lane_peak[lane] = top;
            if (p) /* a push given back below keeps its bytes in the checked build, as the stack's pops do */
                took(&m->lane_phys[lane], size, align);
            if (p && m->at % 8 == 0) { /* given back at once: the lane's peak stays above what it holds */
                if (!page_stack_free_last(frame, p, size) || page_stack_pos(frame) < pos ||
                    page_stack_pos(frame) > top - size)
                    violation("free_last of a frame's last push: pos after, before the push", page_stack_pos(frame),
                              pos);
            } else if (p) {
                add_block(m, p, size, align, Owner_Frame, 0);
            } else if (expected_error(pos, size, align) == PageStackError_None &&
                       !region_full(m->lane_phys[lane], size, align)) {
                violation("frame push that fits failed: size, align", size, align);
            }
        }
        break;
    case 9:
        if (!m->nscopes && take(m, 1) % 16 == 0) { /* remake this thread's scratch stacks, at another size */
            uint32_t how = take(m, 1);
            size_t reserve = RESERVE >> (how % 2);
            if (how % 8 >= 6) { /* or give them and the thread key back: the next begin makes both again */
                scratch_shutdown();
                reserve = SCRATCH_DEFAULT_RESERVE; /* the defaults stay */
            } else if (scratch_thread_init(&(PageStackDesc){.name = "fuzz scratch", .reserve_size = reserve,
                                                            .quarantine = QUARANTINE}) != ScratchError_None) {
                violation("scratch_thread_init failed: reserve", reserve, 0);
            }
            PageStackMark probe = scratch_begin(NULL, 0);
            if (page_stack_stats(probe.stack).reserved != reserve || probe.pos != 0 || scratch_open_scopes() != 1)
                violation("new scratch stacks: reserved, pos", page_stack_stats(probe.stack).reserved, probe.pos);
            scratch_end(probe);
        }
        if (m->nscopes < MAX_SCOPES) {
            /* A conflict (or none): the frame's stack or the stack, or the
             * innermost scope's, as a function that returns its result in
             * scratch memory and needs scratch of its own passes it. */
            uint32_t how = take(m, 1);
            size_t count = how % 2;
            PageStack *avoid = how % 4 >= 2 && m->nscopes ? m->scopes[m->nscopes - 1].stack
                               : m->in_frame          ? frame_arena_stack(m->fa, 0)
                                                      : m->ps;
            PageStackMark scope = scratch_begin(&avoid, count);
            if (count && scope.stack == avoid)
                violation("scratch_begin gave the stack in conflicts: scopes open, pos", m->nscopes, scope.pos);
            if (scope.pos != page_stack_pos(scope.stack))
                violation("scratch_begin: the scope's mark, the stack's top", scope.pos, page_stack_pos(scope.stack));
            m->scopes[m->nscopes++] = scope;
            if (scratch_open_scopes() != m->nscopes)
                violation("scratch scopes open: counted, the model's", scratch_open_scopes(), m->nscopes);
        }
        break;
    case 10:
        if (m->nscopes) {
            m->nscopes--;
            drop_blocks(m, scope_block_ended);
            scratch_end(m->scopes[m->nscopes]);
            if (scratch_open_scopes() != m->nscopes)
                violation("scratch scopes open after an end: counted, the model's", scratch_open_scopes(), m->nscopes);
        }
        break;
    case 11:
        if (m->nscopes) {
            size_t size = pick_size(m) % 4096;
            unsigned char *p = page_stack_push_zero(m->scopes[m->nscopes - 1].stack, size, align);
            add_block(m, p, size, align, Owner_Scratch, 1);
        }
        break;
    case 12: { /* trim: committed goes down to max(pos, keep) in whole commit steps, never up */
        PageStackStats was = page_stack_stats(m->ps);
        size_t keep = (size_t)take(m, 2) << 6, before = was.committed;
        page_stack_trim(m->ps, keep);
        PageStackStats now = page_stack_stats(m->ps);
        size_t after = now.committed;
        /* decommits counted when it gave some back (in the checked build one for each region it gave some of) */
        if ((now.decommits == was.decommits) != (after == before) || now.commits != was.commits)
            violation("trim: decommits counted, bytes given back", now.decommits - was.decommits, before - after);
        size_t target = in_steps(m->pos > keep ? m->pos : keep);
        if (target > RESERVE)
            target = RESERVE;
#ifdef FRAME_ARENA_CHECKED
        /* Every region's pages are counted: each keeps no more than the
         * target, or the top of its last use where that use's pos fitted in
         * the target (at most one of the last uses' phys, taken as fitting),
         * the current one its physical top too (at most phys), and that one
         * still holds what the pushes since it began hold (at least pos). */
        size_t recent = m->phys;
        for (uint32_t r = 0; r <= QUARANTINE; r++)
            recent = left_phys[r] > recent ? left_phys[r] : recent;
        size_t each = in_steps(recent) > target ? in_steps(recent) : target;
        if (after > before || after > (QUARANTINE + 1) * each || after < in_steps(m->pos))
            violation("trim kept the wrong bytes: committed before, after", before, after);
#else
        if (now.decommits - was.decommits > 1)
            violation("trim: decommits counted, bytes given back", now.decommits - was.decommits, before - after);
        if (after != (before < target ? before : target))
            violation("trim kept the wrong bytes: committed after, max(pos, keep) in steps", after, target);
#endif
        page_stack_trim(m->ps, keep); /* nothing more to give back */
        PageStackStats again = page_stack_stats(m->ps);
        if (again.committed != after || again.decommits != now.decommits || again.commits != now.commits)
            violation("a second trim to the same keep changed something: committed, decommits", again.committed,
                      again.decommits - now.decommits);
        break;
    }
    case 14: { /* grow an older stack block: realloc copies it to a new push */
        if (!m->nblocks)
            break;
        Block *b = &m->blocks[take(m, 1) % m->nblocks];
        if (b->owner != Owner_Stack || !b->size || (m->nmarks && m->marks[m->nmarks - 1].seq > b->seq))
            break; /* (a block of 0 bytes at the top counts as the last push: ambiguous for the model) */
        /* any alignment up to 128: a block not aligned so moves, even the last push */
        size_t grow_align = (size_t)1 << (take(m, 1) % 8), new_size = b->size + 1 + take(m, 1) % 40;
        PageStackError want = expected_error(m->pos, new_size, grow_align);
        m->failures_expected = 1;
        unsigned char *q = page_stack_realloc(m->ps, b->p, b->size, new_size, grow_align);
        if (!q) {
            if (want == PageStackError_None && !may_run_out(m, new_size, grow_align))
                violation("realloc failed where a push would not: size, align", new_size, grow_align);
            m->failed++;
            break;
        }
        if ((uintptr_t)q % grow_align)
            violation("realloc gave a block not aligned as asked: address, align", (uintptr_t)q, grow_align);
        size_t at = pattern_mismatch(q, b->size, b->size, b->seed, b->zero);
        if (at != SIZE_MAX)
            violation("realloc lost bytes: offset, size", at, b->size);
        m->pushes++;
        took(&m->phys, new_size, grow_align);
        if (q == b->p) { /* it was the last push after all: grown in place */
            if (b != &m->blocks[m->nblocks - 1])
                m->last_tracked = 0; /* blocks of 0 bytes pushed after it are no longer at the top */
            m->pos += new_size - b->size;
            b->size = new_size;
            b->end = m->pos;
            b->zero = 0;
            pattern(q, new_size, b->seed);
        } else { /* the old block stays as it was; the copy is a new push */
            m->pos += ((size_t)(0 - m->pos) & (grow_align - 1)) + new_size;
            add_block(m, q, new_size, grow_align, Owner_Stack, 0);
        }
        break;
    }
    case 15:
        cursor_run(m);
        break;
    case 16:
        string_push(m);
        break;
    case 17:
        push_cleanup(m);
        break;
    case 18:
        free_last(m);
        break;
    case 19: { /* frame_arena_trim, in a frame or between: the frames in flight keep their blocks */
        if (take(m, 1) % 32) /* but seldom, or no lane would keep a peak long enough for the trim policy */
            break;
        size_t before = frame_arena_stats(m->fa).committed, given = frame_arena_trim(m->fa);
        if (given > before || frame_arena_stats(m->fa).committed != before - given)
            violation("frame_arena_trim: gave back, committed before", given, before);
        break;
    }
    case 20:
        copy_push(m, align);
        break;
    case 21:
        own_string_push(m);
        break;
    case 22: /* hooks on or off, the stack's or the frame arena's */
        if (take(m, 1) % 2)
            set_stack_hooks(m, !m->hooked);
        else
            set_frame_hooks(m, !m->frame_hooked);
        break;
    case 13: { /* count * size with overflowing products */
        static const size_t counts[] = {0, 1, 3, SIZE_MAX / 2 + 1, SIZE_MAX / 3, SIZE_MAX};
        size_t count = counts[take(m, 1) % 6], elem = (size_t)1 << (take(m, 1) % 4);
        PageStackStats before = page_stack_stats(m->ps);
        unsigned char *p =
            page_stack_push_array_with(m->ps, count, elem, align, PageStackPush_Try | PageStackPush_Zero);
        int overflow = count > SIZE_MAX / elem;
        PageStackError want = overflow ? PageStackError_SizeOverflow : expected_error(m->pos, count * elem, align);
        if (p) {
            if (want != PageStackError_None)
                violation("array push succeeded where it must fail: count, size", count, elem);
            m->pos += ((size_t)(0 - m->pos) & (align - 1)) + count * elem;
            m->pushes++;
            took(&m->phys, count * elem, align);
            add_block(m, p, count * elem, align, Owner_Stack, 1);
        } else {
            PageStackError got = page_stack_last_error(m->ps);
            int ran_out = got == PageStackError_OutOfReserve && may_run_out(m, count * elem, align);
            if (want == PageStackError_None ? !ran_out : got != want)
                violation("array push: wrong failure: error, expected", got, want);
            if (page_stack_stats(m->ps).pos != before.pos)
                violation("failed array push moved pos", page_stack_stats(m->ps).pos, before.pos);
            m->failed++;
        }
        break;
    }
    }
}

/* One stack and one frame arena serve every run: creating them per run costs
 * more than the run. Each run starts them from an empty top, takes the
 * counters as they are, and ends every scope and frame it opened. */
static PageStack *shared_stack;
static FrameArena *shared_frames;
static Model *shared_model;

void fuzz_ops_run(const uint8_t *data, size_t size)
{
    if (!shared_model) {
        shared_model = calloc(1, sizeof *shared_model);
        shared_stack = page_stack_create(&(PageStackDesc){
            .name = "fuzz", .reserve_size = RESERVE, .commit_size = COMMIT_STEP, .on_fail = on_fail_count,
            .user = shared_model, .quarantine = QUARANTINE});
        shared_frames = frame_arena_create(&(FrameArenaDesc){
            .name = "fuzz frame", .lanes = 2,
            .stack = {.reserve_size = RESERVE, .commit_size = COMMIT_STEP, .quarantine = QUARANTINE},
            .history = HISTORY, .trim_after = TRIM_AFTER, .budget = BUDGET, .on_budget = over_budget,
            .user = shared_model});
        if (!shared_model || !shared_stack || !shared_frames ||
            scratch_set_defaults(&(PageStackDesc){.name = "fuzz scratch", .reserve_size = SCRATCH_DEFAULT_RESERVE,
                                                  .quarantine = QUARANTINE}) != ScratchError_None)
            violation("cannot create the stacks", 0, 0);
    }
    Model *m = shared_model;
    page_stack_reset(shared_stack);
    PageStackStats st = page_stack_stats(shared_stack);
    *m = (Model){.ps = shared_stack, .fa = shared_frames, .data = data, .size = size, .pushes = st.pushes,
                 .failed = st.failed_pushes, .frame = frame_arena_frame(shared_frames)};
    left_region(m); /* the reset left the region the last run ended in, empty */
    for (uint32_t n = 1; m->at < m->size; n++) {
        op(m, take(m, 1));
        verify_all(m, thorough && n % 16 == 0);
    }
    verify_all(m, 1);
    m->release_to = 0; /* the next run starts with a reset: its cleanups run now, in this run's model */
    page_stack_reset(m->ps);
    left_region(m);
    if (m->ncleanups)
        violation("reset left cleanups: pending, newest end", m->ncleanups, m->cleanups[m->ncleanups - 1].end);
    while (m->nscopes) {
        m->nscopes--;
        drop_blocks(m, scope_block_ended);
        scratch_end(m->scopes[m->nscopes]);
    }
    if (m->in_frame)
        end_frame(m);
    if (m->hooked) /* the next run starts with no hooks, as its model does */
        set_stack_hooks(m, 0);
    if (m->frame_hooked)
        set_frame_hooks(m, 0);
}
