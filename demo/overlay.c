/* overlay: stats panel, graphs of the last 240 frames, per-system bars, the
 * line of keys and the help (see overlay.h). */
#include "overlay.h"

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define PANEL_W 540
#define GRAPH_H 64
#define GRAPH_MIN_H 24
#define INDENT 16 /* a wrapped line's rows after its first, and what a key does under it */

static const SDL_Color white = {235, 235, 235, 255};
static const SDL_Color dim = {170, 170, 170, 255};
static const SDL_Color used_color = {90, 200, 255, 255};
static const SDL_Color committed_color = {255, 160, 60, 255};
static const SDL_Color alert_color = {255, 90, 80, 255}; /* a line that reports a failure */
static const SDL_Color mark_color = {230, 60, 60, 255};  /* a graph's limit line, and its ticks of failures */

/* Where DejaVu Sans Mono is installed: Debian and Ubuntu (fonts-dejavu-core),
 * Fedora (dejavu-sans-mono-fonts), Arch (ttf-dejavu). */
static const char *const default_fonts[] = {
    "/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf",
    "/usr/share/fonts/dejavu-sans-mono-fonts/DejaVuSansMono.ttf",
    "/usr/share/fonts/TTF/DejaVuSansMono.ttf",
};
#define DEFAULT_FONTS (sizeof default_fonts / sizeof *default_fonts)

/* The help (H): each key, and what it does. */
static const char *const help[][2] = {
    {"F1 / --stats", "allocation overlay: times, bytes, pushes, peak, committed, graphs"},
    {"F2 / --backend", "transient buffers from the frame arena or from malloc/free"},
    {"+ / -", "double or halve the particle target"},
    {"mouse click", "spawn a burst of particles"},
    {"window edge", "drag to resize: the scene scales to fit, in proportion"},
    {"Space", "pause the simulation (particles still move frame to frame)"},
    {"R", "restart the level (resets the level arena, trims the frame arena)"},
    {"V", "vsync on/off"},
    {"H", "this help on/off"},
    {"Esc", "quit"},
};
#define HELP_KEYS ((int)(sizeof help / sizeof help[0]))

/* The width of s's first n bytes in the overlay's font, in points (see
 * overlay.h); 0 without a font. */
static int text_width(Overlay *o, const char *s, size_t n)
{
    char buf[256];
    int w = 0;
    if (!o->font || n == 0)
        return 0;
    n = n < sizeof buf - 1 ? n : sizeof buf - 1;
    memcpy(buf, s, n);
    buf[n] = '\0';
    return TTF_SizeUTF8(o->font, buf, &w, NULL) == 0 ? (int)ceilf((float)w / o->scale) : 0;
}

/* Forgets every text rendered. */
static void forget_texts(Overlay *o)
{
    for (int i = 0; i < OVERLAY_TEXTS; i++) {
        if (o->texts[i].texture)
            SDL_DestroyTexture(o->texts[i].texture);
        o->texts[i].texture = NULL;
    }
}

/* The font at o->scale pixels a point, and what is measured in it: the line
 * height, and the help's layout (a column for the keys, and the box as
 * wide as its widest line). The texts rendered at another size are
 * forgotten. */
static void measure(Overlay *o)
{
    forget_texts(o);
    o->help_column = o->help_width = 0;
    if (!o->font) {
        o->line_height = o->point_size + 4;
        return;
    }
    if (TTF_SetFontSize(o->font, (int)lroundf((float)o->point_size * o->scale)) != 0)
        o->scale = 1.0f, (void)TTF_SetFontSize(o->font, o->point_size);
    o->line_height = (int)ceilf((float)TTF_FontLineSkip(o->font) / o->scale);
    o->help_column = text_width(o, "F1 / --backend    ", 18);
    for (int i = 0; i < HELP_KEYS; i++) {
        int w = text_width(o, help[i][1], strlen(help[i][1]));
        o->help_width = w > o->help_width ? w : o->help_width;
    }
    o->help_width += 10 + o->help_column + 10;
}

