"""Live tab: camera or video frames with every face named from the gallery, or "unknown"."""
from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QComboBox, QFileDialog, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from ..engine import identify
from .state import AppState, ThresholdSync, error_text
from .widgets import DIFFERENT_COLOUR, SAME_COLOUR, ImageView, ThresholdBar
from .workers import CameraWorker, newest_frame, stop_worker

CAMERAS = 4  # camera indices offered; OpenCV gives no portable way to list them
VIDEO_FILTER = "Videos (*.mp4 *.avi *.mkv *.mov);;All files (*)"


class LiveTab(QWidget):
    frame_shown = Signal(list)  # the names given to the faces of the frame just drawn ("unknown" for strangers)
    stopped = Signal()  # the camera loop ended: by Stop, by a failure, or by a model change

    def __init__(self, state: AppState):
        super().__init__()
        self.state = state
        self.worker: CameraWorker | None = None
        self.view = ImageView("Press Start to see the camera.\nEvery face is matched against the gallery.")
        self.source = QComboBox()
        for k in range(CAMERAS):
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
        state.engine_changed.connect(self.stop)  # its frames are embedded by the old model

    def toggle(self) -> None:
        if self.worker is not None:
            self.stop()
            return
        source = self.source.currentData()
        if source == "file":
            path, _ = QFileDialog.getOpenFileName(self, "Choose a video", "", VIDEO_FILTER)
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
        running, self.worker = self.worker is not None, stop_worker(self.worker)
        self.start_button.setText("Start")
        if running:
            self.stopped.emit()

    def _failed(self, exc: BaseException) -> None:
        self.stop()
        self.start_button.setText("Retry")
        self.view.set_image(None, message=f"{error_text(exc)}\n\nCheck the camera, then press Retry.")

    def _show_frame(self) -> None:
        latest = newest_frame(self.worker)
        if latest is None:
            return
        rgb, faces, fps = latest
        index = self.state.gallery.index()
        boxes, names = [], []
        for face in faces:
            who = identify(index, face.embedding, self.state.threshold)
            if who.best:
                label, colour = f"{who.best.name}  {who.best.distance:.2f}", SAME_COLOUR
                names.append(who.best.name)
            else:
                nearest = f"  ({who.candidates[0].distance:.2f})" if who.candidates else ""
                label, colour = f"unknown{nearest}", DIFFERENT_COLOUR
                names.append("unknown")
            boxes.append((face.face.box, label, colour))
        self.last_names = names
        self.frames_shown += 1
        self.view.set_image(rgb, boxes)
        self._update_status(fps)
        self.frame_shown.emit(names)

    def _update_status(self, fps: float) -> None:
        provider = self.state.engine.provider
        self.status.setText(f"{fps:.1f} frames/s  ·  {provider.name}")
