"""Distances and decisions: the same Euclidean distance the contrastive loss trains and the threshold was calibrated on."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import ModelError
from .model_file import DISTANCE_EPS


def distance(a: np.ndarray, b: np.ndarray) -> float:
    """model_file.DISTANCE_DEFINITION for one pair."""
    diff = np.asarray(a, np.float64) - np.asarray(b, np.float64)
    return float(np.sqrt(diff @ diff + DISTANCE_EPS))


def distances(query: np.ndarray, gallery: np.ndarray, gallery_sq_norms: np.ndarray | None = None) -> np.ndarray:
    """Distances from one query (D,) to every row of gallery (N, D), via ||q||² + ||g||² - 2 q·g."""
    query = np.asarray(query, np.float32)
    if gallery_sq_norms is None:
        gallery_sq_norms = np.einsum("ij,ij->i", gallery, gallery)
    sq = gallery_sq_norms - 2.0 * (gallery @ query) + float(query @ query)
    return np.sqrt(np.maximum(sq, 0.0) + DISTANCE_EPS)


def is_same(dist: float, threshold: float) -> bool:
    """The verdict; a NaN or infinite distance or threshold is an error, never "different people"."""
    check_threshold(threshold)
    if not np.isfinite(dist):
        raise ModelError(f"the distance is not a number ({dist}): the model output is invalid")
    return dist < threshold


def check_threshold(threshold: float) -> float:
    if not (isinstance(threshold, (int, float, np.floating)) and np.isfinite(threshold) and threshold > 0):
        raise ModelError(f"the threshold must be a positive number, not {threshold!r}")
    return float(threshold)


@dataclass(frozen=True)
class Match:
    person_id: int
    name: str
    distance: float


class GalleryIndex:
    """Embeddings of enrolled people in memory for fast 1:N search (rows grouped by person)."""

    def __init__(self, embeddings: np.ndarray, person_ids: np.ndarray, names: dict[int, str]):
        order = np.argsort(person_ids, kind="stable")
        self.embeddings = np.ascontiguousarray(embeddings[order], dtype=np.float32)
        self.person_ids = person_ids[order]
        self.names = names
        self.sq_norms = np.einsum("ij,ij->i", self.embeddings, self.embeddings)
        if len(self.person_ids):
            starts = np.flatnonzero(np.r_[True, self.person_ids[1:] != self.person_ids[:-1]])
        else:
            starts = np.empty(0, np.int64)
        self._group_starts = starts
        self._group_ids = self.person_ids[starts] if len(starts) else np.empty(0, np.int64)

    def __len__(self) -> int:
        return len(self.embeddings)

    def nearest(self, query: np.ndarray, k: int = 5) -> list[Match]:
        """The k nearest people (by their closest enrolled face), nearest first."""
        if len(self.embeddings) == 0:
            return []
        d = distances(query, self.embeddings, self.sq_norms)
        per_person = np.minimum.reduceat(d, self._group_starts)
        k = min(k, len(per_person))
        top = np.argpartition(per_person, k - 1)[:k]
        top = top[np.argsort(per_person[top])]
        return [Match(int(self._group_ids[i]), self.names[int(self._group_ids[i])], float(per_person[i])) for i in top]


@dataclass(frozen=True)
class Identification:
    """Who a face is: the nearest enrolled people, and the nearest one when within the threshold."""

    candidates: list[Match]  # nearest first
    threshold: float
    best: Match | None

    def is_match(self, match: Match) -> bool:
        return is_same(match.distance, self.threshold)


def identify(index: GalleryIndex, embedding: np.ndarray, threshold: float, k: int = 1) -> Identification:
    """The 1:N rule for every caller (CLI identify, Live tab): the nearest person is the identity when
    is_same(distance, threshold); otherwise the face is unknown."""
    candidates = index.nearest(embedding, k=k)
    best = candidates[0] if candidates and is_same(candidates[0].distance, threshold) else None
    return Identification(candidates, check_threshold(threshold), best)
