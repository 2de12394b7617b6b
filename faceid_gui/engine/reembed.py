"""After a model change: enrolled faces made with another model are re-embedded by the one in use, from their source
photo when it still exists, else from the canonical aligned crop kept as their thumbnail (pipeline.FaceResult), so
that shipping a better model never means enrolling everyone again. Scanned photos need nothing here: a photo indexed
with another model is simply analysed again by the next scan (engine/scan.py), its names kept."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from .align import CANONICAL_SIZE
from .errors import FaceIdError
from .imageio import decode_image, encode_png


@dataclass
class ReembedSummary:
    from_photo: int = 0
    from_crop: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)  # (person, why)
    cancelled: bool = False


def stale_faces(gallery) -> list[tuple[str, object]]:
    """(name, EnrolledFace) of every face made with another model."""
    return [(p.name, f) for p in gallery.people() if p.stale_faces for f in gallery.faces(p.name) if f.stale]


def reembed_stale(gallery, engine, progress=None, cancelled=None) -> ReembedSummary:
    """Re-embed every stale face of the gallery (rule above); progress(done, total, name) after each."""
    summary = ReembedSummary()
    todo = stale_faces(gallery)
    for done, (name, face) in enumerate(todo, 1):
        if cancelled is not None and cancelled.is_set():
            summary.cancelled = True
            break
        crop = _stored_crop(face.thumbnail)
        try:
            found = _from_photo(engine, face.source, crop) if face.source and Path(face.source).is_file() else None
            if found is not None:
                gallery.replace_embedding(face.id, *found)
                summary.from_photo += 1
            elif crop is not None:
                gallery.replace_embedding(face.id, engine.embed_canonical([crop])[0])
                summary.from_crop += 1
            else:
                summary.failed.append((name, "its photo is gone and no usable crop was kept"))
        except FaceIdError as exc:
            summary.failed.append((name, str(exc)))
        if progress:
            progress(done, len(todo), name)
    return summary


def _stored_crop(thumbnail: bytes | None) -> np.ndarray | None:
    """The kept crop at CANONICAL_SIZE (older galleries kept the model-size crop: it is enlarged, a poorer input)."""
    if not thumbnail:
        return None
    try:
        crop = decode_image(thumbnail, "stored face")
    except FaceIdError:
        return None
    if crop.shape[:2] != (CANONICAL_SIZE, CANONICAL_SIZE):
        crop = cv2.resize(crop, (CANONICAL_SIZE, CANONICAL_SIZE), interpolation=cv2.INTER_CUBIC)
    return crop


def _from_photo(engine, source: str, crop: np.ndarray | None):
    """(embedding, new thumbnail) of the face in the source photo that was enrolled: the one whose aligned crop looks
    most like the kept one (the largest when none was kept); None when the photo holds no face now."""
    faces = engine.analyze_path(source).faces
    faces = [f for f in faces if f.canonical is not None] or faces
    if not faces:
        return None
    if crop is None or faces[0].canonical is None:
        chosen = faces[0]
    else:
        chosen = min(faces, key=lambda f: float(np.mean((f.canonical.astype(np.float32) - crop) ** 2)))
    return chosen.embedding, encode_png(chosen.canonical) if chosen.canonical is not None else None
