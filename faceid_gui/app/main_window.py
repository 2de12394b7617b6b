"""faceid's main window: Compare, Live, Enroll and Gallery tabs sharing one engine, gallery and threshold."""
from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, QSettings, QSize, Qt, QThreadPool, Signal
from PySide6.QtGui import QAction, QGuiApplication, QIcon, QKeySequence, QPixmap
from PySide6.QtWidgets import (QAbstractItemView, QComboBox, QFileDialog, QHBoxLayout, QInputDialog,
                               QLabel, QLineEdit, QListWidget, QListWidgetItem, QMainWindow, QMessageBox,
                               QProgressBar, QPushButton, QSplitter, QTabWidget, QVBoxLayout, QWidget)

from ..engine import (FaceEngine, FaceIdError, Gallery, NewFace, NoFaceError, check_threshold, distance, encode_jpeg,
                      is_same)
from ..paths import assets_dir, default_gallery_path, user_data_dir
from .widgets import (DIFFERENT_COLOUR, IMAGE_FILTER, SAME_COLOUR, DropZone, ImageView, ThresholdBar, path_name,
                      thumbnail_pixmap, to_qimage)
from .workers import CameraWorker, Task, image_quality, newest_frame, stop_worker

ORG, APP = "faceid", "faceid"
GUI_BUSY_TIMEOUT = 0.5  # seconds a gallery write on the GUI thread waits for another writer


def app_settings() -> QSettings:
    """Window and threshold settings: inside FACEID_DATA_DIR when it is set, else the platform's usual place."""
    if os.environ.get("FACEID_DATA_DIR"):
        return QSettings(str(user_data_dir() / "faceid.conf"), QSettings.Format.IniFormat)
    return QSettings(ORG, APP)


class AppState(QObject):
    """What every tab shares: the engine, the gallery and the threshold."""

    threshold_changed = Signal(float)
    engine_changed = Signal()
    gallery_changed = Signal()

    def __init__(self, engine: FaceEngine, gallery_path: Path):
        super().__init__()
        self.engine = engine
        self.gallery_path = gallery_path
        self.gallery = self._open_gallery()
        self.settings = app_settings()
        self.pool = QThreadPool.globalInstance()
        self.tasks: set[Task] = set()
        self.threshold = self._saved_threshold()

    def _open_gallery(self) -> Gallery:
        # A short busy timeout: gallery writes run on the GUI thread, which must never stall for long.
        return Gallery(self.gallery_path, self.engine.info.fingerprint, self.engine.info.embedding_size,
                       busy_timeout=GUI_BUSY_TIMEOUT)

    def _threshold_key(self) -> str:
        return f"threshold/{self.engine.info.fingerprint}"

    def _saved_threshold(self) -> float:
        """The threshold saved for this model; a damaged setting (NaN, text) falls back to the model's own."""
        try:
            return check_threshold(float(self.settings.value(self._threshold_key(), self.engine.info.threshold)))
        except (TypeError, ValueError, FaceIdError):
            return self.engine.info.threshold

    def set_threshold(self, value: float) -> None:
        if abs(value - self.threshold) > 1e-9:
            self.threshold = value
            self.settings.setValue(self._threshold_key(), value)
            self.threshold_changed.emit(value)

    def set_engine(self, engine: FaceEngine) -> None:
        self.engine = engine
        self.gallery.close()
        self.gallery = self._open_gallery()
        self.threshold = self._saved_threshold()
        self.engine_changed.emit()
        self.threshold_changed.emit(self.threshold)
        self.gallery_changed.emit()

    def run(self, fn, *args, on_result=None, on_error=None, on_progress=None) -> Task:
        task = Task(fn, *args)
        if on_result:
            task.signals.result.connect(on_result)
        if on_error:
            task.signals.error.connect(on_error)
        if on_progress:
            task.signals.progress.connect(on_progress)
        self.tasks.add(task)
        task.signals.finished.connect(lambda: self.tasks.discard(task))
        task.setAutoDelete(False)
        self.pool.start(task)
        return task

    def meaning(self, value: float) -> str:
        """What a threshold means on the model's validation identities (from its metadata)."""
        curve = self.engine.info.metadata.get("rate_curve")
        if not curve:
            if not self.engine.info.trained:
                return "Untrained placeholder model: distances mean nothing yet."
            return "This model carries no validation error rates."
        t, far, frr = (np.asarray(c, float) for c in zip(*curve))
        f_a, f_r = np.interp(value, t, far), np.interp(value, t, frr)
        return (f"On people the model never saw in training: {f_a:.1%} of different-person pairs are accepted "
                f"(false accept), {f_r:.1%} of same-person pairs are rejected (false reject).")


