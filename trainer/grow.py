"""Grow a trained DenseNet into a larger one that computes the same embedding (Net2Net, Chen et al. 2016).

The larger network may have more layers at the end of each dense block, wider transitions (a larger
channel_multiple), and a flattened head in place of the pooled one. Every weight the smaller network had is copied
to where its channel now sits; whatever reads a new channel (a later layer, a transition, the head) reads it with
weight 0, so the grown network starts exactly where the small one was and training only has to add to it. New
layers keep their random initialisation.
"""
from __future__ import annotations

import re
from dataclasses import replace

import numpy as np
import torch

from .errors import TrainerError
from .model import RUNTIME_CHANNEL_MULTIPLE, DenseNetEmbedding, ModelConfig

DEFAULT_BN = {"weight": 1.0, "bias": 0.0, "running_mean": 0.0, "running_var": 1.0}
MUST_AGREE = ("growth_rate", "num_init_features", "bn_size", "compression", "drop_rate", "embedding_size", "normalize",
              "mean", "std")


def can_grow(small: ModelConfig, large: ModelConfig) -> bool:
    if any(getattr(small, name) != getattr(large, name) for name in MUST_AGREE):
        return False
    if len(small.block_config) != len(large.block_config) or large.channel_multiple % small.channel_multiple:
        return False
    if any(s > g for s, g in zip(small.block_config, large.block_config)):
        return False
    if small.head == "flatten":  # positions must match, so the input size too
        return large.head == "flatten" and small.final_map_size() == large.final_map_size()
    return True


def _layouts(c: ModelConfig) -> dict[str, list[tuple]]:
    """For each module that reads a concatenation: its input channels, one (source, index) per channel."""
    layouts, channels_in = {}, [("stem", i) for i in range(c.num_init_features)]
    for b, num_layers in enumerate(c.block_config, 1):
        features = list(channels_in)
        for j in range(1, num_layers + 1):
            layouts[f"features.denseblock{b}.denselayer{j}"] = list(features)
            features += [(f"b{b}l{j}", i) for i in range(c.growth_rate)]
        if b < len(c.block_config):
            layouts[f"features.transition{b}"] = features
            channels_in = [(f"t{b}", i) for i in range(c.transition_width(len(features)))]
        else:
            layouts["features.norm5"] = layouts["embedding"] = features
    return layouts


def _is_new_layer(key: str, small: ModelConfig) -> bool:
    """Whether a state-dict key belongs to a dense layer the small network does not have."""
    match = re.match(r"features\.denseblock(\d+)\.denselayer(\d+)\.", key)
    return bool(match) and int(match[2]) > small.block_config[int(match[1]) - 1]


def _old_index(small: list[tuple], large: list[tuple]) -> np.ndarray:
    """For each channel of `large`, its index in `small`, or -1 for a channel the small network did not have."""
    where = {source: k for k, source in enumerate(small)}
    return np.array([where.get(source, -1) for source in large])


def _spread(index: np.ndarray, positions: int) -> np.ndarray:
    """Channel indices -> indices of a (channel, position) flattening."""
    return (index[:, None] * positions + np.arange(positions)).ravel() if positions > 1 else index


def _copy_inputs(new: torch.Tensor, old: torch.Tensor, index: np.ndarray) -> torch.Tensor:
    """`new` with its input dimension (1) taken from `old` where a channel existed, zero where it is new."""
    out = new.clone()
    out[:old.shape[0]] = 0  # outputs the small network had read its new channels with 0; new outputs keep their init
    known = index >= 0
    out[:old.shape[0], torch.from_numpy(np.flatnonzero(known))] = old[:, torch.from_numpy(index[known])]
    return out


def grow_state(small_state: dict, small: ModelConfig, large_state: dict, large: ModelConfig) -> dict:
    """The large network's state dict carrying the small one's weights (see the module's docstring)."""
    if not can_grow(small, large):
        raise TrainerError(f"{large.describe()} cannot grow from {small.describe()}: it may add layers to a block, "
                           "widen transitions or flatten the head, nothing else")
    missing = [k for k in large_state if k not in small_state and not _is_new_layer(k, small)]
    unexpected = [k for k in small_state if k not in large_state]
    if missing or unexpected:
        raise TrainerError(f"the weights do not match their network ({small.describe()}): "
                           f"{len(missing)} missing, {len(unexpected)} unexpected, e.g. {(missing + unexpected)[0]}")
    small_layouts, large_layouts = _layouts(small), _layouts(large)
    out = {}
    for key, value in large_state.items():
        module, _, param = key.rpartition(".")
        owner, _, part = module.rpartition(".")
        if key not in small_state:  # a new layer's
            out[key] = value
            continue
        reader = module if module in large_layouts else owner  # the module (or layer) reading a concatenation
        index = _old_index(small_layouts[reader], large_layouts[reader]) if reader in large_layouts else None
        if module == "embedding" and param == "weight":
            out[key] = _grown_head(value, small_state[key], index, small, large)
        elif module == "features.norm5" or (index is not None and part in ("norm1", "norm")):
            out[key] = _per_channel(value, small_state[key], index, param)
        elif index is not None and part in ("conv1", "conv"):
            out[key] = _copy_inputs(value, small_state[key], index)
        else:
            out[key] = small_state[key].clone()
    return out


def _per_channel(new: torch.Tensor, old: torch.Tensor, index: np.ndarray, param: str) -> torch.Tensor:
    if param == "num_batches_tracked":
        return old.clone()
    out = torch.full_like(new, DEFAULT_BN[param])
    known = index >= 0
    out[torch.from_numpy(np.flatnonzero(known))] = old[torch.from_numpy(index[known])]
    return out


def _grown_head(new: torch.Tensor, old: torch.Tensor, index: np.ndarray, small: ModelConfig,
                large: ModelConfig) -> torch.Tensor:
    positions = large.head_positions()
    if small.head == "pool" and positions > 1:
        # a pooled head is a flattened one with the same weight at every position, divided among them
        old = (old / positions).repeat_interleave(positions, dim=1)
    return _copy_inputs(new, old, _spread(index, positions))


def padded_for_runtime(encoder: DenseNetEmbedding, multiple: int = RUNTIME_CHANNEL_MULTIPLE) -> DenseNetEmbedding:
    """The same embedding from transitions padded to `multiple` channels (model.RUNTIME_CHANNEL_MULTIPLE says why).
    A network whose other widths are not multiples of it is returned as it is: padding would not pay there."""
    c = encoder.config
    if c.channel_multiple % multiple == 0 or any(n % multiple for n in (c.growth_rate, c.num_init_features,
                                                                         c.bn_size * c.growth_rate)):
        return encoder
    config = replace(c, channel_multiple=multiple)
    padded = DenseNetEmbedding(config)
    padded.load_state_dict(grow_state(encoder.state_dict(), c, padded.state_dict(), config))
    return padded.eval()
