/* Replays the fuzz interpreter on sequences from a seeded PRNG, so any
 * compiler (gcc in the normal suite) exercises the same checks. TAP output.
 *
 *     fuzz_replay [COUNT [SEED]]      default 100000 sequences, seed 1
 */
#include "fuzz_ops.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static uint64_t state;
static volatile unsigned long current;

/* Names the failing sequence. The sequences share the interpreter's stacks, so
 * one is replayed with those before it: the same COUNT and SEED fail there again. */
static void on_crash(int sig)
{
    char line[96];
    int n = snprintf(line, sizeof line, "fuzz_replay: sequence %lu failed (signal %d)\n", current, sig);
    if (write(STDERR_FILENO, line, (size_t)n) < 0)
        _exit(3);
    signal(sig, SIG_DFL);
    raise(sig);
}

static uint64_t next(void)
{
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state;
}

int main(int argc, char **argv)
{
    unsigned long count = argc > 1 ? strtoul(argv[1], NULL, 10) : 100000;
    state = argc > 2 ? strtoull(argv[2], NULL, 10) : 1;
    state = state * 0x9E3779B97F4A7C15ull + 1;
    uint8_t buf[320];
    size_t ops = 0;
    signal(SIGABRT, on_crash);
    signal(SIGSEGV, on_crash);
    for (unsigned long i = 0; i < count; i++) {
        current = i + 1;
        size_t len = 1 + next() % sizeof buf;
        for (size_t k = 0; k < len; k++)
            buf[k] = (uint8_t)next();
        fuzz_ops_run(buf, len); /* aborts on a violation: the test fails with the reason */
        ops += len;
    }
    printf("TAP version 13\n1..1\nok 1 - %lu sequences (%zu bytes of operations) matched the model\n", count, ops);
    return 0;
}
