#!/usr/bin/env python3
"""Runs a program under valgrind's memcheck and fails on anything memcheck says.

usage: memcheck.py PROGRAM [ARGS...]

The program's stdout (TAP, say) is passed through. The run fails (exit 1)
when memcheck reports an error, and also when it prints a warning about the
engine's mempools ("Bad mempool": chunks that overlap), which valgrind does
not count as an error. Death checks that re-run the program run it natively.
"""
import subprocess
import sys

proc = subprocess.run(["valgrind", "--quiet", "--error-exitcode=99"] + sys.argv[1:], capture_output=True, text=True)
sys.stdout.write(proc.stdout)
sys.stderr.write(proc.stderr)
warned = [line for line in proc.stderr.splitlines() if "mempool" in line.lower()]
if proc.returncode != 0 or warned:
    why = f"memcheck: exit {proc.returncode}" + (f", {len(warned)} mempool warnings" if warned else "")
    print(why, file=sys.stderr)
    sys.exit(1)
