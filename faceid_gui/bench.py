"""`make bench`: what the user feels (live frames, photos, start-up), measured in process CPU time beside dlib's.

The machine this runs on is often shared, so every per-item figure is the median of process CPU time
(`time.process_time`, all threads of this process), which other programs barely move; wall-clock figures
(frames/s, start-up) are printed too but depend on the load. The peer is what `face_recognition` runs: dlib's
HOG detector (upsampled once, its default), the 5-point shape predictor and the ResNet descriptor, called
directly through dlib (`pip install -e ".[bench]"`); its column is left out when dlib is absent.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from .engine import LIVE_MIN_FACE, PHOTO_SMALLEST_FACE, FaceEngine, FaceTracker, GalleryIndex, decode_image
from .paths import assets_dir

GUI_PROBE = """
import sys
import faceid_gui.app.main as m
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication
def shown(window):
    QTimer.singleShot(0, lambda: (print("shown", flush=True), QApplication.instance().quit()))
m.quit_on_sigint = shown
from faceid_gui.cli import main
sys.exit(main(sys.argv[1:]))
"""


def _cpu_median(fn, repeat: int) -> float:
    """Median process CPU milliseconds of fn() after one warm-up call."""
    fn()
    samples = []
    for _ in range(repeat):
        start = time.process_time()
        fn()
        samples.append(time.process_time() - start)
    return statistics.median(samples) * 1000


def moving_face_frames(photo_rgb: np.ndarray, face_box, count: int, size=(640, 480), face_px: int = 110):
    """BGR frames (as a camera gives them) of one face moving across a textured background and changing size.

    The face moves up to about 7 px a frame (210 px/s at 30 frames/s), a brisk head movement.
    """
    w, h = size
    x1, y1, x2, y2 = (float(v) for v in face_box)
    cx, cy, side = (x1 + x2) / 2, (y1 + y2) / 2, max(x2 - x1, y2 - y1) * 2.2
    rng = np.random.default_rng(1)
    background = cv2.GaussianBlur(rng.integers(40, 200, (h // 8, w // 8, 3), dtype=np.uint8), (0, 0), 1.5)
    background = cv2.resize(background, (w, h), interpolation=cv2.INTER_CUBIC)
    bgr_photo = cv2.cvtColor(photo_rgb, cv2.COLOR_RGB2BGR)
    for t in range(count):
        scale = face_px / (side / 2.2) * (1 + 0.2 * np.sin(2 * np.pi * t / 150))
        patch = int(side * scale)
        matrix = np.array([[scale, 0, patch / 2 - cx * scale], [0, scale, patch / 2 - cy * scale]])
        face = cv2.warpAffine(bgr_photo, matrix, (patch, patch), borderMode=cv2.BORDER_REFLECT)
        px = int((w - patch) / 2 + (w - patch) / 2 * 0.9 * np.sin(2 * np.pi * t / 120))
        py = int((h - patch) / 2 + (h - patch) / 2 * 0.9 * np.sin(2 * np.pi * t / 90 + 1))
        frame = background.copy()
        frame[py:py + patch, px:px + patch] = face
        yield frame


def run_live(engine: FaceEngine, frames, index: GalleryIndex, tracker: FaceTracker | None, min_face: int = LIVE_MIN_FACE):
    """Process frames as the Live tab's worker does; returns (CPU ms per frame list, wall s, names, boxes)."""
    cpu, names, boxes = [], [], []
    wall = 0.0
    for bgr in frames:
        start, start_wall = time.process_time(), time.perf_counter()
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        faces = tracker.update(rgb) if tracker else engine.detector.detect(rgb, min_face)
        results = engine.describe(rgb, faces)
        matches = [index.nearest(r.embedding, k=1) for r in results]
        cpu.append(time.process_time() - start)
        wall += time.perf_counter() - start_wall
        names.append([m[0].name if m and m[0].distance < engine.info.threshold else "?" for m in matches])
        boxes.append([r.face.box for r in results])
    return cpu, wall, names, boxes


