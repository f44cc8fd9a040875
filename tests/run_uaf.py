#!/usr/bin/env python3
"""Runs every uaf_case in its own process and reports TAP.

usage: run_uaf.py checked UAF_CASE      every case but the "unwritten" ones must be stopped:
                                        ASan report or SIGSEGV (ASan does not track which
                                        bytes were written)
       run_uaf.py alone UAF_CASE        the checked build without ASan: every case marked
                                        "alone" must be stopped by its one-line report;
                                        the others are not run
       run_uaf.py valgrind UAF_CASE     under memcheck, every case whose bytes are not
                                        handed out again, and every "unwritten" one, must
                                        be reported
       run_uaf.py msan UAF_CASE         a MemorySanitizer build: every "unwritten" case must
                                        be reported as a use of an uninitialised value; the
                                        others are not run (MSan does not see them)
"""
import os
import signal
import subprocess
import sys

mode, binary = sys.argv[1], sys.argv[2]
listing = subprocess.run([binary, "--list"], capture_output=True, text=True, check=True).stdout.split("\n")
cases = [line.split() for line in listing if line.strip()]
results = []
for fields in cases:
    name, reuse, alone = fields[0], "reuse" in fields[1:], "alone" in fields[1:]
    unwritten = "unwritten" in fields[1:]
    if (mode == "alone" and not alone) or (mode == "checked" and unwritten) or (mode == "msan" and not unwritten):
        continue
    if mode == "valgrind":
        if reuse and not unwritten:
            continue
        cmd = ["valgrind", "--quiet", "--error-exitcode=99", "--exit-on-first-error=yes", binary, name]
    else:
        cmd = [binary, name]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    rc = proc.returncode
    if mode == "valgrind":
        caught = rc == 99 or rc == -signal.SIGSEGV
        how = "memcheck error" if rc == 99 else "SIGSEGV" if rc == -signal.SIGSEGV else f"exit {rc}"
    elif mode == "msan":
        caught = rc != 0 and "MemorySanitizer: use-of-uninitialized-value" in proc.stderr
        how = "MSan report" if caught else f"exit {rc}"
    elif mode == "alone":
        lines = proc.stderr.splitlines()
        caught = rc == -signal.SIGABRT and len(lines) == 1 and lines[0].startswith("frame_arena: page_stack ")
        how = "its own report" if caught else f"exit {rc}"
    else:
        asan = rc == -signal.SIGABRT and "AddressSanitizer" in proc.stderr
        caught = asan or rc == -signal.SIGSEGV
        how = "ASan report" if asan else "SIGSEGV" if rc == -signal.SIGSEGV else f"exit {rc}"
    results.append((caught, f"{name}: {how}", proc.stdout + proc.stderr))

print("TAP version 13")
print(f"1..{len(results)}")
for i, (ok, name, out) in enumerate(results, 1):
    print(f"{'ok' if ok else 'not ok'} {i} - {name}")
    if not ok:
        for line in out.splitlines()[-15:]:
            print(f"  # {line}")
sys.exit(0 if results and all(ok for ok, _, _ in results) else 1)
