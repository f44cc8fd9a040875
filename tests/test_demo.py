#!/usr/bin/env python3
"""Headless runs of frame_arena_demo, reported as TAP.

usage: test_demo.py DEMO_BINARY WORK_DIR [FRAMES [--fail-alloc SHIM] [--fail-sdl SHIM]]

FRAMES (default 600, at least 300) is the length of the three long runs of
20,000 particles: the sanitizer and checked builds run 300, each frame
costing them several times as much. The shims are built where no
sanitizer's runtime is linked into the program: --fail-alloc's
(tests/fail_aligned_alloc.c) makes the malloc backend's large blocks fail,
--fail-sdl's (tests/fail_sdl.c) one of SDL's setup calls; without one, its
runs are skipped.
"""
import csv
import math
import os
import re
import resource
import shutil
import signal
import struct
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

demo, work = sys.argv[1], sys.argv[2]
frames = int(sys.argv[3]) if len(sys.argv) > 3 else 600
shims = dict(zip(sys.argv[4::2], sys.argv[5::2]))
fail_alloc, fail_sdl = shims.get("--fail-alloc"), shims.get("--fail-sdl")
assert frames >= 300, "the checks look at the frames after a warm-up of 200"
QUAD_BYTES = 4 * 20 + 6 * 4  # a particle's quad in demo/main.c: 4 SDL_Vertex of 20 bytes, 6 int indices
shutil.rmtree(work, ignore_errors=True)  # no picture or report of an earlier run can pass for this one's
os.makedirs(work)
results = []


def check(ok, name, detail=""):
    results.append((bool(ok), name, detail))


def skip(name, reason):
    results.append((True, f"{name} # SKIP {reason}", ""))


# Under ASan a run frees far more than ASan's default quarantine of 256 MB
# over its frames (SDL's surfaces, the malloc backend's buffers), and every
# malloc after that point takes new pages: 16 MB keeps the runs' use-after-free
# checks on recent frees and takes 40% of the page faults out of the test.
# The frame arena's own memory is not malloc's and is checked the same.
asan_options = os.environ.get("ASAN_OPTIONS")
if asan_options is not None:
    os.environ["ASAN_OPTIONS"] = asan_options + ":quarantine_size_mb=16"


def run(*args, timeout=600, env=None, wrapper=()):
    env = env or dict(os.environ, SDL_VIDEODRIVER="dummy")
    return subprocess.run([*wrapper, demo, *args], capture_output=True, text=True, timeout=timeout, env=env)


def preloaded(shim, **settings):
    """run()'s environment with a shim preloaded (LD_PRELOAD) and its settings. gcc's ASan wants its runtime
    first among the libraries loaded; the shim comes first, and what it calls on to is ASan's or the library's."""
    return dict(os.environ, SDL_VIDEODRIVER="dummy", LD_PRELOAD=shim,
                ASAN_OPTIONS=os.environ.get("ASAN_OPTIONS", "") + ":verify_asan_link_order=0", **settings)


# The overlay's graphs (overlay.c: stats_panel): their boxes' top and bottom
# edges, rows of a panel pw wide that are mostly the boxes' grey (each
# channel 40 to 75, whatever darkened scene is under it); a graph's line
# crosses some of a row. The boxes move with the panel's lines above them,
# and are lower in a short window.
def box_rows(pic, pw):
    return [y for y, row in enumerate(pic)
            if sum(all(40 <= c <= 75 for c in row[x * 4: x * 4 + 3]) for x in range(14, pw - 6)) > (pw - 20) * 0.75]


def graph_boxes(pic, pw=540):
    """The two graphs' boxes, (top, height) each, or None where the picture has not both."""
    edges = box_rows(pic, pw)
    return [(edges[0], edges[1] - edges[0] + 1), (edges[2], edges[3] - edges[2] + 1)] if len(edges) == 4 else None


# The first graph draws bytes used (blue) and committed (orange) from the
# frame arena's history, in these colours as a BMP stores them (blue, green,
# red).
GRAPH_LINES = {"used": bytes((255, 200, 90)), "committed": bytes((60, 160, 255))}


def graph_pixels(pic):
    """How many pixels of each line of the first graph a picture has (none without the graphs)."""
    boxes = graph_boxes(pic)
    rows = range(boxes[0][0], boxes[0][0] + boxes[0][1]) if boxes else range(0)
    return {name: sum(pic[y][x * 4: x * 4 + 3] == bgr for y in rows for x in range(14, 534))
            for name, bgr in GRAPH_LINES.items()}


# The first lines of the overlay's panel, text on a dim background, in a
# 640x360 picture.
PANEL_TEXT = [(x, y) for y in range(10, 80) for x in range(10, 300)]

# The frame-time graph's red line's colour, and its line's, as a BMP stores them.
RED_LINE = bytes((60, 60, 230))
TIME_LINE = bytes((120, 255, 140))

# Rows at the bottom of a window that hold the line of keys (overlay.c:
# key_line): in a window 640 wide, two rows of text of 16 and 6 of margin.
KEY_LINE = 40


def red_rows(pic, top, height):
    """The rows of a box that are mostly red line."""
    return [y for y in range(top, top + height + 1)
            if sum(pic[y][x * 4: x * 4 + 3] == RED_LINE for x in range(14, 534)) > 400]


def colours(pic, w, h):
    """The colours of every third pixel of every third row."""
    return {pic[y][x * 4: x * 4 + 3] for y in range(0, h, 3) for x in range(0, w, 3)}


def path(name):
    return os.path.join(work, name)


def summary(proc):
    m = re.search(r"failed pushes (\d+)\s+checksum ([0-9a-f]+)", proc.stdout)
    return (int(m.group(1)), m.group(2)) if m else (None, None)


def losses(proc):
    """The exit summary's counts of what the world lost for want of frame memory: the steps that dropped every
    particle, the particles shed and the spawns held back."""
    m = re.search(r"^particles \d+  drops (\d+)  shed (\d+)  held back (\d+)  failed pushes", proc.stdout, re.M)
    return tuple(int(g) for g in m.groups()) if m else None


def overlay_text(proc):
    """The overlay's text as printed without a font: {the frame it was printed in: its lines}."""
    return {int(f): b for f, b in re.findall(r"^frame (\d+)  (.*\n(?:(?!frame \d+  ).*\n)*)", proc.stdout, re.M)}


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


common = ["--headless", "--frames", str(frames), "--particles", "20000", "--fps", "0", "--size", "640x360", "--seed", "7"]
runs = {
    "one": common + ["--threads", "1", "--stats", "--report", path("one.csv"), "--screenshot", path("one.bmp")],
    "two": common + ["--threads", "2", "--report", path("two.csv"), "--screenshot", path("two.bmp")],
    "malloc": common + ["--backend", "malloc", "--threads", "2", "--report", path("malloc.csv")],
    # The keys, played by --input: 10 clicks (a burst of 30,000 particles) at
    # frame 45, R at 75, F2 at 90 and again at 105.
    "keys": ["--headless", "--frames", "120", "--fps", "0", "--size", "640x360", "--seed", "7", "--threads", "2",
             "--particles", "5000", "--report", path("keys.csv"),
             "--input", ",".join(["45:click@320x180"] * 10 + ["75:R", "90:F2", "105:F2"])],
}
with ThreadPoolExecutor(max_workers=2) as pool:
    procs = dict(zip(runs, pool.map(lambda a: run(*a), runs.values())))

for name, proc in procs.items():
    check(proc.returncode == 0, f"{name}: {runs[name][runs[name].index('--frames') + 1]} headless frames exit 0",
          proc.stderr[-2000:])
    failed, _ = summary(proc)
    check(failed == 0 and losses(proc) == (0, 0, 0), f"{name}: 0 failed pushes, nothing dropped, shed or held back",
          proc.stdout[-2000:])



# The overlay keeps the texts it draws: a text that is the same as in an
# earlier frame (the line of keys, most of the panel's lines once the
# particles have come) is drawn from the texture rendered then. In the run
# with the overlay on, its first line, which gives the frame's number, is
# rendered again in every frame, and the texts rendered are fewer than half
# of those drawn (11-16% here; all of them without the kept textures).
m = re.search(r"^overlay: (\d+) texts drawn, (\d+) rendered$", procs["one"].stdout, re.M)
check(m and frames <= int(m.group(2)) <= int(m.group(1)) / 2,
      f"one: the overlay renders a text again only when it changes (over {frames} frames)",
      m.group(0) if m else procs["one"].stdout[-600:])


def report(name):
    return list(csv.DictReader(open(path(name)))) if os.path.exists(path(name)) else []


def column(rows, key):
    """A report's column as numbers, -1 where a row has none."""
    return [int(r.get(key) or -1) for r in rows]


rows = report("one.csv")
check(len(rows) == frames, "report has a row per frame", f"{len(rows)} rows")
if len(rows) == frames:
    committed = [int(r["committed"]) for r in rows]
    check(max(committed[200:]) == committed[200],
          f"committed stops growing after warm-up (frames 200-{frames - 1})",
          f"frame 200: {committed[200]}, max after: {max(committed[200:])}")
    check(all(int(r["particles"]) > 15000 for r in rows[200:]), "the particle count holds near the target")
    check(all(int(r["used"]) > 0 and int(r["pushes"]) > 0 for r in rows), "every frame pushes into the arena")
    # Each step compacts last frame's particles (24 bytes each) through one
    # thread's scratch stack, whose first MiB main.c has prefaulted.
    peaks = [int(r["scratch_peak"]) for r in rows]
    short = [i for i in range(1, frames) if peaks[i] < 24 * int(rows[i - 1]["particles"])]
    check(not short and peaks == sorted(peaks),
          "the scratch peak holds each step's particles and never goes down", f"short at frames {short[:5]}")
    check(0 < max(peaks) <= 1 << 20, "the 20,000-particle update fits the scratch's prefaulted MiB",
          f"peak {max(peaks)} bytes")

# Each worker builds its part of the particles' quads in its own lane of the
# frame arena; the main thread's lane 0 holds everything else.
for name, threads in [("one.csv", 1), ("two.csv", 2)]:
    lanes = [int(r["lanes_used"]) for r in report(name)]
    check(len(lanes) == frames and set(lanes) == {threads},
          f"{name}: with {threads} thread(s), every frame pushes to {threads} lane(s)", f"lanes used: {sorted(set(lanes))}")
two = report("two.csv")
check(len(two) == frames and max(int(r["committed"]) for r in two[200:]) == int(two[200]["committed"]),
      "two.csv: committed over both lanes stops growing after warm-up")
malloc_rows = report("malloc.csv")
check(len(malloc_rows) == frames and all(int(r["used"]) == 0 and int(r["lanes_used"]) == 0 for r in malloc_rows),
      "the malloc backend pushes nothing to the frame arena", f"{len(malloc_rows)} rows")
# The report's alloc_bytes and allocs count what the frame got from its
# backend. On the arena each block is one push, and its bytes are the
# stack's top less the padding; the same world on two threads gets the same
# blocks from malloc, frame by frame.
asked = [(r.get("alloc_bytes"), r.get("allocs")) for r in two]
check(len(two) == frames and all(r.get("allocs") == r["pushes"] and 0 < int(r.get("alloc_bytes") or 0) <= int(r["used"])
                                 for r in two),
      "two.csv: a push for each block asked for, and the bytes asked for within the stack's top",
      str([(r["pushes"], r["used"], r.get("allocs"), r.get("alloc_bytes")) for r in two[:3]]))
check(len(malloc_rows) == frames and [(r.get("alloc_bytes"), r.get("allocs")) for r in malloc_rows] == asked,
      "the malloc backend is asked for the same blocks as the arena, frame by frame",
      str([(r.get("alloc_bytes"), r.get("allocs")) for r in malloc_rows[:3]]) + f" against {asked[:3]}")