class Peer:
    """dlib's HOG detector + 5-point shape predictor + ResNet descriptor: face_recognition's default path."""

    def __init__(self):
        import dlib

        # face_recognition_models/__init__ imports pkg_resources, which current setuptools no longer has.
        models = Path(importlib.util.find_spec("face_recognition_models").origin).parent / "models"
        self.version = dlib.__version__
        self.detector = dlib.get_frontal_face_detector()
        self.shapes = dlib.shape_predictor(str(models / "shape_predictor_5_face_landmarks.dat"))
        self.encoder = dlib.face_recognition_model_v1(str(models / "dlib_face_recognition_resnet_model_v1.dat"))

    def analyze(self, rgb: np.ndarray, upsample: int = 1) -> list[np.ndarray]:
        return [np.asarray(self.encoder.compute_face_descriptor(rgb, self.shapes(rgb, r), 1))
                for r in self.detector(rgb, upsample)]


def _load_peer():
    try:
        return Peer()
    except Exception as exc:  # noqa: BLE001 - not installed or broken: the column is left out, and why is said
        return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def _photo_files(folder: Path | None, limit: int) -> list[Path]:
    if folder is None:
        return [assets_dir() / "samples" / "astronaut.jpg", assets_dir() / "samples" / "camera.jpg"]
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    return files[:limit]


