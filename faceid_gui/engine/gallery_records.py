"""What the gallery stores and returns: plain records, and the checks on values before they are written."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import GalleryError


@dataclass(frozen=True)
class Person:
    id: int
    name: str
    faces: int
    stale_faces: int  # made with another model: need re-enrolment
    cover_face: int | None  # the face whose thumbnail pictures them (Gallery.thumbnails)


@dataclass(frozen=True)
class EnrolledFace:
    id: int
    person_id: int
    thumbnail: bytes | None
    source: str | None
    stale: bool


@dataclass(frozen=True)
class NewFace:
    embedding: np.ndarray
    model_fingerprint: str  # the model that made the embedding: the gallery refuses any other model's
    thumbnail: bytes | None = None
    source: str | None = None


@dataclass(frozen=True)
class Removed:
    """What a forget took out of the gallery, exactly as stored, so that `restore` can put it back (undo)."""

    name: str
    rows: tuple[tuple, ...]  # (embedding, model_fingerprint, thumbnail, source, created) per face

    @property
    def faces(self) -> int:
        return len(self.rows)


@dataclass(frozen=True)
class Merged:
    """What a merge moved: the name that was merged away and the ids of its faces, so `unmerge` can undo it."""

    name: str
    face_ids: tuple[int, ...]


def printable(source: str | None) -> str | None:
    """A file name that is not valid UTF-8 is kept, readably escaped: it is only shown, never opened."""
    if source is None:
        return None
    return source.encode("utf-8", "backslashreplace").decode("utf-8")


def embedding_blob(embedding, size: int | None) -> bytes:
    vector = np.asarray(embedding, np.float32).ravel()
    if (size and len(vector) != size) or not np.isfinite(vector).all():
        raise GalleryError("refusing to store an invalid embedding (wrong size or not finite)")
    return vector.tobytes()
