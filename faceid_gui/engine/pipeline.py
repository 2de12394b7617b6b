"""FaceEngine: decode -> detect -> align -> embed, the whole path from a photo to an embedding."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ..paths import DEFAULT_MODEL_NAME, assets_dir, default_model_path, installed_model_path
from .align import CANONICAL_SIZE, align_face, shrink_crop
from .detector import PHOTO_MIN_FACE, Face, FaceDetector
from .embedder import Embedder
from .errors import ModelError, NoFaceError
from .gallery import NewFace
from .imageio import encode_jpeg, encode_png, load_image


@dataclass(frozen=True)
class FaceResult:
    """A detected face, its aligned crop, its embedding and the model that made it; `canonical` is the crop at the
    alignment's own CANONICAL_SIZE, from which the trainer derives every model input size."""

    face: Face
    crop: np.ndarray
    embedding: np.ndarray
    model_fingerprint: str
    canonical: np.ndarray | None = None

    def new_face(self, source: str | None) -> NewFace:
        """This face as a gallery entry, still marked with the model that embedded it. Its thumbnail is the canonical
        crop, lossless, so that another model can re-embed it even when the photo is gone (engine/reembed.py)."""
        thumbnail = encode_png(self.canonical) if self.canonical is not None else encode_jpeg(self.crop)
        return NewFace(self.embedding, self.model_fingerprint, thumbnail, source)


@dataclass(frozen=True)
class ImageResult:
    image: np.ndarray
    faces: list[FaceResult]  # largest first, never empty

    @property
    def chosen(self) -> FaceResult:
        """The face a one-face operation (compare, enrol, identify, embed) uses when a photo holds several."""
        return self.faces[0]

    @property
    def choice_note(self) -> str:
        """What to tell the user about that choice; empty for a photo of one face."""
        n = len(self.faces)
        return f"{n} faces found, using the largest" if n > 1 else ""


def best_pair(a: ImageResult, b: ImageResult) -> tuple[int, int]:
    """Which face of each photo to compare when either holds several: the two nearest each other. Comparing a group
    photo with a portrait asks "is this person in the group?", and the nearest face is the only sensible answer."""
    from .matching import distance

    pairs = [(distance(fa.embedding, fb.embedding), i, j)
             for i, fa in enumerate(a.faces) for j, fb in enumerate(b.faces)]
    _, i, j = min(pairs)
    return i, j


def pair_note(result: ImageResult, index: int) -> str:
    """What to tell the user about the face best_pair chose; empty for a photo of one face."""
    n = len(result.faces)
    return f"{n} faces found, using face {index + 1} (the one nearest the other photo)" if n > 1 else ""


class FaceEngine:
    """Loads its models when constructed (never at import); safe to share across one worker thread."""

    def __init__(self, model_path: Path | None = None, prefer: str = "auto", min_face_size: int = PHOTO_MIN_FACE):
        self.note = ""  # said to the user once: why the model in use is not the one they might expect
        path = Path(model_path) if model_path else default_model_path()
        try:
            self.embedder = Embedder(path, prefer)
        except ModelError as exc:
            # A damaged model that `trainer refresh` installed must not stop the app: the shipped one still works.
            if model_path or path != installed_model_path():
                raise
            self.embedder = Embedder(assets_dir() / DEFAULT_MODEL_NAME, prefer)
            self.note = f"the installed model is unusable ({exc}); using the shipped model instead"
        self.detector = FaceDetector(assets_dir(), prefer, min_face_size=min_face_size)

    @property
    def info(self):
        return self.embedder.info

    @property
    def provider(self):
        return self.embedder.provider

    @property
    def input_size(self) -> int:
        return self.embedder.info.input_size

    def align(self, rgb: np.ndarray, face: Face) -> np.ndarray:
        return align_face(rgb, face.landmarks, self.input_size)

    def model_crop(self, canonical: np.ndarray) -> np.ndarray:
        """The model's input from a canonical crop: the same pixels align() gives (align_face shrinks the same way)."""
        return shrink_crop(canonical, self.input_size)

    def embed_canonical(self, canonicals) -> np.ndarray:
        """Embeddings of canonical crops (re-embedding stored faces); models above CANONICAL_SIZE get them upscaled."""
        return self.embedder.embed(np.stack([self.model_crop(c) if self.input_size <= CANONICAL_SIZE else
                                             cv2.resize(c, (self.input_size,) * 2, interpolation=cv2.INTER_CUBIC)
                                             for c in canonicals]))

    def analyze(self, rgb: np.ndarray, min_face_size: int | None = None) -> list[FaceResult]:
        """Every face in the image (largest first), aligned and embedded in one batch."""
        return self.describe(rgb, self.detector.detect(rgb, min_face_size))

    def describe(self, rgb: np.ndarray, faces: list[Face]) -> list[FaceResult]:
        """Align and embed faces found elsewhere (e.g. by a FaceTracker), all in one batch."""
        if not faces:
            return []
        if self.input_size <= CANONICAL_SIZE:  # align_face itself aligns at CANONICAL_SIZE and shrinks: keep both
            canonicals = [align_face(rgb, f.landmarks, CANONICAL_SIZE) for f in faces]
            crops = np.stack([self.model_crop(c) for c in canonicals])
        else:
            canonicals, crops = [None] * len(faces), np.stack([self.align(rgb, f) for f in faces])
        embeddings = self.embedder.embed(crops)
        fingerprint = self.info.fingerprint
        return [FaceResult(f, c, e, fingerprint, k) for f, c, e, k in zip(faces, crops, embeddings, canonicals)]

    def analyze_file(self, path: str | Path) -> ImageResult:
        """Decode a photo and analyse it; raises ImageError or NoFaceError with a clear message."""
        rgb = load_image(path)
        faces = self.analyze(rgb)
        if not faces:
            raise NoFaceError(f"{Path(path).name}: no face found")
        return ImageResult(rgb, faces)
