"""What each training step sees: Siamese pairs, P×K batches, and batches of look-alike people."""
from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING

import numpy as np
import torch

if TYPE_CHECKING:
    from .config import TrainConfig

LOOKALIKE_POOL = 4  # a look-alike batch draws its P-1 others from the seed person's P×4 nearest: varied, still near


def make_pairs(labels: np.ndarray, seed: int) -> np.ndarray:
    """One pair per anchor, half positive (label 0) and half negative (label 1), freshly drawn per seed.

    Returns (N, 3) int64 rows of (anchor, other, pair_label).
    """
    rng = np.random.default_rng(seed)
    by_id = _photos_by_person(labels)
    can_pair = np.array([len(by_id[int(y)]) > 1 for y in labels])
    anchors = rng.permutation(len(labels))
    pairs = []
    want_positive = True
    for a in anchors:
        if want_positive and can_pair[a]:
            same = by_id[int(labels[a])]
            b = a
            while b == a:
                b = int(rng.choice(same))
            pairs.append((a, b, 0))
            want_positive = False
        else:
            b = int(rng.integers(len(labels)))
            while labels[b] == labels[a]:
                b = int(rng.integers(len(labels)))
            pairs.append((a, b, 1))
            want_positive = True
    return np.asarray(pairs, np.int64)


def _photos_by_person(labels: np.ndarray) -> dict[int, np.ndarray]:
    by_id = defaultdict(list)
    for i, y in enumerate(labels):
        by_id[int(y)].append(i)
    return {k: np.asarray(v) for k, v in by_id.items()}


def lookalike_neighbours(labels: np.ndarray, embeddings: np.ndarray, known: np.ndarray,
                         count: int) -> dict[int, np.ndarray]:
    """For each person with two or more photos the teachers saw: the `count` such people nearest to them, by the
    cosine between their mean teacher embeddings."""
    seen = {y: rows[known[rows]] for y, rows in _photos_by_person(labels).items()}
    people = [y for y, rows in seen.items() if len(rows) > 1]
    means = np.stack([embeddings[seen[y]].mean(0) for y in people])
    means /= np.maximum(np.linalg.norm(means, axis=1, keepdims=True), 1e-12)
    count = min(count, len(people) - 1)
    if count < 1:
        return {}
    # torch rather than scikit-learn: a lent GPU machine's Python has torch, NumPy and OpenCV only
    unit = torch.from_numpy(means.astype(np.float32))
    nearest = torch.cdist(unit, unit).topk(count + 1, largest=False).indices.numpy()
    people = np.asarray(people)
    # the first neighbour is normally the person itself; drop it wherever it stands (ties)
    return {int(y): np.array([p for p in people[row] if p != y][:count]) for y, row in zip(people, nearest)}


def pk_batches(labels: np.ndarray, p: int, k: int, seed: int, neighbours: dict[int, np.ndarray] | None = None,
               lookalike: float = 0.0) -> list[np.ndarray]:
    """Batches of P identities x K images (sampled with replacement when a person has fewer than K).

    With `neighbours` (lookalike_neighbours), a share `lookalike` of the batches is one random person and P-1 of
    their nearest: random people are almost never confused, so those batches carry the impostor pairs that decide
    the acceptance rate at a low false-accept rate.
    """
    rng = np.random.default_rng(seed)
    by_id = _photos_by_person(labels)
    ids = [i for i, v in by_id.items() if len(v) > 1]
    seeds = sorted(neighbours or {})
    n_batches = max(1, len(labels) // (p * k))
    batches = []
    for _ in range(n_batches):
        if lookalike > 0 and seeds and rng.random() < lookalike:
            first = int(rng.choice(seeds))
            others = rng.choice(neighbours[first], size=min(p - 1, len(neighbours[first])), replace=False)
            chosen = np.concatenate([[first], others])
        else:
            chosen = rng.choice(ids, size=min(p, len(ids)), replace=False)
        batch = [rng.choice(by_id[c], size=k, replace=len(by_id[c]) < k) for c in chosen]
        batches.append(np.concatenate(batch))
    return batches


def steps_per_epoch(cfg: TrainConfig, labels: np.ndarray, world: int) -> int:
    if cfg.pair_mode == "pairs":
        return max(1, int(np.ceil(len(labels) / world / cfg.batch_size)))
    return max(1, len(labels) // (cfg.p * cfg.k) // world)


def epoch_batches(cfg: TrainConfig, labels: np.ndarray, epoch: int, rank: int, world: int,
                  neighbours: dict[int, np.ndarray] | None) -> list[np.ndarray]:
    seed = cfg.seed * 1000 + epoch
    if cfg.pair_mode == "pairs":
        pairs = make_pairs(labels, seed)[rank::world]
        return [pairs[i:i + cfg.batch_size] for i in range(0, len(pairs), cfg.batch_size)]
    return pk_batches(labels, cfg.p, cfg.k, seed, neighbours, cfg.lookalike_batches)[rank::world]
