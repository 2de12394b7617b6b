"""What every tab shares: the engine, the gallery, the threshold and the thread pool; settings on disk."""
from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QObject, QSettings, QStandardPaths, QThreadPool, QTimer, Signal

from ..engine import DEFAULT_FPIR, FaceEngine, FaceIdError, Gallery, OpenSetRule, check_fpir, gallery_rule, one_in
from ..errorlog import unexpected_error
from ..paths import user_data_dir
from .threshold_bar import ThresholdBar
from .workers import Task

ORG, APP = "faceid", "faceid"
GUI_BUSY_TIMEOUT = 0.5  # seconds a gallery write on the GUI thread waits for another writer
GALLERY_POLL_MS = 2000  # how often the window looks for changes another faceid made to the gallery
FPIR_KEY = "identify/fpir"  # the share of strangers 1:N may name (engine/open_set.py), one setting for every model


def app_settings() -> QSettings:
    """Window and threshold settings: inside FACEID_DATA_DIR when it is set, else the platform's usual place."""
    if os.environ.get("FACEID_DATA_DIR"):
        settings = QSettings(str(user_data_dir() / "faceid.conf"), QSettings.Format.IniFormat)
    else:
        settings = QSettings(ORG, APP)
    _keep_private(Path(settings.fileName()), own_folder=not os.environ.get("FACEID_DATA_DIR"))
    return settings


def _keep_private(path: Path, own_folder: bool) -> None:
    """Settings name the folders of one's photos: 0600, in a 0700 folder, as the README says. Qt keeps a file's
    mode when it rewrites it, so this is needed once; earlier versions left ~/.config/faceid 0755, faceid.conf
    0644. Only faceid's own folder is chmodded (never a FACEID_DATA_DIR the user chose)."""
    if os.name != "posix":
        return
    folder = path.parent
    for target, mode, ours in ((folder, 0o700, own_folder and folder.name == APP), (path, 0o600, True)):
        try:
            if not target.exists() and target is folder:
                target.mkdir(mode=0o700, parents=True)
            info = target.stat()
            if ours and info.st_uid == os.getuid() and info.st_mode & 0o077:
                os.chmod(target, mode)
        except OSError:
            continue  # a read-only home: the settings still work, they just stay as they were


def error_text(exc: BaseException) -> str:
    """The GUI edge: a domain error is said as-is, anything else names the log that holds its traceback."""
    return str(exc) if isinstance(exc, FaceIdError) else unexpected_error(exc)