keys = report("keys.csv")
if len(keys) == 120:
    particles = [int(r["particles"]) for r in keys]
    committed = [int(r["committed"]) for r in keys]
    check(particles[44] == 5000 and particles[45] == 35000, "--input: 10 clicks at frame 45 burst 30,000 particles",
          f"{particles[44]} then {particles[45]}")
    check(committed[46] >= committed[44] + 4 * 2**20, "--input: the burst makes the frame arena commit 4 MiB more",
          f"{committed[44]} then {committed[46]}")
    check(particles[75] < 1000, "--input: R at frame 75 restarts the level", f"{particles[74]} then {particles[75]}")
    # R calls frame_arena_trim: the frame in flight gives its burst back when
    # its buffer is reset, one frame later; both buffers are then at their
    # prefault, as before the burst. (The checked build counts the commits
    # of every quarantine region, which the trim does not all reach: there
    # three quarters of the burst's commits are enough.)
    check(committed[76] - committed[44] <= (committed[74] - committed[44]) // 4,
          "--input: R gives the burst's memory back within a frame",
          f"committed: {committed[44]} before the burst, {committed[74]} at R, {committed[75]}, {committed[76]}")
    arena = [int(r["used"]) > 0 and int(r["pushes"]) > 0 for r in keys]
    backends = [r["backend"] for r in keys]
    check(all(arena[:90]) and not any(arena[90:105]) and all(arena[105:]) and
          backends == ["arena"] * 90 + ["malloc"] * 15 + ["arena"] * 15,
          "--input: F2 at frames 90 and 105 switches to malloc and back, and the report says which",
          f"frames on the arena: {[f for f in range(120) if arena[f]][85:95]}, backends {backends[85:110]}")
else:
    check(False, "--input: the scripted run wrote a report row per frame", f"{len(keys)} rows")

# The overlay's font: DejaVu Sans Mono where Debian installs it, or what
# --font names (here a copy of it, at a path the demo would not look at).
DEBIAN_FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf"
if os.path.exists(DEBIAN_FONT):
    shutil.copyfile(DEBIAN_FONT, path("own.ttf"))

# Cheap runs of 2,000 particles for the other keys.
small = ["--headless", "--fps", "0", "--size", "640x360", "--seed", "7", "--threads", "2", "--particles", "2000"]
small_runs = {
    "plain": ["--frames", "30", "--screenshot", path("plain.bmp")],
    "f1": ["--frames", "30", "--input", "29:F1", "--screenshot", path("f1.bmp")],
    "f1_off": ["--frames", "30", "--stats", "--input", "29:F1", "--screenshot", path("f1_off.bmp")],
    "help": ["--frames", "30", "--input", "29:H", "--screenshot", path("help.bmp")],
    "paused": ["--frames", "60", "--input", "10:Space,30:Space"],
    "paused_malloc": ["--frames", "60", "--backend", "malloc", "--input", "10:Space,30:Space"],
    "forty": ["--frames", "40"],
    "sixty": ["--frames", "60"],
    "more": ["--frames", "120", "--input", "0:="],
    # A key held down: its repeats do nothing more than its press.
    "held": ["--frames", "120", "--input", "0:=,1:held@=,2:held@=,60:Space,61:held@Space"],
    "pressed": ["--frames", "120", "--input", "0:=,60:Space"],
    "fewer": ["--frames", "120", "--input", "0:-"],
    "target": ["--frames", "120"],
    "escape": ["--frames", "100", "--input", "10:Escape", "--screenshot", path("escape.bmp")],
    "vsync": ["--frames", "31", "--input", "0:V"],
    "capped": ["--frames", "61", "--fps", "60"],  # the later --fps wins
    "mark30": ["--frames", "10", "--stats", "--fps", "30", "--screenshot", path("mark30.bmp")],
    "mark60": ["--frames", "10", "--stats", "--fps", "60", "--screenshot", path("mark60.bmp")],
    "own_font": ["--frames", "10", "--stats", "--font", path("own.ttf"), "--screenshot", path("own_font.bmp")],
    "no_font": ["--frames", "10", "--stats", "--font", path("missing.ttf"), "--screenshot", path("no_font.bmp")],
    "no_font_help": ["--frames", "30", "--font", path("missing.ttf"), "--input", "5:H,10:H,15:H", "--screenshot",
                     path("no_font_help.bmp")],
    # F2 at frame 10, for 2.5 s: the overlay's text, printed once a second,
    # gives both backends' time spent allocating.
    "compare": ["--frames", "150", "--fps", "60", "--stats", "--font", path("missing.ttf"), "--input", "10:F2",
                "--report", path("compare.csv")],
    # Frames that need more than the frame arena's stacks reserve (1 MiB
    # each). With 20,000 particles lane 0 cannot take its half of the
    # particles' quads (1 MiB, besides the particles and the sort keys) in
    # every frame from about the 23rd on: it builds what it can hold, and
    # the rest are drawn in batches; with 60,000 the world stops growing
    # where lane 0 can no longer hold the particles and their sort keys.
    # The overlay's text is printed as in "compare".
    "tight": ["--frames", "150", "--fps", "60", "--particles", "20000", "--frame-reserve", "1", "--stats", "--font",
              path("missing.ttf"), "--report", path("tight.csv")],
    "crowded": ["--frames", "90", "--particles", "60000", "--frame-reserve", "1", "--report", path("crowded.csv")],
    # 60,000 particles on malloc, then on the arena from frame 45 (F2).
    "switch": ["--frames", "60", "--particles", "60000", "--frame-reserve", "1", "--backend", "malloc", "--input",
               "45:F2", "--report", path("switch.csv")],
    # An update on one thread whose scratch stack (1 MiB) cannot hold it
    # from about 43,700 particles (frame 29) on, and the same world with the
    # default 128 MiB.
    # F1 at frame 40 prints the overlay's text (no font) in that frame.
    "scratch_small": ["--frames", "45", "--particles", "60000", "--threads", "1", "--scratch-reserve", "1",
                      "--font", path("missing.ttf"), "--input", "40:F1"],
    "scratch_default": ["--frames", "45", "--particles", "60000", "--threads", "1", "--font", path("missing.ttf"),
                        "--input", "40:F1"],
    # Frames over the 8 MiB budget, from about frame 29 (a soft limit:
    # nothing fails).
    "budget": ["--frames", "40", "--particles", "80000", "--report", path("budget.csv")],
    # The panel drawn after frames whose pushes failed (from about frame 23).
    "tight_shot": ["--frames", "40", "--particles", "20000", "--frame-reserve", "1", "--stats", "--screenshot",
                   path("tight_shot.bmp"), "--report", path("tight_shot.csv")],
    # The same world's picture, the overlay off, with 1 MiB stacks (quads
    # drawn in batches from about frame 23) and with the default 64 MiB.
    "batched_shot": ["--frames", "40", "--particles", "20000", "--frame-reserve", "1", "--screenshot",
                     path("batched_shot.bmp"), "--report", path("batched_shot.csv")],
    "roomy_shot": ["--frames", "40", "--particles", "20000", "--screenshot", path("roomy_shot.bmp")],
    # The window resized (as a drag of its edge would) to another shape, and
    # to twice the size with a click in the bigger window's coordinates.
    "letterbox": ["--frames", "30", "--input", "10:size@640x480", "--screenshot", path("letterbox.bmp")],
    "pillarbox": ["--frames", "30", "--input", "10:size@960x360", "--screenshot", path("pillarbox.bmp")],
    "click": ["--frames", "30", "--input", "12:click@320x180"],
    "click_doubled": ["--frames", "30", "--input", "10:size@1280x720,12:click@640x360"],
    "stats_doubled": ["--frames", "30", "--stats", "--input", "10:size@1280x720", "--screenshot",
                      path("stats_doubled.bmp")],
    "stats_help_doubled": ["--frames", "30", "--stats", "--input", "10:size@1280x720,29:H", "--screenshot",
                           path("stats_help_doubled.bmp")],
    # Windows narrower than the overlay: a 320x240 scene in a window of 320
    # by 480 (bars of 120 above and below), and of 640 by 480 to compare,
    # and by 400 (80) with the help; one too short for the graphs.
    "narrow_stats": ["--frames", "30", "--size", "320x240", "--stats", "--input", "0:size@320x480", "--screenshot",
                     path("narrow_stats.bmp")],
    "narrow_stats_wide": ["--frames", "30", "--size", "320x240", "--stats", "--input", "0:size@640x480",
                          "--screenshot", path("narrow_stats_wide.bmp")],
    "short_graphs": ["--frames", "30", "--size", "480x360", "--stats", "--screenshot", path("short_graphs.bmp")],
    "short_bars": ["--frames", "30", "--size", "640x432", "--stats", "--screenshot", path("short_bars.bmp")],
    "short": ["--frames", "30", "--size", "320x240", "--screenshot", path("short.bmp")],
    "short_stats": ["--frames", "30", "--size", "320x240", "--stats", "--screenshot", path("short_stats.bmp")],
    "narrow_help": ["--frames", "30", "--size", "320x240", "--input", "0:size@320x400,29:H", "--screenshot",
                    path("narrow_help.bmp")],
    "short_panel": ["--frames", "30", "--size", "320x240", "--stats", "--input", "0:size@320x400", "--screenshot",
                    path("short_panel.bmp")],
    "short_panel_plain": ["--frames", "30", "--size", "320x240", "--input", "0:size@320x400", "--screenshot",
                          path("short_panel_plain.bmp")],
}
with ThreadPoolExecutor(max_workers=2) as pool:
    small_procs = dict(zip(small_runs, pool.map(lambda a: run(*small, *a, timeout=120), small_runs.values())))
check(all(p.returncode == 0 for p in small_procs.values()), "--input: the short runs exit 0",
      "; ".join(f"{n}: {p.returncode} {p.stderr[-300:]}" for n, p in small_procs.items() if p.returncode))
sums = {name: summary(proc)[1] for name, proc in small_procs.items()}
check(sums["paused"] is not None and sums["paused"] == sums["forty"] != sums["sixty"],
      "--input: Space pauses: 60 frames with 20 paused simulate the world of 40", str(sums))
check(sums["paused_malloc"] is not None and sums["paused_malloc"] == sums["forty"],
      "--input: the paused frames carry the particles on the malloc backend too", str(sums))
counts = {}
for name, proc in small_procs.items():
    m = re.search(r"^particles (\d+)", proc.stdout, re.M)
    counts[name] = int(m.group(1)) if m else None
check(counts["target"] == 2000 and counts["more"] == 4000 and counts["fewer"] == 1000,
      "--input: + and - double and halve the particle target", str(counts))
# A key held down sends repeats, which change nothing more: + held for two
# repeats doubles the target once, and Space held pauses (the same world as
# the press alone, and not that of the run never paused).
check(sums["held"] is not None and sums["held"] == sums["pressed"] != sums["more"] and
      counts["held"] == counts["pressed"],
      "--input: a key held down acts once, at its press, not again at each repeat",
      f"checksums {sums['held']}, {sums['pressed']} (pressed), {sums['more']} (never paused); "
      f"particles {counts['held']}, {counts['pressed']}")
m = re.search(r"^frames (\d+)", small_procs["escape"].stdout, re.M)
check(m and m.group(1) == "11", "--input: Escape at frame 10 quits after it", small_procs["escape"].stdout[:300])
check(os.path.exists(path("escape.bmp")), "--screenshot saves the last frame of a run that quits before --frames")
# Headless, SDL makes vsync wait for a simulated 60 Hz refresh in present,
# so frames with V on take 16.7 ms however fast the machine: a lower bound
# only, which a slow machine cannot break (the runs set --fps 0, no cap).
m = re.search(r"^frames \d+\s+frame ms: mean ([0-9.]+)", small_procs["vsync"].stdout, re.M)
check(m and float(m.group(1)) >= 12, "--input: V turns vsync on: frames wait for the (simulated) refresh",
      small_procs["vsync"].stdout[:300])
