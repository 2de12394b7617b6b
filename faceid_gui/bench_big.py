"""Bench rows for photos as phones take them: 12 MP with one face, 80 MP, and a 200-face photo.

The photos are generated from the shipped samples (upscaled, tiled) into a temporary folder; each is measured in a
fresh process so its peak memory (ru_maxrss) is its own: the photo path (decode + detect + align + embed, each step
decoding at the scale it needs), CPU ms and wall, beside what decoding the whole JPEG alone costs. Each figure is the
median of RUNS such processes: one process gives one sample of a first call, and on a shared machine the difference
of two single samples moved by 10 CPU-ms between runs.
"""
from __future__ import annotations

import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from .paths import assets_dir

CASES = {  # name: (what it is, width, height)
    "12mp": ("12 MP photo, one face", 4000, 3000),
    "80mp": ("80 MP photo, one face", 10240, 7680),
    "200faces": ("200-face photo (20 x 10 tiles, 13 MP)", 20 * 256, 10 * 256),
}
RUNS = 3  # fresh processes per case; each figure is their median


def make_photo(case: str, path: Path) -> Path:
    """Write the case's JPEG: a sample face upscaled onto a textured canvas, or 200 tiled sample faces."""
    _, w, h = CASES[case]
    samples = [cv2.imread(str(assets_dir() / "samples" / n)) for n in ("astronaut.jpg", "camera.jpg")]
    if case == "200faces":
        tiles = [_face_square(s) for s in samples]
        rows = [np.hstack([tiles[(r + c) % 2] for c in range(w // 256)]) for r in range(h // 256)]
        image = np.vstack(rows)
    else:
        rng = np.random.default_rng(0)
        image = cv2.resize(rng.integers(40, 200, (h // 64, w // 64, 3), dtype=np.uint8), (w, h),
                           interpolation=cv2.INTER_CUBIC)
        side = int(h * 0.6)  # a selfie: the face fills much of the frame
        face = cv2.resize(samples[0], (side, side), interpolation=cv2.INTER_CUBIC)
        y, x = (h - side) // 2, (w - side) // 2
        image[y:y + side, x:x + side] = face
    cv2.imwrite(str(path), image, [cv2.IMWRITE_JPEG_QUALITY, 92])
    return path


def _face_square(bgr: np.ndarray) -> np.ndarray:
    """The sample's face with a margin (the face about 60 % of the square), as a group photo's crop would be."""
    from .engine import FaceDetector

    face = FaceDetector(assets_dir(), prefer="cpu").detect(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))[0]
    x1, y1, x2, y2 = face.box
    side, cx, cy = max(x2 - x1, y2 - y1) / 0.6, (x1 + x2) / 2, (y1 + y2) / 2
    matrix = np.array([[256 / side, 0, 128 - cx * 256 / side], [0, 256 / side, 128 - cy * 256 / side]])
    return cv2.warpAffine(bgr, matrix, (256, 256), borderMode=cv2.BORDER_REFLECT)


def _measure_one(path: str, provider: str) -> dict:
    """In this process: the whole photo path, then (its peak memory taken) a full decode alone, each timed."""
    from .engine import FaceEngine, load_image

    engine = FaceEngine(prefer=provider)
    start, wall = time.process_time(), time.perf_counter()
    faces = engine.analyze_path(path).faces
    cpu, wall, peak = time.process_time() - start, time.perf_counter() - wall, _peak_mb()
    start = time.process_time()
    load_image(path)
    return {"cpu_ms": cpu * 1000, "decode_cpu_ms": (time.process_time() - start) * 1000, "wall_s": wall,
            "faces": len(faces), "peak_mb": peak}


def _peak_mb() -> float:
    """This process's peak resident memory. VmHWM starts afresh at exec; ru_maxrss would carry the parent's."""
    for line in Path("/proc/self/status").read_text().splitlines() if Path("/proc/self/status").is_file() else []:
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / (1024 if sys.platform != "darwin" else 1024 ** 2)


def measure_big(provider: str) -> dict:
    """Figures for every case, keyed big_<case>_<figure>; each case runs in its own process."""
    fig = {}
    with tempfile.TemporaryDirectory() as tmp:
        for case in CASES:
            path = make_photo(case, Path(tmp) / f"{case}.jpg")
            runs = []
            for _ in range(RUNS):
                out = subprocess.run([sys.executable, "-m", "faceid_gui.bench_big", str(path), provider],
                                     capture_output=True, text=True, check=False)
                if out.returncode != 0:
                    fig[f"big_{case}_error"] = (out.stderr.strip().splitlines() or ["failed"])[-1]
                    break
                runs.append(json.loads(out.stdout))
            else:
                for key in runs[0]:
                    fig[f"big_{case}_{key}"] = statistics.median(run[key] for run in runs)
    return fig


def rows(fig: dict) -> list[tuple[str, object, object]]:
    """(label, faceid figure, empty) rows for the bench table."""
    out = []
    for case, (label, _, _) in CASES.items():
        if f"big_{case}_error" not in fig and f"big_{case}_cpu_ms" not in fig:
            continue  # not measured (--no-big)
        if f"big_{case}_error" in fig:
            out.append((f"{label}: failed", fig[f"big_{case}_error"], None))
            continue
        beyond = fig[f"big_{case}_cpu_ms"] - fig[f"big_{case}_decode_cpu_ms"]
        out.append((f"{label}: CPU ms (beyond a whole decode, {fig[f'big_{case}_decode_cpu_ms']:.0f})",
                    f"{fig[f'big_{case}_cpu_ms']:.0f} ({beyond:+.0f})", None))
        out.append(("  faces found | peak MB | wall s", f"{fig[f'big_{case}_faces']} | {fig[f'big_{case}_peak_mb']:.0f} | "
                    f"{fig[f'big_{case}_wall_s']:.2f}", None))
    return out


if __name__ == "__main__":
    print(json.dumps(_measure_one(sys.argv[1], sys.argv[2])))
