"""Open-set 1:N with numpy alone: the threshold keeps strangers' FPIR at the target as the gallery grows, and the
answer for a face does not depend on how many candidates are listed."""
import numpy as np
import pytest

from faceid_gui.engine import (AMBIGUOUS, GalleryIndex, ModelFile, check_fpir, gallery_rule, identify_all,
                               model_metadata, open_set_report, open_set_rule, rule_in_words)
from faceid_gui.engine.matching import distances
from faceid_gui.engine.open_set import pair_far_allowed


def _people(rng, n_people, photos=5, spread=0.55, dim=16):
    centres = rng.normal(size=(n_people, dim))
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    embeddings = np.repeat(centres, photos, 0) + rng.normal(scale=spread / np.sqrt(dim), size=(n_people * photos, dim))
    return embeddings.astype(np.float32), np.repeat(np.arange(n_people), photos)


def _rate_curve(embeddings, labels):
    """FAR and FRR at each distance, as the trainer measures them on validation people."""
    d = np.stack([distances(e, embeddings) for e in embeddings])
    upper = np.triu_indices(len(labels), 1)
    same = (labels[:, None] == labels[None, :])[upper]
    d = d[upper]
    grid = np.linspace(0, 2, 201)
    return [(t, float(np.mean(d[~same] < t)), float(np.mean(d[same] >= t))) for t in grid]


def test_the_pair_rate_allowed_shrinks_as_the_gallery_grows():
    assert pair_far_allowed(1, 0.01) == pytest.approx(0.01)
    assert pair_far_allowed(100, 0.01) == pytest.approx(1 - 0.99 ** 0.01)
    assert 1 - (1 - pair_far_allowed(300, 0.01)) ** 300 == pytest.approx(0.01)
    with pytest.raises(ValueError):
        check_fpir(0)
    with pytest.raises(ValueError):
        check_fpir(float("nan"))


def test_threshold_is_calibrated_on_the_curve_and_capped_by_the_users():
    curve = [(0.0, 0.0, 1.0), (0.5, 0.01, 0.5), (1.0, 0.1, 0.1), (1.5, 1.0, 0.0)]
    one = open_set_rule(curve, 1, 0.01)
    assert one.threshold == pytest.approx(0.5, abs=1e-3) and one.fpir_bound == pytest.approx(0.01, abs=1e-4)
    many = open_set_rule(curve, 100, 0.01)
    assert many.threshold < one.threshold and many.fpir_bound <= 0.01 + 1e-6 and many.fnir > one.fnir
    capped = open_set_rule(curve, 1, 0.01, ceiling=0.3)
    assert capped.threshold == 0.3 and capped.capped and "your threshold" in rule_in_words(capped)
    assert "100 people enrolled" in rule_in_words(many) and "1 in 100" in rule_in_words(many)
    assert open_set_rule((), 5, 0.01, ceiling=0.4).threshold == 0.4  # no curve: the user's threshold as it is


def test_fnir_is_estimated_for_as_many_photos_as_the_people_enrolled_with():
    curve = [(0.0, 0.0, 1.0), (0.5, 0.01, 0.5), (1.0, 0.1, 0.1), (1.5, 1.0, 0.0)]
    mean_face = {2: (1.0, 0.3, 0.05, 0.0), 3: (1.0, 0.2, 0.02, 0.0)}
    one = open_set_rule(curve, 12, 0.01, photos_each=1, mean_face_frr=mean_face)
    three = open_set_rule(curve, 12, 0.01, photos_each=3, mean_face_frr=mean_face)
    four = open_set_rule(curve, 12, 0.01, photos_each=4, mean_face_frr=mean_face)
    assert three.threshold == one.threshold  # the threshold counts faces; only the estimate changes
    assert one.fnir_photos == 1 and three.fnir_photos == four.fnir_photos == 3
    assert one.fnir > three.fnir == four.fnir
    assert "enrolled with 3 photos" in rule_in_words(four) and "enrolled with one photo" in rule_in_words(one)
    assert open_set_rule(curve, 12, 0.01, photos_each=3).fnir == one.fnir  # an older model: one photo's FRR


