"""`make bench` (trainer part): training throughput in images/s for the presets at the default input size."""
from __future__ import annotations

import time

import torch

from .loss import batch_contrastive_loss
from .model import DenseNetEmbedding, count_parameters, preset
from .train import TrainConfig


def main() -> None:
    size = TrainConfig().input_size
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    print(f"trainer benchmark  device={device}  threads={torch.get_num_threads()}  input={size}px  batch=64")
    print(f"{'preset':14s} {'parameters':>12s} {'train img/s':>12s}")
    for name in ("small", "densenet121"):
        model = DenseNetEmbedding(preset(name)).to(device).to(memory_format=torch.channels_last)
        optimizer = torch.optim.Adam(model.parameters(), betas=(0.9, 0.99))
        x = torch.randn(64, 3, size, size, device=device).contiguous(memory_format=torch.channels_last)
        ids = torch.arange(64, device=device) // 4
        steps, elapsed = 0, 0.0
        while elapsed < 4.0 or steps < 3:
            t = time.perf_counter()
            loss = batch_contrastive_loss(model(x), ids, 1.0)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            if device.type == "cuda":
                torch.cuda.synchronize()
            if steps > 0:  # first step warms up
                elapsed += time.perf_counter() - t
            steps += 1
        print(f"{name:14s} {count_parameters(model):12,d} {64 * (steps - 1) / elapsed:12.1f}")


if __name__ == "__main__":
    main()
