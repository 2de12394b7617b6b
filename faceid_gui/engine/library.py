"""The scanned photo library: every photo of a folder with the faces found in it, in its own SQLite file beside the
gallery (the gallery holds who is enrolled; this holds what was seen). Per photo: path, size, mtime and a quick
content hash, so a re-scan skips unchanged files and knows a moved one; per face: box, landmarks, embedding (with
the model that made it), whether it is fit for grouping, its group, a name given to it, and the user's "ignore"."""
from __future__ import annotations

import contextlib
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import GalleryError
from .gallery_file import explain, prepare_path

SCHEMA = """
CREATE TABLE IF NOT EXISTS photos (
    id INTEGER PRIMARY KEY,
    path TEXT NOT NULL UNIQUE,
    size INTEGER NOT NULL,
    mtime REAL NOT NULL,
    quick_hash TEXT NOT NULL,
    model_fingerprint TEXT,
    error TEXT
);
CREATE TABLE IF NOT EXISTS faces (
    id INTEGER PRIMARY KEY,
    photo_id INTEGER NOT NULL REFERENCES photos(id) ON DELETE CASCADE,
    box BLOB NOT NULL,
    score REAL NOT NULL,
    landmarks BLOB NOT NULL,
    embedding BLOB NOT NULL,
    groupable INTEGER NOT NULL,
    cluster INTEGER,
    person TEXT,
    ignored INTEGER NOT NULL DEFAULT 0,
    kept_out INTEGER NOT NULL DEFAULT 0,
    not_person TEXT
);
CREATE INDEX IF NOT EXISTS faces_photo ON faces(photo_id);
"""
APPLICATION_ID = 0x4643494C  # "FCIL": a faceid photo library
SCHEMA_VERSION = 1  # PRAGMA user_version; raise with any change to SCHEMA (and teach _open to upgrade the old one)
# The face state the review can change, in this order; undo puts these values back.
STATE = ("cluster", "person", "ignored", "kept_out", "not_person")


def library_path(gallery_path: Path) -> Path:
    """The library of a gallery: beside it, so a --gallery elsewhere (or a test's) gets its own."""
    gallery_path = Path(gallery_path)
    return gallery_path.with_name(gallery_path.stem + ".library.sqlite3")


@dataclass(frozen=True)
class LibraryFace:
    id: int
    photo_id: int
    path: str
    box: np.ndarray  # x1, y1, x2, y2
    score: float
    landmarks: np.ndarray  # (5, 2)
    embedding: np.ndarray
    groupable: bool
    cluster: int | None
    person: str | None
    ignored: bool
    kept_out: bool
    not_person: str | None  # a name the user said this face is not (a rejected suggestion)

    @property
    def xywh(self) -> list[float]:
        x1, y1, x2, y2 = (float(v) for v in self.box)
        return [x1, y1, x2 - x1, y2 - y1]


@dataclass(frozen=True)
class Undo:
    """What a review action changed, as (face id, *STATE) rows before it, so that Library.undo can put it back;
    `enrolled` names the person whose gallery faces the action added (with their ids), for the caller to remove."""

    description: str
    rows: tuple[tuple, ...]
    enrolled: tuple[str, tuple[int, ...]] | None = None