def test_the_gallery_rule_estimates_fnir_for_the_typical_number_of_photos_a_person():
    model = ModelFile.from_metadata(model_metadata(
        embedding_size=4, input_size=32, mean=(0.5,) * 3, std=(0.5,) * 3, threshold=1.0, margin=None,
        architecture="toy", trained_on="toy", rate_curve=[(0.0, 0.0, 1.0), (1.0, 0.01, 0.5), (2.0, 1.0, 0.0)],
        mean_face_frr={"2": [1.0, 0.3, 0.0], "3": [1.0, 0.2, 0.0]}))
    people = np.array([1, 1, 1, 2, 2, 2, 3])  # two people with 3 photos, one with 1: typically 3
    index = GalleryIndex(np.eye(4, dtype=np.float32)[people % 4], people, {1: "a", 2: "b", 3: "c"})
    assert gallery_rule(model, index).fnir_photos == 3


def test_strangers_stay_at_the_target_fpir_at_every_gallery_size():
    rng = np.random.default_rng(1)
    curve = _rate_curve(*_people(rng, 200, photos=4))  # "validation people"
    embeddings, labels = _people(rng, 420)  # other people: enrolled and strangers
    rows = open_set_report(embeddings, labels, curve, sizes=(10, 100, 300), target_fpir=0.05)
    assert [r["enrolled"] for r in rows] == [10, 100, 300]
    for row in rows:
        assert row["fpir"] <= 0.05 + 0.02, row  # a few hundred strangers: allow sampling noise
        assert row["fpir_bound"] <= 0.05 + 1e-6
    assert rows[0]["fnir"] <= rows[-1]["fnir"]  # the price of a bigger gallery
    fixed = open_set_report(embeddings, labels, curve, sizes=(300,), threshold=rows[0]["threshold"])
    assert fixed[0]["fpir"] > rows[-1]["fpir"]  # one pair threshold for any N: strangers get more chances


def test_the_answer_for_a_face_does_not_depend_on_how_many_candidates_are_listed():
    # A and B are taken by faces nearer to them; the third face's nearest free people are C and D, equally near.
    gallery = np.array([[0, 0], [1, 0], [0, 1], [0.05, 1.02], [5, 5]], np.float32)
    index = GalleryIndex(gallery, np.arange(5), dict(enumerate("ABCDE")))
    faces = np.array([[0, 0.02], [1, 0.02], [0.3, 0.35]], np.float32)
    answers = {k: [w.label for w in identify_all(index, faces, threshold=1.0, k=k)] for k in (1, 2, 3, 5)}
    assert all(a == answers[1] for a in answers.values()), answers
    third = identify_all(index, faces, threshold=1.0, k=1)[2]
    assert third.status == AMBIGUOUS and {m.name for m in third.rivals} == {"C", "D"}  # was "D" at k=1
    assert len(identify_all(index, faces[:1], threshold=1.0, k=4)[0].candidates) == 4  # k lists, never decides


def test_a_rate_few_stranger_pairs_vouch_for_is_taken_at_its_upper_bound():
    from faceid_gui.engine.open_set import SMALLEST_DISTANCE, far_upper_bound

    assert far_upper_bound(0.001, None) == 0.001  # no count: the rate as measured
    assert far_upper_bound(0.0, 10_000) == pytest.approx(2.7e-4, rel=0.01)  # none seen in 10,000: up to 1 in 3,700
    assert 0.01 < far_upper_bound(0.01, 10_000) < 0.012 and far_upper_bound(0.01, 10**9) == pytest.approx(0.01, rel=1e-3)
    curve = [(0.0, 0.0, 1.0), (0.5, 0.01, 0.5), (1.0, 0.1, 0.1), (1.5, 1.0, 0.0)]
    trusting, careful = open_set_rule(curve, 10, 0.05), open_set_rule(curve, 10, 0.05, stranger_pairs=10_000)
    assert careful.threshold < trusting.threshold and careful.fpir_bound <= 0.05 + 1e-6 and careful.vouched
    hopeless = open_set_rule(curve, 1000, 0.01, ceiling=0.8, stranger_pairs=10_000)
    assert not hopeless.vouched and hopeless.threshold == SMALLEST_DISTANCE
    assert "cannot vouch" in rule_in_words(hopeless) and "nobody is named" in rule_in_words(hopeless)
    index = GalleryIndex(np.zeros((1, 2), np.float32), np.array([1]), {1: "Ana"})
    assert identify_all(index, np.full((1, 2), 1e-4, np.float32), hopeless.threshold)[0].label == "unknown"
