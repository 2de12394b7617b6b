"""A grid of faces for galleries the size of a photo library: a Qt model/view list (one model, no widget per
face) whose pictures are read from the gallery only when their rows are painted, a screenful at a time."""
from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

from PySide6.QtCore import QAbstractListModel, QModelIndex, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QAbstractItemView, QListView

from ..engine import FaceIdError
from .widgets import thumbnail_pixmap

PICTURES_KEPT = 600  # decoded icons kept (about 6 screenfuls; ~25 MB at 96 px), the least recently shown dropped


@dataclass(frozen=True)
class GridRow:
    text: str
    tooltip: str
    value: object  # what the tab works with: a name, an EnrolledFace
    face_id: int | None  # whose thumbnail pictures the row (None: a grey square)


class FaceGridModel(QAbstractListModel):
    """Rows of text and a picture; `load(face_ids) -> {id: bytes}` reads pictures, batched once per paint."""

    def __init__(self, load, icon_px: int):
        super().__init__()
        self.load, self.icon_px = load, icon_px
        self.rows: list[GridRow] = []
        self.icons: OrderedDict[int, QIcon] = OrderedDict()
        self.requested: set[int] = set()  # every face id whose picture was read (tests: only the rows shown)
        self._wanted: dict[int, None] = {}
        self._placeholder = QIcon(thumbnail_pixmap(None, icon_px))

    def set_rows(self, rows: list[GridRow]) -> None:
        self.beginResetModel()
        self.rows = rows
        self.icons.clear()  # a re-embedded face may carry a new thumbnail
        self._wanted.clear()
        self.endResetModel()

    def rowCount(self, parent=QModelIndex()) -> int:  # noqa: N802 - Qt's name
        return 0 if parent.isValid() else len(self.rows)

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or index.row() >= len(self.rows):
            return None
        row = self.rows[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return row.text
        if role == Qt.ItemDataRole.ToolTipRole:
            return row.tooltip
        if role == Qt.ItemDataRole.UserRole:
            return row.value
        if role == Qt.ItemDataRole.DecorationRole:
            return self._icon(row.face_id)
        return None

    def _icon(self, face_id: int | None) -> QIcon:
        if face_id is None:
            return self._placeholder
        icon = self.icons.get(face_id)
        if icon is not None:
            self.icons.move_to_end(face_id)
            return icon
        if not self._wanted:
            QTimer.singleShot(0, self._load_wanted)  # after this paint: one read for every row it showed
        self._wanted[face_id] = None
        return self._placeholder

    def _load_wanted(self) -> None:
        wanted, self._wanted = list(self._wanted), {}
        if not wanted:
            return
        self.requested.update(wanted)
        try:
            pictures = self.load(wanted)
        except FaceIdError:
            pictures = {}  # busy or damaged for now: grey squares, asked again when next painted
        for face_id in wanted:
            if face_id in pictures:
                self.icons[face_id] = QIcon(thumbnail_pixmap(pictures[face_id], self.icon_px))
        while len(self.icons) > PICTURES_KEPT:
            self.icons.popitem(last=False)
        if pictures and self.rows:
            self.dataChanged.emit(self.index(0), self.index(len(self.rows) - 1), [Qt.ItemDataRole.DecorationRole])


def icon_grid(view: QListView, icon_px: int) -> QListView:
    """Faces as a grid of icons with their names below (this grid, and the People tab's list widgets)."""
    view.setViewMode(QListView.ViewMode.IconMode)
    view.setIconSize(QSize(icon_px, icon_px))
    view.setGridSize(QSize(icon_px + 40, icon_px + 56))
    view.setResizeMode(QListView.ResizeMode.Adjust)
    view.setMovement(QListView.Movement.Static)
    view.setWordWrap(True)
    view.setUniformItemSizes(True)  # laying out 10,000 rows asks the size of one
    return view


class FaceGrid(QListView):
    """The icon grid of the Gallery tab, with the few list-widget conveniences the tab and its tests use."""

    current_changed = Signal()

    def __init__(self, load, icon_px: int, name: str):
        super().__init__()
        self.grid_model = FaceGridModel(load, icon_px)
        self.setModel(self.grid_model)
        icon_grid(self, icon_px)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setAccessibleName(name)
        self.selectionModel().currentChanged.connect(lambda *_: self.current_changed.emit())

    def set_rows(self, rows: list[GridRow], current: int = -1) -> None:
        """New rows, `current` selected, announcing the change once (not once for the reset and once for the pick)."""
        self.selectionModel().blockSignals(True)
        self.grid_model.set_rows(rows)
        self.setCurrentRow(current)
        self.selectionModel().blockSignals(False)

    def count(self) -> int:
        return len(self.grid_model.rows)

    def row_value(self, row: int):
        return self.grid_model.rows[row].value

    def row_text(self, row: int) -> str:
        return self.grid_model.rows[row].text

    def values(self) -> list:
        return [r.value for r in self.grid_model.rows]

    def current_value(self):
        row = self.currentIndex().row()
        return self.grid_model.rows[row].value if 0 <= row < self.count() else None

    def setCurrentRow(self, row: int) -> None:  # noqa: N802 - as QListWidget calls it
        if 0 <= row < self.count():
            index = self.grid_model.index(row)
            self.selectionModel().setCurrentIndex(index, self.selectionModel().SelectionFlag.ClearAndSelect)
            self.scrollTo(index)
        else:
            self.selectionModel().clear()