void overlay_init(Overlay *o, const char *font_path, int point_size)
{
    *o = (Overlay){.point_size = point_size, .scale = 1.0f};
    for (size_t i = 0; TTF_WasInit() && !o->font && i < (font_path ? 1 : DEFAULT_FONTS); i++)
        o->font = TTF_OpenFont(font_path ? font_path : default_fonts[i], point_size);
    measure(o);
    if (o->font)
        return;
    if (!TTF_WasInit()) { /* main.c has said why */
        printf("demo: no overlay font without SDL_ttf.");
    } else if (font_path) {
        printf("demo: cannot open the overlay font %s (%s).", font_path, TTF_GetError());
    } else {
        printf("demo: found no overlay font: DejaVu Sans Mono is not at");
        for (size_t i = 0; i < DEFAULT_FONTS; i++)
            printf("%s %s", i == 0 ? "" : i + 1 < DEFAULT_FONTS ? "," : " or", default_fonts[i]);
        printf(" (%s); install it (fonts-dejavu-core) or name a TrueType font with --font PATH.", TTF_GetError());
    }
    printf(" The overlay draws its graphs without text and prints its text here instead: the stats once a second "
           "while they are shown, the help each time H shows it.\n");
}

void overlay_shutdown(Overlay *o)
{
    forget_texts(o);
    if (o->font)
        TTF_CloseFont(o->font);
    o->font = NULL;
}

void overlay_record(Overlay *o, float frame_ms)
{
    o->frame_ms[o->head] = frame_ms;
    o->head = (o->head + 1) % OVERLAY_HISTORY;
    if (o->len < OVERLAY_HISTORY)
        o->len++;
}

static bool same_color(SDL_Color a, SDL_Color b)
{
    return a.r == b.r && a.g == b.g && a.b == b.b && a.a == b.a;
}

/* The texture of s in colour c: the one rendered for it before, if it is
 * among those kept, or one rendered now in place of the least recently
 * drawn; NULL if SDL cannot make it, or s is longer than any line() makes. */
static OverlayText *rendered(Overlay *o, SDL_Renderer *r, const char *s, SDL_Color c)
{
    OverlayText *oldest = &o->texts[0];
    for (int i = 0; i < OVERLAY_TEXTS; i++) {
        OverlayText *e = &o->texts[i];
        if (e->texture && same_color(e->color, c) && strcmp(e->s, s) == 0)
            return e;
        if (!e->texture || (oldest->texture && e->drawn < oldest->drawn))
            oldest = e;
    }
    if (strlen(s) >= OVERLAY_TEXT_MAX)
        return NULL;
    SDL_Surface *surface = TTF_RenderUTF8_Blended(o->font, s, c);
    SDL_Texture *texture = surface ? SDL_CreateTextureFromSurface(r, surface) : NULL;
    if (texture) {
        if (oldest->texture)
            SDL_DestroyTexture(oldest->texture);
        *oldest = (OverlayText){.color = c, .texture = texture, .w = surface->w, .h = surface->h};
        memcpy(oldest->s, s, strlen(s) + 1);
        o->renders++;
    }
    SDL_FreeSurface(surface);
    return texture ? oldest : NULL;
}

/* Returns the x where text after it goes. The text is rendered in the
 * window's pixels and drawn at its size in points: as sharp at any scale. */
static int text(Overlay *o, SDL_Renderer *r, int x, int y, const char *s, SDL_Color c)
{
    if (!o->font || !s || !*s)
        return x;
    OverlayText *e = rendered(o, r, s, c);
    if (!e)
        return x;
    e->drawn = ++o->draws;
    float w = (float)e->w / o->scale, h = (float)e->h / o->scale;
    SDL_RenderCopyF(r, e->texture, NULL, &(SDL_FRect){(float)x, (float)y, w, h});
    return x + (int)ceilf(w);
}

/* A line of text in frame memory. */
static char *line(Transient *t, const char *fmt, ...)
{
    char *s = transient_alloc(t, System_Overlay, OVERLAY_TEXT_MAX, 1);
    if (!s)
        return NULL;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s, OVERLAY_TEXT_MAX, fmt, ap);
    va_end(ap);
    return s;
}

