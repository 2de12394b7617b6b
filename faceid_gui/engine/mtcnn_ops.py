"""MTCNN's arithmetic: candidate boxes from P-Net maps, non-maximum suppression, squaring and regression, image
shrinking, and the patches each stage reads; numpy and OpenCV only."""
from __future__ import annotations

import cv2
import numpy as np

CHUNK = 32  # candidates per R-/O-Net run: ONNX Runtime keeps the largest batch's buffers (1,398 at once: +280 MB)


def run_chunked(session, patches: np.ndarray) -> list[np.ndarray]:
    parts = [session.run(None, {"input": patches[i:i + CHUNK]}) for i in range(0, len(patches), CHUNK)]
    return [np.concatenate(outputs) for outputs in zip(*parts)] if parts else session.run(None, {"input": patches})


def pnet_boxes(reg: np.ndarray, prob: np.ndarray, scale: float, threshold: float,
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
    return float(overlaps(np.asarray(a, np.float64)[None], np.asarray(b, np.float64)[None])[0, 0])


def overlaps(boxes: np.ndarray, others: np.ndarray) -> np.ndarray:
    """Intersection over union of every box with every other (x1, y1, x2, y2 first), as an (N, M) array."""
    a, b = boxes[:, None, :4], others[None, :, :4]
    iw = np.clip(np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0]), 0, None)
    ih = np.clip(np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1]), 0, None)
    inter = iw * ih
    union = ((a[..., 2] - a[..., 0]) * (a[..., 3] - a[..., 1]) + (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])
             - inter)
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


def nms(boxes: np.ndarray, threshold: float, use_min: bool = False) -> np.ndarray:
    """Greedy non-maximum suppression by score; returns kept indices.

    IoU runs in OpenCV (the same greedy rule, scores stably sorted, boxes as x, y, w + 1, h + 1 as MTCNN counts
    them): in Python, a 200-face photo's thousands of P-Net candidates took a tenth of its time. The same kept
    boxes on 1,411 calls over 151 photos. Intersection over the smaller box (O-Net's last pass) has no OpenCV form.
    """
    if len(boxes) == 0:
        return np.empty(0, np.int64)
    if not use_min:
        rects = np.stack([boxes[:, 0], boxes[:, 1], boxes[:, 2] - boxes[:, 0] + 1, boxes[:, 3] - boxes[:, 1] + 1], 1)
        # score_threshold 0: every candidate here already passed its stage's probability threshold
        kept = cv2.dnn.NMSBoxes(rects.tolist(), boxes[:, 4].tolist(), 0.0, threshold)
        return np.asarray(kept, np.int64).reshape(-1)
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
        order = rest[iw * ih / np.minimum(areas[i], areas[rest]) <= threshold]
    return np.asarray(keep, dtype=np.int64)


def square(boxes: np.ndarray) -> np.ndarray:
    boxes = boxes.copy()
    w = boxes[:, 2] - boxes[:, 0]
    h = boxes[:, 3] - boxes[:, 1]
    side = np.maximum(w, h)
    boxes[:, 0] += (w - side) * 0.5
    boxes[:, 1] += (h - side) * 0.5
    boxes[:, 2] = boxes[:, 0] + side
    boxes[:, 3] = boxes[:, 1] + side
    return boxes


def regress(boxes: np.ndarray, reg: np.ndarray) -> np.ndarray:
    boxes = boxes.copy()
    w = boxes[:, 2] - boxes[:, 0] + 1
    h = boxes[:, 3] - boxes[:, 1] + 1
    boxes[:, :4] += reg * np.stack([w, h, w, h], axis=1)
    return boxes


def halve(image: np.ndarray) -> np.ndarray:
    """Half the size by averaging 2x2 blocks (an odd last row or column is dropped): OpenCV's fast INTER_AREA case."""
    h, w = image.shape[:2]
    return cv2.resize(image[:h - h % 2, :w - w % 2], (w // 2, h // 2), interpolation=cv2.INTER_AREA)


def shrink(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize down to size (w, h): halved while at least twice too large, then area-averaged the rest of the way.

    OpenCV's INTER_AREA is fast only for an exact halving (0.04 ms for a 500 px photo); at any other factor it
    weighs every source pixel (0.6 ms to 150x100), which made the first pyramid level cost more than its P-Net run.
    """
    while image.shape[1] >= 2 * size[0] and image.shape[0] >= 2 * size[1]:
        image = halve(image)
    if (image.shape[1], image.shape[0]) == tuple(size):
        return image
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


def crop_patches(image: np.ndarray, boxes: np.ndarray, size: int) -> np.ndarray:
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


def sample_patches(image: np.ndarray, boxes: np.ndarray, size: int) -> np.ndarray:
    """Like crop_patches, cheaper and to a fraction of a pixel: each box is sampled bilinearly from the image
    halved until the box is under 2 * size across, so no crop reads more than (2 * size)^2 pixels.

    For R-Net's many candidates (23 a photo, most far larger than 24 px): their area-averaged crops took 1.7
    CPU-ms a photo, these 0.55. O-Net's few crops, whose landmarks align the face, keep crop_patches.
    """
    halved = [image]
    out = np.zeros((len(boxes), size, size, 3), np.float32)
    for k, (x1, y1, x2, y2) in enumerate(boxes[:, :4]):
        if x2 - x1 < 1 or y2 - y1 < 1:
            continue  # as crop_patches: a box under 2 px across stays empty
        side = max(x2 - x1, y2 - y1) + 1
        level = int(np.floor(np.log2(side / size))) if side >= 2 * size else 0
        while len(halved) <= level and min(halved[-1].shape[:2]) >= 2:
            halved.append(halve(halved[-1]))
        level = min(level, len(halved) - 1)
        shrink = float(1 << level)
        # Pixels x1..x2 inclusive cover [x1, x2 + 1): output pixel u samples the point (u + 0.5) * step + x1 - 0.5.
        step_x, step_y = (x2 + 1 - x1) / shrink / size, (y2 + 1 - y1) / shrink / size
        matrix = np.array([[step_x, 0, x1 / shrink + 0.5 * step_x - 0.5],
                           [0, step_y, y1 / shrink + 0.5 * step_y - 0.5]], np.float32)
        out[k] = cv2.warpAffine(halved[level], matrix, (size, size), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                                borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    return out.transpose(0, 3, 1, 2).copy()
