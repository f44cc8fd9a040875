#!/usr/bin/env python3
"""Instructions per frame of each cpp_bench competitor, under callgrind.

    python3 bench/cpp_ir.py build/bench/cpp_bench
    python3 bench/cpp_ir.py --tap --compiler gcc|clang build/bench/cpp_bench

For each workload and competitor it runs `cpp_bench --only NAME --workload W
--warm 50 --frames 100` under `valgrind --tool=callgrind --collect-atstart=no`,
which counts only the 100 frames after the 50 (cpp_bench turns callgrind's
collection on and off around them), and prints that count over 100: the
instructions of one steady frame, without the program's start, its inputs
and its first frames. Instruction counts do not move with the machine's
load, as times do.

With --tap it counts stack_allocator and std_allocator only, 20 frames after
10 (every steady frame runs the same instructions), and prints as TAP the
checks of CEILINGS and BELOW_STD for the compiler that built CPP_BENCH: the
test bench_cpp_instructions.
"""
import os
import re
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor

from ir import without_malloc_perturb  # bench/ir.py, beside this file

COMPETITORS = ['stack_allocator', 'pmr_page_stack', 'pmr_monotonic', 'pmr_monotonic_buffer', 'std_allocator']
WORKLOADS = ['vectors', 'map', 'lists', 'objects', 'arrays']

# Instructions a frame of StackAllocator's containers and of push_new's objects and push_new_array's arrays, at
# most, per compiler at -O2 (the builds of CI's gcc and clang lanes, libstdc++ 12). The counts of 2026-12-05 and 2
# to 3 per cent more: gcc 681,308 / 685,146 / 860,984 / 510,093 / 378,092 (with the JCC padding of
# bench/meson.build, which clang's builds do not use, 683,124 / 688,204 / 860,985 / 520,093 / 380,092), clang
# 584,496 / 968,745 / 861,099 / 520,098 / 238,099. What each ceiling catches: StackAllocator's deallocate calling
# the library for every block, as before its inline test, gcc 716,924 / 728,826 / 1,240,959 and clang 611,816 /
# 1,011,739 / 1,261,179; push_new pushing the object and its record separately, 620,092 (gcc) and 620,097
# (clang); the record registered by the library, 620,092 (gcc); push_new_array pushing the array and its record
# separately, 400,091 (gcc) and 246,099 (clang).
CEILINGS = {
    'gcc': {'vectors': 700_000, 'map': 705_000, 'lists': 885_000, 'objects': 535_000, 'arrays': 390_000},
    'clang': {'vectors': 600_000, 'map': 995_000, 'lists': 885_000, 'objects': 535_000, 'arrays': 244_000},
}
WHAT = {
    'vectors': 'vectors grown by push_back on StackAllocator',
    'map': 'a std::map on StackAllocator',
    'lists': 'std::lists on StackAllocator',
    'objects': 'objects with destructors made by push_new, the destructors run by the reset',
    'arrays': 'arrays of objects with destructors made by push_new_array, the destructors run by the reset',
}
# Where the frame's allocations are most of its work, below std::allocator (operator new over the C library's
# malloc). Not the vectors: libstdc++ moves a growing vector's elements with one memmove only for std::allocator.
BELOW_STD = ['map', 'lists', 'objects', 'arrays']


def instructions(binary, name, workload, warm, frames):
    """The instructions of the frames after the warm ones, one callgrind run."""
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, 'callgrind.out')
        subprocess.run(['valgrind', '--tool=callgrind', '--collect-atstart=no', f'--callgrind-out-file={out}', binary,
                        '--only', name, '--workload', workload, '--warm', str(warm), '--frames', str(frames)],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       env=without_malloc_perturb(os.environ))
        with open(out) as f:
            for line in f:
                m = re.match(r'(?:summary|totals):\s+(\d+)', line)
                if m and int(m.group(1)) > 0:
                    return int(m.group(1))
    raise SystemExit(f'cpp_ir: no instructions counted in the callgrind output of {name} {workload} (a cpp_bench '
                     'built without valgrind/callgrind.h cannot turn the collection on)')


def per_frame_table(binary, competitors, warm, frames):
    """{workload: {competitor: instructions a frame}}, with as many callgrind
    runs at a time as there are cores: each is a process of its own, whose
    count does not depend on what runs beside it."""
    runs = [(c, w) for w in WORKLOADS for c in competitors]
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        counts = dict(zip(runs, pool.map(lambda run: instructions(binary, *run, warm, frames), runs)))
    return {w: {c: counts[c, w] / frames for c in competitors} for w in WORKLOADS}


def tap(binary, compiler):
    ceilings = CEILINGS[compiler]
    table = per_frame_table(binary, ('stack_allocator', 'std_allocator'), 10, 20)
    lines = []
    for w in WORKLOADS:
        ours = table[w]['stack_allocator']
        lines.append((ours <= ceilings[w], f'{w}: {WHAT[w]}, {ours:,.0f} instructions a frame <= {ceilings[w]:,} '
                                           f'({compiler})'))
    for w in BELOW_STD:
        ours, std = table[w]['stack_allocator'], table[w]['std_allocator']
        lines.append((ours < std, f'{w}: {WHAT[w]}, {ours:,.0f} instructions a frame, below std::allocator\'s '
                                  f'{std:,.0f}'))
    print('TAP version 13')
    print(f'1..{len(lines)}')
    for n, (ok, text) in enumerate(lines, 1):
        print(f"{'ok' if ok else 'not ok'} {n} - {text}")
    return 0 if all(ok for ok, _ in lines) else 1


def main():
    args = sys.argv[1:]
    if args[:1] == ['--tap'] and len(args) == 4 and args[1] == '--compiler' and args[2] in CEILINGS:
        return tap(args[3], args[2])
    if len(args) != 1:
        raise SystemExit(__doc__)
    binary = args[0]
    print('instructions per frame (callgrind: 100 frames after 50, over 100)')
    print(f'  {"competitor":22} ' + ' '.join(f'{w:>12} {"ratio":>6}' for w in WORKLOADS))
    table = per_frame_table(binary, COMPETITORS, 50, 100)
    for c in COMPETITORS:
        cells = [f'{table[w][c]:12,.0f} {table[w][c] / table[w][COMPETITORS[0]]:6.2f}' for w in WORKLOADS]
        print(f'  {c:22} ' + ' '.join(cells))
    return 0


if __name__ == '__main__':
    sys.exit(main())
