"""A run's training data in one folder of plain files: its crops encoded (PNG, lossless, or JPEG) in shards of a set
size, its labels and teacher targets as .npz files, and pack.json listing them with their SHA-256. A lent GPU
machine takes a few tens of MiB a call and none of the photos or caches, so `trainer pack` on this machine and
`trainer train --pack` there replace preparing, teaching and loading. No pickles: a pack is data only."""
from __future__ import annotations

import hashlib
import io
import json
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np

from faceid_gui.engine.embedder import file_sha256

from .checkpoint import atomic_write_bytes
from .config import TrainConfig
from .errors import TrainerError
from .progress import Progress
from .teacher import save_arrays

PACK_FORMAT = 1
INDEX = "pack.json"
CROP_SETS = ("train_crops", "val_crops", "unlabelled_crops")
ARRAYS = ("train_labels", "val_labels", "teacher_targets", "teacher_known", "face_targets", "unlabelled_targets")
_FILE_NAME = re.compile(r"[a-z_]+(-\d{3})?\.npz")  # what pack.json may name: files of the pack's own folder


def shaping(cfg: TrainConfig) -> dict:
    """The run options that decide what the data holds; `train --pack` must repeat them."""
    return {"input_size": cfg.input_size,
            "teachers": cfg.teachers if cfg.needs_teachers() else "",
            "face_target": cfg.face_target if cfg.embed_weight > 0 else "",
            "embedding_size": cfg.embedding_size if cfg.embed_weight > 0 and cfg.face_target == "code" else 0,
            "unlabelled_cache": cfg.unlabelled_cache if cfg.embed_weight > 0 else ""}


def _encode(crop: np.ndarray, jpeg_quality: int) -> bytes:
    bgr = cv2.cvtColor(crop, cv2.COLOR_RGB2BGR)
    ok, buf = (cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, jpeg_quality]) if jpeg_quality
               else cv2.imencode(".png", bgr))
    if not ok:
        raise TrainerError("a crop could not be encoded")
    return buf.tobytes()


def _save_file(folder: Path, name: str, arrays: dict[str, np.ndarray]) -> dict:
    """One .npz of `arrays`, written atomically; its entry in pack.json."""
    data = save_arrays(folder / name, **arrays)
    return {"file": name, "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}


def write_pack(data, cfg: TrainConfig, folder: Path, jpeg_quality: int = 0, shard_mib: float = 40) -> dict:
    """Write `data` (train.TrainingData) for the run `cfg` into `folder`; returns the index. The index is written
    last, so an interrupted pack is refused as a whole, never half read."""
    if data.views is not None or data.unlabelled_views is not None:
        raise TrainerError("teacher views (--view-share) are not packed: pack without them")
    if not 0 <= jpeg_quality <= 100 or shard_mib <= 0:
        raise TrainerError("--jpeg-quality lies from 1 to 100 (0: lossless PNG) and --shard-mib above 0")
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / INDEX).unlink(missing_ok=True)  # until the new index lands, the folder is no pack
        return _write(data, cfg, folder, jpeg_quality, shard_mib)
    except OSError as exc:  # not a folder, no permission, disk full
        raise TrainerError(f"cannot write the pack in {folder}: {exc.strerror or exc}") from None


