/* overlay: the on-screen allocation stats (F1), the line of keys and the help (H).
 *
 * Text is drawn with SDL2_ttf, in DejaVu Sans Mono or the font --font names.
 * SDL2 has no built-in font, so when the font cannot be opened the overlay
 * still draws its panels and graphs, says so once, and prints its text lines
 * to stdout instead: at the first frame it is shown, then once a second. The
 * help it prints once each time H shows it.
 * Every string and point array it builds comes from the frame's transient
 * memory. The textures of the texts it draws are kept from frame to frame
 * (OVERLAY_TEXTS of them): only a text that was not drawn lately, a line
 * whose numbers changed, is rendered.
 */
#ifndef DEMO_OVERLAY_H
#define DEMO_OVERLAY_H

#include "transient.h"

#include <SDL.h>
#include <SDL_ttf.h>
#include <stdbool.h>

#define OVERLAY_HISTORY 240
#define OVERLAY_TEXTS 128
#define OVERLAY_TEXT_MAX 160 /* bytes of a line of text, its terminating 0 included */

/* A text as drawn: its texture, rendered once and drawn again in each frame
 * that has the same text in the same colour at the same font size. */
typedef struct OverlayText {
    char s[OVERLAY_TEXT_MAX];
    SDL_Color color;
    SDL_Texture *texture; /* NULL: a free entry */
    int w, h;             /* its pixels */
    uint64_t drawn;       /* the draw count when it was last drawn: the least recent is replaced */
} OverlayText;

/* The overlay is laid out in points: a window's size as SDL gives it. On a
 * high-DPI display a point is more than one of the renderer's pixels, and
 * the font is sized to the pixels, so the text is as sharp as the display. */
typedef struct Overlay {
    TTF_Font *font;
    int point_size;
    float scale; /* the renderer's pixels per point: 1 but on a high-DPI display */
    int line_height;
    int help_column, help_width; /* the help's key column and box, measured in the font at each scale */
    float frame_ms[OVERLAY_HISTORY]; /* ring, newest at head - 1 */
    uint32_t head, len;
    uint64_t last_print_ms;
    OverlayText texts[OVERLAY_TEXTS];
    uint64_t draws, renders; /* texts drawn, and those of them rendered (not in texts[]) */
    bool printed;      /* without a font: the text has been printed once */
    bool help_printed; /* without a font: the help, since H last showed it */
} Overlay;

/* A backend's time spent allocating a frame, in ms, over the last frames
 * that ran on it alone (up to 60 of them; none before the first). */
typedef struct AllocWindow {
    uint32_t frames;
    double mean, median, max;
} AllocWindow;

typedef struct OverlayInfo {
    uint64_t frame;
    float fps, frame_ms, sim_ms;
    AllocWindow alloc[Backend_Count];
    float target_fps; /* the frame-time graph's red line is a frame at this rate */
    uint32_t particles, target, threads;
    size_t drawn, batched; /* this frame: the particles drawn, and those of them drawn in batches from lane 0 */
    uint64_t shed, held;  /* this frame: the particles the update left out for want of frame memory (sim.h) */
    size_t scratch_peak, scratch_reserved; /* the particle update's scratch: highest top of any thread's, reserved */
    uint64_t in_place; /* this frame: parts of the update their thread's scratch could not hold (sim.h) */
    Backend backend;
    Backend last_backend; /* the one the last ended frame ran on (F2 may have switched since) */
    TransientCounts last; /* the last ended frame's allocations, summed over the lanes; zeroed before the first */
    bool paused, vsync, show_stats, show_help;
} OverlayInfo;

/* font_path NULL: DejaVu Sans Mono, where Linux distributions install it. */
void overlay_init(Overlay *o, const char *font_path, int point_size);
void overlay_record(Overlay *o, float frame_ms);
/* Draws in the window's points, not the scene's: a renderer's logical size is
 * set aside while it draws, and set again after. The line of keys, the
 * help and the stats panel's lines wrap to the window's width, the panel
 * narrows to it, its graphs are lower in a short window, and what is too
 * tall for the window stops above the line of keys. */
void overlay_draw(Overlay *o, SDL_Renderer *r, Transient *t, FrameArena *fa, size_t budget, const OverlayInfo *info);
void overlay_shutdown(Overlay *o);

#endif
