#!/usr/bin/env python3
"""Headless runs of frame_arena_demo, reported as TAP.

usage: test_demo.py DEMO_BINARY WORK_DIR
"""
import csv
import os
import re
import struct
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

demo, work = sys.argv[1], sys.argv[2]
os.makedirs(work, exist_ok=True)
results = []


def check(ok, name, detail=""):
    results.append((bool(ok), name, detail))


def run(*args, timeout=600, env=None):
    env = env or dict(os.environ, SDL_VIDEODRIVER="dummy")
    return subprocess.run([demo, *args], capture_output=True, text=True, timeout=timeout, env=env)


def path(name):
    return os.path.join(work, name)


def summary(proc):
    m = re.search(r"failed pushes (\d+)\s+checksum ([0-9a-f]+)", proc.stdout)
    return (int(m.group(1)), m.group(2)) if m else (None, None)


def read_bmp(p):
    data = open(p, "rb").read()
    offset = struct.unpack_from("<I", data, 10)[0]
    w, h = struct.unpack_from("<ii", data, 18)
    bpp = struct.unpack_from("<H", data, 28)[0]
    assert bpp == 32, bpp
    rows = abs(h)
    pixels = [data[offset + (y * w) * 4: offset + (y + 1) * w * 4] for y in range(rows)]
    if h > 0:
        pixels.reverse()  # bottom-up rows
    return w, rows, pixels


common = ["--headless", "--frames", "600", "--particles", "20000", "--fps", "0", "--size", "640x360", "--seed", "7"]
runs = {
    "one": common + ["--threads", "1", "--stats", "--report", path("one.csv"), "--screenshot", path("one.bmp")],
    "two": common + ["--threads", "2", "--report", path("two.csv"), "--screenshot", path("two.bmp")],
    "malloc": common + ["--backend", "malloc", "--threads", "2", "--report", path("malloc.csv")],
}
with ThreadPoolExecutor(max_workers=2) as pool:
    procs = dict(zip(runs, pool.map(lambda a: run(*a), runs.values())))

for name, proc in procs.items():
    check(proc.returncode == 0, f"{name}: 600 headless frames exit 0", proc.stderr[-2000:])
    failed, _ = summary(proc)
    check(failed == 0, f"{name}: 0 failed pushes", proc.stdout[-2000:])



def report(name):
    return list(csv.DictReader(open(path(name)))) if os.path.exists(path(name)) else []


rows = report("one.csv")
check(len(rows) == 600, "report has a row per frame", f"{len(rows)} rows")
if len(rows) == 600:
    committed = [int(r["committed"]) for r in rows]
    check(max(committed[200:]) == committed[200],
          "committed stops growing after warm-up (frames 200-599)",
          f"frame 200: {committed[200]}, max after: {max(committed[200:])}")
    check(all(int(r["particles"]) > 15000 for r in rows[200:]), "the particle count holds near the target")
    check(all(int(r["used"]) > 0 and int(r["pushes"]) > 0 for r in rows), "every frame pushes into the arena")
    # Each step compacts last frame's particles (24 bytes each) through one
    # thread's scratch stack, whose first MiB main.c has prefaulted.
    peaks = [int(r["scratch_peak"]) for r in rows]
    short = [i for i in range(1, 600) if peaks[i] < 24 * int(rows[i - 1]["particles"])]
    check(not short and peaks == sorted(peaks),
          "the scratch peak holds each step's particles and never goes down", f"short at frames {short[:5]}")
    check(0 < max(peaks) <= 1 << 20, "the 20,000-particle update fits the scratch's prefaulted MiB",
          f"peak {max(peaks)} bytes")

# Each worker builds its part of the particles' quads in its own lane of the
# frame arena; the main thread's lane 0 holds everything else.
for name, threads in [("one.csv", 1), ("two.csv", 2)]:
    lanes = [int(r["lanes_used"]) for r in report(name)]
    check(len(lanes) == 600 and set(lanes) == {threads},
          f"{name}: with {threads} thread(s), every frame pushes to {threads} lane(s)", f"lanes used: {sorted(set(lanes))}")
two = report("two.csv")
check(len(two) == 600 and max(int(r["committed"]) for r in two[200:]) == int(two[200]["committed"]),
      "two.csv: committed over both lanes stops growing after warm-up")
