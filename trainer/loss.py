"""Contrastive loss (Hadsell, Chopra & LeCun 2006): label 0 = same person, 1 = different."""
from __future__ import annotations

import torch

from faceid_gui.engine.model_file import DISTANCE_EPS


def pair_distance(a: torch.Tensor, b: torch.Tensor, eps: float = DISTANCE_EPS) -> torch.Tensor:
    """sqrt(||a - b||² + eps): eps keeps the gradient finite when a == b."""
    return torch.sqrt(((a - b) ** 2).sum(dim=-1) + eps)


def contrastive_loss(a: torch.Tensor, b: torch.Tensor, label: torch.Tensor, margin: float) -> torch.Tensor:
    """mean of (1-Y)·½·D² + Y·½·max(0, m - D)²."""
    d = pair_distance(a, b)
    label = label.to(d.dtype)
    return ((1 - label) * 0.5 * d.pow(2) + label * 0.5 * torch.clamp(margin - d, min=0).pow(2)).mean()


def batch_contrastive_loss(embeddings: torch.Tensor, identities: torch.Tensor, margin: float) -> torch.Tensor:
    """Contrastive loss over every pair inside a P×K batch, same and different pairs weighted equally."""
    d = _pairwise_distances(embeddings)
    same = identities[:, None] == identities[None, :]
    upper = torch.triu(torch.ones_like(same), diagonal=1)
    positives = same & upper
    negatives = ~same & upper
    pos_loss = (0.5 * d[positives].pow(2)).mean() if positives.any() else d.sum() * 0
    neg_loss = (0.5 * torch.clamp(margin - d[negatives], min=0).pow(2)).mean() if negatives.any() else d.sum() * 0
    return pos_loss + neg_loss


def spread_out_loss(embeddings: torch.Tensor, identities: torch.Tensor) -> torch.Tensor:
    """Global orthogonal regularisation (Zhang et al. 2017, "Learning spread-out local feature descriptors"):
    the dot products of different people's unit embeddings should have the mean (0) and at most the second moment
    (1/d) of points spread uniformly over the sphere. Without it the student keeps its faces in a narrow cone
    (strangers' median cosine 0.70: RESULTS, stop 39), which the contrastive margin does not prevent."""
    different = (identities[:, None] != identities[None, :]).triu(diagonal=1)
    if not different.any():
        return embeddings.sum() * 0
    dots = (embeddings @ embeddings.T)[different]
    return dots.mean().pow(2) + torch.clamp(dots.pow(2).mean() - 1.0 / embeddings.shape[1], min=0)


def batch_identity_terms(embeddings: torch.Tensor, identities: torch.Tensor, cfg) -> torch.Tensor:
    """A P×K batch's terms on who is who: the contrastive loss and, when the run asks, the spread-out term."""
    loss = batch_contrastive_loss(embeddings, identities, cfg.margin)
    if cfg.spread_weight > 0:
        loss = loss + cfg.spread_weight * spread_out_loss(embeddings, identities)
    return loss


def _pairwise_distances(x: torch.Tensor) -> torch.Tensor:
    """Every row's distance to every row (pair_distance broadcast over the batch)."""
    return pair_distance(x[:, None, :], x[None, :, :])


def _scaled_distances(x: torch.Tensor) -> torch.Tensor:
    """Every pair's distance divided by the batch's mean distance between different faces: the scale-free form in
    which both distillation terms compare a 32-D student with its teachers' wider embedding."""
    d = _pairwise_distances(x)
    other = ~torch.eye(len(x), dtype=torch.bool, device=x.device)
    return d / d[other].mean().clamp_min(1e-6)


def distance_distillation_loss(student: torch.Tensor, teacher: torch.Tensor) -> torch.Tensor:
    """Relational (RKD-D, Park et al. 2019) distillation: the student's distances between the faces of a batch
    follow the teacher's, each divided by its batch mean, so the 32-D student can learn from the 128-D teacher.
    """
    n = len(student)
    if n < 3:
        return student.sum() * 0
    upper = torch.triu(torch.ones(n, n, dtype=torch.bool, device=student.device), diagonal=1)
    return torch.nn.functional.smooth_l1_loss(_scaled_distances(student)[upper],
                                              _scaled_distances(teacher.to(student.dtype))[upper])


def neighbour_distillation_loss(student: torch.Tensor, teacher: torch.Tensor, temperature: float) -> torch.Tensor:
    """Listwise distillation of each face's neighbourhood: KL(teacher ‖ student) between softmax(-d / T) over the
    other faces of the batch, each distance divided by its batch mean as in RKD-D. RKD weighs every pair alike, and
    most pairs are far apart; this weighs the closest pairs most, where the low false-accept end is decided (the
    student's closest stranger pairs are mostly far apart for the teachers: RESULTS, stop 28).
    """
    n = len(student)
    if n < 3:
        return student.sum() * 0
    self_pair = torch.eye(n, dtype=torch.bool, device=student.device)

    def log_neighbours(x: torch.Tensor) -> torch.Tensor:
        # a large finite logit for a face's own pair: its share is 0 and 0·log 0 stays 0 (no NaN, as -inf gives)
        return torch.log_softmax((-_scaled_distances(x) / temperature).masked_fill(self_pair, -1e4), dim=1)

    wanted = log_neighbours(teacher.to(student.dtype)).detach()
    return torch.nn.functional.kl_div(log_neighbours(student), wanted, log_target=True, reduction="batchmean")


def teacher_distance_terms(student: torch.Tensor, teacher: torch.Tensor, cfg) -> torch.Tensor:
    """The weighted batch-distance distillation terms a run asks for (RKD-D and the neighbourhood term)."""
    loss = cfg.distill_weight * distance_distillation_loss(student, teacher) if cfg.distill_weight > 0 else 0
    if cfg.neighbour_weight > 0:
        loss = loss + cfg.neighbour_weight * neighbour_distillation_loss(student, teacher, cfg.neighbour_temperature)
    return loss
