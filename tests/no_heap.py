#!/usr/bin/env python3
"""Whether the library calls the C heap: README says it never calls malloc
(its bookkeeping lives inside its own reservations).

usage: no_heap.py NM LIBRARY

Reads, with nm, the symbols each object of LIBRARY (the frame_arena target,
a static or a shared library) leaves undefined, and fails on any function
that takes memory from the C heap or gives it back, and on C++'s operator
new and delete. Whatever libc does inside the functions the library does
call is libc's own. TAP.
"""
import re
import subprocess
import sys

HEAP = {
    "malloc", "calloc", "realloc", "reallocarray", "free", "aligned_alloc", "posix_memalign", "memalign",
    "valloc", "pvalloc", "strdup", "strndup", "asprintf", "vasprintf", "fopen", "fopen64", "fdopen", "freopen",
    "tmpfile", "open_memstream", "getline", "getdelim", "realpath", "scandir", "backtrace_symbols",
}
# Itanium C++ ABI names of operator new, new[], delete and delete[], in every overload.
CXX_HEAP = re.compile(r"^_Z(nw|na|dl|da)")

if len(sys.argv) != 3:
    raise SystemExit(__doc__)
nm, library = sys.argv[1], sys.argv[2]
print("TAP version 13")
print("1..2")
listing = subprocess.run([nm, library], capture_output=True, text=True)
undefined, defined, member = [], set(), library
for line in listing.stdout.splitlines():
    if line.endswith(":"):  # an archive member's heading
        member = line[:-1]
        continue
    fields = line.split()
    if len(fields) == 2 and fields[0] == "U":
        undefined.append((member, fields[1].split("@")[0]))
    elif len(fields) == 3:
        defined.add(fields[2])
# A listing that read nothing would find nothing: the library's own
# create must be in it.
read = listing.returncode == 0 and "page_stack_create" in defined
print(f"{'ok' if read else 'not ok'} 1 - nm read {library}: page_stack_create defined, "
      f"{len({s for _, s in undefined})} symbols undefined")
if not read:
    for line in (listing.stderr or listing.stdout).splitlines()[:10]:
        print(f"  # {line}")
heap = sorted({f"{m}: {s}" for m, s in undefined if s in HEAP or CXX_HEAP.match(s)})
print(f"{'ok' if read and not heap else 'not ok'} 2 - no object of the library calls the C heap")
for line in heap:
    print(f"  # {line}")
sys.exit(0 if read and not heap else 1)
