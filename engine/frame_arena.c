/* frame_arena: N page stacks rotated by the frame number, plus the per-frame
 * bookkeeping a game wants to see.
 *
 * The FrameArena struct, its stack table, its sample ring and its trim
 * windows live in a small page stack of their own (`meta`), so nothing here
 * allocates from the C heap either. Slot i serves frames i, i+N, i+2N, ...
 * and holds one stack per lane; begin resets the slot's stacks, so each one's
 * high-water since that reset is its lane's peak in the frame.
 *
 * The trim policy needs, for each lane, the largest peak over the last
 * trim_after frames at every end (the bytes a frame needed committed: in the
 * checked build the highest top of its regions, redzones included). A
 * monotonic queue per lane (peaks strictly decreasing from front to back)
 * gives it in amortised O(1) whatever trim_after is.
 */
#include "frame_arena.h"

#include "os_vm.h"
#include "page_stack_owner.h"
#include "scratch.h"

#include <stdbool.h>
#include <stdio.h>

#define FRAME_ARENA_MAX_IN_FLIGHT 4
#define FRAME_ARENA_MAX_LANES 256
/* Bookkeeping up to this size is mapped at create (see frame_arena_create). */
#define FRAME_ARENA_PREFAULT_MAX ((size_t)4 << 20)

typedef struct PeakEntry {
    uint64_t frame;
    size_t peak;
} PeakEntry;

typedef struct Lane {
    PeakEntry *window; /* trim_after entries; NULL when trimming is off */
    uint32_t window_head, window_len;
    uint64_t pushes_at_begin, failed_at_begin;
} Lane;

struct FrameArena {
    PageStack *meta;     /* holds this struct, the tables, the ring and the windows */
    PageStack **buffers; /* count slots of lane_count stacks: slot s, lane l at s * lane_count + l */
    Lane *lanes;
    uint32_t count, lane_count;
    bool in_frame;
    bool ending; /* inside frame_arena_end, up to on_frame: on_budget runs here */
    bool trim_at_begin[FRAME_ARENA_MAX_IN_FLIGHT]; /* by slot: frame_arena_trim found frames in flight there */
    const char *name;
    size_t budget;
    void (*on_budget)(FrameArena *fa, size_t used, void *user);
    void (*on_frame)(FrameArena *fa, const FrameSample *sample, void *user);
    void *user;
    uint64_t begun; /* frames begun; the current frame is begun - 1 */
    FrameSample *ring;
    uint32_t ring_cap, ring_len, ring_next;
    uint32_t trim_after;
    size_t peak_all_time;
    uint64_t trims, budget_overruns;
    FrameSample last;
};

static void need_arena(const FrameArena *fa, const char *fn)
{
    if (!fa)
        os_vm_fatal("%s: the frame arena is NULL; pass one from frame_arena_create", fn);
}

static uint32_t stack_count(const FrameArena *fa)
{
    return fa->count * fa->lane_count;
}

/* The stacks of the slot that serves `frame`, one per lane. */
static PageStack **slot_of(const FrameArena *fa, uint64_t frame)
{
    return fa->buffers + (size_t)(frame % fa->count) * fa->lane_count;
}

static size_t total_committed(const FrameArena *fa)
{
    size_t total = 0;
    for (uint32_t i = 0; i < stack_count(fa); i++)
        total += page_stack_stats(fa->buffers[i]).committed;
    return total;
}

/* *total += count * size, false if it does not fit a size_t. */
static bool add_bytes(size_t *total, size_t count, size_t size)
{
    if (*total > SIZE_MAX - 64 || count > (SIZE_MAX - 64 - *total) / size)
        return false;
    *total += count * size + 64; /* with room to align the array */
    return true;
}

