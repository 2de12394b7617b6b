"""The gallery's file on disk: what may be opened as one, who may read it, and SQLite errors in plain words.

Everything here runs before SQLite touches the path: SQLite would create a missing file, block on a FIFO, and
leave a `-journal` beside /dev/null.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import stat
from pathlib import Path

from .errors import GalleryError

APPLICATION_ID = 0x46434944  # "FCID" in the SQLite header: marks a file as a faceid gallery

# The gallery's tables (a face's embedding records the model that made it).
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
CREATE INDEX IF NOT EXISTS faces_model ON faces(person_id, model_fingerprint);
"""
# Counting a model's faces (people, stale faces, the 1:N index's checks) from this index reads a few MB, not every
# face's row with its thumbnail (1 s for 100,000 faces); galleries made before it get it when next opened.
MODEL_INDEX = "CREATE INDEX IF NOT EXISTS faces_model ON faces(person_id, model_fingerprint)"
_SQLITE_MAGIC = b"SQLite format 3\x00"
SIDECARS = ("-wal", "-shm")  # SQLite's WAL mode files: they hold recent writes (embeddings, thumbnails, paths)


class NoGalleryError(GalleryError):
    """A command that only reads found no gallery file (nothing was created)."""


def prepare_path(path: Path, create: bool, what: str = "gallery") -> None:
    """Refuse what is not a regular file (FIFO, device, folder) before anything opens it; create a missing
    gallery (and its missing folders, private) only when `create`. `what` names the file in messages (the photo
    library's file is checked the same way)."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        if not create:
            raise NoGalleryError(f"there is no gallery at {path}") from None
        make_private_folders(path.parent, what)
        try:
            os.close(os.open(path, os.O_CREAT | os.O_WRONLY | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600))
        except FileExistsError:
            return prepare_path(path, create, what)  # another faceid made it meanwhile: check what it is
        except OSError as exc:
            raise GalleryError(f"cannot create {what} {path}: {exc.strerror}") from None
        return
    except NotADirectoryError:
        raise GalleryError(f"cannot open {what} {path}: a part of that path is a file, not a folder") from None
    except OSError as exc:
        raise GalleryError(f"cannot open {what} {path}: {exc.strerror}") from None
    if not stat.S_ISREG(info.st_mode):
        kind = "a folder" if stat.S_ISDIR(info.st_mode) else "not a regular file (a device, pipe or socket)"
        raise GalleryError(f"{path} is {kind}, not a {what} file; it was left untouched")


def read_header(path: Path) -> bytes:
    """The first 100 bytes, read without blocking (the file could have been swapped for a FIFO since the check)."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise GalleryError(f"{path} is not a regular file, not a gallery file; it was left untouched")
        return os.read(fd, 100)
    finally:
        os.close(fd)


def refuse_foreign(path: Path, busy_timeout: float) -> None:
    """Raise before connecting when the file is some other database: opening it read-write would change it."""
    header = read_header(path)
    if not header:
        return  # new (or not yet checkpointed) gallery
    if len(header) < 100 or not header.startswith(_SQLITE_MAGIC):
        raise GalleryError(f"{path} is not a faceid gallery (not an SQLite database); it was left untouched")
    app_id = int.from_bytes(header[68:72], "big")
    if app_id == APPLICATION_ID:
        return
    if app_id == 0 and _has_gallery_schema(path, busy_timeout):
        return  # a gallery from before the application id was set
    raise GalleryError(f"{path} is an SQLite database but not a faceid gallery; it was left untouched")


def _has_gallery_schema(path: Path, busy_timeout: float) -> bool:
    from urllib.parse import quote

    uri = f"file:{quote(str(path.resolve()))}?mode=ro"
    try:
        with contextlib.closing(sqlite3.connect(uri, uri=True, timeout=busy_timeout)) as db:
            db.execute("BEGIN")  # both reads see the same snapshot
            tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            columns = {r[1] for r in db.execute("PRAGMA table_info(faces)")}
    except sqlite3.DatabaseError as exc:
        # Another faceid creating this gallery at the same moment can hold it briefly: "busy", not "foreign".
        if getattr(exc, "sqlite_errorname", "").startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
            raise GalleryError(explain(path, exc)) from None
        return False
    return tables <= {"people", "faces"} and (not tables or {"embedding", "model_fingerprint"} <= columns)


