"""Background work: one-off tasks on a thread pool, and a camera/video loop that never blocks the GUI."""
from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

import cv2
from PySide6.QtCore import QObject, QRunnable, QThread, Signal

from ..engine import LIVE_MIN_FACE, CameraError, FaceTracker


class TaskSignals(QObject):
    result = Signal(object)
    error = Signal(object)  # the exception itself: the GUI edge (state.error_text) turns it into words
    progress = Signal(int, int, object)  # done, total, per-item result
    finished = Signal()


class Task(QRunnable):
    """Runs fn(*args, progress, cancelled) off the GUI thread; any exception goes to `error`."""

    def __init__(self, fn, *args):
        super().__init__()
        self.fn, self.args = fn, args
        self.signals = TaskSignals()
        self.cancelled = threading.Event()

    def run(self) -> None:
        try:
            value = self.fn(*self.args, lambda done, total, item=None: self.signals.progress.emit(done, total, item),
                            self.cancelled)
        except Exception as exc:  # noqa: BLE001 - any failure ends as a signal, never a crash of the pool thread
            self.signals.error.emit(exc)
        else:
            self.signals.result.emit(value)
        finally:
            self.signals.finished.emit()


class CameraWorker(QThread):
    """Reads frames from a camera index or a video file, detects and embeds faces in each.

    Only the newest processed frame is handed over: when the GUI has not taken the previous one yet,
    a new one simply replaces it, so a slow window never builds a backlog.
    """

    frame_ready = Signal()
    failed = Signal(object)  # the exception: CameraError, ModelError, or anything unexpected

    def __init__(self, engine, source, loop_video: bool = True, min_face_size: int = LIVE_MIN_FACE, parent=None):
        super().__init__(parent)
        self.engine = engine
        self.source = source
        self.loop_video = loop_video
        self.min_face_size = min_face_size
        self._stop = threading.Event()
        self._running = threading.Event()  # cleared while paused (the tab is hidden)
        self._running.set()
        self._lock = threading.Lock()
        self._latest = None
        self.fps = 0.0

    def stop(self) -> None:
        self._stop.set()
        self.wait(5000)

    def pause(self, paused: bool) -> None:
        """Hold the loop (no frame read or analysed) while nobody sees it; a video resumes where it was."""
        (self._running.clear if paused else self._running.set)()

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    def take(self):
        """The newest (frame, faces, fps) or None."""
        with self._lock:
            latest, self._latest = self._latest, None
        return latest

    @property
    def is_camera(self) -> bool:
        return isinstance(self.source, int) or (isinstance(self.source, str) and self.source.isdigit())

    @property
    def source_name(self) -> str:
        """What the tab shows as the source: "Camera 0" or the video's file name."""
        return f"Camera {int(self.source)}" if self.is_camera else Path(str(self.source)).name

    def _open(self) -> cv2.VideoCapture:
        source = self.source
        is_index = self.is_camera
        capture = cv2.VideoCapture(int(source)) if is_index else cv2.VideoCapture(str(source))
        if not capture.isOpened():
            what = f"camera {source}" if is_index else f"video {source}"
            raise CameraError(f"{what} could not be opened (is it connected and not used by another program?)")
        return capture

    def run(self) -> None:
        try:
            capture = self._open()
        except CameraError as exc:
            self.failed.emit(exc)
            return
        failures = 0
        last = time.perf_counter()
        # Full detection every 10th frame (or when a face is lost), O-Net around last frame's faces in between:
        # about a quarter of the CPU time per frame, the same names (issue 14).
        tracker = FaceTracker(self.engine.detector, redetect_every=10, min_face_size=self.min_face_size)
        # A video file plays at its own frame rate (a camera delivers frames in real time by itself): frame n is
        # shown no earlier than n / fps after the start, and frames are skipped when analysis falls behind.
        rate = 0.0 if self.is_camera else capture.get(cv2.CAP_PROP_FPS)
        period = 1.0 / rate if 0 < rate < 1000 else 0.0
        started, played = time.monotonic(), 0
        try:
            while not self._stop.is_set():
                if not self._running.is_set():
                    held = time.monotonic()
                    while not self._running.wait(0.1) and not self._stop.is_set():
                        pass
                    started += time.monotonic() - held  # the paused time is not "behind": no frames skipped
                    continue
                if period:
                    ahead = started + played * period - time.monotonic()
                    if ahead > 0 and self._stop.wait(ahead):
                        break
                    while ahead < -period and capture.grab():  # behind by a whole frame or more: skip, no decode
                        played += 1
                        ahead += period
                    played += 1
                ok, bgr = capture.read()
                if not ok:
                    if self.loop_video and capture.get(cv2.CAP_PROP_FRAME_COUNT) > 0:
                        capture.set(cv2.CAP_PROP_POS_FRAMES, 0)
                        started, played = time.monotonic(), 0
                        tracker.reset()  # a cut: the faces of the last frame are not where the first one has them
                        failures += 1
                        if failures < 3:
                            continue
                    self.failed.emit(CameraError("the camera stopped sending pictures (unplugged?)"))
                    return
                failures = 0
                rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
                faces = self.engine.describe(rgb, tracker.update(rgb))
                now = time.perf_counter()
                self.fps = 0.8 * self.fps + 0.2 / max(now - last, 1e-6) if self.fps else 1 / max(now - last, 1e-6)
                last = now
                with self._lock:
                    fresh = self._latest is None
                    self._latest = (rgb, faces, self.fps)
                if fresh:
                    self.frame_ready.emit()
        except Exception as exc:  # noqa: BLE001 - the loop's boundary: said by the tab, never a dead thread
            self.failed.emit(exc)
        finally:
            capture.release()


def stop_worker(worker: CameraWorker | None) -> None:  # always None: clears the caller's reference
    """Stop a camera loop (flag + wait) and schedule its deletion; returns None to clear the caller's reference."""
    if worker is not None:
        worker.stop()
        worker.deleteLater()
    return None


def newest_frame(worker: CameraWorker | None):
    """The worker's newest (frame, faces, fps), or None when there is no worker or nothing new."""
    return worker.take() if worker is not None else None


def no_camera_reason() -> str:
    """Why no camera is offered, in words for the tab."""
    if sys.platform.startswith("linux"):
        return "no video capture device (/dev/video…) is connected"
    return "camera 0 could not be opened"


def available_cameras(limit: int = 8) -> list[int]:
    """Camera indices worth offering. Linux names its capture devices in sysfs (a camera also registers metadata
    nodes, with index 1 or more); elsewhere there is no cheap portable way to list them, so camera 0 is offered."""
    if not sys.platform.startswith("linux"):
        return [0]
    found = []
    for node in sorted(Path("/sys/class/video4linux").glob("video*")):
        try:
            number = int(node.name[len("video"):])
            index = (node / "index").read_text().strip()
        except (OSError, ValueError):
            continue
        if index in ("", "0") and number < limit:
            found.append(number)
    return found