# The frame cap: frames start on a schedule of one every 1/60 s and never
# before their time, so 61 frames span at least a second. An upper bound on
# the rate only, which a slow machine cannot break. Sleeping each frame's
# remainder in whole milliseconds, as the cap did before, ran at about 62.
m = re.search(r"^frames 61\s.*\srate ([0-9.]+) fps$", small_procs["capped"].stdout, re.M)
check(m and 0 < float(m.group(1)) <= 60 * 1.01, "--fps 60 caps the frame rate at 60 frames a second",
      small_procs["capped"].stdout[:300])
# The run ends with its last frame, whether --frames or Escape ends it: the
# cap does not wait for a frame that will not come. At --fps 1 that wait was
# a second, so these runs took more than one; they take a few hundredths.
for what, args in [("a run of --frames 1", ["--frames", "1"]),
                   ("a run quit by Escape", ["--frames", "5", "--input", "0:Escape"])]:
    started = time.monotonic()
    proc = run(*small, "--fps", "1", *args, timeout=60)
    took = time.monotonic() - started
    check(proc.returncode == 0 and re.search(r"^frames 1\s", proc.stdout, re.M) and took < 0.75,
          f"--fps 1: {what} ends after frame 0, with no wait for another frame",
          f"rc {proc.returncode}, {took:.2f} s: {proc.stdout[:200]}")
    check(re.search(r"^frames 1\s.*\srate -$", proc.stdout, re.M),
          f"{what}: a run of one frame has no rate to print (a dash, not 0 fps)", proc.stdout[:200])
# The frame-time graph's red line is a frame at the --fps cap: 33.3 ms at 30,
# 16.7 at 60. The graph's top is the largest of 20 ms, a tenth above the line
# and a tenth above the slowest frame shown (at most the summary's max), but
# no more than three frames at the line's time: so the line's row lies
# between where a fast run puts it and where the slowest frame would. With
# frames under 33 ms, a red line left at 16.7 ms whatever the cap, as it
# was before, misses the 30 fps run's rows.
for fps in (30, 60):
    proc, shot = small_procs[f"mark{fps}"], path(f"mark{fps}.bmp")
    m = re.search(r"^frames \d+\s+frame ms: .*\smax ([0-9.]+)\s", proc.stdout, re.M)
    if not m or not os.path.exists(shot):
        check(False, f"--fps {fps}: the run printed its summary and saved its screenshot", proc.stdout[:300])
        continue
    mark, slowest, pic = 1000 / fps, float(m.group(1)), read_bmp(shot)[2]
    top, height = (graph_boxes(pic) or [None, (0, 0)])[1]
    first = top + height * (1 - mark / max(20, 1.1 * mark))
    last = top + height * (1 - mark / max(20, 1.1 * mark, min(1.1 * slowest, 3 * mark)))
    rows = red_rows(pic, top, height)
    check(height and len(rows) == 1 and first - 1 <= rows[0] <= last + 0.5,
          f"--fps {fps}: the frame-time graph's red line is a frame at {fps} fps ({mark:.1f} ms)",
          f"red rows {rows}, expected from {first:.1f} to {last:.1f} (slowest frame {slowest} ms; the box at "
          f"{top}, {height} high)")
# A hitch: the run stopped (SIGSTOP) for half a second once its report has
# rows (its first 4 KiB, about frame 40 of 200), with no frame cap, so the
# stop falls in a frame's work. The frame-time graph keeps its scale at three
# frames at the red line's time (60 Hz: 16.7 of 50 ms), the red line two
# thirds down the box, and draws the hitch a row under its top edge; a scale
# that took the hitch in put the red line on the box's bottom edge, where a
# layout check of a loaded machine's run could not find the edge, and a line
# on the top edge hid that edge where many frames were that slow (the
# checked build's 20,000 particles, on a machine busy twice over).
hitch_report = path("hitch.csv")
hitch = subprocess.Popen([demo, *small, "--frames", "200", "--stats", "--report", hitch_report, "--screenshot",
                          path("hitch.bmp")], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                         env=dict(os.environ, SDL_VIDEODRIVER="dummy"))
stopped = False
while hitch.poll() is None and not stopped:
    if os.path.exists(hitch_report) and os.path.getsize(hitch_report) > 0:
        hitch.send_signal(signal.SIGSTOP)
        time.sleep(0.5)
        hitch.send_signal(signal.SIGCONT)
        stopped = True
    time.sleep(0.005)
hitch_out = hitch.communicate(timeout=300)[0]
hitch_ms = [float(r["frame_ms"]) for r in report("hitch.csv")] if hitch.returncode == 0 else []
pic = read_bmp(path("hitch.bmp"))[2] if hitch.returncode == 0 else []
box = (graph_boxes(pic) or [None, None])[1]
red = red_rows(pic, *box) if box else []
expected = box[0] + box[1] * (1 - 1 / 3) if box else 0
on_edge = sum(pic[box[0]][x * 4: x * 4 + 3] == TIME_LINE for x in range(14, 534)) if box else None
check(stopped and hitch_ms and max(hitch_ms) >= 400 and len(red) == 1 and abs(red[0] - expected) <= 1,
      "F1: a hitch of half a second leaves the frame-time graph's scale at three 60 Hz frames, the red line in place",
      f"stopped {stopped}, rc {hitch.returncode}, slowest frame {max(hitch_ms, default=0):.1f} ms, red rows {red}, "
      f"expected {expected:.1f} (box {box}): {hitch_out[-300:]}")
check(stopped and hitch_ms and max(hitch_ms) >= 400 and on_edge == 0,
      "F1: the hitch is drawn under the frame-time graph's top edge, not on it",
      f"slowest frame {max(hitch_ms, default=0):.1f} ms; {on_edge} pixels of the line on the edge's row (box {box})")
# Without a font the overlay still draws its graphs, says why once, and
# prints its text: at the first frame it is shown, then once a second (so
# the first text printed is frame 0's, however slow the build).
no_font = small_procs["no_font"].stdout
check(f"cannot open the overlay font {path('missing.ttf')}" in no_font and "--font PATH" not in no_font,
      "--font with a file that is not there: the demo says it cannot open that font", no_font[:300])
OVERLAY_TEXT = r"^committed [0-9.]+ MiB  reserved [0-9]+ MiB"  # a line of the overlay's panel (overlay.c)
printed = re.findall(r"^frame (\d+)\s", no_font, re.M)
check(printed and printed[0] == "0" and len(re.findall(OVERLAY_TEXT, no_font, re.M)) == len(printed),
      "without a font the overlay prints its text to stdout, from the first frame", no_font[:600])
# The overlay gives each backend's time spent allocating a frame, over the
# last 60 frames that ran on it alone: a row of mean, median (nearest rank)
# and slowest each, under a row of the columns' heads. F2 at frame 10 leaves
# frames 10 and 11 to both (they free the arena's frames' malloc blocks, of
# which there are none, then allocate from malloc), so the arena's row is
# frames 0 to 9's and malloc's that of frames 12 on, as the report gives them
# (to 4 decimals, as the overlay prints them: rounding keeps the order, so
# the median and the slowest are the report's values at their ranks, and
# the mean within 1e-4 of the report's). The line printed before the rows,
# "frame N", says which frames had ended; the text is printed once a
# second, so the 150 frames of at least 1/60 s print it at least twice
# after frame 12, however slow the build.
compare = report("compare.csv")
times = [float(r["alloc_ms"]) for r in compare]
compare_printed = re.findall(r"^frame (\d+)\s.*\n(ms allocating .*)\n(arena .*)\n(malloc .*)$",
                             small_procs["compare"].stdout, re.M)
later = [(frame, rows) for frame, *rows in compare_printed if int(frame) > 12]
problems = [] if len(compare) == 150 and later else [f"{len(compare)} rows, printed {compare_printed}"]


def window_row(name, values):
    """The overlay's row for these frames' times (mean, median, slowest), the mean as a number."""
    mean = sum(values) / len(values)
    return name, mean, f"{nearest_rank(values, 0.5)}  {max(values):.4f}"


def nearest_rank(values, q):
    return f"{sorted(values)[max(math.ceil(q * len(values)), 1) - 1]:.4f}"


if not problems:
    heads = ["ms allocating    mean  median     max", "arena (on)          -       -       -",
             "malloc              -       -       -"]
    if compare_printed[0] != ("0", *heads):
        problems.append(f"at frame 0: {compare_printed[0]}")
    for frame, rows in later:
        expect = [window_row("arena", times[:10]),
                  window_row("malloc (on)", times[max(12, int(frame) - 60): int(frame)])]
        if rows[0] != heads[0]:
            problems.append(f"at frame {frame}: the heads {rows[0]!r}")
        for row, (name, mean, rest) in zip(rows[1:], expect):
            m = re.fullmatch(r"(.{13}) *([0-9.]+) +([0-9.]+) +([0-9.]+)", row)
            if not m or m.group(1).rstrip() != name or abs(float(m.group(2)) - mean) > 1.01e-4 or \
                    f"{m.group(3)}  {m.group(4)}" != rest or len(row) != len(heads[0]):
                problems.append(f"at frame {frame}: {row!r}; from the report: mean {mean:.5f}, median and max {rest}")
check(not problems, "F1: the overlay gives both backends' mean, median and slowest time allocating a frame, "
      "from frames on each alone", "; ".join(problems))
# The panel's lines on the last frame's allocations follow the backend it
# ran on (F2 at frame 10 makes it frame 10's): the frame arena's sample,
# then malloc's blocks and bytes (the arena's would read 0), as the report
# has them for the frame before the one printed. The bytes in each worker's
# lane so far are the stack's top, or on malloc what the lane asked for:
# both workers have some in each frame printed on malloc.
problems = [] if len(compare) == 150 else [f"{len(compare)} rows"]
last_printed = re.findall(r"^frame (\d+)\s.*\n(?:.*\n){3}particles .* lanes ([0-9.]+)-[0-9.]+ MiB\n"
                          r"(last frame: .*)\n.*\n(failed .*)$", small_procs["compare"].stdout, re.M)
for frame, lane_min, last, failed in last_printed if not problems else []:
    if int(frame) > 12 and float(lane_min) == 0:
        problems.append(f"at frame {frame}: a lane with 0.00 MiB")
    before = compare[int(frame) - 1] if int(frame) > 0 else dict.fromkeys(["used", "peak", "pushes"], "0")
    mib = lambda key: f"{int(before[key]) / 1048576:.2f}"
    if int(frame) <= 10:
        expect = (f"last frame: used {mib('used')} MiB  peak {mib('peak')} MiB  pushes {before['pushes']}",
                  "failed pushes 0")
    else:
        expect = (f"last frame: malloc {mib('alloc_bytes')} MiB in {before['allocs']} blocks (the arena idle)",
                  "failed mallocs 0")
    if last != expect[0] or not failed.startswith(expect[1] + "  "):
        problems.append(f"at frame {frame}: {last!r}, {failed!r}; expected {expect}")
check(not problems and any(int(f) <= 10 for f, *_ in last_printed) and any(int(f) > 12 for f, *_ in last_printed),
      "F1: the overlay gives the last frame's allocations as its backend had them",
      "; ".join(problems) or str(last_printed))
