"""Data sets (CelebA layout or folder-per-identity), identity-disjoint splits, aligned-crop cache, evaluation pairs."""
from __future__ import annotations

import hashlib
import json
import multiprocessing as mp
import random
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from faceid_gui.engine.imageio import IMAGE_SUFFIXES  # the formats the app reads

from .progress import Progress

UNLABELLED = ""  # the identity of a face nobody labelled


@dataclass
class Sample:
    path: Path
    identity: str


@dataclass
class DataSet:
    root: Path
    layout: str  # "celeba" or "folders"
    samples: list[Sample]
    partition: dict[str, int] = field(default_factory=dict)  # identity -> official split (CelebA)
    missing: int = 0  # rows whose image file is absent (subsets)


def load_dataset(root: Path) -> DataSet:
    root = Path(root)
    if (root / "identity_CelebA.txt").is_file():
        return _load_celeba(root)
    if not root.is_dir():
        raise FileNotFoundError(f"data folder not found: {root}")
    return _load_folders(root)


def _load_celeba(root: Path) -> DataSet:
    image_dir = next((root / d for d in ("img_align_celeba", "img_celeba") if (root / d).is_dir()), None)
    if image_dir is None:
        raise FileNotFoundError(f"{root} has identity_CelebA.txt but no img_align_celeba/ or img_celeba/")
    present = {p.name for p in image_dir.iterdir()}
    samples, missing = [], 0
    for line in (root / "identity_CelebA.txt").read_text().split("\n"):
        parts = line.split()
        if len(parts) != 2:
            continue
        if parts[0] in present:
            samples.append(Sample(image_dir / parts[0], parts[1]))
        else:
            missing += 1
    partition: dict[str, int] = {}
    part_file = root / "list_eval_partition.txt"
    if part_file.is_file():
        by_file = dict(line.split() for line in part_file.read_text().split("\n") if len(line.split()) == 2)
        for s in samples:
            if s.path.name in by_file:
                partition[s.identity] = int(by_file[s.path.name])
        # CelebA's official test split is reserved for evaluation elsewhere: never prepared, trained or selected on.
        samples = [s for s in samples if partition.get(s.identity) != 2]
        partition = {k: v for k, v in partition.items() if v != 2}
    return DataSet(root, "celeba", samples, partition, missing)


def _load_folders(root: Path) -> DataSet:
    samples = [Sample(p, person.name)
               for person in sorted(d for d in root.iterdir() if d.is_dir())
               for p in sorted(person.iterdir()) if p.suffix.lower() in IMAGE_SUFFIXES]
    if not samples:
        # Images straight in the folder: faces without identities, for distillation only (never for pairs).
        samples = [Sample(p, UNLABELLED) for p in sorted(root.iterdir()) if p.suffix.lower() in IMAGE_SUFFIXES]
        if samples:
            return DataSet(root, "unlabelled", samples)
    if not samples:
        raise FileNotFoundError(f"no images in {root} (expected CelebA layout or <root>/<person>/<image>)")
    return DataSet(root, "folders", samples)


def split_identities(identities: list[str], partition: dict[str, int], fractions=(0.7, 0.15, 0.15),
                     seed: int = 0) -> dict[str, list[str]]:
    """Disjoint identity lists for train / val / test.

    With CelebA's official partition: its train split trains and its validation split is halved (seeded, by
    person) into validation (selection, calibration) and test (reported once). Its test split is never used:
    it is reserved for evaluation outside this project. Without a partition: a seeded draw by `fractions`.
    """
    identities = sorted(set(identities))
    rng = random.Random(seed)
    if partition:
        train = [i for i in identities if partition.get(i) == 0]
        held_out = [i for i in identities if partition.get(i) == 1]
        if train and len(held_out) >= 2:
            rng.shuffle(held_out)
            half = len(held_out) // 2
            return {"train": train, "val": sorted(held_out[:half]), "test": sorted(held_out[half:])}
    shuffled = identities[:]
    rng.shuffle(shuffled)
    n_train = int(round(len(shuffled) * fractions[0]))
    n_val = int(round(len(shuffled) * fractions[1]))
    return {"train": sorted(shuffled[:n_train]), "val": sorted(shuffled[n_train:n_train + n_val]),
            "test": sorted(shuffled[n_train + n_val:])}


# -- aligned-crop cache -----------------------------------------------------------------------

_worker_engine = None


def _init_worker(input_size: int) -> None:
    global _worker_engine
    import os

    os.environ.setdefault("OMP_NUM_THREADS", "1")
    from faceid_gui.engine import FaceDetector
    from faceid_gui.paths import assets_dir

    _worker_engine = (FaceDetector(assets_dir(), prefer="cpu"), input_size)


def _cache_name(path: Path) -> str:
    return hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:20] + ".png"


