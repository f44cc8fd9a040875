/* The operation interpreter shared by the libFuzzer target and the replay. */
#ifndef FRAME_ARENA_FUZZ_OPS_H
#define FRAME_ARENA_FUZZ_OPS_H

#include <stddef.h>
#include <stdint.h>

/* Runs the operations encoded in data; aborts with a reason on a violation. */
void fuzz_ops_run(const uint8_t *data, size_t size);

#endif
