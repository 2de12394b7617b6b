"""Galleries the size of a photo library: the 1:N index refreshed with only what changed, people listed without
their pictures, and a Gallery grid that reads the pictures of the rows it shows only (pytest-qt, offscreen)."""
import numpy as np
from faceid_gui.engine import Gallery, NewFace
from faceid_gui.engine import gallery_file

SIZE = 32


def _face(seed: int, model: str = "m", thumbnail: bytes | None = b"png") -> NewFace:
    e = np.random.default_rng(seed).normal(size=SIZE).astype(np.float32)
    return NewFace(e / np.linalg.norm(e), model, thumbnail, f"/photos/{seed}.jpg")


def _same_as_fresh(gallery: Gallery, path) -> None:
    """The refreshed index holds exactly what an index read from scratch holds."""
    index = gallery.index()
    with Gallery(path, "m", SIZE) as fresh:
        full = fresh.index()
    key = lambda ix: sorted(zip(ix.person_ids.tolist(), map(tuple, ix.embeddings.round(6).tolist())))  # noqa: E731
    assert key(index) == key(full) and index.names == full.names


def test_index_follows_other_writers_reading_only_the_changed_rows(tmp_path):
    path = tmp_path / "g.sqlite3"
    with Gallery(path, "m", SIZE) as gallery, Gallery(path, "m", SIZE) as other:
        for k in range(6):
            gallery.enroll(f"P{k}", [_face(10 * k), _face(10 * k + 1)])
        with Gallery(path, "old-model", SIZE) as old:  # a face from before a model change
            old.enroll("Old", [_face(99, "old-model")])
        assert len(gallery.index()) == 12 and gallery._index_cache.last_refresh == "full"
        other.enroll("New", [_face(7)])  # as `faceid enroll` while the window is open
        assert len(gallery.index()) == 13 and gallery._index_cache.last_refresh == "incremental"
        assert gallery.index().nearest(_face(7).embedding, k=1)[0].name == "New"
        other.forget_face(other.faces("P1")[0].id)
        other.merge("P2", "P3")
        other.rename("P4", "Four")
        assert len(gallery.index()) == 12 and gallery._index_cache.last_refresh == "incremental"
        assert gallery.index().nearest(_face(20).embedding, k=1)[0].name == "P3"
        _same_as_fresh(gallery, path)
        other.forget_person("P0")
        gallery.restore(other.forget_person("P5"))  # ids above every one seen, as a new enrolment's
        _same_as_fresh(gallery, path)
        other.replace_embedding(other.faces("Old")[0].id, _face(98).embedding)  # re-embedded elsewhere
        assert gallery.index().nearest(_face(98).embedding, k=1)[0].name == "Old"
        assert gallery._index_cache.last_refresh == "full"  # a face changed model: read everything
        _same_as_fresh(gallery, path)


def test_own_replaced_embedding_is_read_again(tmp_path):
    with Gallery(tmp_path / "g.sqlite3", "m", SIZE) as gallery:
        gallery.enroll("Ann", [_face(1)])
        gallery.index()
        gallery.replace_embedding(gallery.faces("Ann")[0].id, _face(2).embedding)
        assert gallery.index().nearest(_face(2).embedding, k=1)[0].distance < 0.01


def test_people_are_listed_without_pictures_which_are_read_by_id(tmp_path):
    with Gallery(tmp_path / "g.sqlite3", "m", SIZE) as gallery:
        gallery.enroll("Ann", [_face(1, thumbnail=b"first"), _face(2, thumbnail=b"second")])
        (ann,) = gallery.people()
        faces = gallery.faces("Ann", with_thumbnails=False)
        assert [f.thumbnail for f in faces] == [None, None] and ann.cover_face == faces[0].id
        assert gallery.thumbnails([f.id for f in faces] + [999]) == {faces[0].id: b"first", faces[1].id: b"second"}


def test_large_gallery_is_checked_by_its_reads(tmp_path, monkeypatch):
    """Above WHOLE_CHECK_BYTES opening checks the people table only (the faces: each read)."""
    path = tmp_path / "g.sqlite3"
    with Gallery(path, "m", SIZE) as gallery:
        for k in range(40):
            gallery.enroll(f"P{k}", [_face(k, thumbnail=bytes(3000))])
        gallery._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    monkeypatch.setattr(gallery_file, "WHOLE_CHECK_BYTES", 0)
    assert gallery_file.open_check(path) == "PRAGMA quick_check(people)"
    with Gallery(path, "m", SIZE) as gallery:
        assert len(gallery.index()) == 40


def test_grid_reads_pictures_of_the_rows_in_view_only(qtbot):
    from faceid_gui.app.face_grid import FaceGrid, GridRow

    reads = []

    def load(ids):
        reads.append(list(ids))
        return {i: None for i in ids}

    grid = FaceGrid(load, 80, "faces")
    qtbot.addWidget(grid)
    grid.resize(400, 300)
    grid.set_rows([GridRow(f"face {i}", "", i, i) for i in range(5000)], current=0)
    grid.show()
    qtbot.waitExposed(grid)
    qtbot.waitUntil(lambda: 0 in grid.grid_model.requested)
    assert len(grid.grid_model.requested) < 40  # a screenful of a 5,000-face grid
    grid.setCurrentRow(4999)  # scrolls to the end
    qtbot.waitUntil(lambda: 4999 in grid.grid_model.requested)
    assert len(grid.grid_model.requested) < 80 and all(len(batch) < 40 for batch in reads)
    assert grid.current_value() == 4999 and grid.count() == 5000


def test_gallery_tab_reads_the_pictures_it_shows(qtbot, tmp_path, engine):
    from faceid_gui.app.gallery_tab import GalleryTab
    from faceid_gui.app.state import AppState

    state = AppState(engine, tmp_path / "g.sqlite3")
    size, fingerprint = engine.info.embedding_size, engine.info.fingerprint
    for k in range(300):
        e = np.random.default_rng(k).normal(size=size).astype(np.float32)
        state.gallery.enroll(f"P{k:03d}", [NewFace(e / np.linalg.norm(e), fingerprint, None, f"{k}.jpg")] * 2)
    tab = GalleryTab(state)
    qtbot.addWidget(tab)
    tab.resize(800, 600)
    tab.show()
    qtbot.waitUntil(lambda: bool(tab.people.grid_model.requested) and bool(tab.faces.grid_model.requested))
    assert tab.people.count() == 300 and tab.faces.count() == 2 and tab.selected_name() == "P000"
    assert len(tab.people.grid_model.requested) < 100  # of 300 people, the ones on screen
    assert "2 photos" in tab.people.row_text(0)


def test_gallery_from_before_the_model_index_gets_it_when_opened(tmp_path):
    path = tmp_path / "g.sqlite3"
    with Gallery(path, "m", SIZE) as gallery:
        gallery.enroll("Ann", [_face(1)])
        gallery._db.execute("DROP INDEX faces_model")
    with Gallery(path, "m", SIZE) as gallery:
        assert gallery._db.execute("SELECT 1 FROM sqlite_master WHERE name = 'faces_model'").fetchone()
        assert gallery.stale_count() == 0 and [p.faces for p in gallery.people()] == [1]
        gallery.enroll("Ann", [_face(2)])
        assert [p.faces for p in gallery.people()] == [2]  # listings are read again after a write
