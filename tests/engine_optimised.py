#!/usr/bin/env python3
"""Whether the engine library is compiled with the optimisation it should be.

usage: engine_optimised.py BUILD_DIR

In a build without optimisation (-Dbuildtype=debug), code calls the library
for every push (PAGE_STACK_PUSH_CALL in engine/page_stack.h), so
engine/meson.build compiles the library with -O2 there, unless
-Ddebug_engine=true; in any other build, with the build's own level. Reads
meson-info, which meson writes at configure time, and checks every source
of the library target `frame_arena`. One TAP line.
"""
import json
import os
import sys

if len(sys.argv) != 2:
    raise SystemExit(__doc__)
info = os.path.join(sys.argv[1], "meson-info")
options = {o["name"]: o["value"] for o in json.load(open(os.path.join(info, "intro-buildoptions.json")))}
level = options["optimization"]
want = "2" if level == "0" and not options["debug_engine"] else level
why = f"the build is -O{level}" + (", -Ddebug_engine=true" if level == "0" and options["debug_engine"] else "")
targets = [t for t in json.load(open(os.path.join(info, "intro-targets.json"))) if t["name"] == "frame_arena"]
print("TAP version 13")
print("1..1")
if not targets:
    print("not ok 1 - no target frame_arena in this build")
    sys.exit(1)
wrong = []
for target in targets:
    for group in target["target_sources"]:
        levels = [p[2:] for p in group["parameters"] if p.startswith("-O")]
        # The compiler takes the last -O it is given.
        if not levels or levels[-1] != want:
            wrong += [f"{os.path.basename(s)} at -O{levels[-1] if levels else '0 (none given)'}"
                      for s in group["sources"]]
if wrong:
    print(f"not ok 1 - the library should be -O{want} ({why}): {', '.join(wrong)}")
    sys.exit(1)
print(f"ok 1 - the library is compiled at -O{want} ({why})")
