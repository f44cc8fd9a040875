/* Preloaded into the demo by tests/test_demo.py (LD_PRELOAD): an
 * aligned_alloc that refuses, as malloc does when it has no memory (NULL,
 * errno ENOMEM), every block of more than FAIL_ALIGNED_ALLOC_ABOVE bytes, and
 * hands every other to the C library's. The demo's malloc backend is the
 * only caller of aligned_alloc in the process (no library the demo links
 * imports it: SDL, SDL_ttf and FreeType call malloc), so its buffers, and
 * only they, can be made to fail. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void *(*next_aligned_alloc)(size_t, size_t);
static size_t above = SIZE_MAX;

__attribute__((constructor)) static void set_up(void)
{
    void *next = dlsym(RTLD_NEXT, "aligned_alloc");
    memcpy(&next_aligned_alloc, &next, sizeof next); /* ISO C has no cast from an object pointer to a function's */
    const char *v = getenv("FAIL_ALIGNED_ALLOC_ABOVE");
    if (!next_aligned_alloc || !v) {
        fprintf(stderr, "fail_aligned_alloc: %s\n",
                v ? "no aligned_alloc after this one" : "FAIL_ALIGNED_ALLOC_ABOVE unset");
        abort();
    }
    above = (size_t)strtoull(v, NULL, 10);
}

void *aligned_alloc(size_t align, size_t size)
{
    if (size > above) {
        errno = ENOMEM;
        return NULL;
    }
    return next_aligned_alloc(align, size);
}
