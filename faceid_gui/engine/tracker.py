"""Face tracking for live video: the full MTCNN cascade now and then, O-Net around last frame's faces in between."""
from __future__ import annotations

import numpy as np

from .detector import LIVE_MIN_FACE, Face, FaceDetector
from .mtcnn_ops import box_iou


class FaceTracker:
    """Gives the faces of each frame of one video, largest first, at a fraction of full detection's cost.

    The full detector (image pyramid, P-, R- and O-Net: about 20 CPU-ms at 640x480) runs on the first frame,
    every `redetect_every` frames (so a newcomer appears within that many frames), and whenever a followed face
    is lost. In between, each face's box from the previous frame, moved by its last motion, goes to O-Net alone
    (about 1 ms), which returns this frame's box, score and landmarks, or rejects it. Not thread-safe: one per
    video loop. Call `reset()` at a cut (a video that starts over, another camera).
    """

    def __init__(self, detector: FaceDetector, redetect_every: int = 10, min_face_size: int = LIVE_MIN_FACE,
                 duplicate_iou: float = 0.5):
        if redetect_every < 1:
            raise ValueError("redetect_every must be at least 1")
        self.detector = detector
        self.redetect_every = redetect_every
        self.min_face_size = min_face_size
        self.duplicate_iou = duplicate_iou
        self.full_detections = 0  # counters for the bench and tests
        self.refinements = 0
        self.reset()

    def reset(self) -> None:
        self._faces: list[Face] = []
        self._motion: list[np.ndarray] = []
        self._since_full = 0

    def update(self, rgb: np.ndarray) -> list[Face]:
        """The faces in this frame (RGB uint8), largest first."""
        if self._faces and self._since_full < self.redetect_every - 1:
            faces = self._follow(rgb)
            if faces is not None:
                self._since_full += 1
                self.refinements += 1
                return list(self._faces)
        return self._detect(rgb)

    def _follow(self, rgb: np.ndarray) -> list[Face] | None:
        """O-Net around the predicted boxes; None when any face is lost (the caller then runs full detection)."""
        h, w = rgb.shape[:2]
        predicted = np.stack([f.box + m for f, m in zip(self._faces, self._motion)])
        refined = self.detector.refine(rgb, predicted)
        if any(f is None for f in refined):
            return None
        for face in refined:
            x1, y1, x2, y2 = face.box
            side = min(x2 - x1, y2 - y1)
            # Too small to trust, or gone off the frame: let the full detector decide what is there.
            if side < 0.5 * self.min_face_size or x2 <= 0 or y2 <= 0 or x1 >= w or y1 >= h:
                return None
        kept = _drop_duplicates(refined, self.duplicate_iou)
        self._motion = [new.box - old.box for new, old in zip(refined, self._faces)]
        self._motion = [self._motion[i] for i in kept]
        self._faces = [refined[i] for i in kept]
        self._sort()
        return self._faces

    def _detect(self, rgb: np.ndarray) -> list[Face]:
        faces = self.detector.detect(rgb, self.min_face_size)
        self.full_detections += 1
        # A face that was followed keeps its motion, so the next prediction still leads it.
        motion = []
        for face in faces:
            best, best_iou = None, 0.3
            for old, old_motion in zip(self._faces, self._motion):
                overlap = box_iou(face.box, old.box)
                if overlap > best_iou:
                    best, best_iou = old_motion, overlap
            motion.append(best if best is not None else np.zeros(4, np.float32))
        self._faces, self._motion = list(faces), motion
        self._since_full = 0
        self._sort()
        return list(self._faces)

    def _sort(self) -> None:
        order = sorted(range(len(self._faces)), key=lambda i: self._faces[i].area, reverse=True)
        self._faces = [self._faces[i] for i in order]
        self._motion = [self._motion[i] for i in order]


def _drop_duplicates(faces: list[Face], threshold: float) -> list[int]:
    """Indices of faces to keep when two followed faces have converged onto one (higher score wins)."""
    order = sorted(range(len(faces)), key=lambda i: faces[i].score, reverse=True)
    kept: list[int] = []
    for i in order:
        if all(box_iou(faces[i].box, faces[j].box) <= threshold for j in kept):
            kept.append(i)
    return sorted(kept)
