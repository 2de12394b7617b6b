"""MTCNN face detection (P/R/O-Net cascade) on ONNX Runtime: boxes, scores, five landmarks."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .imageio import REDUCTIONS, rescale_points
from .mtcnn_ops import crop_patches, nms, overlaps, pnet_boxes, regress, run_chunked, sample_patches, shrink, square
from .runtime import create_session


@dataclass(frozen=True)
class Face:
    """One detected face in image pixel coordinates."""

    box: np.ndarray  # x1, y1, x2, y2
    score: float
    landmarks: np.ndarray  # (5, 2): left eye, right eye, nose, left mouth corner, right mouth corner

    @property
    def xywh(self) -> list[float]:
        x1, y1, x2, y2 = (float(v) for v in self.box)
        return [x1, y1, x2 - x1, y2 - y1]

    @property
    def area(self) -> float:
        return float((self.box[2] - self.box[0]) * (self.box[3] - self.box[1]))


# Smallest face side searched for, in pixels. Photos: faces from 40 px first (what dlib's default finds; most of the
# detector's time goes to the pyramid levels for smaller faces: 28 -> 12 CPU-ms on 200 CelebA photos, no main face
# lost), and down to 20 px only when none was found (a far-away face). Live frames: 40 px, faces in front of a camera
# are near, and every smaller pyramid level would cost detection time on every frame.
PHOTO_MIN_FACE = 40
PHOTO_SMALLEST_FACE = 20
LIVE_MIN_FACE = 40

# False faces (issue 13): MTCNN boxes hands, hair, patterns and text at O-Net scores of 0.8-0.95, and nearly always
# small beside the photo's main face, while real faces mostly score above 0.95. A face is dropped when it is both
# smaller than FALSE_FACE_SIDE times the largest face's side and scored below FALSE_FACE_SCORE; the largest face is
# never dropped. On the first 1,500 CelebA-subset photos (tools/false_faces.py, counted by eye) it removed 24 of
# about 34 false extra faces and 13 of about 56 real ones, all blurred, dark or half-hidden background faces.
FALSE_FACE_SIDE = 0.5
FALSE_FACE_SCORE = 0.95


def drop_false_faces(faces: list[Face]) -> list[Face]:
    """Faces (largest first) without the small, unsure detections beside the main face (rule above)."""
    if len(faces) < 2:
        return list(faces)
    main_side = np.sqrt(faces[0].area)
    return [faces[0]] + [f for f in faces[1:]
                         if np.sqrt(max(f.area, 0.0)) >= FALSE_FACE_SIDE * main_side or f.score >= FALSE_FACE_SCORE]


# P-, R- and O-Net score thresholds, stricter than MTCNN's usual (0.6, 0.7, 0.7) in the first two stages, which pass
# most of the candidates the later, costlier stages then reject: P-Net 0.7 cut detection 13.2 -> 10.2 CPU-ms per
# photo on 300 CelebA-subset photos (the same 308 faces), R-Net 0.8 another fifth (307 of 308 faces; photos
# #300-599: 302 of 302). No photo's main face was lost.
THRESHOLDS = (0.7, 0.8, 0.8)
# A crowd's second search skips P-Net candidates overlapping a face the first search found by more than this (IoU).
KNOWN_OVERLAP = 0.3


class FaceDetector:
    """MTCNN; large images are detected on a downscaled copy."""

    def __init__(self, assets: Path, prefer: str = "auto", min_face_size: int = PHOTO_MIN_FACE,
                 thresholds: tuple[float, float, float] = THRESHOLDS, max_side: int = 1024,
                 scale_factor: float = 0.709, smallest_face_size: int = PHOTO_SMALLEST_FACE):
        self.pnet, self.provider = create_session(assets / "mtcnn_pnet.onnx", prefer)
        self.rnet, _ = create_session(assets / "mtcnn_rnet.onnx", prefer)
        self.onet, _ = create_session(assets / "mtcnn_onet.onnx", prefer)
        self.min_face_size = min_face_size
        self.smallest_face_size = min(smallest_face_size, min_face_size)
        self.thresholds = thresholds
        self.max_side = max_side
        self.scale_factor = scale_factor

    def detect(self, rgb: np.ndarray, min_face_size: int | None = None, keep_false: bool = False,
               reduced: int = 1) -> list[Face]:
        """All faces in an RGB uint8 image, largest first: from `min_face_size` px when given, else from the
        detector's minimum, searching again down to its smallest face size when none was found. Likely false faces
        are dropped (drop_false_faces) unless keep_false. `reduced`: rgb is a photo decoded at 1/reduced scale
        (photo_reduction); the search is the photo's own and faces come back in the photo's pixels."""
        if min_face_size is not None:
            faces = self._detect(rgb, float(min_face_size), reduced)
        else:
            faces = self._detect(rgb, float(self.min_face_size), reduced)
            if self.smallest_face_size < self.min_face_size and (not faces or self._maybe_crowd(rgb, faces, reduced)):
                faces = self._detect(rgb, float(self.smallest_face_size), reduced, found=faces)
        return faces if keep_false else drop_false_faces(faces)

    def _halvings(self, longest: int) -> int:
        """How many times a photo of this longest side is halved before the search (to at most 1.25 x max_side)."""
        return max(int(np.ceil(np.log2(longest / (1.25 * self.max_side)))), 0) if longest > self.max_side else 0

    def photo_reduction(self, longest: int) -> int:
        """The decode reduction (one of REDUCTIONS) a photo of this longest side can be detected on unchanged: never
        finer than the copy the search halves it to. 0 or unknown sizes get 1."""
        return min(2 ** self._halvings(longest), REDUCTIONS[-1]) if longest > 0 else 1

    def _maybe_crowd(self, rgb: np.ndarray, faces: list[Face], reduced: int = 1) -> bool:
        """In a large photo (searched for relatively large faces only), a face found near that limit suggests a crowd
        of smaller ones: search again down to the smallest size. A selfie's one large face costs one pass."""
        longest = max(rgb.shape[:2]) * reduced
        if longest <= self.max_side:
            return False
        limit = self.min_face_size * longest / self.max_side  # the first pass's smallest face, in photo pixels
        return min(float(np.sqrt(f.area)) for f in faces) < 2 * limit

    def _detect(self, rgb: np.ndarray, min_face: float, reduced: int = 1, found: list[Face] = ()) -> list[Face]:
        """One search; `found`: faces an earlier, coarser search of this photo found, kept rather than found again."""
        h, w = rgb.shape[:2]
        image, scale = rgb, 1.0 / reduced
        if max(h, w) * reduced > self.max_side:
            # A large photo is searched on a copy halved until its longest side is at most 1.25 x max_side (exact
            # halvings are OpenCV's fast case), for faces from min_face / max_side of that side: 40 px in a 1024 px
            # photo, about 160 px in a 12 MP one. Searching a 12 MP photo for 40 px faces ran P-Net on a 1024 px
            # level and took 0.35-0.75 s. Crowds of smaller faces get a second pass (detect, _maybe_crowd).
            # A photo decoded at 1/reduced already had log2(reduced) of its halvings.
            scale = 0.5 ** max(self._halvings(max(h, w) * reduced) - int(np.log2(reduced)), 0)
            if min(h, w) * scale < 12:
                return list(found)  # a sliver (e.g. 2x5000 px) holds no findable face, and resizing it to nothing would fail
            if scale < 1.0:
                image = shrink(rgb, (int(w * scale), int(h * scale)))
            scale = image.shape[1] / w / reduced  # copy pixels per photo pixel
            min_face = min_face * max(image.shape[:2]) / self.max_side
        # Faces smaller than 12 px (P-Net's window) cannot be found; keep the request meaningful.
        min_face = max(12.0, min_face)
        boxes = self._stage_proposals(image, min_face)
        if found and len(boxes):
            # A crowd's second search looks only at candidates away from the faces the first one found: refining
            # those again took half of the 200-face photo's second search (R- and O-Net on 1,398 candidates).
            known = rescale_points(np.array([f.box for f in found], np.float32), scale)
            boxes = boxes[overlaps(boxes, known).max(1) <= KNOWN_OVERLAP]
        if len(boxes):
            boxes = self._stage_refine(image, boxes)
        faces = list(found)
        if len(boxes):
            boxes, landmarks = self._stage_output(image, boxes)
            faces += [Face(rescale_points(box[:4], 1 / scale), float(box[4]), rescale_points(marks, 1 / scale))
                      for box, marks in zip(boxes, landmarks)]
        if found and len(faces) > len(found):  # a new face may still be a known one seen from an offset candidate
            keep = nms(np.array([[*f.box, f.score] for f in faces], np.float32), 0.7, use_min=True)
            faces = [faces[k] for k in keep]
        faces.sort(key=lambda f: f.area, reverse=True)
        return faces

    def refine(self, rgb: np.ndarray, boxes: np.ndarray) -> list[Face | None]:
        """O-Net alone on given boxes (x1, y1, x2, y2), one result per box in order: None where no face is left.

        The cheap step of tracking: a box near last frame's face gives this frame's box and landmarks (about 1 ms)
        without the image pyramid and the P- and R-Net stages.
        """
        if not len(boxes):
            return []
        boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
        squared = square(np.concatenate([boxes, np.zeros((len(boxes), 1), np.float32)], axis=1))
        reg, marks, prob = run_chunked(self.onet, crop_patches(rgb, squared, 48))
        side = (squared[:, 2] - squared[:, 0] + 1)[:, None]
        xs = side * marks[:, 0:5] + squared[:, 0:1] - 1
        ys = side * marks[:, 5:10] + squared[:, 1:2] - 1
        squared[:, 4] = prob
        out = regress(squared, reg)
        return [Face(out[i, :4].copy(), float(prob[i]), np.stack([xs[i], ys[i]], axis=-1))
                if prob[i] > self.thresholds[2] else None for i in range(len(boxes))]

    def _stage_proposals(self, image: np.ndarray, min_face: float) -> np.ndarray:
        h, w = image.shape[:2]
        scale = 12.0 / min_face
        candidates = []
        scaled = image
        while min(h, w) * scale >= 12:
            sh, sw = int(np.ceil(h * scale)), int(np.ceil(w * scale))
            # Each level from the one before, not from the full frame: INTER_AREA reads every source pixel, so the
            # small levels cost as much as the first one did (0.8 ms each at 640x480, about half of P-Net's time).
            scaled = shrink(scaled, (sw, sh))
            blob = scaled.transpose(2, 0, 1)[None].astype(np.float32)
            reg, prob = self.pnet.run(None, {"input": blob})
            boxes = pnet_boxes(reg[0], prob[0], scale, self.thresholds[0])
            if len(boxes):
                candidates.append(boxes[nms(boxes, 0.5)])
            scale *= self.scale_factor
        if not candidates:
            return np.empty((0, 5), np.float32)
        boxes = np.concatenate(candidates)
        boxes = boxes[nms(boxes, 0.7)]
        return square(boxes)

    def _stage_refine(self, image: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        patches = sample_patches(image, boxes, 24)
        reg, prob = run_chunked(self.rnet, patches)
        keep = prob > self.thresholds[1]
        boxes, reg = boxes[keep], reg[keep]
        boxes[:, 4] = prob[keep]
        boxes = regress(boxes, reg)
        boxes = boxes[nms(boxes, 0.7)]
        return square(boxes)

    def _stage_output(self, image: np.ndarray, boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        patches = crop_patches(image, boxes, 48)
        reg, marks, prob = run_chunked(self.onet, patches)
        keep = prob > self.thresholds[2]
        boxes, reg, marks = boxes[keep], reg[keep], marks[keep]
        boxes[:, 4] = prob[keep]
        bw = (boxes[:, 2] - boxes[:, 0] + 1)[:, None]
        bh = (boxes[:, 3] - boxes[:, 1] + 1)[:, None]
        xs = bw * marks[:, 0:5] + boxes[:, 0:1] - 1
        ys = bh * marks[:, 5:10] + boxes[:, 1:2] - 1
        landmarks = np.stack([xs, ys], axis=-1)
        boxes = regress(boxes, reg)
        keep = nms(boxes, 0.7, use_min=True)
        return boxes[keep], landmarks[keep]
