/* A stand-in for Tracy's TracyC.h (Tracy is not packaged in Debian): the
 * macros frame_arena_tracy.h uses, recorded so a test can check the mapping. */
#ifndef TRACY_STUB_TRACYC_H
#define TRACY_STUB_TRACYC_H

#include <stddef.h>

void stub_tracy_alloc(const void *ptr, size_t size, const char *name);
void stub_tracy_free(const void *ptr, const char *name);
void stub_tracy_frame_mark(void);
void stub_tracy_plot(const char *name, double value);

#define TracyCAllocN(ptr, size, name) stub_tracy_alloc(ptr, size, name)
#define TracyCFreeN(ptr, name) stub_tracy_free(ptr, name)
#define TracyCFrameMark stub_tracy_frame_mark()
#define TracyCPlot(name, value) stub_tracy_plot(name, value)

#endif
