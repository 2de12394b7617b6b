"""The enrolled people: SQLite with WAL and full sync, so a crash mid-write loses nothing already saved."""
from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import GalleryError
from .matching import GalleryIndex

SCHEMA = """
CREATE TABLE IF NOT EXISTS people (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE COLLATE NOCASE,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS faces (
    id INTEGER PRIMARY KEY,
    person_id INTEGER NOT NULL REFERENCES people(id) ON DELETE CASCADE,
    embedding BLOB NOT NULL,
    model_fingerprint TEXT NOT NULL,
    thumbnail BLOB,
    source TEXT,
    created REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS faces_person ON faces(person_id);
"""


@dataclass(frozen=True)
class Person:
    id: int
    name: str
    faces: int
    stale_faces: int  # made with another model: need re-enrolment
    thumbnail: bytes | None


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
    thumbnail: bytes | None = None
    source: str | None = None


class Gallery:
    """People and their face embeddings; each embedding records the model that made it."""

    def __init__(self, path: Path, model_fingerprint: str):
        self.path = Path(path)
        self.model_fingerprint = model_fingerprint
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.chmod(self.path.parent, 0o700)
        except OSError:
            pass
        if not self.path.exists():
            os.close(os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600))
        try:
            self._db = sqlite3.connect(self.path, timeout=10, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute("PRAGMA foreign_keys=ON")
            self._db.executescript(SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise GalleryError(f"gallery {self.path} is not a faceid gallery or is damaged: {exc}") from None
        self._index: GalleryIndex | None = None
        self._index_version: int | None = None

    def close(self) -> None:
        self._db.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- writes: each one a single transaction --------------------------------------------

    def enroll(self, name: str, faces: list[NewFace]) -> int:
        """Add faces to a person (created if new). All or nothing. Returns the person id."""
        name = name.strip()
        if not name:
            raise GalleryError("a person needs a name")
        if not faces:
            raise GalleryError("nothing to enroll: no face was given")
        now = time.time()
        with self._transaction() as db:
            row = db.execute("SELECT id FROM people WHERE name = ?", (name,)).fetchone()
            person_id = row[0] if row else db.execute(
                "INSERT INTO people(name, created) VALUES (?, ?)", (name, now)).lastrowid
            db.executemany(
                "INSERT INTO faces(person_id, embedding, model_fingerprint, thumbnail, source, created) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                [(person_id, np.asarray(f.embedding, np.float32).tobytes(), self.model_fingerprint,
                  f.thumbnail, f.source, now) for f in faces])
        return person_id

    def rename(self, old: str, new: str) -> None:
        new = new.strip()
        if not new:
            raise GalleryError("a person needs a name")
        with self._transaction() as db:
            person_id = self._person_id(db, old)
            clash = db.execute("SELECT id FROM people WHERE name = ? AND id != ?", (new, person_id)).fetchone()
            if clash:
                raise GalleryError(f"someone is already called {new!r}")
            db.execute("UPDATE people SET name = ? WHERE id = ?", (new, person_id))

    def forget_face(self, face_id: int) -> None:
        """Remove one enrolled photo; a person left with no photo is removed too."""
        with self._transaction() as db:
            row = db.execute("SELECT person_id FROM faces WHERE id = ?", (face_id,)).fetchone()
            if row is None:
                raise GalleryError(f"no enrolled face #{face_id}")
            db.execute("DELETE FROM faces WHERE id = ?", (face_id,))
            db.execute("DELETE FROM people WHERE id = ? AND NOT EXISTS "
                       "(SELECT 1 FROM faces WHERE person_id = ?)", (row[0], row[0]))

    def forget_person(self, name: str) -> None:
        with self._transaction() as db:
            person_id = self._person_id(db, name)
            db.execute("DELETE FROM faces WHERE person_id = ?", (person_id,))
            db.execute("DELETE FROM people WHERE id = ?", (person_id,))

    def forget_stale(self, name: str) -> int:
        """Drop a person's faces made with another model (after re-enrolment)."""
        with self._transaction() as db:
            person_id = self._person_id(db, name)
            return db.execute("DELETE FROM faces WHERE person_id = ? AND model_fingerprint != ?",
                              (person_id, self.model_fingerprint)).rowcount

    # -- reads --------------------------------------------------------------------------------

    def people(self) -> list[Person]:
        rows = self._db.execute(
            "SELECT p.id, p.name, COUNT(f.id), SUM(f.model_fingerprint != ?), "
            "(SELECT thumbnail FROM faces WHERE person_id = p.id ORDER BY id LIMIT 1) "
            "FROM people p LEFT JOIN faces f ON f.person_id = p.id GROUP BY p.id ORDER BY p.name",
            (self.model_fingerprint,)).fetchall()
        return [Person(r[0], r[1], r[2], int(r[3] or 0), r[4]) for r in rows]

    def faces(self, name: str) -> list[EnrolledFace]:
        person_id = self._person_id(self._db, name)
        rows = self._db.execute("SELECT id, thumbnail, source, model_fingerprint FROM faces "
                                "WHERE person_id = ? ORDER BY id", (person_id,)).fetchall()
        return [EnrolledFace(r[0], person_id, r[1], r[2], r[3] != self.model_fingerprint) for r in rows]

    def face_count(self) -> int:
        return self._db.execute("SELECT COUNT(*) FROM faces").fetchone()[0]

    def stale_count(self) -> int:
        return self._db.execute("SELECT COUNT(*) FROM faces WHERE model_fingerprint != ?",
                                (self.model_fingerprint,)).fetchone()[0]

    def index(self) -> GalleryIndex:
        """Search index over faces made with the current model; rebuilt only after a write."""
        version = self._db.execute("PRAGMA data_version").fetchone()[0] + self._local_writes
        if self._index is None or version != self._index_version:
            rows = self._db.execute("SELECT person_id, embedding FROM faces WHERE model_fingerprint = ?",
                                    (self.model_fingerprint,)).fetchall()
            names = dict(self._db.execute("SELECT id, name FROM people").fetchall())
            if rows:
                ids = np.fromiter((r[0] for r in rows), np.int64, len(rows))
                embs = np.stack([np.frombuffer(r[1], np.float32) for r in rows])
            else:
                ids, embs = np.empty(0, np.int64), np.empty((0, 0), np.float32)
            self._index = GalleryIndex(embs, ids, names)
            self._index_version = version
        return self._index

    # -- helpers ------------------------------------------------------------------------------

    _local_writes = 0  # PRAGMA data_version only counts other connections' commits

    @contextlib.contextmanager
    def _transaction(self):
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")
        self._local_writes += 1

    @staticmethod
    def _person_id(db: sqlite3.Connection, name: str) -> int:
        row = db.execute("SELECT id FROM people WHERE name = ?", (name.strip(),)).fetchone()
        if row is None:
            raise GalleryError(f"no one called {name!r} in the gallery")
        return row[0]
