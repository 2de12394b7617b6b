"""The model-file contract and the engine's decisions, with numpy alone (no ONNX session, no Qt)."""
import json

import numpy as np
import pytest

from faceid_gui.engine import (AMBIGUOUS, DIFFERENT, NAMED, SAME, UNCERTAIN, UNKNOWN, Band, Match, NameVote, Rates,
                               decide, enrolment_problems, explain, identify_all, likeliest_face, one_in, verdict)
from faceid_gui.engine import (CaptureGate, FaceIdError, GalleryIndex, ModelError, ModelFile, identify, model_metadata,
                               resolve_provider)
from faceid_gui.engine.detector import Face, drop_false_faces
from faceid_gui.engine.model_file import (BAND_ERROR_RATIO, DISTANCE_DEFINITION, DISTANCE_EPS, FORMAT_VERSION,
                                          METADATA_PREFIX)
from faceid_gui.engine.pipeline import FaceResult, ImageResult

BASE = dict(embedding_size=32, input_size=64, mean=[0.5] * 3, std=[0.5] * 3, threshold=0.5, margin=1.0,
            architecture="densenet-small", trained_on="toy")
CURVE = [[0.2, 0.0, 0.8], [0.4, 0.1, 0.4], [0.6, 0.3, 0.1]]


def test_metadata_round_trip_keeps_every_field_and_unknown_keys():
    raw = model_metadata(**BASE, metrics={"validation": {"roc_auc": 0.83}}, rate_curve=CURVE,
                         mean_face_frr={"3": [0.5, 0.2, 0.0]},
                         extra={"date": "2026-01-01", "model_config": {"growth_rate": 16}})
    assert all(k.startswith(METADATA_PREFIX) for k in raw) and json.loads(raw["faceid.format_version"]) == FORMAT_VERSION
    model = ModelFile.from_metadata(raw)
    assert (model.embedding_size, model.input_size, model.threshold, model.margin) == (32, 64, 0.5, 1.0)
    assert model.mean == (0.5, 0.5, 0.5) and model.validation_auc == pytest.approx(0.83)
    assert model.mean_face_frr == {3: (0.5, 0.2, 0.0)}
    assert model.extra == {"date": "2026-01-01", "model_config": {"growth_rate": 16}}
    assert ModelFile.from_metadata(model.to_metadata()) == model


def test_rates_interpolate_the_validation_curve():
    model = ModelFile.from_metadata(model_metadata(**BASE, rate_curve=CURVE))
    assert model.rates_at(0.5) == pytest.approx((0.2, 0.25))
    assert model.rates_at(0.1) == pytest.approx((0.0, 0.8))  # beyond the curve: its end values
    assert ModelFile.from_metadata(model_metadata(**BASE)).rates_at(0.5) is None
    assert ModelFile.from_metadata(model_metadata(**BASE)).validation_auc is None


@pytest.mark.parametrize("key,value,message", [
    ("format_version", "2", "newer than this faceid reads"),
    ("format_version", '"one"', "invalid faceid metadata"),
    ("threshold", "-1", "invalid faceid metadata"),
    ("std", "[0.5, 0, 0.5]", "invalid faceid metadata"),
    ("rate_curve", "[[0.5, 0.1, 0.2], [0.1, 0.0, 0.9]]", "invalid faceid metadata"),  # thresholds not ascending
    ("rate_curve", '"steep"', "invalid faceid metadata"),
    ("mean_face_frr", '{"3": [0.5, 0.2]}', "invalid faceid metadata"),  # not one FRR per row of the curve
    ("mean_face_frr", '{"1": [0.8, 0.4, 0.1]}', "invalid faceid metadata"),  # one photo is the curve's own FRR
    ("mean_face_frr", '{"3": [0.8, 1.4, 0.1]}', "invalid faceid metadata"),
    ("mean_face_frr", '[0.8, 0.4, 0.1]', "invalid faceid metadata"),
    ("distance", '"cosine"', "is not faceid's"),
])
def test_bad_values_are_refused_with_a_clear_error(key, value, message):
    raw = model_metadata(**BASE, rate_curve=CURVE)
    raw[METADATA_PREFIX + key] = value
    with pytest.raises(ModelError, match=message):
        ModelFile.from_metadata(raw)


