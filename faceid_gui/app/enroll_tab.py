"""Enroll tab: faces from photos or a guided camera capture become checked candidates, saved under a name."""
from __future__ import annotations

import time

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QIcon, QKeySequence
from PySide6.QtWidgets import (QComboBox, QFileDialog, QHBoxLayout, QLabel, QLineEdit, QListWidget, QListWidgetItem,
                               QMessageBox, QProgressBar, QPushButton, QVBoxLayout, QWidget)

from ..engine import CaptureGate, FaceIdError, NewFace
from .live_tab import CAMERAS
from .state import AppState, error_text
from .widgets import IMAGE_FILTER, path_name, thumbnail_pixmap
from .workers import CameraWorker, Task, newest_frame, stop_worker

CANDIDATE_ICON_PX = 96


class EnrollTab(QWidget):
    capture_finished = Signal(int)  # frames kept, once a guided capture has ended (done, failed or stopped)

    def __init__(self, state: AppState):
        super().__init__()
        self.state = state
        self.name = QLineEdit()
        self.name.setPlaceholderText("Name of the person (new or existing)")
        self.add_files = QPushButton("Add photos…")
        self.add_files.setShortcut(QKeySequence("Ctrl+E"))
        self.capture = QPushButton("Capture from camera")
        self.camera_index = QComboBox()
        for k in range(CAMERAS):
            self.camera_index.addItem(f"Camera {k}", k)
        self.progress = QProgressBar()
        self.progress.setVisible(False)
        self.results = QListWidget()
        self.candidates = QListWidget()
        self.candidates.setViewMode(QListWidget.ViewMode.IconMode)
        self.candidates.setIconSize(QSize(CANDIDATE_ICON_PX, CANDIDATE_ICON_PX))
        self.candidates.setMinimumHeight(140)
        self.save = QPushButton("Enroll the checked faces")
        self.save.setEnabled(False)
        self.hint = QLabel("Add several photos per person: different days, light and angles make recognition reliable.")
        self.hint.setWordWrap(True)
        self._layout()
        self.add_files.clicked.connect(self._choose_files)
        self.capture.clicked.connect(lambda: self.capture_from(self.camera_index.currentData()))
        self.save.clicked.connect(self.commit)
        self.pending: list[NewFace] = []
        self.capture_worker: CameraWorker | None = None
        state.engine_changed.connect(self._model_changed)

    def _layout(self) -> None:
        row = QHBoxLayout()
        row.addWidget(QLabel("Name"))
        row.addWidget(self.name, 1)
        buttons = QHBoxLayout()
        buttons.addWidget(self.add_files)
        buttons.addWidget(self.capture)
        buttons.addWidget(self.camera_index)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addLayout(row)
        layout.addLayout(buttons)
        layout.addWidget(self.hint)
        layout.addWidget(QLabel("Faces found (uncheck any you do not want to keep):"))
        layout.addWidget(self.candidates, 1)
        layout.addWidget(self.progress)
        layout.addWidget(QLabel("Per-file results:"))
        layout.addWidget(self.results, 1)
        layout.addWidget(self.save)

    def _choose_files(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(self, "Photos of one person", "", IMAGE_FILTER)
        if paths:
            self.enroll_files(paths)

    def enroll_files(self, paths: list[str]) -> Task:
        """Analyse photos off the GUI thread; each becomes a checked candidate or a per-file error."""
        engine = self.state.engine
        self.progress.setVisible(True)
        self.progress.setRange(0, len(paths))
        self.progress.setValue(0)

        def work(progress, cancelled):
            for k, path in enumerate(paths):
                if cancelled.is_set():
                    break
                try:
                    result = engine.analyze_file(path)
                    item = (path, result.chosen.new_face(path), result.choice_note or "face found")
                except FaceIdError as exc:
                    item = (path, None, str(exc))
                progress(k + 1, len(paths), item)
            return len(paths)

        return self.state.run(work, on_progress=self._file_done, on_result=lambda _: self.progress.setVisible(False),
                              on_error=lambda e: self.results.addItem(error_text(e)))

    def _file_done(self, done: int, total: int, item) -> None:
        self.progress.setValue(done)
        path, new_face, note = item
        ok = new_face is not None
        self.results.addItem(f"{'✔' if ok else '✘'} {path_name(path)}: {note}")
        if ok:
            self._add_candidate(new_face)

    def _add_candidate(self, new_face: NewFace) -> None:
        if new_face.model_fingerprint != self.state.engine.info.fingerprint:
            return  # analysed by a model that has since been replaced: its embedding means nothing to the new one
        item = QListWidgetItem(QIcon(thumbnail_pixmap(new_face.thumbnail)), path_name(new_face.source or "camera"))
        item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
        item.setCheckState(Qt.CheckState.Checked)
        item.setData(Qt.ItemDataRole.UserRole, len(self.pending))
        self.pending.append(new_face)
        self.candidates.addItem(item)
        self.save.setEnabled(True)

    def _clear_candidates(self) -> None:
        self.candidates.clear()
        self.pending.clear()
        self.save.setEnabled(False)

    def _model_changed(self) -> None:
        """Faces embedded by the previous model cannot be enrolled under the new one: drop them, say so."""
        self.stop_capture()
        if self.pending:
            self.results.addItem(f"The model changed: {len(self.pending)} unsaved face(s) dropped; add them again.")
        self._clear_candidates()

    def capture_from(self, source, wanted: int = 5) -> None:
        """Guided capture: keep frames with exactly one sharp, well-lit face, a few tenths of a second apart."""
        if self.capture_worker is not None:
            return
        self.captured = 0
        self.wanted = wanted
        self.gate = CaptureGate()
        self.capture_worker = CameraWorker(self.state.engine, source, loop_video=False, parent=self)
        self.capture_worker.frame_ready.connect(self._capture_frame)
        self.capture_worker.failed.connect(self._capture_failed)
        self.capture_worker.start()
        self.results.addItem(f"Capturing {wanted} good frames: look at the camera, turn your head a little…")

    def _capture_frame(self) -> None:
        latest = newest_frame(self.capture_worker)
        if latest is None:
            return
        _, faces, _ = latest
        if not self.gate.accept([f.crop for f in faces], time.monotonic()):
            return
        self._add_candidate(faces[0].new_face(f"camera frame {self.captured + 1}"))
        self.captured += 1
        if self.captured >= self.wanted:
            self.results.addItem(f"✔ captured {self.captured} frames")
            self.stop_capture()

    def _capture_failed(self, exc: BaseException) -> None:
        self.results.addItem(f"✘ {error_text(exc)}" + (f" (kept {self.captured} frames)" if self.captured else ""))
        self.stop_capture()

    def stop_capture(self) -> None:
        running, self.capture_worker = self.capture_worker is not None, stop_worker(self.capture_worker)
        if running:
            self.capture_finished.emit(self.captured)

    def commit(self) -> int:
        name = self.name.text().strip()
        if not name:
            QMessageBox.warning(self, "faceid", "Type the person's name first.")
            return 0
        chosen = [self.pending[self.candidates.item(i).data(Qt.ItemDataRole.UserRole)]
                  for i in range(self.candidates.count())
                  if self.candidates.item(i).checkState() == Qt.CheckState.Checked]
        if not chosen:
            QMessageBox.information(self, "faceid", "No face is checked.")
            return 0
        try:
            self.state.gallery.enroll(name, chosen)
        except FaceIdError as exc:  # busy, read-only, full: the candidates stay, so Save can be tried again
            self.results.addItem(f"✘ not saved: {exc}")
            QMessageBox.warning(self, "faceid", f"Not saved:\n{exc}")
            return 0
        self.results.addItem(f"Enrolled {len(chosen)} face(s) for {name}.")
        self._clear_candidates()
        self.state.gallery_changed.emit()
        return len(chosen)
