"""Batch augmentation on the training device, matching what the app sees: light, contrast, pose jitter, flips; and
the network's input made from uint8 crops."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F

if TYPE_CHECKING:
    from .config import TrainConfig  # config imports this module


@dataclass
class AugmentConfig:
    flip: float = 0.5
    brightness: float = 0.25  # +- fraction
    contrast: float = 0.25
    rotation_deg: float = 8.0
    scale: float = 0.08  # +- fraction
    translate: float = 0.05  # +- fraction of the crop
    grey: float = 0.1  # probability of a grey image (webcams, old photos)


def augment(x: torch.Tensor, cfg: AugmentConfig, generator: torch.Generator | None = None) -> torch.Tensor:
    """x: (N, 3, S, S) float in [0, 1]. Returns an augmented batch of the same shape."""
    n = x.shape[0]
    dev = x.device

    def uniform(lo, hi):
        return torch.rand(n, device="cpu", generator=generator).to(dev) * (hi - lo) + lo

    angle = uniform(-cfg.rotation_deg, cfg.rotation_deg) * math.pi / 180
    scale = uniform(1 - cfg.scale, 1 + cfg.scale)
    tx, ty = uniform(-cfg.translate, cfg.translate) * 2, uniform(-cfg.translate, cfg.translate) * 2
    flip = torch.where(uniform(0, 1) < cfg.flip, -1.0, 1.0)
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack([torch.stack([cos * flip, -sin, tx], 1), torch.stack([sin * flip, cos, ty], 1)], 1)
    grid = F.affine_grid(theta.to(x.dtype), list(x.shape), align_corners=False)
    x = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    contrast = uniform(1 - cfg.contrast, 1 + cfg.contrast).view(n, 1, 1, 1)
    brightness = uniform(-cfg.brightness, cfg.brightness).view(n, 1, 1, 1)
    x = (x - mean) * contrast + mean + brightness
    grey = (uniform(0, 1) < cfg.grey).view(n, 1, 1, 1)
    x = torch.where(grey, x.mean(dim=1, keepdim=True).expand_as(x), x)
    return x.clamp(0, 1)


def to_input(crops_u8: torch.Tensor, cfg: TrainConfig, generator: torch.Generator | None, train: bool) -> torch.Tensor:
    """uint8 NHWC crops on the device -> normalised float NCHW, augmented when training."""
    x = crops_u8.permute(0, 3, 1, 2).float() / 255.0
    if train and cfg.augmentation is not None:
        x = augment(x, cfg.augmentation, generator)
    mean = torch.tensor(cfg.model.mean, device=x.device).view(1, 3, 1, 1)
    std = torch.tensor(cfg.model.std, device=x.device).view(1, 3, 1, 1)
    return ((x - mean) / std).contiguous(memory_format=torch.channels_last)