def _write(data, cfg: TrainConfig, folder: Path, jpeg_quality: int, shard_mib: float) -> dict:
    limit = int(shard_mib * 2 ** 20)
    index = {"format": PACK_FORMAT, "shaping": shaping(cfg), "info": data.info,
             "codec": f"jpeg{jpeg_quality}" if jpeg_quality else "png", "crops": {}, "arrays": {}}
    arrays = {"train_labels": data.train_labels, "val_labels": data.val_labels,
              "teacher_targets": data.teacher[0] if data.teacher else None,
              "teacher_known": data.teacher[1] if data.teacher else None,
              "face_targets": data.face_targets, "unlabelled_targets": data.unlabelled_targets}
    for name, array in arrays.items():
        if array is not None:
            index["arrays"][name] = _save_file(folder, f"{name}.npz", {name: array})
    crop_sets = {"train_crops": data.train_crops, "val_crops": data.val_crops, "unlabelled_crops": data.unlabelled_crops}
    for name, crops in crop_sets.items():
        if crops is None:
            continue
        shards, pending, pending_bytes, progress = [], [], 0, Progress(len(crops), f"pack {name}")
        with ThreadPoolExecutor(2) as pool:  # OpenCV's encoders release the GIL
            for encoded in pool.map(lambda c: _encode(c, jpeg_quality), crops):
                if pending and pending_bytes + len(encoded) > limit:
                    shards.append(_write_shard(folder, name, len(shards), pending))
                    pending, pending_bytes = [], 0
                pending.append(encoded)
                pending_bytes += len(encoded)
                progress.step()
        if pending or not shards:
            shards.append(_write_shard(folder, name, len(shards), pending))
        progress.close()
        index["crops"][name] = {"count": len(crops), "shape": list(crops.shape[1:]), "shards": shards}
    if cfg.init_from:  # measured here: a lent machine lacks the onnx package that reads a model file's weights
        index["start"] = dict(_save_file(folder, "start_weights.npz", _start_weights(data, cfg)),
                              init_from=cfg.init_from, init_sha256=_start_file_sha256(Path(cfg.init_from)),
                              network=cfg.model.to_dict())
    atomic_write_bytes(folder / INDEX, json.dumps(index, indent=1).encode())
    return index


def _start_file_sha256(path: Path) -> str:
    try:
        return file_sha256(path)
    except OSError:
        raise TrainerError(f"cannot read --init-from {path}") from None


def _start_weights(data, cfg: TrainConfig) -> dict[str, np.ndarray]:
    from .model import DenseNetEmbedding
    from .onnx_weights import start_from
    from .train import set_seed

    set_seed(cfg.seed)  # as train() would: a grown network's new layers are drawn
    encoder = DenseNetEmbedding(cfg.model)
    start_from(encoder, cfg, data)
    return {name: value.numpy() for name, value in encoder.state_dict().items()}


def _write_shard(folder: Path, name: str, number: int, encoded: list[bytes]) -> dict:
    offsets = np.cumsum([0] + [len(e) for e in encoded]).astype(np.int64)
    blob = np.frombuffer(b"".join(encoded), np.uint8)
    entry = _save_file(folder, f"{name}-{number:03d}.npz", {"offsets": offsets, "data": blob})
    return dict(entry, count=len(encoded))


def _read_verified(folder: Path, entry: dict) -> bytes:
    name = str(entry.get("file", ""))
    if not _FILE_NAME.fullmatch(name):
        raise TrainerError(f"{folder / INDEX} names a file outside its pack: {name!r}")
    try:
        raw = (folder / name).read_bytes()
    except OSError:
        raise TrainerError(f"pack file missing: {folder / name}") from None
    if hashlib.sha256(raw).hexdigest() != entry.get("sha256"):
        raise TrainerError(f"pack file damaged or incomplete: {folder / name}")
    return raw


def _load(raw: bytes, name: str):
    try:
        return np.load(io.BytesIO(raw), allow_pickle=False)
    except (ValueError, OSError) as exc:
        raise TrainerError(f"pack file {name} is not a NumPy array file: {exc}") from None


def _decode_shard(raw: bytes, name: str, out: np.ndarray) -> None:
    """Decode one crop file into `out`, its rows of the whole set (no second copy of the set in memory)."""
    with _load(raw, name) as shard:
        offsets, blob = shard["offsets"], shard["data"]
    if len(offsets) != len(out) + 1:
        raise TrainerError(f"pack file {name} holds {len(offsets) - 1} crops where pack.json lists {len(out)}")
    for k in range(len(out)):
        image = cv2.imdecode(blob[offsets[k]:offsets[k + 1]], cv2.IMREAD_COLOR)
        if image is None or image.shape != out.shape[1:]:
            raise TrainerError(f"pack file {name} holds a crop that is not a {out.shape[1]} px face")
        out[k] = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def _read_crops(folder: Path, entry: dict, size: int) -> np.ndarray:
    shards = entry["shards"]
    counts = [int(s["count"]) for s in shards]
    if [int(v) for v in entry["shape"]] != [size, size, 3] or sum(counts) != int(entry["count"]) or min(counts, default=0) < 0:
        raise TrainerError(f"{folder / INDEX} lists crops of another size or number than this run's {size} px")
    out = np.empty((sum(counts), size, size, 3), np.uint8)
    starts = np.cumsum([0] + counts)
    with ThreadPoolExecutor(2) as pool:  # decoding releases the GIL too
        list(pool.map(lambda k: _decode_shard(_read_verified(folder, shards[k]), shards[k]["file"],
                                              out[starts[k]:starts[k + 1]]), range(len(shards))))
    return out


