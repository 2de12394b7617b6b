"""Training loop: Siamese pairs (or every pair in a P×K batch), contrastive loss, Adam with cyclical LR/β1."""
from __future__ import annotations

import csv
import io
import json
import os
import random
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist

from .augment import AugmentConfig, augment
from .data import Progress, evaluation_pairs, make_pairs, pk_batches
from .export import MEAN, STD, atomic_write_bytes
from .loss import batch_contrastive_loss, contrastive_loss, distance_distillation_loss, pair_distance
from .metrics import best_threshold, rates_at, threshold_for_far, verification_report
from .model import DenseNetEmbedding, ModelConfig, SiameseNetwork, preset


@dataclass
class TrainConfig:
    out: str = "runs/latest"
    preset: str = "densenet121"
    input_size: int = 64
    embedding_size: int = 32
    epochs: int = 30
    batch_size: int = 64  # pairs per step ("pairs" mode)
    pair_mode: str = "pairs"  # "pairs": anchor/positive/negative as in the method; "batch": every pair of a P×K batch
    p: int = 16
    k: int = 4
    margin: float = 1.0
    lr_min: float = 1e-4
    lr_max: float = 2e-3
    beta1_min: float = 0.85  # β1 is lowest while the learning rate peaks
    beta1_max: float = 0.95
    beta2: float = 0.99
    cycle_epochs: float = 4.0  # one full LR up-and-down cycle
    weight_decay: float = 0.0
    augment: bool = True
    seed: int = 0
    threshold_far: float | None = None  # calibrate for this FAR instead of best accuracy
    distill_weight: float = 0.0  # weight of the teacher's distance-distillation term (needs `trainer teach`)
    init_from: str = ""  # start from this checkpoint's weights (fine-tuning); optimiser and schedule start afresh
    device: str = "auto"
    amp: bool = True
    resume: bool = False

    @classmethod
    def from_dict(cls, values: dict) -> "TrainConfig":
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in names})


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


def to_input(crops_u8: torch.Tensor, cfg: TrainConfig, generator: torch.Generator | None, train: bool) -> torch.Tensor:
    """uint8 NHWC crops on the device -> normalised float NCHW, augmented when training."""
    x = crops_u8.permute(0, 3, 1, 2).float() / 255.0
    if train and cfg.augment:
        x = augment(x, AugmentConfig(), generator)
    mean = torch.tensor(MEAN, device=x.device).view(1, 3, 1, 1)
    std = torch.tensor(STD, device=x.device).view(1, 3, 1, 1)
    return ((x - mean) / std).contiguous(memory_format=torch.channels_last)


@torch.inference_mode()
def embed_all(encoder: DenseNetEmbedding, crops: torch.Tensor, cfg: TrainConfig, batch: int = 256) -> torch.Tensor:
    encoder.eval()
    out = [encoder(to_input(crops[i:i + batch], cfg, None, train=False)).float() for i in range(0, len(crops), batch)]
    return torch.cat(out)


def validate(encoder: DenseNetEmbedding, crops: torch.Tensor, labels: np.ndarray, cfg: TrainConfig) -> dict:
    """Verification on validation identities; calibrates the threshold there."""
    emb = embed_all(encoder, crops, cfg)
    pairs = evaluation_pairs(labels, seed=12345)
    d = pair_distance(emb[pairs[:, 0]], emb[pairs[:, 1]]).cpu().numpy().astype(np.float64)
    same = pairs[:, 2].astype(bool)
    if cfg.threshold_far is not None:
        threshold = threshold_for_far(d, same, cfg.threshold_far)
    else:
        threshold, _ = best_threshold(d, same)
    report = verification_report(d, same, threshold)
    report["threshold_rule"] = f"FAR={cfg.threshold_far}" if cfg.threshold_far is not None else "max accuracy"
    # FAR/FRR against threshold, stored in the exported model so the app can say what a slider value means.
    report["rate_curve"] = [[round(float(t), 4), *(round(r, 5) for r in rates_at(d, same, t))]
                            for t in np.linspace(0.0, 2.0, 101)]
    return report


