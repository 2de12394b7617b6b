"""The `trainer` command line: its subcommands and their options (the run options come from TrainConfig)."""
from __future__ import annotations

import argparse
import os
from dataclasses import fields
from pathlib import Path

from .config import OPTION_HELP, TrainConfig


def _add_data_args(p: argparse.ArgumentParser, required: bool = True) -> None:
    p.add_argument("--data", type=Path, required=required, help="CelebA root (official layout) or <root>/<person>/<image>")
    p.add_argument("--cache", type=Path, help="aligned-crop cache (default: ~/.cache/faceid-trainer/...)")
    p.add_argument("--workers", type=int, default=max(1, (os.cpu_count() or 2)), help="processes for face detection")
    p.add_argument("--split-seed", type=int, default=0, help="seed of the identity split when the data has none")


def _add_train_args(p: argparse.ArgumentParser) -> None:
    defaults = TrainConfig()
    for f in fields(TrainConfig):
        if f.name in ("resume", "model", "augmentation"):
            continue
        flag = "--" + f.name.replace("_", "-")
        value = getattr(defaults, f.name)
        text = OPTION_HELP.get(f.name, "") + " (default: %(default)s)"
        if isinstance(value, bool):
            p.add_argument(flag, type=lambda s: s.lower() in ("1", "true", "yes"), default=value, metavar="BOOL",
                           help=text)
        elif f.name == "threshold_far":
            p.add_argument(flag, type=float, default=None, help=OPTION_HELP[f.name])
        else:
            p.add_argument(flag, type=type(value), default=value, help=text)
    p.add_argument("--no-augment", action="store_true", help="train on the crops as they are")
    p.add_argument("--resume", action="store_true",
                   help="continue from <out>/last.pt, or mid-epoch.pt where it is newer; with neither there yet, "
                        "start as given (--init-from included)")


DESCRIPTION_HELP = ("what the model was trained on, in words, for its metadata (default: the data set's folder name "
                    "and counts; never a path of this machine)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="trainer", description="Train faceid's Siamese DenseNet and export it.")
    sub = parser.add_subparsers(dest="command")
    p = sub.add_parser("prepare", help="detect and align every image once at 112 px (cached, resumable)")
    _add_data_args(p)
    p = sub.add_parser("train", help="train on prepared crops; writes checkpoints under --out")
    _add_data_args(p, required=False)
    _add_train_args(p)
    p.add_argument("--pack", type=Path, help="train on this folder of `trainer pack` instead of --data's crops and caches")
    p = sub.add_parser("pack", help="a run's crops, labels and teacher targets in a few files (for another machine)")
    _add_data_args(p)
    _add_train_args(p)
    p.add_argument("--pack", type=Path, required=True, help="the folder to write (pack.json and .npz files)")
    p.add_argument("--jpeg-quality", type=int, default=0,
                   help="crops as JPEG of this quality, about a sixth of PNG's bytes (default: 0, lossless PNG)")
    p.add_argument("--shard-mib", type=float, default=40, help="largest crop file in MiB (default: %(default)s)")
    p = sub.add_parser("export", help="export a checkpoint's embedding branch to ONNX")
    p.add_argument("--checkpoint", type=Path, required=True)
    p.add_argument("--output", type=Path, required=True)
    p.add_argument("--data", type=Path, help="data set: re-measure validation metrics and the FAR/FRR curve")
    p.add_argument("--cache", type=Path)
    p.add_argument("--workers", type=int, default=max(1, (os.cpu_count() or 2)),
                   help="processes for face detection (default: %(default)s)")
    p.add_argument("--split-seed", type=int, default=0, help="seed of the identity split (default: %(default)s)")
    p.add_argument("--description", default="", help=DESCRIPTION_HELP)
    p.add_argument("--mirror-average", action="store_true",
                   help="the model embeds each face and its mirror image and averages them (twice the embedding "
                        "cost; a photo and its mirror then match exactly); needs --data")
    p = sub.add_parser("evaluate", help="verification metrics and report for an ONNX model")
    p.add_argument("--model", type=Path, help="an exported ONNX model")
    p.add_argument("--teacher", help="evaluate cached teacher embeddings instead: sface, dlib or sface+dlib")
    p.add_argument("--code-size", type=int, help="with --teacher: the teacher as a code of this many dimensions "
                   "(PCA fitted on training photos), the figures a student of that embedding size distils toward")
    _add_data_args(p)
    p.add_argument("--split", choices=["all", "train", "val", "test"], default="all",
                   help="identities to evaluate on (use test for identities never trained on)")
    p.add_argument("--report", type=Path, help="folder for report.png and metrics.json")
    p.add_argument("--json", action="store_true", help="one JSON line instead of indented JSON")
    p.add_argument("--mirror-average", action="store_true",
                   help="score the mean embedding of each crop and its mirror image (what it would pay at inference)")
    p = sub.add_parser("average", help="average the weights of checkpoints of one network (SWA; BatchNorm measured "
                                       "again) and measure it on validation people")
    p.add_argument("checkpoints", type=Path, nargs="+", help="cycle-end checkpoints, the network of the last")
    p.add_argument("--output", type=Path, required=True, help="the averaged checkpoint, for `trainer export`")
    _add_data_args(p)
    p = sub.add_parser("select", help="compare candidate checkpoints or model files on validation people: every pair, "
                                      "and each against the first on random halves of the people")
    p.add_argument("candidates", type=Path, nargs="+", help="checkpoints (.pt) or model files (.onnx); the first is "
                   "the one the others are measured against")
    _add_data_args(p)
    p.add_argument("--mirror-average", action="store_true",
                   help="embed a checkpoint's faces as `export --mirror-average` would (model files embed as they are)")
    p.add_argument("--halves", type=int, default=100, help="random halves of the people (default: %(default)s)")
    p.add_argument("--json", action="store_true", help="one JSON line per candidate instead of a sentence")
    p = sub.add_parser("teach", help="cache teacher embeddings of every crop (held-out people first; resumable)")
    _add_data_args(p)
    p.add_argument("--teacher", default="sface", help="sface, dlib or sface+dlib (default: %(default)s)")
    p.add_argument("--limit", type=int, help="training photos to embed at most (held-out photos always)")
    p.add_argument("--views", type=int, default=0, help="also SFace on this many augmented copies of each training "
                   "photo, for `train --view-share` (trainer/views.py)")
    p = sub.add_parser("refresh", help="prepare, train, export, evaluate on test identities, install for the app")
    _add_data_args(p)
    _add_train_args(p)
    p.add_argument("--no-install", action="store_true", help="leave the app's installed model as it is")
    p.add_argument("--description", default="", help=DESCRIPTION_HELP)
    return parser
