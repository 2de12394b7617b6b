"""Rebuild assets/samples/ (self-test and unit-test faces) from scikit-image's wheel.

astronaut.png: Eileen Collins, NASA, public domain. camera.png: Lav Varshney, CC0.
Rerun with: python tools/make_samples.py   (needs pip and network access to PyPI only).
"""
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import cv2
import numpy as np

OUT = Path(__file__).resolve().parent.parent / "assets" / "samples"

with tempfile.TemporaryDirectory() as tmp:
    subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", tmp, "scikit-image==0.26.0"],
                   check=True)
    wheel = next(Path(tmp).glob("scikit_image-*.whl"))
    with zipfile.ZipFile(wheel) as zf:
        for name in ("astronaut", "camera"):
            data = np.frombuffer(zf.read(f"skimage/data/{name}.png"), np.uint8)
            image = cv2.imdecode(data, cv2.IMREAD_COLOR)
            OUT.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(OUT / f"{name}.jpg"), image, [cv2.IMWRITE_JPEG_QUALITY, 92])
            print("wrote", OUT / f"{name}.jpg")
