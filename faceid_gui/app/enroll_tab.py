"""Enroll tab: faces from photos or a guided camera capture become checked candidates, saved under a name."""
from __future__ import annotations

import os
import time

from PySide6.QtCore import QEvent, Qt, Signal
from PySide6.QtGui import QIcon, QKeySequence
from PySide6.QtWidgets import (QComboBox, QFileDialog, QHBoxLayout, QLabel, QLineEdit, QListWidget, QListWidgetItem,
                               QMessageBox, QProgressBar, QPushButton, QVBoxLayout, QWidget)

from ..engine import (CaptureGate, FaceIdError, NewFace, enrolment_problems, likeliest_face, plural,
                      unenrolled_face)
from .live_tab import fill_camera_list
from .state import AppState, error_text
from .widgets import IMAGE_FILTER, icon_list, path_name, rescan_button, thumbnail_pixmap
from .workers import CameraWorker, Task, newest_frame, no_camera_reason, stop_worker

CANDIDATE_ICON_PX = 96


class EnrollTab(QWidget):
    capture_finished = Signal(int)  # frames kept, once a guided capture has ended (done, failed or stopped)

    def __init__(self, state: AppState):
        super().__init__()
        self.state = state
        self.name = QLineEdit()
        self.name.setPlaceholderText("Name of the person (new or existing)")
        self.name.installEventFilter(self)  # Ctrl+E while typing the name (QLineEdit takes it for "end of line")
        self.add_files = QPushButton("Add photos…")
        self.add_files.setShortcut(QKeySequence("Ctrl+E"))
        self.add_files.setToolTip("Choose photos of this person (Ctrl+E)")
        self.capture = QPushButton("Capture from camera")
        self.camera_index = QComboBox()
        self.rescan = rescan_button(self.find_cameras)
        self.clear = QPushButton("Clear")
        self.clear.setToolTip("Discard every face not saved yet (Delete removes the selected ones)")
        self.clear.clicked.connect(self.discard_all)
        self.progress = QProgressBar()
        self.progress.setVisible(False)
        self.results = QListWidget()
        self.candidates = icon_list(CANDIDATE_ICON_PX, {"Remove": self.discard_selected, "Clear all": self.discard_all})
        self.candidates.setMinimumHeight(140)
        self.save = QPushButton("Enroll the checked faces")
        self.save.setEnabled(False)
        self.hint = QLabel("Add several photos per person: different days, light and angles make recognition reliable. "
                           "In a group photo every face is offered; the one most like an enrolled person of this name "
                           "is checked, else the largest not enrolled as someone else.")
        self.hint.setWordWrap(True)
        self._layout()
        self.add_files.clicked.connect(self._choose_files)
        self.capture.clicked.connect(lambda: self.capture_from(self.camera_index.currentData()))
        self.save.clicked.connect(self.commit)
        self.pending: list[NewFace] = []
        self.seen: set[str] = set()  # files already analysed since the last save: each is logged once
        self.capture_worker: CameraWorker | None = None
        self.find_cameras()
        state.engine_changed.connect(self._model_changed)

    def log(self, line: str) -> None:
        """A line of the per-file log, scrolled into view (the newest is the one that matters)."""
        self.results.addItem(line)
        self.results.scrollToBottom()

    def find_cameras(self) -> None:
        cameras = fill_camera_list(self.camera_index, with_file=False)
        self.capture.setEnabled(bool(cameras))
        self.capture.setToolTip("Capture 5 good frames" if cameras else f"No camera found: {no_camera_reason()}")
        if not cameras:
            self.log(f"No camera found ({no_camera_reason()}): add photos instead, or plug one in and press Rescan.")

    def unsaved(self) -> int:
        """Faces added but not saved yet (asked about before quitting)."""
        return self.candidates.count()

    def discard_selected(self) -> None:
        for item in self.candidates.selectedItems():
            self.candidates.takeItem(self.candidates.row(item))
        self.save.setEnabled(self.candidates.count() > 0)

    def discard_all(self) -> None:
        if self.candidates.count():
            self.log(f"Discarded {plural(self.candidates.count(), 'unsaved face')}.")
        self._clear_candidates()

    def eventFilter(self, watched, event) -> bool:
        if watched is self.name and event.type() == QEvent.Type.KeyPress \
                and QKeySequence(event.keyCombination()) == self.add_files.shortcut():
            self._choose_files()  # the line edit would take Ctrl+E as "end of line"
            return True
        return super().eventFilter(watched, event)

    def _layout(self) -> None:
        row = QHBoxLayout()
        row.addWidget(QLabel("Name"))
        row.addWidget(self.name, 1)
        buttons = QHBoxLayout()
        buttons.addWidget(self.add_files)
        buttons.addWidget(self.capture)
        buttons.addWidget(self.camera_index)
        buttons.addWidget(self.rescan)
        buttons.addStretch(1)
        buttons.addWidget(self.clear)
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
        paths, _ = QFileDialog.getOpenFileNames(self, "Photos of one person", self.state.open_folder("photos"),
                                                IMAGE_FILTER)
        if paths:
            self.state.remember_folder("photos", paths[0])
            self.enroll_files(paths)

    def enroll_files(self, paths: list[str]) -> Task:
        """Analyse photos off the GUI thread; each face becomes a candidate (the largest of a photo checked) or the
        file a one-line error. A file already added is said once, not analysed again."""
        engine = self.state.engine
        paths = [os.path.abspath(p) for p in paths]  # the gallery keeps where a face came from, from any folder
        again = [p for p in paths if p in self.seen]
        if again:
            self.log(f"already added: {', '.join(path_name(p) for p in again)}")
        paths = [p for p in dict.fromkeys(paths) if p not in self.seen]
        self.seen.update(paths)
        self.progress.setVisible(True)
        self.progress.setRange(0, len(paths))
        self.progress.setValue(0)

        def work(progress, cancelled):
            for k, path in enumerate(paths):
                if cancelled.is_set():
                    break
                try:
                    result = engine.analyze_file(path)
                    item = (path, [f.new_face(path) for f in result.faces], None)
                except FaceIdError as exc:
                    item = (path, [], str(exc))
                progress(k + 1, len(paths), item)
            return len(paths)

        return self.state.run(work, on_progress=self._file_done, on_result=lambda _: self.progress.setVisible(False),
                              on_error=lambda e: self.log(error_text(e)))

    def _file_done(self, done: int, total: int, item) -> None:
        self.progress.setValue(done)
        path, new_faces, error = item
        if error:
            self.log(f"✘ {error}" if path_name(path) in error else f"✘ {path_name(path)}: {error}")
            return
        n = len(new_faces)
        pick, which = 0, "the largest"
        if n > 1:
            pick, which = self._likeliest(new_faces)
        self.log(f"✔ {path_name(path)}: " + ("one face" if n == 1 else
                                                         f"{n} faces, {which} checked: check the right one"))
        for k, new_face in enumerate(new_faces):
            self._add_candidate(new_face, f"{path_name(path)} · face {k + 1} of {n}" if n > 1 else None, checked=k == pick)

    def _likeliest(self, new_faces: list[NewFace]) -> tuple[int, str]:
        """Which face of a group photo to check, and why: the one nearest the named person's mean face
        (engine.likeliest_face), else the largest that is nobody enrolled yet (unenrolled_face), else the largest."""
        name = self.name.text().strip()
        try:
            index = self.state.gallery.index()
        except FaceIdError:
            return 0, "the largest"
        if any(f.model_fingerprint != self.state.engine.info.fingerprint for f in new_faces):
            return 0, "the largest"
        embeddings = [f.embedding for f in new_faces]
        likeliest = likeliest_face(index, name, embeddings) if name else None
        if likeliest is not None:
            return likeliest, f"the one most like {name}"
        nobody = unenrolled_face(index, embeddings, self.state.threshold)
        if nobody:  # 0 is the largest anyway
            return nobody, "the largest not enrolled as someone else"
        return 0, "the largest"

    def _add_candidate(self, new_face: NewFace, label: str | None = None, checked: bool = True) -> None:
        if new_face.model_fingerprint != self.state.engine.info.fingerprint:
            return  # analysed by a model that has since been replaced: its embedding means nothing to the new one
        item = QListWidgetItem(QIcon(thumbnail_pixmap(new_face.thumbnail)), label or path_name(new_face.source or "camera"))
        item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
        item.setCheckState(Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked)
        item.setData(Qt.ItemDataRole.UserRole, len(self.pending))
        self.pending.append(new_face)
        self.candidates.addItem(item)
        self.save.setEnabled(True)

    def _clear_candidates(self) -> None:
        self.candidates.clear()
        self.pending.clear()
        self.seen.clear()
        self.save.setEnabled(False)

    def _model_changed(self) -> None:
        """Faces embedded by the previous model cannot be enrolled under the new one: drop them, say so."""
        self.stop_capture()
        if self.pending:
            self.log(f"The model changed: {plural(len(self.pending), 'unsaved face')} dropped; add them again.")
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
        self.log(f"Capturing {wanted} good frames: look at the camera, turn your head a little…")

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
            self.log(f"✔ captured {self.captured} frames")
            self.stop_capture()

    def _capture_failed(self, exc: BaseException) -> None:
        self.log(f"✘ {error_text(exc)}" + (f" (kept {self.captured} frames)" if self.captured else ""))
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
        checked = [i for i in range(self.candidates.count())
                   if self.candidates.item(i).checkState() == Qt.CheckState.Checked]
        chosen = [self.pending[self.candidates.item(i).data(Qt.ItemDataRole.UserRole)] for i in checked]
        if not chosen:
            QMessageBox.information(self, "faceid", "No face is checked.")
            return 0
        if not self._confirm(name, checked, chosen):
            return 0
        try:
            self.state.gallery.enroll(name, chosen)
        except FaceIdError as exc:  # busy, read-only, full: the candidates stay, so Save can be tried again
            self.log(f"✘ not saved: {exc}")
            QMessageBox.warning(self, "faceid", f"Not saved:\n{exc}")
            return 0
        self.log(f"Enrolled {plural(len(chosen), 'face')} for {name}.")
        self._clear_candidates()
        self.name.clear()  # the next person starts from an empty name, not this one's
        self.state.gallery_changed.emit()
        return len(chosen)

    def _confirm(self, name: str, rows: list[int], chosen: list[NewFace]) -> bool:
        """Warn before saving faces unlike the person's others or like someone else (engine.enrolment_problems)."""
        try:
            index = self.state.gallery.index()
        except FaceIdError:
            return True  # the save itself will say what is wrong with the gallery
        problems = enrolment_problems(index, name, [f.embedding for f in chosen], self.state.identify_rule().threshold,
                                      self.state.band())
        if not problems:
            return True
        lines = "\n".join(f"• {self.candidates.item(rows[k]).text()} {why}" for k, why in problems)
        answer = QMessageBox.question(
            self, "Check before saving", f"Saving under “{name}”:\n{lines}\n\nSave these faces anyway?",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, QMessageBox.StandardButton.No)
        if answer != QMessageBox.StandardButton.Yes:
            self.log("Not saved: uncheck the faces that are someone else, or fix the name.")
            return False
        return True
