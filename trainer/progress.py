"""A one-line progress bar with rate and time left, on stderr (no extra dependency)."""
from __future__ import annotations

import sys
import time


class Progress:
    """A one-line progress bar on stderr (no extra dependency)."""

    def __init__(self, total: int, label: str, done: int = 0):
        """done: steps finished before this process (a resumed run); the rate counts this process's own."""
        self.total, self.label, self.done, self.start, self._first = total, label, done, time.time(), done
        self.extra = ""
        self._last = 0.0

    def step(self, n: int = 1, extra: str | None = None) -> None:
        self.done += n
        if extra is not None:
            self.extra = extra
        now = time.time()
        if now - self._last > 0.5 or self.done >= self.total:
            self._last = now
            rate = (self.done - self._first) / max(now - self.start, 1e-9)
            width = 24
            filled = int(width * self.done / max(self.total, 1))
            left = (self.total - self.done) / max(rate, 1e-9)
            sys.stderr.write(f"\r{self.label} [{'#' * filled}{'.' * (width - filled)}] {self.done}/{self.total} "
                             f"{rate:.1f}/s ETA {int(left // 60)}m{int(left % 60):02d}s {self.extra}   ")
            sys.stderr.flush()

    def close(self) -> None:
        sys.stderr.write("\n")