class ThresholdSync:
    """Keeps a ThresholdBar and the shared threshold in step."""

    def __init__(self, bar: ThresholdBar, state: AppState):
        self.bar, self.state = bar, state
        bar.changed.connect(state.set_threshold)
        bar.reset_requested.connect(lambda: self.bar.set_value(state.engine.info.threshold))
        state.threshold_changed.connect(self.refresh)
        self.refresh(state.threshold)

    def refresh(self, value: float) -> None:
        if abs(self.bar.value() - value) > self.bar.maximum / self.bar.STEPS:
            self.bar.slider.blockSignals(True)
            self.bar.set_value(value)
            self.bar.slider.blockSignals(False)
        self.bar.show_meaning(value, self.state.meaning(value))


class CompareTab(QWidget):
    verdict_changed = Signal(object)  # (distance, same) or None

    def __init__(self, state: AppState):
        super().__init__()
        self.state = state
        self.zones = [DropZone("Photo A"), DropZone("Photo B")]
        self.results: list = [None, None]
        self.selected = [0, 0]
        self.crops = [QLabel(), QLabel()]
        for crop in self.crops:
            crop.setFixedSize(112, 112)
            crop.setAlignment(Qt.AlignmentFlag.AlignCenter)
            crop.setStyleSheet("border: 1px solid palette(mid);")
        self.verdict = QLabel("Drop two photos to compare them")
        self.verdict.setAlignment(Qt.AlignmentFlag.AlignCenter)
        font = self.verdict.font()
        font.setPointSizeF(font.pointSizeF() * 1.8)
        font.setBold(True)
        self.verdict.setFont(font)
        self.detail = QLabel()
        self.detail.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.threshold_bar = ThresholdBar()
        ThresholdSync(self.threshold_bar, state)

        zones = QHBoxLayout()
        for zone in self.zones:
            zones.addWidget(zone, 1)
        middle = QHBoxLayout()
        middle.addStretch(1)
        middle.addWidget(self.crops[0])
        middle.addSpacing(16)
        verdict_box = QVBoxLayout()
        verdict_box.addWidget(self.verdict)
        verdict_box.addWidget(self.detail)
        middle.addLayout(verdict_box, 2)
        middle.addSpacing(16)
        middle.addWidget(self.crops[1])
        middle.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addLayout(zones, 1)
        layout.addLayout(middle)
        layout.addWidget(self.threshold_bar)
        for side, zone in enumerate(self.zones):
            zone.file_chosen.connect(lambda path, s=side: self.load(s, path))
            zone.face_clicked.connect(lambda k, s=side: self.select_face(s, k))
        state.threshold_changed.connect(lambda _: self.update_verdict())
        state.engine_changed.connect(self.reanalyse)
        self.paths: list[str | None] = [None, None]

    def load(self, side: int, path: str) -> Task:
        self.paths[side] = path
        self.results[side] = None
        self.selected[side] = 0
        self.zones[side].set_image(None, message=f"Looking for faces in {path_name(path)}…")
        self.update_verdict()
        engine = self.state.engine

        def work(progress, cancelled):
            return engine.analyze_file(path)

        return self.state.run(work, on_result=lambda r, s=side, p=path: self._loaded(s, p, r),
                              on_error=lambda m, s=side, p=path: self._failed(s, p, m))

    def reanalyse(self) -> None:
        for side, path in enumerate(self.paths):
            if path:
                self.load(side, path)

    def _loaded(self, side: int, path: str, result) -> None:
        if self.paths[side] != path:
            return  # a newer photo replaced this one meanwhile
        self.results[side] = result
        self.selected[side] = 0
        self._draw(side)
        self.update_verdict()

    def _failed(self, side: int, path: str, message: str) -> None:
        if self.paths[side] != path:
            return
        self.results[side] = None
        self.zones[side].set_image(None, message=f"{message}\n\nDrop another photo or click to choose one.")
        self.crops[side].clear()
        self.update_verdict()

    def select_face(self, side: int, index: int) -> None:
        self.selected[side] = index
        self._draw(side)
        self.update_verdict()

    def _draw(self, side: int) -> None:
        result = self.results[side]
        n = len(result.faces)
        boxes = [(f.face.box, f"face {k + 1}" if n > 1 else "", SAME_COLOUR if k == self.selected[side] else DIFFERENT_COLOUR)
                 for k, f in enumerate(result.faces)]
        note = f"{n} faces: click one to compare it" if n > 1 else ""
        self.zones[side].set_image(result.image, boxes, self.selected[side], note)
        crop = result.faces[self.selected[side]].crop
        self.crops[side].setPixmap(QPixmap.fromImage(to_qimage(crop)).scaled(
            112, 112, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation))

    def current_distance(self) -> float | None:
        if self.results[0] is None or self.results[1] is None:
            return None
        a = self.results[0].faces[self.selected[0]].embedding
        b = self.results[1].faces[self.selected[1]].embedding
        return distance(a, b)

    def update_verdict(self) -> None:
        d = self.current_distance()
        if d is None:
            self.verdict.setText("Drop two photos to compare them")
            self.verdict.setStyleSheet("")
            self.detail.setText("")
            self.verdict_changed.emit(None)
            return
        same = is_same(d, self.state.threshold)
        self.verdict.setText("Same person" if same else "Not the same person")
        colour = SAME_COLOUR if same else DIFFERENT_COLOUR
        self.verdict.setStyleSheet(f"color: {colour.name()};")
        self.detail.setText(f"distance {d:.3f}  {'<' if same else '≥'}  threshold {self.state.threshold:.3f}")
        self.verdict_changed.emit((d, same))


