"""Unexpected failures: the details go to a log file, the person gets one line that names it."""
from __future__ import annotations

import datetime
import os
import stat
import tempfile
import traceback
from pathlib import Path

from .paths import user_data_dir

# Never follow a link planted where the log goes (the temporary folder is shared with every user).
_OPEN_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_APPEND | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)


def log_path() -> Path:
    return user_data_dir() / "faceid-errors.log"


def _open_private_log(path: Path) -> int:
    """A descriptor appending to `path`: a regular file of this user's with one name, made private; refused
    (OSError) when it is a link, a FIFO or device, someone else's file, or a hard link to another file."""
    if not path.parent.exists():
        os.makedirs(path.parent, mode=0o700)  # a folder faceid creates is private to the user
    fd = os.open(path, _OPEN_FLAGS, 0o600)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_nlink != 1:
            raise OSError(f"{path} is not a private log file")
        if os.name == "posix":
            if info.st_uid != os.getuid():
                raise OSError(f"{path} belongs to another user")
            if info.st_mode & 0o077:
                os.fchmod(fd, 0o600)
    except BaseException:
        os.close(fd)
        raise
    return fd


def unexpected_error(exc: BaseException) -> str:
    """Write exc's traceback to the log and return a one-line message naming the log file."""
    details = "".join(traceback.format_exception(exc))
    stamp = datetime.datetime.now().isoformat(timespec="seconds")
    # The data folder may itself be the problem (read-only, full): fall back to the temporary folder.
    for path in (log_path(), Path(tempfile.gettempdir()) / "faceid-errors.log"):
        try:
            with os.fdopen(_open_private_log(path), "a", encoding="utf-8", errors="backslashreplace") as fh:
                fh.write(f"--- {stamp} pid {os.getpid()}\n{details}")
            where = f"details in {path}"
            break
        except OSError:
            continue
    else:
        where = "no log could be written"
    first = (str(exc).strip().splitlines() or [""])[0][:200]
    return f"unexpected error: {type(exc).__name__}{': ' + first if first else ''} ({where})"
