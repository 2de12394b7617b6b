"""Soak test: play a video on the Live tab offscreen for a long time and report that the app is still alive.

    python -m faceid_gui.soak --minutes 10 VIDEO

A command, not a CI test: it proves long Live sessions survive (the PySide6 6.12.0 None-refcount leak aborted
the interpreter after a minute or two). Exit 0 when the window lived to the end and frames kept coming.
"""
from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

# The bound the verdict is held to. The leak this catches (PySide6 6.12.0) grew None's count by one per void Qt call,
# about a million an hour of Live; a healthy run drifts by a few hundred (objects alive at the last report), flat.
MAX_NONE_DRIFT = 10_000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m faceid_gui.soak", description=__doc__.splitlines()[0])
    parser.add_argument("video", type=Path, help="video file played in a loop on the Live tab")
    parser.add_argument("--minutes", type=float, default=10.0, help="how long to play (default: 10)")
    parser.add_argument("--model", type=Path, help="embedding model (default: installed or shipped model)")
    parser.add_argument("--report-every", type=float, default=60.0, help="seconds between progress lines (default: 60)")
    parser.add_argument("--max-drift", type=int, default=MAX_NONE_DRIFT,
                        help=f"largest None refcount drift that passes (default: {MAX_NONE_DRIFT})")
    args = parser.parse_args(argv)
    if not args.video.is_file():
        print(f"soak: {args.video}: no such video", file=sys.stderr)
        return 2

    from PySide6.QtCore import QSettings, QTimer
    from PySide6.QtWidgets import QApplication

    from .app.main_window import MainWindow
    from .app.state import AppState
    from .engine import FaceEngine

    scratch = Path(tempfile.mkdtemp(prefix="faceid-soak-"))
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(scratch / "settings"))
    app = QApplication.instance() or QApplication(sys.argv[:1])
    engine = FaceEngine(args.model)
    state = AppState(engine, scratch / "gallery.sqlite3")
    # Enrol the first face of the video so frames exercise the matching and labelling path too.
    import cv2

    capture = cv2.VideoCapture(str(args.video))
    for _ in range(100):
        ok, bgr = capture.read()
        faces = engine.analyze(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)) if ok else []
        if faces or not ok:
            break
    capture.release()
    if faces:
        state.gallery.enroll("soak", [faces[0].new_face("soak video")])
    window = MainWindow(state)
    window.show_tab("live")
    window.resize(1100, 760)
    window.show()
    window.live.start(str(args.video))

    start = time.monotonic()
    none_refs = sys.getrefcount(None)
    failures: list[str] = []
    window.live.worker.failed.connect(failures.append)

    def report(final: bool = False) -> None:
        elapsed = time.monotonic() - start
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"{'done' if final else 'alive'} {elapsed / 60:5.1f} min  frames {window.live.frames_shown:7d}  "
              f"({window.live.frames_shown / max(elapsed, 1e-9):.1f}/s)  peak RSS {rss:.0f} MB  "
              f"None refcount drift {sys.getrefcount(None) - none_refs:+d}", flush=True)

    paint = QTimer()
    paint.timeout.connect(lambda: window.grab())  # offscreen windows still paint: force it, as a screen would
    paint.start(1000)
    progress = QTimer()
    progress.timeout.connect(report)
    progress.start(int(args.report_every * 1000))
    QTimer.singleShot(int(args.minutes * 60_000), app.quit)
    app.exec()
    report(final=True)
    frames = window.live.frames_shown
    window.shutdown()
    window.close()
    if failures:
        print(f"soak: the video stopped: {failures[0]}", file=sys.stderr)
    drift = sys.getrefcount(None) - none_refs
    passed = frames > 0 and not failures and abs(drift) <= args.max_drift
    print(f"{'PASS' if passed else 'FAIL'}: {frames} frames, {'no' if not failures else 'a'} video failure, None "
          f"refcount drift {drift:+d} (bound ±{args.max_drift:,})", flush=True)
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