class AppState(QObject):
    """The engine, gallery and threshold the tabs share; `provider` is the inference device chosen at start-up,
    kept so that a model loaded later runs on the same one."""

    threshold_changed = Signal(float)
    engine_changed = Signal()
    gallery_changed = Signal()
    idle = Signal()  # the last running task has finished (its result or error already delivered)

    def __init__(self, engine: FaceEngine, gallery_path: Path, provider: str = "auto"):
        super().__init__()
        self.engine = engine
        self.provider = provider
        self.gallery_path = gallery_path
        self.gallery = self._open_gallery()
        self.settings = app_settings()
        self.pool = QThreadPool.globalInstance()
        self.tasks: set[Task] = set()
        self.threshold = self._saved_threshold()
        self.fpir = self._saved_fpir()
        # Another faceid (the command line, a second window) may change the gallery while this one is open: SQLite's
        # data_version, a cheap read, says when, and the tabs then refresh as after their own writes.
        self._gallery_version = self.gallery.version()
        self._watch = QTimer(self)
        self._watch.timeout.connect(self.check_gallery)
        self._watch.start(GALLERY_POLL_MS)
        self.gallery_changed.connect(lambda: setattr(self, "_gallery_version", self.gallery.version()))
        self.gallery_changed.connect(self._refresh_index)

    def _refresh_index(self) -> None:
        """The 1:N matrix the Live tab searches every frame, brought up to date with only the faces that changed
        (engine/gallery_index.py) as soon as the gallery changes, not in the middle of the next frame."""
        try:
            self.gallery.index()
        except FaceIdError:
            pass  # busy or damaged for now: the next search says so

    def check_gallery(self) -> bool:
        """Emit gallery_changed when another connection wrote to the gallery since the last look."""
        try:
            version = self.gallery.version()
        except FaceIdError:
            return False  # busy or gone for a moment: the next look will tell
        if version == self._gallery_version:
            return False
        self._gallery_version = version
        self.gallery_changed.emit()
        return True

    def _saved_fpir(self) -> float:
        try:
            return check_fpir(float(self.settings.value(FPIR_KEY, DEFAULT_FPIR)))
        except (TypeError, ValueError):
            return DEFAULT_FPIR

    def set_fpir(self, value: float) -> None:
        """The 1:N target; the tabs hear of it as a threshold change (the 1:N threshold moved)."""
        self.fpir = check_fpir(value)
        self.settings.setValue(FPIR_KEY, self.fpir)
        self.threshold_changed.emit(self.threshold)

    def identify_rule(self) -> OpenSetRule:
        """The 1:N threshold for the gallery as it is now: at most `fpir` of strangers named, never looser than
        the slider's threshold."""
        return gallery_rule(self.engine.info, self.gallery.index(), self.fpir, ceiling=self.threshold)

    def _open_gallery(self) -> Gallery:
        # A short busy timeout: gallery writes run on the GUI thread, which must never stall for long.
        return Gallery(self.gallery_path, self.engine.info.fingerprint, self.engine.info.embedding_size,
                       busy_timeout=GUI_BUSY_TIMEOUT)

    def _threshold_key(self) -> str:
        return f"threshold/{self.engine.info.fingerprint}"

    def _saved_threshold(self) -> float:
        """The threshold saved for this model; a damaged setting (NaN, text, outside the slider's range) falls back
        to the model's own."""
        info = self.engine.info
        try:
            return info.valid_threshold(float(self.settings.value(self._threshold_key(), info.threshold)))
        except (TypeError, ValueError, FaceIdError):
            return info.threshold

    def set_threshold(self, value: float) -> None:
        if abs(value - self.threshold) > 1e-9:
            self.threshold = value
            self.settings.setValue(self._threshold_key(), value)
            self.threshold_changed.emit(value)

    def load_engine(self, model_path: Path) -> FaceEngine:
        """A new engine for another model, on the device chosen at start-up (runs off the GUI thread)."""
        return FaceEngine(model_path, prefer=self.provider, source="opened in the app")

    def set_engine(self, engine: FaceEngine) -> None:
        self.engine = engine
        self.gallery.close()
        self.gallery = self._open_gallery()
        self.threshold = self._saved_threshold()
        self.engine_changed.emit()
        self.threshold_changed.emit(self.threshold)
        self.gallery_changed.emit()

    def run(self, fn, *args, on_result=None, on_error=None, on_progress=None) -> Task:
        """Run fn(*args, progress, cancelled) on the pool; on_error receives the exception object."""
        task = Task(fn, *args)
        if on_result:
            task.signals.result.connect(on_result)
        if on_error:
            task.signals.error.connect(on_error)
        if on_progress:
            task.signals.progress.connect(on_progress)
        self.tasks.add(task)
        task.signals.finished.connect(lambda: self._finished(task))
        task.setAutoDelete(False)
        self.pool.start(task)
        return task

    def _finished(self, task: Task) -> None:
        self.tasks.discard(task)
        if not self.tasks:
            self.idle.emit()

    def band(self):
        """The uncertain band at the current threshold (engine ModelFile.uncertain_band)."""
        return self.engine.info.uncertain_band(self.threshold)

    def meaning(self, value: float) -> str:
        """What a threshold means on the model's validation people (from its rate curve), in words."""
        model = self.engine.info
        rates = model.rates_at(value)
        if rates is None:
            if not model.trained:
                return "Untrained placeholder model: distances mean nothing yet."
            return "This model carries no validation error rates."
        band = model.uncertain_band(value)
        return (f"At this threshold, on people the model never saw, {one_in(rates.far)} pairs of strangers pass as "
                f"one person and {one_in(rates.frr)} pairs of one person are told apart. "
                f"Verdicts: same below {band.same_below:.3f}, different from {band.different_from:.3f}, "
                f"uncertain in between.")

    def open_folder(self, key: str) -> str:
        """The folder a file dialog last used for this kind of file (photos, videos, models); the first time, the
        user's Pictures (Videos for videos) folder, else their home, never the folder faceid was started from."""
        saved = str(self.settings.value(f"folders/{key}", "") or "")
        if saved and Path(saved).is_dir():
            return saved
        kind = QStandardPaths.StandardLocation.MoviesLocation if key == "videos" else \
            QStandardPaths.StandardLocation.PicturesLocation
        usual = QStandardPaths.writableLocation(kind)
        return usual if usual and Path(usual).is_dir() else str(Path.home())

    def remember_folder(self, key: str, path: str) -> None:
        if path:
            self.settings.setValue(f"folders/{key}", str(Path(path).parent))


class ThresholdSync:
    """Keeps a ThresholdBar and the shared threshold in step; the bar's range follows the model."""

    def __init__(self, bar: ThresholdBar, state: AppState):
        self.bar, self.state = bar, state
        bar.changed.connect(state.set_threshold)
        bar.reset_requested.connect(lambda: self.bar.set_value(state.engine.info.threshold))
        state.threshold_changed.connect(self.refresh)
        state.engine_changed.connect(self.model_changed)
        self.model_changed()

    def model_changed(self) -> None:
        info = self.state.engine.info
        self.bar.set_range(*info.useful_range(), info.threshold)
        self.refresh(self.state.threshold)

    def refresh(self, value: float) -> None:
        if abs(self.bar.value() - value) > self.bar.step:
            self.bar.slider.blockSignals(True)
            self.bar.set_value(value)
            self.bar.slider.blockSignals(False)
        self.bar.show_meaning(value, self.state.meaning(value))
