/* Included into every C and C++ file of a coverage build (./dev coverage): the
 * engine's fatal lines end in abort(), which leaves without writing gcov's
 * counters, so the death tests would count for nothing. Linked with
 * -Wl,--wrap=abort, every call to abort() comes here first and writes them.
 * Weak: each file defines it, the linker keeps one. */
#ifndef FRAME_ARENA_GCOV_ON_ABORT_H
#define FRAME_ARENA_GCOV_ON_ABORT_H
#ifdef __cplusplus
extern "C" {
#endif

void __gcov_dump(void);
__attribute__((noreturn)) void __real_abort(void);
__attribute__((weak, noreturn)) void __wrap_abort(void);

__attribute__((weak, noreturn)) void __wrap_abort(void)
{
    __gcov_dump();
    __real_abort();
}

#ifdef __cplusplus
}
#endif
#endif
