#!/usr/bin/env python3
"""Static analysis: clang's analyzer over the library in the builds it ships in.

    python3 tests/analyze.py [--jobs N] [--all] [--tap]

Runs `clang --analyze` with its default checkers (core, unix, deadcode,
nullability, security, ...) and four more (EXTRA below) on:

- engine/frame_arena_unity.c, the whole library as one translation unit, so
  that a call from one engine file into another is followed, and with the
  functions of the engine's headers analysed on their own as well
  (-analyzer-opt-analyze-headers), in four builds: plain, checked, checked
  for 32-bit x86, and checked for Windows with MinGW-w64's headers; with
  --all in the engine's nine other builds too (MORE_BUILDS: as a compiler
  that is neither gcc nor clang sees it, plain and checked, with MSVC's
  branches, ASan's poisoning, MSan's, valgrind's client requests, 32-bit
  x86 plain, 64-bit ARM, Windows plain); and os_vm_posix.c as on the POSIX
  systems that are not Linux;
- the examples, C and C++ (frame_arena.hpp's wrappers), at -O2, where the
  pushes are inline, and at -O0, where they call the library, plain and
  checked;
- the benchmark's programs, whose figures docs/BENCHMARKS.md reports;
- the demo's files.

A warning in a file of this repository fails the run and is printed with
the analyzer's path to it; warnings in the compiler's or the system's
headers are counted, not ours to mend. First tests/analyze_proof.c, a
planted mistake, must be reported: a run whose flags analysed nothing would
fail there. Each build needs its headers (./dev analyze installs them); a
build whose headers are missing fails the run and names the package.

With --tap the report is TAP, one test for the planted mistake and one for
each analysis, the analyzer's paths as comments: .ci/run counts it.
"""
import os
import re
import shlex
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

LINUX = ["-D_FILE_OFFSET_BITS=64", "-pthread"]
CHECKED = ["-DFRAME_ARENA_CHECKED"]
I686 = ["-m32", "-idirafter", "/usr/include/x86_64-linux-gnu"]  # as tests/cross/linux-i686.txt
# Debian's cross headers, found without a cross compiler
AARCH64 = ["--target=aarch64-linux-gnu", "--sysroot=/usr/aarch64-linux-gnu"]
WINDOWS = ["--target=x86_64-w64-mingw32", "--sysroot=/usr/x86_64-w64-mingw32"]
# The engine as a compiler that is neither gcc nor clang sees it, and as
# MSVC does (tests/meson.build: the clang lane's _generic and _msc_branches
# programs)
GENERIC = ["-U__GNUC__", "-U__GNUC_MINOR__", "-U__GNUC_PATCHLEVEL__", "-U__clang__", "-U__SSE2__"]
MSC = ["-fms-extensions", "-D_MSC_VER=1939", "-Wno-language-extension-token"]
UNITY = "engine/frame_arena_unity.c"

