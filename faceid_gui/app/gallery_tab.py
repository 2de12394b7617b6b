"""Gallery tab: people as a grid of faces, a person's photos beside it; add, rename (or merge), forget, undo."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, QUrl, Signal
from PySide6.QtGui import QDesktopServices, QKeySequence
from PySide6.QtWidgets import (QHBoxLayout, QInputDialog, QLabel, QListWidget, QMessageBox, QPushButton, QSplitter,
                               QVBoxLayout, QWidget)

from ..engine import FaceIdError, Gallery, plural, same_name
from ..engine.reembed import reembed_stale
from .face_grid import FaceGrid, GridRow, icon_grid
from .state import AppState, error_text
from .undo import Forgot, MergedInto, Renamed
from .widgets import path_name

PERSON_ICON_PX, FACE_ICON_PX = 96, 80
NO = QMessageBox.StandardButton.No
YES = QMessageBox.StandardButton.Yes


def ask(parent, title: str, text: str) -> bool:
    """A yes/no question whose default (Enter) is No: destructive actions need a deliberate Yes."""
    return QMessageBox.question(parent, title, text, YES | NO, NO) == YES


class GalleryTab(QWidget):
    add_photos_requested = Signal(str)  # a person's name: the Enroll tab takes it from there

    def __init__(self, state: AppState):
        super().__init__()
        self.state = state
        self.undo_stack: list = []  # undo.Forgot, Renamed, MergedInto, newest last: this session's changes
        # Pictures are read as their rows come into view: a gallery of 100,000 faces opens in a moment.
        pictures = lambda ids: self.state.gallery.thumbnails(ids)  # noqa: E731 - the gallery changes with the model
        self.people = FaceGrid(pictures, PERSON_ICON_PX, "People")
        self.faces = FaceGrid(pictures, FACE_ICON_PX, "Photos of the selected person")
        self.notice = QLabel()
        self.notice.setWordWrap(True)
        self.person_title = QLabel()
        font = self.person_title.font()
        font.setBold(True)
        self.person_title.setFont(font)
        self.source = QLabel()
        self.source.setWordWrap(True)
        self.source.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.add_button = QPushButton("Add photos…")
        self.rename_button = QPushButton("Rename…")
        self.forget_button = QPushButton("Forget person…")
        self.open_button = QPushButton("Open source photo")
        self.remove_button = QPushButton("Remove photo")
        self.drop_stale_button = QPushButton("Drop old-model photos")
        self.reembed_button = QPushButton("Re-embed with this model")
        self.undo_button = QPushButton("Undo")
        self.undo_button.setShortcut(QKeySequence.StandardKey.Undo)
        self._layout()
        self.add_button.clicked.connect(lambda: self.add_photos_requested.emit(self.selected_name() or ""))
        self.rename_button.clicked.connect(self.rename)
        self.forget_button.clicked.connect(self.forget)
        self.open_button.clicked.connect(self.open_source)
        self.remove_button.clicked.connect(self.remove_photo)
        self.drop_stale_button.clicked.connect(self.drop_stale)
        self.reembed_button.clicked.connect(self.reembed)
        self.undo_button.clicked.connect(self.undo)
        self.people.current_changed.connect(self.show_faces)
        self.faces.current_changed.connect(self._face_selected)
        self.faces.doubleClicked.connect(lambda _: self.open_source())
        state.gallery_changed.connect(self.refresh)
        state.engine_changed.connect(self.undo_stack.clear)  # rows of the old model's session: keep it simple
        self.refresh()

    def _layout(self) -> None:
        left = QWidget()
        left_box = QVBoxLayout(left)
        left_box.setContentsMargins(0, 0, 0, 0)
        left_box.addWidget(self.people, 1)
        row = QHBoxLayout()
        for b in (self.rename_button, self.forget_button, self.undo_button):
            row.addWidget(b)
        row.addStretch(1)
        left_box.addLayout(row)
        right = QWidget()
        right_box = QVBoxLayout(right)
        right_box.setContentsMargins(0, 0, 0, 0)
        right_box.addWidget(self.person_title)
        right_box.addWidget(self.faces, 1)
        right_box.addWidget(self.source)
        for pair in ((self.add_button, self.open_button), (self.remove_button, self.drop_stale_button),
                     (self.reembed_button,)):
            row = QHBoxLayout()  # two short rows: the tab fits at 800x600 and at a scale of 2
            for b in pair:
                row.addWidget(b)
            row.addStretch(1)
            right_box.addLayout(row)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(left)
        split.addWidget(right)
        split.setStretchFactor(0, 1)
        split.setStretchFactor(1, 1)
        split.setChildrenCollapsible(False)
        layout = QVBoxLayout(self)
        layout.addWidget(self.notice)
        layout.addWidget(split, 1)

    def selected_name(self) -> str | None:
        return self.people.current_value()

    def selected_face(self):
        return self.faces.current_value()

    def refresh(self) -> None:
        current = self.selected_name()
        people = self.state.gallery.people()
        rows = [GridRow(f"{p.name}\n{plural(p.faces, 'photo')}" +
                        (f"\n{p.stale_faces} need re-enrolment" if p.stale_faces else ""), p.name, p.name, p.cover_face)
                for p in people]
        chosen = next((k for k, p in enumerate(people) if current and same_name(p.name, current)), 0)
        self.people.set_rows(rows, chosen if people else -1)
        stale = self.state.gallery.stale_count()
        self.notice.setText(
            f"{plural(stale, 'photo')} enrolled with another model {'is' if stale == 1 else 'are'} not used: "
            "Re-embed with this model (from their photos, or the face kept of each)." if stale else
            ("The gallery is empty: enrol people on the Enroll tab." if not people else
             f"{plural(len(people), 'person', 'people')}. Select one to see their photos; double-click a photo to "
             "open the picture it came from."))
        self.show_faces()

    def show_faces(self) -> None:
        name = self.selected_name()
        self.person_title.setText(name or "")
        faces = self.state.gallery.faces(name, with_thumbnails=False) if name else []
        self.faces.set_rows([GridRow(path_name(f.source or "camera") + (" (old model)" if f.stale else ""),
                                     f.source or "captured from a camera", f, f.id) for f in faces])
        self._face_selected()

    def _face_selected(self) -> None:
        """Buttons that do not apply are disabled; the selected photo's source is named."""
        name, face = self.selected_name(), self.selected_face()
        for button in (self.rename_button, self.forget_button):
            button.setEnabled(name is not None)
        self.add_button.setEnabled(True)
        self.add_button.setToolTip(f"Add photos of {name} on the Enroll tab" if name else "Enrol a new person")
        self.remove_button.setEnabled(face is not None)
        self.open_button.setEnabled(face is not None and bool(face.source) and Path(face.source).is_file())
        stale = any(face.stale for face in self.faces.values())
        self.drop_stale_button.setEnabled(stale)
        self.reembed_button.setEnabled(self.state.gallery.stale_count() > 0 and self._reembedding is None)
        self.undo_button.setEnabled(bool(self.undo_stack))
        self.undo_button.setToolTip(self._undo_text())
        if face is None:
            self.source.setText("Select a photo to see where it came from." if name else "")
        elif face.source and Path(face.source).is_file():
            self.source.setText(f"From {face.source}")
        else:
            self.source.setText(f"From {face.source} (no longer there)" if face.source else "Captured from a camera.")

    def _undo_text(self) -> str:
        return f"{self.undo_stack[-1].text} (Ctrl+Z)" if self.undo_stack else "Nothing to undo"

    def open_source(self) -> None:
        face = self.selected_face()
        if face is not None and face.source and Path(face.source).is_file():
            if not QDesktopServices.openUrl(QUrl.fromLocalFile(face.source)):
                QMessageBox.information(self, "faceid", f"No program to show pictures was found on this system.\n"
                                                        f"The photo is {face.source}")

    def rename(self) -> None:
        name = self.selected_name()
        if not name:
            return
        new, ok = QInputDialog.getText(self, "Rename", f"New name for {name}:", text=name)
        new = new.strip()
        if not ok or not new or new == name:
            return
        existing = [p.name for p in self.state.gallery.people()
                    if same_name(p.name, new) and not same_name(p.name, name)]
        if existing:
            if ask(self, "Merge people", f"{existing[0]} is already in the gallery. Merge {name}'s photos into "
                                         f"{existing[0]}? Both names are then one person "
                                         "(Undo, Ctrl+Z, splits them again)."):
                self._guarded(lambda: self.undo_stack.append(
                    MergedInto(self.state.gallery.merge(name, existing[0]), existing[0])))
                self._select(existing[0])
            return
        self._guarded(lambda: (self.state.gallery.rename(name, new), self.undo_stack.append(Renamed(name, new))))
        self._select(new)

    def forget(self) -> None:
        name = self.selected_name()
        count = self.faces.count()
        if name and ask(self, "Forget person", f"Forget {name} and {plural(count, 'photo')}? "
                                               "Undo (Ctrl+Z) brings them back until faceid closes."):
            self._guarded(lambda: self.undo_stack.append(Forgot(self.state.gallery.forget_person(name))))

    def remove_photo(self) -> None:
        face = self.selected_face()
        if face is not None and ask(self, "Remove photo", f"Remove {path_name(face.source or 'this photo')} from "
                                                          f"{self.selected_name()}? Undo (Ctrl+Z) brings it back."):
            self._guarded(lambda: self.undo_stack.append(Forgot(self.state.gallery.forget_face(face.id))))

    def undo(self) -> None:
        if self.undo_stack:
            change, back = self.undo_stack.pop(), []
            self._guarded(lambda: back.append(change.undo(self.state.gallery)))
            if back:
                self._select(back[0])

    def drop_stale(self) -> None:
        name = self.selected_name()
        if name and ask(self, "Drop old photos", f"Drop {name}'s photos enrolled with another model? They are not "
                                                 "used for recognition any more."):
            self._guarded(lambda: self.state.gallery.forget_stale(name))

    _reembedding = None  # the running re-embed task

    def reembed(self) -> None:
        """Every face made with another model, re-embedded in the background on its own gallery connection."""
        state = self.state
        engine, path = state.engine, state.gallery_path

        def work(progress, cancelled):
            with Gallery(path, engine.info.fingerprint, engine.info.embedding_size) as gallery:
                return reembed_stale(gallery, engine, progress, cancelled)

        def finished(summary=None):
            self._reembedding = None
            state.gallery_changed.emit()  # redraws the notice: the summary goes after it
            if summary is not None:
                self.notice.setText(f"Re-embedded {summary.from_photo} from their photos, {summary.from_crop} from the "
                                    f"kept faces" + (f"; {len(summary.failed)} could not be" if summary.failed else "."))

        def failed(exc):
            finished()
            QMessageBox.warning(self, "faceid", f"Re-embedding stopped:\n{error_text(exc)}")

        self.reembed_button.setEnabled(False)
        self._reembedding = state.run(work, on_result=finished, on_error=failed, on_progress=lambda done, total, _:
                                      self.notice.setText(f"Re-embedding {done} of {total} faces…"))

    def _select(self, name: str) -> None:
        for i, shown in enumerate(self.people.values()):
            if same_name(shown, name):
                self.people.setCurrentRow(i)

    def _guarded(self, action) -> None:
        try:
            action()
        except FaceIdError as exc:
            QMessageBox.warning(self, "faceid", str(exc))
        self.state.gallery_changed.emit()


def _grid(icon_px: int) -> QListWidget:
    """A list widget laid out as the Gallery tab's grid (the People tab's few hundred groups and faces)."""
    return icon_grid(QListWidget(), icon_px)
