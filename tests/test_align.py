import cv2
import numpy as np

from faceid_gui.engine import align_face, similarity_transform, template


def _apply(matrix, points):
    return points @ matrix[:, :2].T + matrix[:, 2]


def test_similarity_recovers_a_known_transform():
    rng = np.random.default_rng(1)
    for _ in range(20):
        angle, scale = rng.uniform(-0.6, 0.6), rng.uniform(0.3, 4.0)
        rot = scale * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
        shift = rng.uniform(-300, 300, 2)
        dst = template(64)
        src = (dst - shift) @ np.linalg.inv(rot).T  # src mapped by (rot, shift) lands on dst
        matrix = similarity_transform(src, dst)
        assert np.abs(_apply(matrix, src) - dst).max() < 1e-6


def test_warped_landmarks_land_on_the_template_within_a_pixel():
    """Draw five dots at known landmarks in a big rotated 'photo', align, find the dots again."""
    size = 112
    rng = np.random.default_rng(7)
    angle, scale, shift = 0.35, 3.1, np.array([420.0, 260.0])
    rot = scale * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    landmarks = template(size) @ rot.T + shift
    image = np.zeros((900, 1000, 3), np.uint8)
    colours = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0), (0, 255, 255)]
    for (x, y), colour in zip(landmarks, colours):
        cv2.circle(image, (int(round(x * 16)), int(round(y * 16))), 5 * 16, colour, -1, cv2.LINE_AA, shift=4)
    image = np.clip(image.astype(int) + rng.integers(0, 10, image.shape), 0, 255).astype(np.uint8)
    crop = align_face(image, landmarks, size)
    assert crop.shape == (size, size, 3)
    for (tx, ty), colour in zip(template(size), colours):
        mask = np.all(np.abs(crop.astype(int) - colour) < 90, axis=2)
        ys, xs = np.nonzero(mask)
        assert len(xs) > 3
        assert abs(xs.mean() - tx) < 1.0 and abs(ys.mean() - ty) < 1.0
