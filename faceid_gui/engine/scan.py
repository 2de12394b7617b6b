"""Scanning a folder into the photo library: recursive, incremental (unchanged files are skipped from their size
and mtime, moved ones recognised by a quick content hash, deleted ones dropped), two photos analysed at a time,
written in small transactions so a cancel or a crash keeps what was done."""
from __future__ import annotations

import hashlib
import os
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .mtcnn_ops import box_iou
from .errors import FaceIdError
from .imageio import IMAGE_SUFFIXES
from .library import Library

# Faces kept out of grouping (still indexed, still searchable): tiny ones, whose 64 px model input would be mostly
# invented, and background faces much smaller than the photo's main face (bystanders, posters, faces on a T-shirt).
GROUP_MIN_SIDE = 40  # px: the smallest face a photo is searched for first (detector.PHOTO_MIN_FACE)
GROUP_MIN_RELATIVE = 0.5  # of the main face's side (the detector's own false-face rule uses the same share)
WRITE_BATCH = 32  # photos per transaction
HASH_BYTES = 1 << 16  # the quick hash reads this much from each end of a file
WORKERS = 2  # photos analysed at once: the engine's sessions run one thread each
QUEUED = 4  # photos submitted ahead per worker


@dataclass
class ScanSummary:
    found: int = 0
    unchanged: int = 0
    analysed: int = 0
    moved: int = 0
    deleted: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)  # (path, why)
    faces: int = 0
    cancelled: bool = False
    seconds: float = 0.0


def image_files(root: Path):
    """(path, size, mtime) of every image file under root, recursively; unreadable folders are skipped."""
    stack = [str(root)]
    while stack:
        folder = stack.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in sorted(entries, key=lambda e: e.name):
            try:
                if entry.is_dir(follow_symlinks=False):
                    stack.append(entry.path)
                elif os.path.splitext(entry.name)[1].lower() in IMAGE_SUFFIXES and entry.is_file():
                    st = entry.stat()
                    yield entry.path, st.st_size, st.st_mtime
            except OSError:
                continue


def quick_hash(path: str, size: int) -> str:
    """Size plus the first and last 64 KiB: enough to tell a moved photo from a new one, at two small reads."""
    digest = hashlib.sha1(str(size).encode())
    with open(path, "rb") as fh:
        digest.update(fh.read(HASH_BYTES))
        if size > 2 * HASH_BYTES:
            fh.seek(-HASH_BYTES, os.SEEK_END)
        digest.update(fh.read(HASH_BYTES))
    return digest.hexdigest()


def groupable(faces) -> list[bool]:
    """Which faces of one photo (largest first) grouping may use (rule above)."""
    if not faces:
        return []
    main = np.sqrt(max(faces[0].area, 0.0))
    return [bool(np.sqrt(max(f.area, 0.0)) >= max(GROUP_MIN_SIDE, GROUP_MIN_RELATIVE * main)) for f in faces]


def scan_folder(library: Library, engine, root, progress=None, cancelled=None, workers: int = WORKERS) -> ScanSummary:
    """Bring the library up to date with the folder. progress(done, total, path) after each analysed photo;
    cancelled: an Event-like object checked between photos."""
    started = time.perf_counter()
    root = Path(os.path.abspath(root))
    if not root.is_dir():
        raise FaceIdError(f"{root} is not a folder")
    summary = ScanSummary()
    known = library.known_photos(root)
    fingerprint = library.model_fingerprint
    todo, seen = [], set()
    for path, size, mtime in image_files(root):
        seen.add(path)
        old = known.get(path)
        if old and old[1] == size and old[2] == mtime and old[4] == fingerprint:
            summary.unchanged += 1
        else:
            todo.append((path, size, mtime))
    summary.found = len(seen)
    vanished = {path: row for path, row in known.items() if path not in seen}
    todo = _apply_moves(library, todo, vanished, summary)
    total, batch = len(todo), []
    with ThreadPoolExecutor(max(1, workers)) as pool:
        # A short queue of submitted photos, not all of them: a cancel then waits for a few photos, not thousands.
        pending = deque(pool.submit(_analyse, engine, *item) for item in todo[:QUEUED * workers])
        upcoming = iter(todo[QUEUED * workers:])
        try:
            done = 0
            while pending:
                result = pending.popleft().result()
                nxt = next(upcoming, None)
                if nxt is not None:
                    pending.append(pool.submit(_analyse, engine, *nxt))
                batch.append(result)
                if len(batch) >= WRITE_BATCH:
                    _write(library, batch, summary)
                    batch = []
                done += 1
                if progress:
                    progress(done, total, result[0])
                if cancelled is not None and cancelled.is_set():
                    summary.cancelled = True
                    break
        finally:
            for future in pending:
                future.cancel()
            _write(library, batch, summary)
    summary.seconds = time.perf_counter() - started
    return summary