class LiveTab(QWidget):
    def __init__(self, state: AppState):
        super().__init__()
        self.state = state
        self.worker: CameraWorker | None = None
        self.view = ImageView("Press Start to see the camera.\nEvery face is matched against the gallery.")
        self.source = QComboBox()
        for k in range(4):
            self.source.addItem(f"Camera {k}", k)
        self.source.addItem("Video file…", "file")
        self.start_button = QPushButton("Start")
        self.start_button.setShortcut(QKeySequence("Ctrl+L"))
        self.start_button.clicked.connect(self.toggle)
        self.status = QLabel()
        self.threshold_bar = ThresholdBar()
        ThresholdSync(self.threshold_bar, state)
        top = QHBoxLayout()
        top.addWidget(QLabel("Source"))
        top.addWidget(self.source)
        top.addWidget(self.start_button)
        top.addStretch(1)
        top.addWidget(self.status)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.threshold_bar)
        self.last_names: list[str] = []
        self.frames_shown = 0  # read by the soak command
        self._update_status(0.0)

    def toggle(self) -> None:
        if self.worker is not None:
            self.stop()
            return
        source = self.source.currentData()
        if source == "file":
            path, _ = QFileDialog.getOpenFileName(self, "Choose a video", "", "Videos (*.mp4 *.avi *.mkv *.mov);;All files (*)")
            if not path:
                return
            source = path
        self.start(source)

    def start(self, source) -> None:
        self.stop()
        self.worker = CameraWorker(self.state.engine, source, parent=self)
        self.worker.frame_ready.connect(self._show_frame)
        self.worker.failed.connect(self._failed)
        self.worker.start()
        self.start_button.setText("Stop")
        self.view.set_image(None, message="Starting the camera…")

    def stop(self) -> None:
        self.worker = stop_worker(self.worker)
        self.start_button.setText("Start")

    def _failed(self, message: str) -> None:
        self.stop()
        self.start_button.setText("Retry")
        self.view.set_image(None, message=f"{message}\n\nCheck the camera, then press Retry.")

    def _show_frame(self) -> None:
        latest = newest_frame(self.worker)
        if latest is None:
            return
        rgb, faces, fps = latest
        index = self.state.gallery.index()
        boxes, names = [], []
        for face in faces:
            match = index.nearest(face.embedding, k=1) if len(index) else []
            if match and is_same(match[0].distance, self.state.threshold):
                label, colour = f"{match[0].name}  {match[0].distance:.2f}", SAME_COLOUR
                names.append(match[0].name)
            else:
                nearest = f"  ({match[0].distance:.2f})" if match else ""
                label, colour = f"unknown{nearest}", DIFFERENT_COLOUR
                names.append("unknown")
            boxes.append((face.face.box, label, colour))
        self.last_names = names
        self.frames_shown += 1
        self.view.set_image(rgb, boxes)
        self._update_status(fps)

    def _update_status(self, fps: float) -> None:
        provider = self.state.engine.provider
        self.status.setText(f"{fps:.1f} frames/s  ·  {provider.name}")


