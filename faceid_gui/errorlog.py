"""Unexpected failures: the details go to a log file, the person gets one line that names it."""
from __future__ import annotations

import datetime
import os
import tempfile
import traceback
from pathlib import Path

from .paths import user_data_dir


def log_path() -> Path:
    return user_data_dir() / "faceid-errors.log"


def unexpected_error(exc: BaseException) -> str:
    """Write exc's traceback to the log and return a one-line message naming the log file."""
    details = "".join(traceback.format_exception(exc))
    stamp = datetime.datetime.now().isoformat(timespec="seconds")
    # The data folder may itself be the problem (read-only, full): fall back to the temporary folder.
    for path in (log_path(), Path(tempfile.gettempdir()) / "faceid-errors.log"):
        try:
            if not path.parent.exists():
                os.makedirs(path.parent, mode=0o700)  # a folder faceid creates is private to the user
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            with os.fdopen(fd, "a", encoding="utf-8", errors="backslashreplace") as fh:
                fh.write(f"--- {stamp} pid {os.getpid()}\n{details}")
            where = f"details in {path}"
            break
        except OSError:
            continue
    else:
        where = "no log could be written"
    first = (str(exc).strip().splitlines() or [""])[0][:200]
    return f"unexpected error: {type(exc).__name__}{': ' + first if first else ''} ({where})"
