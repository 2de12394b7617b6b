"""The photo library and folder scan (a real engine, real SQLite, real image files), and grouping with numpy data."""
import os
import shutil
import threading

import numpy as np
import pytest

from faceid_gui.engine import GalleryError, GalleryIndex, ModelFile, model_metadata
from faceid_gui.engine.detector import Face
from faceid_gui.engine.grouping import (STRANGER_LINKS_PER_FACE, GroupingParams, group_embeddings, grouping_params,
                                        groups_to_review, suggestions)
from faceid_gui.engine.library import Library, library_path
from faceid_gui.engine.scan import groupable, scan_folder

from .conftest import group_photo, sample


@pytest.fixture()
def photos(tmp_path):
    folder = tmp_path / "photos"
    (folder / "trip" / "day 2").mkdir(parents=True)
    shutil.copy(sample("astronaut.jpg"), folder / "astronaut.jpg")
    shutil.copy(sample("camera.jpg"), folder / "trip" / "camera.JPG")
    group_photo(folder / "trip" / "day 2")
    (folder / "notes.txt").write_text("not a photo")
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    return folder


@pytest.fixture()
def library(tmp_path, engine):
    with Library(library_path(tmp_path / "gallery.sqlite3"), engine.info.fingerprint) as lib:
        yield lib


def test_a_rescan_skips_unchanged_photos_and_notices_moved_and_deleted_ones(photos, library, engine):
    first = scan_folder(library, engine, photos)
    assert (first.found, first.analysed, first.unchanged) == (4, 4, 0)
    assert [os.path.basename(p) for p, _ in first.failed] == ["broken.png"]  # said, and the scan went on
    assert first.faces == 4 and len(library.faces()) == 4
    again = scan_folder(library, engine, photos)
    assert (again.analysed, again.unchanged, again.moved, again.deleted) == (0, 4, 0, 0)
    face = library.faces("p.path LIKE '%astronaut.jpg'")[0]
    library.change([face.id], "name", person="Eileen")
    (photos / "astronaut.jpg").rename(photos / "trip" / "moved.jpg")
    (photos / "trip" / "camera.JPG").unlink()
    moved = scan_folder(library, engine, photos)
    assert (moved.analysed, moved.moved, moved.deleted) == (0, 1, 1)
    kept = library.faces("p.path LIKE '%moved.jpg'")
    assert [f.person for f in kept] == ["Eileen"] and kept[0].id == face.id  # the same row, name and all
    shutil.copy(sample("camera.jpg"), photos / "trip" / "moved.jpg")  # new content under a known path
    changed = scan_folder(library, engine, photos)
    assert changed.analysed == 1 and changed.unchanged == 2


def test_a_new_model_rescans_and_keeps_the_names(photos, library, engine, tmp_path):
    scan_folder(library, engine, photos)
    face = library.faces("p.path LIKE '%astronaut.jpg'")[0]
    library.change([face.id], "name", person="Eileen", ignored=0)
    other = Library(library.path, "another-model")
    assert other.faces() == []  # faces of another model wait for a re-scan
    summary = scan_folder(other, engine, photos)
    assert summary.analysed == 4
    assert [f.person for f in other.faces("p.path LIKE '%astronaut.jpg'")] == ["Eileen"]
    other.close()


def test_a_cancelled_scan_keeps_what_it_did(photos, library, engine):
    stop = threading.Event()
    seen = []

    def progress(done, total, path):
        seen.append(done)
        stop.set()

    summary = scan_folder(library, engine, photos, progress=progress, cancelled=stop, workers=1)
    done = library.photo_count()
    assert summary.cancelled and seen == [1] and done == 1  # the photo analysed is kept
    assert scan_folder(library, engine, photos).analysed == 4 - done  # the rest, next time


def test_not_a_folder_and_not_a_library_are_clear_errors(tmp_path, engine, library):
    from faceid_gui.engine import FaceIdError

    with pytest.raises(FaceIdError, match="is not a folder"):
        scan_folder(library, engine, tmp_path / "missing")
    import sqlite3

    foreign = tmp_path / "other.sqlite3"
    with sqlite3.connect(foreign) as db:
        db.execute("CREATE TABLE t (x)")
    with pytest.raises(GalleryError, match="not a faceid photo library"):
        Library(foreign, engine.info.fingerprint)
    (tmp_path / "folder.sqlite3").mkdir()  # checked before SQLite opens it, and named as what it is
    with pytest.raises(GalleryError, match="is a folder, not a photo library file"):
        Library(tmp_path / "folder.sqlite3", engine.info.fingerprint)


