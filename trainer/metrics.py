"""Verification metrics on distance scores (smaller distance = more likely the same person)."""
from __future__ import annotations

import numpy as np

from faceid_gui.engine.model_file import DISTANCE_EPS


def row_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The app's distance (ε inside the root) between a[i] and b[i], in float64."""
    diff = np.asarray(a, np.float64) - b
    return np.sqrt((diff ** 2).sum(1) + DISTANCE_EPS)


def pair_distances(embeddings: np.ndarray, pairs: np.ndarray) -> np.ndarray:
    """The app's distance between rows pairs[:, 0] and pairs[:, 1]."""
    return row_distances(embeddings[pairs[:, 0]], embeddings[pairs[:, 1]])


def every_pair(embeddings: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distances of every pair of photos (the app's distance, from the Gram matrix in float64) and whether each pair
    is one person: the evidence for a rate curve's small FARs, which a sample of pairs cannot resolve."""
    emb = np.asarray(embeddings, np.float64)
    squares = (emb ** 2).sum(1)
    i, j = np.triu_indices(len(emb), 1)
    gram = emb @ emb.T
    dist = np.sqrt(np.maximum(squares[i] + squares[j] - 2 * gram[i, j], 0) + DISTANCE_EPS)
    return dist, labels[i] == labels[j]


CURVE_ROWS = 201  # thresholds 0.00, 0.01, ... 2.00: the tail's FAR falls tenfold within a few hundredths


def calibration_curve(dist: np.ndarray, same: np.ndarray, thresholds: np.ndarray) -> list[list[float]]:
    """[threshold, FAR, FRR] rows (accept when distance < threshold), the FAR to 4 significant digits so that
    rates of one in a million keep their value."""
    strangers, mates = np.sort(dist[~same]), np.sort(dist[same])
    far = np.searchsorted(strangers, thresholds, side="left") / max(len(strangers), 1)
    frr = 1 - np.searchsorted(mates, thresholds, side="left") / max(len(mates), 1)
    return [[round(float(t), 4), float(f"{a:.4g}"), round(float(r), 5)] for t, a, r in zip(thresholds, far, frr)]


def roc_curve(dist: np.ndarray, same: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """FAR (false accepts / different pairs) and TAR (true accepts / same pairs) for thresholds at each distance."""
    order = np.argsort(dist, kind="stable")
    d, s = dist[order], same[order].astype(bool)
    tp = np.cumsum(s)
    fp = np.cumsum(~s)
    n_pos, n_neg = max(s.sum(), 1), max((~s).sum(), 1)
    # Accept when distance < threshold: threshold just above each distance.
    thresholds = np.r_[d[0] - 1e-6, np.nextafter(d, np.inf)]
    tar = np.r_[0.0, tp / n_pos]
    far = np.r_[0.0, fp / n_neg]
    return far, tar, thresholds


def auc(dist: np.ndarray, same: np.ndarray) -> float:
    """P(distance of a same pair < distance of a different pair), ties counting one half."""
    same = same.astype(bool)
    ranks = _average_ranks(-dist)  # higher rank = smaller distance
    n_pos, n_neg = same.sum(), (~same).sum()
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    return float((ranks[same].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def _average_ranks(values: np.ndarray) -> np.ndarray:
    order = np.argsort(values, kind="mergesort")
    ranks = np.empty(len(values), np.float64)
    sorted_vals = values[order]
    i = 0
    while i < len(values):
        j = i
        while j + 1 < len(values) and sorted_vals[j + 1] == sorted_vals[i]:
            j += 1
        ranks[order[i:j + 1]] = (i + j) / 2 + 1
        i = j + 1
    return ranks


def accuracy_at(dist: np.ndarray, same: np.ndarray, threshold: float) -> float:
    return float(((dist < threshold) == same.astype(bool)).mean())


def best_threshold(dist: np.ndarray, same: np.ndarray) -> tuple[float, float]:
    """Threshold maximising accuracy, and that accuracy."""
    far, tar, thresholds = roc_curve(dist, same)
    p = same.astype(bool).mean()
    acc = p * tar + (1 - p) * (1 - far)
    k = int(np.argmax(acc))
    return float(thresholds[k]), float(acc[k])


def threshold_for_far(dist: np.ndarray, same: np.ndarray, target_far: float) -> float:
    far, _, thresholds = roc_curve(dist, same)
    k = int(np.searchsorted(far, target_far, side="right")) - 1
    return float(thresholds[max(k, 0)])


def rates_at(dist: np.ndarray, same: np.ndarray, threshold: float) -> tuple[float, float]:
    """(FAR, FRR) at a threshold."""
    same = same.astype(bool)
    accept = dist < threshold
    far = float(accept[~same].mean()) if (~same).any() else float("nan")
    frr = float((~accept[same]).mean()) if same.any() else float("nan")
    return far, frr


def eer(dist: np.ndarray, same: np.ndarray) -> tuple[float, float]:
    far, tar, thresholds = roc_curve(dist, same)
    frr = 1 - tar
    k = int(np.argmin(np.abs(far - frr)))
    return float((far[k] + frr[k]) / 2), float(thresholds[k])


def tar_at_far(dist: np.ndarray, same: np.ndarray, target_far: float) -> float:
    far, tar, _ = roc_curve(dist, same)
    ok = far <= target_far
    return float(tar[ok].max()) if ok.any() else 0.0


def kfold_accuracy(dist: np.ndarray, same: np.ndarray, folds: int = 10, seed: int = 0) -> tuple[float, float]:
    """LFW-style: the threshold is chosen on 9 folds and scored on the held-out one."""
    idx = np.random.default_rng(seed).permutation(len(dist))
    scores = []
    for part in np.array_split(idx, folds):
        train = np.setdiff1d(idx, part)
        t, _ = best_threshold(dist[train], same[train])
        scores.append(accuracy_at(dist[part], same[part], t))
    return float(np.mean(scores)), float(np.std(scores))


def verification_report(dist: np.ndarray, same: np.ndarray, threshold: float | None = None) -> dict:
    dist = np.asarray(dist, np.float64)
    same = np.asarray(same).astype(bool)
    best_t, best_acc = best_threshold(dist, same)
    eer_value, eer_t = eer(dist, same)
    kfold_mean, kfold_std = kfold_accuracy(dist, same)
    report = {
        "pairs": int(len(dist)), "same_pairs": int(same.sum()), "different_pairs": int((~same).sum()),
        "roc_auc": auc(dist, same), "eer": eer_value, "eer_threshold": eer_t,
        "best_accuracy": best_acc, "best_threshold": best_t,
        "kfold_accuracy": kfold_mean, "kfold_accuracy_std": kfold_std,
        "tar_at_far_1e-3": tar_at_far(dist, same, 1e-3), "tar_at_far_1e-2": tar_at_far(dist, same, 1e-2),
    }
    if threshold is not None:
        far, frr = rates_at(dist, same, threshold)
        report.update({"threshold": threshold, "accuracy_at_threshold": accuracy_at(dist, same, threshold),
                       "far_at_threshold": far, "frr_at_threshold": frr})
    return report


MEAN_FACE_PHOTOS = (2, 3, 5)  # photos a person enrolled with, for the app's FNIR estimate (engine/open_set.py)


def mean_face_frr(embeddings: np.ndarray, labels: np.ndarray, thresholds: np.ndarray,
                  photos=MEAN_FACE_PHOTOS, draws: int = 10, seed: int = 0) -> dict[str, list[float]]:
    """FRR at each threshold of a photo against the mean face of k other photos of its person (the face the app's
    1:N search compares with: matching.GalleryIndex), for each k: what a person enrolled with k photos leaves
    unnamed before anyone else comes into it. Every person with more than k photos, `draws` random choices of k."""
    from faceid_gui.engine.matching import GalleryIndex

    embeddings, labels = np.asarray(embeddings, np.float32), np.asarray(labels)
    people, counts = np.unique(labels, return_counts=True)
    rng = np.random.default_rng(seed)
    curves = {}
    for k in photos:
        mates = []
        for _ in range(draws):
            enrolled, owners, probes, probe_owners = [], [], [], []
            for pid, person in enumerate(people[counts > k]):
                own = rng.permutation(np.flatnonzero(labels == person))
                enrolled += own[:k].tolist()
                owners += [pid] * k
                probes += own[k:].tolist()
                probe_owners += [pid] * (len(own) - k)
            if not probes:
                break
            index = GalleryIndex(embeddings[enrolled], np.array(owners), {})
            rows = np.searchsorted(index.group_ids, probe_owners)  # group_ids are sorted person ids
            mates.append(row_distances(embeddings[probes], index.mean_faces[rows]))
        if mates:
            mates = np.sort(np.concatenate(mates))
            frr = 1 - np.searchsorted(mates, thresholds, side="left") / len(mates)
            curves[str(k)] = [round(float(r), 5) for r in frr]
    return curves
