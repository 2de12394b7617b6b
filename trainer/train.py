"""Training loop: Siamese pairs (or every pair in a P×K batch), contrastive loss, Adam with cyclical LR/β1."""
from __future__ import annotations

import csv
import json
import os
import random
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist

from .progress import Progress
from .sampling import LOOKALIKE_POOL, epoch_batches, lookalike_neighbours, steps_per_epoch
from .checkpoint import CheckpointSaver, restore
from .epoch import Step, train_one_epoch
from .face_target import FaceTargetHead, has_target
from .config import TrainConfig
from .validate import embed_all, evaluate
from .model import DenseNetEmbedding, ModelConfig, SiameseNetwork
from .onnx_weights import start_from
from .views import TeacherViews


def set_seed(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def distributed() -> tuple[int, int]:
    """(rank, world size); initialises the process group under torchrun."""
    if "WORLD_SIZE" in os.environ and int(os.environ["WORLD_SIZE"]) > 1:
        if not dist.is_initialized():
            dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def build_optimizer(model: torch.nn.Module, cfg: TrainConfig, steps_per_epoch: int):
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr_min, betas=(cfg.beta1_max, cfg.beta2),
                                 weight_decay=cfg.weight_decay)
    half_cycle = max(1, int(round(cfg.cycle_epochs * steps_per_epoch / 2)))
    # CyclicLR cycles Adam's β1 opposite to the LR when cycle_momentum is on.
    scheduler = torch.optim.lr_scheduler.CyclicLR(
        optimizer, base_lr=cfg.lr_min, max_lr=cfg.lr_max, step_size_up=half_cycle, mode="triangular",
        cycle_momentum=True, base_momentum=cfg.beta1_min, max_momentum=cfg.beta1_max)
    return optimizer, scheduler


@dataclass
class TrainingData:
    """Training and validation crops with their labels, and the teacher's targets where it has seen a photo."""

    train_crops: np.ndarray
    train_labels: np.ndarray
    val_crops: np.ndarray
    val_labels: np.ndarray
    teacher: tuple[np.ndarray, np.ndarray] | None = None  # (targets, known) in train_crops' order
    info: dict = field(default_factory=dict)
    face_targets: np.ndarray | None = None  # (N, teachers × 128) per-face targets in train_crops' order, 0 = unknown
    unlabelled_crops: np.ndarray | None = None  # faces without identity, only for the per-face target
    unlabelled_targets: np.ndarray | None = None
    views: TeacherViews | None = None  # stored augmented views of train_crops with their own targets
    unlabelled_views: TeacherViews | None = None
    start_weights: dict[str, np.ndarray] | None = None  # --init-from's weights as a pack stored them


