"""MTCNN face detection (P/R/O-Net cascade) on ONNX Runtime: boxes, scores, five landmarks."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

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

    def detect(self, rgb: np.ndarray, min_face_size: int | None = None, keep_false: bool = False) -> list[Face]:
        """All faces in an RGB uint8 image, largest first: from `min_face_size` px when given, else from the
        detector's minimum, searching again down to its smallest face size when none was found. Likely false faces
        are dropped (drop_false_faces) unless keep_false."""
        if min_face_size is not None:
            faces = self._detect(rgb, float(min_face_size))
        else:
            faces = self._detect(rgb, float(self.min_face_size))
            if self.smallest_face_size < self.min_face_size and (not faces or self._maybe_crowd(rgb, faces)):
                faces = self._detect(rgb, float(self.smallest_face_size))
        return faces if keep_false else drop_false_faces(faces)

    def _maybe_crowd(self, rgb: np.ndarray, faces: list[Face]) -> bool:
        """In a large photo (searched for relatively large faces only), a face found near that limit suggests a crowd
        of smaller ones: search again down to the smallest size. A selfie's one large face costs one pass."""
        longest = max(rgb.shape[:2])
        if longest <= self.max_side:
            return False
        limit = self.min_face_size * longest / self.max_side  # the first pass's smallest face, in photo pixels
        return min(float(np.sqrt(f.area)) for f in faces) < 2 * limit

    def _detect(self, rgb: np.ndarray, min_face: float) -> list[Face]:
        h, w = rgb.shape[:2]
        image, shrink = rgb, 1.0
        if max(h, w) > self.max_side:
            # A large photo is searched on a copy halved until its longest side is at most 1.25 x max_side (exact
            # halvings are OpenCV's fast case), for faces from min_face / max_side of that side: 40 px in a 1024 px
            # photo, about 160 px in a 12 MP one. Searching a 12 MP photo for 40 px faces ran P-Net on a 1024 px
            # level and took 0.35-0.75 s; a face that small in a phone photo is a background face.
            halvings = int(np.ceil(np.log2(max(h, w) / (1.25 * self.max_side))))
            shrink = 0.5 ** max(halvings, 0)
            if min(h, w) * shrink < 12:
                return []  # a sliver (e.g. 2x5000 px) holds no findable face, and resizing it to nothing would fail
            image = _shrink(rgb, (int(w * shrink), int(h * shrink)))
            shrink = image.shape[1] / w
            min_face = min_face * max(image.shape[:2]) / self.max_side
        # Faces smaller than 12 px (P-Net's window) cannot be found; keep the request meaningful.
        min_face = max(12.0, min_face)
        boxes = self._stage_proposals(image, min_face)
        if len(boxes):
            boxes = self._stage_refine(image, boxes)
        if not len(boxes):
            return []
        boxes, landmarks = self._stage_output(image, boxes)
        faces = []
        for box, marks in zip(boxes, landmarks):
            faces.append(Face(box[:4] / shrink, float(box[4]), marks / shrink))
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
        squared = _square(np.concatenate([boxes, np.zeros((len(boxes), 1), np.float32)], axis=1))
        reg, marks, prob = _run_chunked(self.onet, _crop_patches(rgb, squared, 48))
        side = (squared[:, 2] - squared[:, 0] + 1)[:, None]
        xs = side * marks[:, 0:5] + squared[:, 0:1] - 1
        ys = side * marks[:, 5:10] + squared[:, 1:2] - 1
        squared[:, 4] = prob
        out = _regress(squared, reg)
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
            scaled = _shrink(scaled, (sw, sh))
            blob = scaled.transpose(2, 0, 1)[None].astype(np.float32)
            reg, prob = self.pnet.run(None, {"input": blob})
            boxes = _pnet_boxes(reg[0], prob[0], scale, self.thresholds[0])
            if len(boxes):
                candidates.append(boxes[_nms(boxes, 0.5)])
            scale *= self.scale_factor
        if not candidates:
            return np.empty((0, 5), np.float32)
        boxes = np.concatenate(candidates)
        boxes = boxes[_nms(boxes, 0.7)]
        return _square(boxes)

    def _stage_refine(self, image: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        patches = _sample_patches(image, boxes, 24)
        reg, prob = _run_chunked(self.rnet, patches)
        keep = prob > self.thresholds[1]
        boxes, reg = boxes[keep], reg[keep]
        boxes[:, 4] = prob[keep]
        boxes = _regress(boxes, reg)
        boxes = boxes[_nms(boxes, 0.7)]
        return _square(boxes)

    def _stage_output(self, image: np.ndarray, boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        patches = _crop_patches(image, boxes, 48)
        reg, marks, prob = _run_chunked(self.onet, patches)
        keep = prob > self.thresholds[2]
        boxes, reg, marks = boxes[keep], reg[keep], marks[keep]
        boxes[:, 4] = prob[keep]
        bw = (boxes[:, 2] - boxes[:, 0] + 1)[:, None]
        bh = (boxes[:, 3] - boxes[:, 1] + 1)[:, None]
        xs = bw * marks[:, 0:5] + boxes[:, 0:1] - 1
        ys = bh * marks[:, 5:10] + boxes[:, 1:2] - 1
        landmarks = np.stack([xs, ys], axis=-1)
        boxes = _regress(boxes, reg)
        keep = _nms(boxes, 0.7, use_min=True)
        return boxes[keep], landmarks[keep]


CHUNK = 32  # candidates per R-/O-Net run: ONNX Runtime keeps the largest batch's buffers (1,398 at once: +280 MB)


def _run_chunked(session, patches: np.ndarray) -> list[np.ndarray]:
    parts = [session.run(None, {"input": patches[i:i + CHUNK]}) for i in range(0, len(patches), CHUNK)]
    return [np.concatenate(outputs) for outputs in zip(*parts)] if parts else session.run(None, {"input": patches})


def _pnet_boxes(reg: np.ndarray, prob: np.ndarray, scale: float, threshold: float,
                stride: int = 2, cell: int = 12) -> np.ndarray:
    ys, xs = np.where(prob > threshold)
    if len(ys) == 0:
        return np.empty((0, 5), np.float32)
    dx1, dy1, dx2, dy2 = (reg[i, ys, xs] for i in range(4))
    x1 = xs * stride
    y1 = ys * stride
    boxes = np.stack([
        (x1 + dx1 * cell) / scale,
        (y1 + dy1 * cell) / scale,
        (x1 + cell + dx2 * cell) / scale,
        (y1 + cell + dy2 * cell) / scale,
        prob[ys, xs],
    ], axis=1).astype(np.float32)
    return boxes


def box_iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two (x1, y1, x2, y2) boxes; 0 for empty ones."""
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union) if union > 0 else 0.0


def _nms(boxes: np.ndarray, threshold: float, use_min: bool = False) -> np.ndarray:
    """Greedy non-maximum suppression by score; returns kept indices."""
    x1, y1, x2, y2, scores = boxes[:, 0], boxes[:, 1], boxes[:, 2], boxes[:, 3], boxes[:, 4]
    areas = (x2 - x1 + 1) * (y2 - y1 + 1)
    order = np.argsort(-scores, kind="stable")
    keep = []
    while order.size:
        i = order[0]
        keep.append(i)
        rest = order[1:]
        iw = np.maximum(0.0, np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest]) + 1)
        ih = np.maximum(0.0, np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest]) + 1)
        inter = iw * ih
        denom = np.minimum(areas[i], areas[rest]) if use_min else areas[i] + areas[rest] - inter
        order = rest[inter / denom <= threshold]
    return np.asarray(keep, dtype=np.int64)


def _square(boxes: np.ndarray) -> np.ndarray:
    boxes = boxes.copy()
    w = boxes[:, 2] - boxes[:, 0]
    h = boxes[:, 3] - boxes[:, 1]
    side = np.maximum(w, h)
    boxes[:, 0] += (w - side) * 0.5
    boxes[:, 1] += (h - side) * 0.5
    boxes[:, 2] = boxes[:, 0] + side
    boxes[:, 3] = boxes[:, 1] + side
    return boxes


def _regress(boxes: np.ndarray, reg: np.ndarray) -> np.ndarray:
    boxes = boxes.copy()
    w = boxes[:, 2] - boxes[:, 0] + 1
    h = boxes[:, 3] - boxes[:, 1] + 1
    boxes[:, :4] += reg * np.stack([w, h, w, h], axis=1)
    return boxes


def _halve(image: np.ndarray) -> np.ndarray:
    """Half the size by averaging 2x2 blocks (an odd last row or column is dropped): OpenCV's fast INTER_AREA case."""
    h, w = image.shape[:2]
    return cv2.resize(image[:h - h % 2, :w - w % 2], (w // 2, h // 2), interpolation=cv2.INTER_AREA)


def _shrink(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize down to size (w, h): halved while at least twice too large, then area-averaged the rest of the way.

    OpenCV's INTER_AREA is fast only for an exact halving (0.04 ms for a 500 px photo); at any other factor it
    weighs every source pixel (0.6 ms to 150x100), which made the first pyramid level cost more than its P-Net run.
    """
    while image.shape[1] >= 2 * size[0] and image.shape[0] >= 2 * size[1]:
        image = _halve(image)
    if (image.shape[1], image.shape[0]) == tuple(size):
        return image
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


def _crop_patches(image: np.ndarray, boxes: np.ndarray, size: int) -> np.ndarray:
    """Crops of each box resized to size x size, zero-padded outside the image, as NCHW."""
    h, w = image.shape[:2]
    out = np.zeros((len(boxes), size, size, 3), np.float32)
    for k, (bx1, by1, bx2, by2) in enumerate(np.round(boxes[:, :4]).astype(int)):
        bw, bh = bx2 - bx1 + 1, by2 - by1 + 1
        if bw < 2 or bh < 2:
            continue
        sx1, sy1, sx2, sy2 = max(bx1, 0), max(by1, 0), min(bx2 + 1, w), min(by2 + 1, h)
        if sx2 <= sx1 or sy2 <= sy1:
            continue
        if (sx1, sy1, sx2, sy2) == (bx1, by1, bx2 + 1, by2 + 1):
            canvas = image[sy1:sy2, sx1:sx2]  # inside the image (most boxes): resize the view, no padded copy
        else:
            canvas = np.zeros((bh, bw, 3), image.dtype)
            canvas[sy1 - by1:sy2 - by1, sx1 - bx1:sx2 - bx1] = image[sy1:sy2, sx1:sx2]
        interp = cv2.INTER_AREA if bw > size else cv2.INTER_LINEAR
        out[k] = cv2.resize(canvas, (size, size), interpolation=interp)
    return out.transpose(0, 3, 1, 2).copy()


def _sample_patches(image: np.ndarray, boxes: np.ndarray, size: int) -> np.ndarray:
    """Like _crop_patches, cheaper and to a fraction of a pixel: each box is sampled bilinearly from the image
    halved until the box is under 2 * size across, so no crop reads more than (2 * size)^2 pixels.

    For R-Net's many candidates (23 a photo, most far larger than 24 px): their area-averaged crops took 1.7
    CPU-ms a photo, these 0.55. O-Net's few crops, whose landmarks align the face, keep _crop_patches.
    """
    halved = [image]
    out = np.zeros((len(boxes), size, size, 3), np.float32)
    for k, (x1, y1, x2, y2) in enumerate(boxes[:, :4]):
        if x2 - x1 < 1 or y2 - y1 < 1:
            continue  # as _crop_patches: a box under 2 px across stays empty
        side = max(x2 - x1, y2 - y1) + 1
        level = int(np.floor(np.log2(side / size))) if side >= 2 * size else 0
        while len(halved) <= level and min(halved[-1].shape[:2]) >= 2:
            halved.append(_halve(halved[-1]))
        level = min(level, len(halved) - 1)
        shrink = float(1 << level)
        # Pixels x1..x2 inclusive cover [x1, x2 + 1): output pixel u samples the point (u + 0.5) * step + x1 - 0.5.
        step_x, step_y = (x2 + 1 - x1) / shrink / size, (y2 + 1 - y1) / shrink / size
        matrix = np.array([[step_x, 0, x1 / shrink + 0.5 * step_x - 0.5],
                           [0, step_y, y1 / shrink + 0.5 * step_y - 0.5]], np.float32)
        out[k] = cv2.warpAffine(halved[level], matrix, (size, size), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                                borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    return out.transpose(0, 3, 1, 2).copy()