FrameArena *frame_arena_create(const FrameArenaDesc *desc)
{
    FrameArenaDesc d = desc ? *desc : (FrameArenaDesc){0};
    if (!d.name)
        d.name = "frame";
    if (!d.frames_in_flight)
        d.frames_in_flight = 2;
    if (!d.lanes)
        d.lanes = 1;
    if (!d.history)
        d.history = 240;
    if (!d.trim_after)
        d.trim_after = 300;
    if (d.frames_in_flight > FRAME_ARENA_MAX_IN_FLIGHT)
        os_vm_fatal("frame_arena \"%s\": frames_in_flight %u is out of range; use 1 to %d (0 means 2)", d.name,
                    (unsigned)d.frames_in_flight, FRAME_ARENA_MAX_IN_FLIGHT);
    if (d.lanes > FRAME_ARENA_MAX_LANES)
        os_vm_fatal("frame_arena \"%s\": lanes %u is out of range; use 1 to %d (0 means 1)", d.name,
                    (unsigned)d.lanes, FRAME_ARENA_MAX_LANES);
    const char *stack_name = d.stack.name ? d.stack.name : d.name;
    bool trimming = d.trim_after != UINT32_MAX;
    size_t stacks = (size_t)d.frames_in_flight * d.lanes;

    size_t meta_size = sizeof(FrameArena) + 64;
    if (!add_bytes(&meta_size, stacks, sizeof(PageStack *)) || !add_bytes(&meta_size, d.lanes, sizeof(Lane)) ||
        !add_bytes(&meta_size, d.history, sizeof(FrameSample)) ||
        (trimming && !add_bytes(&meta_size, (size_t)d.trim_after, (size_t)d.lanes * sizeof(PeakEntry)))) {
        page_stack_set_create_error(PageStackError_SizeOverflow);
        return NULL;
    }
    /* Prefaulted: the sample ring and the windows move on a little every
     * frame, and would otherwise take a page fault in a frame now and then
     * until they had gone round once. Not beyond a few MiB, where only an
     * extreme history or trim_after leads: trim_after = 1,000,000 in 256
     * lanes would map 4 GB at create that the windows reach over hours. */
    uint32_t meta_flags = meta_size <= FRAME_ARENA_PREFAULT_MAX ? PageStackFlag_Prefault : 0;
    PageStack *meta = page_stack_create(&(PageStackDesc){.name = d.name,
                                                         .reserve_size = meta_size,
                                                         .initial_commit = meta_size,
                                                         .commit_size = meta_size,
                                                         .flags = meta_flags});
    if (!meta)
        return NULL;
    FrameArena *fa = try_push_array(meta, FrameArena, 1);
    PageStack **buffers = try_push_array(meta, PageStack *, stacks);
    Lane *lanes = try_push_array(meta, Lane, d.lanes);
    FrameSample *ring = try_push_array(meta, FrameSample, d.history);
    PeakEntry *windows = trimming ? try_push_array(meta, PeakEntry, (size_t)d.trim_after * d.lanes) : NULL;
    if (!fa || !buffers || !lanes || !ring || (trimming && !windows)) { /* not seen: meta was sized for them */
        page_stack_destroy(meta);
        page_stack_set_create_error(PageStackError_OutOfReserve);
        return NULL;
    }
    *fa = (FrameArena){
        .meta = meta,
        .buffers = buffers,
        .lanes = lanes,
        .count = d.frames_in_flight,
        .lane_count = d.lanes,
        .name = meta->name, /* the stack's copy: d.name may be a temporary buffer */
        .budget = d.budget,
        .on_budget = d.on_budget,
        .on_frame = d.on_frame,
        .user = d.user,
        .ring = ring,
        .ring_cap = d.history,
        .trim_after = d.trim_after,
    };
    for (uint32_t l = 0; l < d.lanes; l++)
        lanes[l] = (Lane){.window = trimming ? windows + (size_t)l * d.trim_after : NULL};
    char lane_name[64]; /* a stack keeps 63 bytes of its name: the lane's number is kept, the name cut */
    for (size_t i = 0; i < stacks; i++) {
        PageStackDesc sd = d.stack;
        sd.name = stack_name;
        if (d.lanes > 1) { /* "frame lane 2": a report names the lane */
            char lane[16];
            int n = snprintf(lane, sizeof lane, " lane %u", (unsigned)(i % d.lanes));
            snprintf(lane_name, sizeof lane_name, "%.*s%s", (int)sizeof lane_name - 1 - n, stack_name, lane);
            sd.name = lane_name;
        }
        buffers[i] = page_stack_create(&sd);
        if (!buffers[i]) {
            frame_arena_destroy(fa); /* the stacks after i are still NULL */
            return NULL;
        }
        page_stack_set_owner(buffers[i], PageStackOwner_FrameArena);
    }
    return fa;
}

