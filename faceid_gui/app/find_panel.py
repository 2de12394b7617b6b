"""People tab, "Where is this person?": the scanned photos ranked by distance to an enrolled person, coloured by
Compare's verdict, each opened in the system's viewer on a double click."""
from __future__ import annotations

from PySide6.QtCore import QSize, Qt, QUrl
from PySide6.QtGui import QBrush, QDesktopServices, QIcon
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QListWidget, QListWidgetItem, QPushButton, QVBoxLayout, QWidget

from ..engine import SAME, UNCERTAIN, FaceIdError, plural
from ..engine.find import find_person
from .face_thumbs import FaceThumbs
from .widgets import SAME_COLOUR, UNCERTAIN_COLOUR, path_name, thumbnail_pixmap

COLOURS = {SAME: SAME_COLOUR, UNCERTAIN: UNCERTAIN_COLOUR}
ICON_PX = 64


class FindPanel(QWidget):
    def __init__(self, state, library, thumbs: FaceThumbs):
        super().__init__()
        self.state, self.library, self.thumbs = state, library, thumbs
        self.who = QComboBox()
        self.who.setAccessibleName("Enrolled person to find")
        self.find_button = QPushButton("Find")
        self.find_button.clicked.connect(self.find)
        self.summary = QLabel("Where is this person? Pick someone enrolled.")
        self.summary.setWordWrap(True)
        self.results = QListWidget()
        self.results.setAccessibleName("Photos of the person, nearest first")
        self.results.setIconSize(QSize(ICON_PX, ICON_PX))
        self.results.itemDoubleClicked.connect(self.open_photo)
        self.faces: dict[int, object] = {}
        row = QHBoxLayout()
        row.addWidget(QLabel("Where is"))
        row.addWidget(self.who, 1)
        row.addWidget(self.find_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(row)
        layout.addWidget(self.summary)
        layout.addWidget(self.results, 1)
        thumbs.ready.connect(self._icons)
        state.gallery_changed.connect(self.refresh_names)
        self.refresh_names()

    def refresh_names(self) -> None:
        current = self.who.currentText()
        self.who.clear()
        self.who.addItems([p.name for p in self.state.gallery.people()])
        if current:
            self.who.setCurrentText(current)
        self.find_button.setEnabled(self.who.count() > 0)

    def find(self) -> None:
        name = self.who.currentText()
        if not name or self.library is None:
            return
        threshold = self.state.threshold
        try:
            found = find_person(self.library, self.state.gallery.index(), name, threshold, self.state.band())
        except FaceIdError as exc:
            self.summary.setText(str(exc))
            return
        self.results.clear()
        wanted = {f.face_id for f in found}
        self.faces = {f.id: f for f in self.library.faces("1") if f.id in wanted}
        for hit in found:
            item = QListWidgetItem(f"{hit.distance:.3f}  {hit.verdict}  ·  {path_name(hit.path)}")
            item.setData(Qt.ItemDataRole.UserRole, (hit.path, hit.face_id))
            item.setForeground(QBrush(COLOURS.get(hit.verdict, SAME_COLOUR)))
            item.setToolTip(hit.path)
            self.results.addItem(item)
        same = sum(h.verdict == SAME for h in found)
        self.summary.setText(f"{name}: {plural(same, 'photo')} same, {plural(len(found) - same, 'photo')} uncertain "
                             f"(Compare's verdict at the threshold {threshold:.3f}); double-click opens a photo."
                             if found else f"No scanned photo comes near {name}.")
        self._icons()

    def _icons(self) -> None:
        for i in range(self.results.count()):
            item = self.results.item(i)
            face = self.faces.get(item.data(Qt.ItemDataRole.UserRole)[1])
            if face is not None:
                item.setIcon(QIcon(thumbnail_pixmap(self.thumbs.get(face), ICON_PX)))

    def open_photo(self, item) -> None:
        QDesktopServices.openUrl(QUrl.fromLocalFile(item.data(Qt.ItemDataRole.UserRole)[0]))
