import numpy as np
import torch

from faceid_gui.engine.model_file import ModelFile, model_metadata, stranger_evidence
from trainer.config import TrainConfig
from trainer.metrics import calibration_curve, every_pair, mean_face_frr, pair_distances
from trainer.model import DenseNetEmbedding
from trainer.validate import evaluate


def test_every_pair_is_the_apps_distance_on_each_pair_of_photos_once():
    rng = np.random.default_rng(0)
    emb = rng.normal(size=(7, 5)).astype(np.float32)
    emb[3] = emb[1]  # identical embeddings keep the ε floor
    labels = np.array([0, 0, 1, 1, 2, 2, 2])
    dist, same = every_pair(emb, labels)
    i, j = np.triu_indices(7, 1)
    assert len(dist) == 21 and np.allclose(dist, pair_distances(emb, np.c_[i, j]), atol=1e-9)
    assert same.sum() == 1 + 1 + 3


def test_the_calibration_curve_counts_accepts_below_each_threshold_and_keeps_tiny_rates():
    # one stranger pair in a million comes within 0.35; the two pairs of one person lie at 0.2 and 0.4
    dist = np.r_[np.full(999_999, 1.5), 0.3, 0.2, 0.4]
    same = np.r_[np.zeros(1_000_000, bool), True, True]
    rows = calibration_curve(dist, same, np.array([0.1, 0.25, 0.35, 2.0]))
    assert rows == [[0.1, 0.0, 1.0], [0.25, 0.0, 0.5], [0.35, 1e-06, 0.5], [2.0, 1.0, 0.0]]


def test_validation_calibrates_on_every_pair_and_says_how_many_pairs_of_people_stand_behind_it():
    torch.manual_seed(0)
    cfg = TrainConfig(preset="small", input_size=32, threshold_far=0.1)
    encoder = DenseNetEmbedding(cfg.model)
    crops = torch.randint(0, 255, (24, 32, 32, 3), dtype=torch.uint8)
    labels = np.repeat(np.arange(6), 4)
    report = evaluate(encoder, crops, labels, cfg)
    assert report["curve_people_pairs"] == 15 and len(report["rate_curve"]) == 201
    assert "every pair" in report["threshold_rule"]
    assert set(report["mean_face_frr"]) == {"2", "3"}  # 4 photos a person: no 5-photo mean face with a probe
    model = ModelFile.from_metadata(model_metadata(
        embedding_size=32, input_size=32, mean=(0.5,) * 3, std=(0.5,) * 3, threshold=report["threshold"], margin=1.0,
        architecture="tiny", trained_on="toy",
        metrics={"validation": {"different_pairs": 40, "curve_people_pairs": 15}},
        rate_curve=report["rate_curve"], mean_face_frr=report["mean_face_frr"]))
    assert model.stranger_pairs == 15 and sorted(model.mean_face_frr) == [2, 3]


def test_a_mean_face_of_more_photos_leaves_fewer_of_the_persons_other_photos_beyond_a_threshold():
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(40, 16))
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    emb = (np.repeat(centres, 8, 0) + rng.normal(scale=0.15, size=(320, 16))).astype(np.float32)
    labels = np.repeat(np.arange(40), 8)
    thresholds = np.linspace(0, 2, 201)
    curves = mean_face_frr(emb, labels, thresholds)
    at = {int(k): float(np.interp(0.6, thresholds, v)) for k, v in curves.items()}
    dist, same = every_pair(emb, labels)
    one = float(np.mean(dist[same] >= 0.6))  # a photo against one other photo
    assert one > at[2] > at[3] > at[5] >= 0
    assert all(v[0] == 1.0 and v[-1] == 0.0 for v in curves.values())


def test_an_older_curve_counts_its_sampled_stranger_pairs():
    assert stranger_evidence({"different_pairs": 10_000}) == 10_000
    assert stranger_evidence({"different_pairs": True}) is None and stranger_evidence({}) is None
