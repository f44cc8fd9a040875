#!/usr/bin/env python3
"""Whether every inline push was inlined, from the symbols of compiled code.

usage: inlined.py LABEL=LIBRARY...

Each LIBRARY is tests/strict_warnings.c (every inline function of the
headers called, every macro expanded) compiled at one optimisation level,
named by LABEL. The pushes are marked always inline (PAGE_STACK_INLINE and
PAGE_STACK_CURSOR_FN in engine/page_stack.h): a compiler that left one out
of line, as gcc does for plain `static inline` at -O0 and -Os, emits a
local copy of it, which `nm` lists as a defined symbol of the object. One
TAP line per library.
"""
import subprocess
import sys

args = sys.argv[1:]
if not args or any("=" not in a for a in args):
    raise SystemExit(__doc__)
print("TAP version 13")
print(f"1..{len(args)}")
failed = 0
for n, arg in enumerate(args, 1):
    label, library = arg.split("=", 1)
    out = subprocess.run(["nm", "--defined-only", library], capture_output=True, text=True, check=True).stdout
    copies = sorted({line.split()[-1] for line in out.splitlines()
                     if len(line.split()) == 3 and line.split()[-1].startswith("page_stack_")})
    if copies:
        failed += 1
        print(f"not ok {n} - {label}: out-of-line copies of {', '.join(copies)}")
    else:
        print(f"ok {n} - {label}: every page_stack_ inline function inlined")
sys.exit(1 if failed else 0)
