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


def align_face(rgb: np.ndarray, landmarks: np.ndarray, size: int) -> np.ndarray:
    """Warp the face so its five landmarks land on the template; returns a (size, size, 3) uint8 crop."""
    matrix = similarity_transform(landmarks, template(size))
    # Downscaling a large face: INTER_AREA-like quality comes from blurring first when shrinking a lot.
    scale = float(np.sqrt(abs(np.linalg.det(matrix[:, :2]))))
    source = rgb
    if scale < 0.5:
        sigma = 0.5 / scale * 0.5
        source = cv2.GaussianBlur(rgb, (0, 0), sigmaX=sigma)
    return cv2.warpAffine(source, matrix, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
