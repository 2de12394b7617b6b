"""The embedding network on ONNX Runtime, described by the metadata stored in the model file."""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import ModelError
from .runtime import ProviderStatus, create_session

METADATA_PREFIX = "faceid."
REQUIRED_KEYS = ("embedding_size", "input_size", "mean", "std", "threshold")


@dataclass(frozen=True)
class ModelInfo:
    path: Path
    sha256: str
    embedding_size: int
    input_size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    threshold: float
    margin: float | None = None
    architecture: str = "unknown"
    trained_on: str = "unknown"
    trained: bool = True
    metrics: dict = field(default_factory=dict)
    metadata: dict = field(default_factory=dict)

    @property
    def fingerprint(self) -> str:
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


def read_metadata(raw: dict[str, str]) -> dict:
    """Decode faceid.* metadata_props (each value is JSON)."""
    out = {}
    for key, value in raw.items():
        if key.startswith(METADATA_PREFIX):
            try:
                out[key[len(METADATA_PREFIX):]] = json.loads(value)
            except json.JSONDecodeError:
                out[key[len(METADATA_PREFIX):]] = value
    return out


class Embedder:
    """Maps aligned RGB crops to embeddings; refuses models it cannot interpret."""

    def __init__(self, model_path: Path, prefer: str = "auto"):
        model_path = Path(model_path)
        self.session, self.provider = create_session(model_path, prefer)
        meta = read_metadata(self.session.get_modelmeta().custom_metadata_map)
        missing = [k for k in REQUIRED_KEYS if k not in meta]
        if missing:
            raise ModelError(f"{model_path.name} is not a faceid embedding model (metadata lacks {', '.join(missing)})")
        inputs = self.session.get_inputs()
        outputs = self.session.get_outputs()
        if len(inputs) != 1 or len(outputs) < 1:
            raise ModelError(f"{model_path.name}: expected one input and one output")
        self.input_name = inputs[0].name
        try:
            size = _positive_int(meta["input_size"])
            embedding_size = _positive_int(meta["embedding_size"])
            mean, std = _triple(meta["mean"]), _triple(meta["std"])
            if not all(v > 0 for v in std):
                raise ValueError("std")
            threshold = float(meta["threshold"])
            if not (np.isfinite(threshold) and threshold > 0):
                raise ValueError("threshold")
        except (TypeError, ValueError, OverflowError):
            bad = {k: meta[k] for k in REQUIRED_KEYS}
            raise ModelError(f"{model_path.name}: invalid faceid metadata {json.dumps(bad, default=str)[:200]}") from None
        shape = inputs[0].shape  # [batch, 3, S, S]
        if len(shape) != 4 or shape[1] != 3 or shape[2] != size or shape[3] != size:
            raise ModelError(f"{model_path.name}: input shape {shape} does not match its metadata (3x{size}x{size})")
        out_dim = outputs[0].shape[-1]
        if out_dim != embedding_size:
            raise ModelError(f"{model_path.name}: output size {out_dim} does not match embedding_size metadata")
        self.info = ModelInfo(
            path=model_path, sha256=file_sha256(model_path),
            embedding_size=embedding_size, input_size=size, mean=mean, std=std, threshold=threshold,
            margin=meta.get("margin"),
            architecture=str(meta.get("architecture", "unknown")), trained_on=str(meta.get("trained_on", "unknown")),
            trained=bool(meta.get("trained", True)), metrics=meta.get("metrics") if isinstance(meta.get("metrics"), dict) else {},
            metadata=meta,
        )
        self._mean = np.asarray(self.info.mean, np.float32).reshape(1, 3, 1, 1)
        self._std = np.asarray(self.info.std, np.float32).reshape(1, 3, 1, 1)

    @property
    def provider_status(self) -> ProviderStatus:
        return self.provider

    def preprocess(self, crops: np.ndarray) -> np.ndarray:
        """(N, S, S, 3) uint8 RGB -> normalised NCHW float32, exactly as in training."""
        x = crops.astype(np.float32).transpose(0, 3, 1, 2) * (1.0 / 255.0)
        return (x - self._mean) / self._std

    def embed(self, crops: np.ndarray, batch_size: int = 64) -> np.ndarray:
        """Embeddings (N, D) float32 for aligned crops (N, S, S, 3) uint8."""
        crops = np.asarray(crops)
        if crops.ndim == 3:
            crops = crops[None]
        size = self.info.input_size
        if crops.shape[1:] != (size, size, 3):
            raise ValueError(f"crops must be (N, {size}, {size}, 3), got {crops.shape}")
        if len(crops) == 0:
            return np.empty((0, self.info.embedding_size), np.float32)
        parts = [self.session.run(None, {self.input_name: self.preprocess(crops[i:i + batch_size])})[0]
                 for i in range(0, len(crops), batch_size)]
        out = np.concatenate(parts).astype(np.float32)
        if out.shape != (len(crops), self.info.embedding_size) or not np.isfinite(out).all():
            # A NaN embedding would compare as "different people": an error must never become a verdict.
            raise ModelError(f"{self.info.path.name} produced an invalid embedding (NaN, infinite or misshapen)")
        return out


def _positive_int(value) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)) or int(value) != float(value) or int(value) <= 0:
        raise ValueError(value)
    return int(value)


def _triple(value) -> tuple[float, float, float]:
    if not isinstance(value, (list, tuple)):
        raise ValueError(value)
    values = tuple(float(v) for v in value)
    if len(values) != 3 or not all(np.isfinite(values)):
        raise ValueError(value)
    return values
