"""The rules the CLI and the window share (issue 21): the verdict object, the threshold range, enrolment checks,
the face offered for a new name, the live vote at a cut, merge undo."""
import numpy as np
import pytest

from faceid_gui.engine import (DIFFERENT, SAME, UNCERTAIN, Gallery, GalleryIndex, ModelError, ModelFile, NameVote,
                               NewFace, enrolment_problems, judge, model_metadata, unenrolled_face)
from faceid_gui.engine.errors import GalleryError
from faceid_gui.engine.find import find_person

CURVE = [(t / 10, max(0.0, (t - 3) / 7), max(0.0, (8 - t) / 8)) for t in range(0, 13)]  # FAR rises, FRR falls
MODEL = ModelFile.from_metadata(model_metadata(embedding_size=2, input_size=64, mean=[0.5] * 3, std=[0.5] * 3,
                                               threshold=0.5, margin=1.0, architecture="t", trained_on="/home/me/x: y",
                                               rate_curve=CURVE))


def test_one_verdict_object_with_its_lean_and_meaning():
    band = MODEL.uncertain_band(0.5)
    low, high = band
    assert judge(MODEL, low / 2, 0.5).answer == SAME
    assert judge(MODEL, high + 0.01, 0.5).answer == DIFFERENT
    unsure = judge(MODEL, (low + 0.5) / 2, 0.5)
    assert unsure.answer == UNCERTAIN and unsure.lean == SAME and unsure.words == "uncertain (closer to same)"
    assert unsure.headline == "Uncertain: too close to call (closer to same)"
    record = unsure.to_dict()
    assert {"verdict", "lean", "meaning", "band", "rates"} <= set(record) and "same" not in record


def test_the_threshold_range_is_the_sliders():
    low, high = MODEL.useful_range()
    assert MODEL.valid_threshold(low) == low and MODEL.valid_threshold(high) == high
    for bad in (high + 0.1, 5.0, float("nan"), 0.0, -1.0):
        with pytest.raises(ModelError, match="must lie between"):
            MODEL.valid_threshold(bad)


def test_training_data_is_a_description_not_a_path():
    assert MODEL.training_data == "x: y"
    described = ModelFile(**{**MODEL.__dict__, "extra": {"description": "CelebA train split, 7,636 people"}})
    assert described.training_data == "CelebA train split, 7,636 people"


def _index(people: dict[str, list]) -> GalleryIndex:
    rows = [(pid, e) for pid, (_, faces) in enumerate(people.items()) for e in faces]
    return GalleryIndex(np.array([e for _, e in rows], np.float32), np.array([p for p, _ in rows]),
                        dict(enumerate(people)))


def test_a_photo_already_enrolled_or_given_twice_is_a_problem():
    index = _index({"Ana": [[0.0, 0.0]]})
    problems = enrolment_problems(index, "Ana", [[0.0, 0.0], [0.05, 0.0], [0.05, 0.0]], 0.5)
    assert problems == [(0, "is a photo already enrolled for Ana"),
                        (2, "is the same photo as another one being enrolled")]
    # with several faces enrolled the person is searched by their mean face, but a copy of any one face is found
    index = _index({"Ana": [[1.0, 0.0], [0.0, 1.0]]})
    assert enrolment_problems(index, "Ana", [[0.0, 1.0]], 0.5) == [(0, "is a photo already enrolled for Ana")]


def test_a_new_name_is_offered_the_face_that_is_nobody_yet():
    index = _index({"Kit": [[0.0, 0.0]]})
    assert unenrolled_face(index, [[0.01, 0.0], [3.0, 3.0]], 0.5) == 1  # the largest face is Kit: not the new one
    assert unenrolled_face(index, [[0.01, 0.0]], 0.5) is None


def test_a_person_enrolled_with_another_model_only_gives_no_likeliest_face():
    from faceid_gui.engine import likeliest_face

    index = GalleryIndex(np.array([[0.0, 0.0]], np.float32), np.array([0]), {0: "Kit", 1: "Rose"})
    assert likeliest_face(index, "Rose", [[0.0, 0.0], [1.0, 1.0]]) is None


def test_a_face_that_changed_under_its_box_earns_its_name_again():
    vote = NameVote(frames=2)
    box = [(0, 0, 10, 10)]
    for _ in range(3):
        shown = vote.update(box, ["Joe"], [np.zeros(2)], jump=0.7)
    assert shown == ["Joe"]
    assert vote.update(box, ["Joe"], [np.array([1.0, 0.0])], jump=0.7) == [None]  # a cut: the vote starts again
    assert vote.update(box, ["Kit"], [np.array([1.0, 0.0])], jump=0.7) == [None]


def test_a_merge_can_be_undone(tmp_path):
    with Gallery(tmp_path / "g.sqlite3", "m", 2) as gallery:
        gallery.enroll("Padme", [NewFace(np.zeros(2), "m", source="a.jpg")])
        gallery.enroll("Amidala", [NewFace(np.ones(2), "m", source="b.jpg")])
        merged = gallery.merge("Padme", "Amidala")
        assert [(p.name, p.faces) for p in gallery.people()] == [("Amidala", 2)]
        gallery.unmerge(merged)
        assert [(p.name, p.faces) for p in gallery.people()] == [("Amidala", 1), ("Padme", 1)]
        assert [f.source for f in gallery.faces("Padme")] == ["a.jpg"]


def test_find_refuses_a_person_with_no_face_of_the_model_in_use():
    index = GalleryIndex(np.array([[1.0, 0.0]], np.float32), np.array([1]), {1: "Ana", 2: "Bo"})  # Bo: another model
    assert find_person(None, index, "Ana", 0.5) == []
    with pytest.raises(GalleryError, match="no one called 'Bo'"):
        find_person(None, index, "Bo", 0.5)
