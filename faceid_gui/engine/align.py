"""Five-point similarity alignment: the one preprocessing path shared by the app and the trainer."""
from __future__ import annotations

import cv2
import numpy as np

# The widely used ArcFace 112x112 five-point template (eyes, nose tip, mouth corners).
TEMPLATE_112 = np.array([
    [38.2946, 51.6963],
    [73.5318, 51.5014],
    [56.0252, 71.7366],
    [41.5493, 92.3655],
    [70.7299, 92.2041],
], dtype=np.float64)


def template(size: int) -> np.ndarray:
    """The template scaled to a square crop of `size` pixels."""
    return TEMPLATE_112 * (size / 112.0)


def similarity_transform(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares similarity (rotation, uniform scale, translation) mapping src onto dst (Umeyama 1991)."""
    src = np.asarray(src, np.float64)
    dst = np.asarray(dst, np.float64)
    src_mean, dst_mean = src.mean(0), dst.mean(0)
    src_c, dst_c = src - src_mean, dst - dst_mean
    cov = dst_c.T @ src_c / len(src)
    u, s, vt = np.linalg.svd(cov)
    d = np.ones(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        d[1] = -1  # never reflect a face
    rotation = u @ np.diag(d) @ vt
    var_src = (src_c ** 2).sum() / len(src)
    scale = (s * d).sum() / var_src if var_src > 0 else 1.0
    matrix = np.zeros((2, 3))
    matrix[:, :2] = scale * rotation
    matrix[:, 2] = dst_mean - scale * rotation @ src_mean
    return matrix


CANONICAL_SIZE = 112  # every crop is aligned at the template's own size; smaller model inputs are shrunk from it


def align_face(rgb: np.ndarray, landmarks: np.ndarray, size: int) -> np.ndarray:
    """Warp the face so its five landmarks land on the template; returns a (size, size, 3) uint8 crop.

    Aligned at 112 px and shrunk with INTER_AREA for smaller sizes, so the trainer (which keeps 112 px crops and
    derives smaller ones from them) and the app see the same pixels at any input size.
    """
    if size < CANONICAL_SIZE:
        return shrink_crop(align_face(rgb, landmarks, CANONICAL_SIZE), size)
    matrix = similarity_transform(landmarks, template(size))
    if _scale(matrix) < 0.5:
        # Shrinking a lot: only the region the crop samples is antialiased, by exact halvings (OpenCV's fast
        # INTER_AREA case), until the warp shrinks by less than 2; blurring the whole 12 MP photo took 0.24-0.41 s.
        rgb, matrix = _source_region(rgb, matrix, size, margin=4)
        while _scale(matrix) < 0.5 and min(rgb.shape[:2]) >= 4:
            h, w = rgb.shape[:2]
            rgb = cv2.resize(rgb[:h - h % 2, :w - w % 2], (w // 2, h // 2), interpolation=cv2.INTER_AREA)
            # source pixel x of the full image is pixel (x - 0.5) / 2 of the halved one
            matrix = np.concatenate([matrix[:, :2] * 2, (matrix[:, 2] + matrix[:, :2] @ [0.5, 0.5])[:, None]], 1)
    return cv2.warpAffine(rgb, matrix, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def _scale(matrix: np.ndarray) -> float:
    return float(np.sqrt(abs(np.linalg.det(matrix[:, :2]))))


def shrink_crop(crop: np.ndarray, size: int) -> np.ndarray:
    """A 112 px aligned crop at a smaller model input size (the template scales with it)."""
    return crop if crop.shape[0] == size else cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA)


def _source_region(rgb: np.ndarray, matrix: np.ndarray, size: int, margin: int) -> tuple[np.ndarray, np.ndarray]:
    """The part of the photo that the crop's pixels map back to (plus a blur margin), and the matrix for it."""
    inverse = cv2.invertAffineTransform(matrix)
    corners = np.array([[0, 0, 1], [size, 0, 1], [0, size, 1], [size, size, 1]], np.float64) @ inverse.T
    h, w = rgb.shape[:2]
    x0, y0 = np.clip(np.floor(corners.min(0)).astype(int) - margin, 0, [w - 1, h - 1])
    x1, y1 = np.clip(np.ceil(corners.max(0)).astype(int) + margin + 1, [x0 + 1, y0 + 1], [w, h])
    shifted = matrix.copy()
    shifted[:, 2] += matrix[:, :2] @ np.array([x0, y0], np.float64)
    return rgb[y0:y1, x0:x1], shifted