/* on_budget runs in the middle of frame_arena_end: beginning or ending a
 * frame from it would record one frame twice or start the next inside it,
 * and destroying the arena would free it under the end that goes on after. */
static void need_not_ending(const FrameArena *fa, const char *fn)
{
    if (fa->ending)
        os_vm_fatal("frame_arena \"%s\": %s called from on_budget, inside frame_arena_end; on_budget may read the "
                    "arena and trim it, and the frame ends once it returns",
                    fa->name, fn);
}

void frame_arena_set_hooks(FrameArena *fa, const FrameArenaDesc *desc)
{
    need_arena(fa, "frame_arena_set_hooks");
    need_not_ending(fa, "frame_arena_set_hooks");
    if (!desc)
        os_vm_fatal("frame_arena \"%s\": frame_arena_set_hooks with desc NULL; pass a desc holding the hooks and "
                    "user to take (NULL fields: none)",
                    fa->name);
    for (uint32_t i = 0; i < stack_count(fa); i++) /* all or none */
        page_stack_need_idle(fa->buffers[i], "frame_arena_set_hooks");
    for (uint32_t i = 0; i < stack_count(fa); i++)
        page_stack_set_hooks(fa->buffers[i], &desc->stack);
    fa->on_budget = desc->on_budget;
    fa->on_frame = desc->on_frame;
    fa->user = desc->user;
}

void frame_arena_destroy(FrameArena *fa)
{
    if (!fa)
        return;
    need_not_ending(fa, "frame_arena_destroy");
    for (uint32_t i = 0; i < stack_count(fa); i++)
        page_stack_destroy_owned(fa->buffers[i]);
    page_stack_destroy(fa->meta); /* fa itself lives there */
}

/* page_stack_trim to an extent (page_stack_owner.h), counted in stats.trims when it gave memory back. */
static void trim_buffer(FrameArena *fa, PageStack *ps, size_t keep)
{
    uint64_t decommits = ps->decommits;
    page_stack_trim_extent(ps, keep);
    if (ps->decommits != decommits)
        fa->trims++;
}

PageStack *frame_arena_begin(FrameArena *fa)
{
    need_arena(fa, "frame_arena_begin");
    need_not_ending(fa, "frame_arena_begin");
    if (fa->in_frame)
        os_vm_fatal("frame_arena \"%s\": frame_arena_begin called twice without frame_arena_end; end each frame "
                    "before beginning the next",
                    fa->name);
    PageStack **slot = slot_of(fa, fa->begun);
    bool *trim = &fa->trim_at_begin[fa->begun % fa->count];
    for (uint32_t l = 0; l < fa->lane_count; l++) {
        page_stack_begin_frame(slot[l], fa->begun);
        if (*trim) /* what frame_arena_trim kept for the frame in flight here goes back now */
            trim_buffer(fa, slot[l], 0);
        fa->lanes[l].pushes_at_begin = slot[l]->pushes;
        fa->lanes[l].failed_at_begin = slot[l]->failed_pushes;
    }
    *trim = false;
    fa->begun++;
    fa->in_frame = true;
    return slot[0];
}