def _prepare_one(task: tuple[str, str]) -> tuple[str, str]:
    """Detect + align one image exactly as the app does; returns (status, message)."""
    from faceid_gui.engine import FaceIdError, align_face, load_image

    src, dst = task
    detector, size = _worker_engine
    try:
        rgb = load_image(src)
        faces = detector.detect(rgb)
    except FaceIdError as exc:
        return "error", str(exc)
    if not faces:
        Path(dst + ".noface").touch()
        return "noface", src
    crop = align_face(rgb, faces[0].landmarks, size)
    # The face's box and landmarks in the photo let a teacher model build its own crop without detecting again.
    Path(dst + ".json").write_text(json.dumps({"box": [float(v) for v in faces[0].box[:4]],
                                               "landmarks": np.asarray(faces[0].landmarks, float).round(2).tolist()}))
    ok, buf = cv2.imencode(".png", cv2.cvtColor(crop, cv2.COLOR_RGB2BGR))
    tmp = dst + ".tmp"
    Path(tmp).write_bytes(buf.tobytes())
    Path(tmp).replace(dst)  # an interrupted run never leaves a half-written crop
    return "ok", dst


def prepare_cache(samples: list[Sample], cache_dir: Path, input_size: int, workers: int = 2) -> dict:
    """Detect and align every image once (resumable, parallel); returns the manifest."""
    crop_dir = Path(cache_dir) / f"crops{input_size}"
    crop_dir.mkdir(parents=True, exist_ok=True)
    todo = []
    for s in samples:
        dst = crop_dir / _cache_name(s.path)
        if not dst.exists() and not Path(str(dst) + ".noface").exists():
            todo.append((str(s.path), str(dst)))
    errors: list[str] = []
    if todo:
        progress = Progress(len(todo), "prepare")
        with mp.get_context("spawn").Pool(workers, initializer=_init_worker, initargs=(input_size,)) as pool:
            for status, message in pool.imap_unordered(_prepare_one, todo, chunksize=8):
                if status == "error":
                    errors.append(message)
                progress.step()
        progress.close()
    entries, no_face = [], []
    for s in samples:
        dst = crop_dir / _cache_name(s.path)
        if dst.exists():
            entries.append({"crop": dst.name, "identity": s.identity, "source": str(s.path)})
        elif Path(str(dst) + ".noface").exists():
            no_face.append(str(s.path))
    manifest = {"input_size": input_size, "crop_dir": str(crop_dir), "entries": entries,
                "no_face": no_face, "errors": errors}
    (Path(cache_dir) / f"manifest{input_size}.json").write_text(json.dumps(manifest))
    (Path(cache_dir) / "no_face.txt").write_text("\n".join(no_face) + ("\n" if no_face else ""))
    return manifest


def split_entries(manifest: dict, identities: list[str] | None) -> list[dict]:
    """The manifest's entries of these identities (all entries when None), in the order load_crops returns them."""
    if identities is None:
        return list(manifest["entries"])
    wanted = set(identities)
    return [e for e in manifest["entries"] if e["identity"] in wanted]


def load_crops(manifest: dict, identities: list[str] | None, with_pixels: bool = True,
               size: int | None = None) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Crops (N, S, S, 3) uint8 RGB and integer labels for the given identities (labels only: no pixels read).

    size: the model's input size, shrunk from the cached crops exactly as the app's align_face does.
    """
    from faceid_gui.engine.align import shrink_crop

    crop_dir = Path(manifest["crop_dir"])
    rows = split_entries(manifest, identities)
    names = sorted({e["identity"] for e in rows})
    index = {n: i for i, n in enumerate(names)}
    size = size or manifest["input_size"]
    crops = np.empty((len(rows) if with_pixels else 0, size, size, 3), np.uint8)
    for k, e in enumerate(rows[:len(crops)]):
        crops[k] = shrink_crop(cv2.cvtColor(cv2.imread(str(crop_dir / e["crop"])), cv2.COLOR_BGR2RGB), size)
    labels = np.array([index[e["identity"]] for e in rows], np.int64)
    return crops, labels, names


# -- evaluation pairs (training draws: sampling.py) ------------------------------------------


def evaluation_pairs(labels: np.ndarray, seed: int = 0, max_pairs: int = 20000) -> np.ndarray:
    """Balanced same/different pairs for verification: (M, 3) rows of (i, j, is_same)."""
    rng = np.random.default_rng(seed)
    by_id = defaultdict(list)
    for i, y in enumerate(labels):
        by_id[int(y)].append(i)
    same = [(a, b) for idx in by_id.values() for n, a in enumerate(idx) for b in idx[n + 1:]]
    same = np.asarray(same, np.int64).reshape(-1, 2)
    if len(same) > max_pairs // 2:
        same = same[rng.choice(len(same), max_pairs // 2, replace=False)]
    diff = []
    while len(diff) < len(same):
        a, b = rng.integers(len(labels), size=2)
        if labels[a] != labels[b]:
            diff.append((a, b))
    diff = np.asarray(diff, np.int64).reshape(-1, 2)
    return np.concatenate([np.c_[same, np.ones(len(same), np.int64)], np.c_[diff, np.zeros(len(diff), np.int64)]])
