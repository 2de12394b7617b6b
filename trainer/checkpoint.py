"""Checkpoints (in the manner of timm's CheckpointSaver): atomic writes, resume, the encoder alone, installation.

A checkpoint is one torch file: the encoder's weights and config, the optimiser, schedule and scaler state for
resuming, the training config, the validation metrics and history, the data description and the RNG state.
"""
from __future__ import annotations

import io
import os
import shutil
import tempfile
from pathlib import Path

import torch

from .errors import TrainerError
from .grow import can_grow, grow_state
from .model import DenseNetEmbedding, ModelConfig


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write via a synced temp file in the same folder and os.replace: readers never see half a file."""
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


def save_checkpoint(path: Path, state: dict) -> None:
    buffer = io.BytesIO()
    torch.save(state, buffer)
    atomic_write_bytes(path, buffer.getvalue())


def load_checkpoint(path: Path) -> dict:
    try:
        return torch.load(path, map_location="cpu", weights_only=False)
    except FileNotFoundError:
        raise TrainerError(f"checkpoint not found: {path}") from None
    except Exception as exc:  # noqa: BLE001 - torch raises many types for a file that is not a checkpoint
        raise TrainerError(f"cannot read checkpoint {path}: {exc}") from None


def load_encoder(path: Path) -> tuple[DenseNetEmbedding, dict]:
    """The embedding network of a checkpoint, in eval mode, and the whole checkpoint state."""
    state = load_checkpoint(path)
    encoder = DenseNetEmbedding(ModelConfig(**state["model_config"]))
    encoder.load_state_dict(state["model"])
    return encoder.eval(), state


def load_weights(encoder: DenseNetEmbedding, path: Path) -> list[str]:
    """Start from another run's weights (fine-tuning), or a model file's (.onnx, as `trainer export` wrote it); the
    networks must agree but for their input size (global pooling makes the weights size-independent), or this one
    must be a grown version of theirs (trainer/grow.py). Returns the
    BatchNorms a model file had folded, which need `onnx_weights.recalibrate_folded` before training."""
    folded: list[str] = []
    if Path(path).suffix == ".onnx":
        from .onnx_weights import state_from_onnx

        weights, config, folded = state_from_onnx(path)
        weights = {k: v for k, v in weights.items() if not k.endswith("num_batches_tracked")}
        weights |= {k: v for k, v in encoder.state_dict().items()  # ONNX keeps no counters: only its BNs get ours
                    if k.endswith("num_batches_tracked") and k.replace("num_batches_tracked", "weight") in weights}
    else:
        state = load_checkpoint(path)
        weights, config = state["model"], state["model_config"]
    theirs = ModelConfig(**config)
    if not can_grow(theirs, encoder.config):  # the same network is the smallest growth: every weight where it was
        raise TrainerError(f"{path} holds a different network ({config.get('name')}) than this run "
                           f"({encoder.config.name}), and not a smaller one it can grow from")
    weights = grow_state(weights, theirs, encoder.state_dict(), encoder.config)
    encoder.load_state_dict(weights)
    return folded


def restore(state: dict, encoder, optimizer, scheduler, scaler, face_head=None) -> None:
    """Put a run back where its last checkpoint (`state`) left it."""
    saved_head = state.get("face_head")
    if (saved_head is None) != (face_head is None):  # the optimizer's parameters would not match
        had = "without" if saved_head is None else "with"
        raise TrainerError(f"this run was trained {had} a per-face target (--embed-weight); resume it with the flags "
                           "it started with, or start a new run from it with --init-from")
    encoder.load_state_dict(state["model"])
    if face_head is not None:
        face_head.load_state_dict(saved_head)
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    scaler.load_state_dict(state["scaler"])
    torch.set_rng_state(state["torch_rng"])


# what only --resume needs
RUN_STATE = ("optimizer", "scheduler", "scaler", "torch_rng", "face_head", "best", "position")


def without_run_state(state: dict) -> dict:
    """A checkpoint's state without what only --resume needs: for `trainer export`, `--init-from` and averaging."""
    return {k: v for k, v in state.items() if k not in RUN_STATE}


class CheckpointSaver:
    """Keeps `last.pt` after every epoch, `best.pt` whenever the watched metric improves (higher is better),
    `cycle-end-<epoch>.pt` (weights only) where a learning-rate cycle ends, for `trainer average`, and `mid-epoch.pt`
    every few minutes inside an epoch, for --resume alone (an epoch on a CPU outlasts many a session)."""

    POSITION = "mid-epoch.pt"

    def __init__(self, out: Path, metric: str = "roc_auc", best: dict | None = None):
        self.out, self.metric, self.best = Path(out), metric, best

    def latest(self) -> dict | None:
        """The newest state to resume from: mid-epoch.pt where it is past last.pt's epoch, else last.pt."""
        files = (self.out / "last.pt", self.out / self.POSITION)
        last, mid = (load_checkpoint(f) if f.is_file() else None for f in files)
        return mid if mid is not None and (last is None or mid["epoch"] >= last["epoch"]) else last

    def save_position(self, state: dict) -> None:
        save_checkpoint(self.out / self.POSITION, dict(state, best=self.best))

    def forget_position(self) -> None:
        (self.out / self.POSITION).unlink(missing_ok=True)

    def save(self, state: dict, metrics: dict, epoch: int, cycle_end: bool = False) -> bool:
        if cycle_end:
            save_checkpoint(self.out / f"cycle-end-{epoch}.pt", without_run_state(state))
        improved = self.best is None or metrics[self.metric] > self.best[self.metric]
        if improved:
            self.best = dict(metrics, epoch=epoch)
            save_checkpoint(self.out / "best.pt", dict(state, best=self.best))
        save_checkpoint(self.out / "last.pt", dict(state, best=self.best))
        self.forget_position()
        return improved


def install_model(model: Path, target: Path) -> Path:
    """Atomically place an exported model where the app looks; the previous one is kept as .previous.onnx."""
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists():
        shutil.copy2(target, target.with_suffix(".previous.onnx"))
    atomic_write_bytes(target, Path(model).read_bytes())
    return target
