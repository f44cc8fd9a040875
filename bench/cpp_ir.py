#!/usr/bin/env python3
"""Instructions per frame of each cpp_bench competitor, under callgrind.

    python3 bench/cpp_ir.py build/bench/cpp_bench

For each workload and competitor it runs `cpp_bench --only NAME --workload W
--frames N` under `valgrind --tool=callgrind` with N = 50 and N = 150 and
prints (Ir(150) - Ir(50)) / 100: the instructions of one steady frame, the
program's start, its inputs and its first frames cancelled out. Instruction
counts do not move with the machine's load, as times do.
"""
import os
import re
import subprocess
import sys
import tempfile

COMPETITORS = ['stack_allocator', 'pmr_page_stack', 'pmr_monotonic', 'pmr_monotonic_buffer', 'std_allocator']
WORKLOADS = ['vectors', 'map', 'lists', 'objects']


def instructions(binary, name, workload, frames):
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, 'callgrind.out')
        subprocess.run(['valgrind', '--tool=callgrind', f'--callgrind-out-file={out}', binary, '--only', name,
                        '--workload', workload, '--frames', str(frames)],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        with open(out) as f:
            for line in f:
                m = re.match(r'(?:summary|totals):\s+(\d+)', line)
                if m:
                    return int(m.group(1))
    raise SystemExit(f'cpp_ir: no instruction total in the callgrind output of {name} {workload}')


def main():
    if len(sys.argv) != 2:
        raise SystemExit('usage: cpp_ir.py CPP_BENCH')
    binary = sys.argv[1]
    print('instructions per frame (callgrind: the difference of 150 and 50 frames, over 100)')
    print(f'  {"competitor":22} ' + ' '.join(f'{w:>12} {"ratio":>6}' for w in WORKLOADS))
    table = {w: {c: (instructions(binary, c, w, 150) - instructions(binary, c, w, 50)) / 100 for c in COMPETITORS}
             for w in WORKLOADS}
    for c in COMPETITORS:
        cells = [f'{table[w][c]:12,.0f} {table[w][c] / table[w][COMPETITORS[0]]:6.2f}' for w in WORKLOADS]
        print(f'  {c:22} ' + ' '.join(cells))


if __name__ == '__main__':
    main()
