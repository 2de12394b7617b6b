"""Scale of the People features on this machine: grouping N synthetic faces (time and peak memory), 1:N identify
against many enrolled people (the Live tab's per-frame cost), and a re-scan of an unchanged, already indexed folder.

    python tools/people_bench.py [--faces 50000] [--people 10000] [--rescan DIR --library FILE]

Synthetic faces: unit-length 32-D embeddings of people (10 faces each) spread like genuine pairs of the shipped
model (median genuine distance about 0.4), grouped with the parameters the app derives for that many faces; then
faces four times tighter (a much better model) linked at Compare's "same" edge, where groups do form (the slow case).
"""
from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from faceid_gui.engine import FaceEngine, GalleryIndex, gallery_rule, identify_all  # noqa: E402
from faceid_gui.engine.grouping import group_embeddings, grouping_params  # noqa: E402


def synthetic(people: int, per_person: int, dim: int, rng, spread: float = 0.4) -> np.ndarray:
    centres = rng.normal(size=(people, dim))
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    faces = np.repeat(centres, per_person, 0) + rng.normal(scale=spread / np.sqrt(2 * dim), size=(people * per_person, dim))
    return (faces / np.linalg.norm(faces, axis=1, keepdims=True)).astype(np.float32)


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--faces", type=int, default=50_000)
    parser.add_argument("--people", type=int, default=10_000)
    parser.add_argument("--rescan", type=Path, help="an already scanned folder, to time a re-scan of it")
    parser.add_argument("--library", type=Path, help="the library it was scanned into")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    engine = FaceEngine(prefer="cpu")
    info = engine.info
    rows = []

    faces = synthetic(args.faces // 10, 10, info.embedding_size, rng)
    before = peak_mb()
    params = grouping_params(info, len(faces))
    wall, cpu = time.perf_counter(), time.process_time()
    labels = group_embeddings(faces, params)
    rows.append((f"group {len(faces):,} faces (link {params.link_distance:.3f}, the app's for that many)",
                 f"{time.perf_counter() - wall:.1f} s wall, {time.process_time() - cpu:.1f} s CPU, "
                 f"peak {peak_mb():.0f} MB (before {before:.0f} MB), {labels.max() + 1:,} groups"))
    loose = type(params)(info.uncertain_band(info.threshold).same_below, params.min_samples)
    tight = synthetic(args.faces // 10, 10, info.embedding_size, rng, spread=0.1)  # a far better model's faces
    wall, cpu = time.perf_counter(), time.process_time()
    labels = group_embeddings(tight, loose)  # dense neighbourhoods: the slow case
    rows.append((f"group {len(faces):,} tight faces (median genuine distance 0.1, link {loose.link_distance:.3f})",
                 f"{time.perf_counter() - wall:.1f} s wall, {time.process_time() - cpu:.1f} s CPU, "
                 f"peak {peak_mb():.0f} MB, {labels.max() + 1:,} groups"))

    enrolled = synthetic(args.people, 3, info.embedding_size, rng)
    index = GalleryIndex(enrolled, np.repeat(np.arange(args.people), 3), {i: f"p{i}" for i in range(args.people)})
    probes = synthetic(200, 2, info.embedding_size, rng)
    times = []
    for frame in probes.reshape(200, 2, -1):  # a frame with two faces
        start = time.process_time()
        rule = gallery_rule(info, index)
        identify_all(index, frame, rule.threshold)
        times.append(time.process_time() - start)
    rows.append((f"identify a 2-face frame against {args.people:,} people ({len(index):,} faces)",
                 f"{1000 * np.median(times):.1f} CPU-ms median (the 1:N rule included)"))

    with tempfile.TemporaryDirectory() as folder:  # `faceid identify` against a real gallery of that many people
        from faceid_gui.engine import Gallery, NewFace

        gallery_file = Path(folder) / "big.sqlite3"
        with Gallery(gallery_file, info.fingerprint, info.embedding_size) as gallery:
            for person in range(args.people):
                gallery.enroll(f"person {person}", [NewFace(e, info.fingerprint) for e in enrolled[3 * person:3 * person + 3]])
        photo = Path(__file__).resolve().parents[1] / "assets/samples/astronaut.jpg"
        wall = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "faceid_gui", "--gallery", str(gallery_file), "--provider", "cpu",
                               "identify", str(photo), "--json"], capture_output=True, text=True)
        rows.append((f"`faceid identify` against {args.people:,} people (a new process, gallery read from disk)",
                     f"{time.perf_counter() - wall:.2f} s wall, exit {done.returncode}"))

    if args.rescan and args.library:
        from faceid_gui.engine.library import Library
        from faceid_gui.engine.scan import scan_folder

        with Library(args.library, info.fingerprint) as library:
            wall = time.perf_counter()
            summary = scan_folder(library, engine, args.rescan)
            rows.append((f"re-scan {summary.found:,} photos ({summary.unchanged:,} unchanged)",
                         f"{time.perf_counter() - wall:.2f} s wall"))
    print("| what | measured |\n|---|---|")
    for what, figure in rows:
        print(f"| {what} | {figure} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
