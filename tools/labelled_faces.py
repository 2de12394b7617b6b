"""Labelled embeddings of a CelebA-style folder for the measuring tools (tools/open_set.py, tools/grouping_quality.py).

The folder holds the photos (or an img_celeba/ folder of them) and identity_CelebA.txt ("photo person" lines).
Embeddings come from the photo library (engine/scan.py: the folder is scanned into LIBRARY first, incrementally, so
only the first run costs a full scan) with the model in use, the largest face of each photo; or from an .npz keyed
by photo name (e.g. the dlib teacher's embeddings), so the same measurement reruns on any embedding.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def add_arguments(parser) -> None:
    parser.add_argument("folder", type=Path, help="CelebA-style folder (photos or img_celeba/, identity_CelebA.txt)")
    parser.add_argument("--library", type=Path, default=Path("/tmp/faceid-measure.library.sqlite3"),
                        help="photo library the folder is scanned into (kept between runs)")
    parser.add_argument("--embeddings", type=Path, help=".npz of embeddings keyed by photo name, instead of a scan")
    parser.add_argument("--save-embeddings", type=Path, help="write the embeddings used to this .npz")


def identities(folder: Path) -> tuple[Path, dict[str, str]]:
    photos = folder / "img_celeba" if (folder / "img_celeba").is_dir() else folder
    table = {}
    for line in (folder / "identity_CelebA.txt").read_text().splitlines():
        parts = line.split()
        if len(parts) == 2:
            table[parts[0]] = parts[1]
    return photos, table


def labelled_embeddings(args) -> tuple[list[str], np.ndarray, np.ndarray]:
    """(photo names, embeddings (n, D), person labels (n,)) for the photos with a face and an identity."""
    photos, table = identities(args.folder)
    if args.embeddings:
        stored = np.load(args.embeddings)
        named = {name: np.asarray(stored[name], np.float32).ravel() for name in stored.files}
    else:
        named = scanned_embeddings(photos, args.library)
    names = sorted(n for n in named if n in table)
    embeddings = np.stack([named[n] for n in names])
    if args.save_embeddings:
        np.savez_compressed(args.save_embeddings, **{n: named[n] for n in names})
    return names, embeddings, np.array([table[n] for n in names])


def scanned_embeddings(photos: Path, library_file: Path) -> dict[str, np.ndarray]:
    from faceid_gui.engine import FaceEngine
    from faceid_gui.engine.library import Library
    from faceid_gui.engine.scan import scan_folder

    engine = FaceEngine(prefer="cpu")
    with Library(library_file, engine.info.fingerprint) as library:
        summary = scan_folder(library, engine, photos)
        if summary.analysed:
            print(f"scanned {summary.analysed} photos in {summary.seconds:.0f} s", file=sys.stderr)
        largest = {}
        for face in library.faces():
            area = float((face.box[2] - face.box[0]) * (face.box[3] - face.box[1]))
            if area > largest.get(face.path, (0.0, None))[0]:
                largest[face.path] = (area, face.embedding)
    return {Path(path).name: emb for path, (_, emb) in largest.items()}
