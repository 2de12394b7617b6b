"""Live tab: camera or video frames with every face named from the gallery, "A or B?", or "unknown"."""
from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QComboBox, QFileDialog, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from ..engine import AMBIGUOUS, NAMED, NameVote, identify_all, one_in, rule_in_words
from ..engine.open_set import FPIR_CHOICES
from .state import AppState, ThresholdSync, error_text
from .image_view import ImageView
from .threshold_bar import ThresholdBar
from .widgets import SAME_COLOUR, UNCERTAIN_COLOUR, UNKNOWN_COLOUR, rescan_button
from .workers import CameraWorker, available_cameras, newest_frame, no_camera_reason, stop_worker

VOTE_FRAMES = 3  # a name is shown once the same answer held this many frames in a row (NameVote)
STATUS_COLOURS = {NAMED: SAME_COLOUR, AMBIGUOUS: UNCERTAIN_COLOUR}
VIDEO_FILTER = "Videos (*.mp4 *.avi *.mkv *.mov);;All files (*)"


class LiveTab(QWidget):
    frame_shown = Signal(list)  # the names given to the faces of the frame just drawn ("unknown" for strangers)
    stopped = Signal()  # the camera loop ended: by Stop, by a failure, or by a model change

    def __init__(self, state: AppState):
        super().__init__()
        self.state = state
        self.worker: CameraWorker | None = None
        self.view = ImageView()
        self.source = QComboBox()
        self.source.setAccessibleName("Source")
        self.rescan = rescan_button(self.find_cameras)
        self.find_cameras()
        self.start_button = QPushButton("Start")
        self.start_button.setShortcut(QKeySequence("Ctrl+L"))
        self.start_button.clicked.connect(self.toggle)
        self.status = QLabel()
        self.threshold_bar = ThresholdBar()
        ThresholdSync(self.threshold_bar, state)
        self.fpir = QComboBox()  # the open-set target: how many strangers may be given a name
        self.fpir.setAccessibleName("Strangers given a name at most")
        for share in sorted(set(FPIR_CHOICES) | {state.fpir}):
            self.fpir.addItem(one_in(share), share)
        self.fpir.setCurrentIndex(self.fpir.findData(state.fpir))
        self.fpir.currentIndexChanged.connect(lambda _: state.set_fpir(self.fpir.currentData()))
        self.rule_words = QLabel()
        self.rule_words.setWordWrap(True)
        rule_row = QHBoxLayout()
        rule_row.addWidget(QLabel("Strangers named at most"))
        rule_row.addWidget(self.fpir)
        rule_row.addWidget(self.rule_words, 1)
        top = QHBoxLayout()
        top.addWidget(QLabel("Source"))
        top.addWidget(self.source)
        top.addWidget(self.rescan)
        top.addWidget(self.start_button)
        top.addStretch(1)
        top.addWidget(self.status)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.threshold_bar)
        layout.addLayout(rule_row)
        self.last_names: list[str] = []
        self.frames_shown = 0  # read by the soak command
        self.vote = NameVote(VOTE_FRAMES)
        self._update_status(None)
        state.engine_changed.connect(self.stop)  # its frames are embedded by the old model
        for signal in (state.threshold_changed, state.gallery_changed, state.engine_changed):
            signal.connect(self.show_rule)
        self.show_rule()

    def show_rule(self, *_) -> None:
        """What 1:N means at this gallery size, in words (engine/open_set.py)."""
        self.rule_words.setText(rule_in_words(self.state.identify_rule()))

    def find_cameras(self) -> None:
        cameras = fill_camera_list(self.source, with_file=True)
        if self.worker is None:
            self.view.set_image(None, message=(
                "Press Start to see the camera.\nEvery face is matched against the gallery." if cameras else
                f"No camera found: {no_camera_reason()}.\nPress Start to play a video file instead, or plug in a "
                "camera and press Rescan."))

    def hideEvent(self, event) -> None:  # another tab, or the window minimised: nobody sees the frames
        if self.worker is not None:
            self.worker.pause(True)
            self._update_status(None)
        super().hideEvent(event)

    def showEvent(self, event) -> None:
        if self.worker is not None and self.worker.paused:
            self.worker.pause(False)
            self._update_status(None)
        super().showEvent(event)

    def toggle(self) -> None:
        if self.worker is not None:
            self.stop()
            return
        source = self.source.currentData()
        if source is None:  # "No camera found"
            self.view.set_image(None, message="No camera was found. Choose “Video file…” to play a video instead.")
            return
        if source == "file":
            path, _ = QFileDialog.getOpenFileName(self, "Choose a video", self.state.open_folder("videos"), VIDEO_FILTER)
            if not path:
                return
            self.state.remember_folder("videos", path)
            source = path
        self.start(source)

    def start(self, source) -> None:
        self.stop()
        self.worker = CameraWorker(self.state.engine, source, parent=self)
        self.worker.frame_ready.connect(self._show_frame)
        self.worker.failed.connect(self._failed)
        self.vote.reset()
        self.worker.start()
        self.start_button.setText("Stop")
        self.view.set_image(None, message=f"Starting {self.worker.source_name}…")
        self._update_status(None)

    def stop(self) -> None:
        running, self.worker = self.worker is not None, stop_worker(self.worker)
        self.start_button.setText("Start")
        self._update_status(None)
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
        everyone = identify_all(self.state.gallery.index(), [f.embedding for f in faces],
                                self.state.identify_rule().threshold)
        # The shown answer changes only once a new one held for VOTE_FRAMES frames: no flicker between names.
        # A face whose embedding jumped beyond the "different" edge since the last frame (a scene cut under the same
        # box) is another face: its vote starts again instead of keeping the old name.
        held = self.vote.update([f.face.box for f in faces], [(w.status, w.label) for w in everyone],
                                [f.embedding for f in faces], self.state.band().different_from)
        boxes, names = [], []
        for face, answer in zip(faces, held):
            status, label = answer if answer is not None else ("pending", "…")
            boxes.append((face.face.box, label, STATUS_COLOURS.get(status, UNKNOWN_COLOUR)))
            names.append(label)
        self.last_names = names
        self.frames_shown += 1
        self.view.set_image(rgb, boxes)
        self._update_status(fps)
        self.frame_shown.emit(names)

    def _update_status(self, fps: float | None) -> None:
        provider = self.state.engine.provider.name
        if self.worker is None:
            self.status.setText(f"Stopped  ·  {provider}")
        elif self.worker.paused:
            self.status.setText(f"{self.worker.source_name}  ·  paused while hidden  ·  {provider}")
        elif fps is None:
            self.status.setText(f"{self.worker.source_name}  ·  starting  ·  {provider}")
        else:
            self.status.setText(f"{self.worker.source_name}  ·  {fps:.1f} frames/s  ·  {provider}")


def fill_camera_list(combo, with_file: bool) -> list[int]:
    """Only cameras that exist (workers.available_cameras); a video file as the last choice on the Live tab.
    Called again (Rescan), it keeps the camera chosen when that one is still there. Returns the cameras found."""
    chosen = combo.currentData()
    combo.clear()
    cameras = available_cameras()
    for k in cameras:
        combo.addItem(f"Camera {k}", k)
    if not cameras:
        combo.addItem("No camera found", None)
        combo.model().item(0).setEnabled(False)
        combo.setItemData(0, no_camera_reason().capitalize(), Qt.ItemDataRole.ToolTipRole)
    if with_file:
        combo.addItem("Video file…", "file")
        if not cameras:
            combo.setCurrentIndex(combo.count() - 1)
    if chosen is not None and combo.findData(chosen) >= 0:
        combo.setCurrentIndex(combo.findData(chosen))
    return cameras