def test_missing_keys_are_named():
    raw = model_metadata(**BASE)
    del raw["faceid.threshold"], raw["faceid.std"]
    with pytest.raises(ModelError, match="lacks std, threshold"):
        ModelFile.from_metadata(raw)


def test_a_file_without_format_version_reads_as_version_1():
    raw = model_metadata(**BASE)
    del raw["faceid.format_version"]
    assert ModelFile.from_metadata(raw).format_version == 1


def test_the_written_distance_definition_is_the_one_computed():
    assert float(DISTANCE_DEFINITION.rsplit("+", 1)[1].strip(" )")) == DISTANCE_EPS
    from faceid_gui.engine import distance

    assert distance(np.zeros(3), np.zeros(3)) == pytest.approx(np.sqrt(DISTANCE_EPS))


def _index():
    embeddings = np.array([[0, 0], [0.1, 0], [3, 0]], np.float32)
    return GalleryIndex(embeddings, np.array([1, 1, 2]), {1: "Ann", 2: "Bob"})


def test_identify_names_the_nearest_person_only_within_the_threshold():
    who = identify(_index(), np.array([0.05, 0], np.float32), threshold=0.5, k=2)
    assert who.best.name == "Ann" and [m.name for m in who.candidates] == ["Ann", "Bob"]
    assert who.is_match(who.candidates[0]) and not who.is_match(who.candidates[1])
    far = identify(_index(), np.array([1.5, 0], np.float32), threshold=0.5, k=2)
    assert far.best is None and far.candidates[0].name == "Ann"
    assert identify(GalleryIndex(np.empty((0, 2), np.float32), np.empty(0, np.int64), {}),
                    np.zeros(2, np.float32), 0.5).best is None
    with pytest.raises(FaceIdError):
        identify(_index(), np.zeros(2, np.float32), float("nan"))


def test_the_largest_face_of_a_photo_is_the_one_used():
    faces = [FaceResult(None, None, np.full(2, k, np.float32), "m") for k in range(3)]  # largest first
    assert ImageResult(None, faces).chosen is faces[0]
    assert ImageResult(None, faces).choice_note == "3 faces found, using the largest"
    assert ImageResult(None, faces[:1]).choice_note == ""


def _crop(brightness, sharp):
    rng = np.random.default_rng(0)
    texture = rng.integers(0, 80, (64, 64), dtype=np.uint8) if sharp else np.zeros((64, 64), np.uint8)
    grey = np.clip(texture.astype(int) + brightness, 0, 255).astype(np.uint8)
    return np.repeat(grey[..., None], 3, axis=2)


