"""Can a window be shown at all? Asked before Qt is: Qt aborts the whole process (exit 134, "Reinstalling the
application may fix this problem") when it cannot open a display."""
from __future__ import annotations

import ctypes
import os
import sys

# Qt platforms that need no display server.
HEADLESS_PLATFORMS = ("offscreen", "minimal", "vnc", "eglfs", "linuxfb", "vkkhrdisplay")


def prepare_platform(screenshot: bool, environ=os.environ) -> str:
    """Choose Qt's platform before QApplication exists; return why no window can be shown ('' when one can).
    `--screenshot` renders offscreen unless a platform was chosen explicitly (tools/screenshots.py picks xcb)."""
    if screenshot:
        if not environ.get("QT_QPA_PLATFORM"):  # unset or empty, which Qt reads as unset
            environ["QT_QPA_PLATFORM"] = "offscreen"
        return ""
    if not sys.platform.startswith("linux") or environ.get("QT_QPA_PLATFORM", "").split(":")[0] in HEADLESS_PLATFORMS:
        return ""
    if environ.get("WAYLAND_DISPLAY"):
        return ""
    display = environ.get("DISPLAY")
    if not display:
        return ("no display to show the window on (neither DISPLAY nor WAYLAND_DISPLAY is set); "
                "the subcommands (faceid --help) and --screenshot work without one")
    if not _x_display_opens(display):
        return f"cannot open the X display {display!r} (is the X server running, and may this user use it?)"
    return ""


def _x_display_opens(display: str) -> bool:
    """Connect to the X server as Qt's xcb platform would (libxcb, which that platform needs anyway)."""
    try:
        xcb = ctypes.CDLL("libxcb.so.1")
    except OSError:
        return True  # cannot tell: let Qt try and say
    xcb.xcb_connect.restype = ctypes.c_void_p
    xcb.xcb_connect.argtypes = [ctypes.c_char_p, ctypes.c_void_p]
    xcb.xcb_connection_has_error.argtypes = [ctypes.c_void_p]
    xcb.xcb_disconnect.argtypes = [ctypes.c_void_p]
    connection = xcb.xcb_connect(display.encode(), None)
    try:
        return bool(connection) and xcb.xcb_connection_has_error(connection) == 0
    finally:
        if connection:
            xcb.xcb_disconnect(connection)  # also frees the error object xcb returns for a failed connect
