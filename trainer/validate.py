"""Validation during training and at export: the balanced pairs' figures, and the threshold and rate curve the app
reads, calibrated on every pair of validation photos."""
from __future__ import annotations

import numpy as np
import torch

from .augment import to_input
from .config import TrainConfig
from .data import evaluation_pairs
from .metrics import (CURVE_ROWS, best_threshold, calibration_curve, every_pair, mean_face_frr, pair_distances,
                      threshold_for_far, verification_report)
from .model import DenseNetEmbedding


@torch.inference_mode()
def embed_all(encoder: DenseNetEmbedding, crops: torch.Tensor, cfg: TrainConfig, batch: int = 256) -> np.ndarray:
    encoder.eval()
    out = [encoder(to_input(crops[i:i + batch], cfg, None, train=False)).float() for i in range(0, len(crops), batch)]
    return torch.cat(out).cpu().numpy()


def evaluate(encoder: DenseNetEmbedding, crops: torch.Tensor, labels: np.ndarray, cfg: TrainConfig) -> dict:
    return calibrate(embed_all(encoder, crops, cfg), labels, cfg)


def calibrate(emb: np.ndarray, labels: np.ndarray, cfg: TrainConfig) -> dict:
    """Verification on validation identities (the same balanced pairs and distance as `trainer evaluate`). The
    threshold and the FAR/FRR curve the app reads are calibrated on every pair of validation photos: the app's 1:N
    rule needs FARs far below what 10,000 sampled stranger pairs can show (validation: 3.4 M)."""
    pairs = evaluation_pairs(labels)  # the pairs `trainer evaluate` uses
    d = pair_distances(emb, pairs)
    same = pairs[:, 2].astype(bool)
    every_d, every_same = every_pair(emb, labels)
    if cfg.threshold_far is not None:
        threshold = threshold_for_far(every_d, every_same, cfg.threshold_far)
    else:
        threshold, _ = best_threshold(d, same)
    report = verification_report(d, same, threshold)
    report["threshold_rule"] = (f"largest distance with FAR <= {cfg.threshold_far} on every pair of validation "
                                "people's photos" if cfg.threshold_far is not None else
                                "best accuracy on validation people")
    thresholds = np.linspace(0.0, 2.0, CURVE_ROWS)
    report["rate_curve"] = calibration_curve(every_d, every_same, thresholds)
    report["mean_face_frr"] = mean_face_frr(emb, labels, thresholds)  # the app's FNIR estimate for several photos
    people = len(np.unique(labels))
    report["curve_people_pairs"] = people * (people - 1) // 2  # see engine/open_set.py: the bound's evidence
    return report