class EnrollTab(QWidget):
    enrolled = Signal(str, int)

    def __init__(self, state: AppState):
        super().__init__()
        self.state = state
        self.name = QLineEdit()
        self.name.setPlaceholderText("Name of the person (new or existing)")
        self.add_files = QPushButton("Add photos…")
        self.add_files.setShortcut(QKeySequence("Ctrl+E"))
        self.capture = QPushButton("Capture from camera")
        self.camera_index = QComboBox()
        for k in range(4):
            self.camera_index.addItem(f"Camera {k}", k)
        self.progress = QProgressBar()
        self.progress.setVisible(False)
        self.results = QListWidget()
        self.candidates = QListWidget()
        self.candidates.setViewMode(QListWidget.ViewMode.IconMode)
        self.candidates.setIconSize(QSize(96, 96))
        self.candidates.setMinimumHeight(140)
        self.save = QPushButton("Enroll the checked faces")
        self.save.setEnabled(False)
        self.hint = QLabel("Add several photos per person: different days, light and angles make recognition reliable.")
        self.hint.setWordWrap(True)
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
        self.add_files.clicked.connect(self._choose_files)
        self.capture.clicked.connect(lambda: self.capture_from(self.camera_index.currentData()))
        self.save.clicked.connect(self.commit)
        self.pending: list[NewFace] = []
        self.capture_worker: CameraWorker | None = None

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
            from ..engine import FaceIdError

            for k, path in enumerate(paths):
                if cancelled.is_set():
                    break
                try:
                    result = engine.analyze_file(path)
                    face = result.largest
                    note = f"{len(result.faces)} faces, using the largest" if len(result.faces) > 1 else "face found"
                    item = (path, NewFace(face.embedding, encode_jpeg(face.crop), path), note)
                except FaceIdError as exc:
                    item = (path, None, str(exc))
                progress(k + 1, len(paths), item)
            return len(paths)

        return self.state.run(work, on_progress=self._file_done, on_result=lambda _: self.progress.setVisible(False),
                              on_error=lambda m: self.results.addItem(m))

    def _file_done(self, done: int, total: int, item) -> None:
        self.progress.setValue(done)
        path, new_face, note = item
        ok = new_face is not None
        self.results.addItem(f"{'✔' if ok else '✘'} {path_name(path)}: {note}")
        if ok:
            self._add_candidate(new_face)

    def _add_candidate(self, new_face: NewFace) -> None:
        item = QListWidgetItem(QIcon(thumbnail_pixmap(new_face.thumbnail)), path_name(new_face.source or "camera"))
        item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
        item.setCheckState(Qt.CheckState.Checked)
        item.setData(Qt.ItemDataRole.UserRole, len(self.pending))
        self.pending.append(new_face)
        self.candidates.addItem(item)
        self.save.setEnabled(True)

    def capture_from(self, source, wanted: int = 5) -> None:
        """Guided capture: keep frames with exactly one sharp, well-lit face, a few tenths of a second apart."""
        if self.capture_worker is not None:
            return
        self.captured = 0
        self.wanted = wanted
        self.capture_worker = CameraWorker(self.state.engine, source, loop_video=False, parent=self)
        self.capture_worker.frame_ready.connect(self._capture_frame)
        self.capture_worker.failed.connect(self._capture_failed)
        self.capture_worker.start()
        self.results.addItem(f"Capturing {wanted} good frames: look at the camera, turn your head a little…")
        self._last_capture = 0.0

    def _capture_frame(self) -> None:
        latest = newest_frame(self.capture_worker)
        if latest is None:
            return
        _, faces, _ = latest
        if len(faces) != 1:
            return
        sharpness, brightness = image_quality(faces[0].crop)
        if sharpness < 30 or brightness < 50 or time.monotonic() - self._last_capture < 0.3:
            return
        self._last_capture = time.monotonic()
        self._add_candidate(NewFace(faces[0].embedding, encode_jpeg(faces[0].crop), f"camera frame {self.captured + 1}"))
        self.captured += 1
        if self.captured >= self.wanted:
            self.results.addItem(f"✔ captured {self.captured} frames")
            self._stop_capture()

    def _capture_failed(self, message: str) -> None:
        self.results.addItem(f"✘ {message}" + (f" (kept {self.captured} frames)" if self.captured else ""))
        self._stop_capture()

    def _stop_capture(self) -> None:
        self.capture_worker = stop_worker(self.capture_worker)

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
        self.candidates.clear()
        self.pending.clear()
        self.save.setEnabled(False)
        self.state.gallery_changed.emit()
        self.enrolled.emit(name, len(chosen))
        return len(chosen)


