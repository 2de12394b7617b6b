"""People tab: the faces of a scanned folder grouped into people, largest group first, with suggestions for people
already enrolled; name a group (enrols it), merge two, take faces out, ignore faces for good, accept or reject
suggestions, undo; and "where is this person?" (find_panel). The work itself is engine/people.py."""
from __future__ import annotations

from PySide6.QtCore import QSize, Qt, QTimer
from PySide6.QtGui import QIcon, QKeySequence
from PySide6.QtWidgets import (QAbstractItemView, QHBoxLayout, QInputDialog, QLabel, QListWidgetItem, QMessageBox,
                               QPushButton, QSplitter, QVBoxLayout, QWidget)

from ..engine import FaceIdError, people, plural
from ..engine.grouping import groups_to_review, suggestions
from ..engine.library import Library, library_path
from .face_thumbs import FaceThumbs
from .find_panel import FindPanel
from .gallery_tab import _grid, ask
from .scan_bar import ScanBar
from .state import AppState
from .widgets import thumbnail_pixmap

GROUP_ICON_PX, FACE_ICON_PX = 88, 72
SHOWN_FACES = 300  # faces drawn for one group; the actions still apply to all of them
REFRESH_DELAY_MS = 300


class PeopleTab(QWidget):
    def __init__(self, state: AppState):
        super().__init__()
        self.state = state
        self.undo_stack: list = []  # library.Undo, newest last
        self.entries: dict = {}  # ("group", k) or ("suggestion", name) -> faces, in the order shown
        self.library = self._open_library()
        self.thumbs = FaceThumbs(state)
        self.scan = ScanBar(state, library_path(state.gallery_path))
        self.groups = _grid(GROUP_ICON_PX)
        self.groups.setAccessibleName("Groups of faces")
        self.groups.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.groups.setUniformItemSizes(False)  # an item laid out before its picture came must not size the rest
        self.faces = _grid(FACE_ICON_PX)
        self.faces.setGridSize(QSize(FACE_ICON_PX + 16, FACE_ICON_PX + 16))
        self.faces.setAccessibleName("Faces of the selected group")
        self.faces.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.overview, self.title = QLabel(), QLabel()
        self.overview.setWordWrap(True)
        self.title.setWordWrap(True)
        font = self.title.font()
        font.setBold(True)
        self.title.setFont(font)
        self.buttons = {key: QPushButton(text) for key, text in (
            ("name", "Name…"), ("accept", "Accept"), ("reject", "Not this person"), ("merge", "Merge with…"),
            ("out", "Take out"), ("ignore", "Ignore"), ("undo", "Undo"))}
        self.buttons["undo"].setShortcut(QKeySequence.StandardKey.Undo)
        self.find = FindPanel(state, self.library, self.thumbs)
        self._layout()
        for key, slot in (("name", self.name_group), ("accept", self.accept), ("reject", self.reject),
                          ("merge", self.merge), ("out", self.take_out), ("ignore", self.ignore), ("undo", self.undo)):
            self.buttons[key].clicked.connect(slot)
        self.groups.currentItemChanged.connect(lambda *_: self.show_faces())
        self.faces.itemSelectionChanged.connect(self._enable)
        self.thumbs.ready.connect(self._icons)
        self.scan.finished.connect(lambda _: self.refresh())
        # A refresh reads every face (0.4 s for 5,000): a slider drag or a burst of gallery changes gets one, and
        # only while the tab is shown (else when it is next shown): the app's start-up does not wait for it.
        self._stale = True
        self._later = QTimer(self, singleShot=True, interval=REFRESH_DELAY_MS, timeout=self._refresh_if_shown)
        state.gallery_changed.connect(self._later.start)
        state.threshold_changed.connect(self._later.start)
        state.engine_changed.connect(self._model_changed)
        self.overview.setText(self.library_error or "")
        self.scan.scan_button.setEnabled(self.library is not None)
        self._enable()

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if self._stale:
            self.refresh()

    def _refresh_if_shown(self) -> None:
        self._stale = True
        if self.isVisible():
            self.refresh()

    def _open_library(self) -> Library | None:
        """The library, or None when it cannot be used (the tab then says why; the other tabs work on)."""
        self.library_error = ""
        try:
            return Library(library_path(self.state.gallery_path), self.state.engine.info.fingerprint, busy_timeout=0.5)
        except FaceIdError as exc:
            self.library_error = str(exc)
            return None

    def _layout(self) -> None:
        left = QWidget()
        left_box = QVBoxLayout(left)
        left_box.setContentsMargins(0, 0, 0, 0)
        left_box.addWidget(self.overview)
        left_box.addWidget(self.groups, 1)
        review = QWidget()
        box = QVBoxLayout(review)
        box.setContentsMargins(0, 0, 0, 0)
        box.addWidget(self.title)
        box.addWidget(self.faces, 1)
        for keys in (("name", "accept", "reject", "merge"), ("out", "ignore", "undo")):
            row = QHBoxLayout()  # two short rows: the tab fits at 800x600
            for key in keys:
                row.addWidget(self.buttons[key])
            row.addStretch(1)
            box.addLayout(row)
        right = QSplitter(Qt.Orientation.Vertical)
        right.addWidget(review)
        right.addWidget(self.find)
        right.setStretchFactor(0, 3)
        right.setStretchFactor(1, 2)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(left)
        split.addWidget(right)
        split.setChildrenCollapsible(False)
        layout = QVBoxLayout(self)
        layout.addWidget(self.scan)
        layout.addWidget(split, 1)

    # -- what is shown --------------------------------------------------------------------------------------------

    def refresh(self) -> None:
        """Groups and suggestions as the library and gallery are now; the selection is kept when it still exists."""
        self._stale = False
        current = self.selected()
        self.scan.scan_button.setEnabled(self.library is not None and not self.scan.running)
        if self.library is None:
            self.entries = {}
            self.groups.clear()
            self.show_faces()
            self.overview.setText(self.library_error)
            return
        try:
            rule = self.state.identify_rule()
            suggested = suggestions(self.library, self.state.gallery.index(), rule.threshold)
            groups = groups_to_review(self.library.groups(), suggested)
        except FaceIdError as exc:
            self.overview.setText(str(exc))
            return
        by_id = {f.id: f for f in self.library.faces("f.person IS NULL")} if suggested else {}
        self.entries = {("suggestion", name): [by_id[i] for i in ids if i in by_id] for name, ids in suggested.items()}
        self.entries.update({("group", k): faces for k, faces in groups.items()})
        self.groups.blockSignals(True)
        self.groups.clear()
        for key, faces in self.entries.items():
            text = (f"{key[1]}?\n{plural(len(faces), 'face')}" if key[0] == "suggestion"
                    else f"Group {key[1] + 1}\n{plural(len(faces), 'face')}")
            item = QListWidgetItem(QIcon(thumbnail_pixmap(None, GROUP_ICON_PX)), text)  # grey until the picture comes
            item.setData(Qt.ItemDataRole.UserRole, key)
            self.groups.addItem(item)
        self.groups.blockSignals(False)
        shown = {f.id for faces in self.entries.values() for f in faces}
        unnamed = self.library.embeddings("f.person IS NULL AND f.ignored = 0")[0]
        ungrouped = sum(1 for face_id in unnamed.tolist() if face_id not in shown)
        photos = self.library.photo_count()
        self.overview.setText(f"{photos:,} photos scanned · {plural(len(groups), 'group')} · "
                              f"{plural(ungrouped, 'face')} in no group · {plural(len(suggested), 'suggestion')}"
                              if photos else "No folder scanned yet.")
        keys = [self.groups.item(i).data(Qt.ItemDataRole.UserRole) for i in range(self.groups.count())]
        self.groups.setCurrentRow(keys.index(current) if current in keys else 0 if keys else -1)
        self.show_faces()
        self._icons()

    def selected(self):
        item = self.groups.currentItem()
        return item.data(Qt.ItemDataRole.UserRole) if item else None

    def show_faces(self) -> None:
        key = self.selected()
        faces = self.entries.get(key, []) if key else []
        self.faces.clear()
        for face in faces[:SHOWN_FACES]:
            item = QListWidgetItem(QIcon(thumbnail_pixmap(None, FACE_ICON_PX)), "")
            item.setData(Qt.ItemDataRole.UserRole, face.id)
            item.setToolTip(face.path)
            self.faces.addItem(item)
        if key is None:
            self.title.setText("Scan a folder to see the people in it." if not self.entries else "")
        elif key[0] == "suggestion":
            self.title.setText(f"These {plural(len(faces), 'face')} may be {key[1]} (the 1:N rule names them so). "
                               "Accept the selected ones (all when none is selected), or say they are not.")
        else:
            self.title.setText(f"Group {key[1] + 1}: {plural(len(faces), 'face')}"
                               + (f", the first {SHOWN_FACES} shown" if len(faces) > SHOWN_FACES else "")
                               + ". Name it to enrol these faces; select faces to take them out or ignore them.")
        self._icons()
        self._enable()

    def _icons(self) -> None:
        for i in range(self.groups.count()):
            item = self.groups.item(i)
            faces = self.entries.get(item.data(Qt.ItemDataRole.UserRole), [])
            if faces:
                item.setIcon(QIcon(thumbnail_pixmap(self.thumbs.get(faces[0]), GROUP_ICON_PX)))
        faces = {f.id: f for f in self.entries.get(self.selected(), [])} if self.selected() else {}
        for i in range(self.faces.count()):
            item = self.faces.item(i)
            face = faces.get(item.data(Qt.ItemDataRole.UserRole))
            if face is not None:
                item.setIcon(QIcon(thumbnail_pixmap(self.thumbs.get(face), FACE_ICON_PX)))

    def _enable(self) -> None:
        key = self.selected()
        chosen = bool(self.faces.selectedItems())
        for name, on in (("name", key is not None and key[0] == "group"), ("accept", key is not None and key[0] == "suggestion"),
                         ("reject", key is not None and key[0] == "suggestion"),
                         ("merge", key is not None and key[0] == "group" and len(self.entries) > 1),
                         ("out", chosen and key is not None and key[0] == "group"), ("ignore", chosen),
                         ("undo", bool(self.undo_stack))):
            self.buttons[name].setEnabled(on)
        self.buttons["undo"].setToolTip(f"Undo: {self.undo_stack[-1].description}" if self.undo_stack else "")

    def _chosen_ids(self, all_when_none: bool = True) -> list[int]:
        chosen = [item.data(Qt.ItemDataRole.UserRole) for item in self.faces.selectedItems()]
        return chosen or ([f.id for f in self.entries.get(self.selected(), [])] if all_when_none else [])

    # -- actions ----------------------------------------------------------------------------------------------------

    def name_group(self) -> None:
        names = [p.name for p in self.state.gallery.people()]
        name, ok = QInputDialog.getItem(self, "Name this group", "Who is this? (a new name, or someone enrolled)",
                                        names, -1 if names else 0, True)
        if ok and name.strip():
            self._name(self._chosen_ids(), name.strip())

    def accept(self) -> None:
        self._name(self._chosen_ids(), self.selected()[1])

    def _name(self, ids: list[int], name: str) -> None:
        problems = people.naming_problems(self.library, self.state.gallery, ids, name,
                                          self.state.identify_rule().threshold, self.state.band())
        if problems and not ask(self, "Check before naming", f"Naming {plural(len(ids), 'face')} “{name}”:\n"
                                + "\n".join(f"• {p}" for p in problems[:12]) + "\n\nName them anyway?"):
            return
        self._do(lambda: people.name_faces(self.library, self.state.gallery, ids, name))

    def reject(self) -> None:
        self._do(lambda: people.reject_suggestion(self.library, self._chosen_ids(), self.selected()[1]))

    def merge(self) -> None:
        key = self.selected()
        others = [k for k in self.entries if k[0] == "group" and k != key]
        labels = [f"Group {k[1] + 1} ({plural(len(self.entries[k]), 'face')})" for k in others]
        label, ok = QInputDialog.getItem(self, "Merge groups", f"Merge group {key[1] + 1} with:", labels, 0, False)
        if ok and label in labels:
            other = others[labels.index(label)]
            self._do(lambda: people.merge_groups(self.library, key[1], other[1]))

    def take_out(self) -> None:
        self._do(lambda: people.take_out(self.library, self._chosen_ids(all_when_none=False)))

    def ignore(self) -> None:
        ids = self._chosen_ids(all_when_none=False)
        if ids and ask(self, "Ignore faces", f"Ignore {plural(len(ids), 'face')} for good? They leave every group and "
                                             "suggestion (Undo brings them back)."):
            self._do(lambda: people.ignore(self.library, ids))

    def undo(self) -> None:
        if self.undo_stack:
            action = self.undo_stack.pop()
            self._do(lambda: people.undo(self.library, self.state.gallery, action), record=False)

    def _do(self, action, record: bool = True) -> None:
        try:
            done = action()
        except FaceIdError as exc:
            QMessageBox.warning(self, "faceid", str(exc))
            return
        if record:
            self.undo_stack.append(done)
        self.refresh()
        self.state.gallery_changed.emit()  # the other tabs (this one's own refresh, queued by it, is dropped)
        self._later.stop()

    def _model_changed(self) -> None:
        """Faces found by the old model wait for a re-scan; the undo history belongs to the old model's faces."""
        if self.library is not None:
            self.library.close()
        self.library = self._open_library()
        self.find.library = self.library
        self.undo_stack.clear()
        self.thumbs.clear()
        self._refresh_if_shown()