/* Index `ahead` entries after `head` in a ring of cap, in 64 bits: head +
 * ahead can pass 2^32 when cap is above 2^31 (a history or trim_after that
 * large, mapped but never all touched, after 2^31 frames). */
static uint32_t ring_index(uint32_t head, uint64_t ahead, uint32_t cap)
{
    return (uint32_t)((head + ahead) % cap);
}

/* A lane's largest peak over the last cap frames, this one included. */
static size_t window_high(Lane *lane, uint32_t cap, uint64_t frame, size_t peak)
{
    while (lane->window_len && lane->window[lane->window_head].frame + cap <= frame) {
        lane->window_head = (lane->window_head + 1) % cap;
        lane->window_len--;
    }
    while (lane->window_len && lane->window[ring_index(lane->window_head, lane->window_len - 1, cap)].peak <= peak)
        lane->window_len--;
    lane->window[ring_index(lane->window_head, lane->window_len, cap)] = (PeakEntry){frame, peak};
    lane->window_len++;
    return lane->window[lane->window_head].peak;
}

/* Trims the lane's stack in every slot to its recent high-water: the most
 * that a frame in the window needed committed (page_stack_extent). */
static void apply_trim_policy(FrameArena *fa, uint32_t lane, size_t high)
{
    for (uint32_t i = 0; i < fa->count; i++) {
        PageStack *ps = slot_of(fa, i)[lane];
        size_t step = ps->commit_size;
        size_t target = high / step * step + (high % step ? step : 0);
        if (target < ps->initial_commit)
            target = ps->initial_commit;
        size_t committed = page_stack_most_committed(ps);
        if (committed > target && committed - target >= committed / 4)
            trim_buffer(fa, ps, target);
    }
}

void frame_arena_end(FrameArena *fa)
{
    need_arena(fa, "frame_arena_end");
    need_not_ending(fa, "frame_arena_end");
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
    PageStack **slot = slot_of(fa, frame);
    for (uint32_t l = 0; l < fa->lane_count; l++)
        page_stack_need_idle(slot[l], "frame_arena_end");
    fa->ending = true;
    FrameSample s = {.frame = frame};
    for (uint32_t l = 0; l < fa->lane_count; l++) {
        PageStack *ps = slot[l];
        size_t used = page_stack_pos(ps), peak = ps->high > used ? ps->high : used;
        s.used += used;
        s.peak += peak;
        s.pushes += (uint32_t)(ps->pushes - fa->lanes[l].pushes_at_begin);
        s.failed_pushes += (uint32_t)(ps->failed_pushes - fa->lanes[l].failed_at_begin);
        if (fa->lanes[l].window)
            apply_trim_policy(fa, l, window_high(&fa->lanes[l], fa->trim_after, frame, page_stack_extent(ps, peak)));
        page_stack_end_frame(ps);
    }
    if (s.peak > fa->peak_all_time)
        fa->peak_all_time = s.peak;
    if (fa->budget && s.peak > fa->budget) {
        fa->budget_overruns++;
        if (fa->on_budget)
            fa->on_budget(fa, s.peak, fa->user);
    }
    s.committed = total_committed(fa);
    fa->ring[fa->ring_next] = s; /* ring_cap >= 1: history 0 means 240 */
    fa->ring_next = (fa->ring_next + 1) % fa->ring_cap;
    if (fa->ring_len < fa->ring_cap)
        fa->ring_len++;
    fa->last = s;
    fa->in_frame = false;
    fa->ending = false;
    if (fa->on_frame)
        fa->on_frame(fa, &fa->last, fa->user);
}

static PageStack *stack_at(const FrameArena *fa, uint32_t lane, uint32_t frames_ago)
{
    if (frames_ago >= fa->count || frames_ago >= fa->begun)
        return NULL;
    return slot_of(fa, fa->begun - 1 - frames_ago)[lane];
}

PageStack *frame_arena_stack(FrameArena *fa, uint32_t frames_ago)
{
    need_arena(fa, "frame_arena_stack");
    return stack_at(fa, 0, frames_ago);
}

