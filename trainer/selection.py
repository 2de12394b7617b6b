"""Choosing between candidate models on validation people (`trainer select`), never on test people.

Two views of the same faces: every pair of their photos (millions of stranger pairs, so TAR is read at FAR 1e-4 as
well), and each candidate against the first on random halves of the people. A gain of a few thousandths is only
believed when it holds on most halves, whoever the validation people happen to be; the shares it prints are how
stops 39 and 40 chose the shipped models (`trainer/RESULTS.md`).
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from .errors import TrainerError
from .metrics import auc, every_pair, tar_at_far

FARS = (1e-4, 1e-3, 1e-2)
HALVES_FAR = 1e-3  # the false-accept rate the halves compare TAR at, beside AUC


def figures(embeddings: np.ndarray, labels: np.ndarray) -> dict:
    """AUC and TAR at each of FARS on every pair of the photos."""
    d, same = every_pair(embeddings, labels)
    return {"auc": auc(d, same), "tar": {far: tar_at_far(d, same, far) for far in FARS}}


def random_halves(labels: np.ndarray, count: int, seed: int = 0) -> list[np.ndarray]:
    """`count` masks of the photos of a random half of the people each (the same halves for every candidate)."""
    people = np.unique(labels)
    if len(people) < 4:
        raise TrainerError(f"halves need at least 4 people, not {len(people)}")
    rng = np.random.default_rng(seed)
    return [np.isin(labels, rng.choice(people, len(people) // 2, replace=False)) for _ in range(count)]


def _spread(differences: list[float]) -> dict:
    values = np.asarray(differences)
    return {"mean": float(values.mean()), "sd": float(values.std()), "share_higher": float(np.mean(values > 0))}


def against_base(base_halves: list[dict], other_halves: list[dict]) -> dict:
    """`other` minus `base` on each half (figures() of each): AUC and TAR at HALVES_FAR, as mean, sd and the share
    of halves higher."""
    pairs = list(zip(base_halves, other_halves))
    return {"halves": len(pairs), "auc": _spread([o["auc"] - b["auc"] for b, o in pairs]),
            "tar": _spread([o["tar"][HALVES_FAR] - b["tar"][HALVES_FAR] for b, o in pairs])}


def compare_candidates(embed: Callable[[Path], np.ndarray], candidates: list[Path], labels: np.ndarray,
                       halves: int = 100) -> Iterator[dict]:
    """One row per candidate, in order, each as soon as it is measured (minutes apiece on a CPU): its every-pair
    figures and, after the first, how it does against the first (whose halves are measured once)."""
    masks = random_halves(labels, halves) if len(candidates) > 1 and halves > 0 else []
    base_halves = None
    for path in candidates:
        embeddings = embed(path)
        row = {"candidate": str(path), **figures(embeddings, labels)}
        own_halves = [figures(embeddings[mask], labels[mask]) for mask in masks]
        if base_halves is None:
            base_halves = own_halves
        elif masks:
            row["against_first"] = against_base(base_halves, own_halves)
        yield row


def row_in_words(row: dict) -> str:
    tar = " / ".join(f"{value:.3f}" for value in row["tar"].values())
    line = f"{row['candidate']}: every pair AUC {row['auc']:.4f}, TAR at FAR {' / '.join(map(str, FARS))}: {tar}"
    versus = row.get("against_first")
    if versus:
        a, t = versus["auc"], versus["tar"]
        line += (f"; against the first on {versus['halves']} halves of the people: AUC {a['mean']:+.4f} "
                 f"(sd {a['sd']:.4f}, higher on {a['share_higher']:.0%}), TAR at FAR {HALVES_FAR} {t['mean']:+.4f} "
                 f"(sd {t['sd']:.4f}, higher on {t['share_higher']:.0%})")
    return line


def candidate_embedder(crops_for: Callable[[int], np.ndarray], mirror_average: bool) -> Callable[[Path], np.ndarray]:
    """Embeds the validation crops with a checkpoint (.pt, torch; mirror-averaged as `export --mirror-average` would
    make it) or a model file (.onnx, ONNX Runtime, as the app runs it). crops_for(size): the crops at that size."""

    def embed(path: Path) -> np.ndarray:
        path = Path(path)
        if path.suffix == ".onnx":
            from faceid_gui.engine import Embedder

            model = Embedder(path, prefer="cpu")
            return model.embed(crops_for(model.info.input_size))
        import torch

        from .checkpoint import load_encoder
        from .config import TrainConfig
        from .validate import embed_all

        try:
            encoder, state = load_encoder(path)
            config = TrainConfig.from_dict(state["train_config"])
        except (KeyError, TypeError):
            raise TrainerError(f"{path} is not a trainer checkpoint (`trainer train` or `average` writes one)"
                               ) from None
        encoder.config.mirror_average = config.model.mirror_average = mirror_average
        with torch.no_grad():
            return embed_all(encoder, torch.from_numpy(crops_for(encoder.config.input_size)), config)

    return embed
