"""How many extra faces the false-face rule (engine/detector.drop_false_faces) removes, and how many it keeps.

    python tools/false_faces.py ../shared/data/celeba-subset/img_celeba --start 0 --count 1500 --sheet removed.png

Each CelebA photo shows one labelled person; the largest detection is taken as that face (the rule never drops it),
every other detection is an "extra". Whether an extra is a real face (someone in the background) or a false one (a
hand, a pattern) needs eyes: --sheet writes the removed extras as a contact sheet (index, size relative to the main
face, score), so they can be counted by hand.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from faceid_gui.engine import FaceDetector, load_image  # noqa: E402
from faceid_gui.engine.detector import FALSE_FACE_SCORE, FALSE_FACE_SIDE, drop_false_faces  # noqa: E402
from faceid_gui.paths import assets_dir  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--start", type=int, default=0)
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--sheet", type=Path, help="write the removed extra faces to this PNG")
    args = parser.parse_args()
    photos = sorted(p for p in args.folder.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    photos = photos[args.start:args.start + args.count]
    detector = FaceDetector(assets_dir(), "cpu")
    none = multi_before = multi_after = extras = removed = main_lost = 0
    tiles = []
    for path in photos:
        rgb = load_image(path)
        faces = detector.detect(rgb, keep_false=True)
        kept = drop_false_faces(faces)
        if not faces:
            none += 1
            continue
        main_lost += kept[0] is not faces[0]
        extras += len(faces) - 1
        removed += len(faces) - len(kept)
        multi_before += len(faces) > 1
        multi_after += len(kept) > 1
        if args.sheet:
            main_side = np.sqrt(faces[0].area)
            for f in faces[1:]:
                if not any(f is k for k in kept):
                    tiles.append(_tile(rgb, f, f"{len(tiles)} {np.sqrt(f.area) / main_side:.2f} {f.score:.3f}"))
    print(f"rule: drop a face smaller than {FALSE_FACE_SIDE} x the main face's side AND scored under {FALSE_FACE_SCORE}")
    print(f"photos {len(photos)} (from #{args.start}), no face {none}")
    print(f"photos with more than one face: {multi_before} before, {multi_after} after")
    print(f"extra faces: {extras}, removed {removed}, kept {extras - removed}; main faces lost: {main_lost}")
    if args.sheet and tiles:
        cols = 10
        tiles += [np.full_like(tiles[0], 255)] * (-len(tiles) % cols)
        sheet = np.vstack([np.hstack(tiles[i:i + cols]) for i in range(0, len(tiles), cols)])
        cv2.imwrite(str(args.sheet), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR))
        print(f"removed faces: {args.sheet}")
    return 0


def _tile(rgb: np.ndarray, face, label: str, size: int = 110) -> np.ndarray:
    x1, y1, x2, y2 = face.box
    pad = 0.3 * (x2 - x1)
    h, w = rgb.shape[:2]
    crop = rgb[max(0, int(y1 - pad)):min(h, int(y2 + pad)), max(0, int(x1 - pad)):min(w, int(x2 + pad))]
    tile = cv2.resize(crop, (size, size)) if crop.size else np.zeros((size, size, 3), np.uint8)
    tile = cv2.copyMakeBorder(tile, 0, 30, 0, 0, cv2.BORDER_CONSTANT, value=(255, 255, 255))
    cv2.putText(tile, label, (2, size + 22), cv2.FONT_HERSHEY_SIMPLEX, 0.38, (0, 0, 0), 1)
    return tile


if __name__ == "__main__":
    sys.exit(main())
