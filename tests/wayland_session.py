#!/usr/bin/env python3
"""Runs a program in a Wayland session of its own, at an output scale.

usage: wayland_session.py SCALE PROGRAM [ARGS...]

The session is Weston's, drawn into a window of the X server that DISPLAY
names (run this under xvfb-run): Weston's headless backend has no seat, and
SDL 2.26's Wayland driver crashes in SDL_Init without one. The program runs
with SDL_VIDEODRIVER=wayland, WAYLAND_DISPLAY naming the session, and no
DISPLAY, so nothing of it can reach the X server. An output scale of 2 is a
high-DPI display: a window of 640x360 points has 1280x720 pixels there.
Exits with the program's status, or 125 when the session does not start.
"""
import os
import shutil
import subprocess
import sys
import tempfile
import time

scale, program = sys.argv[1], sys.argv[2:]
runtime = tempfile.mkdtemp(prefix="wayland-session-")  # mode 0700, as Weston wants it
socket = "frame-arena-test"
log = os.path.join(runtime, "weston.log")
weston = subprocess.Popen(["weston", "--backend=x11-backend.so", "--use-pixman", f"--scale={scale}",
                           "--width=800", "--height=450", f"--socket={socket}", "--idle-time=0", "--no-config",
                           f"--log={log}"],
                          env=dict(os.environ, XDG_RUNTIME_DIR=runtime), stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL)
status = 125
try:
    deadline = time.monotonic() + 20
    while not os.path.exists(os.path.join(runtime, socket)) and weston.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    if os.path.exists(os.path.join(runtime, socket)) and weston.poll() is None:
        env = {k: v for k, v in os.environ.items() if k != "DISPLAY"}
        env.update(XDG_RUNTIME_DIR=runtime, WAYLAND_DISPLAY=socket, SDL_VIDEODRIVER="wayland")
        status = subprocess.run(program, env=env).returncode
    else:
        print(f"wayland_session: Weston did not start (exit {weston.poll()})", file=sys.stderr)
        if os.path.exists(log):
            sys.stderr.write(open(log, errors="replace").read()[-2000:])
finally:
    weston.terminate()
    try:
        weston.wait(timeout=10)
    except subprocess.TimeoutExpired:
        weston.kill()
        weston.wait()
    shutil.rmtree(runtime, ignore_errors=True)
sys.exit(status)
