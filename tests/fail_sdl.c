/* Preloaded into the demo by tests/test_demo.py (LD_PRELOAD): SDL's and
 * SDL_ttf's setup calls, one of which fails as the library's own does when
 * FAIL_SDL names it (NULL or -1, and SDL_GetError gives FAIL_SDL_WHY's
 * text); the others, and every call when FAIL_SDL is unset, are the
 * library's. With --headless the demo runs on SDL's dummy driver and
 * software renderer, which never fail to start, so its setup's messages
 * for those failures run only through this.
 *
 * FAIL_SDL: SDL_Init, SDL_CreateWindow, SDL_CreateRenderer (every renderer
 * asked for), SDL_CreateRenderer_accelerated (only one asked for with
 * SDL_RENDERER_ACCELERATED: the demo then asks for the software one) or
 * TTF_Init. */
#define _GNU_SOURCE
#include <SDL.h>
#include <SDL_ttf.h>
#include <dlfcn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The library's function after this one. */
static void *next_symbol(const char *name)
{
    void *f = dlsym(RTLD_NEXT, name);
    if (!f) {
        fprintf(stderr, "fail_sdl: no %s after this one\n", name);
        abort();
    }
    return f;
}

/* Whether the call named `name` is to fail: then SDL's error is set. */
static bool fails(const char *name)
{
    const char *which = getenv("FAIL_SDL"), *why = getenv("FAIL_SDL_WHY");
    if (!which || strcmp(which, name) != 0)
        return false;
    SDL_SetError("%s", why ? why : "failed on purpose (tests/fail_sdl.c)");
    return true;
}

/* ISO C has no cast from an object pointer to a function's: each pointer
 * from dlsym is copied into one of the function's type. */
int SDL_Init(Uint32 flags)
{
    if (fails("SDL_Init"))
        return -1;
    void *f = next_symbol("SDL_Init");
    int (*next)(Uint32);
    memcpy(&next, &f, sizeof f);
    return next(flags);
}

SDL_Window *SDL_CreateWindow(const char *title, int x, int y, int w, int h, Uint32 flags)
{
    if (fails("SDL_CreateWindow"))
        return NULL;
    void *f = next_symbol("SDL_CreateWindow");
    SDL_Window *(*next)(const char *, int, int, int, int, Uint32);
    memcpy(&next, &f, sizeof f);
    return next(title, x, y, w, h, flags);
}

SDL_Renderer *SDL_CreateRenderer(SDL_Window *window, int index, Uint32 flags)
{
    if (fails("SDL_CreateRenderer") ||
        ((flags & SDL_RENDERER_ACCELERATED) && fails("SDL_CreateRenderer_accelerated")))
        return NULL;
    void *f = next_symbol("SDL_CreateRenderer");
    SDL_Renderer *(*next)(SDL_Window *, int, Uint32);
    memcpy(&next, &f, sizeof f);
    return next(window, index, flags);
}

int TTF_Init(void)
{
    if (fails("TTF_Init"))
        return -1;
    void *f = next_symbol("TTF_Init");
    int (*next)(void);
    memcpy(&next, &f, sizeof f);
    return next();
}