def _startup(photo: Path) -> tuple[float, float]:
    """Median wall seconds of `faceid compare A B` and of the GUI's first window, each in a fresh process."""
    env = dict(os.environ, QT_QPA_PLATFORM=os.environ.get("QT_QPA_PLATFORM", "offscreen"))
    compare, gui = [], []
    with tempfile.TemporaryDirectory() as tmp:
        env["FACEID_DATA_DIR"] = tmp
        for _ in range(3):
            start = time.perf_counter()
            subprocess.run([sys.executable, "-m", "faceid_gui", "compare", str(photo), str(photo)],
                           env=env, capture_output=True, check=False)
            compare.append(time.perf_counter() - start)
            start = time.perf_counter()
            proc = subprocess.Popen([sys.executable, "-c", GUI_PROBE, "--gallery", str(Path(tmp) / "g.sqlite3")],
                                    env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
            for line in proc.stdout:
                if line.startswith("shown"):
                    gui.append(time.perf_counter() - start)
                    break
            proc.wait(30)
    return statistics.median(compare), (statistics.median(gui) if gui else float("nan"))


def measure(args) -> dict:
    engine = FaceEngine(prefer=args.provider)
    sample = cv2.cvtColor(cv2.imread(str(assets_dir() / "samples" / "astronaut.jpg")), cv2.COLOR_BGR2RGB)
    sample_face = engine.detector.detect(sample)[0]
    crop = engine.align(sample, sample_face)
    embedding = engine.embedder.embed(crop[None])[0]
    rng = np.random.default_rng(0)
    gallery = rng.normal(size=(100_000, engine.info.embedding_size)).astype(np.float32)
    gallery /= np.linalg.norm(gallery, axis=1, keepdims=True)
    index = GalleryIndex(gallery, rng.integers(0, 10_000, len(gallery)), {i: f"p{i}" for i in range(10_000)})
    small = GalleryIndex(np.concatenate([embedding[None], gallery[:99]]), np.arange(100),
                         {0: "astronaut", **{i: f"p{i}" for i in range(1, 100)}})
    fig: dict = {"provider": engine.provider.name, "model": engine.info.display_name,
                 "cpu_cores": os.cpu_count(), "load_average_1min": os.getloadavg()[0]}

    # Live: the same moving-face video with tracking (what the app does) and with full detection every frame.
    frames = lambda: moving_face_frames(sample, sample_face.box, args.frames)  # noqa: E731
    tracker = FaceTracker(engine.detector, redetect_every=args.redetect_every, min_face_size=args.min_face)
    cpu, wall, names, boxes = run_live(engine, frames(), small, tracker, args.min_face)
    fig["live_cpu_ms_per_frame"] = float(np.mean(cpu) * 1000)  # mean: full detections count in the average
    fig["live_fps"] = args.frames / wall
    fig["live_full_detections"] = tracker.full_detections
    cpu_f, wall_f, names_f, boxes_f = run_live(engine, frames(), small, None, args.min_face)
    fig["live_full_cpu_ms_per_frame"] = float(np.mean(cpu_f) * 1000)
    fig["live_full_fps"] = args.frames / wall_f
    fig["live_same_names"] = float(np.mean([a == b for a, b in zip(names, names_f)]))
    fig["live_frames_with_face"] = float(np.mean([bool(n) for n in names]))

    fig["detect_ms"] = _cpu_median(lambda: engine.detector.detect(sample), args.repeat)
    fig["embed_ms"] = _cpu_median(lambda: engine.embedder.embed(crop[None]), args.repeat * 3)
    batch = np.repeat(crop[None], 16, axis=0)
    fig["embed_batch16_ms_per_face"] = _cpu_median(lambda: engine.embedder.embed(batch), args.repeat) / 16
    fig["identify_100k_ms"] = _cpu_median(lambda: index.nearest(embedding, k=5), args.repeat)
    start = time.perf_counter()
    for _ in range(args.repeat):
        index.nearest(embedding, k=5)
    fig["identify_100k_wall_ms"] = (time.perf_counter() - start) / args.repeat * 1000

    # Photos: decode + detect + align + embed every face, per photo, both libraries on the same files.
    files = _photo_files(args.photos, args.limit)
    blobs = [f.read_bytes() for f in files]
    fig["photos"] = len(files)
    # The app's photo path looks for faces from 40 px (as dlib's HOG upsampled once does) and down to 20 px when it
    # found none; every face down to 20 px is shown too.
    for key, min_face in (("photo", None), ("photo_20px", PHOTO_SMALLEST_FACE)):
        ours, found = [], 0
        for blob in blobs:
            start = time.process_time()
            faces = engine.analyze(decode_image(blob), min_face)
            ours.append(time.process_time() - start)
            found += bool(faces)
        fig[f"{key}_cpu_ms"] = statistics.median(ours) * 1000
        fig[f"{key}_found"] = found
    peer = _load_peer()
    if isinstance(peer, Peer):
        theirs, found = [], 0
        for blob in blobs:
            start = time.process_time()
            rgb = cv2.cvtColor(cv2.imdecode(np.frombuffer(blob, np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
            found += bool(peer.analyze(rgb))
            theirs.append(time.process_time() - start)
        fig["peer"] = f"dlib {peer.version} (face_recognition's HOG + 5-point + ResNet)"
        fig["peer_photo_cpu_ms"] = statistics.median(theirs) * 1000
        fig["peer_photo_found"] = found
        fig["photo_cpu_ratio"] = fig["peer_photo_cpu_ms"] / fig["photo_cpu_ms"]
        fig["photo_20px_cpu_ratio"] = fig["peer_photo_cpu_ms"] / fig["photo_20px_cpu_ms"]
        shape = peer.shapes(sample, peer.detector(sample, 1)[0])
        fig["peer_embed_ms"] = _cpu_median(lambda: peer.encoder.compute_face_descriptor(sample, shape, 1), args.repeat)
        peer_live = []
        for bgr in moving_face_frames(sample, sample_face.box, args.peer_frames):
            start = time.process_time()
            peer.analyze(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
            peer_live.append(time.process_time() - start)
        fig["peer_live_cpu_ms_per_frame"] = float(np.mean(peer_live) * 1000)
    else:
        fig["peer"] = f"absent ({peer})"
    if not args.no_startup:
        fig["compare_startup_s"], fig["gui_first_window_s"] = _startup(files[0])
    return fig


def table(fig: dict) -> str:
    peer = "peer_photo_cpu_ms" in fig
    rows = [
        ("live 640x480, one moving face: CPU ms/frame (tracking)", fig["live_cpu_ms_per_frame"],
         fig.get("peer_live_cpu_ms_per_frame")),
        ("  same, full detection every frame", fig["live_full_cpu_ms_per_frame"], None),
        ("  frames/s (wall, tracking | full)", f"{fig['live_fps']:.0f} | {fig['live_full_fps']:.0f}", None),
        ("  same names as full detection, % of frames", 100 * fig["live_same_names"], None),
        (f"photo: decode+detect+align+embed, CPU ms ({fig['photos']} photos)", fig["photo_cpu_ms"],
         fig.get("peer_photo_cpu_ms")),
        ("  photos with a face found", fig["photo_found"], fig.get("peer_photo_found")),
        ("  same, every face down to 20 px, CPU ms", fig["photo_20px_cpu_ms"], fig.get("peer_photo_cpu_ms")),
        ("  photos with a face found", fig["photo_20px_found"], fig.get("peer_photo_found")),
        ("detect (512x512 photo), CPU ms", fig["detect_ms"], None),
        ("embed one face, CPU ms", fig["embed_ms"], fig.get("peer_embed_ms")),
        ("embed, per face in a batch of 16, CPU ms", fig["embed_batch16_ms_per_face"], None),
        ("1:N identify vs 100,000, CPU ms | wall ms",
         f"{fig['identify_100k_ms']:.2f} | {fig['identify_100k_wall_ms']:.2f}", None),
    ]
    if "compare_startup_s" in fig:
        rows += [("start-up: faceid compare A B, wall s", fig["compare_startup_s"], None),
                 ("start-up: GUI first window, wall s", fig["gui_first_window_s"], None)]
    lines = [f"faceid {fig['model']} on {fig['provider']}, {fig['cpu_cores']} cores, load {fig['load_average_1min']:.1f}; "
             f"peer: {fig['peer']}",
             f"{'':62s} {'faceid':>12s}" + (f" {'dlib':>10s}" if peer else "")]
    for name, ours, theirs in rows:
        cell = lambda v: "" if v is None else (v if isinstance(v, str) else f"{v:.2f}" if isinstance(v, float) else str(v))  # noqa: E731
        lines.append(f"{name:62s} {cell(ours):>12s}" + (f" {cell(theirs):>10s}" if peer else ""))
    if peer:
        lines.append(f"photo CPU ratio dlib/faceid: {fig['photo_cpu_ratio']:.1f}x (the app's photo path), "
                     f"{fig['photo_20px_cpu_ratio']:.1f}x with every face down to 20 px")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", action="store_true", help="print only the figures, as one JSON object")
    parser.add_argument("--photos", type=Path, help="folder of photos (default: the shipped samples)")
    parser.add_argument("--limit", type=int, default=100, help="at most this many photos from --photos")
    parser.add_argument("--frames", type=int, default=300, help="frames of the synthetic live video")
    parser.add_argument("--peer-frames", type=int, default=10, help="live frames for dlib (slow)")
    parser.add_argument("--redetect-every", type=int, default=10)
    parser.add_argument("--min-face", type=int, default=LIVE_MIN_FACE, help="live view's smallest face, pixels")
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--provider", default="auto", choices=["auto", "cpu", "cuda"])
    parser.add_argument("--no-startup", action="store_true", help="skip the start-up timings (subprocesses)")
    args = parser.parse_args(argv)
    fig = measure(args)
    fig = {k: (round(v, 3) if isinstance(v, float) else v) for k, v in fig.items()}
    if not args.json:
        print(table(fig))
    print(json.dumps(fig))


if __name__ == "__main__":
    main()