static double mib(size_t bytes)
{
    return (double)bytes / (1024.0 * 1024.0);
}

/* Where value i of n (oldest first) goes across box: the newest on its
 * right edge (the column box.x + box.w - 1, as SDL_RenderDrawRect draws
 * it), one frame of OVERLAY_HISTORY apart. */
static float graph_x(SDL_Rect box, uint32_t n, uint32_t i)
{
    return (float)box.x + (float)(box.w - 1) * (float)(OVERLAY_HISTORY - n + i) / (float)(OVERLAY_HISTORY - 1);
}

/* values[0..n) oldest first, as a line in box, scaled so that `top` is its
 * top edge; a value at `top` (the frame-time graph's cap) goes a row under
 * that edge, so that a run of them leaves the box's frame whole. */
static void graph_line(SDL_Renderer *r, Transient *t, SDL_Rect box, const float *values, uint32_t n, float top,
                       SDL_Color color)
{
    if (n < 2)
        return;
    SDL_FPoint *pts = transient_alloc(t, System_Overlay, n * sizeof *pts, alignof(SDL_FPoint));
    if (!pts)
        return;
    for (uint32_t i = 0; i < n; i++) {
        float v = values[i] > top ? top : values[i];
        float y = (float)box.y + (float)box.h * (1.0f - v / top);
        pts[i].x = graph_x(box, n, i);
        pts[i].y = y < (float)box.y + 1.0f ? (float)box.y + 1.0f : y;
    }
    SDL_SetRenderDrawColor(r, color.r, color.g, color.b, 255);
    SDL_RenderDrawLinesF(r, pts, (int)n);
}

/* A graph's frame, its red `mark` line (none if 0) and the line of values. */
static void graph(SDL_Renderer *r, Transient *t, SDL_Rect box, const float *values, uint32_t n, float top,
                  float mark, SDL_Color color)
{
    SDL_SetRenderDrawColor(r, 60, 60, 70, 200);
    SDL_RenderDrawRect(r, &box);
    if (mark > 0 && mark <= top) {
        float y = (float)box.y + (float)box.h * (1.0f - mark / top);
        SDL_SetRenderDrawColor(r, mark_color.r, mark_color.g, mark_color.b, 255);
        SDL_RenderDrawLineF(r, (float)box.x, y, (float)(box.x + box.w - 1), y);
    }
    graph_line(r, t, box, values, n, top, color);
}

/* Breaks s into rows (in frame memory) of at most `width` points, those
 * after the first `indent` points narrower, at the spaces between its
 * words, at a double space between two items where a row has one; a word
 * wider than a row has a row to itself. Stores up to `max` rows in out and
 * returns how many; without a font, s whole. */
static int wrap(Overlay *o, Transient *t, const char *s, int width, int indent, char **out, int max)
{
    int n = 0;
    while (*s == ' ')
        s++;
    while (*s && n < max) {
        size_t len = strlen(s), cut = len;
        int room = n ? width - indent : width;
        if (text_width(o, s, len) > room) {
            size_t word = 0, item = 0; /* the last ends of a word and of an item that fit */
            for (size_t i = 1; i < len; i++) {
                if (s[i] != ' ' || s[i - 1] == ' ')
                    continue;
                if (text_width(o, s, i) > room)
                    break;
                word = i;
                item = s[i + 1] == ' ' ? i : item;
            }
            cut = item ? item : word ? word : strcspn(s, " ");
        }
        out[n++] = line(t, "%.*s", (int)cut, s);
        s += cut;
        while (*s == ' ')
            s++;
    }
    return n;
}

#define PANEL_ROWS 32
#define KEY_ROWS 4

/* Rows of text: the panel's lines wrapped to its width, each line's rows
 * after its first indented; the line of keys. */
