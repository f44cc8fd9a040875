/* One use-after-frame bug per case, run in its own process by run_uaf.py.
 *
 *     uaf_case NAME      runs the case; exit 0 means the bug went unnoticed
 *     uaf_case --list    prints the case names, one per line, marked "reuse",
 *                        "alone" and "unwritten" as in the table below
 *
 * Each case does exactly one bad access through `volatile` pointers, so the
 * compiler keeps it, and then destroys what it made, as a game does when it
 * quits. The checked build with ASan must stop every case (an ASan report or
 * SIGSEGV); the checked build alone the cases marked "alone", which write to
 * bytes no block holds (its own one-line report, at the latest when the
 * stack is destroyed); a plain build under valgrind every case whose
 * bytes were not handed out again (the reuse cases are live memory again
 * there); a MemorySanitizer build every read of such bytes, which a release
 * leaves uninitialised to it (the cases neither "reuse" nor "alone"), and in
 * the checked build, which hands no released byte out again for a while,
 * every read.
 *
 * The cases marked "unwritten" read bytes a push handed out before anything
 * wrote them, and branch on what they read: in a plain build the bytes hold
 * whatever was there, in a frame arena an earlier frame's data, which looks
 * right. No ASan build sees these (the checked build hands out 0xCD, which
 * shows but is not reported); MemorySanitizer and valgrind must report each
 * one.
 */
#include "frame_arena.h"

#include <stdio.h>
#include <string.h>

#define KiB ((size_t)1 << 10)

static volatile int seen;

/* A read case's use of what it read: a branch on it, which every tool
 * counts as a use (MemorySanitizer reports an uninitialised value only
 * where it decides something). */
static void use(unsigned char value)
{
    if (value == 0x5a)
        seen = 1;
}

static PageStack *made_stack;   /* what the case made, destroyed after it */
static FrameArena *made_arena;

static PageStack *stack(void)
{
    made_stack = page_stack_create(&(PageStackDesc){.name = "uaf", .reserve_size = 16 * 1024 * KiB});
    return made_stack;
}

static FrameArena *arena(void)
{
    made_arena = frame_arena_create(&(FrameArenaDesc){.name = "uaf", .frames_in_flight = 1});
    return made_arena;
}

static void read_after_reset(void)
{
    PageStack *ps = stack();
    volatile unsigned char *p = page_stack_push(ps, 64, 8);
    p[10] = 1;
    page_stack_reset(ps);
    use(p[10]);
}

static void write_after_reset(void)
{
    PageStack *ps = stack();
    volatile unsigned char *p = page_stack_push(ps, 64, 8);
    page_stack_reset(ps);
    p[10] = 2;
}

/* The next frame pushes the same sizes: in a plain build the stale pointer
 * now points at live bytes of the new frame. */
static void read_after_reset_address_reused(void)
{
    FrameArena *fa = arena();
    volatile unsigned char *p = page_stack_push(frame_arena_begin(fa), 64, 8);
    frame_arena_end(fa);
    memset(page_stack_push(frame_arena_begin(fa), 64, 8), 7, 64);
    use(p[10]);
}

static void write_after_reuse(void)
{
    FrameArena *fa = arena();
    volatile unsigned char *p = page_stack_push(frame_arena_begin(fa), 64, 8);
    frame_arena_end(fa);
    page_stack_push(frame_arena_begin(fa), 64, 8);
    p[10] = 3;
}

static void read_frames_later(int frames)
{
    FrameArena *fa = arena();
    volatile unsigned char *p = page_stack_push(frame_arena_begin(fa), 256, 16);
    frame_arena_end(fa);
    for (int i = 0; i < frames; i++) {
        PageStack *ps = frame_arena_begin(fa);
        memset(page_stack_push(ps, 256, 16), 9, 256);
        if (i + 1 < frames)
            frame_arena_end(fa);
    }
    use(p[100]);
}

static void read_2_frames_later(void)
{
    read_frames_later(2);
}

static void read_4_frames_later(void)
{
    read_frames_later(4);
}

/* A 64-byte block pushed after a mark, written, and popped again. */
static volatile unsigned char *popped_block(PageStack *ps)
{
    page_stack_push(ps, 32, 8);
    PageStackMark m = page_stack_mark(ps);
    unsigned char *p = page_stack_push(ps, 64, 8);
    memset(p, 1, 64);
    page_stack_pop_to(m);
    return p;
}

static void read_after_pop(void)
{
    volatile unsigned char *p = popped_block(stack());
    use(p[0]);
}

static void read_after_pop_and_repush(void)
{
    PageStack *ps = stack();
    volatile unsigned char *p = popped_block(ps);
    memset(page_stack_push(ps, 64, 8), 5, 64);
    use(p[0]);
}