# name, flags, a header the build needs, the package that has it[, the file].
# Each build whose code differs from another's by more than a few macros:
# plain and checked; the OS's other file (Windows) and 32 bits, each in the
# checked build.
BUILDS = [
    ("plain", LINUX, None, None),
    ("checked", LINUX + CHECKED, None, None),
    ("i686 checked", LINUX + I686 + CHECKED, "/usr/include/x86_64-linux-gnu/gnu/stubs-32.h", "libc6-dev-i386"),
    ("Windows checked", WINDOWS + CHECKED, "/usr/x86_64-w64-mingw32/include/windows.h", "mingw-w64-x86-64-dev"),
    # the POSIX file as on the systems that are not Linux (engine_check_posix_elsewhere)
    ("POSIX elsewhere", LINUX + ["-U__linux__"], None, None, "engine/os_vm_posix.c"),
]
# With --all, every other build the engine ships in as well. Their code is
# one of the builds above with a sanitizer's or valgrind's calls added
# (poisoning, MSan's marks, client requests), or another of them in the
# other of plain and checked, or with no SSE2 but gcc's builtins (ARM), or
# the branches of compilers that are neither gcc nor clang and MSVC's (which
# the clang lane compiles and runs: its _generic and _msc_branches
# programs): CI leaves them out (nine analyses of 15 to 40 s of CPU each).
# None of them has reported anything in the library: not in the first run,
# on 2026-12-05, nor in any CI run since, which ran all thirteen.
MORE_BUILDS = [
    ("generic", LINUX + GENERIC, None, None),
    ("MSVC branches", LINUX + GENERIC + MSC, None, None),
    ("ASan", LINUX + ["-fsanitize=address"], None, None),
    ("MSan", LINUX + ["-fsanitize=memory"], None, None),
    ("valgrind", LINUX + ["-DFRAME_ARENA_VALGRIND"], "/usr/include/valgrind/valgrind.h", "valgrind"),
    ("i686", LINUX + I686, "/usr/include/x86_64-linux-gnu/gnu/stubs-32.h", "libc6-dev-i386"),
    ("aarch64", LINUX + AARCH64, "/usr/aarch64-linux-gnu/include/stdio.h", "libc6-dev-arm64-cross"),
    ("Windows", WINDOWS, "/usr/x86_64-w64-mingw32/include/windows.h", "mingw-w64-x86-64-dev"),
    ("generic checked", LINUX + GENERIC + CHECKED, None, None),
]

# Beyond the defaults: a struct whose fields, reordered, would need more
# than 24 bytes less padding (the checker's default); C++ objects whose
# constructors leave a field uninitialised, and virtual calls from
# constructors and destructors; float loop counters.
EXTRA = "optin.performance.Padding,optin.cplusplus.UninitializedObject,optin.cplusplus.VirtualCall,security.FloatLoopCounter"
ANALYZE = ["--analyze", "-Xanalyzer", "-analyzer-output=text", "-Xanalyzer", f"-analyzer-checker={EXTRA}",
           "-o", os.devnull]
HEADERS = ["-Xanalyzer", "-analyzer-opt-analyze-headers"]


def pkg_cflags(*packages):
    r = subprocess.run(["pkg-config", "--cflags", *packages], capture_output=True, text=True)
    if r.returncode:
        return None
    return shlex.split(r.stdout)


def jobs(every_build):
    """(label, command, missing package or None) for every analysis."""
    out = []
    for name, flags, header, package, *source in BUILDS + (MORE_BUILDS if every_build else []):
        missing = package if header and not os.path.exists(header) else None
        src = source[0] if source else UNITY
        out.append((f"{name:16} {src}", ["clang", "-std=c11", "-O2", "-Iengine", *flags, *HEADERS, *ANALYZE, src],
                    missing))
    for opt in ("-O2", "-O0"):
        for name, flags in (("plain", LINUX), ("checked", LINUX + CHECKED)):
            for src, cc, std in (("examples/frame_loop.c", "clang", "-std=c11"),
                                 ("examples/job_lanes.c", "clang", "-std=c11"),
                                 ("examples/frame_loop.cpp", "clang++", "-std=c++17")):
                out.append((f"{name + ' ' + opt:16} {src}",
                            [cc, std, opt, "-Iengine", *flags, *HEADERS, *ANALYZE, src], None))
    for src, cc, std, packages in (("bench/frame_bench.c", "clang", "-std=c11", ()),
                                   ("bench/cpp_bench.cpp", "clang++", "-std=c++17", ()),
                                   ("bench/cjson_frame.c", "clang", "-std=c11", ("libcjson",))):
        flags = pkg_cflags(*packages) if packages else []
        out.append((f"{'plain':16} {src}", [cc, std, "-O2", "-Iengine", *LINUX, *(flags or []), *ANALYZE, src],
                    None if flags is not None else "libcjson-dev"))
    demo = pkg_cflags("sdl2", "SDL2_ttf", "cglm")
    for src in sorted(f for f in os.listdir("demo") if f.endswith(".c")):
        out.append((f"{'plain':16} demo/{src}",
                    ["clang", "-std=c11", "-O2", "-Iengine", "-Idemo", *LINUX, *(demo or []), *HEADERS, *ANALYZE,
                     f"demo/{src}"], None if demo is not None else "libsdl2-dev libsdl2-ttf-dev libcglm-dev"))
    return out