typedef struct Rows {
    char *s[PANEL_ROWS];
    int x[PANEL_ROWS];
    bool alert[PANEL_ROWS]; /* drawn in alert_color, not the rows' colour */
    int n;
} Rows;

static void add_rows(Overlay *o, Transient *t, Rows *rows, const char *s, int width, bool alert)
{
    if (!s)
        return;
    int first = rows->n;
    rows->n += wrap(o, t, s, width, INDENT, rows->s + first, PANEL_ROWS - first);
    for (int i = first; i < rows->n; i++) {
        rows->x[i] = i == first ? 0 : INDENT;
        rows->alert[i] = alert;
    }
}

static void draw_rows(Overlay *o, SDL_Renderer *r, const Rows *rows, int x, int y, SDL_Color c)
{
    for (int i = 0; i < rows->n; i++)
        text(o, r, x + rows->x[i], y + i * o->line_height, rows->s[i], rows->alert[i] ? alert_color : c);
}

/* The line of keys, in as many rows as the window's width needs. */
typedef struct KeyLine {
    Rows rows;
    int top; /* its band's top edge */
} KeyLine;

static KeyLine key_line(Overlay *o, Transient *t, int w, int h)
{
    KeyLine k = {0};
    k.rows.n = wrap(o, t,
                    "F1 stats  F2 backend  +/- particles  click burst  Space pause  R restart  V vsync  H help  "
                    "Esc quit",
                    w - 16, 0, k.rows.s, KEY_ROWS);
    k.top = h - k.rows.n * o->line_height - 6;
    return k;
}

/* The line of keys, in its band at the bottom, and the help (H) above it:
 * right of the stats panel where the window is wide enough for both side
 * by side (panel_right: the panel's right edge, 0 without it). */
static void keys_and_help(Overlay *o, SDL_Renderer *r, Transient *t, const OverlayInfo *info, const KeyLine *keys,
                          int panel_right, int w, int h)
{
    SDL_SetRenderDrawColor(r, 0, 0, 0, 160);
    SDL_RenderFillRect(r, &(SDL_Rect){0, keys->top, w, h - keys->top});
    draw_rows(o, r, &keys->rows, 8, keys->top + 3, dim);
    o->help_printed = o->help_printed && info->show_help;
    if (!info->show_help)
        return;
    enum { N = HELP_KEYS, ROWS_EACH = 4 };
    if (!o->font) { /* no box to draw the help in: printed once each time H shows it */
        for (int i = 0; i < N && !o->help_printed; i++)
            printf("%-18s%s\n", help[i][0], help[i][1]);
        o->help_printed = true;
        return;
    }
    /* Keys on the left, what they do on the right, wrapped to fit the
     * window: the box 8 points right of the stats panel where it fits there
     * whole, else 40 points from the left edge, nearer in a narrow window.
     * In a box too narrow for that (what the keys do in a column less than
     * half as wide again as the keys'), each key has a row to itself, and
     * what it does is in the rows under it, indented. */
    int column = o->help_column, need = o->help_width, left = w - need >= 80 ? 40 : 8;
    int bw = need < w - 2 * left ? need : w - 2 * left;
    if (panel_right > 0 && panel_right + 8 + need <= w - 8)
        left = panel_right + 8, bw = need;
    bool stacked = bw - 20 - column < column * 3 / 2;
    int indent = stacked ? INDENT : column;
    char *rows[N * (ROWS_EACH + 1)];
    int first[N + 1], n = 0; /* the row each key is in */
    for (int i = 0; i < N; i++) {
        first[i] = n;
        if (stacked)
            rows[n++] = NULL;
        n += wrap(o, t, help[i][1], bw - 20 - indent, 0, rows + n, ROWS_EACH);
    }
    first[N] = n;
    /* The keys that fit above the line of keys; in a window too short for
     * all of them, a last row says how many more a bigger one shows. */
    int room = (keys->top - 8 - 16) / o->line_height, shown = N;
    while (shown > 0 && first[shown] + (shown < N) > room)
        shown--;
    int used = first[shown] + (shown < N);
    SDL_Rect box = {left, h / 2 - used * o->line_height / 2 - 8, bw, used * o->line_height + 16};
    box.y = box.y + box.h > keys->top - 4 ? keys->top - 4 - box.h : box.y;
    box.y = box.y < 4 ? 4 : box.y;
    SDL_SetRenderDrawColor(r, 10, 10, 20, 220);
    SDL_RenderFillRect(r, &box);
    for (int i = 0; i < shown; i++)
        text(o, r, box.x + 10, box.y + 8 + first[i] * o->line_height, help[i][0], white);
    for (int i = 0; i < first[shown]; i++)
        text(o, r, box.x + 10 + indent, box.y + 8 + i * o->line_height, rows[i], white);
    if (shown < N)
        text(o, r, box.x + 10, box.y + 8 + first[shown] * o->line_height,
             line(t, "(%d more keys in a bigger window)", N - shown), dim);
}

