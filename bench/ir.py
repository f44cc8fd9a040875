#!/usr/bin/env python3
"""Instructions per push, counted by callgrind (repeatable, unlike time).

    bench/ir.py [--tap] path/to/frame_bench
    bench/ir.py [--tap] --debug path/to/frame_bench_debug path/to/frame_bench_debug_inline

Runs `frame_bench --ir` under `valgrind --tool=callgrind --collect-atstart=no`;
the program dumps one profile per region (CALLGRIND_DUMP_STATS_AT). A push's
cost is its loop's instructions minus the floor loop's (the same loads and
stores, no allocator), divided by K = 10,000. Prints a table, or with --tap
the goals as TAP tests.

With --debug, the two builds of a game's debug build (bench/meson.build):
the benchmark at -O0 calling the library, built with -O2, for its pushes
(PAGE_STACK_PUSH_CALL), and the same with every push inlined at -O0. Side
by side; the goal is that every figure of the first is below the second's.
"""
import glob
import os
import re
import subprocess
import sys
import tempfile

K = 10000


def regions(bench):
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "cg.out")
        cmd = ["valgrind", "--tool=callgrind", "--collect-atstart=no", f"--callgrind-out-file={out}",
               bench, "--ir"]
        run = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        if run.returncode != 0:
            sys.stderr.write(run.stderr)
            raise SystemExit(f"ir.py: {' '.join(cmd)} failed with {run.returncode}")
        found = {}
        for path in glob.glob(out + "*"):
            text = open(path, errors="replace").read()
            name = re.search(r"^desc: Trigger: Client Request: (\S+)", text, re.M)
            total = re.search(r"^(?:summary|totals): (\d+)", text, re.M)
            if name and total:
                found[name.group(1)] = int(total.group(1))
        return found


def figures(bench):
    """The regions of one build, its table's rows (name, per push, goal), and
    the figures the goals name."""
    r = regions(bench)
    need = ["floor_rt", "push_rt", "floor_const", "push_const", "push_struct_fresh", "push_struct_reused",
            "push_array_fresh", "push_array_reused", "push_zero_rt_fresh", "push_rt_fresh",
            "reset_1k", "reset_1m", "pop_to_1k", "pop_to_1m", "cursor_rt", "cursor_const",
            "cursor_zero_rt_fresh", "push_copy_const", "push_then_assign_const"]
    missing = [n for n in need if n not in r]
    if missing:
        raise SystemExit(f"ir.py: regions missing from the callgrind dumps: {missing}")

    def per_push(name, floor):
        return (r[name] - r[floor]) / K

    rt = per_push("push_rt", "floor_rt")
    const = per_push("push_const", "floor_const")
    cursor_rt, cursor_const = per_push("cursor_rt", "floor_rt"), per_push("cursor_const", "floor_const")
    fresh, zero_fresh = per_push("push_rt_fresh", "floor_rt"), per_push("push_zero_rt_fresh", "floor_rt")
    cursor_zero_fresh = per_push("cursor_zero_rt_fresh", "floor_rt")
    zeroing = [per_push(n, "floor_const")
               for n in ("push_struct_fresh", "push_array_fresh", "push_struct_reused", "push_array_reused")]
    rows = [
        ("push, runtime alignment (mixed sizes, 8/16/64)", rt, "<= 14"),
        ("push, constant alignment (push_array_no_zero)", const, "<= 10"),
        ("cursor push, runtime alignment (begin and end included)", cursor_rt, "<= 14"),
        ("cursor push, constant alignment (cursor_push_array_no_zero)", cursor_const, "<= 10"),
        ("push_struct on never-used memory (32 B, zeroed)", zeroing[0], "<= 10"),
        ("push_array on never-used memory (32 B, zeroed)", zeroing[1], "<= 10"),
        ("push_struct on reused memory (32 B, zeroed)", zeroing[2], "<= 10"),
        ("push_array on reused memory (32 B, zeroed)", zeroing[3], "<= 10"),
        ("push, runtime alignment, never-used memory", fresh, ""),
        ("push_zero, runtime alignment, never-used memory", zero_fresh, "<= push"),
        ("cursor push_zero, runtime alignment, never-used memory", cursor_zero_fresh, "<= cursor push"),
        ("push_array_copy of a 32 B struct (the copy included)", per_push("push_copy_const", "floor_const"), ""),
        ("the same by hand: push_array_no_zero, then an assignment", per_push("push_then_assign_const", "floor_const"),
         ""),
    ]
    named = {"rt": rt, "const": const, "cursor_rt": cursor_rt, "cursor_const": cursor_const, "zeroing": zeroing,
             "fresh": fresh, "zero_fresh": zero_fresh, "cursor_zero_fresh": cursor_zero_fresh}
    return r, rows, named