class Library:
    def __init__(self, path: Path, model_fingerprint: str, busy_timeout: float = 5.0):
        self.path = Path(path)
        self.model_fingerprint = model_fingerprint
        with self._errors():
            prepare_path(self.path, create=True, what="photo library")  # as the gallery's: regular or new, private
            self._db = sqlite3.connect(self.path, timeout=busy_timeout, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA foreign_keys=ON")
            app_id = self._db.execute("PRAGMA application_id").fetchone()[0]
            has_tables = self._db.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()[0]
            if app_id != APPLICATION_ID:
                if has_tables:
                    self._db.close()
                    raise GalleryError(f"{self.path} is not a faceid photo library; it was left untouched")
                self._db.executescript(f"BEGIN IMMEDIATE; {SCHEMA} PRAGMA application_id = {APPLICATION_ID}; "
                                       f"PRAGMA user_version = {SCHEMA_VERSION}; COMMIT;")
            version = self._db.execute("PRAGMA user_version").fetchone()[0]
            if version != SCHEMA_VERSION:
                self._db.close()
                raise GalleryError(f"{self.path} is a photo library of another faceid version ({version}); move it "
                                   "away and scan again")

    @contextlib.contextmanager
    def _errors(self):
        try:
            yield
        except sqlite3.Error as exc:
            raise GalleryError(explain(self.path, exc, "photo library")) from None
        except OSError as exc:
            raise GalleryError(f"cannot open photo library {self.path}: {exc.strerror}") from None

    @contextlib.contextmanager
    def transaction(self):
        with self._errors():
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def close(self) -> None:
        self._db.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- photos (the scan's index) ---------------------------------------------------------------------------------

    def known_photos(self, root: Path | None = None) -> dict[str, tuple]:
        """path -> (id, size, mtime, quick_hash, model_fingerprint) of indexed photos (under root, when given)."""
        with self._errors():
            rows = self._db.execute("SELECT path, id, size, mtime, quick_hash, model_fingerprint FROM photos").fetchall()
        prefix = None if root is None else str(Path(root)) + os.sep
        return {r[0]: r[1:] for r in rows if prefix is None or r[0].startswith(prefix)}

    def photos(self, root: Path | None = None) -> list[tuple[str, str | None]]:
        """(path, why it could not be read or None) of indexed photos, by path (under root, when given)."""
        with self._errors():
            rows = self._db.execute("SELECT path, error FROM photos ORDER BY path").fetchall()
        prefix = None if root is None else str(Path(root)) + os.sep
        return [(p, e) for p, e in rows if prefix is None or p.startswith(prefix)]

    def photo_count(self) -> int:
        with self._errors():
            return self._db.execute("SELECT COUNT(*) FROM photos").fetchone()[0]

    # -- faces -----------------------------------------------------------------------------------------------------

    def faces(self, where: str = "1", params: tuple = ()) -> list[LibraryFace]:
        """Faces made with the current model (others wait for a re-scan), filtered by an SQL condition on f."""
        with self._errors():
            rows = self._db.execute(
                "SELECT f.id, f.photo_id, p.path, f.box, f.score, f.landmarks, f.embedding, f.groupable, f.cluster, "
                "f.person, f.ignored, f.kept_out, f.not_person FROM faces f JOIN photos p ON p.id = f.photo_id "
                f"WHERE p.model_fingerprint = ? AND ({where}) ORDER BY f.id",
                (self.model_fingerprint, *params)).fetchall()
        return [LibraryFace(r[0], r[1], r[2], np.frombuffer(r[3], np.float32), r[4],
                            np.frombuffer(r[5], np.float32).reshape(5, 2), np.frombuffer(r[6], np.float32),
                            bool(r[7]), r[8], r[9], bool(r[10]), bool(r[11]), r[12]) for r in rows]

    def embeddings(self, where: str = "1", params: tuple = ()) -> tuple[np.ndarray, np.ndarray]:
        """(face ids, embeddings (n, D)) of the faces matching `where`, without building LibraryFace objects."""
        with self._errors():
            rows = self._db.execute(
                "SELECT f.id, f.embedding FROM faces f JOIN photos p ON p.id = f.photo_id "
                f"WHERE p.model_fingerprint = ? AND ({where}) ORDER BY f.id", (self.model_fingerprint, *params)).fetchall()
        if not rows:
            return np.empty(0, np.int64), np.empty((0, 0), np.float32)
        ids = np.fromiter((r[0] for r in rows), np.int64, len(rows))
        return ids, np.frombuffer(b"".join(r[1] for r in rows), np.float32).reshape(len(rows), -1)

    def to_group(self) -> tuple[np.ndarray, np.ndarray]:
        """The faces grouping works on: fit for it, not ignored, not taken out of a group, not yet named."""
        return self.embeddings("f.groupable = 1 AND f.ignored = 0 AND f.kept_out = 0 AND f.person IS NULL")

    def set_clusters(self, face_ids, labels) -> None:
        """A new grouping: every face to group gets its label (None: left ungrouped)."""
        with self.transaction() as db:
            db.execute("UPDATE faces SET cluster = NULL WHERE person IS NULL")
            db.executemany("UPDATE faces SET cluster = ? WHERE id = ?",
                           [(int(label), int(fid)) for fid, label in zip(face_ids, labels) if label >= 0])

    def groups(self) -> dict[int, list[LibraryFace]]:
        """Unnamed groups, largest first, each with its faces."""
        found: dict[int, list[LibraryFace]] = {}
        for face in self.faces("f.cluster IS NOT NULL AND f.person IS NULL AND f.ignored = 0 AND f.kept_out = 0"):
            found.setdefault(face.cluster, []).append(face)
        return dict(sorted(found.items(), key=lambda item: (-len(item[1]), item[0])))

    # -- review actions: each one transaction, each returning its Undo ---------------------------------------------

    def change(self, face_ids, description: str, enrolled=None, **values) -> Undo:
        """Set some of STATE (cluster, person, ignored, kept_out) on these faces; returns how to undo it."""
        unknown = set(values) - set(STATE)
        if unknown:
            raise ValueError(f"not a face state: {sorted(unknown)}")
        ids = [int(i) for i in face_ids]
        with self.transaction() as db:
            before = [db.execute(f"SELECT id, {', '.join(STATE)} FROM faces WHERE id = ?", (i,)).fetchone() for i in ids]
            if values:
                setters = ", ".join(f"{k} = ?" for k in values)
                db.executemany(f"UPDATE faces SET {setters} WHERE id = ?", [(*values.values(), i) for i in ids])
        return Undo(description, tuple(r for r in before if r is not None), enrolled)

    def undo(self, undo: Undo) -> None:
        with self.transaction() as db:
            db.executemany(f"UPDATE faces SET {', '.join(k + ' = ?' for k in STATE)} WHERE id = ?",
                           [(*row[1:], row[0]) for row in undo.rows])