PageStack *frame_arena_lane(FrameArena *fa, uint32_t lane, uint32_t frames_ago)
{
    need_arena(fa, "frame_arena_lane");
    if (lane >= fa->lane_count)
        os_vm_fatal("frame_arena \"%s\": frame_arena_lane %u is out of range; the arena has %u lane(s) "
                    "(FrameArenaDesc.lanes)",
                    fa->name, (unsigned)lane, (unsigned)fa->lane_count);
    return stack_at(fa, lane, frames_ago);
}

uint32_t frame_arena_lanes(const FrameArena *fa)
{
    need_arena(fa, "frame_arena_lanes");
    return fa->lane_count;
}

uint64_t frame_arena_frame(const FrameArena *fa)
{
    need_arena(fa, "frame_arena_frame");
    return fa->begun ? fa->begun - 1 : 0;
}

void frame_arena_check(const FrameArena *fa)
{
    need_arena(fa, "frame_arena_check");
    for (uint32_t i = 0; i < stack_count(fa); i++)
        page_stack_check(fa->buffers[i]);
}

size_t frame_arena_trim(FrameArena *fa)
{
    need_arena(fa, "frame_arena_trim");
    size_t before = total_committed(fa);
    for (uint32_t i = 0; i < stack_count(fa); i++)
        trim_buffer(fa, fa->buffers[i], 0); /* keeps max(pos, initial_commit), rounded up to the commit step */
    /* What the frames in flight hold goes back when their buffers are next
     * reset; the open frame's buffer, which holds this frame's, is left be. */
    for (uint32_t slot = 0; slot < fa->count; slot++)
        fa->trim_at_begin[slot] = !fa->in_frame || slot != (fa->begun - 1) % fa->count;
    return before - total_committed(fa);
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
    for (uint32_t i = 0; i < stack_count(fa); i++) {
        PageStackStats ps = page_stack_stats(fa->buffers[i]);
        st.committed += ps.committed;
        st.reserved += ps.reserved;
    }
    if (fa->ring_len) {
        /* The sum can outgrow a size_t (100 frames of 44 MiB on 32 bits) and
         * even 64 bits: it is kept as 64 bits and a count of carries. */
        uint64_t sum = 0, carries = 0;
        st.used_min = SIZE_MAX;
        for (uint32_t i = 0; i < fa->ring_len; i++) {
            size_t used = fa->ring[i].used;
            sum += used;
            carries += sum < used;
            st.used_min = used < st.used_min ? used : st.used_min;
            st.used_max = used > st.used_max ? used : st.used_max;
        }
        st.used_avg = (size_t)page_stack_mean_of_sum(carries, sum, fa->ring_len); /* at most used_max */
    }
    return st;
}

int frame_arena_frames_ago(const FrameArena *fa, const void *p)
{
    need_arena(fa, "frame_arena_frames_ago");
    for (uint32_t ago = 0; ago < fa->count; ago++)
        for (uint32_t lane = 0; lane < fa->lane_count; lane++) {
            const PageStack *ps = stack_at(fa, lane, ago);
            if (ps && page_stack_holds(ps, p))
                return (int)ago;
        }
    return -1;
}

size_t frame_arena_history(const FrameArena *fa, FrameSample *out, size_t max)
{
    need_arena(fa, "frame_arena_history");
    size_t n = max < fa->ring_len ? max : fa->ring_len;
    if (n && !out)
        os_vm_fatal("frame_arena \"%s\": frame_arena_history with out NULL and max %zu; pass an array of max "
                    "samples",
                    fa->name, max);
    for (size_t i = 0; i < n; i++) /* ring_cap >= 1: history 0 means 240 */
        out[i] = fa->ring[ring_index(fa->ring_next, (uint64_t)fa->ring_cap - n + i, fa->ring_cap)];
    return n;
}
