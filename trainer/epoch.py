"""One epoch of training: the batches' losses (contrastive, distillation, per-face target) and the optimiser's steps,
and where a run stopped mid-epoch goes on from."""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

from .augment import to_input
from .config import TrainConfig
from .face_target import FaceTargetHead
from .loss import batch_identity_terms, contrastive_loss, teacher_distance_terms
from .progress import Progress
from .views import TeacherViews, draw_with_views, view_rows


@dataclass
class Step:
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


def _face_target_term(step: Step, cfg: TrainConfig, rows: torch.Tensor, embeddings: torch.Tensor,
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


def train_one_epoch(step: Step, cfg: TrainConfig, batches: list[np.ndarray], epoch: int, progress: Progress | None,
                    at: dict | None = None,
                    save_position: Callable[[dict], None] | None = None) -> tuple[float, int, float]:
    """One pass over the epoch's batches; returns (mean loss, images seen, seconds). `at`: a position that
    save_position recorded (every --checkpoint-minutes) in a run stopped mid-epoch; the pass goes on from there with
    the same batches and random draws."""
    device = step.crops.device
    generator = torch.Generator().manual_seed(cfg.seed * 1000 + epoch)
    step.siamese.train()
    seen, loss_sum, done, spent, choice = 0, 0.0, 0, 0.0, None
    if at:
        generator.set_state(at["generator"])
        seen, loss_sum, done, spent = at["seen"], at["loss_sum"], at["done"], at["seconds"]
    t0 = last_saved = time.time()
    for index in range(done, len(batches)):
        batch = batches[index]
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
                loss = batch_identity_terms(embeddings, step.labels[rows], cfg)
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
                                f"{seen / (spent + time.time() - t0):.0f} img/s")
        if (save_position and cfg.checkpoint_minutes > 0 and index + 1 < len(batches)
                and time.time() - last_saved >= cfg.checkpoint_minutes * 60):
            save_position({"epoch": epoch, "done": index + 1, "batches": batches, "generator": generator.get_state(),
                           "seen": seen, "loss_sum": loss_sum, "seconds": spent + time.time() - t0})
            last_saved = time.time()
    return loss_sum / max(len(batches), 1), seen, spent + time.time() - t0
