"""Compare tab: two photos, the face used in each, and a three-way verdict (same, uncertain, different)."""
from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeySequence, QPixmap
from PySide6.QtWidgets import QFileDialog, QHBoxLayout, QLabel, QPushButton, QSizePolicy, QVBoxLayout, QWidget

from ..engine import DIFFERENT, SAME, ImageResult, distance, judge
from ..engine.pipeline import best_pair
from .state import AppState, ThresholdSync, error_text
from .image_view import DropZone, to_qimage
from .threshold_bar import ThresholdBar
from .widgets import (DIFFERENT_COLOUR, IMAGE_FILTER, OTHER_FACE_COLOUR, SAME_COLOUR, SELECTED_COLOUR,
                      UNCERTAIN_COLOUR, path_name)
from .workers import Task

CROP_PREVIEW_PX = 96  # side of the aligned-face previews beside the verdict
SIDES = ("Photo A", "Photo B")
VERDICT_COLOURS = {SAME: SAME_COLOUR, DIFFERENT: DIFFERENT_COLOUR}


class CompareTab(QWidget):
    verdict_changed = Signal(object)  # (distance, "same" | "uncertain" | "different") or None

    def __init__(self, state: AppState):
        super().__init__()
        self.state = state
        self.zones = [DropZone(title) for title in SIDES]
        self.results: list[ImageResult | None] = [None, None]
        self.errors: list[str | None] = [None, None]
        self.selected = [0, 0]
        self.picked = [False, False]  # the user clicked a face: keep it, do not preselect over it
        self.paths: list[str | None] = [None, None]
        self._tokens: list[object | None] = [None, None]  # a newer photo on a side makes older results stale
        self.open_buttons = [QPushButton(f"Open {title}…") for title in SIDES]
        self.open_buttons[0].setShortcut(QKeySequence("Ctrl+O"))
        self.open_buttons[1].setShortcut(QKeySequence("Ctrl+Shift+O"))
        for button, keys in zip(self.open_buttons, ("Ctrl+O", "Ctrl+Shift+O")):
            button.setToolTip(f"Choose a photo ({keys})")
        self.crops = [QLabel(), QLabel()]
        for crop in self.crops:
            crop.setFixedSize(CROP_PREVIEW_PX, CROP_PREVIEW_PX)
            crop.setAlignment(Qt.AlignmentFlag.AlignCenter)
            crop.setStyleSheet("border: 1px solid palette(mid);")
        self.verdict = QLabel()
        self.verdict.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.verdict.setWordWrap(True)
        font = self.verdict.font()
        font.setPointSizeF(font.pointSizeF() * 1.6)
        font.setBold(True)
        self.verdict.setFont(font)
        self.verdict.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.detail = QLabel()
        self.detail.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.detail.setWordWrap(True)
        self.detail.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)  # wraps, never widens
        self.threshold_bar = ThresholdBar()
        ThresholdSync(self.threshold_bar, state)
        self._layout()
        for side, zone in enumerate(self.zones):
            zone.file_chosen.connect(lambda path, s=side: self.load(s, path))
            zone.image_pasted.connect(lambda rgb, s=side: self.load_pixels(s, rgb))
            zone.open_requested.connect(lambda s=side: self.choose(s))
            zone.face_clicked.connect(lambda k, s=side: self.select_face(s, k, by_user=True))
            self.open_buttons[side].clicked.connect(lambda _=False, s=side: self.choose(s))
        state.threshold_changed.connect(lambda _: self.update_verdict())
        state.engine_changed.connect(self.reanalyse)
        self.update_verdict()

    def _layout(self) -> None:
        zones = QHBoxLayout()
        for zone, button in zip(self.zones, self.open_buttons):
            column = QVBoxLayout()
            column.addWidget(zone, 1)
            column.addWidget(button, 0, Qt.AlignmentFlag.AlignLeft)
            zones.addLayout(column, 1)
        middle = QHBoxLayout()
        middle.addWidget(self.crops[0])
        verdict_box = QVBoxLayout()
        verdict_box.addWidget(self.verdict)
        verdict_box.addWidget(self.detail)
        middle.addLayout(verdict_box, 1)
        middle.addWidget(self.crops[1])
        layout = QVBoxLayout(self)
        layout.addLayout(zones, 1)
        layout.addLayout(middle)
        layout.addWidget(self.threshold_bar)
        self.setTabOrder(self.zones[0], self.open_buttons[0])
        self.setTabOrder(self.open_buttons[0], self.zones[1])
        self.setTabOrder(self.zones[1], self.open_buttons[1])

    def choose(self, side: int) -> None:
        path, _ = QFileDialog.getOpenFileName(self, f"Choose {SIDES[side]}", self.state.open_folder("photos"),
                                              IMAGE_FILTER)
        if path:
            self.state.remember_folder("photos", path)
            self.load(side, path)

    def load(self, side: int, path: str) -> Task:
        """Decode and analyse a photo off the GUI thread; a photo without a face is still shown."""
        engine = self.state.engine

        return self._start(side, path, lambda progress, cancelled: engine.analyze_path(path))

    def load_pixels(self, side: int, rgb) -> Task:
        """Pasted image data (no file behind it)."""
        engine = self.state.engine
        return self._start(side, "pasted image", lambda progress, cancelled: ImageResult(rgb, engine.analyze(rgb)))

    def _start(self, side: int, path: str, work) -> Task:
        self.paths[side] = path
        self.results[side] = self.errors[side] = None
        self.selected[side], self.picked[side] = 0, False
        self.crops[side].clear()
        self.zones[side].set_image(None, message=f"Looking for faces in {path_name(path)}…")
        self.update_verdict()
        token = self._tokens[side] = object()
        return self.state.run(work, on_result=lambda r, s=side, t=token: self._loaded(s, t, r),
                              on_error=lambda e, s=side, t=token: self._failed(s, t, e))

    def reanalyse(self) -> None:
        for side, path in enumerate(self.paths):
            if path and path != "pasted image":
                self.load(side, path)
            elif path:  # pixels only: analyse them again from the photo we still hold
                if self.results[side] is not None:
                    self.load_pixels(side, self.results[side].image)

    def _loaded(self, side: int, token, result: ImageResult) -> None:
        if self._tokens[side] is not token:
            return
        self.results[side] = result
        self._preselect()
        for s in (0, 1):
            self._draw(s)
        self.update_verdict()

    def _failed(self, side: int, token, exc: BaseException) -> None:
        if self._tokens[side] is not token:
            return
        self.results[side] = None
        self.errors[side] = error_text(exc)
        self.zones[side].set_image(None, message=f"{self.errors[side]}\n\nDrop another photo, or press Open.")
        self.crops[side].clear()
        self.update_verdict()

    def _preselect(self) -> None:
        """With several faces on a side, start from the pair of faces most alike (the user may click another)."""
        a, b = self.results
        if a is None or b is None or not a.faces or not b.faces:
            return
        i, j = best_pair(a, b)
        if self.picked[0] and not self.picked[1]:
            j = min(range(len(b.faces)), key=lambda k: distance(a.faces[self.selected[0]].embedding, b.faces[k].embedding))
        elif self.picked[1] and not self.picked[0]:
            i = min(range(len(a.faces)), key=lambda k: distance(a.faces[k].embedding, b.faces[self.selected[1]].embedding))
        for side, k in ((0, i), (1, j)):
            if not self.picked[side]:
                self.selected[side] = k

    def select_face(self, side: int, index: int, by_user: bool = False) -> None:
        self.selected[side] = index
        self.picked[side] = self.picked[side] or by_user
        self._preselect()
        for s in (0, 1):
            self._draw(s)
        self.update_verdict()

    def _draw(self, side: int) -> None:
        result = self.results[side]
        if result is None:
            return
        n = len(result.faces)
        if n == 0:
            self.zones[side].set_image(result.image, (), -1, "No face found in this photo")
            self.crops[side].clear()
            return
        chosen = self.selected[side]
        boxes = [(f.face.box * result.scale, f"face {k + 1}" if n > 1 else "", SELECTED_COLOUR if k == chosen else OTHER_FACE_COLOUR)
                 for k, f in enumerate(result.faces)]
        note = ""
        if n > 1:
            other = self.results[1 - side]
            why = ("you chose it" if self.picked[side] else
                   f"the one most like {SIDES[1 - side]}" if other is not None and other.faces else "the largest")
            note = f"{n} faces: using face {chosen + 1} ({why}). Click another face to use it."
        self.zones[side].set_image(result.image, boxes, chosen, note)
        crop = result.faces[chosen].crop
        self.crops[side].setPixmap(QPixmap.fromImage(to_qimage(crop)).scaled(
            CROP_PREVIEW_PX, CROP_PREVIEW_PX, Qt.AspectRatioMode.KeepAspectRatio,
            Qt.TransformationMode.SmoothTransformation))

    def current_distance(self) -> float | None:
        a, b = self.results
        if a is None or b is None or not a.faces or not b.faces:
            return None
        return distance(a.faces[self.selected[0]].embedding, b.faces[self.selected[1]].embedding)

    def _problem(self) -> str | None:
        """The headline when there is no verdict: which side is missing or has the problem."""
        for side in (0, 1):
            if self.errors[side]:
                return f"{SIDES[side]}: the photo could not be used"
            if self.results[side] is not None and not self.results[side].faces:
                return f"{SIDES[side]}: no face found"
        missing = [SIDES[s] for s in (0, 1) if self.paths[s] is None]
        if len(missing) == 2:
            return "Drop two photos to compare them"
        if missing:
            return f"Now add {missing[0]}"
        return None

    def update_verdict(self) -> None:
        d = self.current_distance()
        if d is None:
            problem = self._problem()
            self.verdict.setText(problem or "Looking for faces…")
            self.verdict.setStyleSheet("" if not problem or not problem.endswith(("used", "found"))
                                       else f"color: {DIFFERENT_COLOUR.name()};")
            self.detail.setText("")
            self.verdict_changed.emit(None)
            return
        judged = judge(self.state.engine.info, d, self.state.threshold)  # the CLI's compare says the same
        band = judged.band
        self.verdict.setText(judged.headline)
        self.verdict.setStyleSheet(f"color: {VERDICT_COLOURS.get(judged.answer, UNCERTAIN_COLOUR).name()};")
        self.detail.setText(f"Distance {d:.3f}: same below {band.same_below:.3f}, different from "
                            f"{band.different_from:.3f} (threshold {judged.threshold:.3f}).\n{judged.meaning}")
        self.verdict_changed.emit((d, judged.answer))
