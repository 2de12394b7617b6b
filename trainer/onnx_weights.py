"""Weights back from a model file this trainer exported, so training can continue from a shipped model.

The export keeps every parameter's name except where ONNX folded a BatchNorm into the convolution before it
(conv0 + norm0, and each bottleneck's conv1 + norm2): there the convolution gets the folded weight and its BN
becomes the identity plus the folded bias (weight 1, mean 0, variance 1 - eps), the same function in eval mode.
In training mode a BN normalises by the batch's own statistics, which that identity does not match (the
network's training-mode output differed from its eval-mode one by up to 0.18 on the shipped model; 0.06 after), so `recalibrate_folded` then measures each folded BN's
input on real faces and sets mean, variance, scale and shift so that both modes compute the folded function.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from .errors import TrainerError

_FOLDED_BN = {"conv0": "norm0", "conv1": "norm2"}  # the convolution whose output BN was folded into it


def state_from_onnx(path: Path) -> tuple[dict[str, torch.Tensor], dict, list[str]]:
    """(state dict, model config, the BatchNorms that were folded) of a model file `trainer export` wrote."""
    import onnx
    from onnx import numpy_helper

    try:
        model = onnx.load(str(path))
        config = json.loads({p.key: p.value for p in model.metadata_props}["faceid.model_config"])
    except (OSError, KeyError, ValueError, onnx.onnx_cpp2py_export.checker.ValidationError) as exc:
        raise TrainerError(f"{Path(path).name} is not a model file this trainer exported ({exc})") from None
    inits = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    state = {name: torch.from_numpy(value.copy()) for name, value in inits.items() if not name.startswith("onnx::")}
    folded = []
    for node in model.graph.node:
        if node.op_type != "Conv" or not node.input[1].startswith("onnx::"):
            continue
        module = node.name.strip("/").rsplit("/", 1)[0].replace("/", ".")  # /features/conv0/Conv -> features.conv0
        prefix, conv = module.rsplit(".", 1)
        if conv not in _FOLDED_BN:
            raise TrainerError(f"{Path(path).name}: unexpected folded convolution {module}")
        bn = f"{prefix}.{_FOLDED_BN[conv]}"
        folded.append(bn)
        weight, bias = inits[node.input[1]], inits[node.input[2]]
        state[f"{module}.weight"] = torch.from_numpy(weight.copy())
        channels = weight.shape[0]
        state[f"{bn}.weight"] = torch.ones(channels)
        state[f"{bn}.bias"] = torch.from_numpy(bias.astype(np.float32).copy())
        state[f"{bn}.running_mean"] = torch.zeros(channels)
        state[f"{bn}.running_var"] = torch.full((channels,), 1.0 - 1e-5)
        state[f"{bn}.num_batches_tracked"] = torch.tensor(0)
    return state, config, folded


@torch.no_grad()
def recalibrate_folded(encoder: torch.nn.Module, names: list[str], batches) -> None:
    """For each folded BN: measure its input's per-channel mean m and variance v over `batches` (normalised input
    tensors), then set running_mean = m, running_var = v, weight = sqrt(v + eps), bias = bias + m. Eval mode gives
    the same output as before; training mode (batch statistics close to m and v) does too."""
    modules = dict(encoder.named_modules())
    sums = {n: [0.0, 0.0, 0] for n in names}
    hooks = [modules[n].register_forward_pre_hook(
        lambda mod, inp, n=n: _accumulate(sums[n], inp[0])) for n in names]
    was_training = encoder.training
    encoder.eval()
    for x in batches:
        encoder(x)
    for h in hooks:
        h.remove()
    for n in names:
        total, squares, count = sums[n]
        mean = total / count
        var = (squares / count - mean ** 2).clamp_min(1e-8)
        bn = modules[n]
        bn.running_mean.copy_(mean)
        bn.running_var.copy_(var)
        bn.bias.add_(mean)
        bn.weight.copy_(torch.sqrt(var + bn.eps))
    encoder.train(was_training)


def _accumulate(acc: list, x: torch.Tensor) -> None:
    x = x.double().transpose(0, 1).reshape(x.shape[1], -1)
    acc[0] = acc[0] + x.sum(1)
    acc[1] = acc[1] + (x * x).sum(1)
    acc[2] += x.shape[1]


def start_from(encoder: torch.nn.Module, cfg, data) -> None:
    """--init-from's weights: a pack's stored start (measured where it was packed), or a checkpoint's or model file's.
    A model file's folded BatchNorms are measured on 2,048 training faces before training moves them."""
    from .augment import to_input
    from .checkpoint import load_weights

    if data.start_weights is not None:
        encoder.load_state_dict({k: torch.from_numpy(v) for k, v in data.start_weights.items()})
        return
    folded = load_weights(encoder, Path(cfg.init_from))
    if folded:
        pick = np.random.default_rng(cfg.seed).choice(len(data.train_crops), min(2048, len(data.train_crops)))
        sample = torch.from_numpy(data.train_crops[np.sort(pick)])
        recalibrate_folded(encoder, folded, (to_input(sample[i:i + 256], cfg, None, train=False)
                                             for i in range(0, len(sample), 256)))
