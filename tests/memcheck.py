#!/usr/bin/env python3
"""Runs a program under valgrind's memcheck and fails on anything memcheck says.

usage: memcheck.py [VALGRIND OPTIONS] PROGRAM [ARGS...]

The program's stdout (TAP, say) is passed through. The run fails (exit 1)
when memcheck reports an error, and also when it prints a warning about the
engine's mempools ("Bad mempool": chunks that overlap), which valgrind does
not count as an error. Death checks that re-run the program run it natively.

With --trace-children=yes (the Criterion suites, under `meson test --setup
memcheck`), valgrind follows every process the program starts and each
writes a log of its own, which is read here: Criterion runs each test in a
process of its own, sends that process's stderr nowhere when it speaks TAP,
and does not look at how the process exits once its test has passed. A
process with a memcheck error that was not killed by a signal fails the
test whose functions (Criterion's NAME_impl and NAME_jmp) memcheck's
report names: that test's "ok" line (for a parameterized test, one of its
lines per such process) becomes "not ok". A process that was (a death
test that faults or aborts on purpose) is not judged. An error no test can
be named for fails the run, and so does a mempool warning in any process.
"""
import glob
import os
import re
import subprocess
import sys
import tempfile


def fail(why):
    print(f"memcheck: {why}", file=sys.stderr)
    sys.exit(1)


def mempool_warnings(text):
    return [line for line in text.splitlines() if "mempool" in line.lower()]


def error_count(log):
    found = re.search(r"ERROR SUMMARY: (\d+) errors", log)
    return int(found[1]) if found else 0


def run_alone(options):
    proc = subprocess.run(["valgrind", "--quiet", "--error-exitcode=99"] + options, capture_output=True, text=True)
    sys.stdout.write(proc.stdout)
    sys.stderr.write(proc.stderr)
    warned = mempool_warnings(proc.stderr)
    if proc.returncode != 0 or warned:
        fail(f"exit {proc.returncode}" + (f", {len(warned)} mempool warnings" if warned else ""))


def run_traced(options):
    with tempfile.TemporaryDirectory(prefix="memcheck-") as logs:
        valgrind = ["valgrind", "--error-exitcode=99", "--num-callers=64", f"--log-file={logs}/%p.log"]
        proc = subprocess.run(valgrind + options, capture_output=True, text=True)
        reports = [open(path, errors="replace").read() for path in sorted(glob.glob(os.path.join(logs, "*.log")))]
    warned = [line for log in reports for line in mempool_warnings(log)]
    failing = [log for log in reports
               if error_count(log) > 0 and "Process terminating with default action of signal" not in log]
    lines = proc.stdout.splitlines(keepends=True)
    unnamed = 0
    for log in failing:
        sys.stderr.write(log)
        named = False
        for i, line in enumerate(lines):
            test = re.match(r"ok - (\w+)::(\w+)", line)
            # Criterion's trampoline for the test, _jmp, stays on the stack
            # when the test's body, _impl, tail-calls the code with the error.
            # A parameterized test has a line per case under one name: the
            # process is one case, so one of its lines that still says ok.
            if test and any(f"{test[1]}_{test[2]}_{part} " in log for part in ("impl", "jmp")):
                lines[i] = f"not ok - {test[1]}::{test[2]} # memcheck reported errors (on stderr)\n"
                named = True
                break
        unnamed += not named
    sys.stdout.write("".join(lines))
    sys.stderr.write(proc.stderr)
    if proc.returncode != 0 or failing or warned:
        fail(f"exit {proc.returncode}, {len(failing)} processes with errors ({unnamed} in no test), "
             f"{len(warned)} mempool warnings")


if "--trace-children=yes" in sys.argv[1:]:
    run_traced(sys.argv[1:])
else:
    run_alone(sys.argv[1:])