# When a frame runs out of memory the demo goes on (both runs exit 0, with
# the others above): a failed push is counted once, in the report's
# `failed` (a NULL for the demo) and in the frame arena's stats, which the
# overlay prints for the frame before; the exit summary's failed pushes are
# the report's. The frame arena reserves its 2 buffers x 2 lanes of
# 1 MiB, no more. What is short degrades, and nothing empties the world:
# a lane that cannot hold its part of the quads builds what it can hold,
# and lane 0 draws the rest in batches from one buffer, popped after (the
# report's `batched`: in "tight", lane 0's part of its half, and in
# "crowded" all of lane 0's half and part of lane 1's); every particle is
# drawn. In "crowded" the world stops growing below its target of 60,000,
# the emitters holding back their spawns in each frame (the report's
# `held`, summed in the exit summary), while every particle it has is
# kept.
problems = []
for name in ("tight", "crowded"):
    rows, proc = report(f"{name}.csv"), small_procs[name]
    failed = [int(r["failed"]) for r in rows]
    m = re.search(r"^arena: .*  reserved (\d+) MiB", proc.stdout, re.M)
    length = 150 if name == "tight" else 90
    if len(rows) != length or summary(proc)[0] != sum(failed) or not m or m.group(1) != "4":
        problems.append(f"{name}: {len(rows)} rows, {sum(failed)} failed in the report; {proc.stdout[-600:]}")
        continue
    if sum(f > 0 for f in failed[30:]) < (120 if name == "tight" else 60):
        problems.append(f"{name}: pushes failed in {sum(f > 0 for f in failed[30:])} of frames 30 to {length - 1}")
    # a block refused counts in `failed` alone: the blocks and bytes are
    # those the stack took, as without failures, the batch buffer's among
    # them though it was popped (at most QUAD_BYTES for each quad drawn in
    # batches)
    given = [(r["pushes"], r["used"], r["allocs"], r["alloc_bytes"], r.get("batched") or "0") for r in rows]
    if any(a != p or int(b) - QUAD_BYTES * int(q) > int(u) for p, u, a, b, q in given):
        problems.append(f"{name}: (pushes, used, allocs, alloc_bytes, batched) {given[20:40]}")
    particles, drawn, held, shed, batched = (column(rows, k) for k in ("particles", "drawn", "held", "shed",
                                                                        "batched"))
    if 0 in particles or any(shed) or losses(proc) != (0, 0, sum(held)):
        problems.append(f"{name}: particles {particles[::10]}, shed {shed[::10]}, "
                        f"held {held[::10]}; the exit summary's drops, shed and held back {losses(proc)}")
    before = next((i for i, f in enumerate(failed) if f), length)
    # lane 0's part of its half (tight), or all of it and part of lane 1's
    batches = (lambda p, b: 0 < b < p // 2) if name == "tight" else (lambda p, b: p // 2 < b < p)
    if drawn != particles or any(batched[:before]) or \
            any(not batches(p, b) for p, b in zip(particles[30:], batched[30:])):
        problems.append(f"{name}: the first failure at frame {before}; (particles, drawn, batched) "
                        f"{list(zip(particles, drawn, batched))[::10]}")
    if name == "tight" and (sum(held) or particles[-1] < 19000):
        problems.append(f"tight: {sum(held)} held back, {particles[-1]} particles at the end")
    if name == "crowded" and (not 20000 < min(particles[30:]) <= max(particles[30:]) < 50000 or 0 in held[30:]):
        problems.append(f"crowded: particles {particles[30::10]}, held back {held[30::10]}")
    # The first frame with failures is reported on stdout, once.
    said = re.findall(r"^demo: frame (\d+): (\d+) allocations? failed, out of the frame arena's reservation "
                      r"\(--frame-reserve\) or of memory \(reported once", proc.stdout, re.M)
    first = next((i for i, f in enumerate(failed) if f), None)
    if said != [(str(first), str(failed[first] if first is not None else None))]:
        problems.append(f"{name}: the first frame with failures, {first}, reported as {said}")
tight = report("tight.csv")
tight_printed = [(int(f), int(n)) for f, n in re.findall(r"^frame (\d+)\s(?:.*\n)+?failed pushes (\d+)  ",
                                                        small_procs["tight"].stdout, re.M)]
later = [(f, n) for f, n in tight_printed if f > 30]
if len(tight) == 150 and (not later or any(n != int(tight[f - 1]["failed"]) or n == 0 for f, n in later)):
    problems.append(f"tight: the overlay printed {tight_printed}; the report's failed "
                    f"{[tight[f - 1]['failed'] for f, _ in tight_printed if f > 0]}")
# The overlay says how the frame made do, in the frame that did: in
# "tight" the particles drawn and those in batches, as the report has them,
# from the first frame that drew some in batches; never in "compare", which
# has the memory.
short = {f: re.search(r"^short of frame memory: drawn (\d+) \((\d+) in batches\)  held back 0  shed 0$", b, re.M)
         for f, b in overlay_text(small_procs["tight"]).items()}
if len(tight) == 150 and (not [f for f in short if f > 30] or
                          any(bool(m) != (tight[f].get("batched", "0") != "0") or
                              (m and m.groups() != (tight[f]["drawn"], tight[f].get("batched")))
                              for f, m in short.items())):
    problems.append(f"tight: the overlay printed {[(f, m and m.group(0)) for f, m in short.items()]}; the report's "
                    f"drawn and batched {[(f, tight[f]['drawn'], tight[f].get('batched')) for f in short]}")
if "short of frame memory" in small_procs["compare"].stdout:
    problems.append("compare: the overlay says the frame was short of memory")
check(not problems, "--frame-reserve: frames that run out of frame memory fail their pushes, are counted, draw "
      "every particle, in batches what a lane cannot hold, hold back spawns that do not fit, and the demo goes on",
      "; ".join(problems))
# Batches draw in the order the lanes would have: the picture of a world
# whose quads are partly drawn in batches is the same as with room for all.
rows = report("batched_shot.csv")
shots = [path(f"{name}_shot.bmp") for name in ("batched", "roomy")]
check(len(rows) == 40 and int(rows[-1].get("batched") or 0) > 1000 and all(map(os.path.exists, shots)) and
      open(shots[0], "rb").read() == open(shots[1], "rb").read(),
      "--frame-reserve: quads drawn in batches give the same picture as with room for all of them",
      f"{len(rows)} rows, the last {rows[-1] if rows else None}; screenshots {list(map(os.path.exists, shots))}")
# The line of failures is drawn in red while the last frame had some, in
# the panel's white otherwise: red text pixels (as a BMP stores them: blue,
# green, red) above the first graph after frames that failed, none in a
# panel after frames that did not. (The legend's orange "committed" has
# green above 110 wherever its red is above 200.)


def alert_pixels(pic):
    boxes = graph_boxes(pic)
    return boxes and sum(1 for y in range(boxes[0][0]) for x in range(10, 540)
                         if pic[y][x * 4 + 2] > 200 and pic[y][x * 4 + 1] < 110 and pic[y][x * 4] < 110)


# The bytes graph has a red tick down from its top edge over each frame
# whose pushes failed: a column of red line in the box's rows 1 to 6 for
# each frame the report gives failures (frames 0 to 38 are shown; the
# frames are 2.2 points apart), none where there were none.


def tick_columns(pic):
    boxes = graph_boxes(pic)
    return boxes and [x for x in range(14, 540) if all(pic[y][x * 4: x * 4 + 3] == RED_LINE
                                                       for y in range(boxes[0][0] + 1, boxes[0][0] + 7))]


if os.path.exists(path("tight_shot.bmp")) and os.path.exists(path("mark60.bmp")):
    pics = [read_bmp(path(name))[2] for name in ("tight_shot.bmp", "mark60.bmp")]
    red = [alert_pixels(pic) for pic in pics]
    check(red[0] and red[0] > 100 and red[1] == 0, "F1: the line of failures is red after a frame with failures",
          f"red text pixels: {red[0]} after failures, {red[1]} without")
    ticks = [tick_columns(pic) for pic in pics]
    failing = [r for r in report("tight_shot.csv")[:39] if r["failed"] != "0"]
    check(ticks[0] and len(ticks[0]) == len(failing) > 0 and ticks[1] == [],
          "F1: the bytes graph marks each frame whose pushes failed",
          f"tick columns {ticks[0]} after frames {[r['frame'] for r in failing]} failed; {ticks[1]} without failures")
else:
    check(False, "F1: the line of failures is red, and the graph marks the frames, after frames with failures",
          "no screenshot")
# A frame over the frame arena's soft budget (8 MiB) is reported once, with
# its peak, and the exit summary counts each one: the report's frames with
# a peak above it.
rows, proc = report("budget.csv"), small_procs["budget"]
over = [r for r in rows if int(r["peak"]) > 8 << 20]
said = re.findall(r"^demo: a frame used ([0-9.]+) MiB, over the frame budget \(reported once", proc.stdout, re.M)
m = re.search(r"^arena: .*  over budget (\d+)$", proc.stdout, re.M)
check(len(rows) == 40 and over and said == [f"{int(over[0]['peak']) / 1048576:.2f}"] and m and
      int(m.group(1)) == len(over) and summary(proc)[0] == 0,
      "a frame over the budget is reported once, and the exit summary counts every one",
      f"{len(over)} of {len(rows)} frames over, reported {said}; {proc.stdout[-400:]}")
# The reservation is the frame arena's: on malloc the same world has all
# its memory (60,000 particles from about frame 39 on), and nothing fails.
# On the arena from frame 45 (F2), that frame's step keeps the newest
# particles that lane 0 holds with their sort keys and sheds the others
# (the report's `shed`, in that frame alone; the exit summary sums it);
# the world goes on from there.
rows, proc = report("switch.csv"), small_procs["switch"]
on_malloc, on_arena = rows[:45], rows[45:]
particles, shed = column(rows, "particles"), column(rows, "shed")
check(len(rows) == 60 and all(r["backend"] == "malloc" and r["failed"] == "0" for r in on_malloc) and
      particles[44] == 60000 and all(r["backend"] == "arena" for r in on_arena) and
      20000 < particles[45] < 50000 and shed[45] >= 60000 - particles[45] and not any(shed[:45] + shed[46:]) and
      min(particles[45:]) > 20000 and losses(proc)[:2] == (0, shed[45]) and
      re.findall(r"^demo: frame (\d+): .* failed", proc.stdout, re.M) in ([], ["45"]),
      "--frame-reserve limits the frame arena, not malloc; switched to it, the world sheds its oldest particles",
      f"(backend, particles, shed, failed) {[(r['backend'], r['particles'], r.get('shed'), r['failed']) for r in rows[40:50]]}"
      f"; {proc.stdout[-600:]}")
# A part of the update that its thread's scratch cannot hold is compacted
# in place: the same particles, no drop, and the exit summary counts it,
# as the overlay does for its frame (frame 40: the one part of one thread).
in_place = {name: re.search(r"^scratch: peak [0-9.]+ MiB of (\d+) MiB reserved \(the fullest thread's\)  "
                            r"parts compacted in place (\d+)$", small_procs[name].stdout, re.M)
            for name in ("scratch_small", "scratch_default")}
overlay_in_place = [m and m.group(1) for m in (re.search(r"^scratch: .*\(the fullest thread's\)(.*)$",
                                                         overlay_text(small_procs[n]).get(40, ""), re.M)
                                               for n in ("scratch_small", "scratch_default"))]
check(in_place["scratch_small"] and in_place["scratch_default"] and
      in_place["scratch_small"].groups()[0] == "1" and int(in_place["scratch_small"].groups()[1]) > 0 and
      in_place["scratch_default"].groups() == ("128", "0") and
      sums["scratch_small"] is not None and sums["scratch_small"] == sums["scratch_default"] and
      losses(small_procs["scratch_small"]) == (0, 0, 0) and summary(small_procs["scratch_small"])[0] == 0 and
      overlay_in_place == ["  in place 1", ""],
      "--scratch-reserve: an update its scratch cannot hold is compacted in place, to the same world, and counted",
      f"{sums['scratch_small']} {sums['scratch_default']}; the overlay's {overlay_in_place}; " +
      "; ".join(small_procs[n].stdout[-300:] for n in ("scratch_small", "scratch_default")))
# A malloc that fails: the shim refuses every block above 1 MiB. The same
# world as "crowded", on malloc: a lane's quads fail from about 20,000
# particles (that lane then asks for half of them, and draws those where
# they fit), the update's array from about 44,000, when the step asks for
# half of it, keeping the newest particles: the rest are shed (the report's
# `shed`, summed in the exit summary), and the world never empties. Each
# failure is counted once, the first is reported, the run ends at its last
# frame, and the overlay's line of failures is red after frame
# MALLOC_FAIL_FRAMES - 2, which failed. With every block above 256 bytes
# refused, no step can have its grid: each drops every particle (`drops`),
# and the demo goes on.
MALLOC_FAIL_FRAMES = 50
NAME = ("a malloc that fails: counted once, the first reported, the line red, half the quads drawn in batches, "
        "the oldest particles shed, the demo goes on")
if fail_alloc:
    def refusing(above):
        return preloaded(fail_alloc, FAIL_ALIGNED_ALLOC_ABOVE=str(above))
    proc = run(*small, "--frames", str(MALLOC_FAIL_FRAMES), "--particles", "60000", "--backend", "malloc", "--stats",
               "--report", path("malloc_fail.csv"), "--screenshot", path("malloc_fail.bmp"), timeout=120,
               env=refusing(1 << 20))
    rows = report("malloc_fail.csv")
    failed, particles, shed, drawn, batched = (column(rows, k) for k in ("failed", "particles", "shed", "drawn",
                                                                         "batched"))
    halved = [i for i, n in enumerate(shed) if n]
    # between about 20,200 and 40,300 particles each lane's quads are
    # refused and half of them fit: each lane builds half of its part, and
    # the other halves are drawn in batches (of 2,048 quads, 208 KiB)
    lanes_halved = [(p, d, b) for p, d, b in zip(particles, drawn, batched) if 21000 < p < 40000]
    first = next((i for i, f in enumerate(failed) if f), None)
    said = re.findall(r"^demo: frame (\d+): (\d+) allocations? failed, malloc returned NULL \(reported once",
                      proc.stdout, re.M)
    red = alert_pixels(read_bmp(path("malloc_fail.bmp"))[2]) if os.path.exists(path("malloc_fail.bmp")) else None
    check(proc.returncode == 0 and len(rows) == MALLOC_FAIL_FRAMES and summary(proc)[0] == sum(failed) > 0 and
          said == [(str(first), str(failed[first] if first is not None else None))] and
          halved and all(particles[i] <= particles[i - 1] // 2 + 2000 for i in halved) and 0 not in particles and
          lanes_halved and all(d == p and b == p - p // 2 // 2 - (p - p // 2) // 2 for p, d, b in lanes_halved) and
          losses(proc)[:2] == (0, sum(shed)) and failed[-2] > 0 and red and red > 100,
          NAME, f"exit {proc.returncode}, {len(rows)} rows, failed {failed}, shed in frames {halved}, (particles, "
          f"drawn, batched) {lanes_halved[:8]}, particles "
          f"{particles[::5]}, first reported {said}, {red} red pixels; {proc.stderr[-300:]} {proc.stdout[-500:]}")
    proc = run(*small, "--frames", "30", "--backend", "malloc", "--report", path("malloc_grid.csv"), timeout=120,
               env=refusing(256))
    rows = report("malloc_grid.csv")
    check(proc.returncode == 0 and len(rows) == 30 and all(r["particles"] == "0" for r in rows) and
          losses(proc) and losses(proc)[0] == 30 and summary(proc)[0] == sum(int(r["failed"]) for r in rows) > 30,
          "a malloc that refuses the grid: each step drops every particle, counted, and the demo goes on",
          f"exit {proc.returncode}, {len(rows)} rows; {proc.stdout[-400:]}")
    # Above 8 KiB, on one thread: the world keeps 198 to 330 particles. Of
    # 198 or 330, the lane is refused their quads (20 KiB or more) and half
    # of them, and so is a batch buffer for them all and one for half; one
    # for fewer than 64 quads is not asked for, and none is drawn. Of 264,
    # a buffer for a quarter (66 quads, 7 KiB) is given, and all are drawn
    # in four batches. Each refusal is counted, the overlay (printed at frame 29, F1)
    # says what was drawn, and the demo goes on.
    proc = run(*small, "--frames", "30", "--threads", "1", "--backend", "malloc", "--report",
               path("malloc_batch.csv"), "--font", path("missing.ttf"), "--input", "29:F1", timeout=120,
               env=refusing(8 << 10))
    rows = report("malloc_batch.csv")
    failed, particles, drawn, batched, held, shed = (column(rows, k) for k in ("failed", "particles", "drawn",
                                                                               "batched", "held", "shed"))
    none = [i for i in range(5, len(rows)) if drawn[i] < particles[i]]
    said = overlay_text(proc).get(29, "")
    m = re.search(r"^short of frame memory: drawn (\d+) \((\d+) in batches\)  held back (\d+)  shed (\d+)$", said,
                  re.M)
    check(proc.returncode == 0 and len(rows) == 30 and len(none) >= 10 and
          all(drawn[i] == 0 < particles[i] and failed[i] >= 4 for i in none) and
          all(drawn[i] == batched[i] == particles[i] for i in range(5, 30) if i not in none) and
          summary(proc)[0] == sum(failed) and m and
          m.groups() == tuple(str(c[29]) for c in (drawn, batched, held, shed)),
          "a malloc that refuses even a small batch: the quads are not drawn, counted, and the demo goes on",
          f"exit {proc.returncode}, {len(rows)} rows, frames drawing none {none}, (particles, drawn, batched, failed) "
          f"{list(zip(particles, drawn, batched, failed))[5::3]}, the overlay's {m and m.group(0)}; "
          f"{proc.stdout[-400:]}")
else:
    skip(NAME, "no shim: a sanitizer's aligned_alloc linked into the program, which the shim cannot come before")
    skip("a malloc that refuses the grid: each step drops every particle, counted, and the demo goes on", "no shim")
    skip("a malloc that refuses even a small batch: the quads are not drawn, counted, and the demo goes on", "no shim")
# The exit summary gives the means over every frame on each alone, their
# counts (frames 0 to 9 and 12 to 149), and their medians and 99th
# percentiles by nearest rank: the report's values at those ranks, which
# both print to 4 decimals (rounding keeps the order).
m = re.search(r"^allocating a frame: frame arena ([0-9.]+) ms \(10 frames; median ([0-9.]+), p99 ([0-9.]+)\)  "
              r"malloc ([0-9.]+) ms \(138 frames; median ([0-9.]+), p99 ([0-9.]+)\)$", small_procs["compare"].stdout, re.M)
check(m and len(compare) == 150 and abs(float(m.group(1)) - sum(times[:10]) / 10) <= 2e-4 and
      abs(float(m.group(4)) - sum(times[12:]) / 138) <= 2e-4,
      "the exit summary gives both backends' mean time allocating a frame, over the frames on each alone",
      small_procs["compare"].stdout[-600:])
ranks = m and len(compare) == 150 and [nearest_rank(part, q) for part in (times[:10], times[12:]) for q in (0.5, 0.99)]
check(ranks and ranks == [m.group(2), m.group(3), m.group(5), m.group(6)],
      "the exit summary gives both backends' median and 99th percentile time allocating a frame",
      f"the report's {ranks}; {small_procs['compare'].stdout[-600:]}")
m = re.search(r"^allocating a frame: frame arena [0-9.]+ ms \(30 frames; median [0-9.]+, p99 [0-9.]+\)  "
              r"malloc - \(0 frames\)$", small_procs["plain"].stdout, re.M)
check(m, "the exit summary says when a backend never ran", small_procs["plain"].stdout[-600:])
# Without a font the help has no box to be drawn in: it is printed, once
# each time H shows it (here at frames 5 and 15), and the picture is the
# plain run's but for the line of keys, whose text is not drawn.
help_out = small_procs["no_font_help"].stdout
help_pic = read_bmp(path("no_font_help.bmp")) if os.path.exists(path("no_font_help.bmp")) else None
plain_pic = read_bmp(path("plain.bmp")) if os.path.exists(path("plain.bmp")) else None
check(len(re.findall(r"^Esc {15}quit$", help_out, re.M)) == 2 and
      len(re.findall(r"^F1 / --stats {6}allocation overlay", help_out, re.M)) == 2 and help_pic and plain_pic and
      help_pic[2][:help_pic[1] - KEY_LINE] == plain_pic[2][:plain_pic[1] - KEY_LINE],
      "without a font, H prints the help each time it shows it, and draws no empty box", help_out[:600])
no_font_pic = read_bmp(path("no_font.bmp"))[2] if os.path.exists(path("no_font.bmp")) else None
no_font_boxes = no_font_pic and graph_boxes(no_font_pic)
check(no_font_boxes and len(red_rows(no_font_pic, *no_font_boxes[1])) == 1 and
      graph_pixels(no_font_pic)["committed"] > 10,
      "without a font the overlay still draws its graphs",
      str(no_font_pic and (no_font_boxes, graph_pixels(no_font_pic))))
if os.path.exists(path("own.ttf")):
    for name, what in [("own_font", "--font with a TrueType file"), ("mark60", "without --font")]:
        out = small_procs[name].stdout
        check("overlay font" not in out and not re.search(OVERLAY_TEXT, out, re.M),
              f"{what}: the overlay opens its font and prints no text to stdout", out[:300])
    # The world is the same in both runs (same seed, same steps): the text
    # is what differs, in the panel's first lines.
    own_pic = read_bmp(path("own_font.bmp"))[2] if os.path.exists(path("own_font.bmp")) else None
    differ = sum(own_pic[y][x * 4: x * 4 + 3] != no_font_pic[y][x * 4: x * 4 + 3] for x, y in PANEL_TEXT) \
        if own_pic and no_font_pic else 0
    check(differ > len(PANEL_TEXT) // 20, "--font: the overlay draws its text in the font named",
          f"{differ} of {len(PANEL_TEXT)} pixels differ from the run without a font")
else:
    skip("--font: the overlay draws its text in the font named", f"no {DEBIAN_FONT} to copy")
# A resized window shows the whole scene, as big as fits and centred, the
# rest the clear colour: the same pixels as the window of --size's, where
# the scale is 1. The screenshot is the whole window. The line of keys is
# the overlay's, drawn in the window's pixels along the window's bottom:
# its rows are left out.
CLEAR = bytes((20, 12, 12))  # main.c's SDL_RenderClear colour as a BMP stores it
for name, (w, h), (dx, dy) in [("letterbox", (640, 480), (0, 60)), ("pillarbox", (960, 360), (160, 0))]:
    problems = []
    if not (os.path.exists(path(f"{name}.bmp")) and os.path.exists(path("plain.bmp"))):
        problems.append("no screenshot")
    else:
        sw, sh, shot = read_bmp(path(f"{name}.bmp"))
        _, _, plain = read_bmp(path("plain.bmp"))
        if (sw, sh) != (w, h) or f"window {w}x{h}" not in small_procs[name].stdout:
            problems.append(f"a {sw}x{sh} screenshot; {small_procs[name].stdout[-200:]}")
        else:
            scene = [(x, y) for y in range(360 - KEY_LINE) for x in range(640) if y + dy < h - KEY_LINE]
            moved = sum(shot[y + dy][(x + dx) * 4: (x + dx) * 4 + 3] != plain[y][x * 4: x * 4 + 3] for x, y in scene)
            bars = [(x, y) for y in range(h - KEY_LINE) for x in range(w)
                    if not (dx <= x < dx + 640 and dy <= y < dy + 360)]
            drawn = sum(shot[y][x * 4: x * 4 + 3] != CLEAR for x, y in bars)
            if moved or drawn or not bars:
                problems.append(f"{moved} pixels of the scene differ from the 640x360 window's, {drawn} of "
                                f"{len(bars)} of the bars are not the clear colour")
    check(not problems, f"--input: a window resized to {w}x{h} shows the scene unscaled and centred, in bars",
          "; ".join(problems))


def text_pixel(pixel):
    """Text, in the overlay's boxes: the scene under them is darkened to
    less than 100 in each channel, and the text is 170 or 235 grey."""
    return min(pixel[:3]) >= 150


def text_pixels(pic, region):
    """The pixels of a region (x0, y0, x1, y1) that look like the overlay's
    text: grey or white, brighter than a scene darkened by its panels. Made
    for a picture that was halved, whose text's edges average down below
    text_pixel's 150: it takes dimmer pixels than text_pixel, and only grey
    ones, so that no coloured particle counts."""
    x0, y0, x1, y1 = region
    found = set()
    for y in range(y0, min(y1, len(pic))):
        for x in range(x0, x1):
            bgr = pic[y][x * 4: x * 4 + 3]
            if min(bgr) > 120 and max(bgr) - min(bgr) < 40:
                found.add((x, y))
    return found


def near(these, those):
    """The share of these pixels within one pixel of one of those."""
    return sum(any((x + dx, y + dy) in those for dx in (-1, 0, 1) for dy in (-1, 0, 1))
               for x, y in these) / max(1, len(these))


# The line of keys wraps into rows that fit the window. In the letterbox
# run's bottom bar (the clear colour), its band is every row that is not:
# in a window 640 wide, two rows of 16 and 6 of margin, text in each row.
if os.path.exists(path("letterbox.bmp")):
    w, h, shot = read_bmp(path("letterbox.bmp"))
    band = [y for y in range(h - 60, h) if shot[y][2 * 4: 2 * 4 + 3] != CLEAR]
    in_rows = [sum(text_pixel(shot[y][x * 4: x * 4 + 4]) for y in range(h - 35 + 16 * i, h - 19 + 16 * i)
                   for x in range(w)) for i in range(2)]
    at_edge = sum(text_pixel(shot[y][x * 4: x * 4 + 4]) for y in range(h - 60, h) for x in range(w - 8, w))
    check(band == list(range(h - 38, h)) and all(n > 50 for n in in_rows) and not at_edge,
          "the line of keys takes two rows in a window 640 wide, none of it cut at the edge",
          f"band rows {band[:1]} to {band[-1:]}, text pixels in its rows {in_rows}, {at_edge} at the right edge")
# The overlay is drawn in the window's pixels, not scaled with the scene:
# in a window of twice the size its first graph starts where it does at
# --size (640x360, where the graphs are lower to fit), and both are
# GRAPH_H (64) high.
doubled = read_bmp(path("stats_doubled.bmp"))[2] if os.path.exists(path("stats_doubled.bmp")) else None
doubled_boxes = doubled and graph_boxes(doubled)
at_size = graph_boxes(read_bmp(path("mark60.bmp"))[2]) if os.path.exists(path("mark60.bmp")) else None
check(doubled_boxes and at_size and doubled_boxes[0][0] == at_size[0][0] and
      [h for _, h in doubled_boxes] == [64, 64] and graph_pixels(doubled)["committed"] > 20 and
      len(red_rows(doubled, *doubled_boxes[1])) == 1,
      "--input: in a window of twice the size, the overlay keeps its size and place",
      str(doubled and (doubled_boxes, at_size, graph_pixels(doubled))))
# In a window narrower than the overlay's panel (540 points), the panel
# narrows to fit, its lines wrap to its width and its graphs narrow: at 320
# wide (the panel from x 4 to 316, its text from 12 to 312), no text in
# the panel's last 3 columns, the panel's text above the first graph as
# much of it as in a window 640 wide of the same run (within a tenth: its
# times' digits vary; cut at the edge it was 72%), and both graphs whole
# above the line of keys (its top at 426), the newest frames at their right
# ends (x 250 to 309) shown.
if os.path.exists(path("narrow_stats.bmp")) and os.path.exists(path("narrow_stats_wide.bmp")):
    _, h, narrow = read_bmp(path("narrow_stats.bmp"))
    _, _, wide = read_bmp(path("narrow_stats_wide.bmp"))
    edges, wide_edges = box_rows(narrow, 312), box_rows(wide, 540)
    at_edge = sum(text_pixel(narrow[y][x * 4: x * 4 + 4]) for y in range(4, h - 54) for x in range(313, 316))
    text_in = {name: sum(text_pixel(pic[y][x * 4: x * 4 + 4]) for y in range(4, box[0]) for x in range(4, pw + 4))
               for name, pic, box, pw in [("narrow", narrow, edges, 312), ("wide", wide, wide_edges, 540)] if box}
    newest = sum(narrow[y][x * 4: x * 4 + 3] == GRAPH_LINES["committed"] for y in range(*edges[:2])
                 for x in range(250, 310)) if len(edges) == 4 else 0
    check(not at_edge and len(text_in) == 2 and text_in["narrow"] >= 0.9 * text_in["wide"],
          "--input: in a window 320 wide, the overlay's lines wrap to its panel, none of their text cut at its edge",
          f"{at_edge} text pixels at x 313-315; text above the first graph: {text_in}")
    check(len(edges) == 4 and edges[-1] < 426 and newest > 10,
          "--input: in a window 320 wide, the overlay's graphs are narrowed to fit, whole, their newest frames shown",
          f"box edges at rows {edges}, {newest} pixels of the committed line at x 250-309")
else:
    check(False, "--input: the narrow window's runs saved their screenshots")
# In a window too short for the graphs at full height, they are lower:
# at 480x360 the lines take 11 rows and the legends 4, and the graphs are
# 25 high, both whole above the line of keys (its top at 322) where at 64
# the second would be cut.
if os.path.exists(path("short_graphs.bmp")):
    edges = box_rows(read_bmp(path("short_graphs.bmp"))[2], 472)
    check(len(edges) == 4 and edges[-1] < 322 and edges[1] - edges[0] == edges[3] - edges[2] < 63,
          "--stats in a 480x360 window: the graphs are lower, to fit above the line of keys",
          f"box edges at rows {edges}")
else:
    check(False, "--stats in a 480x360 window: the run saved its screenshot")
# In a window too short for both graphs even at their lowest (24), the
# bytes graph alone takes the room left, up to 64, and the frame-time graph
# is left out with its legend: at 320x400 one box, over 24 high, whole
# above the line of keys (three rows there: its top at 346), and below the
# panel's bottom edge (8 under the box) the picture is the one without the
# overlay. With both kept at 24, the second was cut and its legend stood
# alone above the line of keys.
if os.path.exists(path("short_panel.bmp")) and os.path.exists(path("short_panel_plain.bmp")):
    _, _, short_panel = read_bmp(path("short_panel.bmp"))
    _, _, short_plain = read_bmp(path("short_panel_plain.bmp"))
    edges = box_rows(short_panel, 312)
    below = [y for y in range(edges[-1] + 9 if edges else 0, 346) if short_panel[y] != short_plain[y]]
    check(len(edges) == 2 and edges[1] - edges[0] > 24 and edges[1] < 346 - 8 and not below,
          "--stats in a 320x400 window: the bytes graph alone, as high as fits, and nothing of the other below it",
          f"box edges at rows {edges}; rows below the panel that differ from the run without it: {below[:8]}")
else:
    check(False, "--stats in a 320x400 window: the runs saved their screenshots")
# In a window too short for even one graph, both are left out and the
# panel's lines are cut above the line of keys (at 320x240, three rows of
# 16 and 6 of margin): there the pictures with and without the overlay are
# the same.
if os.path.exists(path("short.bmp")) and os.path.exists(path("short_stats.bmp")):
    _, h, short = read_bmp(path("short.bmp"))
    _, _, short_stats = read_bmp(path("short_stats.bmp"))
    differ = sum(short[y] != short_stats[y] for y in range(h - 54, h))
    check(short != short_stats and not differ, "--stats in a 320x240 window: the overlay stops above the line of keys",
          f"{differ} of 54 rows differ")
else:
    check(False, "--stats in a 320x240 window: the runs saved their screenshots")
# This frame's bytes per system, a bar each below the graphs in its colour
# (overlay.c: stats_panel; as a BMP stores it): in a window of 1280x720 all
# six; in one of 640x432, the two that fit above the line of keys (bars_top
# 336, its top 394) and a row of text below them that says how many more
# a taller window shows.
BARS = [bytes((160, 200 - 25 * s, 80 + 30 * s)) for s in range(6)]
bar_pics = {name: read_bmp(path(f"{name}.bmp"))[2] for name in ("stats_doubled", "short_bars")
            if os.path.exists(path(f"{name}.bmp"))}
bars = {name: [sum(pic[y][x * 4: x * 4 + 3] == bgr for y in range(len(pic)) for x in range(190, 550)) for bgr in BARS]
        for name, pic in bar_pics.items()}
more = "short_bars" in bar_pics and sum(text_pixel(bar_pics["short_bars"][y][x * 4: x * 4 + 4])
                                        for y in range(368, 384) for x in range(12, 300))
check(len(bars) == 2 and all(n >= 5 for n in bars["stats_doubled"]) and all(n >= 5 for n in bars["short_bars"][:2])
      and not any(bars["short_bars"][2:]) and more > 50,
      "--stats: the bytes per system, a bar each; in a window too short for all six, those that fit and a row that "
      "says how many more", f"bar pixels per system {bars}, {more} text pixels in the row below")
# With the stats panel on, in a window wide enough for both side by side
# (1280 wide: the panel from x 4 to 543), the help's box is 8 points right
# of the panel, not over it: right of the panel the run with H and the one
# without differ first at x 552. Over the panel, at x 40 as in a narrower
# window, the first difference would be at its edge, 544.
if all(os.path.exists(path(f"{n}.bmp")) for n in ("stats_doubled", "stats_help_doubled")):
    w, h, without = read_bmp(path("stats_doubled.bmp"))
    _, _, with_help = read_bmp(path("stats_help_doubled.bmp"))
    differ = [x for y in range(h - KEY_LINE) for x in range(544, w)
              if with_help[y][x * 4: x * 4 + 3] != without[y][x * 4: x * 4 + 3]]
    check(len(differ) > 10000 and min(differ) == 552,
          "--stats and H in a window 1280 wide: the help beside the stats panel, not over it",
          f"{len(differ)} pixels right of the panel differ, the leftmost at x {min(differ, default=None)}")
else:
    check(False, "--stats and H in a window 1280 wide: the runs saved their screenshots")
# The help, wrapped to a narrow window and too tall for it, shows the keys
# that fit and stops above the line of keys. Down the bottom bar (rows 320
# to 399 of a 320x400 window) at x 9: the help's box, a gap of the clear
# colour, then the line of keys' band to the bottom.
if os.path.exists(path("narrow_help.bmp")):
    _, _, shot = read_bmp(path("narrow_help.bmp"))
    column = [shot[y][9 * 4: 9 * 4 + 3] for y in range(320, 400)]
    # The help's box is bluish (its blue about twice its red; BMP pixels are
    # blue first), the band darker than the clear colour, its text grey.
    kinds = "".join("c" if p == CLEAR else "h" if p[0] >= 15 and p[0] > p[2] + 5 else "k" for p in column)
    check(re.fullmatch(r"h+c+k+", kinds), "--input: H in a window too short for the help shows the keys that fit, "
          "above the line of keys", f"down the bottom bar: {kinds} (h help, c clear, k line of keys)")
    # In a box this narrow, each key has a row to itself and what it does is
    # under it, indented: the rows of text that begin at the box's left
    # edge of text (x 18), above the line of keys (its top at 346), are the
    # six keys that fit and the row that says how many more, where beside a
    # column of what they do five fitted.
    lit = [y for y in range(346) if any(text_pixel(shot[y][x * 4: x * 4 + 4]) for x in range(18, 24))]
    key_rows = [y for i, y in enumerate(lit) if i == 0 or y - lit[i - 1] > 4]
    check(len(key_rows) == 7, "--input: in a window 320 wide, the help gives each key a row, what it does under it",
          f"rows of text from x 18 begin at {key_rows}")
else:
    check(False, "--input: the narrow window's run saved its screenshot")
check(sums["click"] is not None and sums["click_doubled"] == sums["click"] != sums["plain"] and
      "window 1280x720" in small_procs["click_doubled"].stdout,
      "--input: in a window of twice the size, a click at twice the coordinates throws the same burst", str(sums))
if all(os.path.exists(path(f"{n}.bmp")) for n in ("plain", "f1", "f1_off", "help")):
    w, h, plain = read_bmp(path("plain.bmp"))
    help_box = [(x, y) for y in range(h // 2 - 30, h // 2 + 30) for x in range(50, 300)]  # overlay.c: keys_and_help
    for name, what, panel in [("f1", "F1 shows the overlay", PANEL_TEXT), ("help", "H shows the help", help_box)]:
        _, _, shot = read_bmp(path(f"{name}.bmp"))
        differ = sum(shot[y][x * 4: x * 4 + 3] != plain[y][x * 4: x * 4 + 3] for x, y in panel)
        check(differ > len(panel) // 10, f"--input: {what}", f"{differ} of {len(panel)} pixels differ")
    # The help's lines wrap to fit the window: its text (where it differs
    # from the plain run's picture) stops 8 pixels before the right edge.
    _, _, shot = read_bmp(path("help.bmp"))
    text = [(x, y) for y in range(h - KEY_LINE) for x in range(w)
            if shot[y][x * 4: x * 4 + 3] != plain[y][x * 4: x * 4 + 3] and text_pixel(shot[y][x * 4: x * 4 + 4])]
    right = max((x for x, _ in text), default=None)
    check(text and right < w - 8, "--input: H shows the help in a window 640 wide, its lines wrapped to fit",
          f"{len(text)} text pixels, the rightmost at x {right}")
    _, _, off = read_bmp(path("f1_off.bmp"))
    check(off == plain, "--input: F1 after --stats hides the overlay: the same picture as without it")
else:
    check(False, "--input: the short runs wrote their screenshots")

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
    sampled = colours(one, w, h)
    check(len(sampled) > 50, "the screenshot is not blank", f"{len(sampled)} colours")
    differ = sum(one[y][x * 4: x * 4 + 3] != two[y][x * 4: x * 4 + 3] for x, y in PANEL_TEXT)
    check(differ > len(PANEL_TEXT) // 10, "the overlay region differs between --stats and no --stats",
          f"{differ} of {len(PANEL_TEXT)} pixels differ")
    # The panel stops above the line of keys, whatever it leaves out: there
    # the pictures with and without it are the same.
    differ = sum(one[y] != two[y] for y in range(h - KEY_LINE, h))
    check(not differ, "the overlay's panel stops above the line of keys", f"{differ} of {KEY_LINE} rows differ")
    # Both lines of the first graph are in its box.
    lines = graph_pixels(one)
    check(all(n > 100 for n in lines.values()), "the overlay graphs bytes used and committed per frame", str(lines))
    # Right of the overlay's panel (x 4 to 543), the two pictures are the
    # world alone: drawn from one lane or from two, part after part, the
    # same pixels.
    region = [(x, y) for y in range(h) for x in range(548, w)]
    differ = [(x, y) for x, y in region if one[y][x * 4: x * 4 + 3] != two[y][x * 4: x * 4 + 3]]
    world = {one[y][x * 4: x * 4 + 3] for x, y in region}
    check(not differ and len(world) > 50, "outside the overlay, 1 and 2 threads draw the same picture",
          f"{len(differ)} of {len(region)} pixels differ, first at {differ[:3]}; {len(world)} colours")
else:
    check(False, "screenshots were written")

for args, what in [
    (["--frames", "zero"], "--frames needs a number"),
    (["--particles", "-5"], "--particles needs a count"),
    (["--threads", "0"], "--threads needs a number from 1 to 64"),
    (["--size", "640by480"], "--size needs WxH"),
    (["--size", "4294967616x480"], "--size needs WxH"),  # 320 once it wraps to an int
    (["--size", "640x480x2"], "--size needs WxH"),
    (["--size", "-640x480"], "--size needs WxH"),
    (["--backend", "jemalloc"], "--backend is arena or malloc"),
    (["--frame-reserve", "0"], "--frame-reserve needs a number of MiB from 1 to 65536 (got '0')"),
    (["--frame-reserve", "65537"], "(got '65537')"),
    (["--frame-reserve", "1.5"], "(got '1.5')"),
    (["--frame-reserve"], "(got '')"),
    (["--scratch-reserve", "0"], "--scratch-reserve needs a number of MiB from 1 to 65536 (got '0')"),
    (["--scratch-reserve", "65537"], "(got '65537')"),
    (["--scratch-reserve", "-1"], "(got '-1')"),
    (["--scratch-reserve"], "(got '')"),
    (["--report"], "--report needs a file path"),
    (["--font"], "--font needs a file path"),
    (["--bogus"], "unknown option '--bogus'"),
    (["--input"], "--input needs a script"),
    (["--input", "10"], "--input items are FRAME:KEY, FRAME:held@KEY, FRAME:click@XxY or FRAME:size@WxH, keys as "
                        "SDL names them (got '10')"),
    (["--input", "10:F1,ten:R"], "(got 'ten:R')"),
    (["--input", "10:NoSuchKey"], "(got '10:NoSuchKey')"),
    (["--input", "10:held@NoSuchKey"], "(got '10:held@NoSuchKey')"),
    (["--input", "10:held@"], "(got '10:held@')"),
    (["--input", "10:click@5"], "(got '10:click@5')"),
    (["--input", "10:F1,,11:R"], "(got '')"),
    (["--input", "10:click@640x10"], "--input has a click at 640x10 at frame 10, outside the 640x360 window"),
    (["--input", "10:click@4294967297x10"], "(got '10:click@4294967297x10')"),  # 1 once it wraps to an int
    (["--input", "10:click@-1x10"], "(got '10:click@-1x10')"),
    (["--input", "10:size@640"], "(got '10:size@640')"),
    (["--input", "10:size@319x240"], "--input has a window size of 319x240 at frame 10; sizes are from 320x240 to "
                                     "8192x8192"),
    (["--input", "10:size@640x8193"], "--input has a window size of 640x8193 at frame 10"),
    # A click lands in the window of the last size played before it: one
    # later in the same frame's items does not count, and the script's
    # order is not the frames'.
    (["--input", "10:click@640x10,10:size@1280x720"], "--input has a click at 640x10 at frame 10, outside the "
                                                      "640x360 window"),
    (["--input", "20:size@800x400,10:size@1280x720,30:click@900x10"], "--input has a click at 900x10 at frame 30, "
                                                                     "outside the 800x400 window"),
    (["--frames", "30", "--input", "30:F1"], "--input has frame 30, but --frames 30 runs frames 0 to 29"),
    (["--input", ",".join(["1:F1"] * 257)], "--input takes at most 256 items"),
]:
    proc = run(*(["--size", "640x360"] if "--input" in args else []), *args, timeout=30)
    shown = " ".join(args) if len(" ".join(args)) < 60 else " ".join(args)[:40] + "..."
    check(proc.returncode == 2 and what in proc.stderr and "usage:" in proc.stderr,
          f"bad argument {shown} exits 2 with a message", proc.stderr[:500])
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
# Worker threads the system will not start (SDL's threads asked for stacks
# of 100 TB): the setup fails with a line that says so, and no frame runs.
proc = run("--headless", "--frames", "2", "--fps", "0", "--threads", "4", timeout=60,
           env=dict(os.environ, SDL_VIDEODRIVER="dummy", SDL_THREAD_STACK_SIZE=str(10 ** 14)))
check(proc.returncode == 1 and re.search(r"^frame_arena_demo: cannot start 3 worker threads \(--threads 4\): \S",
                                         proc.stderr, re.M) and "frames " not in proc.stdout,
      "worker threads that cannot start fail the setup with a line that says so",
      f"exit {proc.returncode}: {proc.stderr[-300:]} {proc.stdout[-200:]}")
# SDL's setup calls that fail under --headless, whose dummy driver and
# software renderer never do (tests/fail_sdl.c, preloaded, fails the one
# FAIL_SDL names): SDL that cannot start, a window or a renderer that
# cannot be made fail the setup with a line that says so and why, with no
# suggestion of --headless, exit status 1 and no frame run (and, under
# LeakSanitizer, nothing kept); a renderer refused only where it is asked
# to be accelerated gives way to the software one, and SDL_ttf that cannot
# start to the overlay printed without a font.
SETUP_FAILS = {"SDL_Init": "cannot start SDL", "SDL_CreateWindow": "cannot open a window",
               "SDL_CreateRenderer": "cannot open a window"}


def failing(call, why="no such device (tests/fail_sdl.c)"):
    return preloaded(fail_sdl, FAIL_SDL=call, FAIL_SDL_WHY=why)


SETUP_NAMES = ["--headless: SDL that cannot start, or a window or renderer that cannot be made, fails the setup "
               "with a line that says so and why",
               "--headless: a renderer refused where it is asked to be accelerated gives way to the software one",
               "--headless: SDL_ttf that cannot start leaves the overlay printed without a font, and says so"]
if fail_sdl:
    problems = []
    for call, says in SETUP_FAILS.items():
        proc = run("--headless", "--frames", "2", "--fps", "0", timeout=60, env=failing(call))
        if proc.returncode != 1 or proc.stderr != f"frame_arena_demo: {says} (SDL: no such device " \
                                                  "(tests/fail_sdl.c))\n" or proc.stdout:
            problems.append(f"{call}: exit {proc.returncode}: {proc.stderr[-300:]} {proc.stdout[-200:]}")
    check(not problems, SETUP_NAMES[0], "; ".join(problems))
    proc = run("--headless", "--frames", "2", "--fps", "0", "--size", "640x360", timeout=60,
               env=failing("SDL_CreateRenderer_accelerated"))
    check(proc.returncode == 0 and re.search(r"^video dummy  renderer software  ", proc.stdout, re.M)
          and not proc.stderr, SETUP_NAMES[1], proc.stderr[-300:] + proc.stdout[-300:])
    proc = run("--headless", "--frames", "3", "--fps", "0", "--stats", timeout=60,
               env=failing("TTF_Init", "no fonts today"))
    check(proc.returncode == 0 and proc.stderr == "frame_arena_demo: SDL_ttf: no fonts today\n"
          and proc.stdout.startswith("demo: no overlay font without SDL_ttf. The overlay draws its graphs without "
                                     "text and prints its text here instead")
          and 0 in overlay_text(proc), SETUP_NAMES[2],
          f"exit {proc.returncode}: {proc.stderr[-300:]} {proc.stdout[-300:]}")
else:
    for name in SETUP_NAMES:
        skip(name, "no shim of SDL's calls in this build")
# --headless is SDL's dummy driver and software renderer, whatever the
# environment asks for (a plain hint gives way to SDL_VIDEODRIVER).
proc = run("--headless", "--frames", "2", "--fps", "0", "--size", "640x360", timeout=60,
           env=dict(os.environ, SDL_VIDEODRIVER="nosuch", SDL_RENDER_DRIVER="opengl"))
check(proc.returncode == 0 and re.search(r"^video dummy  renderer software  ", proc.stdout, re.M),
      "--headless runs on the dummy driver whatever SDL_VIDEODRIVER names", proc.stderr[-300:] + proc.stdout[-300:])
# A real window, as ./dev demo opens one on a display: an X server with no
# screen (Xvfb, started by xvfb-run), SDL's x11 video driver and the
# renderer SDL picks there (OpenGL where Mesa gives one, else software). The
# same world as a headless run of the same options, and the same picture but
# for the renderers' rounding: the overlay's graphs drawn, most pixels
# within a few levels of the software renderer's. Under ASan without
# LeakSanitizer: libraries a window loads keep memory to the end (D-Bus's,
# and the GL driver's, unloaded by then); the headless runs check the
# demo's own.
window_name = "a real window (Xvfb): x11 video, the same world and picture as headless"
resized_name = "a real window (Xvfb) resized: the scene centred in bars, a click in it the same as headless"
hints_name = "a real window (Xvfb) tells the window manager it can be resized, down to 320x240"
xvfb = shutil.which("xvfb-run")
if xvfb:
    in_xvfb = [xvfb, "-a", "-s", "-screen 0 1280x720x24"]
    window_args = ["--frames", "60", "--fps", "0", "--size", "640x360", "--seed", "7", "--threads", "2",
                   "--particles", "20000", "--stats"]
    window_env = dict(no_display)
    if "ASAN_OPTIONS" in os.environ:
        window_env["ASAN_OPTIONS"] = os.environ["ASAN_OPTIONS"] + ":detect_leaks=0"
    with ThreadPoolExecutor(2) as pool:
        in_window = pool.submit(run, *window_args, "--screenshot", path("window.bmp"), timeout=300, env=window_env,
                                wrapper=in_xvfb)
        headless = pool.submit(run, "--headless", *window_args, "--screenshot", path("window_twin.bmp"), timeout=300)
        window, twin = in_window.result(), headless.result()
    # The headless "click" run's world, its click played in a window resized
    # to another shape first, where the scene is centred.
    resized = run(*[a for a in small if a != "--headless"], "--frames", "30", "--input",
                  "10:size@640x480,12:click@320x240", "--screenshot", path("window_resized.bmp"), timeout=120,
                  env=window_env, wrapper=in_xvfb)
    problems = []
    if window.returncode != 0 or not re.search(r"^video x11 ", window.stdout, re.M):
        problems.append(f"exit {window.returncode}, not on x11: {window.stdout[-300:]} {window.stderr[-1000:]}")
    elif summary(window) != summary(twin) or summary(twin)[1] is None:
        problems.append(f"checksums: window {summary(window)}, headless {summary(twin)}")
    elif not (os.path.exists(path("window.bmp")) and os.path.exists(path("window_twin.bmp"))):
        problems.append("no screenshot")
    else:
        w, h, shot = read_bmp(path("window.bmp"))
        _, _, ref = read_bmp(path("window_twin.bmp"))
        sampled = colours(shot, w, h)
        ours, theirs = graph_pixels(shot), graph_pixels(ref)
        lines = [(ours[name], theirs[name]) for name in GRAPH_LINES]
        far = sum(max(abs(a - b) for a, b in zip(shot[y][x * 4: x * 4 + 3], ref[y][x * 4: x * 4 + 3])) > 8
                  for y in range(h) for x in range(w))
        if len(sampled) <= 50 or not all(t > 20 and o * 2 >= t for o, t in lines) or far > w * h // 5:
            problems.append(f"{len(sampled)} colours, graph lines' pixels (window, headless) {lines}, {far} of "
                            f"{w * h} pixels more than 8 levels from the headless picture's")
    check(not problems, window_name + " (" + (window.stdout.strip().splitlines() or ["?"])[-1] + ")",
          "; ".join(problems))
    problems = []
    if resized.returncode != 0 or not re.search(r"^video x11 .*  window 640x480$", resized.stdout, re.M):
        problems.append(f"exit {resized.returncode}: {resized.stdout[-300:]} {resized.stderr[-1000:]}")
    elif summary(resized)[1] != sums["click"]:
        problems.append(f"checksum {summary(resized)[1]}, headless {sums['click']}")
    elif not os.path.exists(path("window_resized.bmp")):
        problems.append("no screenshot")
    else:
        w, h, shot = read_bmp(path("window_resized.bmp"))
        bars = [(x, y) for y in [*range(60), *range(420, 480 - KEY_LINE)] for x in range(640)] \
            if (w, h) == (640, 480) else []
        off = sum(max(abs(a - b) for a, b in zip(shot[y][x * 4: x * 4 + 3], CLEAR)) > 8 for x, y in bars)
        scene = {shot[y][x * 4: x * 4 + 3] for y in range(60, 420, 3) for x in range(0, 640, 3)} if bars else set()
        if not bars or off or len(scene) <= 50:
            problems.append(f"a {w}x{h} screenshot, {off} pixels of its bars not the clear colour, {len(scene)} "
                            f"colours in the scene")
    check(not problems, resized_name, "; ".join(problems))
    # What a user's drag of the window's edge may do is the window
    # manager's to allow: the window's size hints (WM_NORMAL_HINTS, read by
    # x11_hints.py as the window is at the run's end) give it a minimum and
    # no maximum. A window that is not resizable has both, at its size.
    hinted = run(*[a for a in small if a != "--headless"], "--frames", "60", "--fps", "60", timeout=120,
                 env=window_env, wrapper=[*in_xvfb, sys.executable,
                                          os.path.join(os.path.dirname(os.path.abspath(__file__)), "x11_hints.py"),
                                          "frame_arena demo"])
    check(hinted.returncode == 0 and "x11 hints: min 320x240 max none" in hinted.stdout, hints_name,
          hinted.stdout[-300:] + hinted.stderr[-1000:])
else:
    for name in (window_name, resized_name, hints_name):
        skip(name, "xvfb-run is not installed (Debian: xvfb, xauth)")
# A high-DPI display: a Wayland session (Weston's, wayland_session.py) whose
# output is scaled by 2. The window keeps its size in points, 640x360, and
# the renderer draws its 1280x720 pixels: the screenshot has them all. The
# overlay is laid out in points and its font sized to the pixels, so in the
# picture, halved, its text is where the headless picture has it, in the
# line of keys and the panel: each picture's text pixels within a pixel of
# the other's (text drawn at 26 points and halved is not 13 points' pixel
# for pixel). A click lands where it does in a window of one pixel a point.
hidpi_name = "a high-DPI window (Wayland, scale 2): every pixel drawn, the overlay at the same size as headless"
hidpi_click_name = "a high-DPI window (Wayland, scale 2): a click lands in the scene as headless"
weston = shutil.which("weston")
if xvfb and weston:
    in_wayland = [*in_xvfb, sys.executable, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                        "wayland_session.py"), "2"]
    hidpi = run(*window_args, "--screenshot", path("hidpi.bmp"), timeout=300, env=window_env, wrapper=in_wayland)
    problems = []
    if hidpi.returncode != 0 or not re.search(r"^video wayland .*  window 640x360 \(1280x720 pixels\)$",
                                              hidpi.stdout, re.M):
        problems.append(f"exit {hidpi.returncode}: {hidpi.stdout[-300:]} {hidpi.stderr[-1000:]}")
    elif summary(hidpi) != summary(twin) or summary(twin)[1] is None:
        problems.append(f"checksums: high-DPI {summary(hidpi)}, headless {summary(twin)}")
    elif not os.path.exists(path("hidpi.bmp")):
        problems.append("no screenshot")
    else:
        w, h, shot = read_bmp(path("hidpi.bmp"))
        _, _, ref = read_bmp(path("window_twin.bmp"))
        halved = [bytes(sum(shot[2 * y + dy][(2 * x + dx) * 4 + c] for dy in (0, 1) for dx in (0, 1)) // 4
                        for x in range(640) for c in range(4)) for y in range(360)] if (w, h) == (1280, 720) else []
        for what, region in (("the line of keys", (0, 323, 640, 360)), ("the panel's text", (8, 8, 540, 120))):
            ours, theirs = text_pixels(halved, region), text_pixels(ref, region)
            if not halved or min(near(ours, theirs), near(theirs, ours)) < 0.8:
                problems.append(f"{what}, in a {w}x{h} screenshot halved: {near(ours, theirs):.0%} of its "
                                f"{len(ours)} text pixels lie within a pixel of the headless picture's, "
                                f"{near(theirs, ours):.0%} of that picture's {len(theirs)} within a pixel of these")
    check(not problems, hidpi_name + " (" + (hidpi.stdout.strip().splitlines() or ["?"])[-1] + ")",
          "; ".join(problems))
    clicked = run(*[a for a in small if a != "--headless"], *small_runs["click"], timeout=120, env=window_env,
                  wrapper=in_wayland)
    check(clicked.returncode == 0 and "(1280x720 pixels)" in clicked.stdout and summary(clicked)[1] == sums["click"],
          hidpi_click_name, f"exit {clicked.returncode}, checksum {summary(clicked)[1]}, headless {sums['click']}: "
          f"{clicked.stdout[-300:]} {clicked.stderr[-1000:]}")
else:
    for name in (hidpi_name, hidpi_click_name):
        skip(name, "xvfb-run or weston is not installed (Debian: xvfb, xauth, weston)")
# A report file it cannot open: the setup fails and says so, having released
# what it had made (LeakSanitizer, in the ASan builds, sees what it kept).
proc = run("--headless", "--frames", "5", "--particles", "1000", "--fps", "0", "--report",
           path("no-such-directory/r.csv"), timeout=60)
check(proc.returncode == 1 and "cannot set up (cannot open the report file)" in proc.stderr,
      "a report file it cannot open fails the setup with a message", proc.stderr[-500:])
# Outputs it cannot write whole: the run goes to its end, says so and exits 1.
proc = run("--headless", "--frames", "3", "--particles", "1000", "--fps", "0", "--screenshot",
           path("no-such-directory/s.bmp"), timeout=60)
check(proc.returncode == 1 and "cannot save the screenshot to" in proc.stderr and "checksum" in proc.stdout,
      "a screenshot it cannot save fails the run with a message", f"exit {proc.returncode}: {proc.stderr[-500:]}")
if os.path.exists("/dev/full"):  # every write there fails with ENOSPC
    proc = run("--headless", "--frames", "3", "--particles", "1000", "--fps", "0", "--report", "/dev/full",
               timeout=60)
    check(proc.returncode == 1 and "cannot write the report to /dev/full" in proc.stderr,
          "a report it cannot write whole fails the run with a message", f"exit {proc.returncode}: {proc.stderr[-500:]}")
else:
    skip("a report it cannot write whole fails the run with a message", "no /dev/full")
# Too little address space for the frame arena's reservations (a stack of
# 1 GiB for each of its two frames), or for the scratch stacks: the setup
# fails and says so. Not where ASan's shadow memory needs terabytes of
# address space.
with open(demo, "rb") as binary:
    asan = b"__asan_init" in binary.read()
if not asan:
    def run_limited(*args):
        """A headless run of 5 frames in 1 GiB of address space."""
        return subprocess.run([demo, "--headless", "--frames", "5", "--particles", "1000", "--fps", "0", *args],
                              capture_output=True, text=True, timeout=60, env=dict(os.environ, SDL_VIDEODRIVER="dummy"),
                              preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_AS,
                                                                    (1 << 30, resource.RLIM_INFINITY)))

    proc = run_limited("--threads", "1")
    check(proc.returncode == 1 and "cannot make the frame arena: the OS refused to reserve the address space"
          in proc.stderr, "a frame arena it cannot reserve fails the setup with a message", proc.stderr[-500:])
    # With the frame arena's stacks at 64 MiB it fits, and the scratch
    # stacks of 4 threads (2 x 128 MiB each) do not: one thread's failure
    # fails the setup with a message, whichever thread it is; with 16 MiB
    # they fit.
    proc = run_limited("--threads", "4", "--frame-reserve", "64")
    check(proc.returncode == 1 and proc.stderr.startswith(
              "frame_arena_demo: cannot make the scratch stacks (two of 128 MiB for each of 4 threads, "
              "--scratch-reserve): the OS refused to reserve the address space"),
          "scratch stacks it cannot reserve fail the setup with a message", proc.stderr[-500:])
    proc = run_limited("--threads", "4", "--frame-reserve", "64", "--scratch-reserve", "16")
    check(proc.returncode == 0 and "cannot" not in proc.stderr,
          "scratch stacks that fit the address space (--scratch-reserve 16) run", proc.stderr[-500:])
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