def _apply_moves(library: Library, todo, vanished, summary: ScanSummary):
    """A new path whose content hash is a vanished photo's is that photo moved: keep its faces (and their names);
    vanished photos nobody moved to are deleted. Returns what is left to analyse."""
    by_hash = {row[3]: path for path, row in vanished.items()}
    left, moves = [], []
    for path, size, mtime in todo:
        old = None
        if by_hash:
            try:
                old = by_hash.pop(quick_hash(path, size), None)
            except OSError:
                old = None
        if old is not None and vanished[old][4] == library.model_fingerprint:
            moves.append((path, size, mtime, vanished.pop(old)[0]))
        else:
            left.append((path, size, mtime))
    with library.transaction() as db:
        db.executemany("UPDATE photos SET path = ?, size = ?, mtime = ? WHERE id = ?", moves)
        db.executemany("DELETE FROM photos WHERE id = ?", [(row[0],) for row in vanished.values()])
    summary.moved, summary.deleted = len(moves), len(vanished)
    return left


def _analyse(engine, path: str, size: int, mtime: float):
    """(path, size, mtime, hash, faces, groupable flags, error) for one photo; a bad file is an error, not a stop."""
    try:
        digest = quick_hash(path, size)
        faces = engine.analyze_path(path).faces
        return path, size, mtime, digest, faces, groupable([f.face for f in faces]), None
    except (FaceIdError, OSError) as exc:
        return path, size, mtime, "", [], [], str(exc) or type(exc).__name__
    except Exception as exc:  # noqa: BLE001 - one odd file must not end a scan of thousands
        return path, size, mtime, "", [], [], f"{type(exc).__name__}: {exc}"


def _write(library: Library, batch, summary: ScanSummary) -> None:
    """Store analysed photos; a re-analysed photo's faces keep the names and ignores of the faces they overlap."""
    if not batch:
        return
    with library.transaction() as db:
        for path, size, mtime, digest, faces, fit, error in batch:
            old = db.execute("SELECT id FROM photos WHERE path = ?", (path,)).fetchone()
            kept = []
            if old:
                kept = db.execute("SELECT box, person, ignored, kept_out, not_person FROM faces WHERE photo_id = ?",
                                  old).fetchall()
                db.execute("DELETE FROM photos WHERE id = ?", old)
            photo_id = db.execute("INSERT INTO photos(path, size, mtime, quick_hash, model_fingerprint, error) "
                                  "VALUES (?, ?, ?, ?, ?, ?)",
                                  (path, size, mtime, digest, library.model_fingerprint, error)).lastrowid
            for face, ok in zip(faces, fit):
                box = np.asarray(face.face.box, np.float32)
                state = next((k[1:] for k in kept if box_iou(box, np.frombuffer(k[0], np.float32)) >= 0.5),
                             (None, 0, 0, None))
                db.execute("INSERT INTO faces(photo_id, box, score, landmarks, embedding, groupable, person, ignored, "
                           "kept_out, not_person) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                           (photo_id, box.tobytes(), float(face.face.score),
                            np.asarray(face.face.landmarks, np.float32).tobytes(),
                            np.asarray(face.embedding, np.float32).tobytes(), int(ok), *state))
            summary.analysed += 1
            summary.faces += len(faces)
            if error:
                summary.failed.append((path, error))
