"""Pictures of scanned faces for the People tab: each face's aligned crop, cut from its photo in the background
(a grid of groups can need hundreds of photos decoded), kept for the session, and announced when ready."""
from __future__ import annotations

from PySide6.QtCore import QObject, QTimer, Signal

from ..engine import FaceIdError
from ..engine.imageio import encode_png
from ..engine.photo import Photo

BATCH = 64  # faces per background task: the first icons appear quickly, the rest follow


class FaceThumbs(QObject):
    ready = Signal()  # some pictures arrived: redraw the icons

    def __init__(self, state):
        super().__init__()
        self.state = state
        self.pictures: dict[int, bytes | None] = {}
        self._wanted: dict[int, object] = {}
        self._running = False
        self._stopped = False

    def stop(self) -> None:
        """At shutdown: no new background work (the running batch is cancelled with the other pool tasks)."""
        self._stopped = True
        self._wanted.clear()

    def get(self, face) -> bytes | None:
        """The face's picture, or None for now (it is then fetched, and `ready` fires)."""
        if face.id in self.pictures:
            return self.pictures[face.id]
        if face.id not in self._wanted:
            self._wanted[face.id] = face
            QTimer.singleShot(0, self._next)
        return None

    def clear(self) -> None:
        self.pictures.clear()
        self._wanted.clear()

    def _next(self) -> None:
        if self._running or self._stopped or not self._wanted:
            return
        batch = [self._wanted.pop(k) for k in list(self._wanted)[:BATCH]]
        self._running = True

        def work(progress, cancelled):
            out, photos = {}, {}
            for face in batch:
                if cancelled.is_set():
                    break
                try:
                    if face.path not in photos:
                        photos = {face.path: Photo(face.path)}  # faces come photo by photo: keep one
                    out[face.id] = encode_png(photos[face.path].canonical(face.landmarks))
                except FaceIdError:
                    out[face.id] = None  # the photo is gone or damaged: a grey square
            return out

        self.state.run(work, on_result=self._arrived, on_error=lambda _: self._arrived({}))

    def _arrived(self, pictures: dict) -> None:
        self.pictures.update(pictures)
        self._running = False
        self.ready.emit()
        self._next()
