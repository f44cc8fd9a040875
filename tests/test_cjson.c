/* A real library on frame memory: cJSON parses and prints documents every
 * frame with its allocation hooks pointed at the frame arena. */
#include "support.h"

#include "allocator.h"
#include "frame_arena.h"

#include <cjson/cJSON.h>

/* cJSON's hooks are process-wide and take no user pointer: route them
 * through the thread's current allocator. */
static _Thread_local Allocator json_allocator;
static _Thread_local unsigned hook_allocs;

static void *json_malloc(size_t size)
{
    hook_allocs++;
    return json_allocator.alloc(json_allocator.user, size, 16);
}

static void json_free(void *ptr)
{
    json_allocator.free(json_allocator.user, ptr, 0); /* size unknown: reclaimed with the frame */
}

Test(cjson, documents_parse_and_print_in_frame_memory_every_frame)
{
    cJSON_InitHooks(&(cJSON_Hooks){json_malloc, json_free});
    FrameArena *fa = frame_arena_create(&(FrameArenaDesc){.name = "json"});
    size_t committed_at_100 = 0;
    for (int f = 0; f < 300; f++) {
        PageStack *frame = frame_arena_begin(fa);
        json_allocator = page_stack_allocator(frame);
        hook_allocs = 0;
        for (int d = 0; d < 20; d++) {
            char text[256];
            snprintf(text, sizeof text,
                     "{\"frame\": %d, \"doc\": %d, \"name\": \"entity-%d\", \"pos\": [%d.5, %d.25], "
                     "\"tags\": [\"a\", \"b\", \"c\"], \"alive\": true}",
                     f, d, d, f, d);
            cJSON *root = cJSON_Parse(text);
            cr_assert_not_null(root, "parse failed in frame %d", f);
            cr_assert_eq(cJSON_GetObjectItem(root, "frame")->valueint, f);
            char name[32];
            snprintf(name, sizeof name, "entity-%d", d);
            cr_assert_str_eq(cJSON_GetObjectItem(root, "name")->valuestring, name);
            cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItem(root, "tags")), 3);
            char *printed = cJSON_PrintUnformatted(root);
            cr_assert_not_null(printed);
            cJSON *again = cJSON_Parse(printed);
            cr_assert(cJSON_Compare(root, again, 1), "print and parse again round-trips");
            cJSON_free(printed);
            cJSON_Delete(again);
            cJSON_Delete(root);
        }
        frame_arena_end(fa);
        FrameArenaStats st = frame_arena_stats(fa);
        cr_assert_eq(st.last.pushes, hook_allocs, "every cJSON allocation was a push into the frame");
        cr_assert_gt(st.last.pushes, 20 * 10);
        cr_assert_eq(st.last.failed_pushes, 0);
        if (f == 100)
            committed_at_100 = st.committed;
        if (f > 100)
            cr_assert_eq(st.committed, committed_at_100, "frame memory does not grow in a steady state");
    }
    frame_arena_destroy(fa);
    cJSON_InitHooks(NULL);
}
