"""Reusable widgets: image views with face boxes, drop zones, the threshold bar."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont, QImage, QPainter, QPen, QPixmap
from PySide6.QtWidgets import (QFileDialog, QHBoxLayout, QLabel, QPushButton, QSizePolicy, QSlider, QVBoxLayout,
                               QWidget)

IMAGE_FILTER = "Images (*.jpg *.jpeg *.png *.bmp *.webp *.tif *.tiff *.gif *.pgm *.ppm);;All files (*)"
SAME_COLOUR = QColor("#2e9d4f")
DIFFERENT_COLOUR = QColor("#d2453b")


def to_qimage(rgb: np.ndarray) -> QImage:
    rgb = np.ascontiguousarray(rgb)
    h, w = rgb.shape[:2]
    return QImage(rgb.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()


class ImageView(QWidget):
    """Shows an RGB image scaled to fit, with labelled face boxes; clicking a box selects that face."""

    face_clicked = Signal(int)

    def __init__(self, placeholder: str = "", parent=None):
        super().__init__(parent)
        self.placeholder = placeholder
        self.image: QImage | None = None
        self.boxes: list[tuple[np.ndarray, str, QColor]] = []
        self.selected = -1
        self.message = ""
        self.setMinimumSize(240, 180)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    def set_image(self, rgb: np.ndarray | None, boxes=(), selected: int = -1, message: str = "") -> None:
        self.image = to_qimage(rgb) if rgb is not None else None
        self.boxes = list(boxes)
        self.selected = selected
        self.message = message
        self.update()

    def _geometry(self) -> tuple[float, float, float]:
        scale = min(self.width() / self.image.width(), self.height() / self.image.height())
        ox = (self.width() - self.image.width() * scale) / 2
        oy = (self.height() - self.image.height() * scale) / 2
        return scale, ox, oy

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        palette = self.palette()
        painter.fillRect(self.rect(), palette.alternateBase())
        if self.image is None:
            painter.setPen(palette.placeholderText().color())
            painter.drawText(self.rect().adjusted(12, 12, -12, -12), Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap,
                             self.message or self.placeholder)
            return
        scale, ox, oy = self._geometry()
        target = QRectF(ox, oy, self.image.width() * scale, self.image.height() * scale)
        painter.drawImage(target, self.image)
        font = QFont(self.font())
        font.setBold(True)
        painter.setFont(font)
        for k, (box, label, colour) in enumerate(self.boxes):
            x1, y1, x2, y2 = (float(v) for v in box[:4])
            rect = QRectF(ox + x1 * scale, oy + y1 * scale, (x2 - x1) * scale, (y2 - y1) * scale)
            painter.setPen(QPen(colour, 4 if k == self.selected else 2))
            painter.drawRect(rect)
            if label:
                metrics = painter.fontMetrics()
                tw = metrics.horizontalAdvance(label) + 8
                tag = QRectF(rect.left(), rect.top() - metrics.height() - 2, tw, metrics.height() + 2)
                if tag.top() < 0:
                    tag.moveTop(rect.bottom())
                painter.fillRect(tag, colour)
                painter.setPen(Qt.GlobalColor.white)
                painter.drawText(tag, Qt.AlignmentFlag.AlignCenter, label)
        if self.message:
            painter.setPen(palette.text().color())
            painter.drawText(self.rect().adjusted(8, 8, -8, -8), Qt.AlignmentFlag.AlignBottom | Qt.AlignmentFlag.AlignHCenter,
                             self.message)

    def mousePressEvent(self, event) -> None:
        if self.image is None or not self.boxes:
            return super().mousePressEvent(event)
        scale, ox, oy = self._geometry()
        x = (event.position().x() - ox) / scale
        y = (event.position().y() - oy) / scale
        for k, (box, _, _) in enumerate(self.boxes):
            if box[0] <= x <= box[2] and box[1] <= y <= box[3]:
                self.face_clicked.emit(k)
                return
        super().mousePressEvent(event)


class DropZone(ImageView):
    """Accepts a dropped or pasted image file, or opens a file dialog when clicked on empty space."""

    file_chosen = Signal(str)

    def __init__(self, title: str, parent=None):
        super().__init__(f"{title}\n\nDrop a photo here, click to choose one,\nor paste (Ctrl+V)", parent)
        self.setAcceptDrops(True)
        self.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        self.setCursor(Qt.CursorShape.PointingHandCursor)

    def dragEnterEvent(self, event) -> None:
        if event.mimeData().hasUrls() or event.mimeData().hasImage():
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        urls = [u for u in event.mimeData().urls() if u.isLocalFile()]
        if urls:
            self.file_chosen.emit(urls[0].toLocalFile())
            event.acceptProposedAction()

    def mousePressEvent(self, event) -> None:
        if self.image is not None and self.boxes and len(self.boxes) > 1:
            super().mousePressEvent(event)
            return
        path, _ = QFileDialog.getOpenFileName(self, "Choose a photo", "", IMAGE_FILTER)
        if path:
            self.file_chosen.emit(path)

    def paste(self, mime) -> bool:
        if mime.hasUrls() and mime.urls()[0].isLocalFile():
            self.file_chosen.emit(mime.urls()[0].toLocalFile())
            return True
        return False


class ThresholdBar(QWidget):
    """Slider for the decision threshold, with what it means on the model's validation identities."""

    changed = Signal(float)
    reset_requested = Signal()

    STEPS = 1000

    def __init__(self, parent=None):
        super().__init__(parent)
        self.maximum = 2.0
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(0, self.STEPS)
        self.slider.setAccessibleName("Decision threshold")
        self.value_label = QLabel()
        self.value_label.setMinimumWidth(60)
        self.meaning = QLabel()
        self.meaning.setWordWrap(True)
        self.meaning.setStyleSheet("color: palette(placeholder-text);")
        reset = QPushButton("Model default")
        reset.setToolTip("Return to the threshold calibrated for this model (Ctrl+0)")
        reset.clicked.connect(self.reset_requested)
        top = QHBoxLayout()
        top.addWidget(QLabel("Threshold"))
        top.addWidget(self.slider, 1)
        top.addWidget(self.value_label)
        top.addWidget(reset)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addWidget(self.meaning)
        self.slider.valueChanged.connect(lambda v: self.changed.emit(self.value()))

    def value(self) -> float:
        return self.slider.value() / self.STEPS * self.maximum

    def set_value(self, value: float) -> None:
        self.slider.setValue(int(round(value / self.maximum * self.STEPS)))

    def show_meaning(self, value: float, text: str) -> None:
        self.value_label.setText(f"{value:.3f}")
        self.meaning.setText(text)


def thumbnail_pixmap(jpeg: bytes | None, size: int = 96) -> QPixmap:
    pixmap = QPixmap()
    if jpeg:
        pixmap.loadFromData(jpeg)
    if pixmap.isNull():
        pixmap = QPixmap(size, size)
        pixmap.fill(QColor("#888888"))
    return pixmap.scaled(QSize(size, size), Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation)


def path_name(path: str) -> str:
    return Path(path).name