class GalleryTab(QWidget):
    def __init__(self, state: AppState):
        super().__init__()
        self.state = state
        self.people = QListWidget()
        self.people.setViewMode(QListWidget.ViewMode.IconMode)
        self.people.setIconSize(QSize(96, 96))
        self.people.setResizeMode(QListWidget.ResizeMode.Adjust)
        self.people.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.faces = QListWidget()
        self.faces.setViewMode(QListWidget.ViewMode.IconMode)
        self.faces.setIconSize(QSize(72, 72))
        self.notice = QLabel()
        self.notice.setWordWrap(True)
        rename = QPushButton("Rename…")
        forget = QPushButton("Forget person…")
        remove_photo = QPushButton("Remove photo")
        drop_stale = QPushButton("Drop photos from the old model")
        buttons = QHBoxLayout()
        for b in (rename, forget, remove_photo, drop_stale):
            buttons.addWidget(b)
        buttons.addStretch(1)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.people)
        split.addWidget(self.faces)
        layout = QVBoxLayout(self)
        layout.addWidget(self.notice)
        layout.addWidget(split, 1)
        layout.addLayout(buttons)
        rename.clicked.connect(self.rename)
        forget.clicked.connect(self.forget)
        remove_photo.clicked.connect(self.remove_photo)
        drop_stale.clicked.connect(self.drop_stale)
        self.people.currentItemChanged.connect(lambda *_: self.show_faces())
        state.gallery_changed.connect(self.refresh)
        self.refresh()

    def selected_name(self) -> str | None:
        item = self.people.currentItem()
        return item.data(Qt.ItemDataRole.UserRole) if item else None

    def refresh(self) -> None:
        current = self.selected_name()
        self.people.clear()
        people = self.state.gallery.people()
        for person in people:
            text = f"{person.name}\n{person.faces} photo(s)"
            if person.stale_faces:
                text += f"\n{person.stale_faces} need re-enrolment"
            item = QListWidgetItem(QIcon(thumbnail_pixmap(person.thumbnail)), text)
            item.setData(Qt.ItemDataRole.UserRole, person.name)
            self.people.addItem(item)
            if person.name == current:
                self.people.setCurrentItem(item)
        stale = self.state.gallery.stale_count()
        self.notice.setText(
            f"{stale} photo(s) were enrolled with another model and are not used: enrol those people again "
            "(Enroll tab), then drop the old photos." if stale else
            ("The gallery is empty: enrol people on the Enroll tab." if not people else
             f"{len(people)} people. Select one to see their photos."))
        self.show_faces()

    def show_faces(self) -> None:
        self.faces.clear()
        name = self.selected_name()
        if not name:
            return
        for face in self.state.gallery.faces(name):
            label = path_name(face.source or "") + (" (old model)" if face.stale else "")
            item = QListWidgetItem(QIcon(thumbnail_pixmap(face.thumbnail, 72)), label)
            item.setData(Qt.ItemDataRole.UserRole, face.id)
            self.faces.addItem(item)

    def rename(self) -> None:
        name = self.selected_name()
        if not name:
            return
        new, ok = QInputDialog.getText(self, "Rename", f"New name for {name}:", text=name)
        if ok and new.strip():
            self._guarded(lambda: self.state.gallery.rename(name, new))

    def forget(self) -> None:
        name = self.selected_name()
        if name and QMessageBox.question(self, "Forget person", f"Forget {name} and all their photos? This cannot be undone.") \
                == QMessageBox.StandardButton.Yes:
            self._guarded(lambda: self.state.gallery.forget_person(name))

    def remove_photo(self) -> None:
        item = self.faces.currentItem()
        if item:
            self._guarded(lambda: self.state.gallery.forget_face(item.data(Qt.ItemDataRole.UserRole)))

    def drop_stale(self) -> None:
        name = self.selected_name()
        if name:
            self._guarded(lambda: self.state.gallery.forget_stale(name))

    def _guarded(self, action) -> None:
        from ..engine import FaceIdError

        try:
            action()
        except FaceIdError as exc:
            QMessageBox.warning(self, "faceid", str(exc))
        self.state.gallery_changed.emit()


