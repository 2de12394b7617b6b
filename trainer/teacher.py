"""dlib's face-recognition ResNet (public domain) as a teacher: one 128-D embedding per prepared photo.

The teacher builds its own 150 px chip from the photo, with its own 5-point landmarks inside the box the app's
detector found at `prepare` time, so it sees the face the way it was trained to. Embeddings are cached beside the
crops (`teacher.npz`, keyed by crop name) and saved every few hundred photos, so an interrupted run resumes.
Needs the `distill` extra (`pip install -e ".[distill]"`); never imported by the app.
"""
from __future__ import annotations

import importlib.util
import json
import multiprocessing as mp
import os
from pathlib import Path

import numpy as np

from .data import Progress
from .errors import TrainerError

TEACHER_FILE = "teacher.npz"
TEACHER_DIM = 128
SAVE_EVERY = 512

_worker = None


def _models_dir() -> Path:
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or importlib.util.find_spec("dlib") is None:
        raise TrainerError('the teacher needs dlib: pip install -e ".[distill]"')
    # face_recognition_models/__init__ imports pkg_resources, which current setuptools no longer ships.
    return Path(spec.origin).parent / "models"


def _init_worker(models: str) -> None:
    global _worker
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import dlib

    _worker = (dlib.shape_predictor(str(Path(models) / "shape_predictor_5_face_landmarks.dat")),
               dlib.face_recognition_model_v1(str(Path(models) / "dlib_face_recognition_resnet_model_v1.dat")))


def _teach_one(task: tuple[str, str, str]) -> tuple[str, np.ndarray | None]:
    import dlib

    from faceid_gui.engine import FaceIdError, load_image

    name, source, sidecar = task
    predictor, recognizer = _worker
    try:
        rgb = load_image(source)
        x1, y1, x2, y2 = json.loads(Path(sidecar).read_text())["box"]
    except (FaceIdError, OSError, ValueError, KeyError):
        return name, None
    shape = predictor(rgb, dlib.rectangle(int(round(x1)), int(round(y1)), int(round(x2)), int(round(y2))))
    return name, np.asarray(recognizer.compute_face_descriptor(rgb, shape), np.float32)


def load_teacher(cache_dir: Path) -> dict[str, np.ndarray]:
    path = Path(cache_dir) / TEACHER_FILE
    if not path.is_file():
        return {}
    with np.load(path) as data:
        return dict(zip(data["names"].tolist(), data["embeddings"]))


def _save(cache_dir: Path, table: dict[str, np.ndarray]) -> None:
    path = Path(cache_dir) / TEACHER_FILE
    tmp = path.with_name(path.name + ".tmp.npz")
    names = sorted(table)
    np.savez(tmp, names=np.array(names), embeddings=np.stack([table[n] for n in names]).astype(np.float32)
             if names else np.zeros((0, TEACHER_DIM), np.float32))
    os.replace(tmp, path)  # a kill mid-save leaves the previous table


def teach(manifest: dict, cache_dir: Path, order: list[dict], workers: int = 2) -> dict[str, np.ndarray]:
    """Embed `order` (manifest entries, most wanted first) with the teacher; resumes from the cached table."""
    table = load_teacher(cache_dir)
    crop_dir = Path(manifest["crop_dir"])
    todo = [(e["crop"], e["source"], str(crop_dir / (e["crop"] + ".json"))) for e in order if e["crop"] not in table]
    todo = [t for t in todo if Path(t[2]).is_file()]
    if not todo:
        return table
    progress = Progress(len(todo), "teacher")
    unsaved = 0
    with mp.get_context("spawn").Pool(workers, initializer=_init_worker, initargs=(str(_models_dir()),)) as pool:
        for name, embedding in pool.imap(_teach_one, todo, chunksize=4):
            progress.step()
            if embedding is None:
                continue
            table[name] = embedding
            unsaved += 1
            if unsaved >= SAVE_EVERY:
                _save(cache_dir, table)
                unsaved = 0
    progress.close()
    _save(cache_dir, table)
    return table


def teacher_targets(manifest: dict, identities: list[str], table: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Teacher embeddings in `load_crops` row order and a mask of the rows the teacher has seen."""
    wanted = set(identities)
    rows = [e for e in manifest["entries"] if e["identity"] in wanted]
    targets = np.zeros((len(rows), TEACHER_DIM), np.float32)
    known = np.zeros(len(rows), bool)
    for k, e in enumerate(rows):
        if e["crop"] in table:
            targets[k] = table[e["crop"]]
            known[k] = True
    return targets, known
