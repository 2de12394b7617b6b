"""The enrolled people: SQLite with WAL and full sync, so a crash mid-write loses nothing already saved."""
from __future__ import annotations

import contextlib
import sqlite3
import time
from pathlib import Path


from .errors import GalleryError
from .gallery_file import explain, prepare_connection, prepare_path, privacy_note, refuse_foreign
from .gallery_records import EnrolledFace, Merged, NewFace, Person, Removed, embedding_blob, printable
from .gallery_index import IndexCache
from .matching import GalleryIndex
from .names import clean_name, name_key


def _guarded(method):
    """Every public method reports SQLite failures as a GalleryError with a plain message."""
    import functools

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        with self._errors():
            return method(self, *args, **kwargs)

    return wrapper


_ROWS = "SELECT embedding, model_fingerprint, thumbnail, source, created FROM faces"


class Gallery:
    """People and their face embeddings; each embedding records the model that made it.

    busy_timeout: how long a write waits for another writer before saying the gallery is busy (the GUI uses a
    short one so its thread never stalls).
    """

    def __init__(self, path: Path, model_fingerprint: str, embedding_size: int | None = None,
                 busy_timeout: float = 5.0, create: bool = True):
        self.path = Path(path)
        self.model_fingerprint = model_fingerprint
        self.embedding_size = embedding_size
        self._index_cache = IndexCache(model_fingerprint, embedding_size)
        self._listings: dict = {}
        prepare_path(self.path, create)  # create=False (commands that only read): NoGalleryError, nothing made
        try:
            refuse_foreign(self.path, busy_timeout)
        except OSError as exc:
            raise GalleryError(f"cannot open gallery {self.path}: {exc.strerror}") from None
        self._db = None
        try:
            self._open(busy_timeout)
        except GalleryError:
            self.close()
            raise
        self.privacy_note = privacy_note(self.path)  # said once by whoever opened it (CLI, status bar)
        self._index: GalleryIndex | None = None
        self._index_version: int | None = None

    def _open(self, busy_timeout: float) -> None:
        with self._errors():
            self._db = sqlite3.connect(self.path, timeout=busy_timeout, isolation_level=None, check_same_thread=False)
            prepare_connection(self._db, self.path)

    @contextlib.contextmanager
    def _errors(self):
        """SQLite failures as GalleryError messages that say what happened (busy, read-only, full, damaged)."""
        try:
            yield
        except sqlite3.Error as exc:
            raise GalleryError(explain(self.path, exc)) from None

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
        name = clean_name(name)
        if not faces:
            raise GalleryError("nothing to enroll: no face was given")
        if any(f.model_fingerprint != self.model_fingerprint for f in faces):
            # Stored under this model's fingerprint they would be matched as if this model had made them.
            raise GalleryError("these faces were analysed with another model than the one in use: "
                               "analyse the photos again, then enrol")
        now = time.time()
        with self._transaction() as db:
            person_id = self._find_person(db, name) or db.execute(
                "INSERT INTO people(name, created) VALUES (?, ?)", (name, now)).lastrowid
            db.executemany(
                "INSERT INTO faces(person_id, embedding, model_fingerprint, thumbnail, source, created) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                [(person_id, embedding_blob(f.embedding, self.embedding_size), f.model_fingerprint,
                  f.thumbnail, printable(f.source), now) for f in faces])
        return person_id

    @_guarded
    def rename(self, old: str, new: str) -> None:
        new = clean_name(new)
        with self._transaction() as db:
            person_id = self._person_id(db, old)
            if self._find_person(db, new, besides=person_id):
                raise GalleryError(f"someone is already called {new!r}")
            if db.execute("SELECT name FROM people WHERE id = ?", (person_id,)).fetchone()[0] == new:
                raise GalleryError(f"{new!r} already has that name: nothing to rename")
            db.execute("UPDATE people SET name = ? WHERE id = ?", (new, person_id))

    @_guarded
    def merge(self, source: str, into: str) -> Merged:
        """Move every face of `source` to `into` and remove `source` (two names found to be one person). Returns
        what `unmerge` needs (undo)."""
        with self._transaction() as db:
            source_id, into_id = self._person_id(db, source), self._person_id(db, into)
            if source_id == into_id:
                raise GalleryError(f"{source!r} and {into!r} are the same entry")
            stored = db.execute("SELECT name FROM people WHERE id = ?", (source_id,)).fetchone()[0]
            moved = tuple(r[0] for r in db.execute("SELECT id FROM faces WHERE person_id = ?", (source_id,)))
            db.execute("UPDATE faces SET person_id = ? WHERE person_id = ?", (into_id, source_id))
            db.execute("DELETE FROM people WHERE id = ?", (source_id,))
        return Merged(stored, moved)

    @_guarded
    def unmerge(self, merged: Merged) -> None:
        """Undo a merge: the moved faces that are still enrolled go back to a person of the old name."""
        with self._transaction() as db:
            if self._find_person(db, merged.name):
                raise GalleryError(f"someone is already called {merged.name!r} again: the merge cannot be undone")
            person_id = db.execute("INSERT INTO people(name, created) VALUES (?, ?)",
                                   (merged.name, time.time())).lastrowid
            db.executemany("UPDATE faces SET person_id = ? WHERE id = ?", [(person_id, f) for f in merged.face_ids])
            if not db.execute("SELECT 1 FROM faces WHERE person_id = ?", (person_id,)).fetchone():
                raise GalleryError(f"the photos merged from {merged.name} are no longer in the gallery")

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
            person_id = self._find_person(db, removed.name) or db.execute(
                "INSERT INTO people(name, created) VALUES (?, ?)", (removed.name, now)).lastrowid
            db.executemany("INSERT INTO faces(person_id, embedding, model_fingerprint, thumbnail, source, created) "
                           "VALUES (?, ?, ?, ?, ?, ?)", [(person_id, *r) for r in removed.rows])

    @_guarded
    def replace_embedding(self, face_id: int, embedding, thumbnail: bytes | None = None) -> None:
        """A face re-embedded by the model in use (engine/reembed.py); the thumbnail too when a better one is given."""
        with self._transaction() as db:
            db.execute("UPDATE faces SET embedding = ?, model_fingerprint = ?, thumbnail = COALESCE(?, thumbnail) "
                       "WHERE id = ?", (embedding_blob(embedding, self.embedding_size), self.model_fingerprint,
                                        thumbnail, face_id))
        self._index_cache.clear()  # an embedding changed in place: the next index reads every row

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
        """Everyone with their counts, without a picture: listing 10,000 people reads no thumbnail (`thumbnails`)."""
        return list(self._once_per_version("people", self._read_people))

    def _read_people(self) -> list[Person]:
        rows = self._db.execute(
            "SELECT p.id, p.name, COUNT(f.id), SUM(f.model_fingerprint != ?), MIN(f.id) "
            "FROM people p LEFT JOIN faces f ON f.person_id = p.id GROUP BY p.id ORDER BY p.name",
            (self.model_fingerprint,)).fetchall()
        return [Person(r[0], r[1], r[2], int(r[3] or 0), r[4]) for r in rows]

    @_guarded
    def faces(self, name: str, with_thumbnails: bool = True) -> list[EnrolledFace]:
        """A person's faces; without their thumbnails (None) for a list that loads them as they come into view."""
        person_id = self._person_id(self._db, name)
        picture = "thumbnail" if with_thumbnails else "NULL"
        rows = self._db.execute(f"SELECT id, {picture}, source, model_fingerprint FROM faces "
                                "WHERE person_id = ? ORDER BY id", (person_id,)).fetchall()
        return [EnrolledFace(r[0], person_id, r[1], r[2], r[3] != self.model_fingerprint) for r in rows]

    @_guarded
    def thumbnails(self, face_ids) -> dict[int, bytes | None]:
        """The stored pictures of these faces (ids no longer enrolled are left out), 500 ids a query (SQLite's
        limit on bound parameters is 999 in old builds)."""
        ids = [int(i) for i in face_ids]
        chunks = (ids[k:k + 500] for k in range(0, len(ids), 500))
        return {i: t for chunk in chunks for i, t in self._db.execute(
            f"SELECT id, thumbnail FROM faces WHERE id IN ({','.join('?' * len(chunk))})", chunk)}

    @_guarded
    def face_count(self) -> int:
        return self._db.execute("SELECT COUNT(*) FROM faces").fetchone()[0]

    @_guarded
    def stale_count(self) -> int:
        return self._once_per_version("stale", lambda: self._db.execute(
            "SELECT COUNT(*) FROM faces WHERE model_fingerprint != ?", (self.model_fingerprint,)).fetchone()[0])

    def _once_per_version(self, what: str, read):
        """A listing read once per gallery version: after a change the window's tabs and status bar all ask."""
        version = self.version()
        if self._listings.get("version") != version:
            self._listings = {"version": version}
        if what not in self._listings:
            self._listings[what] = read()
        return self._listings[what]

    @_guarded
    def version(self) -> int:
        """Changes when anyone commits to the gallery: this connection (counted here) or another one (SQLite's
        data_version), so a reader can tell cheaply that what it shows is out of date."""
        return self._db.execute("PRAGMA data_version").fetchone()[0] + self._local_writes

    @_guarded
    def index(self) -> GalleryIndex:
        """Search index over faces made with the current model; after a write, refreshed with only the rows that
        changed (gallery_index.IndexCache)."""
        version = self.version()
        if self._index is None or version != self._index_version:
            self._index = self._index_cache.refresh(self._db)
            self._index_version = version
        return self._index

    @property
    def skipped_rows(self) -> int:
        """Embeddings in the file that cannot be used (wrong length, not finite), as of the last index()."""
        return self._index_cache.skipped_rows

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
    def _find_person(db: sqlite3.Connection, name: str, besides: int | None = None) -> int | None:
        """The person whose name is `name` up to case and Unicode spelling (compared here, in Python: SQLite's
        NOCASE folds ASCII only). An exact match wins over a folded one in a gallery from before the rule."""
        key = name_key(name)
        matches = [(stored == name, pid) for pid, stored in db.execute("SELECT id, name FROM people")
                   if pid != besides and name_key(stored) == key]
        return max(matches)[1] if matches else None

    @classmethod
    def _person_id(cls, db: sqlite3.Connection, name: str) -> int:
        person_id = cls._find_person(db, name)
        if person_id is None:
            raise GalleryError(f"no one called {name!r} in the gallery")
        return person_id
