#!/usr/bin/env python3
"""Checks that Criterion runs every test a program defines.

    registered.py [--build-dir DIR] [--expect-missing SUITE/NAME] PROGRAM...

A program built with tests/test_list.h prints the tests it defines when
started with FRAME_ARENA_LIST_TESTS set; `PROGRAM --list` prints the tests
Criterion found. Each program is one TAP line: ok when the two lists are the
same, not ok naming every test only one of them has. With --expect-missing
(the proof in tests/meson.build) the program must define that test and
Criterion must not know it, as happens when link-time optimisation drops a
parameterized test's entry. With --build-dir, one more line checks that
every program the build's `criterion` suite runs is among the PROGRAMs, so
that a suite added later cannot go unchecked.
"""
import json
import os
import re
import subprocess
import sys


def run(args, env):
    done = subprocess.run(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=120)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} exited with {done.returncode}: {done.stderr.strip()[-300:]}")
    return done.stdout


def defined(program):
    env = dict(os.environ, FRAME_ARENA_LIST_TESTS="1")
    return set(line for line in run([program], env).splitlines() if line)


def registered(program):
    env = dict(os.environ)
    env.pop("FRAME_ARENA_LIST_TESTS", None)
    names, suite = set(), None
    for line in run([program, "--list"], env).splitlines():
        header = re.match(r"^(\S+): \d+ tests?$", line)
        if header:
            suite = header.group(1)
            continue
        entry = re.match(r"^\W*── (\S+)$", line)
        if entry and suite:
            names.add(f"{suite}/{entry.group(1)}")
    return names


def unchecked_suites(build_dir, programs):
    """The tests of the build's criterion suite whose program is not among programs."""
    with open(os.path.join(build_dir, "meson-info", "intro-tests.json")) as f:
        tests = json.load(f)
    given = {os.path.realpath(p) for p in programs}
    return sorted(t["name"] for t in tests
                  if any(s.split(":")[-1] == "criterion" for s in t["suite"])
                  and os.path.realpath(t["cmd"][0]) not in given)


def main(argv):
    expect_missing = build_dir = None
    while len(argv) >= 2 and argv[0] in ("--expect-missing", "--build-dir"):
        if argv[0] == "--expect-missing":
            expect_missing = argv[1]
        else:
            build_dir = argv[1]
        argv = argv[2:]
    if not argv:
        print("usage: registered.py [--build-dir DIR] [--expect-missing SUITE/NAME] PROGRAM...", file=sys.stderr)
        return 2
    print("TAP version 13")
    print(f"1..{len(argv) + (1 if build_dir else 0)}")
    failed = 0
    if build_dir:
        unchecked = unchecked_suites(build_dir, argv)
        if unchecked:
            print(f"not ok 1 - the criterion suite runs programs this check is not given: {', '.join(unchecked)} "
                  "(add them to criterion_programs in tests/meson.build)")
            failed += 1
        else:
            print("ok 1 - every program of the criterion suite is checked")
    for number, program in enumerate(argv, 2 if build_dir else 1):
        name = os.path.basename(program)
        try:
            mine, criterions = defined(program), registered(program)
        except (OSError, RuntimeError, subprocess.TimeoutExpired) as err:
            print(f"not ok {number} - {name}: {err}")
            failed += 1
            continue
        unknown = sorted(mine - criterions)
        unlisted = sorted(criterions - mine)
        problems = []
        if not mine:
            problems.append("lists no test of its own (does it include tests/test_list.h?)")
        if expect_missing:
            if expect_missing not in mine:
                problems.append(f"does not define {expect_missing}")
            if expect_missing in criterions:
                problems.append(f"Criterion knows {expect_missing}, which it was to lose")
            unknown = [t for t in unknown if t != expect_missing]
        if unknown:
            problems.append(f"{len(unknown)} defined test(s) Criterion does not know, and never runs: "
                            + ", ".join(unknown))
        if unlisted:
            problems.append(f"{len(unlisted)} test(s) Criterion knows that the list lacks: " + ", ".join(unlisted))
        if problems:
            print(f"not ok {number} - {name}: " + "; ".join(problems))
            failed += 1
        else:
            count = f"{len(criterions)} test" + ("" if len(criterions) == 1 else "s")
            if expect_missing:
                print(f"ok {number} - {name}: Criterion knows the other {count} it defines, and lost {expect_missing}")
            else:
                print(f"ok {number} - {name}: Criterion knows all {count} it defines")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
