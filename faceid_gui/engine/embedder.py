"""The embedding network on ONNX Runtime, described by the metadata stored in the model file."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np

from .errors import ModelError
from .model_file import ModelFile
from .runtime import create_session


@dataclass(frozen=True, kw_only=True)
class ModelInfo(ModelFile):
    """A model file's contract plus where it was read from."""

    path: Path
    sha256: str

    @property
    def fingerprint(self) -> str:
        """Names the model an embedding came from: embeddings of different models must never be compared."""
        return self.sha256[:16]

    @property
    def display_name(self) -> str:
        suffix = "" if self.trained else " (untrained)"
        return f"{self.path.name} [{self.architecture}]{suffix}"


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


# Faces per ONNX Runtime run. On the CPU a run's activations should stay in the cache: the 96 px network took 2.01
# CPU-ms a face in runs of 4 against 2.19 in runs of 16 (2.06 in 8, 2.31 in 1; mirror-averaged 4.04 against 4.25),
# and runs of 64 had made a 200-face photo peak at 409 MB (301 MB with 16). A GPU wants larger runs (16 as before;
# not measured here).
CPU_BATCH = 4
GPU_BATCH = 16


class Embedder:
    """Maps aligned RGB crops to embeddings; refuses models it cannot interpret."""

    def __init__(self, model_path: Path, prefer: str = "auto"):
        model_path = Path(model_path)
        self.session, self.provider = create_session(model_path, prefer)
        try:
            model = ModelFile.from_metadata(self.session.get_modelmeta().custom_metadata_map)
        except ModelError as exc:
            raise ModelError(f"{model_path.name}: {exc}") from None
        inputs = self.session.get_inputs()
        outputs = self.session.get_outputs()
        if len(inputs) != 1 or len(outputs) < 1:
            raise ModelError(f"{model_path.name}: expected one input and one output")
        self.input_name = inputs[0].name
        size = model.input_size
        shape = inputs[0].shape  # [batch, 3, S, S]
        if len(shape) != 4 or shape[1] != 3 or shape[2] != size or shape[3] != size:
            raise ModelError(f"{model_path.name}: input shape {shape} does not match its metadata (3x{size}x{size})")
        out_dim = outputs[0].shape[-1]
        if out_dim != model.embedding_size:
            raise ModelError(f"{model_path.name}: output size {out_dim} does not match embedding_size metadata")
        self.info = ModelInfo(**{f.name: getattr(model, f.name) for f in fields(ModelFile)},
                              path=model_path, sha256=file_sha256(model_path))
        self._mean = np.asarray(self.info.mean, np.float32).reshape(1, 3, 1, 1)
        self._std = np.asarray(self.info.std, np.float32).reshape(1, 3, 1, 1)

    def preprocess(self, crops: np.ndarray) -> np.ndarray:
        """(N, S, S, 3) uint8 RGB -> normalised NCHW float32, exactly as in training."""
        x = crops.astype(np.float32).transpose(0, 3, 1, 2) * (1.0 / 255.0)
        return (x - self._mean) / self._std

    def embed(self, crops: np.ndarray, batch_size: int | None = None, run_options=None) -> np.ndarray:
        """Embeddings (N, D) float32 for aligned crops (N, S, S, 3) uint8 (run_options: ORT's, e.g. to stop it),
        in runs of `batch_size` faces (default: the provider's)."""
        batch_size = batch_size or (CPU_BATCH if self.provider.name == "CPU" else GPU_BATCH)
        crops = np.asarray(crops)
        if crops.ndim == 3:
            crops = crops[None]
        size = self.info.input_size
        if crops.shape[1:] != (size, size, 3):
            raise ValueError(f"crops must be (N, {size}, {size}, 3), got {crops.shape}")
        if len(crops) == 0:
            return np.empty((0, self.info.embedding_size), np.float32)
        parts = [self.session.run(None, {self.input_name: self.preprocess(crops[i:i + batch_size])}, run_options)[0]
                 for i in range(0, len(crops), batch_size)]
        out = np.concatenate(parts).astype(np.float32)
        if out.shape != (len(crops), self.info.embedding_size) or not np.isfinite(out).all():
            # A NaN embedding would compare as "different people": an error must never become a verdict.
            raise ModelError(f"{self.info.path.name} produced an invalid embedding (NaN, infinite or misshapen)")
        return out