def build_optimizer(model: torch.nn.Module, cfg: TrainConfig, steps_per_epoch: int):
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr_min, betas=(cfg.beta1_max, cfg.beta2),
                                 weight_decay=cfg.weight_decay)
    half_cycle = max(1, int(round(cfg.cycle_epochs * steps_per_epoch / 2)))
    # CyclicLR cycles Adam's β1 opposite to the LR when cycle_momentum is on.
    scheduler = torch.optim.lr_scheduler.CyclicLR(
        optimizer, base_lr=cfg.lr_min, max_lr=cfg.lr_max, step_size_up=half_cycle, mode="triangular",
        cycle_momentum=True, base_momentum=cfg.beta1_min, max_momentum=cfg.beta1_max)
    return optimizer, scheduler


def save_checkpoint(path: Path, state: dict) -> None:
    buffer = io.BytesIO()
    torch.save(state, buffer)
    atomic_write_bytes(path, buffer.getvalue())


def load_encoder(checkpoint: Path) -> tuple[DenseNetEmbedding, dict]:
    state = torch.load(checkpoint, map_location="cpu", weights_only=False)
    encoder = DenseNetEmbedding(ModelConfig(**state["model_config"]))
    encoder.load_state_dict(state["model"])
    return encoder.eval(), state


def train(cfg: TrainConfig, train_crops: np.ndarray, train_labels: np.ndarray, val_crops: np.ndarray,
          val_labels: np.ndarray, data_info: dict | None = None, log=print,
          teacher: tuple[np.ndarray, np.ndarray] | None = None) -> dict:
    """Train; writes last.pt / best.pt / log.csv / config.json under cfg.out. Returns the best checkpoint's metrics."""
    rank, world = distributed()
    device = pick_device(cfg.device)
    if device.type == "cuda" and world > 1:
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    set_seed(cfg.seed)
    model_cfg = preset(cfg.preset, input_size=cfg.input_size, embedding_size=cfg.embedding_size)
    encoder = DenseNetEmbedding(model_cfg)
    if cfg.init_from and not cfg.resume:
        encoder.load_state_dict(torch.load(cfg.init_from, map_location="cpu", weights_only=False)["model"])
    encoder = encoder.to(device).to(memory_format=torch.channels_last)
    siamese = SiameseNetwork(encoder)
    if world > 1:
        siamese = torch.nn.parallel.DistributedDataParallel(siamese, device_ids=[device.index] if device.type == "cuda" else None)
    steps_per_epoch = _steps_per_epoch(cfg, train_labels, world)
    optimizer, scheduler = build_optimizer(encoder, cfg, steps_per_epoch)
    use_amp = cfg.amp and device.type == "cuda"
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp)
    start_epoch, best, history = 0, None, []
    if cfg.resume and (out / "last.pt").is_file():
        state = torch.load(out / "last.pt", map_location="cpu", weights_only=False)
        encoder.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        scaler.load_state_dict(state["scaler"])
        start_epoch, best, history = state["epoch"] + 1, state.get("best"), state.get("history", [])
        torch.set_rng_state(state["torch_rng"])
        log(f"resumed from epoch {state['epoch'] + 1}")
    if rank == 0:
        (out / "config.json").write_text(json.dumps({"train": asdict(cfg), "model": model_cfg.to_dict(),
                                                     "data": data_info or {}}, indent=2))
    train_t = torch.from_numpy(train_crops).to(device)
    val_t = torch.from_numpy(val_crops).to(device)
    labels_t = torch.from_numpy(train_labels).to(device)
    distilling = teacher is not None and cfg.distill_weight > 0
    if distilling:
        teacher_t, known_t = torch.from_numpy(teacher[0]).to(device), torch.from_numpy(teacher[1]).to(device)
    for epoch in range(start_epoch, cfg.epochs):
        generator = torch.Generator().manual_seed(cfg.seed * 1000 + epoch)
        encoder.train()
        batches = _epoch_batches(cfg, train_labels, epoch, rank, world)
        progress = Progress(len(batches), f"epoch {epoch + 1}/{cfg.epochs}") if rank == 0 else None
        t0, seen, loss_sum = time.time(), 0, 0.0
        for batch in batches:
            batch_t = torch.from_numpy(batch).to(device)
            with torch.autocast(device.type, dtype=torch.float16, enabled=use_amp):
                if cfg.pair_mode == "pairs":
                    a = to_input(train_t[batch_t[:, 0]], cfg, generator, True)
                    b = to_input(train_t[batch_t[:, 1]], cfg, generator, True)
                    ea, eb = siamese(a, b)
                    loss = contrastive_loss(ea.float(), eb.float(), batch_t[:, 2], cfg.margin)
                    seen += 2 * len(batch)
                    rows, embeddings = torch.cat([batch_t[:, 0], batch_t[:, 1]]), torch.cat([ea, eb]).float()
                else:
                    x = to_input(train_t[batch_t], cfg, generator, True)
                    half = len(x) // 2
                    ea, eb = siamese(x[:half], x[half:])
                    rows, embeddings = batch_t, torch.cat([ea, eb]).float()
                    loss = batch_contrastive_loss(embeddings, labels_t[rows], cfg.margin)
                    seen += len(batch)
                if distilling:
                    known = known_t[rows]
                    loss = loss + cfg.distill_weight * distance_distillation_loss(embeddings[known], teacher_t[rows][known])
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
            scheduler.step()
            loss_sum += float(loss.detach())
            if progress:
                progress.step(extra=f"loss {loss_sum / (progress.done + 1):.4f} lr {scheduler.get_last_lr()[0]:.2e} "
                                    f"b1 {optimizer.param_groups[0]['betas'][0]:.3f} {seen / (time.time() - t0):.0f} img/s")
        if progress:
            progress.close()
        if rank != 0:
            continue
        metrics = validate(encoder, val_t, val_labels, cfg)
        row = {"epoch": epoch + 1, "loss": loss_sum / max(len(batches), 1), "lr": scheduler.get_last_lr()[0],
               "images_per_s": seen * world / (time.time() - t0), "val_auc": metrics["roc_auc"],
               "val_best_accuracy": metrics["best_accuracy"], "val_kfold_accuracy": metrics["kfold_accuracy"],
               "val_eer": metrics["eer"], "threshold": metrics["threshold"]}
        history.append(row)
        log(" ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()))
        state = {"model": encoder.state_dict(), "model_config": model_cfg.to_dict(), "optimizer": optimizer.state_dict(),
                 "scheduler": scheduler.state_dict(), "scaler": scaler.state_dict(), "epoch": epoch,
                 "train_config": asdict(cfg), "metrics": metrics, "history": history, "data": data_info or {},
                 "torch_rng": torch.get_rng_state()}
        if best is None or metrics["roc_auc"] > best["roc_auc"]:
            best = dict(metrics, epoch=epoch + 1)
            save_checkpoint(out / "best.pt", dict(state, best=best))
        save_checkpoint(out / "last.pt", dict(state, best=best))
        _write_log(out, history)
    if world > 1:
        dist.barrier()
    return best or {}


def _steps_per_epoch(cfg: TrainConfig, labels: np.ndarray, world: int) -> int:
    if cfg.pair_mode == "pairs":
        return max(1, int(np.ceil(len(labels) / world / cfg.batch_size)))
    return max(1, len(labels) // (cfg.p * cfg.k) // world)


def _epoch_batches(cfg: TrainConfig, labels: np.ndarray, epoch: int, rank: int, world: int) -> list[np.ndarray]:
    seed = cfg.seed * 1000 + epoch
    if cfg.pair_mode == "pairs":
        pairs = make_pairs(labels, seed)[rank::world]
        return [pairs[i:i + cfg.batch_size] for i in range(0, len(pairs), cfg.batch_size)]
    if cfg.pair_mode == "batch":
        return pk_batches(labels, cfg.p, cfg.k, seed)[rank::world]
    raise ValueError(f"unknown pair_mode {cfg.pair_mode!r}")


def _write_log(out: Path, history: list[dict]) -> None:
    with open(out / "log.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(history[0]))
        writer.writeheader()
        writer.writerows(history)
    (out / "log.json").write_text(json.dumps(history, indent=1))
