"""`make bench`: per-stage latency for one face in a 640x480 frame, end-to-end frames/s, 1:N search at 100k."""
from __future__ import annotations

import argparse
import statistics
import time

import cv2
import numpy as np

from .engine import FaceEngine, GalleryIndex, align_face, decode_image, encode_jpeg
from .paths import assets_dir


def _time(fn, repeat: int) -> float:
    fn()  # warm-up
    samples = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t)
    return statistics.median(samples) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--min-face", type=int, default=40, help="live view's smallest face, pixels")
    args = parser.parse_args()
    engine = FaceEngine(prefer="auto")
    photo = cv2.cvtColor(cv2.imread(str(assets_dir() / "samples" / "astronaut.jpg")), cv2.COLOR_BGR2RGB)
    frame = np.full((480, 640, 3), 60, np.uint8)
    frame[:, 80:560] = cv2.resize(photo, (480, 480), interpolation=cv2.INTER_AREA)
    jpeg = encode_jpeg(frame)
    faces = engine.detector.detect(frame, args.min_face)
    assert len(faces) == 1, "benchmark frame must hold one face"
    crop = align_face(frame, faces[0].landmarks, engine.input_size)
    embedding = engine.embedder.embed(crop[None])[0]
    rng = np.random.default_rng(0)
    gallery = rng.normal(size=(100_000, engine.info.embedding_size)).astype(np.float32)
    gallery /= np.linalg.norm(gallery, axis=1, keepdims=True)
    index = GalleryIndex(gallery, rng.integers(0, 10_000, len(gallery)), {i: f"p{i}" for i in range(10_000)})
    small_index = GalleryIndex(gallery[:100], np.arange(100), {i: f"p{i}" for i in range(100)})

    stages = {
        "decode (JPEG 640x480)": _time(lambda: decode_image(jpeg), args.repeat),
        f"detect (MTCNN, faces >= {args.min_face} px)": _time(lambda: engine.detector.detect(frame, args.min_face), args.repeat),
        "align (5-point similarity)": _time(lambda: align_face(frame, faces[0].landmarks, engine.input_size), args.repeat),
        "embed (1 face)": _time(lambda: engine.embedder.embed(crop[None]), args.repeat),
        "match (100 enrolled)": _time(lambda: small_index.nearest(embedding), args.repeat),
    }
    live_ms = sum(v for k, v in stages.items() if not k.startswith("decode"))
    batch = np.repeat(crop[None], 16, axis=0)
    embed16 = _time(lambda: engine.embedder.embed(batch), max(5, args.repeat // 3)) / 16
    search = _time(lambda: index.nearest(embedding, k=5), args.repeat)
    print(f"faceid engine benchmark  model={engine.info.display_name}  input={engine.input_size}px  "
          f"provider={engine.provider.name} ({engine.provider.reason})")
    print(f"{'stage':44s} {'ms':>8s}")
    for name, ms in stages.items():
        print(f"{name:44s} {ms:8.2f}")
    print(f"{'embed, per face in a batch of 16':44s} {embed16:8.2f}")
    print(f"{'live frame (detect+align+embed+match)':44s} {live_ms:8.2f}  -> {1000 / live_ms:5.1f} frames/s")
    print(f"{'photo (decode+live frame)':44s} {live_ms + stages['decode (JPEG 640x480)']:8.2f}")
    print(f"{'1:N identify against 100,000 embeddings':44s} {search:8.2f}")


if __name__ == "__main__":
    main()
