/* frame_arena_demo: particles and entities in a game loop that resets its
 * frame arena every frame.
 *
 * Loop shape: Initialization / Update / Draw / De-initialization, all update
 * before any draw. Each frame begins with frame_arena_begin and ends with
 * frame_arena_end; everything in between that is not a level entity is frame
 * memory: the particles (carried from last frame's buffer), the obstacle
 * grid, spawn lists, sort keys, the vertex and index arrays handed to
 * SDL_RenderGeometry (the particles' built by the workers, each in its lane
 * of the frame arena), and the overlay's text and graphs.
 */
#include "overlay.h"
#include "sim.h"
#include "transient.h"
#include "workers.h"

#include "frame_arena.h"
#include "scratch.h"

#include <SDL.h>
#include <SDL_ttf.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_THREADS 64
#define MAX_INPUTS 256
#define MIN_WIDTH 320 /* the window's sizes, --size's and the script's */
#define MIN_HEIGHT 240
#define MAX_SIDE 8192
#define STRING_(x) #x
#define STRING(x) STRING_(x)
#define SIZE_RANGE "from " STRING(MIN_WIDTH) "x" STRING(MIN_HEIGHT) " to " STRING(MAX_SIDE) "x" STRING(MAX_SIDE)
#define STEP_DT (1.0f / 60.0f)

static bool size_in_range(int w, int h)
{
    return w >= MIN_WIDTH && h >= MIN_HEIGHT && w <= MAX_SIDE && h <= MAX_SIDE;
}

/* A key press, a held key's repeat, a click or a new window size that
 * --input plays at the start of a frame, as if it came from the keyboard,
 * the mouse or the user dragging the window's edge. */
typedef enum InputKind { Input_Key, Input_Click, Input_Size } InputKind;
typedef struct ScriptedInput {
    long frame;
    InputKind kind;
    SDL_Keycode key; /* a key's */
    bool repeat;     /* a key's: the repeat the keyboard sends while the key is held down */
    int x, y;        /* a click's, in window coordinates; a size's width and height */
} ScriptedInput;

typedef struct Options {
    long frames;  /* 0 = until quit */
    bool headless, stats;
    uint32_t particles, threads, fps;
    uint64_t seed;
    size_t frame_reserve;   /* bytes each of the frame arena's stacks reserves; 0: the engine's default */
    size_t scratch_reserve; /* bytes each of every thread's two scratch stacks reserves */
    int width, height;
    Backend backend;
    const char *screenshot, *report, *font; /* font NULL: the overlay looks for DejaVu Sans Mono */
    ScriptedInput inputs[MAX_INPUTS];
    uint32_t input_count;
} Options;

static const char usage[] =
    "usage: frame_arena_demo [options]\n"
    "  --frames N          run N frames (each a fixed 1/60 s step), then exit 0\n"
    "  --headless          no window: SDL's dummy video driver and the software renderer\n"
    "  --particles N       particle target (default 20000)\n"
    "  --seed S            world seed (default 1)\n"
    "  --size WxH          the scene's size, and the window's at the start (default 1280x720);\n"
    "                      a resized window shows the whole scene, scaled to fit, in proportion\n"
    "  --threads N         worker threads (particle update, quads), each with a lane, 1..64\n"
    "                      (default: the CPU count, at most 8)\n"
    "  --backend arena|malloc   where the transient buffers come from (default arena)\n"
    "  --frame-reserve MIB the address space each of the frame arena's stacks reserves, 1..65536\n"
    "                      (default 1024; 64 on 32-bit): a frame that needs more has pushes fail\n"
    "                      and goes on without what they were for\n"
    "  --scratch-reserve MIB  the address space each of every thread's two scratch stacks\n"
    "                      reserves, 1..65536 (default 128; 4095 at most on 32-bit): a part of the\n"
    "                      particle update that needs more is compacted in place instead\n"
    "  --fps N             frame cap, 0 = none (default 60; vsync does not throttle headless)\n"
    "  --stats             start with the allocation overlay on (F1 toggles)\n"
    "  --screenshot PATH   save the last frame as a BMP (the --frames count's, or the one that quits)\n"
    "  --report PATH       write a CSV row per frame\n"
    "  --font PATH         the overlay's TrueType font (default: DejaVu Sans Mono where Debian,\n"
    "                      Fedora or Arch install it)\n"
    "  --input SCRIPT      play key presses, clicks and window sizes: FRAME:KEY, FRAME:held@KEY (the\n"
    "                      repeat of a key held down), FRAME:click@XxY or FRAME:size@WxH,\n"
    "                      comma-separated, frames from 0, keys as SDL names them\n"
    "                      (F1, R, Space, =, -, Escape); e.g. --input 60:F1,120:click@640x360,240:R\n"
    "  --help              this text\n";

static int bad_argument(const char *fmt, const char *arg)
{
    fprintf(stderr, "frame_arena_demo: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n%s", usage);
    return 2;
}

static bool parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
    if (!s || !*s || *s == '-')
        return false;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || v < min || v > max)
        return false;
    *out = v;
    return true;
}

/* "AxB": two decimal numbers up to max, each checked as parse_u64 checks
 * one (sscanf's %d would take 4294967616 for 320). */
static bool parse_pair(const char *s, uint64_t max, int *a, int *b)
{
    char first[24];
    const char *x = s ? strchr(s, 'x') : NULL;
    uint64_t va, vb;
    if (!x || (size_t)(x - s) >= sizeof first)
        return false;
    memcpy(first, s, (size_t)(x - s));
    first[x - s] = '\0';
    if (!parse_u64(first, 0, max, &va) || !parse_u64(x + 1, 0, max, &vb))
        return false;
    *a = (int)va, *b = (int)vb;
    return true;
}

/* One item of --input: "FRAME:KEY", "FRAME:held@KEY", "FRAME:click@XxY" or
 * "FRAME:size@WxH". */