static void overflow_into_neighbour(void)
{
    PageStack *ps = stack();
    volatile unsigned char *a = page_stack_push(ps, 13, 1);
    page_stack_push(ps, 13, 1);
    a[13] = 4;
}

static void overflow_past_the_top(void)
{
    PageStack *ps = stack();
    page_stack_push(ps, 40, 8);
    volatile unsigned char *p = page_stack_push(ps, 13, 1);
    p[13] = 5;
}

static void touch_past_the_reservation(void)
{
    PageStack *ps = made_stack = page_stack_create(&(PageStackDesc){.reserve_size = 64 * KiB});
    volatile unsigned char *p = page_stack_push(ps, 64 * KiB, 1);
    p[64 * KiB + 100] = 6;
}

/* A loop that fills all but the last element, and a sum over all of them. */
static void element_left_unwritten(void)
{
    volatile int *v = push_array_no_zero(stack(), int, 16);
    for (int i = 0; i < 15; i++)
        v[i] = i;
    int sum = 0;
    for (int i = 0; i < 16; i++)
        sum += v[i];
    if (sum > 100)
        seen = 1;
}

/* Frame 1 gets frame 0's block back and reads frame 0's values as its own. */
static void last_frames_data_read_as_this_frames(void)
{
    FrameArena *fa = arena();
    int *a = push_array_no_zero(frame_arena_begin(fa), int, 64);
    for (int i = 0; i < 64; i++)
        a[i] = i;
    frame_arena_end(fa);
    volatile int *b = push_array_no_zero(frame_arena_begin(fa), int, 64);
    if (b[63] == 63)
        seen = 1;
}

static void bytes_a_realloc_added(void)
{
    PageStack *ps = stack();
    unsigned char *p = page_stack_push(ps, 32, 8);
    memset(p, 1, 32);
    volatile unsigned char *q = page_stack_realloc(ps, p, 32, 64, 8);
    if (q[40] == 1)
        seen = 1;
}

static void cursor_push_read_before_written(void)
{
    PageStack *ps = stack();
    PageStackCursor c = page_stack_cursor_begin(ps);
    volatile int *v = cursor_push_array_no_zero(&c, int, 8);
    int x = v[3];
    page_stack_cursor_end(&c);
    if (x == 7)
        seen = 1;
}

static const struct {
    const char *name;
    void (*run)(void);
    int reuse;     /* the bytes are handed out again in a plain build */
    int alone;     /* the checked build alone must stop it: a write to bytes no block holds */
    int unwritten; /* a read of bytes a push handed out that nothing wrote */
} cases[] = {
    {"read_after_reset", read_after_reset, 0, 0, 0},
    {"write_after_reset", write_after_reset, 0, 1, 0},
    {"read_after_reset_address_reused", read_after_reset_address_reused, 1, 0, 0},
    {"write_after_reuse", write_after_reuse, 1, 1, 0},
    {"read_2_frames_later", read_2_frames_later, 1, 0, 0},
    {"read_4_frames_later", read_4_frames_later, 1, 0, 0},
    {"read_after_pop", read_after_pop, 0, 0, 0},
    {"read_after_pop_and_repush", read_after_pop_and_repush, 1, 0, 0},
    {"overflow_into_neighbour", overflow_into_neighbour, 1, 1, 0},
    {"overflow_past_the_top", overflow_past_the_top, 0, 1, 0},
    {"touch_past_the_reservation", touch_past_the_reservation, 0, 1, 0},
    {"element_left_unwritten", element_left_unwritten, 0, 0, 1},
    {"last_frames_data_read_as_this_frames", last_frames_data_read_as_this_frames, 1, 0, 1},
    {"bytes_a_realloc_added", bytes_a_realloc_added, 0, 0, 1},
    {"cursor_push_read_before_written", cursor_push_read_before_written, 0, 0, 1},
};

int main(int argc, char **argv)
{
    size_t n = sizeof cases / sizeof cases[0];
    if (argc == 2 && !strcmp(argv[1], "--list")) {
        for (size_t i = 0; i < n; i++)
            printf("%s%s%s%s\n", cases[i].name, cases[i].reuse ? " reuse" : "", cases[i].alone ? " alone" : "",
                   cases[i].unwritten ? " unwritten" : "");
        return 0;
    }
    for (size_t i = 0; argc == 2 && i < n; i++) {
        if (!strcmp(argv[1], cases[i].name)) {
            cases[i].run();
            page_stack_destroy(made_stack);
            frame_arena_destroy(made_arena);
            printf("uaf_case: %s went unnoticed\n", cases[i].name);
            return 0;
        }
    }
    fprintf(stderr, "usage: uaf_case NAME | --list\n");
    return 2;
}
