"""Distillation targets: the teachers' cached embeddings of each face, concatenated, and their projection to the
student's embedding size for the per-face target (PCA fitted on training faces)."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from faceid_gui.engine.align import CANONICAL_SIZE

from .config import TrainConfig
from .data import load_crops
from .errors import TrainerError
from .teacher import TEACHER_DIM, TEACHERS, load_teacher


def teacher_names(spec: str) -> list[str]:
    names = [n for n in spec.split("+") if n]
    unknown = [n for n in names if n not in TEACHERS]
    if unknown or not names:
        raise TrainerError(f"unknown teacher {spec!r}: use sface, dlib or sface+dlib")
    return names


def teacher_tables(cache: Path, spec: str) -> list[dict]:
    return [load_teacher(cache, name) for name in teacher_names(spec)]


def combined_target(tables: list[dict[str, np.ndarray]], crop: str) -> np.ndarray | None:
    """The teachers' embeddings of one crop, each L2-normalised, concatenated (None unless every teacher saw it)."""
    parts = [t.get(crop) for t in tables]
    if any(p is None for p in parts):
        return None
    return np.concatenate([p / max(float(np.linalg.norm(p)), 1e-12) for p in parts]).astype(np.float32)


def teacher_targets(entries: list[dict], tables: list[dict[str, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """Targets for `entries` in order (the teachers concatenated) and a mask of the rows every teacher has seen."""
    dim = TEACHER_DIM * len(tables)
    targets = np.zeros((len(entries), dim), np.float32)
    known = np.zeros(len(entries), bool)
    for k, e in enumerate(entries):
        target = combined_target(tables, e["crop"])
        if target is not None:
            targets[k], known[k] = target, True
    return targets, known


def fit_projection(targets: np.ndarray, dim: int) -> tuple[np.ndarray, np.ndarray]:
    """PCA of the teachers' training targets down to the student's embedding size: (mean, components)."""
    mean = targets.mean(0)
    _, _, vt = np.linalg.svd(targets - mean, full_matrices=False)
    return mean.astype(np.float32), vt[:dim].astype(np.float32)


def project(targets: np.ndarray, known: np.ndarray, projection: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """Unit-length per-face targets in the student's space; rows the teachers did not see stay zero."""
    mean, components = projection
    out = (targets - mean) @ components.T
    out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
    out[~known] = 0
    return out.astype(np.float32)


def add_teacher_targets(cfg: TrainConfig, data, entries: list[dict], cache: Path) -> None:
    """The teachers' targets for the training faces (and the unlabelled ones) of this run."""
    targets, known = teacher_targets(entries, teacher_tables(cache, cfg.teachers))
    if not known.any():
        raise TrainerError(f"no {cfg.teachers} teacher embeddings for the training photos: run `trainer teach` first")
    data.teacher = (targets, known)
    data.info = dict(data.info, teacher_photos=int(known.sum()), teachers=cfg.teachers)
    print(f"teachers ({cfg.teachers}) cover {int(known.sum())} of {len(known)} training photos", file=sys.stderr)
    if cfg.embed_weight <= 0:
        return
    projection = fit_projection(targets[known], cfg.embedding_size)
    data.face_targets = project(targets, known, projection)
    if cfg.unlabelled_cache:
        unlabelled_cache = Path(cfg.unlabelled_cache)
        manifest_path = unlabelled_cache / f"manifest{CANONICAL_SIZE}.json"
        if not manifest_path.is_file():
            raise TrainerError(f"{unlabelled_cache} holds no prepared faces: run `trainer prepare` on the unlabelled folder")
        unl = json.loads(manifest_path.read_text())
        u_targets, u_known = teacher_targets(unl["entries"], teacher_tables(unlabelled_cache, cfg.teachers))
        keep = [e for e, k in zip(unl["entries"], u_known) if k]
        unl = dict(unl, entries=keep)
        data.unlabelled_crops = load_crops(unl, None, size=cfg.input_size)[0]
        data.unlabelled_targets = project(u_targets[u_known], np.ones(len(keep), bool), projection)
        data.info["unlabelled_photos"] = len(keep)
        print(f"unlabelled faces with teacher targets: {len(keep)}", file=sys.stderr)
