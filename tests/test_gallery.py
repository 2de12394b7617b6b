import os
import signal
import stat
import subprocess
import sys

import numpy as np
import pytest

from faceid_gui.engine import Gallery, GalleryError, GalleryIndex, NewFace


def _face(seed, dim=32, model="m"):
    return NewFace(np.random.default_rng(seed).normal(size=dim).astype(np.float32), model, b"jpegbytes", f"src{seed}")


def test_enroll_rename_forget(tmp_path):
    with Gallery(tmp_path / "g.sqlite3", "m") as g:
        g.enroll("Ada", [_face(1), _face(2)])
        g.enroll("ada", [_face(3)])  # same person, case-insensitive
        g.enroll("Bob", [_face(4)])
        people = {p.name: p for p in g.people()}
        assert people["Ada"].faces == 3 and people["Bob"].faces == 1
        g.rename("Ada", "Ada Lovelace")
        with pytest.raises(GalleryError, match="already called"):
            g.rename("Bob", "ada lovelace")
        faces = g.faces("Ada Lovelace")
        g.forget_face(faces[0].id)
        assert len(g.faces("Ada Lovelace")) == 2
        g.forget_person("Bob")
        assert [p.name for p in g.people()] == ["Ada Lovelace"]
        with pytest.raises(GalleryError, match="no one called"):
            g.forget_person("Bob")
        with pytest.raises(GalleryError):
            g.enroll("   ", [_face(5)])


def test_forgetting_last_photo_removes_person(tmp_path):
    with Gallery(tmp_path / "g.sqlite3", "m") as g:
        g.enroll("Solo", [_face(1)])
        g.forget_face(g.faces("Solo")[0].id)
        assert g.people() == []


def test_files_are_private(tmp_path):
    path = tmp_path / "private" / "g.sqlite3"
    with Gallery(path, "m") as g:
        g.enroll("A", [_face(1)])
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


def test_other_model_embeddings_need_reenrolment(tmp_path):
    path = tmp_path / "g.sqlite3"
    with Gallery(path, "old-model") as g:
        g.enroll("A", [_face(1, model="old-model"), _face(2, model="old-model")])
    with Gallery(path, "new-model") as g:
        assert g.stale_count() == 2
        assert g.people()[0].stale_faces == 2
        assert len(g.index()) == 0  # never compared with embeddings from another model
        g.enroll("A", [_face(3, model="new-model")])
        assert len(g.index()) == 1
        assert g.forget_stale("A") == 2 and g.stale_count() == 0


def test_faces_of_another_model_are_refused_whole(tmp_path):
    """The defect of issue 12: faces embedded by the old model were saved under the new model's fingerprint."""
    with Gallery(tmp_path / "g.sqlite3", "new-model", embedding_size=32) as g:
        with pytest.raises(GalleryError, match="another model"):
            g.enroll("A", [_face(1, model="new-model"), _face(2, model="old-model")])
        assert g.people() == [] and g.face_count() == 0


def test_index_finds_nearest_person_and_refreshes_after_writes(tmp_path):
    with Gallery(tmp_path / "g.sqlite3", "m") as g:
        a, b = _face(1), _face(2)
        g.enroll("A", [a])
        g.enroll("B", [b])
        query = a.embedding + 0.01
        matches = g.index().nearest(query, k=2)
        assert [m.name for m in matches] == ["A", "B"] and matches[0].distance < matches[1].distance
        g.forget_person("A")
        assert [m.name for m in g.index().nearest(query)] == ["B"]