class MainWindow(QMainWindow):
    TABS = ("compare", "live", "enroll", "gallery")

    def __init__(self, state: AppState):
        super().__init__()
        self.state = state
        self.setWindowTitle("faceid")
        icon = assets_dir() / "faceid.png"
        if icon.is_file():
            self.setWindowIcon(QIcon(str(icon)))
        self.tabs = QTabWidget()
        self.compare = CompareTab(state)
        self.live = LiveTab(state)
        self.enroll = EnrollTab(state)
        self.gallery = GalleryTab(state)
        for widget, title in ((self.compare, "&Compare"), (self.live, "&Live"), (self.enroll, "&Enroll"),
                              (self.gallery, "&Gallery")):
            self.tabs.addTab(widget, title)
        self.setCentralWidget(self.tabs)
        self.model_label, self.provider_label, self.gallery_label = QLabel(), QLabel(), QLabel()
        for label in (self.model_label, self.provider_label, self.gallery_label):
            self.statusBar().addPermanentWidget(label)
        self._menus()
        state.engine_changed.connect(self.update_status)
        state.gallery_changed.connect(self.update_status)
        self.update_status()
        geometry = state.settings.value("window/geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
        else:
            self.resize(1100, 760)
        try:
            self.tabs.setCurrentIndex(int(state.settings.value("window/tab", 0)))
        except (TypeError, ValueError):
            pass  # a damaged setting: stay on the first tab

    def _menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        open_model = QAction("Load model…", self, shortcut=QKeySequence("Ctrl+M"), triggered=self.choose_model)
        quit_action = QAction("Quit", self, shortcut=QKeySequence.StandardKey.Quit, triggered=self.close)
        file_menu.addAction(open_model)
        file_menu.addAction(quit_action)
        paste = QAction("Paste photo", self, shortcut=QKeySequence.StandardKey.Paste, triggered=self.paste)
        reset = QAction("Default threshold", self, shortcut=QKeySequence("Ctrl+0"),
                        triggered=lambda: self.state.set_threshold(self.state.engine.info.threshold))
        edit = self.menuBar().addMenu("&Edit")
        edit.addAction(paste)
        edit.addAction(reset)
        for k in range(4):
            self.addAction(QAction(self, shortcut=QKeySequence(f"Ctrl+{k + 1}"),
                                   triggered=lambda checked=False, i=k: self.tabs.setCurrentIndex(i)))

    def paste(self) -> None:
        mime = QGuiApplication.clipboard().mimeData()
        zones = self.compare.zones
        target = zones[1] if zones[1].hasFocus() or (self.compare.paths[0] and not zones[0].hasFocus()) else zones[0]
        if not target.paste(mime):
            self.statusBar().showMessage("The clipboard holds no image file", 4000)

    def choose_model(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Load an embedding model", "", "ONNX models (*.onnx)")
        if path:
            self.load_model(path)

    def load_model(self, path: str) -> Task:
        """Validate the new model fully (off the GUI thread) before it replaces the current one."""
        def work(progress, cancelled):
            return FaceEngine(Path(path))

        def failed(message):
            QMessageBox.warning(self, "faceid", f"This model cannot be used:\n{message}")

        return self.state.run(work, on_result=self._model_loaded, on_error=failed)

    def _model_loaded(self, engine: FaceEngine) -> None:
        self.live.stop()
        self.state.set_engine(engine)
        self.statusBar().showMessage(f"Loaded {engine.info.path.name}", 5000)

    def update_status(self) -> None:
        info = self.state.engine.info
        metrics = info.metrics.get("validation", {}) if isinstance(info.metrics, dict) else {}
        auc = f", val AUC {metrics['roc_auc']:.3f}" if "roc_auc" in metrics else ""
        self.model_label.setText(f"Model: {info.display_name}{auc}")
        provider = self.state.engine.provider
        self.provider_label.setText(f"Device: {provider.name}" + ("" if provider.name == "CUDA" else f" ({provider.reason})"))
        stale = self.state.gallery.stale_count()
        self.gallery_label.setText(f"Gallery: {len(self.state.gallery.people())} people, {self.state.gallery.face_count()} faces"
                                   + (f" ({stale} need re-enrolment)" if stale else ""))

    def show_tab(self, name: str) -> None:
        self.tabs.setCurrentIndex(self.TABS.index(name))

    def shutdown(self) -> None:
        """Stop every worker: camera loops by flag + wait, pool tasks by cancel + waitForDone."""
        self.live.stop()
        self.enroll._stop_capture()
        for task in list(self.state.tasks):
            task.cancelled.set()
        self.state.pool.waitForDone(10000)

    def closeEvent(self, event) -> None:
        self.state.settings.setValue("window/geometry", self.saveGeometry())
        self.state.settings.setValue("window/tab", self.tabs.currentIndex())
        self.shutdown()
        super().closeEvent(event)
