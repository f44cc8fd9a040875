/* frame_arena: N page stacks rotated by the frame number, plus the per-frame
 * bookkeeping a game wants to see.
 *
 * The FrameArena struct, its sample ring and its trim window live in a small
 * page stack of their own (`meta`), so nothing here allocates from the C
 * heap either. Buffer i serves frames i, i+N, i+2N, ...; begin resets it, so
 * its high-water since that reset is the frame's peak.
 *
 * The trim policy needs the largest frame peak over the last trim_after
 * frames at every end: a monotonic queue (peaks strictly decreasing from
 * front to back) gives it in amortised O(1) whatever trim_after is.
 */
#include "frame_arena.h"

#include "os_vm.h"
#include "page_stack_owner.h"
#include "scratch.h"

#include <stdbool.h>

#define FRAME_ARENA_MAX_IN_FLIGHT 4

typedef struct PeakEntry {
    uint64_t frame;
    size_t peak;
} PeakEntry;

struct FrameArena {
    PageStack *meta; /* holds this struct, ring and window */
    PageStack *buffers[FRAME_ARENA_MAX_IN_FLIGHT];
    uint32_t count;
    bool in_frame;
    const char *name;
    size_t budget;
    void (*on_budget)(FrameArena *fa, size_t used, void *user);
    void (*on_frame)(FrameArena *fa, const FrameSample *sample, void *user);
    void *user;
    uint64_t begun; /* frames begun; the current frame is begun - 1 */
    uint64_t pushes_at_begin, failed_at_begin;
    FrameSample *ring;
    uint32_t ring_cap, ring_len, ring_next;
    PeakEntry *window; /* NULL when trimming is off */
    uint32_t trim_after, window_head, window_len;
    size_t peak_all_time;
    uint64_t trims, budget_overruns;
    FrameSample last;
};

static FrameArena *need_arena(const FrameArena *fa, const char *fn)
{
    if (!fa)
        os_vm_fatal("%s: the frame arena is NULL; pass one from frame_arena_create", fn);
    return (FrameArena *)fa;
}

static size_t total_committed(const FrameArena *fa)
{
    size_t total = 0;
    for (uint32_t i = 0; i < fa->count; i++)
        total += page_stack_stats(fa->buffers[i]).committed;
    return total;
}

FrameArena *frame_arena_create(const FrameArenaDesc *desc)
{
    FrameArenaDesc d = desc ? *desc : (FrameArenaDesc){0};
    if (!d.name)
        d.name = "frame";
    if (!d.frames_in_flight)
        d.frames_in_flight = 2;
    if (!d.history)
        d.history = 240;
    if (!d.trim_after)
        d.trim_after = 300;
    if (d.frames_in_flight > FRAME_ARENA_MAX_IN_FLIGHT)
        os_vm_fatal("frame_arena \"%s\": frames_in_flight %u is out of range; use 1 to %d (0 means 2)", d.name,
                    (unsigned)d.frames_in_flight, FRAME_ARENA_MAX_IN_FLIGHT);
    if (!d.stack.name)
        d.stack.name = d.name;
    bool trimming = d.trim_after != UINT32_MAX;

    size_t meta_size = sizeof(FrameArena) + 64 + (size_t)d.history * sizeof(FrameSample) +
                       (trimming ? (size_t)d.trim_after * sizeof(PeakEntry) : 0);
    PageStack *meta = page_stack_create(&(PageStackDesc){
        .name = d.name, .reserve_size = meta_size, .initial_commit = meta_size, .commit_size = meta_size});
    if (!meta)
        return NULL;
    FrameArena *fa = push_struct(meta, FrameArena);
    FrameSample *ring = try_push_array(meta, FrameSample, d.history);
    PeakEntry *window = trimming ? try_push_array(meta, PeakEntry, d.trim_after) : NULL;
    if (!ring || (trimming && !window)) {
        page_stack_destroy(meta);
        return NULL;
    }
    *fa = (FrameArena){
        .meta = meta,
        .count = d.frames_in_flight,
        .name = meta->name, /* the stack's copy: d.name may be a temporary buffer */
        .budget = d.budget,
        .on_budget = d.on_budget,
        .on_frame = d.on_frame,
        .user = d.user,
        .ring = ring,
        .ring_cap = d.history,
        .window = window,
        .trim_after = d.trim_after,
    };
    for (uint32_t i = 0; i < fa->count; i++) {
        fa->buffers[i] = page_stack_create(&d.stack);
        if (!fa->buffers[i]) {
            frame_arena_destroy(fa);
            return NULL;
        }
        page_stack_set_owner(fa->buffers[i], "a frame arena; destroy the arena with frame_arena_destroy");
    }
    return fa;
}

void frame_arena_destroy(FrameArena *fa)
{
    if (!fa)
        return;
    for (uint32_t i = 0; i < fa->count; i++)
        page_stack_destroy_owned(fa->buffers[i]);
    page_stack_destroy(fa->meta); /* fa itself lives there */
}

PageStack *frame_arena_begin(FrameArena *fa)
{
    need_arena(fa, "frame_arena_begin");
    if (fa->in_frame)
        os_vm_fatal("frame_arena \"%s\": frame_arena_begin called twice without frame_arena_end; end each frame "
                    "before beginning the next",
                    fa->name);
    PageStack *ps = fa->buffers[fa->begun % fa->count];
    page_stack_begin_frame(ps, fa->begun);
    fa->begun++;
    fa->pushes_at_begin = ps->pushes;
    fa->failed_at_begin = ps->failed_pushes;
    fa->in_frame = true;
    return ps;
}

