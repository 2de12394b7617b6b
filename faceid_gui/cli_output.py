"""What the `faceid` command writes: results on stdout, one line per message on stderr, nothing a stranger's name
or file name could use to forge a line or send the terminal a control sequence."""
from __future__ import annotations

import json
import os
import sys


def shown(text) -> str:
    """`text` (a name, a path, a message holding them) safe to print: control, format (bidi, zero-width) and
    line-separator characters become visible escapes, so it stays on one line and cannot drive the terminal.
    Undecodable bytes of a file name (surrogate escapes) print as \\xNN."""
    text = str(text)
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() or ch == " " else _escape(ch) for ch in text)


def _escape(char: str) -> str:
    code = ord(char)
    if 0xDC80 <= code <= 0xDCFF:  # a byte that was not UTF-8 (os.fsdecode's surrogateescape)
        return f"\\x{code - 0xDC00:02x}"
    if char in "\n\r\t":
        return {"\n": "\\n", "\r": "\\r", "\t": "\\t"}[char]
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def say(message: str) -> None:
    """One line on stderr (never on stdout, even when stderr is closed: see guard_std_streams)."""
    print(shown(message), file=sys.stderr, flush=True)


def emit(obj, as_json: bool, text: str) -> None:
    """A result on stdout: JSON (ASCII-escaped, so nothing in it reaches the terminal raw) or text whose names
    and paths the caller passed through shown()."""
    # allow_nan=False: bare NaN is not JSON; the engine never produces one, and this makes sure of it.
    print(json.dumps(obj, allow_nan=False) if as_json else text, flush=True)


def guard_std_streams() -> None:
    """Started with stdin, stdout or stderr closed (`2>&-`), the process would hand that descriptor to the next
    file it opens (the gallery, a model) and print() to sys.stderr = None lands on stdout. Point each closed one
    at the null device instead, so messages are dropped, never written into results or files."""
    for fd, name, mode in ((0, "stdin", "r"), (1, "stdout", "w"), (2, "stderr", "w")):
        try:
            os.fstat(fd)
        except OSError:
            null = os.open(os.devnull, os.O_RDWR)
            if null != fd:
                os.dup2(null, fd)
                os.close(null)
        if getattr(sys, name) is None:
            setattr(sys, name, open(fd, mode, closefd=False, encoding="utf-8", errors="backslashreplace"))
