#!/usr/bin/env python3
"""Runs every uaf_case in its own process and reports TAP.

usage: run_uaf.py MODE UAF_CASE

Each mode asserts one column of the table in docs/RELIABILITY.md ("Use
after frame"), both ways where it can: the cases the build must report are
reported, and the others run to their end unnoticed, so a report that has
nothing to do with the case (a false positive in the engine, say at the
stack's destroy) fails the run instead of passing for the case's. For the
same reason a sanitizer's or memcheck's report counts only when its first
frame is the case's own code in uaf_case.c, where the bad access is.

  checked   the checked build with ASan: every case but the "unwritten" ones
            must be stopped, by an ASan report or SIGSEGV (ASan does not
            track which bytes were written)
  asan      a plain ASan build: the cases whose bytes are not handed out
            again (not "reuse"), but the "unwritten" ones, must be stopped;
            the others must go unnoticed
  alone     the checked build without ASan: every case marked "alone" must
            be stopped by its one-line report; the others are not run
  valgrind  a plain build under memcheck: every case whose bytes are not
            handed out again, and every "unwritten" one, must be reported;
            the others must go unnoticed
  valgrind-checked  the checked build without ASan under memcheck: every
            case must be reported (its quarantine keeps released bytes
            inaccessible, and its redzones are never handed out)
  msan      a MemorySanitizer build: every "unwritten" case, and every read
            of bytes not handed out again (neither "reuse" nor "alone": a
            release leaves bytes uninitialised), must be reported as a use of
            an uninitialised value; the others must bring no MSan report (the
            touch past the reservation ends in SIGSEGV)
  msan-checked  the checked build with MemorySanitizer: every case must be
            stopped, each read by an MSan report (its quarantine keeps
            released bytes uninitialised, and it hands out no byte written),
            each write ("alone") by the checked build's one-line report
"""
import os
import re
import shlex
import signal
import subprocess
import sys
import tempfile

mode, binary = sys.argv[1], sys.argv[2]
# A cross build run under an emulator (tests/meson.build sets it from the
# cross file, as for engine_check) starts each case under it.
emulator = shlex.split(os.environ.get("ENGINE_CHECK_EMULATOR", ""))
listing = subprocess.run(emulator + [binary, "--list"], capture_output=True, text=True,
                         check=True).stdout.split("\n")
cases = [line.split() for line in listing if line.strip()]
results = []
# Memcheck runs with a temporary directory of its own, which must stay empty:
# valgrind makes its gdbserver's pipes there, and a run that ends at its
# first error (--exit-on-first-error) leaves them behind unless --vgdb=no.
scratch = tempfile.TemporaryDirectory(prefix="run_uaf-") if mode.startswith("valgrind") else None


def in_case(report):
    """Whether the first stack frame of the report is in uaf_case.c."""
    for line in report.splitlines():
        line = line.strip()
        if re.match(r"(==\d+==\s+)?(at 0x|#0 )", line):
            return "uaf_case.c:" in line
    return False


for fields in cases:
    name, reuse, alone = fields[0], "reuse" in fields[1:], "alone" in fields[1:]
    unwritten = "unwritten" in fields[1:]
    if (mode == "alone" and not alone) or (mode == "checked" and unwritten):
        continue
    if mode.startswith("valgrind"):
        # No chasing: valgrind otherwise translates a jump and the code it
        # jumps to as one block and may report an access there at the jump.
        # With -fstack-protector-strong (Debian's packaging flags) gcc puts a
        # case's bad store after the out-of-line push's jump back, and the
        # report named the inline push's line instead of the case's.
        cmd = ["valgrind", "--quiet", "--vgdb=no", "--error-exitcode=99", "--exit-on-first-error=yes",
               "--vex-guest-chase=no", binary, name]
    else:
        cmd = emulator + [binary, name]
    env = dict(os.environ, TMPDIR=scratch.name) if scratch else None
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    left = sorted(os.listdir(scratch.name)) if scratch else []
    for path in left:
        os.remove(os.path.join(scratch.name, path))
    rc = proc.returncode
    unnoticed = rc == 0 and f"uaf_case: {name} went unnoticed" in proc.stdout
    if mode.startswith("valgrind"):
        expected = mode == "valgrind-checked" or not reuse or unwritten
        stopped = rc == 99 and in_case(proc.stderr)
        how = "memcheck error" if stopped else "memcheck error outside the case" if rc == 99 else f"exit {rc}"
    elif mode == "alone" or (mode == "msan-checked" and alone):
        # qemu-user adds a line of its own when the program it runs aborts.
        lines = [line for line in proc.stderr.splitlines() if not line.startswith("qemu: uncaught target signal")]
        expected = True
        stopped = rc == -signal.SIGABRT and len(lines) == 1 and lines[0].startswith("frame_arena: page_stack ")
        how = "its own report" if stopped else f"exit {rc}"
    elif mode.startswith("msan"):
        expected = mode == "msan-checked" or unwritten or not (reuse or alone)
        stopped = rc != 0 and "MemorySanitizer: use-of-uninitialized-value" in proc.stderr and in_case(proc.stderr)
        how = "MSan report" if stopped else "SIGSEGV" if rc == -signal.SIGSEGV else f"exit {rc}"
        guard = rc == -signal.SIGSEGV or "MemorySanitizer: SEGV" in proc.stderr  # MSan's, without handle_segv=0
        if not expected and guard and "use-of-uninitialized-value" not in proc.stderr:
            unnoticed = True  # the guard page, not a report of MSan's own: the table's SIGSEGV
    else:
        expected = mode == "checked" or (not reuse and not unwritten)
        asan = rc == -signal.SIGABRT and "AddressSanitizer" in proc.stderr and in_case(proc.stderr)
        stopped = asan or rc == -signal.SIGSEGV
        how = "ASan report" if asan else "SIGSEGV" if rc == -signal.SIGSEGV else f"exit {rc}"
    ok = (stopped if expected else unnoticed) and not left
    results.append((ok, f"{name}: {how}" + ("" if expected else " (must go unnoticed)") +
                    (f", left {len(left)} files in TMPDIR" if left else ""),
                    proc.stdout + proc.stderr + "".join(f"left in TMPDIR: {path}\n" for path in left)))

print("TAP version 13")
print(f"1..{len(results)}")
for i, (ok, name, out) in enumerate(results, 1):
    print(f"{'ok' if ok else 'not ok'} {i} - {name}")
    if not ok:
        for line in out.splitlines()[-15:]:
            print(f"  # {line}")
sys.exit(0 if results and all(ok for ok, _, _ in results) else 1)
