"""The model-file contract and the engine's decisions, with numpy alone (no ONNX session, no Qt)."""
import json

import numpy as np
import pytest

from faceid_gui.engine import (CaptureGate, FaceIdError, GalleryIndex, ModelError, ModelFile, identify, model_metadata,
                               resolve_provider)
from faceid_gui.engine.model_file import DISTANCE_DEFINITION, DISTANCE_EPS, FORMAT_VERSION, METADATA_PREFIX
from faceid_gui.engine.pipeline import FaceResult, ImageResult

BASE = dict(embedding_size=32, input_size=64, mean=[0.5] * 3, std=[0.5] * 3, threshold=0.5, margin=1.0,
            architecture="densenet-small", trained_on="toy")
CURVE = [[0.2, 0.0, 0.8], [0.4, 0.1, 0.4], [0.6, 0.3, 0.1]]


def test_metadata_round_trip_keeps_every_field_and_unknown_keys():
    raw = model_metadata(**BASE, metrics={"validation": {"roc_auc": 0.83}}, rate_curve=CURVE,
                         extra={"date": "2026-01-01", "model_config": {"growth_rate": 16}})
    assert all(k.startswith(METADATA_PREFIX) for k in raw) and json.loads(raw["faceid.format_version"]) == FORMAT_VERSION
    model = ModelFile.from_metadata(raw)
    assert (model.embedding_size, model.input_size, model.threshold, model.margin) == (32, 64, 0.5, 1.0)
    assert model.mean == (0.5, 0.5, 0.5) and model.validation_auc == pytest.approx(0.83)
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
