"""Training loop: Siamese pairs (or every pair in a P×K batch), contrastive loss, Adam with cyclical LR/β1."""
from __future__ import annotations

import csv
import json
import os
import random
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist

from .augment import to_input
from .progress import Progress
from .sampling import LOOKALIKE_POOL, epoch_batches, lookalike_neighbours, steps_per_epoch
from .checkpoint import CheckpointSaver, load_checkpoint, restore
from .face_target import FaceTargetHead, has_target
from .loss import batch_contrastive_loss, contrastive_loss, teacher_distance_terms
from .config import TrainConfig
from .validate import embed_all, evaluate
from .model import DenseNetEmbedding, ModelConfig, SiameseNetwork
from .onnx_weights import start_from
from .views import TeacherViews, draw_with_views, view_rows


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


@dataclass
class _Step:
    """What one optimisation step needs, built once per run."""

    siamese: torch.nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: object
    scaler: torch.amp.GradScaler
    use_amp: bool
    crops: torch.Tensor
    labels: torch.Tensor
    teacher: tuple[torch.Tensor, torch.Tensor] | None
    face_targets: torch.Tensor | None = None
    face_known: torch.Tensor | None = None  # has_target(face_targets), computed once
    face_head: FaceTargetHead | None = None
    unlabelled: tuple[torch.Tensor, torch.Tensor] | None = None  # (crops, targets)
    views: TeacherViews | None = None
    unlabelled_views: TeacherViews | None = None


def _face_target_term(step: "_Step", cfg: TrainConfig, rows: torch.Tensor, embeddings: torch.Tensor,
                      generator: torch.Generator, choice) -> torch.Tensor:
    """The per-face target on the batch's labelled faces the teachers saw, plus a draw of unlabelled faces."""
    known = step.face_known[rows]
    wanted = step.face_targets[rows]
    if choice is not None:
        wanted = view_rows(wanted, step.views.face_targets, rows, choice)
    student, wanted = embeddings[known], wanted[known]
    if step.unlabelled is not None and cfg.unlabelled_per_batch > 0:
        crops, unl_targets = step.unlabelled
        pick = torch.randint(len(crops), (cfg.unlabelled_per_batch,), generator=generator).to(crops.device)
        params = views_choice = None
        if step.unlabelled_views is not None:
            params, views_choice = draw_with_views(step.unlabelled_views, pick, cfg.view_share, cfg.augmentation,
                                                   generator)
        extra = _encoder(step.siamese)(to_input(crops[pick], cfg, generator, True, params)).float()
        extra_wanted = unl_targets[pick]
        if views_choice is not None:
            extra_wanted = view_rows(extra_wanted, step.unlabelled_views.face_targets, pick, views_choice)
        student, wanted = torch.cat([student, extra]), torch.cat([wanted, extra_wanted])
    return step.face_head(student, wanted)


def _encoder(siamese: torch.nn.Module) -> torch.nn.Module:
    return getattr(siamese, "module", siamese).encoder


def train_one_epoch(step: _Step, cfg: TrainConfig, batches: list[np.ndarray], epoch: int,
                    progress: Progress | None) -> tuple[float, int]:
    """One pass over the epoch's batches; returns (mean loss, images seen)."""
    device = step.crops.device
    generator = torch.Generator().manual_seed(cfg.seed * 1000 + epoch)
    step.siamese.train()
    seen, loss_sum, t0, choice = 0, 0.0, time.time(), None
    for batch in batches:
        batch_t = torch.from_numpy(batch).to(device)
        with torch.autocast(device.type, dtype=torch.float16, enabled=step.use_amp):
            if cfg.pair_mode == "pairs":
                a = to_input(step.crops[batch_t[:, 0]], cfg, generator, True)
                b = to_input(step.crops[batch_t[:, 1]], cfg, generator, True)
                ea, eb = step.siamese(a, b)
                loss = contrastive_loss(ea.float(), eb.float(), batch_t[:, 2], cfg.margin)
                rows, embeddings = torch.cat([batch_t[:, 0], batch_t[:, 1]]), torch.cat([ea, eb]).float()
            else:
                params = choice = None
                if step.views is not None:  # some faces shown as stored teacher views (trainer/views.py)
                    params, choice = draw_with_views(step.views, batch_t, cfg.view_share, cfg.augmentation, generator)
                x = to_input(step.crops[batch_t], cfg, generator, True, params)
                half = len(x) // 2
                ea, eb = step.siamese(x[:half], x[half:])
                rows, embeddings = batch_t, torch.cat([ea, eb]).float()
                loss = batch_contrastive_loss(embeddings, step.labels[rows], cfg.margin)
            if step.teacher is not None:
                targets, known_all = step.teacher
                known, wanted = known_all[rows], targets[rows]
                if choice is not None:
                    wanted = view_rows(wanted, step.views.targets, rows, choice)
                loss = loss + teacher_distance_terms(embeddings[known], wanted[known], cfg)
            if step.face_targets is not None:
                loss = loss + cfg.embed_weight * _face_target_term(step, cfg, rows, embeddings, generator, choice)
        seen += len(rows)
        step.optimizer.zero_grad(set_to_none=True)
        step.scaler.scale(loss).backward()
        if step.face_head is not None:
            step.face_head.average_gradients()
        step.scaler.step(step.optimizer)
        step.scaler.update()
        step.scheduler.step()
        loss_sum += float(loss.detach())
        if progress:
            progress.step(extra=f"loss {loss_sum / (progress.done + 1):.4f} lr {step.scheduler.get_last_lr()[0]:.2e} "
                                f"b1 {step.optimizer.param_groups[0]['betas'][0]:.3f} "
                                f"{seen / (time.time() - t0):.0f} img/s")
    return loss_sum / max(len(batches), 1), seen