def privacy_note(path: Path) -> str:
    """Make SQLite's WAL and SHM files private (SQLite gives them the gallery's own mode) and return a warning
    when the gallery itself is readable by others (its mode is the owner's choice, so it is said, not changed)."""
    if os.name != "posix":
        return ""  # file modes are POSIX's; Windows keeps the data folder private with its ACLs
    for suffix in SIDECARS:
        sidecar = Path(str(path) + suffix)
        with contextlib.suppress(OSError):
            info = os.lstat(sidecar)
            if stat.S_ISREG(info.st_mode) and info.st_uid == os.getuid() and info.st_mode & 0o077:
                os.chmod(sidecar, 0o600)
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return ""
    if mode & 0o044:
        return (f"the gallery {path} can be read by other users (mode {mode & 0o777:o}): "
                f"run `chmod 600` on it to keep its faces private")
    return ""


def explain(path: Path, exc: sqlite3.Error, what: str = "gallery") -> str:
    code = getattr(exc, "sqlite_errorname", "") or ""
    text = str(exc)
    if code.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")) or "locked" in text:
        return f"{what} {path} is busy: another faceid is writing to it; try again in a moment"
    if code.startswith("SQLITE_READONLY") or "readonly" in text:
        return f"{what} {path} is read-only: faceid cannot save changes to it (check the file's permissions)"
    if code in ("SQLITE_FULL", "SQLITE_IOERR_SHMSIZE") or "full" in text or (
            code.startswith("SQLITE_IOERR") and _free_bytes(path) < 1 << 20):
        # On a full disk SQLite often reports only an I/O error (e.g. it cannot size the WAL index).
        return f"not enough disk space to write to {what} {path}; nothing was changed"
    if code.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB")) or "malformed" in text or "not a database" in text:
        return f"{what} {path} is damaged ({text}); restore it from a backup or move it away to start a new one"
    if code.startswith("SQLITE_CANTOPEN"):
        return f"cannot open {what} {path} (check that its folder exists and is writable)"
    if code.startswith("SQLITE_IOERR"):
        return f"{what} {path} could not be read or written (disk error: {text})"
    return f"{what} {path}: {text}"


def _free_bytes(path: Path) -> int:
    try:
        return shutil.disk_usage(path.parent).free
    except OSError:
        return 1 << 62


def make_private_folders(folder: Path, what: str = "gallery") -> None:
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
            raise GalleryError(f"cannot create the {what} folder {created}: {exc.strerror}") from None
        os.chmod(created, 0o700)  # mkdir's mode is filtered by the umask


WHOLE_CHECK_BYTES = 64 << 20  # a larger gallery's check at open would cost over 30 ms (1 s at 2.5 GB)


def open_check(path: Path) -> str:
    """SQLite's check of the whole file, for a gallery of up to ~2,500 faces; a larger one checks its people at
    open, and damage among its faces is reported by the read that meets it (every read says "damaged")."""
    try:
        small = path.stat().st_size <= WHOLE_CHECK_BYTES
    except OSError:
        small = True
    return "PRAGMA quick_check" if small else "PRAGMA quick_check(people)"


def prepare_connection(db: sqlite3.Connection, path: Path) -> None:
    """WAL with full sync (a crash mid-write loses nothing already saved), the file checked, its tables made."""
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute("PRAGMA foreign_keys=ON")
    if db.execute(open_check(path)).fetchone()[0] != "ok":
        raise sqlite3.DatabaseError("database disk image is malformed")
    if db.execute("PRAGMA application_id").fetchone()[0] != APPLICATION_ID:
        # One transaction: another faceid opening the file meanwhile sees no tables or all of them, never
        # "people" without "faces" (which it would take for a foreign database).
        db.executescript(f"BEGIN IMMEDIATE; {SCHEMA} PRAGMA application_id = {APPLICATION_ID}; COMMIT;")
    elif not db.execute("SELECT 1 FROM sqlite_master WHERE name = 'faces_model'").fetchone():
        with contextlib.suppress(sqlite3.OperationalError):  # read-only or busy: it only costs speed
            db.execute(MODEL_INDEX)
