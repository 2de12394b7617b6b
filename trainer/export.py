"""Export a checkpoint's embedding branch to ONNX with the model-file contract, verified against torch."""
from __future__ import annotations

import datetime as dt
import io
import sys
import tempfile
from pathlib import Path

import numpy as np
import onnx
import torch

from faceid_gui.engine.embedder import Embedder
from faceid_gui.engine.model_file import model_metadata, stranger_evidence

from .checkpoint import atomic_write_bytes, load_encoder
from .errors import ExportRefused, TrainerError
from .grow import padded_for_runtime
from .model import DenseNetEmbedding

PARITY_TOLERANCE = 1e-4  # largest |ONNX Runtime - torch| accepted on one embedding value


def metadata_for(encoder: DenseNetEmbedding, metrics: dict, trained_on: str, margin: float | None = None,
                 trained: bool = True, extra: dict | None = None) -> dict[str, str]:
    """The model file's metadata: the network's contract and what validation measured (threshold, rule, curve)."""
    cfg = encoder.config
    scalars = {k: v for k, v in metrics.items() if isinstance(v, (int, float, str))}
    return model_metadata(
        embedding_size=cfg.embedding_size, input_size=cfg.input_size, mean=cfg.mean, std=cfg.std,
        threshold=metrics["threshold"], margin=margin, trained_on=trained_on,
        architecture=cfg.describe(),
        metrics={"validation": scalars}, rate_curve=metrics.get("rate_curve") or (),
        mean_face_frr=metrics.get("mean_face_frr") or {}, trained=trained,
        extra={"model_config": cfg.to_dict(), "threshold_rule": metrics.get("threshold_rule"),
               "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"), **(extra or {})})


def to_onnx_bytes(encoder: DenseNetEmbedding, metadata: dict[str, str]) -> bytes:
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
        entry.key, entry.value = key, value
    model.producer_name = "faceid-trainer"
    return model.SerializeToString()


def export(encoder: DenseNetEmbedding, path: Path, metadata: dict[str, str], check_crops: np.ndarray) -> float:
    """Write the ONNX model only if ONNX Runtime agrees with torch on `check_crops` (N, S, S, 3) uint8.

    Returns the largest absolute difference seen; raises ExportRefused otherwise.
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
    if not np.isfinite(worst) or worst > PARITY_TOLERANCE:
        raise ExportRefused(f"export refused: ONNX Runtime and torch disagree by {worst:.2e} (> {PARITY_TOLERANCE:.0e})")
    atomic_write_bytes(path, data)
    return worst


def describe_training(data: dict) -> str:
    """What a model was trained on, in words (the data set's folder name and counts, never a path)."""
    name = Path(str(data.get("data", "?"))).name
    text = (f"{name} ({data.get('layout', '?')} layout): {data.get('identities', {}).get('train', '?')} training "
            f"identities, {data.get('images_per_split', {}).get('train', '?')} aligned photos")
    if data.get("teacher_photos"):
        text += f", {data.get('teachers', 'dlib')} teacher embeddings for {data['teacher_photos']}"
    if data.get("unlabelled_photos"):
        text += f", {data['unlabelled_photos']} unlabelled faces"
    return text


PATH_OPTIONS = ("out", "init_from", "unlabelled_cache")  # folders of the training machine: only their names travel


def _without_paths(train_config: dict) -> dict:
    return {k: (Path(v).name if k in PATH_OPTIONS and isinstance(v, str) and v else v) for k, v in train_config.items()}


def open_set_rows(embeddings: np.ndarray, labels: np.ndarray, metrics: dict) -> list[dict]:
    """What the app's 1:N rule does on these people: FPIR and FNIR with 10, 100 and 300 of them enrolled (3 photos
    each), the rest as strangers, at the default target (engine/open_set.py)."""
    from faceid_gui.engine import open_set_report

    return open_set_report(embeddings, labels, metrics["rate_curve"], stranger_pairs=stranger_evidence(metrics),
                           mean_face_frr={int(k): v for k, v in (metrics.get("mean_face_frr") or {}).items()})


def export_checkpoint(checkpoint: Path, output: Path, validation: tuple[np.ndarray, np.ndarray] | None = None,
                      description: str = "", mirror_average: bool = False) -> None:
    """Export a checkpoint; with validation (crops, labels) the metrics and rate curve are measured afresh.
    mirror_average: the graph embeds each face and its mirror image and averages them (needs validation, since the
    threshold and rate curve change)."""
    from .train import TrainConfig
    from .validate import calibrate, embed_all

    encoder, state = load_encoder(checkpoint)
    encoder = padded_for_runtime(encoder)  # runs built before the presets were padded
    config = TrainConfig.from_dict(state["train_config"])
    if mirror_average:
        if validation is None:
            raise TrainerError("--mirror-average needs --data: the threshold must be measured again")
        encoder.config.mirror_average = config.model.mirror_average = True
    metrics = state["metrics"]
    open_set = None
    if validation is not None:
        embeddings = embed_all(encoder, torch.from_numpy(validation[0]), config)
        metrics = calibrate(embeddings, validation[1], config)
        open_set = open_set_rows(embeddings, validation[1], metrics)
    data = state.get("data", {})
    trained_on = description or describe_training(data)
    meta = metadata_for(encoder, metrics, trained_on, margin=config.margin,
                        extra={"epoch": state["epoch"] + 1, "train_config": _without_paths(config.to_dict()), "data_info": data,
                               "description": trained_on, "open_set_validation": open_set})
    if validation is not None:
        crops = validation[0][:32]  # parity is checked on real aligned faces
    else:
        size = encoder.config.input_size
        crops = np.random.default_rng(0).integers(0, 256, (8, size, size, 3), dtype=np.uint8)
    worst = export(encoder, output, meta, crops)
    print(f"export parity: max |onnxruntime - torch| = {worst:.2e}", file=sys.stderr)
