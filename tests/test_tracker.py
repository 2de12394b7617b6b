"""FaceTracker on synthetic video made from the shipped samples: same faces as full detection, far fewer full runs."""
import numpy as np
import pytest

from faceid_gui.bench import moving_face_frames
from faceid_gui.engine import FaceTracker
from faceid_gui.engine.mtcnn_ops import box_iou


def _rgb(bgr):
    return np.ascontiguousarray(bgr[..., ::-1])


@pytest.fixture(scope="module")
def clip(engine, astronaut):
    face = engine.detector.detect(astronaut)[0]
    return [_rgb(f) for f in moving_face_frames(astronaut, face.box, 40)]


def test_refine_follows_a_face_and_rejects_background(engine, astronaut):
    face = engine.detector.detect(astronaut)[0]
    moved = face.box + np.array([6, -4, 6, -4], np.float32)  # last frame's box, the face has moved since
    empty = np.array([0, 400, 100, 500], np.float32)  # no face there
    refined, nothing = engine.detector.refine(astronaut, np.stack([moved, empty]))
    assert nothing is None
    assert box_iou(refined.box, face.box) > 0.8
    side = face.box[2] - face.box[0]
    assert np.abs(refined.landmarks - face.landmarks).max() < 0.08 * side
    assert engine.detector.refine(astronaut, np.empty((0, 4))) == []


def test_tracking_matches_full_detection_on_a_moving_face(engine, clip):
    tracker = FaceTracker(engine.detector, redetect_every=10)
    for rgb in clip:
        tracked = tracker.update(rgb)
        full = engine.detector.detect(rgb, 40)
        assert len(tracked) == len(full) == 1
        side = full[0].box[2] - full[0].box[0]
        assert box_iou(tracked[0].box, full[0].box) > 0.6
        assert np.abs(tracked[0].landmarks - full[0].landmarks).max() < 0.12 * side
    assert tracker.full_detections == 4  # frames 0, 10, 20, 30: never lost
    assert tracker.refinements == 36


def test_lost_face_triggers_full_detection_and_reset(engine, clip):
    tracker = FaceTracker(engine.detector, redetect_every=100)
    assert len(tracker.update(clip[0])) == 1
    blank = np.full_like(clip[0], 90)
    assert tracker.update(blank) == []  # O-Net rejects the old box, the full detector finds nothing
    assert tracker.full_detections == 2
    assert len(tracker.update(clip[1])) == 1 and tracker.full_detections == 3
    tracker.reset()
    tracker.update(clip[2])
    assert tracker.full_detections == 4


def test_two_faces_followed_largest_first(engine, astronaut, cameraman):
    frame = np.full((480, 640, 3), 80, np.uint8)
    frame[:240, :240] = astronaut[:240, 120:360]
    frame[240:, 320:560] = cameraman[60:300, 100:340]
    tracker = FaceTracker(engine.detector, redetect_every=5)
    first = tracker.update(frame)
    second = tracker.update(frame)
    assert len(first) == len(second) == 2 and tracker.refinements == 1
    assert second[0].area >= second[1].area
    assert all(box_iou(a.box, b.box) > 0.8 for a, b in zip(first, second))


def test_redetect_every_must_be_positive(engine):
    with pytest.raises(ValueError):
        FaceTracker(engine.detector, redetect_every=0)
