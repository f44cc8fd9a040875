#!/usr/bin/env python3
"""Proves that the memcheck setup fails what it must, and only that. TAP.

usage: memcheck_proof.py MEMCHECK_PY PROOF_PROGRAM

Runs tests/memcheck_proof.c's Criterion program through tests/memcheck.py
with --trace-children=yes, as `meson test --setup memcheck` runs the
suites, and checks each test's line: the two that read bytes memcheck
holds unwritten or released must become "not ok", and the others (the same
read with memcheck's reports off, a death test that faults on purpose, a
clean one) stay "ok"; the run must exit 1. It also runs the program
natively, where every test passes.
"""
import re
import subprocess
import sys

memcheck, program = sys.argv[1:3]
verdicts = {
    "branches_on_unwritten_bytes": "not ok",
    "reads_a_released_block": "not ok",
    "reads_a_released_block_quietly": "ok",
    "faults_on_purpose": "ok",
    "writes_then_reads": "ok",
}
checks = []

native = subprocess.run([program, "--tap=-", "--jobs=1"], capture_output=True, text=True)
checks.append((native.returncode == 0, f"natively every test passes (exit {native.returncode})"))

proc = subprocess.run([sys.executable, memcheck, "--trace-children=yes", "--leak-check=no", program, "--tap=-",
                       "--jobs=1"], capture_output=True, text=True)
lines = {name: verdict for verdict, name in re.findall(r"^(not ok|ok) - proof::(\w+)", proc.stdout, re.M)}
for name, want in verdicts.items():
    got = lines.get(name, "missing")
    checks.append((got == want, f"under memcheck, {name}: {want} (got {got})"))
checks.append((proc.returncode == 1, f"under memcheck the run exits 1 (exit {proc.returncode})"))

print(f"1..{len(checks)}")
for i, (ok, what) in enumerate(checks, 1):
    print(f"{'ok' if ok else 'not ok'} {i} - {what}")
if not all(ok for ok, _ in checks):
    sys.stdout.write(proc.stdout)
    sys.stderr.write(proc.stderr)
    sys.exit(1)
