/* Preloaded into the demo by tests/test_demo.py (LD_PRELOAD): an SDL_Init
 * that fails as SDL's does when it cannot start its video (it returns -1,
 * and SDL_GetError gives the reason, FAIL_SDL_INIT's text). With --headless
 * the demo runs on SDL's dummy driver, which never fails to start, so its
 * message for that failure is run only through this. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int SDL_Init(uint32_t flags); /* SDL.h's, Uint32 being uint32_t */

int SDL_Init(uint32_t flags)
{
    (void)flags;
    void *next = dlsym(RTLD_NEXT, "SDL_SetError");
    const char *why = getenv("FAIL_SDL_INIT");
    if (!next || !why) {
        fprintf(stderr, "fail_sdl_init: %s\n", why ? "no SDL_SetError after this one" : "FAIL_SDL_INIT unset");
        abort();
    }
    int (*set_error)(const char *, ...);
    memcpy(&set_error, &next, sizeof next); /* ISO C has no cast from an object pointer to a function's */
    set_error("%s", why);
    return -1;
}