static bool parse_input_item(const char *item, size_t len, ScriptedInput *out)
{
    char text[64];
    if (len == 0 || len >= sizeof text)
        return false;
    memcpy(text, item, len);
    text[len] = '\0';
    char *what = strchr(text, ':');
    uint64_t frame;
    if (!what)
        return false;
    *what++ = '\0';
    if (!parse_u64(text, 0, 100000000, &frame))
        return false;
    *out = (ScriptedInput){.frame = (long)frame, .kind = Input_Key};
    if (!strncmp(what, "click@", 6)) {
        out->kind = Input_Click;
        return parse_pair(what + 6, INT_MAX, &out->x, &out->y);
    }
    if (!strncmp(what, "size@", 5)) {
        out->kind = Input_Size;
        return parse_pair(what + 5, INT_MAX, &out->x, &out->y);
    }
    if (!strncmp(what, "held@", 5)) {
        out->repeat = true;
        what += 5;
    }
    out->key = SDL_GetKeyFromName(what);
    return out->key != SDLK_UNKNOWN;
}

static int parse_inputs(const char *script, Options *o)
{
    if (!script || !*script)
        return bad_argument("--input needs a script, e.g. 60:F1,120:click@640x360 (got '%s')", script ? script : "");
    for (const char *item = script;;) {
        size_t len = strcspn(item, ",");
        if (o->input_count == MAX_INPUTS)
            return bad_argument("--input takes at most %s items", "256");
        if (!parse_input_item(item, len, &o->inputs[o->input_count])) {
            char got[80];
            snprintf(got, sizeof got, "%.*s", len < 64 ? (int)len : 64, item);
            return bad_argument("--input items are FRAME:KEY, FRAME:held@KEY, FRAME:click@XxY or FRAME:size@WxH, "
                                "keys as SDL names them (got '%s')", got);
        }
        o->input_count++;
        if (!item[len])
            return -1;
        item += len + 1;
    }
}

/* Returns -1 when the options are fine, else the exit code. */
static int parse_options(int argc, char **argv, Options *o)
{
    int cpus = SDL_GetCPUCount();
    *o = (Options){.particles = 20000, .threads = cpus < 1 ? 1 : cpus > 8 ? 8 : (uint32_t)cpus, .fps = 60, .seed = 1,
                   .width = 1280, .height = 720, .scratch_reserve = (size_t)128 << 20};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        uint64_t n;
        if (!strcmp(a, "--help")) {
            fputs(usage, stdout);
            return 0;
        } else if (!strcmp(a, "--headless")) {
            o->headless = true;
        } else if (!strcmp(a, "--stats")) {
            o->stats = true;
        } else if (!strcmp(a, "--frames")) {
            if (!parse_u64(v, 1, 100000000, &n))
                return bad_argument("--frames needs a number of frames from 1 (got '%s')", v ? v : "");
            o->frames = (long)n, i++;
        } else if (!strcmp(a, "--particles")) {
            if (!parse_u64(v, 0, 2000000, &n))
                return bad_argument("--particles needs a count from 0 to 2000000 (got '%s')", v ? v : "");
            o->particles = (uint32_t)n, i++;
        } else if (!strcmp(a, "--seed")) {
            if (!parse_u64(v, 0, UINT64_MAX, &n))
                return bad_argument("--seed needs a non-negative number (got '%s')", v ? v : "");
            o->seed = n, i++;
        } else if (!strcmp(a, "--threads")) {
            if (!parse_u64(v, 1, MAX_THREADS, &n))
                return bad_argument("--threads needs a number from 1 to 64 (got '%s')", v ? v : "");
            o->threads = (uint32_t)n, i++;
        } else if (!strcmp(a, "--fps")) {
            if (!parse_u64(v, 0, 1000, &n))
                return bad_argument("--fps needs a number from 0 to 1000 (got '%s')", v ? v : "");
            o->fps = (uint32_t)n, i++;
        } else if (!strcmp(a, "--size")) {
            int w = 0, h = 0;
            if (!parse_pair(v, MAX_SIDE, &w, &h) || !size_in_range(w, h))
                return bad_argument("--size needs WxH, " SIZE_RANGE " (got '%s')", v ? v : "");
            o->width = w, o->height = h, i++;
        } else if (!strcmp(a, "--frame-reserve") || !strcmp(a, "--scratch-reserve")) {
            bool wide = SIZE_MAX >> 20 >= 65536; /* 32-bit: up to 4095 MiB, which a size_t can count */
            if (!parse_u64(v, 1, wide ? 65536 : SIZE_MAX >> 20, &n)) {
                fprintf(stderr, "frame_arena_demo: %s needs a number of MiB from 1 to %s (got '%s')\n%s", a,
                        wide ? "65536" : "4095", v ? v : "", usage);
                return 2;
            }
            *(!strcmp(a, "--frame-reserve") ? &o->frame_reserve : &o->scratch_reserve) = (size_t)n << 20, i++;
        } else if (!strcmp(a, "--backend")) {
            if (v && !strcmp(v, "arena"))
                o->backend = Backend_Arena;
            else if (v && !strcmp(v, "malloc"))
                o->backend = Backend_Malloc;
            else
                return bad_argument("--backend is arena or malloc (got '%s')", v ? v : "");
            i++;
        } else if (!strcmp(a, "--screenshot") || !strcmp(a, "--report") || !strcmp(a, "--font")) {
            if (!v || !*v)
                return bad_argument("%s needs a file path", a);
            *(!strcmp(a, "--report") ? &o->report : !strcmp(a, "--font") ? &o->font : &o->screenshot) = v, i++;
        } else if (!strcmp(a, "--input")) {
            int rc = parse_inputs(v, o);
            if (rc >= 0)
                return rc;
            i++;
        } else {
            return bad_argument("unknown option '%s'", a);
        }
    }
    for (uint32_t k = 0; k < o->input_count; k++) {
        const ScriptedInput *in = &o->inputs[k];
        char what[96];
        if (o->frames && in->frame >= o->frames) {
            snprintf(what, sizeof what, "%ld, but --frames %ld runs frames 0 to %ld", in->frame, o->frames,
                     o->frames - 1);
            return bad_argument("--input has frame %s", what);
        }
        if (in->kind == Input_Size && !size_in_range(in->x, in->y)) {
            snprintf(what, sizeof what, "%dx%d at frame %ld; sizes are " SIZE_RANGE, in->x, in->y, in->frame);
            return bad_argument("--input has a window size of %s", what);
        }
        /* A click lands in the window as it is then: the size --size gave,
         * or the last that the script set before it. */
        int w = o->width, h = o->height;
        long latest = -1;
        for (uint32_t j = 0; j < o->input_count; j++) {
            const ScriptedInput *size = &o->inputs[j];
            bool earlier = size->frame < in->frame || (size->frame == in->frame && j < k);
            if (size->kind == Input_Size && earlier && size->frame >= latest)
                w = size->x, h = size->y, latest = size->frame;
        }
        if (in->kind == Input_Click && (in->x >= w || in->y >= h)) {
            snprintf(what, sizeof what, "%dx%d at frame %ld, outside the %dx%d window", in->x, in->y, in->frame, w, h);
            return bad_argument("--input has a click at %s", what);
        }
    }
    return -1;
}

