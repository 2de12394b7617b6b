"""The gallery's 1:N matrix kept in memory between reads and refreshed with only the rows that changed.

Reading 100,000 embeddings takes a third of a second (each face's row also holds its thumbnail, so the rows lie on
100,000 pages); what changed since the last read is found from the faces' ids and people alone, which SQLite reads
from its small person index: new faces have ids above the largest one seen, and a count and a checksum of
(id, person) say whether any face was removed or moved to another person (merge, undo).
"""
from __future__ import annotations

import itertools
import sqlite3

import numpy as np

from .matching import GalleryIndex

_SIGNATURE = "SELECT COUNT(*), COALESCE(SUM(id * person_id), 0) FROM faces"
_CURRENT = "SELECT COUNT(*) FROM faces WHERE model_fingerprint = ?"
_ROWS = "SELECT id, person_id, embedding, model_fingerprint FROM faces"


class IndexCache:
    """What the last GalleryIndex was built from: every face's (id, person), and the usable embeddings of the
    model in use with their face ids. `refresh` returns a new GalleryIndex, so one already handed out (to a
    worker thread) never changes under its reader."""

    def __init__(self, fingerprint: str, embedding_size: int | None):
        self.fingerprint = fingerprint
        self.embedding_size = embedding_size
        self.clear()

    def clear(self) -> None:
        """Forget everything: the next refresh reads every row (after a write that changed embeddings in place)."""
        self.built = False
        self.all_ids = self.all_people = np.empty(0, np.int64)  # every face, any model
        self.face_ids = self.person_ids = np.empty(0, np.int64)  # the rows of `embeddings`
        self.embeddings = np.empty((0, self.embedding_size or 0), np.float32)
        self.current_rows = 0  # faces of this model, usable or not
        self.skipped_rows = 0  # of those, the ones that cannot be used (wrong length, not finite)
        self.last_refresh = "none"  # "full", "incremental" or "none": what the last refresh had to read

    def refresh(self, db: sqlite3.Connection) -> GalleryIndex:
        own = not db.in_transaction  # one snapshot: another faceid's write lands before all these reads or after
        if own:
            db.execute("BEGIN")
        try:
            return self._refresh(db)
        finally:
            if own:
                db.execute("COMMIT")

    def _refresh(self, db: sqlite3.Connection) -> GalleryIndex:
        count, checksum = db.execute(_SIGNATURE).fetchone()
        if not self.built:
            self._append(db.execute(_ROWS).fetchall())
            self.last_refresh = "full"
        else:
            seen_max = int(self.all_ids.max()) if len(self.all_ids) else 0
            self._append(db.execute(_ROWS + " WHERE id > ?", (seen_max,)).fetchall())
            changed = count != len(self.all_ids) or checksum != int(self.all_ids @ self.all_people)
            followed = not changed or self._follow_removals_and_moves(db)
            current = db.execute(_CURRENT, (self.fingerprint,)).fetchone()[0]
            if not followed or current != self.current_rows:  # a face changed model (re-embedded elsewhere)
                self.clear()
                return self._refresh(db)
            self.last_refresh = "incremental"
        self.built = True
        names = dict(db.execute("SELECT id, name FROM people").fetchall())
        return GalleryIndex(self.embeddings, self.person_ids, names)

    def _append(self, rows: list[tuple]) -> None:
        if not rows:
            return
        ids = np.fromiter((r[0] for r in rows), np.int64, len(rows))
        people = np.fromiter((r[1] for r in rows), np.int64, len(rows))
        self.all_ids, self.all_people = np.r_[self.all_ids, ids], np.r_[self.all_people, people]
        mine = [k for k, r in enumerate(rows) if r[3] == self.fingerprint]
        self.current_rows += len(mine)
        size = self.embedding_size or self._size_seen(rows, mine)
        usable = [k for k in mine if isinstance(rows[k][2], bytes) and size and len(rows[k][2]) == 4 * size]
        matrix = np.frombuffer(b"".join(rows[k][2] for k in usable), np.float32).reshape(len(usable), size or 0)
        finite = np.isfinite(matrix).all(axis=1)
        self.skipped_rows += len(mine) - int(finite.sum())
        usable = np.asarray(usable, np.int64)[finite]
        if len(usable):
            self.embeddings = np.concatenate([self.embeddings.reshape(-1, size), matrix[finite]])
            self.face_ids = np.r_[self.face_ids, ids[usable]]
            self.person_ids = np.r_[self.person_ids, people[usable]]

    def _size_seen(self, rows: list[tuple], mine: list[int]) -> int:
        """Without a model's stated size, the length of the first row of this model (or of those already read)."""
        if self.embeddings.shape[1]:
            return self.embeddings.shape[1]
        first = next((rows[k][2] for k in mine if isinstance(rows[k][2], bytes)), b"")
        return len(first) // 4

    def _follow_removals_and_moves(self, db: sqlite3.Connection) -> bool:
        """Faces removed or given to another person since the last look, from ids and people only (no embedding).
        False when the gallery holds a face never seen (an id below the largest seen): then read everything."""
        rows = db.execute("SELECT id, person_id FROM faces ORDER BY id").fetchall()
        pairs = np.fromiter(itertools.chain.from_iterable(rows), np.int64, 2 * len(rows)).reshape(-1, 2)
        ids, people = pairs[:, 0], pairs[:, 1]
        if not np.isin(ids, self.all_ids).all():
            return False
        self.all_ids, self.all_people = ids, people
        rows = np.minimum(np.searchsorted(ids, self.face_ids), max(len(ids) - 1, 0))
        present = ids[rows] == self.face_ids if len(ids) else np.zeros(len(self.face_ids), bool)
        self.current_rows -= len(self.face_ids) - int(present.sum())  # a removed unusable row: the count check
        self.face_ids, self.embeddings = self.face_ids[present], self.embeddings[present]
        self.person_ids = people[rows[present]]
        return True
