"""Where is this person? The scanned photos ranked by how near their faces come to an enrolled person, each with
the three-way verdict of Compare (matching.verdict) at the threshold in use."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import GalleryError
from .matching import DIFFERENT, GalleryIndex, distances, verdict


@dataclass(frozen=True)
class Found:
    path: str
    face_id: int
    box: list[float]  # x, y, w, h
    distance: float
    verdict: str  # SAME, UNCERTAIN or DIFFERENT


def find_person(library, index: GalleryIndex, name: str, threshold: float, band=None, under: Path | None = None,
                include_different: bool = False) -> list[Found]:
    """Photos of the library (under a folder, when given) by the nearest distance of any of their faces to the
    person's mean face (as 1:N searches), nearest first; photos whose best face is "different" only when asked for.
    No library (None: nothing was ever scanned) finds nothing, once the name is known."""
    person = index.person_id(name)
    own = index.mean_face(person)
    if own is None:  # nobody, or enrolled with another model only
        raise GalleryError(f"no one called {name!r} in the gallery (with faces of the model in use)")
    faces = [] if library is None else library.faces("f.ignored = 0")
    if not faces:
        return []
    nearest = distances(own, np.stack([f.embedding for f in faces]))
    prefix = None if under is None else str(Path(os.path.abspath(under))) + os.sep
    best: dict[str, Found] = {}
    for face, d in zip(faces, nearest):
        if prefix is not None and not face.path.startswith(prefix):
            continue
        if face.path not in best or d < best[face.path].distance:
            best[face.path] = Found(face.path, face.id, face.xywh, float(d), verdict(float(d), threshold, band))
    ranked = sorted(best.values(), key=lambda f: f.distance)
    return ranked if include_different else [f for f in ranked if f.verdict != DIFFERENT]