def test_tiny_and_background_faces_are_kept_out_of_grouping():
    def face(side):
        return Face(np.array([0, 0, side, side], np.float32), 0.99, np.zeros((5, 2), np.float32))

    assert groupable([face(200), face(120), face(60), face(30)]) == [True, True, False, False]
    assert groupable([face(30)]) == [False]  # a tiny main face too
    assert groupable([]) == []


def test_undo_puts_back_what_a_review_action_changed(photos, library, engine):
    scan_folder(library, engine, photos)
    ids = [f.id for f in library.faces()]
    library.set_clusters(ids, [0, 0, 1, -1])
    assert [len(g) for g in library.groups().values()] == [2, 1]
    undo = library.change(ids[:2], "ignore", ignored=1)
    assert [len(g) for g in library.groups().values()] == [1]
    library.undo(undo)
    assert [len(g) for g in library.groups().values()] == [2, 1]
    with pytest.raises(ValueError):
        library.change(ids, "bad", path="/etc/passwd")


def test_synthetic_people_are_grouped_and_strangers_left_out():
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(30, 16)) * 3
    faces = np.repeat(centres, 8, 0) + rng.normal(scale=0.05, size=(240, 16))
    loners = rng.normal(size=(20, 16)) * 3
    labels = group_embeddings(np.vstack([faces, loners]).astype(np.float32), GroupingParams(0.6, 2))
    assert len(set(labels[:240])) == 30 and (labels[240:] == -1).all()
    truth = np.repeat(np.arange(30), 8)
    assert all(len(set(labels[:240][truth == k])) == 1 for k in range(30))  # each person one group
    counts = np.bincount(labels[labels >= 0])
    assert (np.diff(counts) <= 0).all()  # numbered largest first


def test_the_link_distance_comes_from_the_curve_and_tightens_as_the_library_grows():
    curve = [(0.0, 0.0, 1.0), (0.2, 0.0001, 0.8), (0.4, 0.01, 0.4), (0.6, 0.1, 0.1), (1.0, 1.0, 0.0)]
    model = ModelFile.from_metadata(model_metadata(embedding_size=16, input_size=64, mean=[0.5] * 3, std=[0.5] * 3,
                                                   threshold=0.4, margin=1.0, architecture="toy", trained_on="toy",
                                                   rate_curve=curve))
    small, large = grouping_params(model, 100), grouping_params(model, 10_001)
    assert small.link_distance == pytest.approx(model.uncertain_band(0.4).same_below)  # never beyond "same"
    assert large.link_distance < small.link_distance
    stranger_links = 10_000 * model.rates_at(large.link_distance).far
    assert stranger_links == pytest.approx(STRANGER_LINKS_PER_FACE, abs=0.01)  # one stranger a group of eight faces


def test_faces_like_an_enrolled_person_are_suggested(photos, library, engine):
    scan_folder(library, engine, photos)
    astronaut = library.faces("p.path LIKE '%astronaut.jpg'")[0]
    index = GalleryIndex(astronaut.embedding[None], np.array([1]), {1: "Eileen"})
    same_edge = engine.info.uncertain_band(engine.info.threshold).same_below  # where Compare says "same"
    found = suggestions(library, index, threshold=same_edge)
    assert astronaut.id in found["Eileen"]  # its own photo, and the astronaut's face in the group photo
    assert len(found["Eileen"]) == 2


def test_a_face_offered_under_an_enrolled_name_is_not_also_shown_in_its_group():
    from types import SimpleNamespace

    faces = {i: SimpleNamespace(id=i) for i in range(1, 8)}
    groups = {0: [faces[1], faces[2], faces[3]], 1: [faces[4], faces[5]], 2: [faces[6], faces[7]]}
    review = groups_to_review(groups, {"Eileen": [1, 2, 4]})
    assert {k: [f.id for f in v] for k, v in review.items()} == {2: [6, 7]}  # one face left is no group
    assert groups_to_review(groups, {}) == groups
