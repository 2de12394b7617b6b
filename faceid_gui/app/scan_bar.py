"""The People tab's folder scan: a button, a progress bar with the time left, and Cancel. The scan runs on its own
Python thread (not Qt's pool: the scan's two analysing threads are started from it, and Python threads started from
a thread Python did not start stay registered for good) with its own library connection (SQLite in WAL mode lets the
tab read meanwhile), and groups the faces at the end. Stopped by a flag plus join, never killed."""
from __future__ import annotations

import threading
import time

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QFileDialog, QHBoxLayout, QLabel, QMessageBox, QProgressBar, QPushButton, QWidget

from ..engine.grouping import regroup
from ..engine.library import Library
from ..engine.scan import scan_folder
from .state import AppState, error_text


def time_left(done: int, total: int, seconds: float) -> str:
    """"about 2 min left" from the pace so far; nothing until the pace means something."""
    if done < 5 or seconds < 1 or done >= total:
        return ""
    left = (total - done) * seconds / done
    return f"about {round(left / 60)} min left" if left >= 90 else f"about {max(5, round(left / 5) * 5)} s left"


class _ScanSignals(QObject):
    progress = Signal(int, int, object)
    result = Signal(object)
    error = Signal(object)


class ScanBar(QWidget):
    finished = Signal(object)  # the ScanSummary, after the faces were grouped

    def __init__(self, state: AppState, library_file):
        super().__init__()
        self.state, self.library_file = state, library_file
        self.thread: threading.Thread | None = None
        self.cancelled = threading.Event()
        self.signals = _ScanSignals()
        self.signals.progress.connect(self._progress)
        self.signals.result.connect(self._done)
        self.signals.error.connect(self._failed)
        self.started = 0.0
        self.scan_button = QPushButton("Scan folder…")
        self.scan_button.clicked.connect(self.choose)
        self.progress = QProgressBar()
        self.progress.setAccessibleName("Scan progress")
        self.progress.setVisible(False)
        self.status = QLabel("Choose a folder: its photos are indexed and the faces in them grouped into people.")
        self.status.setWordWrap(True)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setVisible(False)
        self.cancel_button.clicked.connect(self.cancel)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.scan_button)
        row.addWidget(self.progress, 1)
        row.addWidget(self.status, 2)
        row.addWidget(self.cancel_button)

    def choose(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Scan a folder of photos", self.state.open_folder("scan"))
        if folder:
            self.state.settings.setValue("folders/scan", folder)
            self.start(folder)

    def start(self, folder: str) -> None:
        """Scan in the background; no second scan while one runs."""
        if self.running:
            return
        engine, library_file, signals = self.state.engine, self.library_file, self.signals
        self.cancelled = cancelled = threading.Event()

        def work():
            try:
                with Library(library_file, engine.info.fingerprint) as library:
                    summary = scan_folder(library, engine, folder, progress=signals.progress.emit, cancelled=cancelled)
                    regroup(library, engine.info)
            except Exception as exc:  # noqa: BLE001 - any failure ends as a dialog, never a dead thread
                signals.error.emit(exc)
            else:
                signals.result.emit(summary)

        self.started = time.perf_counter()
        self.scan_button.setEnabled(False)
        self.cancel_button.setVisible(True)
        self.cancel_button.setEnabled(True)
        self.progress.setVisible(True)
        self.progress.setRange(0, 0)  # listing the folder: no total yet
        self.status.setText(f"Looking through {folder}…")
        self.thread = threading.Thread(target=work, name="faceid-scan")
        self.thread.start()

    @property
    def running(self) -> bool:
        return self.thread is not None and self.thread.is_alive()

    def cancel(self) -> None:
        if self.running:
            self.cancelled.set()
            self.cancel_button.setEnabled(False)
            self.status.setText("Stopping after the photos being read…")

    def stop(self) -> None:
        """At shutdown: cancel and wait (the photos in hand take a moment)."""
        self.cancelled.set()
        if self.thread is not None:
            self.thread.join(10)

    def _progress(self, done: int, total: int, _path) -> None:
        self.progress.setRange(0, total)
        self.progress.setValue(done)
        left = time_left(done, total, time.perf_counter() - self.started)
        self.status.setText(f"{done:,} of {total:,} new or changed photos" + (f" · {left}" if left else ""))

    def _ended(self) -> None:
        self.scan_button.setEnabled(True)
        self.cancel_button.setVisible(False)
        self.progress.setVisible(False)

    def _done(self, summary) -> None:
        self._ended()
        words = (f"{summary.found:,} photos: {summary.analysed:,} analysed, {summary.unchanged:,} unchanged"
                 + (f", {summary.moved} moved" if summary.moved else "") + (f", {summary.deleted} gone" if summary.deleted else "")
                 + (f", {len(summary.failed)} unreadable" if summary.failed else "")
                 + (" — cancelled: scan again to go on" if summary.cancelled else "") + f" ({summary.seconds:.0f} s).")
        self.status.setText(words)
        self.finished.emit(summary)

    def _failed(self, exc) -> None:
        self._ended()
        self.status.setText("The scan stopped.")
        QMessageBox.warning(self, "faceid", f"The scan stopped:\n{error_text(exc)}")
