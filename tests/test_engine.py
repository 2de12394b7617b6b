import re

import cv2
import numpy as np
import pytest

from faceid_gui.engine import Embedder, FaceEngine, ModelError, NoFaceError, distance
from faceid_gui.engine.runtime import create_session
from faceid_gui.paths import assets_dir

from .conftest import sample


def test_detects_one_face_with_landmarks_on_the_eyes(engine, astronaut):
    faces = engine.detector.detect(astronaut)
    assert len(faces) == 1
    face = faces[0]
    x, y, w, h = face.xywh
    assert face.score > 0.9 and 60 < w < 140
    left_eye, right_eye, nose, mouth_l, mouth_r = face.landmarks
    assert left_eye[0] < nose[0] < right_eye[0]  # image-left eye first
    assert max(left_eye[1], right_eye[1]) < nose[1] < min(mouth_l[1], mouth_r[1])
    assert x < left_eye[0] < x + w / 2 and y < left_eye[1] < y + h / 2


@pytest.mark.parametrize("factor", [0.35, 7.8])  # a ~180 px thumbnail and a 4000 px photo
def test_detection_from_thumbnail_to_4000px(engine, astronaut, factor):
    scaled = cv2.resize(astronaut, None, fx=factor, fy=factor, interpolation=cv2.INTER_AREA if factor < 1 else cv2.INTER_LINEAR)
    faces = engine.detector.detect(scaled)
    assert len(faces) == 1
    base = engine.detector.detect(astronaut)[0]
    assert np.allclose(faces[0].landmarks / factor, base.landmarks, atol=6)


def test_several_faces_largest_first(engine, astronaut, cameraman):
    small = cv2.resize(cameraman, (256, 256))
    canvas = np.full((512, 800, 3), 90, np.uint8)
    canvas[:, :512] = astronaut
    canvas[128:384, 530:786] = small
    results = engine.analyze(canvas)
    assert len(results) == 2
    assert results[0].face.area > results[1].face.area
    assert results[0].face.box[0] < 512 <= results[1].face.box[0]


def test_no_face(engine, tmp_path):
    noise = np.random.default_rng(0).integers(0, 255, (300, 400, 3), dtype=np.uint8)
    path = tmp_path / "noise.png"
    cv2.imwrite(str(path), noise)
    with pytest.raises(NoFaceError, match="no face"):
        engine.analyze_file(path)


def test_batch_embedding_matches_single(engine, astronaut, cameraman):
    crops = np.stack([engine.analyze(img)[0].crop for img in (astronaut, cameraman)])
    batch = engine.embedder.embed(crops)
    single = np.stack([engine.embedder.embed(c[None])[0] for c in crops])
    assert batch.shape == (2, engine.info.embedding_size)
    assert np.allclose(batch, single, atol=1e-5)


def test_same_photo_closer_than_other_person_under_light_and_scale(engine, astronaut, cameraman):
    ref = engine.analyze(astronaut)[0].embedding
    brighter = np.clip(astronaut.astype(int) + 40, 0, 255).astype(np.uint8)
    smaller = cv2.resize(astronaut, None, fx=0.6, fy=0.6, interpolation=cv2.INTER_AREA)
    d_bright = distance(ref, engine.analyze(brighter)[0].embedding)
    d_small = distance(ref, engine.analyze(smaller)[0].embedding)
    d_other = distance(ref, engine.analyze(cameraman)[0].embedding)
    assert d_bright < d_other and d_small < d_other


def test_model_metadata_read_from_the_file(engine):
    info = engine.info
    assert info.embedding_size == engine.embedder.session.get_outputs()[0].shape[-1]
    assert info.input_size == engine.embedder.session.get_inputs()[0].shape[2]
    assert 0 < info.threshold and len(info.mean) == 3 and len(info.sha256) == 64


