/* The whole library as one translation unit, for games that copy engine/
 * into their tree: compile this file alone instead of the six, and it takes
 * the OS's file itself (Windows or POSIX).
 *
 *     cc -std=c11 -O2 -Iengine game.c engine/frame_arena_unity.c
 *
 * Define FRAME_ARENA_CHECKED for the checked build, for this file and for
 * the game's files alike. Do not compile the other engine files as well:
 * they are all in here. */
#if defined(_WIN32)
#include "os_vm.c" /* first: its stdio setting for MinGW must come before any header */
#include "os_vm_win32.c"
#else
#include "os_vm_posix.c" /* first: its _DEFAULT_SOURCE must come before any header */
#include "os_vm.c"
#endif
#include "page_stack.c"
#include "frame_arena.c"
#include "scratch.c"
#include "allocator.c"
