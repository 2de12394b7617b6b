"""The capture quality gate: which camera frames are good enough to enrol."""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

# Measured on aligned crops: below these a frame is blurred (variance of the Laplacian) or too dark (mean grey level).
MIN_SHARPNESS = 30.0
MIN_BRIGHTNESS = 50.0
MIN_INTERVAL_S = 0.3  # between kept frames, so the person has moved a little: varied photos enrol better


def image_quality(crop: np.ndarray) -> tuple[float, float]:
    """(sharpness as variance of the Laplacian, mean brightness) of an aligned RGB crop."""
    grey = cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY)
    return float(cv2.Laplacian(grey, cv2.CV_64F).var()), float(grey.mean())


@dataclass
class CaptureGate:
    """Keeps a frame when it holds exactly one sharp, well-lit face and the last kept one is MIN_INTERVAL_S old."""

    min_sharpness: float = MIN_SHARPNESS
    min_brightness: float = MIN_BRIGHTNESS
    min_interval_s: float = MIN_INTERVAL_S
    last_kept: float | None = None

    def accept(self, crops: list[np.ndarray], now: float) -> bool:
        """crops: the aligned faces of one frame; now: a monotonic time in seconds. Records a kept frame."""
        if len(crops) != 1:
            return False
        if self.last_kept is not None and now - self.last_kept < self.min_interval_s:
            return False
        sharpness, brightness = image_quality(crops[0])
        if sharpness < self.min_sharpness or brightness < self.min_brightness:
            return False
        self.last_kept = now
        return True
