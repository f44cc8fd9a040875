/* A consumer's game loop: what each packaging test compiles. */
#include "frame_arena.h"
#include "scratch.h"

#include <stdio.h>

int main(void)
{
    FrameArena *fa = frame_arena_create(&(FrameArenaDesc){.name = "consumer"});
    if (!fa)
        return 1;
    size_t total = 0;
    for (int f = 0; f < 100; f++) {
        PageStack *frame = frame_arena_begin(fa);
        int *values = push_array(frame, int, 1000);
        for (int i = 0; i < 1000; i++)
            values[i] = f + i;
        PageStackMark tmp = scratch_begin(&frame, 1);
        char *text = page_stack_push(tmp.stack, 64, 1);
        total += (size_t)snprintf(text, 64, "%d", values[999]);
        scratch_end(tmp);
        frame_arena_end(fa);
    }
    FrameArenaStats st = frame_arena_stats(fa);
    printf("consumer: %llu frames, %zu bytes a frame, %zu digits\n", (unsigned long long)st.frames, st.last.used, total);
#ifdef FRAME_ARENA_CHECKED
    printf("consumer: the checked build\n"); /* the build's flag reached the game's code */
#endif
    frame_arena_destroy(fa);
    return st.frames == 100 && st.last.used >= 4000 ? 0 : 1;
}