WARNING = re.compile(r"^(\S+?):\d+:\d+: warning: ", re.M)


def ours(path):
    """Whether a path the analyzer names is a file of this repository."""
    full = os.path.realpath(path)
    return full.startswith(os.getcwd() + os.sep) and not full.startswith(os.path.join(os.getcwd(), "build"))


def report(stderr):
    """The analyzer's output without the warnings (and their notes) in files not ours."""
    blocks, keep = [], False
    for line in stderr.splitlines():
        m = WARNING.match(line)
        if m:
            keep = ours(m.group(1))
        elif line.startswith("In file included from") or re.match(r"^\d+ warnings? generated", line):
            continue
        if keep:
            blocks.append(line)
    return "\n".join(blocks)


# The analyzer's memory is malloc's, several hundred MiB of it: with glibc's
# heap in transparent huge pages (where the kernel gives them on request, its
# `madvise` mode) it takes a fault every 2 MiB instead of every 4 KiB. The
# plain build's analysis alone, `/usr/bin/time` on a machine whose hypervisor
# makes each fault cost about 12 us: 123,508 faults and 19.8 s without,
# 5,470 and 14.2 s with.
ENV = dict(os.environ, GLIBC_TUNABLES=":".join(filter(None, [os.environ.get("GLIBC_TUNABLES"),
                                                             "glibc.malloc.hugetlb=1"])))


def analyze(cmd):
    start = time.monotonic()
    r = subprocess.run(cmd, capture_output=True, text=True, env=ENV)
    files = WARNING.findall(r.stderr)
    return r, [f for f in files if ours(f)], len([f for f in files if not ours(f)]), time.monotonic() - start


def main(argv):
    workers, tap, every_build = os.cpu_count() or 2, False, False
    args = list(argv)
    while args:
        if args[0] == "--jobs" and len(args) > 1 and args[1].isdigit():
            workers = int(args[1])
            del args[:2]
        elif args[0] == "--tap":
            tap = True
            del args[0]
        elif args[0] == "--all":
            every_build = True
            del args[0]
        else:
            sys.exit(__doc__)
    os.chdir(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    todo = jobs(every_build)
    number = 0

    def result(ok, label, details=""):
        nonlocal number
        number += 1
        if tap:
            print(f"{'ok' if ok else 'not ok'} {number} - {label}")
            print("".join(f"# {line}\n" for line in details.splitlines()), end="")
        else:
            print(f"{'ok    ' if ok else 'not ok'}  {label}" + (f"\n{details}" if details else ""))
        sys.stdout.flush()

    if tap:
        print(f"1..{len(todo) + 1}")
    proof, found, _, _ = analyze(["clang", "-std=c11", "-O2", "-Iengine", *LINUX, *ANALYZE, "tests/analyze_proof.c"])
    if proof.returncode or found != ["tests/analyze_proof.c"]:
        result(False, "the analyzer reports the planted mistake in tests/analyze_proof.c",
               "it did not, so its silence below would mean nothing:\n" + proof.stderr)
        return 1
    result(True, "the analyzer reports the planted mistake in tests/analyze_proof.c")

    failed = foreign = 0
    with ThreadPoolExecutor(max_workers=workers) as pool:
        runs = [(label, missing, None if missing else pool.submit(analyze, cmd)) for label, cmd, missing in todo]
        for label, missing, run in runs:
            if missing:
                failed += 1
                result(False, f"{label}: headers missing (apt-get install {missing})")
                continue
            r, found, others, seconds = run.result()
            foreign += others
            if r.returncode or found:
                failed += 1
                why = f"{len(found)} warnings" if found else f"clang exit status {r.returncode}"
                result(False, f"{label}: {why}", report(r.stderr) if found else r.stderr)
            else:
                result(True, f"{label} ({seconds:.1f} s)")
    print(("# " if tap else "") + f"{len(todo) - failed} analysed clean, {failed} failed"
          + (f"; {foreign} warnings in the compiler's or the system's headers, not counted" if foreign else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
