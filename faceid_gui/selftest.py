"""`faceid --self-test`: proves the models load and the whole pipeline works, using shipped sample photos."""
from __future__ import annotations

import sys

import numpy as np

from .cli_output import shown
from .engine import FaceEngine, FaceIdError, distance, load_image, plural
from .engine.model_check import sample_variants
from .paths import assets_dir


def run_self_test(args) -> int:
    failures: list[str] = []

    def check(condition: bool, what: str) -> None:
        print(f"{'ok  ' if condition else 'FAIL'} {what}")
        if not condition:
            failures.append(what)

    try:
        engine = FaceEngine(args.model, prefer=args.provider)
    except FaceIdError as exc:
        print(f"FAIL loading models: {exc}")
        return 1
    info = engine.info
    if engine.note:
        print(f"note {shown(engine.note)}")
    check(True, f"models loaded: {info.display_name}, detector MTCNN ({assets_dir()})")
    check(engine.provider.name in ("CPU", "CUDA") and bool(engine.provider.reason),
          f"provider reported: {engine.provider.name} ({engine.provider.reason})")
    try:
        astronaut = load_image(assets_dir() / "samples" / "astronaut.jpg")
        camera = load_image(assets_dir() / "samples" / "camera.jpg")
    except FaceIdError as exc:
        print(f"FAIL sample images: {exc}")
        return 1
    ref = engine.analyze(astronaut)
    other = engine.analyze(camera)
    check(len(ref) == 1 and len(other) == 1, "one face detected in each sample photo")
    if ref and other:
        check(ref[0].crop.shape == (info.input_size, info.input_size, 3), f"aligned crop is {info.input_size}x{info.input_size}")
        check(bool(np.isfinite(ref[0].embedding).all()), f"embedding has {info.embedding_size} finite values")
        variants = sample_variants(astronaut)  # the same pairs every non-shipped model is checked on
        d_other = distance(ref[0].embedding, other[0].embedding)
        for name, image in variants.items():
            found = engine.analyze(image)
            if not found:
                check(False, f"face found in {name} copy")
                continue
            d = distance(ref[0].embedding, found[0].embedding)
            if info.trained:
                check(d < info.threshold, f"same face matches itself {name}: distance {d:.3f} < {info.threshold:.3f}")
            else:
                check(d < d_other, f"same face {name} closer than another person ({d:.3f} < {d_other:.3f})")
        if info.trained:
            check(d_other >= info.threshold, f"two different people differ: distance {d_other:.3f} >= {info.threshold:.3f}")
        from .engine.grouping import GroupingParams, group_embeddings  # scikit-learn, which a bundle must carry

        faces = np.stack([ref[0].embedding] * 2 + [other[0].embedding] * 2)
        check(group_embeddings(faces, GroupingParams(0.01, 2)).tolist() == [0, 0, 1, 1], "faces grouped (DBSCAN)")
    print("self-test passed" if not failures else f"self-test FAILED: {plural(len(failures), 'check')}")
    sys.stdout.flush()
    return 0 if not failures else 1