def train(cfg: TrainConfig, data: TrainingData, log=print) -> dict:
    """Train; writes last.pt / best.pt / log.csv / config.json under cfg.out. Returns the best checkpoint's metrics."""
    rank, world = distributed()
    device = pick_device(cfg.device)
    if device.type == "cuda" and world > 1:
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    set_seed(cfg.seed)
    saver = CheckpointSaver(out)
    # --resume with nothing saved yet (a run stopped before its first checkpoint) starts as the run itself started
    if not cfg.resume:
        saver.forget_position()  # an earlier run's, in this folder: a later --resume must not go on from it
    saved = saver.latest() if cfg.resume else None
    resuming = saved is not None
    if saved:  # the network the run started with, even where a preset has changed since
        cfg.model = ModelConfig(**saved["model_config"])
    encoder = DenseNetEmbedding(cfg.model)
    if cfg.init_from and not resuming:
        start_from(encoder, cfg, data)
    encoder = encoder.to(device).to(memory_format=torch.channels_last)
    siamese = SiameseNetwork(encoder)
    if world > 1:
        siamese = torch.nn.parallel.DistributedDataParallel(siamese, device_ids=[device.index] if device.type == "cuda" else None)
    face_head = None
    if data.face_targets is not None and cfg.embed_weight > 0:
        face_head = FaceTargetHead(cfg.embedding_size, data.face_targets.shape[1],
                                   rotation=cfg.face_target == "code").to(device)
    trained = torch.nn.ModuleList([m for m in (encoder, face_head) if m is not None])
    optimizer, scheduler = build_optimizer(trained, cfg, steps_per_epoch(cfg, data.train_labels, world))
    use_amp = cfg.amp and device.type == "cuda"
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp)
    start_epoch, history, position = 0, [], None
    if resuming:
        restore(saved, encoder, optimizer, scheduler, scaler, face_head)
        start_epoch, history, saver.best = saved["epoch"] + 1, saved.get("history", []), saved.get("best")
        position = saved.get("position")
        log(f"resumed in epoch {start_epoch + 1} after batch {position['done']}" if position
            else f"resumed from epoch {start_epoch}")
    elif face_head is not None:
        log(f"per-face head fitted, cosine distance {_fit_face_head(face_head, encoder, data, cfg):.4f}")
    if rank == 0:
        (out / "config.json").write_text(json.dumps({"train": cfg.to_dict(), "data": data.info}, indent=2))
    teacher = None
    if data.teacher is not None and (cfg.distill_weight > 0 or cfg.neighbour_weight > 0):
        teacher = tuple(torch.from_numpy(t).to(device) for t in data.teacher)
    face_targets = face_known = unlabelled = None
    if face_head is not None:
        face_targets = torch.from_numpy(data.face_targets).to(device)
        face_known = has_target(face_targets)
        if data.unlabelled_crops is not None and len(data.unlabelled_crops):
            unlabelled = (torch.from_numpy(data.unlabelled_crops).to(device),
                          torch.from_numpy(data.unlabelled_targets).to(device))
    step = Step(siamese, optimizer, scheduler, scaler, use_amp, torch.from_numpy(data.train_crops).to(device),
                torch.from_numpy(data.train_labels).to(device), teacher, face_targets=face_targets,
                face_known=face_known, face_head=face_head, unlabelled=unlabelled,
                views=data.views.to(device) if cfg.view_share > 0 and data.views else None,
                unlabelled_views=data.unlabelled_views.to(device) if cfg.view_share > 0 and unlabelled
                and data.unlabelled_views else None)
    val_crops = torch.from_numpy(data.val_crops).to(device)
    if cfg.init_from and start_epoch == 0 and rank == 0:  # where fine-tuning starts, to see what each epoch adds
        log(f"start val_auc={evaluate(encoder, val_crops, data.val_labels, cfg)['roc_auc']:.4f}")
    neighbours = None

    def run_state(epoch: int, metrics: dict | None) -> dict:
        return {"model": encoder.state_dict(), "model_config": cfg.model.to_dict(), "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(), "scaler": scaler.state_dict(), "epoch": epoch,
                "train_config": cfg.to_dict(), "metrics": metrics, "history": history, "data": data.info,
                "torch_rng": torch.get_rng_state(), "face_head": face_head.state_dict() if face_head else None}

    def save_position(at: dict) -> None:  # mid-epoch: everything but the metrics, which an epoch's end measures
        saver.save_position(dict(run_state(at["epoch"] - 1, None), position=at))

    for epoch in range(start_epoch, cfg.epochs):
        if position:  # the stopped epoch's own batches: look-alikes measured now would differ
            batches = position["batches"]
        else:
            if cfg.lookalike_batches > 0 and (neighbours is None or cfg.lookalike_space == "student"):
                neighbours = _lookalikes(cfg, data, encoder, step.crops)
            batches = epoch_batches(cfg, data.train_labels, epoch, rank, world, neighbours)
        progress = (Progress(len(batches), f"epoch {epoch + 1}/{cfg.epochs}", position["done"] if position else 0)
                    if rank == 0 else None)
        loss, seen, seconds = train_one_epoch(step, cfg, batches, epoch, progress, position,
                                              save_position if world == 1 else None)
        position = None
        if progress:
            progress.close()
        if rank != 0:
            continue
        metrics = evaluate(encoder, val_crops, data.val_labels, cfg)
        row = {"epoch": epoch + 1, "loss": loss, "lr": scheduler.get_last_lr()[0],
               "images_per_s": seen * world / seconds, "epoch_s": seconds, "val_auc": metrics["roc_auc"],
               "val_best_accuracy": metrics["best_accuracy"], "val_kfold_accuracy": metrics["kfold_accuracy"],
               "val_eer": metrics["eer"], "threshold": metrics["threshold"]}
        history.append(row)
        log(" ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()))
        state = run_state(epoch, metrics)
        # a run of several cycles keeps each cycle's end: their weight average embeds better than any one
        cycles_done = (epoch + 1) / cfg.cycle_epochs
        cycle_end = cfg.cycle_epochs < cfg.epochs and cycles_done == round(cycles_done)
        saver.save(state, metrics, epoch + 1, cycle_end=cycle_end)
        _write_log(out, history)
    if world > 1:
        dist.barrier()
    return saver.best or {}


def _lookalikes(cfg: TrainConfig, data: TrainingData, encoder: DenseNetEmbedding, crops: torch.Tensor) -> dict:
    """Each person's look-alikes, by the teachers' embeddings or by the student's as it is now. The student's view
    comes from two photos a person, a pass of a few percent of an epoch's compute."""
    if cfg.lookalike_space == "teacher":
        return lookalike_neighbours(data.train_labels, *data.teacher, cfg.p * LOOKALIKE_POOL)
    labels = data.train_labels
    first = np.unique(labels, return_index=True)[1]
    last = len(labels) - 1 - np.unique(labels[::-1], return_index=True)[1]
    rows = np.union1d(first, last)
    embeddings = embed_all(encoder, crops[torch.from_numpy(rows).to(crops.device)], cfg)
    return lookalike_neighbours(labels[rows], embeddings, np.ones(len(rows), bool), cfg.p * LOOKALIKE_POOL)


def _fit_face_head(head: FaceTargetHead, encoder: DenseNetEmbedding, data: TrainingData, cfg: TrainConfig) -> float:
    """Start the per-face head at the least-squares map of the student as it is (up to 4,096 training faces)."""
    known = np.flatnonzero(has_target(data.face_targets))
    rows = np.sort(np.random.default_rng(cfg.seed).permutation(known)[:4096])
    device = next(head.parameters()).device
    embeddings = embed_all(encoder, torch.from_numpy(data.train_crops[rows]).to(device), cfg)
    return head.fit(torch.from_numpy(embeddings).to(device), torch.from_numpy(data.face_targets[rows]).to(device))


def _write_log(out: Path, history: list[dict]) -> None:
    with open(out / "log.csv", "w", newline="") as fh:
        columns = list(dict.fromkeys(k for row in history for k in row))  # rows of older runs may lack newer columns
        writer = csv.DictWriter(fh, fieldnames=columns)
        writer.writeheader()
        writer.writerows(history)
    (out / "log.json").write_text(json.dumps(history, indent=1))
