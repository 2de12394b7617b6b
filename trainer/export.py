"""Export the embedding branch to ONNX with the metadata the app reads, verified against torch."""
from __future__ import annotations

import datetime as dt
import io
import json
import os
import tempfile
from pathlib import Path

import numpy as np
import onnx
import torch

from faceid_gui.engine.embedder import METADATA_PREFIX, Embedder
from faceid_gui.engine.errors import ModelError

from .model import DenseNetEmbedding

# Normalisation shared by training and the exported model: RGB in [0, 1] mapped to [-1, 1].
MEAN = (0.5, 0.5, 0.5)
STD = (0.5, 0.5, 0.5)


def build_metadata(encoder: DenseNetEmbedding, threshold: float, margin: float | None, trained_on: str,
                   metrics: dict | None = None, trained: bool = True, extra: dict | None = None) -> dict:
    cfg = encoder.config
    meta = {
        "format_version": 1,
        "embedding_size": cfg.embedding_size,
        "input_size": cfg.input_size,
        "mean": list(MEAN),
        "std": list(STD),
        "color": "RGB",
        "alignment": "5-point similarity to ArcFace template scaled to input_size",
        "distance": "euclidean, sqrt(sum((a-b)^2) + 1e-6)",
        "threshold": float(threshold),
        "margin": margin,
        "architecture": cfg.name,
        "model_config": cfg.to_dict(),
        "trained": trained,
        "trained_on": trained_on,
        "metrics": metrics or {},
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    }
    meta.update(extra or {})
    return meta


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write via a temp file in the same folder and os.replace: readers never see half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)  # models are not secret; mkstemp would leave 0600
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def to_onnx_bytes(encoder: DenseNetEmbedding, metadata: dict) -> bytes:
    encoder = encoder.eval().float().to(memory_format=torch.contiguous_format).cpu()
    size = encoder.config.input_size
    buffer = io.BytesIO()
    with torch.no_grad():
        torch.onnx.export(encoder, torch.zeros(2, 3, size, size), buffer, input_names=["image"],
                          output_names=["embedding"], dynamic_axes={"image": {0: "batch"}, "embedding": {0: "batch"}},
                          opset_version=17, dynamo=False)
    model = onnx.load_from_string(buffer.getvalue())
    onnx.checker.check_model(model)
    for key, value in metadata.items():
        entry = model.metadata_props.add()
        entry.key = METADATA_PREFIX + key
        entry.value = json.dumps(value)
    model.producer_name = "faceid-trainer"
    return model.SerializeToString()


def export(encoder: DenseNetEmbedding, path: Path, metadata: dict, check_crops: np.ndarray,
           tolerance: float = 1e-4) -> float:
    """Write the ONNX model only if ONNX Runtime agrees with torch on `check_crops` (N, S, S, 3) uint8.

    Returns the largest absolute difference seen.
    """
    data = to_onnx_bytes(encoder, metadata)
    with tempfile.TemporaryDirectory() as tmp:
        candidate = Path(tmp) / "candidate.onnx"
        candidate.write_bytes(data)
        runtime = Embedder(candidate, prefer="cpu")
        got = runtime.embed(check_crops)
        with torch.no_grad():
            want = encoder.eval()(torch.from_numpy(runtime.preprocess(check_crops))).numpy()
    worst = float(np.abs(got - want).max())
    if not np.isfinite(worst) or worst > tolerance:
        raise ModelError(f"export refused: ONNX Runtime and torch disagree by {worst:.2e} (> {tolerance:.0e})")
    atomic_write_bytes(path, data)
    return worst
