#!/usr/bin/env python3
"""Runs a program on the X display DISPLAY names and reports the size hints
its window gives the window manager (WM_NORMAL_HINTS), read with libX11.

usage: x11_hints.py TITLE COMMAND...

Prints COMMAND's output, then one line: "x11 hints: min WxH max WxH" (each
"none" where the hint is not set), from the last look at the top-level
window named TITLE before COMMAND exited ("x11 hints: no window" if none
was seen), and exits with COMMAND's status. It looks every 20 ms: a window
a program recreates (SDL does, to make a renderer) is reported as it was
last.
"""
import ctypes
import ctypes.util
import subprocess
import sys
import time

P_MIN_SIZE, P_MAX_SIZE = 1 << 4, 1 << 5  # Xutil.h


class XSizeHints(ctypes.Structure):
    _fields_ = [("flags", ctypes.c_long)] + [(name, ctypes.c_int) for name in (
        "x", "y", "width", "height", "min_width", "min_height", "max_width", "max_height", "width_inc", "height_inc",
        "min_aspect_x", "min_aspect_y", "max_aspect_x", "max_aspect_y", "base_width", "base_height", "win_gravity")]


def main():
    title, command = sys.argv[1].encode(), sys.argv[2:]
    x11 = ctypes.CDLL(ctypes.util.find_library("X11") or "libX11.so.6")
    window_t = ctypes.c_ulong
    x11.XOpenDisplay.restype = ctypes.c_void_p
    x11.XOpenDisplay.argtypes = [ctypes.c_char_p]
    x11.XDefaultRootWindow.restype = window_t
    x11.XDefaultRootWindow.argtypes = [ctypes.c_void_p]
    x11.XQueryTree.argtypes = [ctypes.c_void_p, window_t, ctypes.POINTER(window_t), ctypes.POINTER(window_t),
                               ctypes.POINTER(ctypes.POINTER(window_t)), ctypes.POINTER(ctypes.c_uint)]
    x11.XFetchName.argtypes = [ctypes.c_void_p, window_t, ctypes.POINTER(ctypes.c_char_p)]
    x11.XGetWMNormalHints.argtypes = [ctypes.c_void_p, window_t, ctypes.POINTER(XSizeHints),
                                      ctypes.POINTER(ctypes.c_long)]
    x11.XFree.argtypes = [ctypes.c_void_p]
    x11.XSync.argtypes = [ctypes.c_void_p, ctypes.c_int]
    display = x11.XOpenDisplay(None)
    if not display:
        sys.exit("x11_hints.py: cannot open the display")
    # A window can go between the listing and the reading of its name or
    # hints (the program recreates or closes it): Xlib's default handler
    # would end this process on the BadWindow error. The call fails instead.
    error_handler = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p)(lambda d, e: 0)
    x11.XSetErrorHandler.argtypes = [type(error_handler)]
    x11.XSetErrorHandler(error_handler)

    def hints():
        """The size hints of the window named title, or None."""
        x11.XSync(display, 0)
        root, parent, children, count = window_t(), window_t(), ctypes.POINTER(window_t)(), ctypes.c_uint()
        if not x11.XQueryTree(display, x11.XDefaultRootWindow(display), ctypes.byref(root), ctypes.byref(parent),
                              ctypes.byref(children), ctypes.byref(count)):
            return None
        found = None
        for i in range(count.value):
            name = ctypes.c_char_p()
            if x11.XFetchName(display, children[i], ctypes.byref(name)) and name.value is not None:
                if name.value == title:
                    h, supplied = XSizeHints(), ctypes.c_long()
                    if x11.XGetWMNormalHints(display, children[i], ctypes.byref(h), ctypes.byref(supplied)):
                        found = (f"{h.min_width}x{h.min_height}" if h.flags & P_MIN_SIZE else "none",
                                 f"{h.max_width}x{h.max_height}" if h.flags & P_MAX_SIZE else "none")
                x11.XFree(name)
        if children:
            x11.XFree(children)
        return found

    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    last = None
    while proc.poll() is None:
        last = hints() or last
        time.sleep(0.02)
    out, err = proc.communicate()
    sys.stdout.write(out)
    sys.stderr.write(err)
    print(f"x11 hints: min {last[0]} max {last[1]}" if last else "x11 hints: no window")
    sys.exit(proc.returncode)


main()