def read_pack(folder: Path, cfg: TrainConfig):
    """The pack in `folder` as train.TrainingData, checked against the run `cfg` and against its own index."""
    folder = Path(folder)
    try:
        index = json.loads((folder / INDEX).read_text())
    except (OSError, ValueError):
        raise TrainerError(f"{folder} is not a finished pack (no readable {INDEX}): run `trainer pack` again") from None
    if not isinstance(index, dict) or index.get("format") != PACK_FORMAT:
        raise TrainerError(f"{folder / INDEX} is not a pack of format {PACK_FORMAT}")
    try:
        return _read(folder, index, cfg)
    except (KeyError, TypeError, ValueError, AttributeError, IndexError):  # an index edited or written by hand
        raise TrainerError(f"{folder / INDEX} is not a valid pack index") from None


def _read(folder: Path, index: dict, cfg: TrainConfig):
    from .train import TrainingData

    wanted, made = shaping(cfg), index.get("shaping") or {}
    for option in wanted:
        if made.get(option) != wanted[option]:
            flag = "--" + option.replace("_", "-")
            raise TrainerError(f"the pack was made for {flag} {made.get(option)!r}; this run has {wanted[option]!r}")
    arrays = {}
    for name, entry in index.get("arrays", {}).items():
        if name in ARRAYS:
            with _load(_read_verified(folder, entry), entry["file"]) as stored:
                arrays[name] = stored[name]
    crops = {name: _read_crops(folder, entry, cfg.input_size) for name, entry in index.get("crops", {}).items()
             if name in CROP_SETS}
    rows = {name: len(a) for name, a in {**crops, **arrays}.items()}
    same_rows = (("train_crops", "train_labels", "teacher_targets", "teacher_known", "face_targets"),
                 ("val_crops", "val_labels"), ("unlabelled_crops", "unlabelled_targets"))
    if any(name not in rows for name in ("train_crops", "train_labels", "val_crops", "val_labels")) or any(
            len({rows[n] for n in group if n in rows}) > 1 for group in same_rows):
        raise TrainerError(f"{folder} is not a consistent pack: its crops, labels and targets differ in number")
    start = index.get("start")
    if start and start.get("init_from") != cfg.init_from:
        raise TrainerError(f"the pack starts from --init-from {start.get('init_from')!r}; this run has {cfg.init_from!r}")
    # the same path may hold another model since (a newly shipped one): its old weights would start the run silently.
    # Where the file is absent (a lent machine without it), the pack's copy is the start.
    if start and Path(cfg.init_from).is_file() and _start_file_sha256(Path(cfg.init_from)) != start.get("init_sha256"):
        raise TrainerError(f"{cfg.init_from} has changed since the pack was made from it: pack again")
    if start and start.get("network") != json.loads(json.dumps(cfg.model.to_dict())):  # tuples read back as lists
        raise TrainerError("the pack's start is another network than this run's: repeat --preset, --blocks and --head")
    if start:
        with _load(_read_verified(folder, start), start["file"]) as stored:
            start = {name: stored[name] for name in stored.files}
    teacher = (arrays["teacher_targets"], arrays["teacher_known"]) if "teacher_targets" in arrays else None
    info = dict(index.get("info") or {}, pack=index.get("codec"))
    return TrainingData(crops["train_crops"], arrays["train_labels"], crops["val_crops"], arrays["val_labels"], teacher,
                        info, arrays.get("face_targets"), crops.get("unlabelled_crops"), arrays.get("unlabelled_targets"),
                        start_weights=start or None)
