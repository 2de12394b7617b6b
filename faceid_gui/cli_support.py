"""What every `faceid` subcommand shares: the exit codes, argument types, and opening the engine and gallery
(the one place their notes are said)."""
from __future__ import annotations

import argparse
import os

from .cli_output import say, shown

# compare: 0 same, 1 different, 3 uncertain (too close to call, engine.matching.verdict), 2 error.
# identify: 0 named, 1 unknown, 3 ambiguous (two people too close to tell apart), 2 error.
EXIT_SAME, EXIT_DIFFERENT, EXIT_ERROR, EXIT_UNCERTAIN = 0, 1, 2, 3


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line and exit 2, as every other failure
        self.exit(EXIT_ERROR, shown(f"{self.prog}: {message} (see --help)") + "\n")  # it may quote a stranger's text


def _threshold(text: str) -> float:
    from .engine import FaceIdError, check_threshold

    try:
        return check_threshold(float(text))
    except (ValueError, FaceIdError):
        raise argparse.ArgumentTypeError(f"must be a positive number, not {text!r}") from None


def _fpir(text: str) -> float:
    from .engine import check_fpir

    try:
        return check_fpir(float(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a share above 0 and at most 1 (0.01 = 1 in 100), not {text!r}") from None


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of at least 1, not {text!r}")
    return value


def _engine(args):
    from .engine import FaceEngine
    from .engine.runtime import CUDA_LIBRARIES_MISSING

    engine = FaceEngine(args.model, prefer=args.provider)
    if engine.note:
        say(f"faceid: {engine.note}")
    if engine.provider.reason == CUDA_LIBRARIES_MISSING:  # a GPU is there, unused: say why (no GPU at all is usual)
        say(f"faceid: running on the CPU: {engine.provider.reason}")
    return engine


def _gallery(args, engine, create: bool = False):
    """The gallery; only a command that writes (create=True) may create it, the others get NoGalleryError."""
    from .engine import Gallery
    from .paths import default_gallery_path

    gallery = Gallery(args.gallery or default_gallery_path(), engine.info.fingerprint, engine.info.embedding_size,
                      create=create)
    if gallery.privacy_note:
        say(f"faceid: {gallery.privacy_note}")
    return gallery


def _no_gallery(args) -> str:
    """What a command that only reads says when there is no gallery file (it creates none); empty if there is."""
    from .paths import default_gallery_path

    path = args.gallery or default_gallery_path()
    return "" if os.path.lexists(path) else f"there is no gallery at {shown(path)} (nobody is enrolled yet)"


def threshold_for(args, engine) -> float:
    """--threshold checked against the model's useful range (the slider's), else the model's own threshold."""
    return engine.info.threshold if args.threshold is None else engine.info.valid_threshold(args.threshold)