def test_index_100k_nearest_is_exact():
    rng = np.random.default_rng(0)
    embs = rng.normal(size=(100_000, 32)).astype(np.float32)
    ids = rng.integers(0, 5000, 100_000)
    index = GalleryIndex(embs, ids, {i: f"p{i}" for i in range(5000)})
    query = embs[1234] + 0.001
    best = index.nearest(query, k=3)
    people = np.unique(ids)
    brute = []
    for person in people:  # the mean face, from its definition: the mean at the faces' mean length
        own = embs[ids == person].astype(np.float64)
        mean = own.mean(0)
        brute.append(np.linalg.norm(query - mean * np.linalg.norm(own, axis=1).mean() / np.linalg.norm(mean)))
    assert best[0].person_id == people[int(np.argmin(brute))]
    assert abs(best[0].distance - min(brute)) < 1e-3


def _unit(degrees: float) -> list[float]:
    return [float(np.cos(np.radians(degrees))), float(np.sin(np.radians(degrees)))]


def test_a_person_is_searched_by_their_mean_face():
    # Ana's two photos lie 40 degrees either side of the query, Bo's one photo 35 degrees off: Bo's photo is nearer
    # than either of Ana's, but Ana's mean face points at the query.
    index = GalleryIndex(np.array([_unit(40), _unit(-40), _unit(35)], np.float32), np.array([1, 1, 2]),
                         {1: "Ana", 2: "Bo"})
    best = index.nearest(np.array(_unit(0), np.float32), k=2)
    assert [m.name for m in best] == ["Ana", "Bo"]
    assert best[0].distance == pytest.approx(0.001, abs=1e-3)  # the mean face, back at unit length


WRITER = r"""
import sys, time, numpy as np
from faceid_gui.engine import Gallery, NewFace
g = Gallery(sys.argv[1], "m")
for i in range(5):
    g.enroll(f"person{i}", [NewFace(np.full(32, i, np.float32), "m", b"t", "s")])
# Start a big enrolment and get killed in the middle of it.
g._db.execute("BEGIN IMMEDIATE")
pid = g._db.execute("INSERT INTO people(name, created) VALUES ('half-written', 0)").lastrowid
for k in range(2000):
    g._db.execute("INSERT INTO faces(person_id, embedding, model_fingerprint, created) VALUES (?, ?, 'm', 0)",
                  (pid, np.zeros(32, np.float32).tobytes()))
print("in-transaction", flush=True)
time.sleep(60)
"""


def test_gallery_survives_a_writer_killed_mid_transaction(tmp_path):
    path = tmp_path / "g.sqlite3"
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(path)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "in-transaction"
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    with Gallery(path, "m") as g:
        names = [p.name for p in g.people()]
        assert names == [f"person{i}" for i in range(5)]
        assert g.face_count() == 5
        g.enroll("after-crash", [_face(9)])  # and it is still writable
        assert len(g.people()) == 6


def test_not_a_gallery_file(tmp_path):
    path = tmp_path / "g.sqlite3"
    path.write_bytes(b"garbage" * 1000)
    with pytest.raises(GalleryError, match="not a faceid gallery"):
        Gallery(path, "m")


def test_merge_moves_every_face_and_forgets_can_be_undone(tmp_path):
    with Gallery(tmp_path / "g.sqlite3", "m") as g:
        g.enroll("Padme", [_face(1), _face(2)])
        g.enroll("Padmé Amidala", [_face(3)])
        g.merge("Padme", "padmé amidala")
        assert [(p.name, p.faces) for p in g.people()] == [("Padmé Amidala", 3)]
        with pytest.raises(GalleryError, match="no one called"):
            g.merge("Padme", "Padmé Amidala")
        before = g.index().nearest(_face(2).embedding, k=1)[0]
        removed = g.forget_person("padmé amidala")
        assert removed.name == "Padmé Amidala" and removed.faces == 3 and g.people() == []
        g.restore(removed)
        assert [(p.name, p.faces) for p in g.people()] == [("Padmé Amidala", 3)]
        assert g.index().nearest(_face(2).embedding, k=1)[0].distance == pytest.approx(before.distance)
        only = g.forget_face(g.faces("Padmé Amidala")[0].id)
        assert only.faces == 1 and g.people()[0].faces == 2
        g.restore(only)
        assert g.people()[0].faces == 3