/* The stats panel's width in a window w points wide: PANEL_W, or the
 * window's less 4 points each side. */
static int panel_width(int w)
{
    return w - 8 < PANEL_W ? w - 8 : PANEL_W;
}

/* The stats panel (F1), above the line of keys: its lines, wrapped to the
 * panel's width; graphs of bytes and of frame time, lower in a window too
 * short for them at full height; and this frame's bytes per system, the
 * rows that fit. In a window narrower than PANEL_W the panel narrows to
 * fit, and what is too tall for the window is cut above the line of keys. */
static void stats_panel(Overlay *o, SDL_Renderer *r, Transient *t, FrameArena *fa, size_t budget,
                        const OverlayInfo *info, const KeyLine *keys, int w)
{
    FrameArenaStats st = frame_arena_stats(fa);
    char *lines[10];
    int n = 0;
    lines[n++] = line(t, "frame %llu  %.0f fps  %.2f ms  sim %.2f ms%s%s", (unsigned long long)info->frame,
                      (double)info->fps, (double)info->frame_ms, (double)info->sim_ms, info->paused ? "  PAUSED" : "",
                      info->vsync ? "  vsync" : "");
    /* each backend's time spent allocating a frame, a row each under the
     * columns' heads, the one in use marked: 37 characters, a row at 320
     * points wide */
    lines[n++] = line(t, "%-13s%8s%8s%8s", "ms allocating", "mean", "median", "max");
    for (int b = 0; b < Backend_Count; b++) {
        const AllocWindow *a = &info->alloc[b];
        char name[16];
        snprintf(name, sizeof name, "%s%s", b == Backend_Arena ? "arena" : "malloc",
                 b == (int)info->backend ? " (on)" : "");
        if (a->frames)
            lines[n++] = line(t, "%-13s%8.4f%8.4f%8.4f", name, a->mean, a->median, a->max);
        else
            lines[n++] = line(t, "%-13s%8s%8s%8s", name, "-", "-", "-");
    }
    /* this frame's bytes so far in each worker's lane: its stack's top, or
     * on malloc what the lane got from it */
    size_t lane_min = SIZE_MAX, lane_max = 0;
    for (uint32_t l = 0; l < frame_arena_lanes(fa); l++) {
        size_t bytes = info->backend == Backend_Arena ? page_stack_stats(frame_arena_lane(fa, l, 0)).pos
                       : l < t->lanes ? transient_bytes(&t->lane[l].counts) : 0;
        lane_min = bytes < lane_min ? bytes : lane_min;
        lane_max = bytes > lane_max ? bytes : lane_max;
    }
    lines[n++] = line(t, "particles %u / %u  threads %u  lanes %.2f-%.2f MiB", info->particles, info->target,
                      info->threads, mib(lane_min), mib(lane_max));
    if (info->drawn < info->particles || info->batched || info->shed || info->held)
        lines[n++] = line(t, "short of frame memory: drawn %zu (%zu in batches)  held back %llu  shed %llu",
                          info->drawn, info->batched, (unsigned long long)info->held, (unsigned long long)info->shed);
    /* The last frame's allocations as its backend had them: the frame
     * arena's sample, or, on malloc, the blocks and their bytes (the arena
     * idle: its figures would read 0). */
    bool last_on_arena = info->last_backend == Backend_Arena;
    if (last_on_arena)
        lines[n++] = line(t, "last frame: used %.2f MiB  peak %.2f MiB  pushes %u", mib(st.last.used),
                          mib(st.last.peak), st.last.pushes);
    else
        lines[n++] = line(t, "last frame: malloc %.2f MiB in %u blocks (the arena idle)",
                          mib(transient_bytes(&info->last)), info->last.allocs);
    lines[n++] = line(t, "committed %.2f MiB  reserved %.0f MiB  all-time peak %.2f MiB", mib(st.committed),
                      mib(st.reserved), mib(st.peak_all_time));
    /* in red while the last frame had failures */
    uint32_t failed = last_on_arena ? st.last.failed_pushes : info->last.failed;
    int failed_line = failed ? n : -1;
    lines[n++] = line(t, "failed %s %u  trims %llu  over budget %llu", last_on_arena ? "pushes" : "mallocs", failed,
                      (unsigned long long)st.trims, (unsigned long long)st.budget_overruns);
    char in_place[48] = "";
    if (info->in_place)
        snprintf(in_place, sizeof in_place, "  in place %llu", (unsigned long long)info->in_place);
    lines[n++] = line(t, "scratch: peak %.2f MiB of %.0f MiB reserved (the fullest thread's)%s",
                      mib(info->scratch_peak), mib(info->scratch_reserved), in_place);
    uint64_t now = SDL_GetTicks64();
    if (!o->font && (!o->printed || now - o->last_print_ms >= 1000)) {
        o->last_print_ms = now;
        o->printed = true;
        for (int i = 0; i < n; i++)
            if (lines[i])
                printf("%s\n", lines[i]);
    }

    /* The graphs' values: bytes used per frame, with the budget line, and
     * what the frame arena had committed at each end (the trim policy, and
     * R, at work); frame times, with the red line at a frame's time at the
     * target rate. Their tops: a quarter above the budget, a tenth above
     * the most committed; a tenth above the red line and the slowest frame,
     * and at least 20 ms. */
    FrameSample *hist = transient_alloc(t, System_Overlay, OVERLAY_HISTORY * sizeof *hist, alignof(FrameSample));
    float *used = transient_alloc(t, System_Overlay, OVERLAY_HISTORY * sizeof *used, alignof(float));
    float *committed = transient_alloc(t, System_Overlay, OVERLAY_HISTORY * sizeof *committed, alignof(float));
    float *ms = transient_alloc(t, System_Overlay, OVERLAY_HISTORY * sizeof *ms, alignof(float));
    bool graphs = hist && used && committed && ms;
    uint32_t count = graphs ? (uint32_t)frame_arena_history(fa, hist, OVERLAY_HISTORY) : 0;
    float top = (float)budget * 1.25f;
    for (uint32_t i = 0; i < count; i++) {
        used[i] = (float)hist[i].used;
        committed[i] = (float)hist[i].committed; /* at least what any frame used */
        top = committed[i] * 1.1f > top ? committed[i] * 1.1f : top;
    }
    /* The frame-time graph's top: a tenth above the slowest frame shown, at
     * least 20 ms and a tenth above the red line, at most three frames at the
     * red line's time (or 20 ms). A slower frame, a hitch, is drawn just under
     * the top edge: a scale that took it in would squash every other frame,
     * and the red line, against the bottom edge until the hitch left the graph. */
    float mark = 1000.0f / (info->target_fps > 0 ? info->target_fps : 60.0f);
    float ms_top = mark * 1.1f > 20.0f ? mark * 1.1f : 20.0f;
    for (uint32_t i = 0; graphs && i < o->len; i++) {
        ms[i] = o->frame_ms[(o->head + OVERLAY_HISTORY - o->len + i) % OVERLAY_HISTORY];
        ms_top = ms[i] * 1.1f > ms_top ? ms[i] * 1.1f : ms_top;
    }
    float ms_cap = 3.0f * mark > 20.0f ? 3.0f * mark : 20.0f;
    ms_top = ms_top > ms_cap ? ms_cap : ms_top;

    /* The layout, in rows of text: the lines, each wrapped to the panel's
     * width (text from x 12 to 4 points inside its right edge); the bytes
     * graph's legend, in two rows where one is too narrow; the frame-time
     * graph's, wrapped. */
    int pw = panel_width(w), width = pw - 12, lh = o->line_height;
    Rows rows = {0}, time_legend = {0};
    for (int i = 0; i < n; i++)
        add_rows(o, t, &rows, lines[i], width, i == failed_line);
    const char *bytes_head = line(t, "MiB per frame, 0 to %.2f: ", mib((size_t)top));
    const char *bytes_tail = line(t, "; red: budget %.2f", mib(budget));
    bool bytes_wraps = bytes_head && bytes_tail &&
                       text_width(o, bytes_head, strlen(bytes_head)) + text_width(o, "used, committed", 15) +
                               text_width(o, bytes_tail, strlen(bytes_tail)) >
                           width;
    add_rows(o, t, &time_legend,
             line(t, "frame time, 0 to %.1f ms (red: %.1f ms, a frame at %.0f fps)", (double)ms_top, (double)mark,
                  1000.0 / (double)mark),
             width, false);
    int time_rows = time_legend.n > 0 ? time_legend.n : 1, legend_rows = 1 + bytes_wraps + time_rows;
    /* Each graph GRAPH_H high, or less in a window too short for two
     * (down to GRAPH_MIN_H): the rows of bytes per system come after them.
     * Where two do not fit above the line of keys even so, the bytes graph
     * alone takes the room left (up to GRAPH_H), and the frame-time graph
     * is left out with its legend; where not even one fits, both are. */
    int graph_h = (keys->top - 8 - (8 + rows.n * lh) - legend_rows * lh - 2 * 8) / 2;
    graph_h = graph_h > GRAPH_H ? GRAPH_H : graph_h < GRAPH_MIN_H ? GRAPH_MIN_H : graph_h;
    int lines_end = 8 + rows.n * lh, bytes_box = lines_end + (1 + bytes_wraps) * lh;
    int time_box = bytes_box + graph_h + 8 + time_rows * lh, limit = keys->top - 8;
    int shown_graphs = !graphs ? 0 : time_box + graph_h <= limit ? 2 : limit - bytes_box >= GRAPH_MIN_H ? 1 : 0;
    int bytes_h = shown_graphs == 1 ? (limit - bytes_box < GRAPH_H ? limit - bytes_box : GRAPH_H) : graph_h;
    int bars_top = time_box + graph_h + 16;
    int bar_rows = shown_graphs == 2 ? (limit - bars_top) / lh : 0;
    bar_rows = bar_rows < 0 ? 0 : bar_rows > System_Count ? System_Count : bar_rows;
    int shown = bar_rows < System_Count && bar_rows > 0 ? bar_rows - 1 : bar_rows;

    /* the panel's bottom edge 4 points below its last row of bars, or 8
     * below the last graph shown, or 4 below its lines: above the line of
     * keys, unless the lines alone are too tall for the window */
    int bottom = lines_end + 4;
    if (bar_rows > 0)
        bottom = bars_top + bar_rows * lh + 4;
    else if (shown_graphs > 0)
        bottom = (shown_graphs == 2 ? time_box + graph_h : bytes_box + bytes_h) + 8;
    SDL_Rect panel = {4, 4, pw, bottom - 4};
    SDL_RenderSetClipRect(r, &(SDL_Rect){panel.x, panel.y, pw, keys->top - panel.y});
    SDL_SetRenderDrawColor(r, 0, 0, 0, 170);
    SDL_RenderFillRect(r, &panel);
    draw_rows(o, r, &rows, 12, 8, white);
    if (shown_graphs >= 1) {
        int x = text(o, r, 12, lines_end, bytes_head, dim), y = bytes_box - lh;
        if (bytes_wraps)
            x = 12 + INDENT;
        x = text(o, r, x, y, "used", used_color);
        x = text(o, r, x, y, ", ", dim);
        x = text(o, r, x, y, "committed", committed_color);
        text(o, r, x, y, bytes_tail, dim);
        SDL_Rect box = {12, bytes_box, pw - 16, bytes_h};
        graph(r, t, box, used, count, top, (float)budget, used_color);
        graph_line(r, t, box, committed, count, top, committed_color);
        /* a red tick down from the top edge over each frame whose pushes failed */
        SDL_SetRenderDrawColor(r, mark_color.r, mark_color.g, mark_color.b, 255);
        for (uint32_t i = 0; i < count; i++)
            if (hist[i].failed_pushes) {
                float x = graph_x(box, count, i);
                SDL_RenderDrawLineF(r, x, (float)box.y + 1, x, (float)box.y + 6);
            }
    }
    if (shown_graphs == 2) {
        draw_rows(o, r, &time_legend, 12, bytes_box + graph_h + 8, dim);
        graph(r, t, (SDL_Rect){12, time_box, pw - 16, graph_h}, ms, o->len, ms_top, mark,
              (SDL_Color){140, 255, 120, 255});
    }

    /* this frame's bytes per system; in a window too short for every row,
     * the last row that fits says how many are left out */
    TransientCounts counts = transient_counts(t);
    size_t total = transient_bytes(&counts);
    if (shown < bar_rows)
        text(o, r, 12, bars_top + shown * lh, line(t, "(%d more systems in a taller window)", System_Count - shown),
             dim);
    for (int s = 0; s < shown; s++) {
        int by = bars_top + s * lh;
        int bw = total ? (int)((double)(pw - 200) * (double)counts.bytes[s] / (double)total) : 0;
        SDL_SetRenderDrawColor(r, (Uint8)(80 + 30 * s), (Uint8)(200 - 25 * s), 160, 255);
        SDL_RenderFillRect(r, &(SDL_Rect){190, by + 3, bw > 1 ? bw : 1, lh - 6});
        char *label = line(t, "%-9s %8.1f KiB", system_names[s], (double)counts.bytes[s] / 1024.0);
        if (label)
            text(o, r, 12, by, label, dim);
    }
    SDL_RenderSetClipRect(r, NULL);
}

