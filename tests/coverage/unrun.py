#!/usr/bin/env python3
"""The engine's lines that no test ran, from a coverage build's gcov data.

    python3 tests/coverage/unrun.py BUILD_DIR
    python3 tests/coverage/unrun.py BUILD_DIR --expect LIST --build plain|checked

./dev coverage makes BUILD_DIR (gcc, -Db_coverage=true, abort() wrapped so
that the death tests write their counters too: gcov_on_abort.h), runs the
suite but its long, soak and fuzz suites, and then this. Every object file
of the build that compiled an engine file counts: a line is run if any test
program ran it.

With no --expect: prints each engine file with its count of lines and of
lines not run, then each line not run with its text, and exits 0.

With --expect (the suite's last test in a coverage build, `not_run`):
checks the lines not run against LIST (tests/coverage/not_run.txt, which
says why each is not run) and prints TAP, one test per engine file. A line
not run and not listed fails, and so does a listed line that a test ran or
that is not in the source any more: the list, and RELIABILITY's table made
from it, stay true.

A LIST entry is one line: BUILD FILE FUNCTION TEXT. BUILD is both, plain or
checked; FILE a file of engine/; FUNCTION the function the line is in, with
#N after it for the Nth line of that text in the function (#1 when left
out); TEXT the line with its indentation stripped. Blank lines and lines
starting with # are comments.
"""
import argparse
import collections
import gzip
import json
import os
import re
import subprocess
import sys
import tempfile

ENGINE = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'engine')
BUILDS = ('plain', 'checked')


def gcda_files(build):
    """The build's counts files. Not glob's **, which follows links to
    directories: a wine prefix in a build links to /."""
    found = []
    for root, _, files in os.walk(build):
        found += [os.path.join(root, f) for f in files if f.endswith('.gcda')]
    return sorted(found)


