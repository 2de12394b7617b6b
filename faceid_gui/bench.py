"""`make bench`: what the user feels (live frames, photos, start-up), in process CPU time beside two peers.

The machine this runs on is often shared, so every per-item figure is the median of process CPU time
(`time.process_time`, all threads of this process), which other programs barely move; wall-clock figures
(frames/s, start-up) are printed too but depend on the load. The peers (`pip install -e ".[bench]"`, see
faceid_gui/peers.py): what `face_recognition` runs (dlib's HOG detector upsampled once, 5-point shape predictor,
ResNet descriptor) and OpenCV's own YuNet + SFace; a peer's column is left out when it is not installed.
"""
from __future__ import annotations

import argparse
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

from .bench_accuracy import measure_accuracy
from .bench_big import measure_big
from .bench_table import table
from .engine import LIVE_MIN_FACE, PHOTO_SMALLEST_FACE, FaceEngine, FaceTracker, GalleryIndex, decode_image
from .paths import assets_dir
from .peers import DlibPeer, OpenCVPeer

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


def _load_peers(work_dir: Path) -> tuple[list, list[str]]:
    """The peers that are installed, and a line for each that is not (its column is left out)."""
    peers, absent = [], []
    for make in (DlibPeer, lambda: OpenCVPeer(work_dir)):
        try:
            peers.append(make())
        except Exception as exc:  # noqa: BLE001 - not installed or broken: the column is left out, and why is said
            absent.append(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
    return peers, absent


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
    with tempfile.TemporaryDirectory() as tmp:
        peers, absent = _load_peers(Path(tmp))
        fig["peers"] = [p.version for p in peers] + [f"absent ({a})" for a in absent]
        for peer in peers:
            fig.update(_measure_peer(peer, blobs, sample, sample_face, fig, args, engine.detector.detect))
        if args.accuracy:
            fig.update(measure_accuracy(args.accuracy, args.accuracy_limit, peers, args.provider))
    if not args.no_big:
        fig.update(measure_big(args.provider))
    if not args.no_startup:
        fig["compare_startup_s"], fig["gui_first_window_s"] = _startup(files[0])
    return fig


def _measure_peer(peer, blobs: list[bytes], sample: np.ndarray, sample_face, fig: dict, args, engine_detect) -> dict:
    """A peer's photo path (decode included, as for faceid), one-face embedding and live frames, CPU ms."""
    name, out = peer.name, {}
    theirs, found = [], 0
    for blob in blobs:
        start = time.process_time()
        bgr = cv2.imdecode(np.frombuffer(blob, np.uint8), cv2.IMREAD_COLOR)
        found += bool(peer.analyze(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB) if name == "dlib" else bgr))
        theirs.append(time.process_time() - start)
    out[f"{name}_photo_cpu_ms"] = statistics.median(theirs) * 1000
    out[f"{name}_photo_found"] = found
    out[f"{name}_photo_cpu_ratio"] = out[f"{name}_photo_cpu_ms"] / fig["photo_cpu_ms"]
    out[f"{name}_photo_20px_cpu_ratio"] = out[f"{name}_photo_cpu_ms"] / fig["photo_20px_cpu_ms"]
    if name == "opencv":  # YuNet as a detector alone, against faceid's MTCNN on the same decoded photos
        decoded = [cv2.imdecode(np.frombuffer(b, np.uint8), cv2.IMREAD_COLOR) for b in blobs]
        out["opencv_detect_cpu_ms"] = statistics.median(_cpu_median(lambda: peer.detect(b), 3) for b in decoded)
        out["detect_photos_cpu_ms"] = statistics.median(
            _cpu_median(lambda: engine_detect(cv2.cvtColor(b, cv2.COLOR_BGR2RGB)), 3) for b in decoded)
    bgr_sample = cv2.cvtColor(sample, cv2.COLOR_RGB2BGR)
    if name == "dlib":
        shape = peer.shapes(sample, peer.detector(sample, 1)[0])
        out["dlib_embed_ms"] = _cpu_median(lambda: peer.encoder.compute_face_descriptor(sample, shape, 1), args.repeat)
    else:
        aligned = peer.recognizer.alignCrop(bgr_sample, peer.detect(bgr_sample)[0])
        out["opencv_embed_ms"] = _cpu_median(lambda: peer.recognizer.feature(aligned), args.repeat)
    live = []
    for bgr in moving_face_frames(sample, sample_face.box, args.peer_frames):
        start = time.process_time()
        peer.analyze(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB) if name == "dlib" else bgr)
        live.append(time.process_time() - start)
    out[f"{name}_live_cpu_ms_per_frame"] = float(np.mean(live) * 1000)
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", action="store_true", help="print only the figures, as one JSON object")
    parser.add_argument("--photos", type=Path, help="folder of photos (default: the shipped samples)")
    parser.add_argument("--limit", type=int, default=100, help="at most this many photos from --photos")
    parser.add_argument("--frames", type=int, default=300, help="frames of the synthetic live video")
    parser.add_argument("--peer-frames", type=int, default=10, help="live frames for each peer (slow)")
    parser.add_argument("--redetect-every", type=int, default=10, help="live: full detection every N frames")
    parser.add_argument("--min-face", type=int, default=LIVE_MIN_FACE, help="live view's smallest face, pixels")
    parser.add_argument("--repeat", type=int, default=30, help="runs of each micro-benchmark (median)")
    parser.add_argument("--provider", default="auto", choices=["auto", "cpu", "cuda"], help="inference device")
    parser.add_argument("--no-startup", action="store_true", help="skip the start-up timings (subprocesses)")
    parser.add_argument("--no-big", action="store_true", help="skip the 12 MP, 80 MP and 200-face photos")
    parser.add_argument("--accuracy", type=Path, metavar="DIR",
                        help="also verification accuracy of every pipeline on a CelebA-layout folder (slow)")
    parser.add_argument("--accuracy-limit", type=int, default=1500, help="photos of --accuracy to use")
    args = parser.parse_args(argv)
    fig = measure(args)
    fig = {k: (round(v, 3) if isinstance(v, float) else v) for k, v in fig.items()}
    if not args.json:
        print(table(fig))
    print(json.dumps(fig))


if __name__ == "__main__":
    main()
