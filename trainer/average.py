"""Stochastic weight averaging (Izmailov et al. 2018): the mean of the weights a cyclical schedule ends its cycles
on lies nearer the middle of the flat region those ends share, and embeds better than any of them, at no cost at
inference. BatchNorm statistics do not average: they are measured afresh on training faces (torch's update_bn).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch.optim.swa_utils import update_bn

from .augment import to_input
from .checkpoint import load_checkpoint, load_weights, without_run_state
from .config import TrainConfig
from .errors import TrainerError
from .model import DenseNetEmbedding, ModelConfig

BN_PEOPLE = 1500  # training people whose photos (about 9,500 in CelebA) are read for the BatchNorm statistics
BN_FACES = 8192  # of which this many measure them
BN_BATCH = 128


def average_checkpoints(paths: list[Path], train_crops: np.ndarray, seed: int = 0) -> tuple[DenseNetEmbedding, dict]:
    """The mean of the checkpoints' weights, in the network of the last one (an earlier, smaller one grows into it
    first: trainer/grow.py), with BatchNorm statistics measured on up to BN_FACES of `train_crops` (N, S, S, 3)
    uint8. Returns the network and the last checkpoint's state to carry its configs."""
    if len(paths) < 2:
        raise TrainerError("averaging needs two checkpoints or more")
    for path in paths:
        if Path(path).suffix == ".onnx":
            raise TrainerError(f"{path}: average checkpoints (.pt); a model file's BatchNorms are folded")
    state = load_checkpoint(paths[-1])
    config = ModelConfig(**state["model_config"])
    weights = []
    for path in paths:
        encoder = DenseNetEmbedding(config)
        load_weights(encoder, Path(path))  # refuses, in one line, a network that is not this one or a smaller one
        weights.append(encoder.state_dict())
    averaged = DenseNetEmbedding(config)
    averaged.load_state_dict({k: sum(w[k] for w in weights) / len(weights) if weights[0][k].is_floating_point()
                              else weights[-1][k] for k in weights[0]})
    cfg = TrainConfig.from_dict(state["train_config"])
    pick = np.sort(np.random.default_rng(seed).permutation(len(train_crops))[:BN_FACES])
    faces = torch.from_numpy(train_crops[pick])
    update_bn((to_input(faces[i:i + BN_BATCH], cfg, None, train=False) for i in range(0, len(faces), BN_BATCH)),
              averaged)
    return averaged.eval(), state


def averaged_state(encoder: DenseNetEmbedding, state: dict, paths: list[Path], metrics: dict) -> dict:
    """A checkpoint of the averaged network that `trainer export` and `--init-from` take (not `--resume`)."""
    return dict(without_run_state(state), model=encoder.state_dict(), model_config=encoder.config.to_dict(),
                metrics=metrics, averaged_from=[Path(p).parent.name + "/" + Path(p).name for p in paths])