malloc_rows = report("malloc.csv")
check(len(malloc_rows) == 600 and all(int(r["used"]) == 0 and int(r["lanes_used"]) == 0 for r in malloc_rows),
      "the malloc backend pushes nothing to the frame arena", f"{len(malloc_rows)} rows")

_, sum_one = summary(procs["one"])
_, sum_two = summary(procs["two"])
_, sum_malloc = summary(procs["malloc"])
check(sum_one is not None and sum_one == sum_two, "same seed, same checksum with 1 and 2 threads",
      f"{sum_one} vs {sum_two}")
check(sum_one is not None and sum_one == sum_malloc, "the malloc backend simulates the same world",
      f"{sum_one} vs {sum_malloc}")

if os.path.exists(path("one.bmp")) and os.path.exists(path("two.bmp")):
    w, h, one = read_bmp(path("one.bmp"))
    _, _, two = read_bmp(path("two.bmp"))
    colours = {one[y][x * 4: x * 4 + 3] for y in range(0, h, 3) for x in range(0, w, 3)}
    check(len(colours) > 50, "the screenshot is not blank", f"{len(colours)} colours")
    region = [(x, y) for y in range(10, 80) for x in range(10, 300)]
    differ = sum(one[y][x * 4: x * 4 + 3] != two[y][x * 4: x * 4 + 3] for x, y in region)
    check(differ > len(region) // 10, "the overlay region differs between --stats and no --stats",
          f"{differ} of {len(region)} pixels differ")
    # Right of the overlay's panel (x 4 to 543), the two pictures are the
    # world alone: drawn from one lane or from two, part after part, the
    # same pixels.
    region = [(x, y) for y in range(h) for x in range(548, w)]
    differ = [(x, y) for x, y in region if one[y][x * 4: x * 4 + 3] != two[y][x * 4: x * 4 + 3]]
    colours = {one[y][x * 4: x * 4 + 3] for x, y in region}
    check(not differ and len(colours) > 50, "outside the overlay, 1 and 2 threads draw the same picture",
          f"{len(differ)} of {len(region)} pixels differ, first at {differ[:3]}; {len(colours)} colours")
else:
    check(False, "screenshots were written")

for args, what in [
    (["--frames", "zero"], "--frames needs a number"),
    (["--particles", "-5"], "--particles needs a count"),
    (["--threads", "0"], "--threads needs a number from 1 to 64"),
    (["--size", "640by480"], "--size needs WxH"),
    (["--backend", "jemalloc"], "--backend is arena or malloc"),
    (["--report"], "--report needs a file path"),
    (["--bogus"], "unknown option '--bogus'"),
]:
    proc = run(*args, timeout=30)
    check(proc.returncode == 2 and what in proc.stderr and "usage:" in proc.stderr,
          f"bad argument {' '.join(args)} exits 2 with a message", proc.stderr[:500])
# Without --threads, a worker (and a lane) for each CPU, at most 8.
proc = run("--headless", "--frames", "5", "--particles", "1000", "--fps", "0", "--report", path("default.csv"),
           timeout=60)
lanes = [int(r["lanes_used"]) for r in report("default.csv")]
check(proc.returncode == 0 and lanes and set(lanes) == {min(os.cpu_count() or 1, 8)},
      "by default a lane for each CPU, at most 8", f"lanes used: {lanes}, {os.cpu_count()} CPUs")
no_display = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "SDL_VIDEODRIVER")}
proc = run("--frames", "5", timeout=60, env=no_display)
check(proc.returncode == 1 and "no display available" in proc.stderr and "--headless" in proc.stderr,
      "without a display it says so and suggests --headless", proc.stderr[-500:])
proc = run("--help", timeout=30)
check(proc.returncode == 0 and "--screenshot PATH" in proc.stdout, "--help prints the usage and exits 0")

print("TAP version 13")
print(f"1..{len(results)}")
for i, (ok, name, detail) in enumerate(results, 1):
    print(f"{'ok' if ok else 'not ok'} {i} - {name}")
    if not ok and detail:
        for line in str(detail).splitlines()[-20:]:
            print(f"  # {line}")
sys.exit(0 if all(ok for ok, _, _ in results) else 1)
