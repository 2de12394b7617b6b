"""DenseNet (Huang et al. 2017) backbone with its classifier replaced by a linear embedding."""
from __future__ import annotations

from collections import OrderedDict
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn


# ONNX Runtime's blocked (NCHWc) convolutions, which fuse the BatchNorm and ReLU before them, run only where every
# channel count is a multiple of the CPU's vector width (8 floats with AVX2, 16 with AVX-512). Elsewhere BN, ReLU and
# layout copies run apart: on AVX-512 a transition 104 channels wide cost the rest of the network 6 % more CPU.
RUNTIME_CHANNEL_MULTIPLE = 16


@dataclass
class ModelConfig:
    growth_rate: int = 32
    block_config: tuple[int, ...] = (6, 12, 24, 16)
    num_init_features: int = 64
    bn_size: int = 4  # bottleneck width = bn_size * growth_rate
    compression: float = 0.5  # theta: a transition keeps this fraction of channels
    drop_rate: float = 0.0
    embedding_size: int = 32
    input_size: int = 64
    normalize: bool = True  # unit-length embeddings keep distances in [0, 2] and the margin meaningful
    # Outside training, embed each face and its mirror image and average them: a photo and its mirror then match
    # exactly, at twice the embedding cost. Training sees each (randomly flipped) image once, so weights do not change.
    mirror_average: bool = False
    # "pool": average the last feature map (any input size); "flatten": a weight per position of it, as face
    # networks do (MobileFaceNet's GDC, ArcFace's output "E"): aligned faces put the eyes in the same cells.
    head: str = "pool"
    channel_multiple: int = 1  # transitions round their width up to a multiple of this (RUNTIME_CHANNEL_MULTIPLE)
    name: str = "densenet121"
    # Input normalisation, part of the network's contract: RGB in [0, 1] mapped by (x - mean) / std.
    mean: tuple[float, float, float] = (0.5, 0.5, 0.5)
    std: tuple[float, float, float] = (0.5, 0.5, 0.5)

    def __post_init__(self):
        self.block_config = tuple(self.block_config)
        self.mean, self.std = tuple(self.mean), tuple(self.std)
        if not 0 < self.compression <= 1:
            raise ValueError("compression (theta) must be in (0, 1]")
        if self.head not in ("pool", "flatten"):
            raise ValueError(f"unknown head {self.head!r}: pool or flatten")
        if self.channel_multiple < 1:
            raise ValueError("channel_multiple must be at least 1")

    def describe(self) -> str:
        """The network in words, for the model file: e.g. "densenet-small 4-8-12-8, flattened head"."""
        text = f"{self.name} {'-'.join(map(str, self.block_config))}"
        text += ", flattened head" if self.head == "flatten" else ""
        return text + (", mirror-averaged" if self.mirror_average else "")

    def transition_width(self, channels: int) -> int:
        """Channels a transition keeps of `channels`: theta of them, rounded up to channel_multiple."""
        multiple = self.channel_multiple
        return -(-int(channels * self.compression) // multiple) * multiple

    def final_map_size(self) -> int:
        """Side of the last feature map: the stem halves twice, each transition once (flooring, as the layers do)."""
        side = (self.input_size + 1) // 2  # conv0: kernel 7, stride 2, padding 3
        side = (side + 1) // 2  # pool0: kernel 3, stride 2, padding 1
        for _ in self.block_config[1:]:
            side //= 2
        return side

    def head_positions(self) -> int:
        """Cells of the last feature map the embedding layer reads separately: all of them, or their one average."""
        return self.final_map_size() ** 2 if self.head == "flatten" else 1

    def to_dict(self) -> dict:
        return asdict(self)


PRESETS: dict[str, ModelConfig] = {
    "densenet121": ModelConfig(channel_multiple=RUNTIME_CHANNEL_MULTIPLE),
    # For CPU work and small data sets: a fraction of the compute, the same kind of network.
    "small": ModelConfig(growth_rate=16, block_config=(4, 8, 12, 8), num_init_features=32,
                         channel_multiple=RUNTIME_CHANNEL_MULTIPLE,
                         name="densenet-small"),
}


def preset(name: str, **overrides) -> ModelConfig:
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; choose from {', '.join(PRESETS)}")
    values = PRESETS[name].to_dict()
    values.update({k: v for k, v in overrides.items() if v is not None})
    return ModelConfig(**values)


class _DenseLayer(nn.Module):
    """BN-ReLU-conv1x1 bottleneck followed by BN-ReLU-conv3x3 producing growth_rate maps."""

    def __init__(self, in_features: int, growth_rate: int, bn_size: int, drop_rate: float):
        super().__init__()
        self.norm1 = nn.BatchNorm2d(in_features)
        self.conv1 = nn.Conv2d(in_features, bn_size * growth_rate, 1, bias=False)
        self.norm2 = nn.BatchNorm2d(bn_size * growth_rate)
        self.conv2 = nn.Conv2d(bn_size * growth_rate, growth_rate, 3, padding=1, bias=False)
        self.drop_rate = drop_rate

    def forward(self, features: list[torch.Tensor]) -> torch.Tensor:
        x = torch.cat(features, 1)
        x = self.conv1(F.relu(self.norm1(x)))
        x = self.conv2(F.relu(self.norm2(x)))
        if self.drop_rate > 0:
            x = F.dropout(x, p=self.drop_rate, training=self.training)
        return x


class _DenseBlock(nn.ModuleDict):
    def __init__(self, num_layers: int, in_features: int, growth_rate: int, bn_size: int, drop_rate: float):
        super().__init__()
        for i in range(num_layers):
            self[f"denselayer{i + 1}"] = _DenseLayer(in_features + i * growth_rate, growth_rate, bn_size, drop_rate)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = [x]
        for layer in self.values():
            features.append(layer(features))
        return torch.cat(features, 1)


class _Transition(nn.Sequential):
    def __init__(self, in_features: int, out_features: int):
        super().__init__()
        self.norm = nn.BatchNorm2d(in_features)
        self.relu = nn.ReLU(inplace=True)
        self.conv = nn.Conv2d(in_features, out_features, 1, bias=False)
        self.pool = nn.AvgPool2d(2, 2)


class DenseNetEmbedding(nn.Module):
    """features (the DenseNet body) + embedding head; one shared encoder for both sides of a pair."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        c = config
        layers: dict[str, nn.Module] = {
            "conv0": nn.Conv2d(3, c.num_init_features, 7, stride=2, padding=3, bias=False),
            "norm0": nn.BatchNorm2d(c.num_init_features),
            "relu0": nn.ReLU(inplace=True),
            "pool0": nn.MaxPool2d(3, stride=2, padding=1),
        }
        channels = c.num_init_features
        for i, num_layers in enumerate(c.block_config):
            layers[f"denseblock{i + 1}"] = _DenseBlock(num_layers, channels, c.growth_rate, c.bn_size, c.drop_rate)
            channels += num_layers * c.growth_rate
            if i != len(c.block_config) - 1:
                out = c.transition_width(channels)
                layers[f"transition{i + 1}"] = _Transition(channels, out)
                channels = out
        layers["norm5"] = nn.BatchNorm2d(channels)
        self.features = nn.Sequential(OrderedDict(layers))
        self.embedding = nn.Linear(channels * c.head_positions(), c.embedding_size)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.config.mirror_average and not self.training:
            both = self._embed(torch.cat([x, x.flip(3)]))
            mean = both.view(2, -1, self.embedding.out_features).sum(0)  # not len(x): the ONNX graph keeps a dynamic batch
            return F.normalize(mean, dim=1) if self.config.normalize else mean / 2
        return self._embed(x)

    def _embed(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.features(x))
        x = torch.flatten(x if self.config.head == "flatten" else F.adaptive_avg_pool2d(x, 1), 1)
        x = self.embedding(x)
        if self.config.normalize:
            x = F.normalize(x, dim=1)
        return x


class SiameseNetwork(nn.Module):
    """Both images of a pair go through the same encoder (shared weights)."""

    def __init__(self, encoder: DenseNetEmbedding):
        super().__init__()
        self.encoder = encoder

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        both = self.encoder(torch.cat([a, b]))
        return both[: len(a)], both[len(a):]


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())
