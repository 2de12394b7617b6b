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


AUGMENTATION_PARAMS = 8  # angle (rad), scale, shift x, shift y, mirror (-1/1), contrast, brightness, grey (0/1)


def draw_augmentation(n: int, cfg: AugmentConfig, generator: torch.Generator | None = None) -> torch.Tensor:
    """(n, AUGMENTATION_PARAMS) random draws on the CPU: kept apart from applying them so that a drawn view can be
    stored and replayed exactly (`trainer teach --views`)."""

    def uniform(lo, hi):
        return torch.rand(n, generator=generator) * (hi - lo) + lo

    angle = uniform(-cfg.rotation_deg, cfg.rotation_deg) * math.pi / 180
    scale = uniform(1 - cfg.scale, 1 + cfg.scale)
    tx, ty = uniform(-cfg.translate, cfg.translate) * 2, uniform(-cfg.translate, cfg.translate) * 2
    flip = torch.where(uniform(0, 1) < cfg.flip, -1.0, 1.0)
    contrast = uniform(1 - cfg.contrast, 1 + cfg.contrast)
    brightness = uniform(-cfg.brightness, cfg.brightness)
    grey = (uniform(0, 1) < cfg.grey).float()
    return torch.stack([angle, scale, tx, ty, flip, contrast, brightness, grey], 1)


def apply_augmentation(x: torch.Tensor, params: torch.Tensor) -> torch.Tensor:
    """x: (N, 3, S, S) float in [0, 1]; params: draw_augmentation's rows. Returns the augmented batch."""
    n = x.shape[0]
    angle, scale, tx, ty, flip, contrast, brightness, grey = params.to(x.device, torch.float32).T
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack([torch.stack([cos * flip, -sin, tx], 1), torch.stack([sin * flip, cos, ty], 1)], 1)
    grid = F.affine_grid(theta.to(x.dtype), list(x.shape), align_corners=False)
    x = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    x = (x - mean) * contrast.view(n, 1, 1, 1).to(x.dtype) + mean + brightness.view(n, 1, 1, 1).to(x.dtype)
    x = torch.where(grey.view(n, 1, 1, 1) > 0, x.mean(dim=1, keepdim=True).expand_as(x), x)
    return x.clamp(0, 1)


def augment(x: torch.Tensor, cfg: AugmentConfig, generator: torch.Generator | None = None) -> torch.Tensor:
    """x: (N, 3, S, S) float in [0, 1]. Returns an augmented batch of the same shape."""
    return apply_augmentation(x, draw_augmentation(x.shape[0], cfg, generator))


def to_input(crops_u8: torch.Tensor, cfg: TrainConfig, generator: torch.Generator | None, train: bool,
             params: torch.Tensor | None = None) -> torch.Tensor:
    """uint8 NHWC crops on the device -> normalised float NCHW, augmented when training (by `params` if given)."""
    x = crops_u8.permute(0, 3, 1, 2).float() / 255.0
    if params is not None:
        x = apply_augmentation(x, params)
    elif train and cfg.augmentation is not None:
        x = augment(x, cfg.augmentation, generator)
    mean = torch.tensor(cfg.model.mean, device=x.device).view(1, 3, 1, 1)
    std = torch.tensor(cfg.model.std, device=x.device).view(1, 3, 1, 1)
    return ((x - mean) / std).contiguous(memory_format=torch.channels_last)