def test_capture_gate_keeps_one_sharp_bright_face_at_a_time():
    gate = CaptureGate()
    good = _crop(100, sharp=True)
    assert not gate.accept([], 10.0) and not gate.accept([good, good], 10.0)  # none, or someone else in view
    assert not gate.accept([_crop(100, sharp=False)], 10.0)  # blurred
    assert not gate.accept([_crop(0, sharp=True) // 4], 10.0)  # dark
    assert gate.accept([good], 10.0)
    assert not gate.accept([good], 10.0 + gate.min_interval_s / 2)  # too soon after the last one
    assert gate.accept([good], 10.0 + gate.min_interval_s)


def test_explicit_provider_beats_the_environment():
    assert resolve_provider("cpu", {"FACEID_PROVIDER": "cuda"}) == "cpu"
    assert resolve_provider(None, {"FACEID_PROVIDER": "CPU"}) == "cpu"
    assert resolve_provider(None, {}) == "auto"
    with pytest.raises(ModelError, match="unknown inference device"):
        resolve_provider(None, {"FACEID_PROVIDER": "tpu"})


# -- issue 13: three verdicts, the 1:N rule, unique names, live voting, false faces (numpy alone) ------------------

# A smooth curve: FAR rises from 0 at 0.1 to 1 at 1.1, FRR falls from 1 at 0.1 to 0 at 1.1 (linear).
LINEAR = [[d, min(max(d - 0.1, 0), 1), min(max(1.1 - d, 0), 1)] for d in np.round(np.arange(0, 1.25, 0.05), 2)]


def test_the_uncertain_band_is_where_errors_are_not_ten_times_rarer_than_at_the_threshold():
    model = ModelFile.from_metadata(model_metadata(**{**BASE, "threshold": 0.6}, rate_curve=LINEAR))
    band = model.uncertain_band(0.6)  # FAR(0.6) = FRR(0.6) = 0.5: the edges are where they fall to 0.05
    assert BAND_ERROR_RATIO == 10
    assert band.same_below == pytest.approx(0.15, abs=1e-3) and band.different_from == pytest.approx(1.05, abs=1e-3)
    assert verdict(0.1, 0.6, band) == SAME and verdict(0.59, 0.6, band) == UNCERTAIN
    assert verdict(0.61, 0.6, band) == UNCERTAIN and verdict(1.06, 0.6, band) == DIFFERENT
    stricter = model.uncertain_band(0.3)  # the band follows the threshold: FAR 0.2 -> 0.02, FRR 0.8 -> 0.08
    assert stricter.same_below == pytest.approx(0.12, abs=1e-3) and stricter.different_from == pytest.approx(1.02, abs=1e-3)
    assert stricter.same_below <= 0.3 <= stricter.different_from


def test_a_sharp_model_gets_a_narrow_band_and_no_curve_means_no_band():
    sharp = [[d, float(d >= 0.5) * min((d - 0.45) * 10, 1), float(d <= 0.5) * min((0.55 - d) * 10, 1)]
             for d in np.round(np.arange(0, 1.01, 0.01), 2)]
    band = ModelFile.from_metadata(model_metadata(**BASE, rate_curve=sharp)).uncertain_band(0.5)
    assert 0.4 < band.same_below <= 0.5 <= band.different_from < 0.6
    plain = ModelFile.from_metadata(model_metadata(**BASE))
    assert plain.uncertain_band(0.5) == Band(0.5, 0.5)
    assert verdict(0.49, 0.5, plain.uncertain_band(0.5)) == SAME and verdict(0.5, 0.5, Band(0.5, 0.5)) == DIFFERENT
    with pytest.raises(FaceIdError):
        verdict(float("nan"), 0.5, band)


def test_the_slider_range_is_where_the_rates_still_change():
    model = ModelFile.from_metadata(model_metadata(**{**BASE, "threshold": 0.6}, rate_curve=LINEAR))
    assert model.useful_range() == pytest.approx((0.1, 1.1), abs=1e-3)
    assert ModelFile.from_metadata(model_metadata(**BASE)).useful_range() == (0.0, 1.0)


def test_rates_in_words():
    assert one_in(0.01) == "1 in 100" and one_in(0.27) == "27 in 100" and one_in(0.002) == "1 in 500"
    assert one_in(0.0) == "no" and one_in(0.0001) == "fewer than 1 in 1,000"
    text = explain(Rates(0.01, 0.4), UNCERTAIN)
    assert "1 in 100 pairs of strangers came this close" in text and "40 in 100" in text and "AUC" not in text
    assert "strangers" in explain(Rates(0.01, 0.4), SAME) and "strangers" not in explain(Rates(0.01, 0.4), DIFFERENT)


def _m(pid, name, d):
    return Match(pid, name, d)


def test_a_name_needs_the_threshold_and_a_clear_lead_over_the_second_nearest():
    assert decide([_m(1, "Ana", 0.3), _m(2, "Padma", 0.45)], 0.5).status == NAMED  # 0.3 < 0.8 * 0.45
    close = decide([_m(1, "Ana", 0.4), _m(2, "Padma", 0.45)], 0.5)
    assert close.status == AMBIGUOUS and close.label == "Ana or Padma?" and close.best is None
    assert decide([_m(1, "Ana", 0.55), _m(2, "Padma", 0.9)], 0.5).label == "unknown"  # the default
    assert decide([_m(1, "Ana", 0.45)], 0.5).label == "Ana"  # nobody else enrolled
    assert decide([], 0.5).status == UNKNOWN


def test_two_faces_of_one_frame_never_get_the_same_name():
    index = GalleryIndex(np.array([[0, 0], [5, 0]], np.float32), np.array([1, 2]), {1: "Ana", 2: "Bob"})
    faces = np.array([[0.3, 0], [0.1, 0], [5.1, 0]], np.float32)  # two faces near Ana: the nearer one is Ana
    labels = [who.label for who in identify_all(index, faces, threshold=0.5)]
    assert labels == ["unknown", "Ana", "Bob"]
    assert [who.label for who in identify_all(index, faces[:1], threshold=0.5)] == ["Ana"]
    assert identify_all(GalleryIndex(np.empty((0, 2), np.float32), np.empty(0, np.int64), {}), faces, 0.5)[0].label == "unknown"


def test_a_live_name_shows_once_it_held_for_several_frames():
    vote = NameVote(frames=3)
    box, moved, elsewhere = [0, 0, 10, 10], [1, 0, 11, 10], [50, 50, 60, 60]
    assert vote.update([box], ["Ana"]) == [None]
    assert vote.update([moved], ["Ana"]) == [None]
    assert vote.update([box], ["Ana"]) == ["Ana"]
    assert vote.update([box], ["Bob"]) == ["Ana"]  # one odd frame does not flip the name
    assert vote.update([box, elsewhere], ["Ana", "Ana"]) == ["Ana", None]  # a new face starts its own count
    vote.reset()
    assert vote.update([box], ["Ana"]) == [None]


def test_small_unsure_detections_beside_the_main_face_are_dropped():
    def face(side, score):
        return Face(np.array([0, 0, side, side], np.float32), score, np.zeros((5, 2), np.float32))

    main, small_unsure, small_sure, big_unsure = face(100, 0.99), face(20, 0.9), face(20, 0.99), face(60, 0.9)
    assert drop_false_faces([main, small_unsure, small_sure, big_unsure]) == [main, small_sure, big_unsure]
    assert drop_false_faces([face(100, 0.5)])[0].score == 0.5  # the main face is never dropped
    assert drop_false_faces([]) == []


def test_enrolling_a_face_unlike_the_person_or_like_someone_else_is_flagged():
    index = GalleryIndex(np.array([[0, 0], [0.1, 0], [3, 0]], np.float32), np.array([1, 1, 2]), {1: "Padme", 2: "Rey"})
    band = Band(0.3, 1.0)
    faces = np.array([[0.05, 0], [1.5, 0], [2.9, 0]], np.float32)  # Padme, nobody, Rey
    assert enrolment_problems(index, "padme ", faces, 0.5, band) == [
        (1, "does not look like padme's other faces"), (2, "looks more like Rey, who is already enrolled")]
    # A new person: their new faces are checked against each other and against everyone enrolled.
    assert enrolment_problems(index, "Ana", faces[:1], 0.5, band) == [(0, "looks more like Padme, who is already enrolled")]
    apart = np.array([[10, 0], [10.1, 0], [20, 0]], np.float32)
    assert enrolment_problems(index, "Ana", apart, 0.5, band) == [(2, "does not look like Ana's other faces")]
    assert enrolment_problems(index, "Ana", apart[:2], 0.5, band) == []


def test_a_group_photo_offers_the_face_most_like_the_named_person():
    index = GalleryIndex(np.array([[0, 0], [0.1, 0], [3, 0]], np.float32), np.array([1, 1, 2]), {1: "Padme", 2: "Rey"})
    group = np.array([[2.9, 0], [0.2, 0], [5, 5]], np.float32)  # Rey, Padme, a stranger: largest first
    assert likeliest_face(index, " padme", group) == 1 and likeliest_face(index, "Rey", group) == 0
    assert likeliest_face(index, "Ana", group) is None  # not enrolled yet: the caller offers the largest
    assert likeliest_face(index, "Padme", group[:0]) is None
