"""`make bench BENCH_ARGS="--accuracy DIR"`: verification accuracy of faceid, dlib and OpenCV (YuNet + SFace) on
the same pairs of a CelebA-layout folder (e.g. ../shared/data/celeba-subset), each with its own detector.

Every photo goes through each pipeline (its largest face); pairs are every same-person pair plus as many seeded
different-person pairs, kept only where all three found a face, so the columns compare like with like.
"""
from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import cv2
import numpy as np

from .engine import FaceEngine, FaceIdError, load_image


def _identities(folder: Path) -> dict[str, str]:
    rows = (line.split() for line in (folder / "identity_CelebA.txt").read_text().splitlines())
    return {r[0]: r[1] for r in rows if len(r) == 2}


def _pairs(names: list[str], people: dict[str, str], seed: int = 0, max_pairs: int = 20000) -> np.ndarray:
    by_person = defaultdict(list)
    for i, n in enumerate(names):
        by_person[people[n]].append(i)
    same = [(a, b) for idx in by_person.values() for k, a in enumerate(idx) for b in idx[k + 1:]]
    rng = np.random.default_rng(seed)
    if len(same) > max_pairs // 2:
        same = [same[i] for i in rng.choice(len(same), max_pairs // 2, replace=False)]
    diff = set()
    while len(diff) < len(same):
        a, b = (int(v) for v in rng.integers(len(names), size=2))
        if people[names[a]] != people[names[b]]:
            diff.add((min(a, b), max(a, b)))
    rows = [(a, b, 1) for a, b in same] + [(a, b, 0) for a, b in sorted(diff)]
    return np.asarray(rows, np.int64)


def verification(d: np.ndarray, same: np.ndarray) -> dict:
    """ROC AUC (rank statistic) and TAR at FAR 1e-3 / 1e-2 for distances d (smaller = more alike)."""
    order = np.argsort(d, kind="stable")
    ranks = np.empty(len(d))
    ranks[order] = np.arange(1, len(d) + 1)
    pos, neg = same.sum(), (~same).sum()
    auc = 1 - (ranks[same].sum() - pos * (pos + 1) / 2) / (pos * neg)
    out = {"auc": float(auc), "pairs": int(len(d))}
    stranger = np.sort(d[~same])
    for far in (1e-3, 1e-2):
        threshold = stranger[max(int(np.floor(far * neg)) - 1, 0)] if far * neg >= 1 else -np.inf
        out[f"tar_at_far_{far:g}"] = float((d[same] < threshold).mean()) if np.isfinite(threshold) else 0.0
    return out


def _unit(e: np.ndarray) -> np.ndarray:
    return e / np.maximum(np.linalg.norm(e, axis=1, keepdims=True), 1e-12)


def measure_accuracy(folder: Path, limit: int, peers: list, provider: str) -> dict:
    people = _identities(folder)
    files = sorted(p for p in (folder / "img_celeba").iterdir() if p.name in people)[:limit]
    engine = FaceEngine(prefer=provider)
    embeddings = {"faceid": {}, **{p.name: {} for p in peers}}
    for path in files:
        try:
            rgb = load_image(path)
        except FaceIdError:
            continue
        faces = engine.analyze(rgb)
        if faces:
            embeddings["faceid"][path.name] = faces[0].embedding
        bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
        for peer in peers:
            found = peer.analyze(rgb if peer.name == "dlib" else bgr)
            if found:
                embeddings[peer.name][path.name] = found[0]  # the peers list the largest face first
    names = sorted(set.intersection(*(set(e) for e in embeddings.values())))
    pairs = _pairs(names, people)
    fig = {"accuracy_photos": len(files), "accuracy_photos_all_found": len(names),
           "accuracy_people": len({people[n] for n in names})}
    for system, table in embeddings.items():
        e = np.stack([table[n] for n in names]).astype(np.float32)
        if system == "opencv":
            e = _unit(e)  # SFace compares by cosine: the distance of unit vectors orders pairs the same way
        d = np.linalg.norm(e[pairs[:, 0]] - e[pairs[:, 1]], axis=1)
        fig.update({f"accuracy_{system}_{k}": v for k, v in verification(d, pairs[:, 2].astype(bool)).items()})
        fig[f"accuracy_{system}_found"] = len(table)
    return fig
