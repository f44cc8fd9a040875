#!/usr/bin/env python3
"""Whether every push was inlined, or made a call to the library, from the
symbols of compiled code.

usage: inlined.py LABEL=HOW=LIBRARY...

Each LIBRARY is tests/strict_warnings.c or .cpp (every inline function of
the headers called, every macro expanded, the C++ header's templates
instantiated) compiled at one optimisation level, named by LABEL. The
pushes are marked always inline (PAGE_STACK_INLINE and PAGE_STACK_CURSOR_FN
in engine/page_stack.h; in frame_arena.hpp, FRAME_ARENA_INLINE_ on the
Cursor's members and StackAllocator::allocate): a compiler that left one
out of line, as gcc does for a plain inline function at -O0 and -Os, emits
a copy of it, which `nm` lists as a symbol the object defines. HOW says
what the pushes must be besides: `inline`, inlined whole, so that the
object calls none of the library's functions for unoptimised code
(page_stack_push_call and the others in CALLS); `calls`, calls to them
(PAGE_STACK_PUSH_CALL, the default at -O0), so that the object calls each.
An inlined push zeroes a small block of a constant size with stores (see
page_stack_zero_small): no `rep stos`, which gcc 12 makes of one memset of
more than 16 bytes at -Os, about six times the push's time. The objects
hold such pushes (push_struct of a 20-byte struct, push_zero of 64 bytes)
and nothing else that zeroes memory. One TAP line per library.
"""
import re
import subprocess
import sys

# page_stack_* (C), and the C++ members named above, demangled.
OUT_OF_LINE = re.compile(r"^page_stack_|::Cursor::(Cursor|~Cursor|push|try_push)|::StackAllocator<[^<>()]*>::allocate\(")
CALLS = ["page_stack_push_call", "page_stack_push_array_call", "page_stack_push_copy_call",
         "page_stack_cursor_push_call", "page_stack_cursor_push_array_call", "page_stack_cursor_push_copy_call",
         "page_stack_realloc_call"]


def symbols(library, *flags):
    out = subprocess.run(["nm", "-C", *flags, library], capture_output=True, text=True, check=True).stdout
    return {line.split()[-1] for line in out.splitlines() if line.split()}


def rep_stos(library):
    """The functions of LIBRARY that hold a `rep stos`."""
    out = subprocess.run(["objdump", "-d", "--no-show-raw-insn", library], capture_output=True, text=True,
                         check=True).stdout
    found, function = [], None
    for line in out.splitlines():
        head = re.match(r"^[0-9a-f]+ <(.*)>:$", line)
        if head:
            function = head.group(1)
        elif re.search(r"\brep stos", line) and function not in found:
            found.append(function)
    return found


args = sys.argv[1:]
# The label may hold "=" (a -D flag): HOW and LIBRARY are the last two fields.
if not args or any(a.count("=") < 2 or a.rsplit("=", 2)[1] not in ("inline", "calls") for a in args):
    raise SystemExit(__doc__)
print("TAP version 13")
print(f"1..{len(args)}")
failed = 0
for n, arg in enumerate(args, 1):
    label, how, library = arg.rsplit("=", 2)
    copies = sorted({name for name in symbols(library, "--defined-only") if OUT_OF_LINE.search(name)})
    called = symbols(library, "--undefined-only")
    wrong = [c for c in CALLS if (c in called) != (how == "calls")]
    problems = []
    if copies:
        problems.append(f"out-of-line copies of {'; '.join(copies)}")
    if wrong:
        problems.append(f"{'does not call' if how == 'calls' else 'calls'} {', '.join(wrong)}")
    if how == "inline":
        rep = rep_stos(library)
        if rep:
            problems.append(f"zeroes with rep stos in {', '.join(rep)}")
    if problems:
        failed += 1
        print(f"not ok {n} - {label}: {'; '.join(problems)}")
    elif how == "calls":
        print(f"ok {n} - {label}: every push a call to the library, no copy of one")
    else:
        print(f"ok {n} - {label}: every push inlined, no rep stos")
sys.exit(1 if failed else 0)