def train(cfg: TrainConfig, data: TrainingData, log=print) -> dict:
    """Train; writes last.pt / best.pt / log.csv / config.json under cfg.out. Returns the best checkpoint's metrics."""
    rank, world = distributed()
    device = pick_device(cfg.device)
    if device.type == "cuda" and world > 1:
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    set_seed(cfg.seed)
    # --resume with nothing saved yet (a run stopped in its first epoch) starts as the run itself started
    resuming = cfg.resume and (out / "last.pt").is_file()
    saved = load_checkpoint(out / "last.pt") if resuming else None
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
    start_epoch, history, saver = 0, [], CheckpointSaver(out)
    if resuming:
        restore(saved, encoder, optimizer, scheduler, scaler, face_head)
        start_epoch, history, saver.best = saved["epoch"] + 1, saved.get("history", []), saved.get("best")
        log(f"resumed from epoch {start_epoch}")
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
    step = _Step(siamese, optimizer, scheduler, scaler, use_amp, torch.from_numpy(data.train_crops).to(device),
                 torch.from_numpy(data.train_labels).to(device), teacher, face_targets=face_targets,
                 face_known=face_known, face_head=face_head, unlabelled=unlabelled,
                 views=data.views.to(device) if cfg.view_share > 0 and data.views else None,
                 unlabelled_views=data.unlabelled_views.to(device) if cfg.view_share > 0 and unlabelled
                 and data.unlabelled_views else None)
    val_crops = torch.from_numpy(data.val_crops).to(device)
    if cfg.init_from and start_epoch == 0 and rank == 0:  # where fine-tuning starts, to see what each epoch adds
        log(f"start val_auc={evaluate(encoder, val_crops, data.val_labels, cfg)['roc_auc']:.4f}")
    neighbours = None
    for epoch in range(start_epoch, cfg.epochs):
        if cfg.lookalike_batches > 0 and (neighbours is None or cfg.lookalike_space == "student"):
            neighbours = _lookalikes(cfg, data, encoder, step.crops)
        batches = epoch_batches(cfg, data.train_labels, epoch, rank, world, neighbours)
        progress = Progress(len(batches), f"epoch {epoch + 1}/{cfg.epochs}") if rank == 0 else None
        t0 = time.time()
        loss, seen = train_one_epoch(step, cfg, batches, epoch, progress)
        if progress:
            progress.close()
        if rank != 0:
            continue
        seconds = time.time() - t0
        metrics = evaluate(encoder, val_crops, data.val_labels, cfg)
        row = {"epoch": epoch + 1, "loss": loss, "lr": scheduler.get_last_lr()[0],
               "images_per_s": seen * world / seconds, "epoch_s": seconds, "val_auc": metrics["roc_auc"],
               "val_best_accuracy": metrics["best_accuracy"], "val_kfold_accuracy": metrics["kfold_accuracy"],
               "val_eer": metrics["eer"], "threshold": metrics["threshold"]}
        history.append(row)
        log(" ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()))
        state = {"model": encoder.state_dict(), "model_config": cfg.model.to_dict(), "optimizer": optimizer.state_dict(),
                 "scheduler": scheduler.state_dict(), "scaler": scaler.state_dict(), "epoch": epoch,
                 "train_config": cfg.to_dict(), "metrics": metrics, "history": history, "data": data.info,
                 "torch_rng": torch.get_rng_state(), "face_head": face_head.state_dict() if face_head else None}
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