/* This frame's scripted presses and clicks, into SDL's queue: the loop
 * handles them with the ones from the keyboard and the mouse. A size is
 * asked of the window now, as the user's drag asks it; the window's events
 * then follow (the renderer's letterboxing among them). */
static void play_inputs(const Options *o, uint64_t frame, SDL_Window *window)
{
    for (uint32_t k = 0; k < o->input_count; k++) {
        const ScriptedInput *in = &o->inputs[k];
        if ((uint64_t)in->frame != frame)
            continue;
        SDL_Event ev = {0};
        if (in->kind == Input_Size) {
            SDL_SetWindowSize(window, in->x, in->y);
            continue;
        }
        if (in->kind == Input_Key) {
            ev.key = (SDL_KeyboardEvent){.type = SDL_KEYDOWN, .windowID = SDL_GetWindowID(window),
                                         .state = SDL_PRESSED, .repeat = in->repeat,
                                         .keysym = {.scancode = SDL_GetScancodeFromKey(in->key), .sym = in->key}};
        } else {
            ev.button = (SDL_MouseButtonEvent){.type = SDL_MOUSEBUTTONDOWN, .windowID = SDL_GetWindowID(window),
                                               .button = SDL_BUTTON_LEFT, .state = SDL_PRESSED, .clicks = 1,
                                               .x = in->x, .y = in->y};
        }
        if (SDL_PushEvent(&ev) < 0)
            fprintf(stderr, "frame_arena_demo: --input at frame %" PRIu64 " was lost: %s\n", frame, SDL_GetError());
    }
}

/* The overlay's frames per second: the time from one frame to the next
 * (`elapsed`, in seconds), averaged over about the last 20 frames. */
static double frame_rate(double rate, double elapsed)
{
    double fps = 1.0 / (elapsed > 1e-9 ? elapsed : 1e-9);
    return rate > 0 ? rate + (fps - rate) / 20.0 : fps;
}

/* The frame cap: sleeps until the next frame's start on a schedule of one
 * start every 1/fps s, and returns that start. SDL_Delay sleeps whole
 * milliseconds, rounded up here, so a frame starts up to about a millisecond
 * after its time and never before, and the schedule keeps the rate exact on
 * average. A frame that ran past its time starts the next one at once and
 * moves the schedule on, so a slow frame is not followed by a burst of fast
 * ones. */
static uint64_t wait_for_next_start(uint64_t deadline, uint64_t frame_start, uint32_t fps)
{
    uint64_t period = SDL_GetPerformanceFrequency() / fps;
    uint64_t next = (deadline ? deadline : frame_start) + period;
    uint64_t now = SDL_GetPerformanceCounter();
    if (now >= next)
        return now;
    SDL_Delay((Uint32)ceil((double)(next - now) * 1000.0 / (double)SDL_GetPerformanceFrequency()));
    return next;
}

/* Whether the loop runs frame number `frame`: no quit yet, and within --frames. */
static bool another_frame(const Options *o, bool running, uint64_t frame)
{
    return running && (!o->frames || frame < (uint64_t)o->frames);
}

/* A backend's time spent allocating in each of the last ALLOC_WINDOW frames
 * that ran on it alone, whose mean, median and slowest the overlay shows for
 * both backends side by side, and in all of them, whose mean, median and
 * 99th percentile the exit summary gives. */
#define ALLOC_WINDOW 60
typedef struct AllocTimes {
    double ms[ALLOC_WINDOW];
    uint32_t head, len;
    double sum; /* over the run's `frames` */
    uint64_t frames;
    double *all; /* each frame's, for the percentiles: the first `cap` frames */
    size_t cap, count;
} AllocTimes;

static void alloc_times_add(AllocTimes *a, double ms)
{
    a->ms[a->head] = ms;
    a->head = (a->head + 1) % ALLOC_WINDOW;
    a->len += a->len < ALLOC_WINDOW;
    a->sum += ms;
    a->frames++;
    if (a->count < a->cap)
        a->all[a->count++] = ms;
}

static int compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The nearest-rank percentile q (0 to 1) of sorted[0..n), n > 0. */
static double percentile(const double *sorted, size_t n, double q)
{
    size_t rank = (size_t)ceil(q * (double)n);
    return sorted[rank > 0 ? rank - 1 : 0];
}

/* "0.0031 ms (288 frames; median 0.0024, p99 0.0190)", or "- (0 frames)".
 * Sorts a->all. */
static const char *alloc_times_run(AllocTimes *a, char *buf, size_t size)
{
    if (!a->frames) {
        snprintf(buf, size, "- (0 frames)");
        return buf;
    }
    qsort(a->all, a->count, sizeof *a->all, compare_doubles);
    snprintf(buf, size, "%.4f ms (%" PRIu64 " frames; median %.4f, p99 %.4f)", a->sum / (double)a->frames, a->frames,
             percentile(a->all, a->count, 0.5), percentile(a->all, a->count, 0.99));
    return buf;
}

/* The last ALLOC_WINDOW frames' mean, median (nearest rank) and slowest. */
static AllocWindow alloc_times_window(const AllocTimes *a)
{
    double sorted[ALLOC_WINDOW], sum = 0;
    if (!a->len)
        return (AllocWindow){0};
    memcpy(sorted, a->ms, a->len * sizeof *sorted);
    qsort(sorted, a->len, sizeof *sorted, compare_doubles);
    for (uint32_t i = 0; i < a->len; i++)
        sum += sorted[i];
    return (AllocWindow){.frames = a->len, .mean = sum / a->len, .median = percentile(sorted, a->len, 0.5),
                         .max = sorted[a->len - 1]};
}