def gcov_runs(build):
    """{engine file: {line: most runs in any object}}"""
    runs = collections.defaultdict(dict)
    with tempfile.TemporaryDirectory() as out:
        for n, gcda in enumerate(gcda_files(build)):
            work = os.path.join(out, str(n))
            os.mkdir(work)
            subprocess.run(['gcov', '--json-format', '-o', os.path.dirname(gcda), gcda], cwd=work,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
            # gcov names a report after its object: `.._engine_os_vm.c` for
            # an engine file that a test target compiles itself, which a glob
            # of * would pass over as hidden.
            for report in sorted(f for f in os.listdir(work) if f.endswith('.gcov.json.gz')):
                with gzip.open(os.path.join(work, report)) as f:
                    for entry in json.load(f)['files']:
                        path = os.path.normpath(os.path.join(build, entry['file']))
                        if os.path.dirname(path) != os.path.normpath(ENGINE):
                            continue
                        lines = runs[os.path.basename(path)]
                        for line in entry['lines']:
                            number = line['line_number']
                            lines[number] = max(lines.get(number, 0), line['count'])
    return runs


def source(name):
    """The file's lines as written (the engine's style: a function's name and
    its braces start their lines)."""
    with open(os.path.join(ENGINE, name)) as f:
        return f.read().split('\n')


def functions_of(raw):
    """[(first line, last line, name)] of the file's function definitions, from
    the line that starts the definition to its closing brace. gcov's own
    function records leave out the lines of functions the compiler inlined
    everywhere, so the source is read instead."""
    spans = []
    for i, line in enumerate(raw):
        if line != '{':
            continue
        head = next((j for j in range(i - 1, -1, -1) if re.match(r'[A-Za-z_]', raw[j])), None)
        if head is None or '(' not in raw[head]:
            continue  # a struct or an initialiser
        close = next((j for j in range(i + 1, len(raw)) if raw[j].startswith('}')), len(raw) - 1)
        name = raw[head].split('(')[0].split()[-1].lstrip('*')
        spans.append((head + 1, close + 1, name))
    return spans


def key_of(name, number, raw, spans):
    """(file, function#N, text) for a line: N counts the lines of its text in its function."""
    text = raw[number - 1].strip()
    around = [span for span in spans if span[0] <= number <= span[1]]
    if not around:
        return (name, '-', text)
    first, _, function = around[0]
    nth = sum(1 for n in range(first, number + 1) if raw[n - 1].strip() == text)
    return (name, f'{function}#{nth}', text)


def read_list(path, build):
    """{(file, function#N, text): line of LIST} of the entries for this build; errors"""
    entries, errors = {}, []
    with open(path) as f:
        for at, line in enumerate(f, 1):
            line = line.strip()
            if not line or line.startswith('#'):
                continue
            fields = line.split(None, 3)
            if len(fields) != 4 or fields[0] not in BUILDS + ('both',):
                errors.append(f'{os.path.basename(path)}:{at}: not BUILD FILE FUNCTION TEXT: {line}')
                continue
            where, name, function, text = fields
            if '#' not in function:
                function += '#1'
            if where in ('both', build):
                entries[(name, function, text)] = at
    return entries, errors


def listing(runs):
    for name in sorted(runs):
        lines = runs[name]
        unrun = sorted(n for n, count in lines.items() if count == 0)
        print(f'engine/{name}: {len(lines)} lines, {len(unrun)} not run')
        raw = source(name)
        for n in unrun:
            print(f'  {n}: {raw[n - 1].strip()}')


def check(runs, expect, build):
    entries, errors = read_list(expect, build)
    names = sorted(set(runs) | {key[0] for key in entries})
    print('TAP version 13')
    print(f'1..{len(names) + 1}')
    print(('not ok' if errors else 'ok') + f' 1 - {os.path.basename(expect)} reads')
    for error in errors:
        print(f'# {error}')
    for i, name in enumerate(names, 2):
        lines = runs.get(name, {})
        raw = source(name) if os.path.exists(os.path.join(ENGINE, name)) else []
        spans = functions_of(raw)
        keys = {}
        for number, count in sorted(lines.items()):
            keys[key_of(name, number, raw, spans)] = (number, count)
        problems = []
        for key, (number, count) in sorted(keys.items(), key=lambda kv: kv[1][0]):
            if count == 0 and key not in entries:
                problems.append(f'{name}:{number}: no test runs it and the list does not say why:'
                                f' {build} {key[0]} {key[1]} {key[2]}')
        for key, at in sorted(entries.items(), key=lambda kv: kv[1]):
            if key[0] != name:
                continue
            if key not in keys:
                problems.append(f'{os.path.basename(expect)}:{at}: no such line in engine/{name}'
                                f' (the {build} build): {key[1]} {key[2]}')
            elif keys[key][1]:
                problems.append(f'{os.path.basename(expect)}:{at}: listed as not run, and a test runs'
                                f' it ({name}:{keys[key][0]}, {keys[key][1]} times): {key[1]} {key[2]}')
        unrun = sum(1 for number, count in lines.items() if count == 0)
        print(('not ok' if problems else 'ok') + f' {i} - engine/{name}: {len(lines)} lines, {unrun} not run')
        for problem in problems:
            print(f'# {problem}')
    return 0


def main(argv):
    parser = argparse.ArgumentParser(usage=__doc__.strip().split('\n\n')[1])
    parser.add_argument('build_dir')
    parser.add_argument('--expect')
    parser.add_argument('--build', choices=BUILDS)
    args = parser.parse_args(argv[1:])
    if bool(args.expect) != bool(args.build):
        parser.error('--expect and --build go together')
    runs = gcov_runs(os.path.abspath(args.build_dir))
    if not runs:
        print(f'unrun: no gcov data for engine/ under {args.build_dir}', file=sys.stderr)
        return 1
    if args.expect:
        return check(runs, args.expect, args.build)
    listing(runs)
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
