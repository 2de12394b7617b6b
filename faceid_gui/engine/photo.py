"""A photo file read once and decoded at the scale each step needs.

A phone photo is far larger than detection or alignment can use: detection searches a copy of at most 1,280 px, and a
face is aligned onto a 112 px crop. A JPEG can be decoded at 1/2, 1/4 or 1/8 of its size by libjpeg itself, at a
fraction of the cost (a 12 MP photo: 92 CPU-ms whole, 24 at a quarter). So detection reads the scale the detector
would have shrunk the photo to anyway, and each face is aligned from the coarsest decode that still holds a pixel for
each pixel of its crop: the whole photo is decoded only for small faces in a big photo.
Coordinates given and returned are always the photo's own pixels.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .align import CANONICAL_SIZE, align_face, template
from .image_headers import header_size, sniff
from .imageio import REDUCIBLE_KINDS, REDUCTIONS, decode_image, read_image_file, rescale_points


class Photo:
    """One photo file: its bytes (read and checked once) and its decodes, kept while the object lives."""

    def __init__(self, path: str | os.PathLike):
        self.name = Path(path).name
        self.data = read_image_file(path)
        kind = sniff(self.data)
        size = header_size(self.data, kind) if kind else None
        self.longest = max(size) if size else 0  # 0: unknown (HEIC, or a header decode_image will refuse)
        self.reducible = kind in REDUCIBLE_KINDS
        self._decodes: dict[int, np.ndarray] = {}

    def pixels(self, reduce: int = 1) -> tuple[np.ndarray, int]:
        """The photo as RGB at 1/reduce scale where the format allows it, and the reduction it got (1 otherwise)."""
        if reduce not in REDUCTIONS:
            raise ValueError(f"reduce must be one of {REDUCTIONS}")
        applied = reduce if self.reducible else 1
        if applied not in self._decodes:
            self._decodes[applied] = decode_image(self.data, self.name, applied)
        return self._decodes[applied], applied

    def for_faces(self, landmarks: list[np.ndarray], coarsest: int = 8) -> tuple[np.ndarray, int]:
        """The coarsest decode (at most 1/coarsest) holding the pixels of every face's crop (align_reduction)."""
        return self.pixels(align_reduction(landmarks, coarsest))

    def canonical(self, landmarks: np.ndarray) -> np.ndarray:
        """One face's aligned CANONICAL_SIZE crop (landmarks in photo pixels), from the coarsest decode that holds it."""
        rgb, reduced = self.for_faces([landmarks])
        return align_face(rgb, rescale_points(landmarks, 1 / reduced), CANONICAL_SIZE)


def align_reduction(landmarks: list[np.ndarray], coarsest: int = 8) -> int:
    """The largest reduction (1, 2, 4 or 8, at most `coarsest`) at which each face (five landmarks in photo pixels)
    still spans at least one pixel for each of its pixels in the CANONICAL_SIZE crop. align_face halves a larger
    source until the face holds 1 to 2 pixels per crop pixel, so from any such decode it warps from the same grid
    as from the whole photo, halved by libjpeg instead of INTER_AREA: on 6 faces of 1,548-4,000 px photos the
    embedding moved 0.007-0.040 from the whole photo's, less than a one-pixel shift of the landmarks moved it
    (0.045-0.070). Below one pixel per crop pixel it moved up to 0.13."""
    reduce = max(r for r in REDUCTIONS if r <= max(coarsest, 1))
    if not len(landmarks) or reduce == 1:
        return reduce
    # The spread ratio bounds the alignment's least-squares scale from above, so it never picks too coarse a decode;
    # one array operation for a 200-face photo instead of 200 transforms.
    marks = np.asarray(landmarks, np.float64)
    spread = np.sqrt(((marks - marks.mean(1, keepdims=True)) ** 2).sum((1, 2)))
    wanted = template(CANONICAL_SIZE)
    crop_px_per_photo_px = float(np.sqrt(((wanted - wanted.mean(0)) ** 2).sum()) / max(spread.min(), 1e-6))
    while reduce > 1 and crop_px_per_photo_px * reduce > 1.0:
        reduce //= 2
    return reduce
