"""Gallery tab: enrolled people and their photos; rename, forget, and drop photos of an old model."""
from __future__ import annotations

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import (QAbstractItemView, QHBoxLayout, QInputDialog, QLabel, QListWidget, QListWidgetItem,
                               QMessageBox, QPushButton, QSplitter, QVBoxLayout, QWidget)

from ..engine import FaceIdError
from .state import AppState
from .widgets import path_name, thumbnail_pixmap

PERSON_ICON_PX, FACE_ICON_PX = 96, 72


class GalleryTab(QWidget):
    def __init__(self, state: AppState):
        super().__init__()
        self.state = state
        self.people = QListWidget()
        self.people.setViewMode(QListWidget.ViewMode.IconMode)
        self.people.setIconSize(QSize(PERSON_ICON_PX, PERSON_ICON_PX))
        self.people.setResizeMode(QListWidget.ResizeMode.Adjust)
        self.people.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.faces = QListWidget()
        self.faces.setViewMode(QListWidget.ViewMode.IconMode)
        self.faces.setIconSize(QSize(FACE_ICON_PX, FACE_ICON_PX))
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
            item = QListWidgetItem(QIcon(thumbnail_pixmap(face.thumbnail, FACE_ICON_PX)), label)
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
        try:
            action()
        except FaceIdError as exc:
            QMessageBox.warning(self, "faceid", str(exc))
        self.state.gallery_changed.emit()