static double ms_since(uint64_t start)
{
    return (double)(SDL_GetPerformanceCounter() - start) * 1000.0 / (double)SDL_GetPerformanceFrequency();
}

static void on_budget(FrameArena *fa, size_t used, void *user)
{
    (void)fa;
    uint64_t *count = user;
    if ((*count)++ == 0)
        printf("demo: a frame used %.2f MiB, over the frame budget (reported once; the overlay counts them)\n",
               (double)used / (1024.0 * 1024.0));
}

static int compare_keys(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

static SDL_Color particle_color(const Particle *p)
{
    float speed = sqrtf(p->vel.x * p->vel.x + p->vel.y * p->vel.y);
    float heat = speed / 400.0f > 1.0f ? 1.0f : speed / 400.0f;
    float fade = p->life > 1.0f ? 1.0f : p->life;
    return (SDL_Color){(Uint8)(80 + 175 * heat), (Uint8)(120 + 100 * (1.0f - heat)), (Uint8)(255 - 155 * heat),
                       (Uint8)(60 + 195 * fade)};
}

/* The quads of one part of the sorted particles, built by one worker into
 * its own lane of the frame arena: vertices and indices of its own, drawn
 * once every part is built. A lane that cannot hold its part's quads builds
 * the fastest it can hold (transient_fit): the part's last keys; the main
 * thread draws the rest in batches (draw_batches). */
typedef struct QuadJob {
    Transient *t;
    const World *w;
    const uint64_t *keys; /* sorted: slow particles first */
    size_t quads;
    SDL_Vertex *v[MAX_THREADS];
    int *idx[MAX_THREADS];
    size_t built[MAX_THREADS]; /* quads in part p's arrays, the last of its keys; 0 if its fallback had no room */
} QuadJob;

enum { QuadBytes = 4 * sizeof(SDL_Vertex) + 6 * sizeof(int) }; /* one block: the vertices, then the indices */

/* The quads of the particles that keys[0..n) name into one block at v of
 * n * QuadBytes bytes: 4 vertices each, then 6 indices each. Returns the
 * indices. */
static int *fill_quads(const World *w, const uint64_t *keys, size_t n, SDL_Vertex *v)
{
    _Static_assert(sizeof(SDL_Vertex) % alignof(int) == 0, "the indices follow the vertices");
    int *idx = (int *)(v + n * 4);
    for (size_t k = 0; k < n; k++) {
        const Particle *p = &w->particles[keys[k] & 0xFFFFFFFFu];
        SDL_Color c = particle_color(p);
        float s = 1.5f;
        SDL_Vertex *q = &v[k * 4];
        q[0] = (SDL_Vertex){{p->pos.x - s, p->pos.y - s}, c, {0, 0}};
        q[1] = (SDL_Vertex){{p->pos.x + s, p->pos.y - s}, c, {0, 0}};
        q[2] = (SDL_Vertex){{p->pos.x + s, p->pos.y + s}, c, {0, 0}};
        q[3] = (SDL_Vertex){{p->pos.x - s, p->pos.y + s}, c, {0, 0}};
        static const int quad[6] = {0, 1, 2, 0, 2, 3};
        for (int i = 0; i < 6; i++)
            idx[k * 6 + (size_t)i] = (int)(k * 4) + quad[i];
    }
    return idx;
}

static void build_quads(void *ctx, uint32_t part, uint32_t parts)
{
    QuadJob *job = ctx;
    size_t begin = job->quads * part / parts, end = job->quads * (part + 1) / parts, n = end - begin;
    job->built[part] = 0;
    SDL_Vertex *v = transient_lane_alloc(job->t, part, System_Vertices, n * QuadBytes + 1, alignof(SDL_Vertex));
    if (!v) {
        size_t fit = transient_fit(job->t, part, n, QuadBytes);
        begin = end - fit;
        n = fit;
        v = transient_lane_alloc(job->t, part, System_Vertices, n * QuadBytes + 1, alignof(SDL_Vertex));
        if (!v)
            return;
    }
    job->v[part] = v;
    job->idx[part] = fill_quads(job->w, job->keys + begin, n, v);
    job->built[part] = n;
}

/* The buffer that the quads the lanes could not hold are drawn from, in
 * batches, as a renderer flushes a fixed vertex buffer: one block on lane 0
 * of at most BatchQuads quads (208 KiB), fewer where fewer are missing or
 * lane 0 has less room, pushed once a frame and filled again for each batch
 * (SDL_RenderGeometry copies what it is given). A block that is refused is
 * asked for again at half the size, down to BatchLeast quads, or all that
 * are missing if fewer; below that, none are drawn in batches. */
enum { BatchQuads = 2048, BatchLeast = 64 };

typedef struct Batches {
    SDL_Vertex *v;      /* NULL if lane 0 could not have one */
    size_t quads;       /* the most a batch holds */
    TransientMark mark; /* lane 0 before the buffer: transient_pop gives it back */
} Batches;

static Batches batch_buffer(Transient *t, size_t missing)
{
    TransientMark mark = transient_mark(t);
    size_t room = transient_room(t, 0);
    size_t fits = room > alignof(SDL_Vertex) ? (room - alignof(SDL_Vertex)) / QuadBytes : 0;
    size_t least = missing < BatchLeast ? missing : BatchLeast;
    size_t size = missing < BatchQuads ? missing : BatchQuads;
    for (size = size < fits ? size : fits; size && size >= least; size /= 2) {
        SDL_Vertex *v = transient_alloc(t, System_Vertices, size * QuadBytes, alignof(SDL_Vertex));
        if (v)
            return (Batches){v, size, mark};
    }
    return (Batches){.v = NULL};
}

/* Draws the quads of keys[0..n) in order, in batches of b's size. */
static void draw_batches(SDL_Renderer *r, const World *w, Batches b, const uint64_t *keys, size_t n)
{
    for (size_t done = 0; done < n; done += b.quads) {
        size_t size = n - done < b.quads ? n - done : b.quads;
        int *idx = fill_quads(w, keys + done, size, b.v);
        SDL_RenderGeometry(r, NULL, b.v, (int)size * 4, idx, (int)size * 6);
    }
}

/* Sort keys on this thread, then the particles' quads on every worker, each
 * into its lane (build_quads), drawn part after part, each part's quads
 * that its lane could not hold in batches first (draw_batches): the order,
 * and the picture, depend neither on the number of threads nor on the
 * frame memory, as long as lane 0 has room for a batch buffer (popped once
 * the particles are drawn). The entities last, from lane 0. All of it frame
 * memory. Returns the particles drawn; *batched those of them drawn in
 * batches. */
static size_t draw_world(SDL_Renderer *r, Transient *t, const World *w, Workers *workers, size_t *batched)
{
    enum { CircleSegments = 20 };
    size_t quads = w->count;
    size_t verts = (size_t)w->entity_count * (CircleSegments + 1);
    size_t indices = (size_t)w->entity_count * CircleSegments * 3;
    size_t drawn = 0;
    *batched = 0;
    uint64_t *keys = transient_alloc(t, System_Sort, (quads + 1) * sizeof *keys, alignof(uint64_t));
    if (keys) {
        /* Slow particles first, fast ones on top. */
        for (size_t i = 0; i < quads; i++) {
            const Particle *p = &w->particles[i];
            uint32_t speed = (uint32_t)(p->vel.x * p->vel.x + p->vel.y * p->vel.y);
            keys[i] = (uint64_t)speed << 32 | i;
        }
        qsort(keys, quads, sizeof *keys, compare_keys);
        QuadJob job = {.t = t, .w = w, .keys = keys, .quads = quads};
        workers_run(workers, build_quads, &job);
        uint32_t parts = workers_count(workers);
        size_t missing = quads;
        for (uint32_t part = 0; part < parts; part++)
            missing -= job.built[part];
        Batches batches = missing ? batch_buffer(t, missing) : (Batches){.v = NULL};
        for (uint32_t part = 0; part < parts; part++) {
            size_t begin = quads * part / parts, end = quads * (part + 1) / parts;
            if (batches.v) {
                size_t n = end - begin - job.built[part];
                draw_batches(r, w, batches, keys + begin, n);
                *batched += n;
                drawn += n;
            }
            if (job.built[part]) {
                SDL_RenderGeometry(r, NULL, job.v[part], (int)job.built[part] * 4, job.idx[part],
                                   (int)job.built[part] * 6);
                drawn += job.built[part];
            }
        }
        if (batches.v)
            transient_pop(t, batches.mark);
    }
    SDL_Vertex *v = transient_alloc(t, System_Vertices, (verts + 1) * sizeof *v, alignof(SDL_Vertex));
    int *idx = transient_alloc(t, System_Vertices, (indices + 1) * sizeof *idx, alignof(int));
    if (!v || !idx)
        return drawn;
    size_t nv = 0, ni = 0;
    static const SDL_Color kinds[] = {{255, 210, 60, 255}, {90, 230, 120, 255}, {110, 110, 130, 255}};
    for (uint32_t e = 0; e < w->entity_count; e++) {
        const Entity *en = &w->entities[e];
        int center = (int)nv;
        v[nv++] = (SDL_Vertex){{en->pos.x, en->pos.y}, kinds[en->kind], {0, 0}};
        for (int s = 0; s < CircleSegments; s++) {
            float a = 6.2831853f * (float)s / CircleSegments;
            SDL_Color rim = kinds[en->kind];
            rim.a = 200;
            v[nv++] = (SDL_Vertex){{en->pos.x + cosf(a) * en->radius, en->pos.y + sinf(a) * en->radius}, rim, {0, 0}};
            idx[ni++] = center;
            idx[ni++] = center + 1 + s;
            idx[ni++] = center + 1 + (s + 1) % CircleSegments;
        }
    }
    SDL_RenderGeometry(r, NULL, v, (int)nv, idx, (int)ni);
    return drawn;
}

/* The whole window, the bars beside a scene scaled to it included: the
 * renderer reads its viewport, the scene alone, unless the logical size is
 * taken off for the read. */
static bool save_screenshot(SDL_Renderer *r, const char *path)
{
    int w, h, scene_w, scene_h;
    SDL_GetRendererOutputSize(r, &w, &h);
    SDL_RenderGetLogicalSize(r, &scene_w, &scene_h);
    SDL_Surface *s = SDL_CreateRGBSurfaceWithFormat(0, w, h, 32, SDL_PIXELFORMAT_ARGB8888);
    SDL_RenderSetLogicalSize(r, 0, 0);
    bool ok = s && SDL_RenderReadPixels(r, NULL, SDL_PIXELFORMAT_ARGB8888, s->pixels, s->pitch) == 0 &&
              SDL_SaveBMP(s, path) == 0;
    SDL_RenderSetLogicalSize(r, scene_w, scene_h);
    if (!ok)
        fprintf(stderr, "frame_arena_demo: cannot save the screenshot to %s: %s\n", path, SDL_GetError());
    SDL_FreeSurface(s);
    return ok;
}

int main(int argc, char **argv)
{
    /* ---------------------------------------------------------------- Initialization */
    Options opt;
    int rc = parse_options(argc, argv, &opt);
    if (rc >= 0)
        return rc;
    if (opt.headless) { /* over SDL_VIDEODRIVER and SDL_RENDER_DRIVER too, which a plain hint gives way to */
        SDL_SetHintWithPriority(SDL_HINT_VIDEODRIVER, "dummy", SDL_HINT_OVERRIDE);
        SDL_SetHintWithPriority(SDL_HINT_RENDER_DRIVER, "software", SDL_HINT_OVERRIDE);
    }
    if (SDL_Init(SDL_INIT_VIDEO) != 0) {
        fprintf(stderr, "frame_arena_demo: %s (SDL: %s)%s\n",
                opt.headless ? "cannot start SDL" : "no display available", SDL_GetError(),
                opt.headless ? "" : "; run with --headless");
        return 1;
    }
    const char *driver = SDL_GetCurrentVideoDriver();
    if (!opt.headless && driver && (!strcmp(driver, "offscreen") || !strcmp(driver, "dummy"))) {
        /* SDL falls back to a driver that shows nothing: a window nobody sees is no demo. */
        fprintf(stderr, "frame_arena_demo: no display available (SDL found only its '%s' video driver); "
                        "run with --headless\n", driver);
        SDL_Quit();
        return 1;
    }
    /* Resizable: the renderer's logical size (below) keeps the scene whole
     * and in proportion in any window, and turns clicks into its
     * coordinates. High-DPI: where the display has more pixels than points
     * (a Wayland output scaled by 2, say), the renderer draws all of them;
     * the window's size stays in points. */
    SDL_Window *window = SDL_CreateWindow(
        "frame_arena demo", SDL_WINDOWPOS_CENTERED, SDL_WINDOWPOS_CENTERED, opt.width, opt.height,
        SDL_WINDOW_RESIZABLE | SDL_WINDOW_ALLOW_HIGHDPI | (opt.headless ? SDL_WINDOW_HIDDEN : 0));
    SDL_Renderer *renderer = window ? SDL_CreateRenderer(window, -1, SDL_RENDERER_ACCELERATED) : NULL;
    if (window && !renderer)
        renderer = SDL_CreateRenderer(window, -1, SDL_RENDERER_SOFTWARE);
    if (!renderer) {
        fprintf(stderr, "frame_arena_demo: cannot open a window (SDL: %s)%s\n", SDL_GetError(),
                opt.headless ? "" : "; run with --headless");
        SDL_Quit();
        return 1;
    }
    /* After the renderer: on X11, SDL makes the window again to give it
     * one, and the new window would not tell the window manager the
     * minimum size given to the old one. */
    SDL_SetWindowMinimumSize(window, MIN_WIDTH, MIN_HEIGHT);
    SDL_RenderSetLogicalSize(renderer, opt.width, opt.height);
    /* The rate a frame should keep up with: the cap's, or with no cap the
     * display's refresh rate (0 when SDL cannot tell: the overlay takes 60). */
    SDL_DisplayMode mode;
    int display = SDL_GetWindowDisplayIndex(window);
    float target_fps = opt.fps ? (float)opt.fps
                       : display >= 0 && SDL_GetCurrentDisplayMode(display, &mode) == 0 ? (float)mode.refresh_rate
                                                                                          : 0.0f;
    if (TTF_Init() != 0)
        fprintf(stderr, "frame_arena_demo: SDL_ttf: %s\n", TTF_GetError());
    Overlay overlay;
    overlay_init(&overlay, opt.font, 13);

    uint64_t overruns = 0;
    const size_t budget = 8u << 20;
    /* A lane for each thread: the workers build the particles' quads in theirs
     * (draw_world). Each frame's first MiB, split over its lanes (64 KiB at
     * least), is prefaulted, so the first frames take few page faults. */
    size_t lane_prefault = ((1u << 20) / opt.threads + 0xFFFF) & ~(size_t)0xFFFF;
    if (opt.frame_reserve && lane_prefault > opt.frame_reserve)
        lane_prefault = opt.frame_reserve;
    FrameArena *fa = frame_arena_create(&(FrameArenaDesc){
        .name = "frame", .budget = budget, .on_budget = on_budget, .user = &overruns,
        .stack = {.reserve_size = opt.frame_reserve, .initial_commit = lane_prefault, .flags = PageStackFlag_Prefault},
        .lanes = opt.threads});
    PageStackError fa_error = page_stack_create_error();
    PageStack *level = page_stack_create(&(PageStackDesc){.name = "level", .reserve_size = 16u << 20});
    /* A setup that fails from here on goes to shut_down, which releases what
     * was made (NULL is nothing to release). */
    int status = 1;
    Workers *workers = NULL;
    FILE *report = NULL;
    double *frame_times = NULL, *alloc_all = NULL;
    AllocTimes alloc_times[Backend_Count] = {0};
    if (!fa || !level) {
        fprintf(stderr, "frame_arena_demo: cannot make the %s: %s\n", fa ? "level stack" : "frame arena",
                page_stack_error_string(fa ? page_stack_create_error() : fa_error));
        goto shut_down;
    }
    /* Every thread's scratch stacks, the workers' and this one's, which the
     * particle update compacts through: their first MiB prefaulted like the
     * frame arena's, so the first steps take no page faults there, and by
     * default 128 MiB of address space each (--scratch-reserve), room for the
     * largest update (2,000,000 particles of 24 bytes on one thread). Each
     * thread makes its own now, this one here and the workers as they start
     * (workers_create), so that address space it cannot have fails the setup
     * with a message rather than the first scratch scope with a fatal one. */
    const char *scratch_failed = scratch_failure(scratch_set_defaults(&(PageStackDesc){
        .name = "particles", .reserve_size = opt.scratch_reserve, .initial_commit = 1u << 20,
        .flags = PageStackFlag_Prefault}));
    if (!scratch_failed)
        scratch_failed = scratch_failure(scratch_thread_init(NULL));
    if (!scratch_failed) {
        SDL_ClearError(); /* what workers_create's failure leaves there is its own */
        workers = workers_create(opt.threads, &scratch_failed);
    }
    if (scratch_failed) {
        fprintf(stderr, "frame_arena_demo: cannot make the scratch stacks (two of %zu MiB for each of %u threads, "
                        "--scratch-reserve): %s\n", opt.scratch_reserve >> 20, opt.threads, scratch_failed);
        goto shut_down;
    }
    if (!workers) { /* a thread, its semaphore or the pool's memory refused */
        fprintf(stderr, "frame_arena_demo: cannot start %u worker thread%s (--threads %u): %s\n", opt.threads - 1,
                opt.threads == 2 ? "" : "s", opt.threads, *SDL_GetError() ? SDL_GetError() : "out of memory");
        goto shut_down;
    }
    report = opt.report ? fopen(opt.report, "w") : NULL;
    size_t frame_time_cap = opt.frames && opt.frames < 1000000 ? (size_t)opt.frames : 1000000, frame_time_count = 0;
    frame_times = malloc(frame_time_cap * sizeof(double)); /* the summary's percentiles */
    alloc_all = malloc(Backend_Count * frame_time_cap * sizeof(double));
    for (int b = 0; alloc_all && b < Backend_Count; b++)
        alloc_times[b].all = alloc_all + (size_t)b * frame_time_cap, alloc_times[b].cap = frame_time_cap;
    if ((opt.report && !report) || !frame_times || !alloc_all) {
        fprintf(stderr, "frame_arena_demo: cannot set up (%s)\n",
                opt.report && !report ? "cannot open the report file" : "out of memory");
        goto shut_down;
    }
    if (report)
        fprintf(report, "frame,used,peak,committed,pushes,sim_ms,frame_ms,particles,scratch_peak,lanes_used,backend,"
                        "alloc_ms,alloc_bytes,allocs,failed,shed,held,drawn,batched\n");

    World world;
    world_init(&world, level, opt.seed, (float)opt.width, (float)opt.height, opt.particles);
    Transient transient = {.backend = opt.backend};
    bool running = true, paused = false, vsync = false, show_stats = opt.stats, show_help = false, shot_failed = false;
    double accumulator = 0, sum_ms = 0, max_ms = 0, last_ms = 0, last_sim_ms = 0;
    TransientCounts last_counts = {0}; /* the last ended frame's, for the overlay */
    Backend last_backend = opt.backend;
    /* F2 in frame f: frames f and f + 1 may free blocks the other backend
     * allocated (transient_begin frees malloc's two frames later), so f + 2
     * is the first on one alone. */
    uint64_t alone_from = 0;
    uint64_t failed_pushes = 0, frame = 0, previous = SDL_GetPerformanceCounter();
    uint64_t first = 0;    /* the first frame's `now` (below); `previous` is the latest one's */
    uint64_t deadline = 0; /* the frame cap's latest scheduled start, 0 before the first */
    double rate = 0;       /* the overlay's frames per second (frame_rate), 0 in the first frame */

    while (another_frame(&opt, running, frame)) {
        uint64_t frame_start = SDL_GetPerformanceCounter();
        frame_arena_begin(fa);
        transient_begin(&transient, fa, frame);

        /* ------------------------------------------------------------ Update */
        play_inputs(&opt, frame, window);
        SDL_Event ev;
        while (SDL_PollEvent(&ev)) {
            if (ev.type == SDL_QUIT) {
                running = false;
            } else if (ev.type == SDL_MOUSEBUTTONDOWN) {
                world.burst_at = (vec2s){{(float)ev.button.x, (float)ev.button.y}};
                world.burst += 3000;
            } else if (ev.type == SDL_KEYDOWN && !ev.key.repeat) {
                /* once a press: a key held down repeats, and each repeat
                 * would toggle, double or restart again */
                switch (ev.key.keysym.sym) {
                case SDLK_ESCAPE: running = false; break;
                case SDLK_F1: show_stats = !show_stats; break;
                case SDLK_F2:
                    transient.backend = transient.backend == Backend_Arena ? Backend_Malloc : Backend_Arena;
                    alone_from = frame + TRANSIENT_SLOTS;
                    break;
                case SDLK_PLUS:
                case SDLK_EQUALS:
                case SDLK_KP_PLUS:
                    world.target = world.target == 0 ? 1000 : world.target < 1000000 ? world.target * 2 : world.target;
                    break;
                case SDLK_MINUS:
                case SDLK_KP_MINUS: world.target /= 2; break;
                case SDLK_SPACE: paused = !paused; break;
                case SDLK_r: /* a new level: what a burst made the frame arena commit goes back now */
                    world_restart(&world);
                    frame_arena_trim(fa);
                    break;
                case SDLK_v: /* the overlay says vsync only if the renderer took it */
                    if (SDL_RenderSetVSync(renderer, !vsync) == 0)
                        vsync = !vsync;
                    else
                        fprintf(stderr, "frame_arena_demo: cannot turn vsync %s: %s\n", vsync ? "off" : "on",
                                SDL_GetError());
                    break;
                case SDLK_h: show_help = !show_help; break;
                default: break;
                }
            }
        }
        uint64_t now = SDL_GetPerformanceCounter();
        double elapsed = (double)(now - previous) / (double)SDL_GetPerformanceFrequency();
        previous = now;
        if (frame == 0)
            first = now;
        else
            rate = frame_rate(rate, elapsed);
        /* --frames runs on a fixed clock (one step a frame) so runs repeat exactly. */
        accumulator += opt.frames ? STEP_DT : (elapsed > 0.25 ? 0.25 : elapsed);
        uint64_t sim_start = SDL_GetPerformanceCounter();
        uint64_t shed_before = world.shed, held_before = world.held, in_place_before = world.in_place;
        int steps = 0;
        while (accumulator >= STEP_DT - 1e-6 && steps < 4) {
            accumulator -= STEP_DT;
            if (paused)
                continue;
            world_step(&world, &transient, workers, STEP_DT);
            steps++;
        }
        if (steps == 0)
            world_carry(&world, &transient);
        double sim_ms = ms_since(sim_start);
        /* this frame's: what its steps left out for want of frame memory, and compacted in place */
        uint64_t shed = world.shed - shed_before, held = world.held - held_before;
        uint64_t in_place = world.in_place - in_place_before;

        /* ------------------------------------------------------------ Draw */
        SDL_SetRenderDrawColor(renderer, 12, 12, 20, 255);
        SDL_RenderClear(renderer);
        SDL_SetRenderDrawBlendMode(renderer, SDL_BLENDMODE_BLEND);
        size_t batched;
        size_t drawn = draw_world(renderer, &transient, &world, workers, &batched);
        OverlayInfo info = {
            .frame = frame, .fps = (float)rate, .frame_ms = (float)last_ms, .target_fps = target_fps,
            .sim_ms = (float)last_sim_ms, .particles = world.count, .drawn = drawn, .batched = batched,
            .shed = shed, .held = held, .in_place = in_place,
            .alloc = {alloc_times_window(&alloc_times[Backend_Arena]),
                      alloc_times_window(&alloc_times[Backend_Malloc])},
            .target = world.target, .threads = opt.threads, .scratch_peak = world.scratch_peak,
            .scratch_reserved = world.scratch_reserved, .backend = transient.backend, .paused = paused,
            .vsync = vsync, .show_stats = show_stats, .show_help = show_help, .last_backend = last_backend,
            .last = last_counts};
        overlay_draw(&overlay, renderer, &transient, fa, budget, &info);
        /* The last frame, however the run ends: its --frames count, or a quit
         * (Escape, the window closed) taken in this frame's events. */
        if (opt.screenshot && !another_frame(&opt, running, frame + 1))
            shot_failed = !save_screenshot(renderer, opt.screenshot);
        SDL_RenderPresent(renderer);

        TransientCounts counts = transient_counts(&transient);
        if (counts.failed && failed_pushes == 0) /* as the budget's overruns: the first is reported */
            printf("demo: frame %" PRIu64 ": %u allocation%s failed, %s (reported once; the overlay and the exit "
                   "summary count them)\n", frame, counts.failed, counts.failed == 1 ? "" : "s",
                   transient.backend == Backend_Arena
                       ? "out of the frame arena's reservation (--frame-reserve) or of memory"
                       : "malloc returned NULL");
        failed_pushes += counts.failed;
        double alloc_ms = (double)counts.alloc_ticks * 1000.0 / (double)SDL_GetPerformanceFrequency();
        if (frame >= alone_from)
            alloc_times_add(&alloc_times[transient.backend], alloc_ms);
        frame_arena_end(fa);
        double frame_ms = ms_since(frame_start);
        FrameArenaStats st = frame_arena_stats(fa);
        if (report) {
            uint32_t lanes_used = 0; /* lanes whose stack holds something at the frame's end */
            for (uint32_t l = 0; l < frame_arena_lanes(fa); l++)
                lanes_used += page_stack_stats(frame_arena_lane(fa, l, 0)).pos > 0;
            fprintf(report, "%" PRIu64 ",%zu,%zu,%zu,%u,%.3f,%.3f,%u,%zu,%u,%s,%.4f,%zu,%u,%u,%" PRIu64 ",%" PRIu64
                            ",%zu,%zu\n",
                    frame, st.last.used, st.last.peak, st.last.committed, st.last.pushes, sim_ms, frame_ms, world.count,
                    world.scratch_peak, lanes_used, transient.backend == Backend_Arena ? "arena" : "malloc", alloc_ms,
                    transient_bytes(&counts), counts.allocs, counts.failed, shed, held, drawn, batched);
        }
        overlay_record(&overlay, (float)frame_ms);
        if (frame_time_count < frame_time_cap)
            frame_times[frame_time_count++] = frame_ms;
        sum_ms += frame_ms;
        max_ms = frame_ms > max_ms ? frame_ms : max_ms;
        last_ms = frame_ms;
        last_sim_ms = sim_ms;
        last_counts = counts;
        last_backend = transient.backend;
        frame++;
        if (opt.fps && another_frame(&opt, running, frame)) /* the last frame ends the run at once */
            deadline = wait_for_next_start(deadline, frame_start, opt.fps);
    }

    /* ---------------------------------------------------------------- De-initialization */
    qsort(frame_times, frame_time_count, sizeof *frame_times, compare_doubles);
    FrameArenaStats st = frame_arena_stats(fa);
    double run_s = (double)(previous - first) / (double)SDL_GetPerformanceFrequency();
    char run_rate[32] = "-"; /* one frame has no interval to measure a rate by */
    if (frame > 1 && run_s > 0)
        snprintf(run_rate, sizeof run_rate, "%.2f fps", (double)(frame - 1) / run_s);
    printf("frames %" PRIu64 "  frame ms: mean %.2f  p99 %.2f  max %.2f  rate %s\n", frame,
           frame ? sum_ms / (double)frame : 0, frame_time_count ? percentile(frame_times, frame_time_count, 0.99) : 0,
           max_ms, run_rate);
    printf("arena: peak %.2f MiB  committed %.2f MiB  reserved %.0f MiB  trims %" PRIu64 "  over budget %" PRIu64 "\n",
           (double)st.peak_all_time / 1048576.0, (double)st.committed / 1048576.0, (double)st.reserved / 1048576.0,
           st.trims, st.budget_overruns);
    char arena_ms[96], malloc_ms[96];
    printf("allocating a frame: frame arena %s  malloc %s\n",
           alloc_times_run(&alloc_times[Backend_Arena], arena_ms, sizeof arena_ms),
           alloc_times_run(&alloc_times[Backend_Malloc], malloc_ms, sizeof malloc_ms));
    printf("overlay: %" PRIu64 " texts drawn, %" PRIu64 " rendered\n", overlay.draws, overlay.renders);
    printf("particles %u  drops %u  shed %" PRIu64 "  held back %" PRIu64 "  failed pushes %" PRIu64
           "  checksum %016" PRIx64 "\n",
           world.count, world.failed, world.shed, world.held, failed_pushes, world_checksum(&world));
    printf("scratch: peak %.2f MiB of %.0f MiB reserved (the fullest thread's)  parts compacted in place %" PRIu64
           "\n", (double)world.scratch_peak / 1048576.0, (double)world.scratch_reserved / 1048576.0, world.in_place);
    SDL_RendererInfo info;
    int window_w = 0, window_h = 0, pixels_w = 0, pixels_h = 0; /* the pixels as the screenshot has them */
    SDL_GetWindowSize(window, &window_w, &window_h);
    SDL_GetRendererOutputSize(renderer, &pixels_w, &pixels_h);
    char pixels[48] = "";
    if (pixels_w != window_w || pixels_h != window_h)
        snprintf(pixels, sizeof pixels, " (%dx%d pixels)", pixels_w, pixels_h);
    printf("video %s  renderer %s  vsync %s  window %dx%d%s\n", SDL_GetCurrentVideoDriver(),
           SDL_GetRendererInfo(renderer, &info) == 0 ? info.name : "unknown", vsync ? "on" : "off", window_w,
           window_h, pixels);
    transient_shutdown(&transient);
    status = shot_failed ? 1 : 0;
shut_down:
    if (report) { /* an output asked for and not written whole fails the run */
        bool unwritten = ferror(report) != 0;
        if ((fclose(report) != 0 || unwritten) && status == 0) {
            fprintf(stderr, "frame_arena_demo: cannot write the report to %s\n", opt.report);
            status = 1;
        }
    }
    free(frame_times);
    free(alloc_all);
    workers_destroy(workers);
    page_stack_destroy(level);
    frame_arena_destroy(fa);
    overlay_shutdown(&overlay);
    TTF_Quit();
    SDL_DestroyRenderer(renderer);
    SDL_DestroyWindow(window);
    SDL_Quit();
    return status;
}
