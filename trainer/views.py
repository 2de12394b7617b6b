"""Teacher views: augmented copies of each training crop with SFace's own embedding of each copy.

The per-face and distance targets of an augmented crop are otherwise the teacher's embedding of the clean crop, yet
the training augmentation moves SFace itself by more than half the distance between two photos of one person
(RESULTS, stop 36): the student is asked to be more invariant than its teacher. `trainer teach --views K` draws K
augmentations of every training crop (seeded by the crop's name, so a resumed run draws the same ones), runs SFace on
each and caches the draws with the embeddings; `trainer train --view-share Q` then shows a training face as one of its
stored views with probability Q, replaying the draw exactly, and its SFace target is that view's. dlib works from the
whole photo, so its half of a target stays the clean crop's.
"""
from __future__ import annotations

import multiprocessing as mp
import os
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .augment import AUGMENTATION_PARAMS, AugmentConfig, apply_augmentation, draw_augmentation
from .errors import TrainerError
from .progress import Progress
from .teacher import SAVE_EVERY, TEACHER_DIM, save_arrays

VIEWS_FILE = "teacher_sface_views.npz"

_sface = None


def view_draws(crop: str, views: int, cfg: AugmentConfig) -> torch.Tensor:
    """The `views` augmentations of one crop: fixed by its name, whatever order or run embeds it."""
    return draw_augmentation(views, cfg, torch.Generator().manual_seed(zlib.crc32(crop.encode())))


def render_views(rgb: np.ndarray, params: torch.Tensor) -> np.ndarray:
    """One uint8 RGB crop -> its augmented copies (uint8 RGB), exactly as training applies `params`."""
    x = torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1)[None].float().div(255)
    out = apply_augmentation(x.expand(len(params), -1, -1, -1).contiguous(), params)
    return (out * 255).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()


def _init_worker(cache_dir: str) -> None:
    global _sface
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    torch.set_num_threads(1)
    from .sface import SFace

    _sface = SFace(Path(cache_dir))


def _view_one(task: tuple[str, str, int]):
    import cv2

    crop, path, views = task
    bgr = cv2.imread(path)
    if bgr is None:
        return crop, None, None
    params = view_draws(crop, views, AugmentConfig())
    return crop, params.numpy(), _sface.embed(render_views(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), params))


def load_views(cache_dir: Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """crop name -> (draws (K, AUGMENTATION_PARAMS), SFace embeddings (K, 128)); empty when none are cached."""
    path = Path(cache_dir) / VIEWS_FILE
    if not path.is_file():
        return {}
    with np.load(path) as data:
        return dict(zip(data["names"].tolist(), zip(data["params"], data["embeddings"])))


def _save(cache_dir: Path, table: dict, views: int) -> None:
    names = sorted(table)
    params = np.stack([table[n][0] for n in names]) if names else np.zeros((0, views, AUGMENTATION_PARAMS))
    embeddings = np.stack([table[n][1] for n in names]) if names else np.zeros((0, views, TEACHER_DIM))
    save_arrays(Path(cache_dir) / VIEWS_FILE, names=np.array(names), params=params.astype(np.float32),
                embeddings=embeddings.astype(np.float32))


def teach_views(manifest: dict, cache_dir: Path, order: list[dict], views: int, workers: int = 1) -> int:
    """SFace on `views` augmented copies of each crop of `order`; resumes from the cache. Returns crops covered."""
    if views < 1:
        raise TrainerError("--views must be at least 1")
    table = load_views(cache_dir)
    stored = {len(p) for p, _ in table.values()}
    if stored and stored != {views}:
        raise TrainerError(f"{Path(cache_dir) / VIEWS_FILE} holds {stored.pop()} views a crop: ask for as many, "
                           f"or remove the file to draw {views}")
    crop_dir = Path(manifest["crop_dir"])
    todo = [(e["crop"], str(crop_dir / e["crop"]), views) for e in order if e["crop"] not in table]
    todo = [t for t in todo if Path(t[1]).is_file()]
    if todo:
        progress, unsaved = Progress(len(todo), f"teacher views x{views}"), 0
        with mp.get_context("spawn").Pool(workers, initializer=_init_worker, initargs=(str(cache_dir),)) as pool:
            for crop, params, embeddings in pool.imap(_view_one, todo, chunksize=8):
                progress.step()
                if params is not None:
                    table[crop], unsaved = (params, embeddings), unsaved + 1
                if unsaved >= SAVE_EVERY:
                    _save(cache_dir, table, views)
                    unsaved = 0
        progress.close()
        _save(cache_dir, table, views)
    return sum(e["crop"] in table for e in order)


@dataclass
class TeacherViews:
    """Training faces' stored views, row for row with their crops: draws (N, K, params), distance targets and
    per-face targets (N, K, D) with SFace's part the view's, and which faces have views."""

    params: np.ndarray | torch.Tensor
    targets: np.ndarray | torch.Tensor | None
    face_targets: np.ndarray | torch.Tensor | None
    has: np.ndarray | torch.Tensor

    def to(self, device: torch.device) -> "TeacherViews":
        """Tensors on `device`; the draws and the mask stay on the CPU, where augmentations are drawn."""
        move = lambda a: None if a is None else torch.as_tensor(a).to(device)
        return TeacherViews(torch.as_tensor(self.params), move(self.targets), move(self.face_targets),
                            torch.as_tensor(self.has))


def view_tables(table: dict, crops: list[str], clean: np.ndarray, teachers: list[str]):
    """Draws (N, K, params), distance targets (N, K, D) and a mask of crops with views, for `crops` whose clean
    targets are `clean` (the teachers concatenated): SFace's slot takes each view's embedding."""
    if "sface" not in teachers:
        raise TrainerError("--view-share needs the sface teacher in --teachers (views are SFace's)")
    if not table:
        raise TrainerError("no teacher views cached: run `trainer teach --views K` first")
    views = len(next(iter(table.values()))[0])
    slot = slice(teachers.index("sface") * TEACHER_DIM, (teachers.index("sface") + 1) * TEACHER_DIM)
    params = np.zeros((len(crops), views, AUGMENTATION_PARAMS), np.float32)
    targets = np.repeat(clean[:, None], views, 1)
    has = np.zeros(len(crops), bool)
    for row, crop in enumerate(crops):
        if crop in table and abs(clean[row]).sum() > 0:
            params[row], targets[row, :, slot], has[row] = table[crop][0], table[crop][1], True
    return params, targets, has


def draw_with_views(views: TeacherViews, rows: torch.Tensor, share: float, cfg: AugmentConfig,
                    generator: torch.Generator) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
    """A batch's augmentation draws, a `share` of the faces that have views replaced by one of their stored draws;
    returns the draws and the choice (which faces show a view, and which) for `view_rows`."""
    rows = rows.cpu()
    params = draw_augmentation(len(rows), cfg, generator)
    shown = (torch.rand(len(rows), generator=generator) < share) & views.has[rows]
    which = torch.randint(views.params.shape[1], (len(rows),), generator=generator)
    params[shown] = views.params[rows[shown], which[shown]].float()
    return params, (shown, which)


def view_rows(clean: torch.Tensor, table: torch.Tensor, rows: torch.Tensor, choice) -> torch.Tensor:
    """The batch's targets: `clean` (its rows' clean targets), the chosen view's for the faces shown as views."""
    shown, which = (c.to(clean.device) for c in choice)
    if not bool(shown.any()):
        return clean
    out = clean.clone()
    out[shown] = table[rows[shown], which[shown]].to(clean.dtype)
    return out
