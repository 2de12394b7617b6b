"""What every `faceid` subcommand shares: exit codes, the engine and gallery it opens, and its one way to print."""
from __future__ import annotations

import json
import sys

# compare: 0 same, 1 different, 3 uncertain (too close to call, engine.matching.verdict), 2 error.
# identify: 0 named, 1 unknown, 3 ambiguous (two people too close to tell apart), 2 error.
EXIT_SAME, EXIT_DIFFERENT, EXIT_ERROR, EXIT_UNCERTAIN = 0, 1, 2, 3


def _engine(args):
    from .engine import FaceEngine

    engine = FaceEngine(args.model, prefer=args.provider)
    if engine.note:
        print(f"faceid: {engine.note}", file=sys.stderr)
    return engine


def _gallery(args, engine):
    from .engine import Gallery
    from .paths import default_gallery_path

    return Gallery(args.gallery or default_gallery_path(), engine.info.fingerprint, engine.info.embedding_size)


def _print(obj, as_json: bool, text: str) -> None:
    # allow_nan=False: bare NaN is not JSON; the engine never produces one, and this makes sure of it.
    print(json.dumps(obj, allow_nan=False) if as_json else text, flush=True)


def threshold_for(args, engine) -> float:
    """--threshold checked against the model's useful range (the slider's), else the model's own threshold."""
    return engine.info.threshold if args.threshold is None else engine.info.valid_threshold(args.threshold)