/* Largest peak over the last trim_after frames, this one included. */
static size_t window_high(FrameArena *fa, uint64_t frame, size_t peak)
{
    uint32_t cap = fa->trim_after;
    while (fa->window_len && fa->window[fa->window_head].frame + cap <= frame) {
        fa->window_head = (fa->window_head + 1) % cap;
        fa->window_len--;
    }
    while (fa->window_len && fa->window[(fa->window_head + fa->window_len - 1) % cap].peak <= peak)
        fa->window_len--;
    fa->window[(fa->window_head + fa->window_len) % cap] = (PeakEntry){frame, peak};
    fa->window_len++;
    return fa->window[fa->window_head].peak;
}

static void apply_trim_policy(FrameArena *fa, size_t high)
{
    for (uint32_t i = 0; i < fa->count; i++) {
        PageStack *ps = fa->buffers[i];
        size_t step = ps->commit_size;
        size_t target = high / step * step + (high % step ? step : 0);
        if (target < ps->initial_commit)
            target = ps->initial_commit;
        if (ps->committed > target && ps->committed - target >= ps->committed / 4) {
            uint64_t before = ps->decommits;
            page_stack_trim(ps, target);
            if (ps->decommits != before)
                fa->trims++;
        }
    }
}

void frame_arena_end(FrameArena *fa)
{
    need_arena(fa, "frame_arena_end");
    if (!fa->in_frame)
        os_vm_fatal("frame_arena \"%s\": frame_arena_end called without frame_arena_begin; call begin at the top "
                    "of each frame and end at the bottom",
                    fa->name);
#ifdef FRAME_ARENA_CHECKED
    if (scratch_open_scopes())
        os_vm_fatal("frame_arena \"%s\": frame_arena_end with %u scratch scope(s) of this thread still open; end "
                    "scratch scopes before the frame ends",
                    fa->name, (unsigned)scratch_open_scopes());
#endif
    uint64_t frame = fa->begun - 1;
    PageStack *ps = page_stack_need_idle(fa->buffers[frame % fa->count], "frame_arena_end");
    size_t used = page_stack_pos(ps);
    FrameSample s = {
        .frame = frame,
        .used = used,
        .peak = ps->high > used ? ps->high : used,
        .pushes = (uint32_t)(ps->pushes - fa->pushes_at_begin),
        .failed_pushes = (uint32_t)(ps->failed_pushes - fa->failed_at_begin),
    };
    if (s.peak > fa->peak_all_time)
        fa->peak_all_time = s.peak;
    if (fa->budget && s.peak > fa->budget) {
        fa->budget_overruns++;
        if (fa->on_budget)
            fa->on_budget(fa, s.peak, fa->user);
    }
    if (fa->window)
        apply_trim_policy(fa, window_high(fa, frame, s.peak));
    s.committed = total_committed(fa);
    if (fa->ring_cap) {
        fa->ring[fa->ring_next] = s;
        fa->ring_next = (fa->ring_next + 1) % fa->ring_cap;
        if (fa->ring_len < fa->ring_cap)
            fa->ring_len++;
    }
    fa->last = s;
    fa->in_frame = false;
    if (fa->on_frame)
        fa->on_frame(fa, &fa->last, fa->user);
}

PageStack *frame_arena_stack(FrameArena *fa, uint32_t frames_ago)
{
    need_arena(fa, "frame_arena_stack");
    if (frames_ago >= fa->count || frames_ago >= fa->begun)
        return NULL;
    return fa->buffers[(fa->begun - 1 - frames_ago) % fa->count];
}

uint64_t frame_arena_frame(const FrameArena *fa)
{
    need_arena(fa, "frame_arena_frame");
    return fa->begun ? fa->begun - 1 : 0;
}

void frame_arena_check(const FrameArena *fa)
{
    need_arena(fa, "frame_arena_check");
    for (uint32_t i = 0; i < fa->count; i++)
        page_stack_check(fa->buffers[i]);
}

FrameArenaStats frame_arena_stats(const FrameArena *fa)
{
    need_arena(fa, "frame_arena_stats");
    FrameArenaStats st = {
        .last = fa->last,
        .peak_all_time = fa->peak_all_time,
        .frames = fa->begun - (fa->in_frame ? 1 : 0),
        .trims = fa->trims,
        .budget_overruns = fa->budget_overruns,
    };
    for (uint32_t i = 0; i < fa->count; i++) {
        PageStackStats ps = page_stack_stats(fa->buffers[i]);
        st.committed += ps.committed;
        st.reserved += ps.reserved;
    }
    if (fa->ring_len) {
        size_t sum = 0;
        st.used_min = SIZE_MAX;
        for (uint32_t i = 0; i < fa->ring_len; i++) {
            size_t used = fa->ring[i].used;
            sum += used;
            st.used_min = used < st.used_min ? used : st.used_min;
            st.used_max = used > st.used_max ? used : st.used_max;
        }
        st.used_avg = sum / fa->ring_len;
    }
    return st;
}

size_t frame_arena_history(const FrameArena *fa, FrameSample *out, size_t max)
{
    need_arena(fa, "frame_arena_history");
    size_t n = max < fa->ring_len ? max : fa->ring_len;
    if (n && !out)
        os_vm_fatal("frame_arena \"%s\": frame_arena_history with out NULL and max %zu; pass an array of max "
                    "samples",
                    fa->name, max);
    size_t start = (fa->ring_next + fa->ring_cap - n) % (fa->ring_cap ? fa->ring_cap : 1);
    for (size_t i = 0; i < n; i++)
        out[i] = fa->ring[(start + i) % fa->ring_cap];
    return n;
}
