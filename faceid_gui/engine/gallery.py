"""The enrolled people: SQLite with WAL and full sync, so a crash mid-write loses nothing already saved."""
from __future__ import annotations

import contextlib
import os
import shutil
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


def _guarded(method):
    """Every public method reports SQLite failures as a GalleryError with a plain message."""
    import functools

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        with self._errors():
            return method(self, *args, **kwargs)

    return wrapper



_ROWS = "SELECT embedding, model_fingerprint, thumbnail, source, created FROM faces"
APPLICATION_ID = 0x46434944  # "FCID" in the SQLite header: marks a file as a faceid gallery
_SQLITE_MAGIC = b"SQLite format 3\x00"


class Gallery:
    """People and their face embeddings; each embedding records the model that made it.

    busy_timeout: how long a write waits for another writer before saying the gallery is busy (the GUI uses a
    short one so its thread never stalls).
    """

    def __init__(self, path: Path, model_fingerprint: str, embedding_size: int | None = None,
                 busy_timeout: float = 5.0):
        self.path = Path(path)
        self.model_fingerprint = model_fingerprint
        self.embedding_size = embedding_size
        self.skipped_rows = 0  # embeddings in the file that cannot be used (wrong length, not finite)
        _make_private_folders(self.path.parent)
        try:
            if not self.path.exists():
                os.close(os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600))
            self._refuse_foreign(busy_timeout)
        except OSError as exc:
            raise GalleryError(f"cannot open gallery {self.path}: {exc.strerror}") from None
        self._db = None
        try:
            self._open(busy_timeout)
        except GalleryError:
            self.close()
            raise
        self._index: GalleryIndex | None = None
        self._index_version: int | None = None

    def _open(self, busy_timeout: float) -> None:
        with self._errors():
            self._db = sqlite3.connect(self.path, timeout=busy_timeout, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute("PRAGMA foreign_keys=ON")
            if self._db.execute("PRAGMA quick_check").fetchone()[0] != "ok":
                raise sqlite3.DatabaseError("database disk image is malformed")
            if self._db.execute("PRAGMA application_id").fetchone()[0] != APPLICATION_ID:
                # One transaction: another faceid opening the file meanwhile sees no tables or all of them, never
                # "people" without "faces" (which it would take for a foreign database).
                self._db.executescript(f"BEGIN IMMEDIATE; {SCHEMA} PRAGMA application_id = {APPLICATION_ID}; COMMIT;")

    def _refuse_foreign(self, busy_timeout: float) -> None:
        """Raise before connecting when the file is some other database: opening it read-write would change it."""
        with open(self.path, "rb") as fh:
            header = fh.read(100)
        if not header:
            return  # new (or not yet checkpointed) gallery
        if len(header) < 100 or not header.startswith(_SQLITE_MAGIC):
            raise GalleryError(f"{self.path} is not a faceid gallery (not an SQLite database); it was left untouched")
        app_id = int.from_bytes(header[68:72], "big")
        if app_id == APPLICATION_ID:
            return
        if app_id == 0 and self._has_gallery_schema(busy_timeout):
            return  # a gallery from before the application id was set
        raise GalleryError(f"{self.path} is an SQLite database but not a faceid gallery; it was left untouched")

    def _has_gallery_schema(self, busy_timeout: float) -> bool:
        from urllib.parse import quote

        uri = f"file:{quote(str(self.path.resolve()))}?mode=ro"
        try:
            with contextlib.closing(sqlite3.connect(uri, uri=True, timeout=busy_timeout)) as db:
                db.execute("BEGIN")  # both reads see the same snapshot
                tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
                columns = {r[1] for r in db.execute("PRAGMA table_info(faces)")}
        except sqlite3.DatabaseError as exc:
            # Another faceid creating this gallery at the same moment can hold it briefly: "busy", not "foreign".
            if getattr(exc, "sqlite_errorname", "").startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
                raise GalleryError(_explain(self.path, exc)) from None
            return False
        return tables <= {"people", "faces"} and (not tables or {"embedding", "model_fingerprint"} <= columns)

    @contextlib.contextmanager
    def _errors(self):
        """SQLite failures as GalleryError messages that say what happened (busy, read-only, full, damaged)."""
        try:
            yield
        except sqlite3.Error as exc:
            raise GalleryError(_explain(self.path, exc)) from None

    def close(self) -> None:
        if self._db is not None:
            self._db.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- writes: each one a single transaction --------------------------------------------

    @_guarded
    def enroll(self, name: str, faces: list[NewFace]) -> int:
        """Add faces to a person (created if new). All or nothing. Returns the person id."""
        name = _clean_name(name)
        if not faces:
            raise GalleryError("nothing to enroll: no face was given")
        if any(f.model_fingerprint != self.model_fingerprint for f in faces):
            # Stored under this model's fingerprint they would be matched as if this model had made them.
            raise GalleryError("these faces were analysed with another model than the one in use: "
                               "analyse the photos again, then enrol")
        now = time.time()
        with self._transaction() as db:
            row = db.execute("SELECT id FROM people WHERE name = ?", (name,)).fetchone()
            person_id = row[0] if row else db.execute(
                "INSERT INTO people(name, created) VALUES (?, ?)", (name, now)).lastrowid
            db.executemany(
                "INSERT INTO faces(person_id, embedding, model_fingerprint, thumbnail, source, created) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                [(person_id, _embedding_blob(f.embedding, self.embedding_size), f.model_fingerprint,
                  f.thumbnail, _printable(f.source), now) for f in faces])
        return person_id

    @_guarded
    def rename(self, old: str, new: str) -> None:
        new = _clean_name(new)
        with self._transaction() as db:
            person_id = self._person_id(db, old)
            clash = db.execute("SELECT id FROM people WHERE name = ? AND id != ?", (new, person_id)).fetchone()
            if clash:
                raise GalleryError(f"someone is already called {new!r}")
            db.execute("UPDATE people SET name = ? WHERE id = ?", (new, person_id))

    @_guarded
    def merge(self, source: str, into: str) -> None:
        """Move every face of `source` to `into` and remove `source` (two names found to be one person)."""
        with self._transaction() as db:
            source_id, into_id = self._person_id(db, source), self._person_id(db, into)
            if source_id == into_id:
                raise GalleryError(f"{source!r} and {into!r} are the same entry")
            db.execute("UPDATE faces SET person_id = ? WHERE person_id = ?", (into_id, source_id))
            db.execute("DELETE FROM people WHERE id = ?", (source_id,))

    @_guarded
    def forget_face(self, face_id: int) -> Removed:
        """Remove one enrolled photo; a person left with no photo is removed too. Returns what `restore` needs."""
        with self._transaction() as db:
            row = db.execute("SELECT f.person_id, p.name FROM faces f JOIN people p ON p.id = f.person_id "
                             "WHERE f.id = ?", (face_id,)).fetchone()
            if row is None:
                raise GalleryError(f"no enrolled face #{face_id}")
            removed = Removed(row[1], tuple(db.execute(_ROWS + " WHERE id = ?", (face_id,)).fetchall()))
            db.execute("DELETE FROM faces WHERE id = ?", (face_id,))
            db.execute("DELETE FROM people WHERE id = ? AND NOT EXISTS "
                       "(SELECT 1 FROM faces WHERE person_id = ?)", (row[0], row[0]))
        return removed

    @_guarded
    def forget_person(self, name: str) -> Removed:
        """Remove a person and all their photos. Returns what `restore` needs."""
        with self._transaction() as db:
            person_id = self._person_id(db, name)
            stored = db.execute("SELECT name FROM people WHERE id = ?", (person_id,)).fetchone()[0]
            removed = Removed(stored, tuple(db.execute(_ROWS + " WHERE person_id = ? ORDER BY id",
                                                       (person_id,)).fetchall()))
            db.execute("DELETE FROM faces WHERE person_id = ?", (person_id,))
            db.execute("DELETE FROM people WHERE id = ?", (person_id,))
        return removed

    @_guarded
    def restore(self, removed: Removed) -> None:
        """Put back what a forget removed (undo), under the same name; rows stay as stored, old model's included."""
        now = time.time()
        with self._transaction() as db:
            row = db.execute("SELECT id FROM people WHERE name = ?", (removed.name,)).fetchone()
            person_id = row[0] if row else db.execute(
                "INSERT INTO people(name, created) VALUES (?, ?)", (removed.name, now)).lastrowid
            db.executemany("INSERT INTO faces(person_id, embedding, model_fingerprint, thumbnail, source, created) "
                           "VALUES (?, ?, ?, ?, ?, ?)", [(person_id, *r) for r in removed.rows])

    @_guarded
    def replace_embedding(self, face_id: int, embedding, thumbnail: bytes | None = None) -> None:
        """A face re-embedded by the model in use (engine/reembed.py); the thumbnail too when a better one is given."""
        with self._transaction() as db:
            db.execute("UPDATE faces SET embedding = ?, model_fingerprint = ?, thumbnail = COALESCE(?, thumbnail) "
                       "WHERE id = ?", (_embedding_blob(embedding, self.embedding_size), self.model_fingerprint,
                                        thumbnail, face_id))

    @_guarded
    def forget_stale(self, name: str) -> int:
        """Drop a person's faces made with another model (after re-enrolment)."""
        with self._transaction() as db:
            person_id = self._person_id(db, name)
            return db.execute("DELETE FROM faces WHERE person_id = ? AND model_fingerprint != ?",
                              (person_id, self.model_fingerprint)).rowcount

    # -- reads --------------------------------------------------------------------------------

    @_guarded
    def people(self) -> list[Person]:
        rows = self._db.execute(
            "SELECT p.id, p.name, COUNT(f.id), SUM(f.model_fingerprint != ?), "
            "(SELECT thumbnail FROM faces WHERE person_id = p.id ORDER BY id LIMIT 1) "
            "FROM people p LEFT JOIN faces f ON f.person_id = p.id GROUP BY p.id ORDER BY p.name",
            (self.model_fingerprint,)).fetchall()
        return [Person(r[0], r[1], r[2], int(r[3] or 0), r[4]) for r in rows]

    @_guarded
    def faces(self, name: str) -> list[EnrolledFace]:
        person_id = self._person_id(self._db, name)
        rows = self._db.execute("SELECT id, thumbnail, source, model_fingerprint FROM faces "
                                "WHERE person_id = ? ORDER BY id", (person_id,)).fetchall()
        return [EnrolledFace(r[0], person_id, r[1], r[2], r[3] != self.model_fingerprint) for r in rows]

    @_guarded
    def face_count(self) -> int:
        return self._db.execute("SELECT COUNT(*) FROM faces").fetchone()[0]

    @_guarded
    def stale_count(self) -> int:
        return self._db.execute("SELECT COUNT(*) FROM faces WHERE model_fingerprint != ?",
                                (self.model_fingerprint,)).fetchone()[0]

    @_guarded
    def index(self) -> GalleryIndex:
        """Search index over faces made with the current model; rebuilt only after a write."""
        version = self._db.execute("PRAGMA data_version").fetchone()[0] + self._local_writes
        if self._index is None or version != self._index_version:
            rows = self._db.execute("SELECT person_id, embedding FROM faces WHERE model_fingerprint = ?",
                                    (self.model_fingerprint,)).fetchall()
            names = dict(self._db.execute("SELECT id, name FROM people").fetchall())
            size = self.embedding_size or (len(rows[0][1]) // 4 if rows and isinstance(rows[0][1], bytes) else 0)
            usable = [(pid, np.frombuffer(blob, np.float32)) for pid, blob in rows
                      if isinstance(blob, bytes) and size and len(blob) == 4 * size]
            usable = [(pid, e) for pid, e in usable if np.isfinite(e).all()]
            self.skipped_rows = len(rows) - len(usable)
            if usable:
                ids = np.fromiter((pid for pid, _ in usable), np.int64, len(usable))
                embs = np.stack([e for _, e in usable])
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
            if self._db.in_transaction:  # SQLite has already rolled back after SQLITE_FULL and some I/O errors
                self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")
        self._local_writes += 1

    @staticmethod
    def _person_id(db: sqlite3.Connection, name: str) -> int:
        row = db.execute("SELECT id FROM people WHERE name = ?", (_clean_name(name),)).fetchone()
        if row is None:
            raise GalleryError(f"no one called {name!r} in the gallery")
        return row[0]


def _explain(path: Path, exc: sqlite3.Error) -> str:
    code = getattr(exc, "sqlite_errorname", "") or ""
    text = str(exc)
    if code.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")) or "locked" in text:
        return f"gallery {path} is busy: another faceid is writing to it; try again in a moment"
    if code.startswith("SQLITE_READONLY") or "readonly" in text:
        return f"gallery {path} is read-only: faceid cannot save changes to it (check the file's permissions)"
    if code in ("SQLITE_FULL", "SQLITE_IOERR_SHMSIZE") or "full" in text or (
            code.startswith("SQLITE_IOERR") and _free_bytes(path) < 1 << 20):
        # On a full disk SQLite often reports only an I/O error (e.g. it cannot size the WAL index).
        return f"not enough disk space to write to gallery {path}; nothing was changed"
    if code.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB")) or "malformed" in text or "not a database" in text:
        return f"gallery {path} is damaged ({text}); restore it from a backup or move it away to start a new one"
    if code.startswith("SQLITE_CANTOPEN"):
        return f"cannot open gallery {path} (check that its folder exists and is writable)"
    if code.startswith("SQLITE_IOERR"):
        return f"gallery {path} could not be read or written (disk error: {text})"
    return f"gallery {path}: {text}"


def _free_bytes(path: Path) -> int:
    try:
        return shutil.disk_usage(path.parent).free
    except OSError:
        return 1 << 62


def _make_private_folders(folder: Path) -> None:
    """Create the missing folders private to the user; folders that already exist are not ours to chmod."""
    missing = []
    while not folder.exists() and folder != folder.parent:
        missing.append(folder)
        folder = folder.parent
    for created in reversed(missing):
        try:
            created.mkdir(mode=0o700)
        except FileExistsError:
            continue
        except OSError as exc:
            raise GalleryError(f"cannot create the gallery folder {created}: {exc.strerror}") from None
        os.chmod(created, 0o700)  # mkdir's mode is filtered by the umask


def _clean_name(name: str) -> str:
    name = name.strip()
    if not name:
        raise GalleryError("a person needs a name")
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        raise GalleryError(f"the name {name!r} is not valid text (undecodable bytes); type it again") from None
    return name


def _printable(source: str | None) -> str | None:
    """A file name that is not valid UTF-8 is kept, readably escaped: it is only shown, never opened."""
    if source is None:
        return None
    return source.encode("utf-8", "backslashreplace").decode("utf-8")


def _embedding_blob(embedding, size: int | None) -> bytes:
    vector = np.asarray(embedding, np.float32).ravel()
    if (size and len(vector) != size) or not np.isfinite(vector).all():
        raise GalleryError("refusing to store an invalid embedding (wrong size or not finite)")
    return vector.tobytes()