def test_broken_model_files_are_refused(tmp_path):
    garbage = tmp_path / "garbage.onnx"
    garbage.write_bytes(b"this is not a model" * 10)
    with pytest.raises(ModelError, match="not a valid ONNX model"):
        Embedder(garbage)
    truncated = tmp_path / "truncated.onnx"
    truncated.write_bytes((assets_dir() / "faceid_embedder.onnx").read_bytes()[:5000])
    with pytest.raises(ModelError):
        Embedder(truncated)
    with pytest.raises(ModelError, match="not found"):
        Embedder(tmp_path / "missing.onnx")
    # A valid ONNX model that is not an embedding model (no faceid metadata): the detector's O-Net.
    with pytest.raises(ModelError, match="not a faceid embedding model"):
        Embedder(assets_dir() / "mtcnn_onet.onnx")


def test_provider_falls_back_to_cpu_quietly(capfd, monkeypatch):
    """Without a usable GPU, auto gives CPU, a reason, and nothing on stderr; CUDA asked for explicitly is an error."""
    import onnxruntime as ort

    monkeypatch.delenv("FACEID_PROVIDER", raising=False)
    session, status = create_session(assets_dir() / "faceid_embedder.onnx", prefer="auto")
    if status.name == "CUDA":
        pytest.skip("a working CUDA GPU is present")
    assert session.get_providers() == ["CPUExecutionProvider"]
    assert status.reason
    captured = capfd.readouterr()
    assert captured.err == ""
    with pytest.raises(ModelError, match="cannot be used: " + re.escape(status.reason)):
        create_session(assets_dir() / "faceid_embedder.onnx", prefer="cuda")
    session, status = create_session(assets_dir() / "faceid_embedder.onnx", prefer="cpu")
    assert status.name == "CPU" and status.reason == "CPU requested"
    assert "CPUExecutionProvider" in ort.get_available_providers()


def test_engine_end_to_end_on_file(engine):
    result = engine.analyze_file(sample("astronaut.jpg"))
    assert result.chosen.crop.shape == (engine.input_size, engine.input_size, 3)
    assert np.isfinite(result.chosen.embedding).all()


def test_engine_uses_installed_model_then_shipped(private_data_dir):
    from faceid_gui.paths import default_model_path, installed_model_path

    assert default_model_path() == assets_dir() / "faceid_embedder.onnx"
    installed_model_path().parent.mkdir(parents=True)
    installed_model_path().write_bytes((assets_dir() / "faceid_embedder.onnx").read_bytes())
    assert default_model_path() == installed_model_path()
    assert FaceEngine().info.path == installed_model_path()


def test_photos_are_searched_from_the_minimum_and_smaller_only_when_no_face_was_found(astronaut):
    from faceid_gui.engine import PHOTO_MIN_FACE, PHOTO_SMALLEST_FACE, FaceDetector

    assert PHOTO_SMALLEST_FACE < PHOTO_MIN_FACE
    detector = FaceDetector(assets_dir(), prefer="cpu", min_face_size=400, smallest_face_size=20)
    assert detector.detect(astronaut, 400) == []  # the face (~110 px) is below the first pass's minimum
    calls = []
    search = detector._detect
    detector._detect = lambda rgb, min_face, *args, **kw: calls.append(min_face) or search(rgb, min_face, *args, **kw)
    assert len(detector.detect(astronaut)) == 1 and calls == [400, 20]
    calls.clear()
    detector.min_face_size = 40
    assert len(detector.detect(astronaut)) == 1 and calls == [40]  # found at once: no second search


@pytest.mark.parametrize("size", [(150, 100), (107, 71), (20, 13), (333, 500)])
def test_pyramid_shrink_is_area_averaging_through_halvings(size):
    from faceid_gui.engine.mtcnn_ops import shrink

    rng = np.random.default_rng(0)
    image = cv2.GaussianBlur(rng.integers(0, 256, (500, 333, 3), dtype=np.uint8), (0, 0), 2)  # odd width on purpose
    image = np.ascontiguousarray(image.transpose(1, 0, 2)) if size == (333, 500) else image
    shrunk = shrink(image, size)
    direct = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    assert shrunk.shape == direct.shape and shrunk.dtype == np.uint8
    assert np.abs(shrunk.astype(int) - direct).mean() < 2.0  # the same picture to within rounding and an edge pixel