void overlay_draw(Overlay *o, SDL_Renderer *r, Transient *t, FrameArena *fa, size_t budget, const OverlayInfo *info)
{
    /* In the window's own points, whatever size the scene is scaled to:
     * the text as sharp in any window, and the more room the bigger the
     * window. The scene's logical size is given back at the end. */
    int w = 0, h = 0, scene_w = 0, scene_h = 0, points_w = 0, points_h = 0;
    SDL_RenderGetLogicalSize(r, &scene_w, &scene_h);
    SDL_RenderSetLogicalSize(r, 0, 0);
    SDL_GetRendererOutputSize(r, &w, &h);
    SDL_Window *window = SDL_RenderGetWindow(r);
    if (window)
        SDL_GetWindowSize(window, &points_w, &points_h);
    float scale = points_w > 0 && w > points_w ? (float)w / (float)points_w : 1.0f;
    scale = scale > 4.0f ? 4.0f : scale;
    if (scale != o->scale) { /* the first frame on a high-DPI display, or a move to one of another scale */
        o->scale = scale;
        measure(o);
    }
    SDL_RenderSetScale(r, o->scale, o->scale);
    w = (int)((float)w / o->scale), h = (int)((float)h / o->scale);
    SDL_SetRenderDrawBlendMode(r, SDL_BLENDMODE_BLEND);
    KeyLine keys = key_line(o, t, w, h);
    if (info->show_stats)
        stats_panel(o, r, t, fa, budget, info, &keys, w);
    keys_and_help(o, r, t, info, &keys, info->show_stats ? 4 + panel_width(w) : 0, w, h);
    SDL_RenderSetLogicalSize(r, scene_w, scene_h);
}
