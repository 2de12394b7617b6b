"""Teachers: dlib's face-recognition ResNet (public domain) and OpenCV Zoo's SFace (Apache-2.0), one cached
128-D embedding per prepared crop each.

dlib builds its own 150 px chip from the photo, with its own 5-point landmarks inside the box the app's detector
found at `prepare` time, so it sees the face the way it was trained to. SFace runs on the 112 px crop itself (the
ArcFace template it was trained on). Embeddings are cached beside the crops (`teacher_<name>.npz`, keyed by crop
name) and saved every few hundred photos, so an interrupted run resumes. Needs the `distill` extra; never
imported by the app.
"""
from __future__ import annotations

import io
import json
import multiprocessing as mp
import os
from pathlib import Path

import numpy as np

from .progress import Progress
from .errors import TrainerError

TEACHERS = ("sface", "dlib")
TEACHER_DIM = 128
SAVE_EVERY = 512

_worker = None


def teacher_file(name: str) -> str:
    return f"teacher_{name}.npz"


def _init_worker(name: str, cache_dir: str) -> None:
    global _worker
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    if name == "sface":
        from .sface import SFace

        _worker = ("sface", SFace(Path(cache_dir)))
        return
    import dlib

    from faceid_gui.peers import PeerUnavailable, dlib_models_dir

    try:
        models = dlib_models_dir()
    except PeerUnavailable as exc:
        raise TrainerError(f"the dlib teacher needs the distill extra ({exc})") from None
    _worker = ("dlib", dlib.shape_predictor(str(models / "shape_predictor_5_face_landmarks.dat")),
               dlib.face_recognition_model_v1(str(models / "dlib_face_recognition_resnet_model_v1.dat")))


def _teach_one(task: tuple[str, str, str]) -> tuple[str, np.ndarray | None]:
    import cv2

    from faceid_gui.engine import FaceIdError, load_image

    name, source, crop_path = task
    if _worker[0] == "sface":
        bgr = cv2.imread(crop_path)
        if bgr is None:
            return name, None
        return name, _worker[1].embed(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)[None])[0]
    import dlib

    _, predictor, recognizer = _worker
    try:
        rgb = load_image(source)
        x1, y1, x2, y2 = json.loads(Path(crop_path + ".json").read_text())["box"]
    except (FaceIdError, OSError, ValueError, KeyError):
        return name, None
    shape = predictor(rgb, dlib.rectangle(int(round(x1)), int(round(y1)), int(round(x2)), int(round(y2))))
    return name, np.asarray(recognizer.compute_face_descriptor(rgb, shape), np.float32)


def load_teacher(cache_dir: Path, name: str) -> dict[str, np.ndarray]:
    path = Path(cache_dir) / teacher_file(name)
    if not path.is_file():
        return {}
    with np.load(path) as data:
        return dict(zip(data["names"].tolist(), data["embeddings"]))


def save_arrays(path: Path, **arrays: np.ndarray) -> bytes:
    """One .npz of `arrays`, written atomically: a kill mid-save leaves the previous table. Returns its bytes."""
    from .checkpoint import atomic_write_bytes  # here, not at the top: teacher workers need no torch

    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    atomic_write_bytes(path, buffer.getvalue())
    return buffer.getvalue()


def _save(cache_dir: Path, name: str, table: dict[str, np.ndarray]) -> None:
    names = sorted(table)
    save_arrays(Path(cache_dir) / teacher_file(name), names=np.array(names),
                embeddings=np.stack([table[n] for n in names]).astype(np.float32)
                if names else np.zeros((0, TEACHER_DIM), np.float32))


def teach(manifest: dict, cache_dir: Path, order: list[dict], name: str = "sface",
          workers: int = 1) -> dict[str, np.ndarray]:
    """Embed `order` (manifest entries, most wanted first) with teacher `name`; resumes from the cached table."""
    if name not in TEACHERS:
        raise TrainerError(f"unknown teacher {name!r}: use one of {', '.join(TEACHERS)}")
    table = load_teacher(cache_dir, name)
    crop_dir = Path(manifest["crop_dir"])
    todo = [(e["crop"], e["source"], str(crop_dir / e["crop"])) for e in order if e["crop"] not in table]
    todo = [t for t in todo if Path(t[2]).is_file()]
    if not todo:
        return table
    progress = Progress(len(todo), f"teacher {name}")
    unsaved = 0
    with mp.get_context("spawn").Pool(workers, initializer=_init_worker, initargs=(name, str(cache_dir))) as pool:
        for crop, embedding in pool.imap(_teach_one, todo, chunksize=8):
            progress.step()
            if embedding is None:
                continue
            table[crop] = embedding
            unsaved += 1
            if unsaved >= SAVE_EVERY:
                _save(cache_dir, name, table)
                unsaved = 0
    progress.close()
    _save(cache_dir, name, table)
    return table
