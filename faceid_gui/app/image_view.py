"""Photo views: an RGB image scaled to fit with labelled, clickable face boxes, and the drop zone built on it."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtGui import QColor, QFont, QImage, QPainter, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget


def from_qimage(image: QImage) -> np.ndarray:
    """A QImage (pasted, dropped) as an RGB uint8 array."""
    image = image.convertToFormat(QImage.Format.Format_RGB888)
    h, w, stride = image.height(), image.width(), image.bytesPerLine()
    return np.frombuffer(image.constBits(), np.uint8, stride * h).reshape(h, stride)[:, :3 * w].reshape(h, w, 3).copy()


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
        self.setMinimumSize(200, 150)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    def set_image(self, rgb: np.ndarray | None, boxes=(), selected: int = -1, message: str = "") -> None:
        """boxes: (box, label, colour) per face; the selected one is drawn thicker."""
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
                painter.setPen(Qt.GlobalColor.black if colour.lightnessF() > 0.6 else Qt.GlobalColor.white)
                painter.drawText(tag, Qt.AlignmentFlag.AlignCenter, label)
        if self.message:
            # On the photo itself: white on a dark band, readable on any picture (black text vanished on dark ones).
            painter.setFont(self.font())
            flags = Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap
            area = self.rect().adjusted(8, 0, -8, -8)
            bound = painter.boundingRect(area, flags, self.message)
            band = QRectF(self.rect().left(), self.rect().bottom() - bound.height() - 12, self.width(), bound.height() + 12)
            painter.fillRect(band, QColor(0, 0, 0, 170))
            painter.setPen(Qt.GlobalColor.white)
            painter.drawText(band, flags, self.message)

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
    """Takes a photo by drop, paste, Open button or click on empty space; reachable with Tab, opened with Enter or
    Space. Pasted image data (a screenshot) arrives as `image_pasted`, files as `file_chosen`."""

    file_chosen = Signal(str)
    image_pasted = Signal(object)  # RGB uint8 array
    open_requested = Signal()

    def __init__(self, title: str, parent=None):
        super().__init__(f"{title}\n\nDrop a photo here, click or press Open to choose one,\nor paste (Ctrl+V)", parent)
        self.title = title
        self.setAcceptDrops(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setAccessibleName(title)
        self.setCursor(Qt.CursorShape.PointingHandCursor)

    def dragEnterEvent(self, event) -> None:
        if event.mimeData().hasUrls() or event.mimeData().hasImage():
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        if self.paste(event.mimeData()):
            event.acceptProposedAction()

    def mousePressEvent(self, event) -> None:
        if self.image is not None and len(self.boxes) > 1:
            super().mousePressEvent(event)  # a click picks a face; Open replaces the photo
            return
        self.open_requested.emit()

    def keyPressEvent(self, event) -> None:
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_Space):
            self.open_requested.emit()
            return
        super().keyPressEvent(event)

    def focusInEvent(self, event) -> None:
        self.update()
        super().focusInEvent(event)

    def focusOutEvent(self, event) -> None:
        self.update()
        super().focusOutEvent(event)

    def paintEvent(self, event) -> None:
        super().paintEvent(event)
        if self.hasFocus():  # where Tab has landed: Enter opens, Ctrl+V pastes here
            painter = QPainter(self)
            painter.setPen(QPen(self.palette().highlight().color(), 2, Qt.PenStyle.DashLine))
            painter.drawRect(self.rect().adjusted(1, 1, -2, -2))

    def paste(self, mime) -> bool:
        """A local file link, else image data, else text that is the path of a file (copied from a terminal or a
        file manager as plain text); False when the clipboard holds none of these (a link with no path too)."""
        files = [u.toLocalFile() for u in mime.urls() if u.isLocalFile() and u.toLocalFile()] if mime.hasUrls() else []
        text = mime.text().strip().strip("'\"") if mime.hasText() and not mime.hasImage() else ""
        if not files and text and "\n" not in text and _is_file(text):
            files = [str(Path(text).expanduser())]
        if files:
            self.file_chosen.emit(files[0])
            return True
        if mime.hasImage():
            image = QImage(mime.imageData())
            if not image.isNull():
                self.image_pasted.emit(from_qimage(image))
                return True
        return False


def _is_file(text: str) -> bool:
    try:
        return Path(text).expanduser().is_file()
    except (OSError, ValueError, RuntimeError):  # too long, a NUL byte, an unknown ~user
        return False