def debug(tap, calls_bench, inline_bench):
    (rc, calls, _), (ri, inline, _) = figures(calls_bench), figures(inline_bench)
    checks = [(c[1] < i[1], f"{c[0]}: {c[1]:.2f} instructions through the library, below {i[1]:.2f} inlined")
              for c, i in zip(calls, inline)]
    for key in ("reset", "pop_to"):
        checks.append((rc[f"{key}_1k"] == rc[f"{key}_1m"],
                       f"{key} is flat in K: {rc[f'{key}_1k']} instructions after 1,000 pushes, "
                       f"{rc[f'{key}_1m']} after 1,000,000"))
    if tap:
        print("TAP version 13")
        print(f"1..{len(checks)}")
        for n, (ok, text) in enumerate(checks, 1):
            print(f"{'ok' if ok else 'not ok'} {n} - {text}")
        return 0 if all(ok for ok, _ in checks) else 1
    print(f"instructions per push in code compiled at -O0 (callgrind, K = {K:,}, minus the harness floor)")
    print(f"  {'':<58} {'library':>8} {'inlined':>8}  ratio")
    for c, i in zip(calls, inline):
        print(f"  {c[0]:<58} {c[1]:8.2f} {i[1]:8.2f}  {c[1] / i[1]:5.2f}")
    print(f"  {'reset after 1,000 / 1,000,000 pushes':<58} {rc['reset_1k']:8d} {ri['reset_1k']:8d}")
    print(f"  {'pop_to after 1,000 / 1,000,000 pushes':<58} {rc['pop_to_1k']:8d} {ri['pop_to_1k']:8d}")
    for ok, text in checks:
        print(f"  [{'met ' if ok else 'MISS'}] {text}")
    return 0


def main():
    args = sys.argv[1:]
    tap = "--tap" in args
    args = [a for a in args if a != "--tap"]
    if args[:1] == ["--debug"]:
        if len(args) != 3:
            raise SystemExit(__doc__)
        return debug(tap, args[1], args[2])
    if len(args) != 1:
        raise SystemExit(__doc__)
    r, rows, v = figures(args[0])
    rt, const, cursor_rt, cursor_const, zeroing = v["rt"], v["const"], v["cursor_rt"], v["cursor_const"], v["zeroing"]
    fresh, zero_fresh, cursor_zero_fresh = v["fresh"], v["zero_fresh"], v["cursor_zero_fresh"]
    checks = [
        (rt <= 14, f"instructions per push with a runtime alignment: {rt:.2f} <= 14"),
        (const <= 10, f"instructions per push with a constant alignment: {const:.2f} <= 10"),
        (cursor_rt <= 14, f"instructions per cursor push with a runtime alignment: {cursor_rt:.2f} <= 14"),
        (cursor_const <= 10, f"instructions per cursor push with a constant alignment: {cursor_const:.2f} <= 10"),
        (max(zeroing) <= 10,
         f"instructions per push_struct / push_array of 32 B, fresh and reused memory, the zeroing stores "
         f"included: {max(zeroing):.2f} at most, <= 10"),
        # on fresh memory push_zero is the plain push with another bound (zero_end): no dirty test
        (zero_fresh <= fresh + 0.005,
         f"push_zero on never-used memory: {zero_fresh:.2f} instructions, at most a plain push's {fresh:.2f}"),
        (cursor_zero_fresh <= cursor_rt + 0.005,
         f"cursor push_zero on never-used memory: {cursor_zero_fresh:.2f} instructions, at most a cursor push's "
         f"{cursor_rt:.2f}"),
        (r["reset_1k"] == r["reset_1m"],
         f"reset is flat in K: {r['reset_1k']} instructions after 1,000 pushes, {r['reset_1m']} after 1,000,000"),
        (r["pop_to_1k"] == r["pop_to_1m"],
         f"pop_to is flat in K: {r['pop_to_1k']} instructions after 1,000 pushes, {r['pop_to_1m']} after 1,000,000"),
    ]
    if tap:
        print("TAP version 13")
        print(f"1..{len(checks)}")
        for i, (ok, text) in enumerate(checks, 1):
            print(f"{'ok' if ok else 'not ok'} {i} - {text}")
        for name, value, _ in rows:
            print(f"# {name}: {value:.2f} instructions")
        return 0 if all(ok for ok, _ in checks) else 1
    print(f"instructions per push (callgrind, K = {K:,}, minus the harness floor)")
    for name, value, target in rows:
        print(f"  {name:<58} {value:6.2f}  {target}")
    print(f"  {'reset after 1,000 / 1,000,000 pushes':<58} {r['reset_1k']:6d} / {r['reset_1m']}")
    print(f"  {'pop_to after 1,000 / 1,000,000 pushes':<58} {r['pop_to_1k']:6d} / {r['pop_to_1m']}")
    print("mem_ops against the C library: instructions per call (1,000 calls, size at run time)")
    print(f"  {'size':>6} {'fa_zero16':>10} {'memset':>8} {'fa_copy16':>10} {'memcpy':>8}")
    for n in (16, 32, 64, 128, 256):
        if f"zero16_{n}" in r:
            print(f"  {n:>6} {r[f'zero16_{n}'] / 1000:>10.1f} {r[f'memset_{n}'] / 1000:>8.1f} "
                  f"{r[f'copy16_{n}'] / 1000:>10.1f} {r[f'memcpy_{n}'] / 1000:>8.1f}")
    for ok, text in checks:
        print(f"  [{'met ' if ok else 'MISS'}] {text}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
