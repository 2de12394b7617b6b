"""How far a photo's face moves when the photo is mirrored, saved as a poor JPEG, halved or made grey: the distance to
the original's face and Compare's verdict for the pair (it should be "same": it is the same photo).

    python tools/invariance.py FOLDER [--model M.onnx]     # e.g. face_recognition's examples/knn_examples

Every image under FOLDER (recursively) goes through the app's own detection, alignment and embedding (FaceEngine),
its largest face compared with the largest face of each variant at the model's default threshold and band.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from faceid_gui.engine import FaceEngine, FaceIdError, load_image  # noqa: E402
from faceid_gui.engine.imageio import IMAGE_SUFFIXES, decode_image, encode_jpeg  # noqa: E402
from faceid_gui.engine.matching import SAME, verdict  # noqa: E402

VARIANTS = {
    "mirror": lambda rgb: np.ascontiguousarray(rgb[:, ::-1]),
    "JPEG quality 30": lambda rgb: decode_image(encode_jpeg(rgb, 30)),
    "half scale": lambda rgb: cv2.resize(rgb, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA),
    "greyscale": lambda rgb: np.repeat(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)[..., None], 3, axis=2),
}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--model", type=Path, help="model file (default: the shipped one)")
    args = parser.parse_args(argv)
    if not args.folder.is_dir():
        print(f"invariance: {args.folder} is not a folder", file=sys.stderr)
        return 2
    engine = FaceEngine(args.model)
    threshold = engine.info.threshold
    band = engine.info.uncertain_band(threshold)
    photos = sorted(p for p in args.folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    rows: dict[str, list[float]] = {name: [] for name in VARIANTS}
    for path in photos:
        try:
            rgb = load_image(path)
            original = engine.analyze(rgb)
        except FaceIdError as exc:
            print(f"skipped {path.name}: {exc}", file=sys.stderr)
            continue
        if not original:
            continue
        for name, change in VARIANTS.items():
            faces = engine.analyze(change(rgb))
            d = float(np.linalg.norm(faces[0].embedding - original[0].embedding)) if faces else float("nan")
            rows[name].append(d)
    print(f"{engine.info.path.name}: threshold {threshold:.3f}, same below {band.same_below:.3f}, "
          f"{len(rows['mirror'])} photos with a face")
    print("| variant | median distance | largest | not \"same\" (of the photos) |\n|---|---|---|---|")
    for name, ds in rows.items():
        d = np.array(ds)
        missed = int(sum(1 for x in d if np.isnan(x) or verdict(x, threshold, band) != SAME))
        print(f"| {name} | {np.nanmedian(d):.3f} | {np.nanmax(d):.3f} | {missed} of {len(d)} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