def test_sampled_patches_match_area_averaged_crops(astronaut):
    from faceid_gui.engine.mtcnn_ops import crop_patches, sample_patches

    boxes = np.array([[100, 80, 339, 319, 1], [150.4, 120.7, 212.9, 183.2, 1], [30, 40, 50, 60, 1],
                      [-40, -40, 59, 59, 1], [5, 5, 5.4, 5.4, 1]], np.float32)
    sampled, cropped = sample_patches(astronaut, boxes, 24), crop_patches(astronaut, boxes, 24)
    assert sampled.shape == cropped.shape == (5, 3, 24, 24) and sampled.dtype == np.float32
    for k in range(4):  # large (sampled from the image halved three times), fractional, small, half outside
        assert np.abs(sampled[k] - cropped[k]).mean() < 6.0, k
    assert not sampled[3][:, :8, :8].any()  # outside the image is black, as in the crops
    assert not sampled[4].any()  # a box under 2 px across gives an empty patch, as before


def test_mtcnn_networks_avoid_the_slow_prelu_kernel():
    # tools/convert_mtcnn.py writes PReLU as x + (slope - 1) * min(x, 0): ONNX Runtime's CPU PRelu took a third
    # of each network's time. A re-conversion that brings PRelu back would silently make detection 1.5x slower.
    import onnx

    for name in ("pnet", "rnet", "onet"):
        ops = {node.op_type for node in onnx.load(str(assets_dir() / f"mtcnn_{name}.onnx")).graph.node}
        assert "PRelu" not in ops and "Conv" in ops, name


def _greedy_nms(boxes, threshold, use_min):
    """The rule written out box by box: keep the best-scoring box left, drop those overlapping it beyond threshold."""
    order, keep = sorted(range(len(boxes)), key=lambda i: -boxes[i, 4]), []
    for i in order:
        def overlap(j):
            iw = max(0.0, min(boxes[i, 2], boxes[j, 2]) - max(boxes[i, 0], boxes[j, 0]) + 1)
            ih = max(0.0, min(boxes[i, 3], boxes[j, 3]) - max(boxes[i, 1], boxes[j, 1]) + 1)
            area = lambda k: (boxes[k, 2] - boxes[k, 0] + 1) * (boxes[k, 3] - boxes[k, 1] + 1)
            return iw * ih / (min(area(i), area(j)) if use_min else area(i) + area(j) - iw * ih)
        if all(overlap(j) <= threshold for j in keep):
            keep.append(i)
    return keep


@pytest.mark.parametrize("use_min", [False, True])
def test_nms_keeps_what_the_greedy_rule_keeps(use_min):
    from faceid_gui.engine.mtcnn_ops import nms

    rng = np.random.default_rng(3)
    corners = rng.uniform(0, 300, (400, 2))
    sides = rng.uniform(12, 80, (400, 1))
    boxes = np.hstack([corners, corners + sides, rng.uniform(0.6, 1.0, (400, 1))]).astype(np.float32)
    for threshold in (0.5, 0.7):
        assert nms(boxes, threshold, use_min).tolist() == _greedy_nms(boxes, threshold, use_min)
    assert nms(np.empty((0, 5), np.float32), 0.5, use_min).tolist() == []


def test_a_crowds_second_search_keeps_the_faces_the_first_found(engine, astronaut):
    from faceid_gui.engine.mtcnn_ops import box_iou, overlaps

    first = engine.detector._detect(astronaut, 40.0)
    again = engine.detector._detect(astronaut, 20.0, found=first)
    assert len(again) == len(first) == 1 and again[0] is first[0]  # kept, not found a second time
    boxes = np.array([[0, 0, 10, 10], [5, 5, 15, 15], [20, 20, 30, 40]], np.float32)
    assert np.allclose(overlaps(boxes, boxes[:2]), [[1, 25 / 175], [25 / 175, 1], [0, 0]])  # 25 px shared of 175
    assert box_iou(boxes[0], boxes[1]) == pytest.approx(25 / 175) and box_iou(boxes[0], boxes[0, :2].repeat(2)) == 0
