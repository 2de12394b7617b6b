"""FaceEngine: decode -> detect -> align -> embed, the whole path from a photo to an embedding."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ..paths import assets_dir, default_model_choice, installed_model_path, shipped_model_path
from .align import CANONICAL_SIZE, align_face, shrink_crop
from .detector import PHOTO_MIN_FACE, Face, FaceDetector
from .embedder import Embedder
from .errors import ModelError, NoFaceError
from .gallery import NewFace
from .imageio import encode_jpeg, encode_png, rescale_points
from .model_check import check_behaviour, check_operators
from .photo import Photo


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
    """A photo's faces (in the photo's own pixels, largest first) and an image of it to show, which may be a reduced
    decode (engine/photo.py): `scale` is its pixels per photo pixel."""

    image: np.ndarray
    faces: list[FaceResult]
    scale: float = 1.0

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


def _is_shipped(path: Path) -> bool:
    return path.resolve() == shipped_model_path().resolve()


class FaceEngine:
    """Loads its models when constructed (never at import); safe to share across one worker thread."""

    def __init__(self, model_path: Path | None = None, prefer: str = "auto", min_face_size: int = PHOTO_MIN_FACE,
                 source: str = "given with --model"):
        """source: where an explicit model_path came from, said to the user (the default model's is known here)."""
        self.detector = FaceDetector(assets_dir(), prefer, min_face_size=min_face_size)
        path, source = (Path(model_path), source) if model_path else default_model_choice()
        try:
            self.embedder = self._trusted_embedder(path, prefer)
            self.model_source = "shipped" if _is_shipped(path) else source
        except ModelError as exc:
            # A model in the data folder (installed by `trainer refresh`, or planted there) that fails must not stop
            # the app, nor be used: the shipped one still works. An explicit choice that fails is an error.
            if model_path or path != installed_model_path():
                raise
            self.embedder, self.model_source = Embedder(shipped_model_path(), prefer), "shipped"
            self.note = f"the installed model is unusable ({exc}); using the shipped model instead"
            return
        # Said to the user once, and in the status bar: a model that is not the shipped one is code from elsewhere.
        self.note = "" if self.model_source == "shipped" else (
            f"using the model {path.name} ({source}, sha256 {self.info.sha256[:12]}), not the shipped one")

    def _trusted_embedder(self, path: Path, prefer: str) -> Embedder:
        if _is_shipped(path):
            return Embedder(path, prefer)  # shipped with the app (and checked by its --self-test)
        check_operators(path)  # before ONNX Runtime builds anything: a graph with a loop is never run
        embedder = Embedder(path, prefer)
        check_behaviour(embedder, self.detector, assets_dir() / "samples", align_face)
        return embedder

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

    def describe(self, rgb: np.ndarray, faces: list[Face], reduced: int = 1) -> list[FaceResult]:
        """Align and embed faces found elsewhere (e.g. by a FaceTracker), all in one batch. `reduced`: rgb is the
        photo at 1/reduced scale, the faces in the photo's pixels."""
        if not faces:
            return []
        marks = [rescale_points(f.landmarks, 1 / reduced) for f in faces]
        if self.input_size <= CANONICAL_SIZE:  # align_face itself aligns at CANONICAL_SIZE and shrinks: keep both
            canonicals = [align_face(rgb, m, CANONICAL_SIZE) for m in marks]
            crops = np.stack([self.model_crop(c) for c in canonicals])
        else:
            canonicals = [None] * len(faces)
            crops = np.stack([align_face(rgb, m, self.input_size) for m in marks])
        embeddings = self.embedder.embed(crops)
        fingerprint = self.info.fingerprint
        return [FaceResult(f, c, e, fingerprint, k) for f, c, e, k in zip(faces, crops, embeddings, canonicals)]

    def analyze_path(self, path: str | Path) -> ImageResult:
        """Every face in a photo file, each step reading the decode it needs (engine/photo.py); no face is not an
        error here. Raises ImageError for a file that is not a usable image."""
        photo = Photo(path)
        image, reduced = photo.pixels(self.detector.photo_reduction(photo.longest))
        faces = self.detector.detect(image, reduced=reduced)
        if not faces:
            return ImageResult(image, [], 1.0 / reduced)
        source, source_reduced = photo.for_faces([f.landmarks for f in faces], coarsest=reduced)
        return ImageResult(image, self.describe(source, faces, source_reduced), 1.0 / reduced)

    def analyze_file(self, path: str | Path) -> ImageResult:
        """analyze_path for a photo that must hold a face; raises ImageError or NoFaceError with a clear message."""
        result = self.analyze_path(path)
        if not result.faces:
            raise NoFaceError(f"{Path(path).name}: no face found")
        return result
