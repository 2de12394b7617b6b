"""faceid's main window: the five tabs, menus, status bar, geometry and shutdown. The tabs share one AppState."""
from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtGui import QAction, QGuiApplication, QIcon, QKeySequence
from PySide6.QtWidgets import QFileDialog, QLabel, QMainWindow, QMessageBox, QTabWidget

from ..cli_output import shown
from ..engine import FaceEngine, plural
from ..paths import assets_dir
from .compare_tab import CompareTab
from .enroll_tab import EnrollTab
from .about import show_about
from .gallery_tab import GalleryTab, ask
from .live_tab import LiveTab
from .people_tab import PeopleTab
from .state import AppState, error_text
from .widgets import ElidedLabel
from .workers import Task

DEFAULT_SIZE = (1100, 760)
MIN_SIZE = (760, 540)  # everything fits at 800x600 (issue 13); smaller would cut photos to slivers
SHUTDOWN_WAIT_MS = 10000  # for pool tasks to notice they were cancelled


class MainWindow(QMainWindow):
    TABS = ("compare", "live", "enroll", "gallery", "people")

    def __init__(self, state: AppState):
        super().__init__()
        self.state = state
        self.setWindowTitle("faceid")
        icon = assets_dir() / "faceid.png"
        if icon.is_file():
            self.setWindowIcon(QIcon(str(icon)))
        self.tabs = QTabWidget()
        self.compare = CompareTab(state)
        self.live = LiveTab(state)
        self.enroll = EnrollTab(state)
        self.gallery = GalleryTab(state)
        self.people = PeopleTab(state)
        for widget, title in ((self.compare, "&Compare"), (self.live, "&Live"), (self.enroll, "&Enroll"),
                              (self.gallery, "&Gallery"), (self.people, "&People")):
            self.tabs.addTab(widget, title)
        self.setCentralWidget(self.tabs)
        # Labels that elide: at 800x600 or a scale of 2 the model's name shortens instead of vanishing.
        self.model_label, self.provider_label, self.gallery_label = ElidedLabel(), QLabel(), ElidedLabel()
        for label, stretch in ((self.model_label, 2), (self.provider_label, 0), (self.gallery_label, 1)):
            self.statusBar().addPermanentWidget(label, stretch)
        self.gallery.add_photos_requested.connect(self.add_photos)
        self._menus()
        state.engine_changed.connect(self.update_status)
        state.gallery_changed.connect(self.update_status)
        self.update_status()
        room = (self.screen() or QGuiApplication.primaryScreen()).availableGeometry()
        self.setMinimumSize(min(MIN_SIZE[0], room.width()), min(MIN_SIZE[1], room.height()))  # never beyond the screen
        geometry = state.settings.value("window/geometry")
        if geometry is None or not self.restoreGeometry(geometry):
            self.resize(*DEFAULT_SIZE)
        self._fit_screen()
        try:
            self.tabs.setCurrentIndex(int(state.settings.value("window/tab", 0)))
        except (TypeError, ValueError):
            pass  # a damaged setting: stay on the first tab

    def _menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        open_model = QAction("Load model…", self, shortcut=QKeySequence("Ctrl+M"), triggered=self.choose_model)
        quit_action = QAction("Quit", self, shortcut=QKeySequence.StandardKey.Quit, triggered=self.close)
        file_menu.addAction(open_model)
        file_menu.addAction(quit_action)
        paste = QAction("Paste photo", self, shortcut=QKeySequence.StandardKey.Paste, triggered=self.paste)
        reset = QAction("Default threshold", self, shortcut=QKeySequence("Ctrl+0"),
                        triggered=lambda: self.state.set_threshold(self.state.engine.info.threshold))
        edit = self.menuBar().addMenu("&Edit")
        edit.addAction(paste)
        edit.addAction(reset)
        help_menu = self.menuBar().addMenu("&Help")
        help_menu.addAction(QAction("About faceid", self, triggered=lambda: show_about(self, self.state)))
        for k in range(len(self.TABS)):
            self.addAction(QAction(self, shortcut=QKeySequence(f"Ctrl+{k + 1}"),
                                   triggered=lambda checked=False, i=k: self.tabs.setCurrentIndex(i)))

    def _fit_screen(self) -> None:
        """Geometry saved at another scale factor (or on a bigger screen) can exceed this screen: shrink and move
        the window back onto it."""
        screen = self.screen() or QGuiApplication.primaryScreen()
        if screen is None:
            return
        room = screen.availableGeometry()
        width, height = min(self.width(), room.width()), min(self.height(), room.height())
        if (width, height) != (self.width(), self.height()):
            self.resize(max(width, min(MIN_SIZE[0], room.width())), max(height, min(MIN_SIZE[1], room.height())))
        frame = self.frameGeometry()
        if not room.contains(frame):
            frame.moveLeft(min(max(frame.left(), room.left()), room.right() - frame.width() + 1))
            frame.moveTop(min(max(frame.top(), room.top()), room.bottom() - frame.height() + 1))
            self.move(frame.topLeft())

    def add_photos(self, name: str) -> None:
        """The Gallery's "Add photos": the Enroll tab with the name filled in, and its file dialog."""
        self.enroll.name.setText(name)
        self.show_tab("enroll")
        self.enroll._choose_files()

    def paste(self) -> None:
        mime = QGuiApplication.clipboard().mimeData()
        zones = self.compare.zones
        target = zones[1] if zones[1].hasFocus() or (self.compare.paths[0] and not zones[0].hasFocus()) else zones[0]
        if not target.paste(mime):
            text = mime.text().strip() if mime.hasText() else ""
            QMessageBox.information(self, "faceid", f"The clipboard holds text, not a photo or the path of one:\n"
                                                    f"{text[:200]}" if text else "The clipboard holds no photo.")

    def choose_model(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Load an embedding model", self.state.open_folder("models"),
                                              "ONNX models (*.onnx)")
        if path:
            self.state.remember_folder("models", path)
            self.load_model(path)

    def load_model(self, path: str) -> Task:
        """Validate the new model fully (off the GUI thread) before it replaces the current one."""
        def work(progress, cancelled):
            return self.state.load_engine(Path(path))

        def failed(exc):
            QMessageBox.warning(self, "faceid", f"This model cannot be used:\n{error_text(exc)}")

        return self.state.run(work, on_result=self._model_loaded, on_error=failed)

    def _model_loaded(self, engine: FaceEngine) -> None:
        self.state.set_engine(engine)  # the tabs drop what the old model made (engine_changed)
        self.statusBar().showMessage(f"Loaded {engine.info.path.name}", 5000)
        if engine.note:  # not the shipped model: said where scripts and logs see it too
            print(f"faceid: {shown(engine.note)}", file=sys.stderr)

    def update_status(self) -> None:
        info, source = self.state.engine.info, self.state.engine.model_source
        # A model that is not the shipped one says where it came from and which file it is, for as long as it is used.
        self.model_label.setText(f"Model: {info.display_name}" + (
            "" if source == "shipped" else f" — not the shipped model: sha256 {info.sha256[:12]}, {source}"))
        provider = self.state.engine.provider
        self.provider_label.setText(f"{provider.name} ({provider.reason})")  # why CPU, said, not hidden in a tooltip
        self.provider_label.setToolTip(f"Inference device: {provider.name} ({provider.reason})")
        stale = self.state.gallery.stale_count()
        self.gallery_label.setText(f"{plural(len(self.state.gallery.people()), 'person', 'people')}, "
                                   f"{plural(self.state.gallery.face_count(), 'face')}"
                                   + (f" ({stale} need re-enrolment)" if stale else ""))

    def show_tab(self, name: str) -> None:
        self.tabs.setCurrentIndex(self.TABS.index(name))

    def shutdown(self) -> None:
        """Stop every worker: camera loops by flag + wait, pool tasks by cancel + waitForDone."""
        self.live.stop()
        self.enroll.stop_capture()
        self.people.scan.stop()
        self.people.thumbs.stop()
        for task in list(self.state.tasks):
            task.cancelled.set()
        self.state.pool.waitForDone(SHUTDOWN_WAIT_MS)

    def closeEvent(self, event) -> None:
        unsaved = self.enroll.unsaved()
        if unsaved and not ask(self, "Quit faceid", f"{plural(unsaved, 'face')} on the Enroll tab "
                                                    f"{'is' if unsaved == 1 else 'are'} not saved. Quit and discard "
                                                    f"{'it' if unsaved == 1 else 'them'}?"):
            event.ignore()
            return
        self.state.settings.setValue("window/geometry", self.saveGeometry())
        self.state.settings.setValue("window/tab", self.tabs.currentIndex())
        self.shutdown()
        super().closeEvent(event)
