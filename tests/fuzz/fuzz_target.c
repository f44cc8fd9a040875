/* libFuzzer entry point (clang -fsanitize=fuzzer): see fuzz_ops.c. */
#include "fuzz_ops.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_ops_thorough(0);
    fuzz_ops_run(data, size);
    return 0;
}
