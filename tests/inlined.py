#!/usr/bin/env python3
"""Whether every inline push was inlined, from the symbols of compiled code.

usage: inlined.py LABEL=LIBRARY...

Each LIBRARY is tests/strict_warnings.c or .cpp (every inline function of
the headers called, every macro expanded, the C++ header's templates
instantiated) compiled at one optimisation level, named by LABEL. The
pushes are marked always inline (PAGE_STACK_INLINE and PAGE_STACK_CURSOR_FN
in engine/page_stack.h; in frame_arena.hpp, FRAME_ARENA_INLINE_ on the
Cursor's members and StackAllocator::allocate): a compiler that left one
out of line, as gcc does for a plain inline function at -O0 and -Os, emits
a copy of it, which `nm` lists as a symbol the object defines. One TAP line
per library.
"""
import re
import subprocess
import sys

# page_stack_* (C), and the C++ members named above, demangled; not
# page_stack_push_array_with, which page_stack.h leaves to the compiler.
OUT_OF_LINE = re.compile(r"^page_stack_(?!push_array_with\b)|::Cursor::(Cursor|~Cursor|push|try_push)|::StackAllocator<[^<>()]*>::allocate\(")

args = sys.argv[1:]
if not args or any("=" not in a for a in args):
    raise SystemExit(__doc__)
print("TAP version 13")
print(f"1..{len(args)}")
failed = 0
for n, arg in enumerate(args, 1):
    label, library = arg.split("=", 1)
    out = subprocess.run(["nm", "-C", "--defined-only", library], capture_output=True, text=True,
                         check=True).stdout
    names = [line.split(maxsplit=2)[2] for line in out.splitlines() if len(line.split(maxsplit=2)) == 3]
    copies = sorted({name for name in names if OUT_OF_LINE.search(name)})
    if copies:
        failed += 1
        print(f"not ok {n} - {label}: out-of-line copies of {'; '.join(copies)}")
    else:
        print(f"ok {n} - {label}: every inline push inlined")
sys.exit(1 if failed else 0)
