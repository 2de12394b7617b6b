"""Small shared pieces of the window: verdict colours, the image file filter, thumbnails, labels, plurals."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QAction, QColor, QKeySequence, QPainter, QPixmap
from PySide6.QtWidgets import QLabel, QListWidget, QPushButton

IMAGE_FILTER = "Images (*.jpg *.jpeg *.png *.bmp *.webp *.tif *.tiff *.gif *.pgm *.ppm);;All files (*)"
# Verdict colours (boxes, headline): green named/same, amber uncertain, red different, grey unknown. Mid-tones, so
# that they read on light and dark palettes alike.
SAME_COLOUR = QColor("#2e9d4f")
UNCERTAIN_COLOUR = QColor("#d08a00")
DIFFERENT_COLOUR = QColor("#d2453b")
UNKNOWN_COLOUR = QColor("#8a8a8a")
# "The face in use" on the Compare and Enroll photos: blue, never a verdict colour; the other faces thin white.
SELECTED_COLOUR = QColor("#2f7fe0")
OTHER_FACE_COLOUR = QColor("#f0f0f0")

def thumbnail_pixmap(jpeg: bytes | None, size: int = 96) -> QPixmap:
    pixmap = QPixmap()
    if jpeg:
        pixmap.loadFromData(jpeg)
    if pixmap.isNull():
        pixmap = QPixmap(size, size)
        pixmap.fill(UNKNOWN_COLOUR)
    return pixmap.scaled(QSize(size, size), Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation)


def path_name(path: str) -> str:
    return Path(path).name


class ElidedLabel(QLabel):
    """A one-line label that ends in "…" when squeezed (status bar at 800x600 or a scale of 2), never vanishing;
    the full text is its tooltip."""

    def setText(self, text: str) -> None:
        super().setText(text)
        self.setToolTip(text)

    def minimumSizeHint(self) -> QSize:
        return QSize(self.fontMetrics().horizontalAdvance("Model: …"), super().minimumSizeHint().height())

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        text = self.fontMetrics().elidedText(self.text(), Qt.TextElideMode.ElideRight, self.width())
        painter.setPen(self.palette().windowText().color())
        painter.drawText(self.rect(), Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft, text)


def rescan_button(slot) -> QPushButton:
    """The Live and Enroll tabs' "Rescan": look for cameras again."""
    button = QPushButton("Rescan")
    button.setToolTip("Look again for cameras (one plugged in since faceid started)")
    button.clicked.connect(slot)
    return button


def icon_list(icon_px: int, actions: dict) -> QListWidget:
    """A grid of thumbnails, several selectable, with a context menu of `actions` (text: slot); the first one is
    also the Delete key's."""
    grid = QListWidget()
    grid.setViewMode(QListWidget.ViewMode.IconMode)
    grid.setIconSize(QSize(icon_px, icon_px))
    grid.setSelectionMode(QListWidget.SelectionMode.ExtendedSelection)
    grid.setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)
    for k, (text, slot) in enumerate(actions.items()):
        action = QAction(text, grid, triggered=slot)
        if k == 0:
            action.setShortcut(QKeySequence.StandardKey.Delete)
            action.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
        grid.addAction(action)
    return grid
