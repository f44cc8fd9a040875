#!/usr/bin/env python3
"""The engine's lines that no test ran, from a coverage build's gcov data.

    python3 tests/coverage/unrun.py BUILD_DIR

./dev coverage makes BUILD_DIR (gcc, -Db_coverage=true, abort() wrapped so
that the death tests write their counters too: gcov_on_abort.h), runs the
suite but its long, soak and fuzz suites, and then this. Every object file
of the build that compiled an engine file counts: a line is run if any test
program ran it. Prints each engine file with its count of lines and of
lines not run, then each line not run with its text, and exits 0.
"""
import collections
import glob
import gzip
import json
import os
import subprocess
import sys
import tempfile

ENGINE = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'engine')


def main(argv):
    if len(argv) != 2:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    build = os.path.abspath(argv[1])
    runs = collections.defaultdict(dict)  # engine file -> line -> most runs in any object
    with tempfile.TemporaryDirectory() as out:
        for n, gcda in enumerate(sorted(glob.glob(os.path.join(build, '**', '*.gcda'), recursive=True))):
            work = os.path.join(out, str(n))
            os.mkdir(work)
            subprocess.run(['gcov', '--json-format', '-o', os.path.dirname(gcda), gcda], cwd=work,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
            for report in glob.glob(os.path.join(work, '*.gcov.json.gz')):
                with gzip.open(report) as f:
                    for entry in json.load(f)['files']:
                        path = os.path.normpath(os.path.join(build, entry['file']))
                        if os.path.dirname(path) != os.path.normpath(ENGINE):
                            continue
                        lines = runs[os.path.basename(path)]
                        for line in entry['lines']:
                            number = line['line_number']
                            lines[number] = max(lines.get(number, 0), line['count'])
    if not runs:
        print(f'unrun: no gcov data for engine/ under {build}', file=sys.stderr)
        return 1
    for name in sorted(runs):
        lines = runs[name]
        unrun = sorted(n for n, count in lines.items() if count == 0)
        print(f'engine/{name}: {len(lines)} lines, {len(unrun)} not run')
        with open(os.path.join(ENGINE, name)) as f:
            text = f.read().split('\n')
        for n in unrun:
            print(f'  {n}: {text[n - 1].strip()}')
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
