/* The operation interpreter shared by the libFuzzer target and the replay. */
#ifndef FRAME_ARENA_FUZZ_OPS_H
#define FRAME_ARENA_FUZZ_OPS_H

#include <stddef.h>
#include <stdint.h>

/* Runs the operations encoded in data; aborts with a reason on a violation. */
void fuzz_ops_run(const uint8_t *data, size_t size);

/* 1 (default): every block checked whole every 16 operations and at the end;
 * 0: only the ends of each block after each operation, whole at the end of the
 * run (the fuzzer wants executions per second). */
void fuzz_ops_thorough(int on);

#endif
