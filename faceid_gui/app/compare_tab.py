"""Compare tab: two photos, the face chosen in each, and the verdict at the shared threshold."""
from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import QHBoxLayout, QLabel, QVBoxLayout, QWidget

from ..engine import distance, is_same
from .state import AppState, ThresholdSync, error_text
from .widgets import DIFFERENT_COLOUR, SAME_COLOUR, DropZone, ThresholdBar, path_name, to_qimage
from .workers import Task

CROP_PREVIEW_PX = 112  # side of the aligned-face previews beside the verdict


class CompareTab(QWidget):
    verdict_changed = Signal(object)  # (distance, same) or None

    def __init__(self, state: AppState):
        super().__init__()
        self.state = state
        self.zones = [DropZone("Photo A"), DropZone("Photo B")]
        self.results: list = [None, None]
        self.selected = [0, 0]
        self.paths: list[str | None] = [None, None]
        self.crops = [QLabel(), QLabel()]
        for crop in self.crops:
            crop.setFixedSize(CROP_PREVIEW_PX, CROP_PREVIEW_PX)
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
        self._layout()
        for side, zone in enumerate(self.zones):
            zone.file_chosen.connect(lambda path, s=side: self.load(s, path))
            zone.face_clicked.connect(lambda k, s=side: self.select_face(s, k))
        state.threshold_changed.connect(lambda _: self.update_verdict())
        state.engine_changed.connect(self.reanalyse)

    def _layout(self) -> None:
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
                              on_error=lambda e, s=side, p=path: self._failed(s, p, e))

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

    def _failed(self, side: int, path: str, exc: BaseException) -> None:
        if self.paths[side] != path:
            return
        self.results[side] = None
        self.zones[side].set_image(None, message=f"{error_text(exc)}\n\nDrop another photo or click to choose one.")
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
            CROP_PREVIEW_PX, CROP_PREVIEW_PX, Qt.AspectRatioMode.KeepAspectRatio,
            Qt.TransformationMode.SmoothTransformation))

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
