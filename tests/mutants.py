#!/usr/bin/env python3
"""Mutation sweep: which small changes to a source file the tests let through.

    python3 tests/mutants.py [--checked | --windows] FILE [FIRST LAST]

Takes the committed tree (HEAD) into build-mutants/plain/ or
build-mutants/checked/ (-Dchecked=true, no sanitizer), then, for each code
line of FILE from FIRST to LAST, makes one mutant per place an operator can
change: < and <=, > and >=, == and != swapped, && and || swapped, + 1 and - 1
turned into + 0 and - 0, a ! dropped. Each mutant is built (-Dwerror=true, as
the lanes build) and run against every Criterion test program,
engine_check and the fuzz replay (40,000 sequences, 10,000 in the checked
build, as the suite runs it); a mutant that builds and passes them all is
printed as SURVIVED. Comments, preprocessor lines and fatal messages are left alone.

In the plain build the sweep also builds the benchmark, and runs its
deterministic subset (meson's suite 'bench', as the gcc lane does: the
instruction counts under callgrind where valgrind is installed, page faults
and committed bytes) against each mutant the tests let through: a change
that only costs time, such as a push sent out of line, fails those checks
and is counted as caught by them. The unchanged tree must pass them first;
where it does not (no valgrind, or a machine whose counts differ), the
sweep says so and goes on without them.

--windows (build-mutants/windows/) cross-builds with MinGW-w64 instead, as
./dev test-windows does, for os_vm_win32.c and the Windows branches, and
runs the tests that lane runs under wine but its CMake build: engine_check,
engine_check_unity, reload, the examples and the fuzz replay.

A survivor is not always a gap: code that the build compiles out (the
checked build's branches in a plain sweep), bounds that no input reaches,
and changes that only cost time survive too. Read each one. ./dev mutate and
./dev mutate-checked run this (./dev mutate-windows with --windows); a
sweep of a few hundred lines takes minutes, under wine some more.
"""
import os
import re
import shutil
import subprocess
import sys

SWAPS = [(r" < ", " <= "), (r" <= ", " < "), (r" > ", " >= "), (r" >= ", " > "), (r" == ", " != "),
         (r" != ", " == "), (r"&&", "||"), (r"\|\|", "&&"), (r" \+ 1\b", " + 0"), (r" - 1\b", " - 0"),
         (r"!(?=[A-Za-z_(])", "")]


def skipped(line):
    s = line.strip()
    return (not s or s.startswith(("/*", "*", "//", "#", '"')) or "os_vm_fatal" in line)


def in_string(code, at):
    return code[:at].count('"') % 2 == 1


def main(argv):
    checked = "--checked" in argv
    windows = "--windows" in argv
    args = [a for a in argv if a not in ("--checked", "--windows")]
    if len(args) not in (1, 3):
        sys.exit(__doc__)
    path = args[0]
    repo = subprocess.run(["git", "rev-parse", "--show-toplevel"], capture_output=True, text=True,
                          check=True).stdout.strip()
    work = os.path.join(repo, "build-mutants", "windows" if windows else "checked" if checked else "plain")
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    archive = subprocess.run(["git", "-C", repo, "archive", "HEAD"], capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", work], input=archive, check=True)
    build = os.path.join(work, "b")
    counts = not checked and not windows
    options = ["-Dwerror=true", "-Ddemo=false", "-Dbench=" + ("true" if counts else "false"),
               "--wrap-mode=nofallback"]
    if checked:
        options.append("-Dchecked=true")
    if windows:
        options.append("--cross-file=" + os.path.join(work, "tests", "cross", "mingw-w64-x86_64.txt"))
        # a prefix of the sweep's own, quiet; one wine server for the whole sweep
        os.environ.update(WINEPREFIX=os.path.join(work, "wineprefix"), WINEDEBUG="-all",
                          WINEDLLOVERRIDES="mscoree,mshtml=")
        quiet = dict(stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        subprocess.run(["wineboot", "--init"], **quiet)  # not captured: the server it starts keeps a pipe open
        subprocess.run(["wineserver", "--wait"], **quiet)
        subprocess.run(["wineserver", "--persistent"], **quiet)
    subprocess.run(["meson", "setup", build, work] + options, capture_output=True, check=True)
    subprocess.run(["ninja", "-C", build], capture_output=True, check=True)
    if windows:
        tests = [["meson", "test", "-C", build, "--no-rebuild", "engine_check", "engine_check_unity", "reload",
                  "example_frame_loop", "example_job_lanes", "fuzz_replay"]]
    else:
        tests = sorted([os.path.join(build, "tests", t)] for t in os.listdir(os.path.join(build, "tests"))
                       if (t.startswith("test_") or t == "engine_check") and "." not in t)
        # the fuzz replay, with as many sequences as the lane's suite runs
        tests.append([os.path.join(build, "tests", "fuzz_replay"), "10000" if checked else "40000"])
    # Each mutant builds what the tests run; the benchmark only for a survivor.
    targets = None if windows else [os.path.relpath(t[0], build) for t in tests]
    bench = ["meson", "test", "-C", build, "--suite", "bench", "--num-processes", "2"]
    if counts and subprocess.run(bench, capture_output=True).returncode != 0:
        counts = False
        print("the unchanged tree fails the benchmark's checks here (meson test --suite bench): "
              "survivors are not run against them", flush=True)

    source = os.path.join(work, path)
    original = open(source).read()
    lines = original.split("\n")
    first, last = (int(args[1]), int(args[2])) if len(args) == 3 else (1, len(lines))
    made = survived = unbuilt = counted = 0
    try:
        for i in range(first - 1, min(last, len(lines))):
            if skipped(lines[i]):
                continue
            code = lines[i].split("/*")[0]
            for pattern, replacement in SWAPS:
                for m in re.finditer(pattern, code):
                    if in_string(code, m.start()):
                        continue
                    mutated = code[:m.start()] + replacement + code[m.end():] + lines[i][len(code):]
                    open(source, "w").write("\n".join(lines[:i] + [mutated] + lines[i + 1:]))
                    made += 1
                    if subprocess.run(["ninja", "-C", build] + (targets or []), capture_output=True).returncode != 0:
                        unbuilt += 1
                        continue
                    caught = False
                    for t in tests:
                        try:
                            r = subprocess.run(t, capture_output=True, timeout=300, cwd=build)
                        except subprocess.TimeoutExpired:
                            caught = True
                            break
                        if r.returncode != 0:
                            caught = True
                            break
                    if not caught and counts:
                        if subprocess.run(["ninja", "-C", build], capture_output=True).returncode != 0:
                            unbuilt += 1  # a benchmark's build, at another level, that -Werror stops
                            continue
                        if subprocess.run(bench + ["--no-rebuild"], capture_output=True).returncode != 0:
                            counted += 1
                            print(f"caught by the benchmark's checks {path}:{i + 1}: {mutated.strip()}", flush=True)
                            continue
                    if not caught:
                        survived += 1
                        print(f"SURVIVED {path}:{i + 1}: {mutated.strip()}", flush=True)
    finally:
        open(source, "w").write(original)
        if windows:
            subprocess.run(["wineserver", "--kill"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    kind = "Windows" if windows else "checked" if checked else "plain"
    print(f"{made} mutants of {path}:{first}-{last} ({kind} build): "
          f"{made - survived - unbuilt - counted} caught by the tests, {unbuilt} by the compiler, "
          + (f"{counted} by the benchmark's checks, " if counts else "") + f"{survived} survived")


if __name__ == "__main__":
    main(sys.argv[1:])
