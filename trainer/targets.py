"""Distillation targets: the teachers' cached embeddings of each face, each L2-normalised, concatenated (the batch
distances of RKD), and as per-face targets: centred on the mean training face (for a linear head) or the teachers'
best code of the embedding's size (for a rotation)."""
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
from .views import TeacherViews, load_views, view_tables


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


def principal_code(train: np.ndarray, size: int):
    """A function giving teacher embeddings as a `size`-D code, unit length as the student's: their projection on
    the training photos' first `size` principal axes, the linear code of that size that keeps most of the teacher."""
    from sklearn.decomposition import PCA

    if not 0 < size <= min(train.shape):
        raise TrainerError(f"a teacher code's size (--code-size, or the embedding size with --face-target code) "
                           f"must lie between 1 and {min(train.shape)}")
    pca = PCA(size, random_state=0).fit(train)

    def code(rows: np.ndarray) -> np.ndarray:
        out = pca.transform(rows)
        return (out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)).astype(np.float32)
    return code


def teacher_code(train: np.ndarray, held_out: np.ndarray, size: int) -> np.ndarray:
    """The held-out embeddings as principal_code's code. A student of that embedding size distils toward about
    this (`--face-target code`), so its figures say how far the size itself lets a student come."""
    return principal_code(train, size)(held_out)


def centred(targets: np.ndarray, known: np.ndarray, centre: np.ndarray) -> np.ndarray:
    """Per-face targets less the teachers' mean training face, unit length; rows the teachers did not see stay
    zero. Without the centring the cosine is mostly the shared mean direction (dlib's mean face alone is within
    0.09 of every face), not what tells people apart."""
    out = targets - centre
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
    view_table = load_views(cache) if cfg.view_share > 0 else None
    crops = [e["crop"] for e in entries]
    if cfg.embed_weight <= 0:
        if view_table is not None:
            data.views = _teacher_views(view_table, crops, targets, cfg, None)
        return
    if cfg.face_target == "code":  # read through a rotation: the student's distances become the code's
        code = principal_code(targets[known], cfg.embedding_size)
        to_face_target = lambda rows, seen: code(rows) * seen[:, None]
    else:  # read through a linear head
        centre = targets[known].mean(0)
        to_face_target = lambda rows, seen: centred(rows, seen, centre)
    data.face_targets = to_face_target(targets, known)
    if view_table is not None:
        data.views = _teacher_views(view_table, crops, targets, cfg, to_face_target)
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
        data.unlabelled_targets = to_face_target(u_targets[u_known], np.ones(len(keep), bool))
        if view_table is not None:
            unlabelled_views = load_views(unlabelled_cache)
            data.unlabelled_views = _teacher_views(unlabelled_views, [e["crop"] for e in keep], u_targets[u_known], cfg,
                                                   to_face_target)
        data.info["unlabelled_photos"] = len(keep)
        print(f"unlabelled faces with teacher targets: {len(keep)}", file=sys.stderr)


def _teacher_views(table: dict, crops: list[str], clean: np.ndarray, cfg: TrainConfig, to_face_target) -> TeacherViews:
    """`crops`' stored views as distance and per-face targets (the same transform as their clean targets)."""
    params, targets, has = view_tables(table, crops, clean, teacher_names(cfg.teachers))
    rows, views = targets.shape[:2]
    face = None
    if to_face_target is not None:
        face = to_face_target(targets.reshape(rows * views, -1), np.repeat(has, views)).reshape(targets.shape)
    print(f"teacher views: {int(has.sum())} of {rows} faces, {views} each", file=sys.stderr)
    return TeacherViews(params, targets, face, has)
