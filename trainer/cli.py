"""The `trainer` command: prepare, train, evaluate, export, refresh (all of them, then install)."""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
from dataclasses import fields
from pathlib import Path

from .errors import TrainerError
from .train import TrainConfig


def _cache_for(data: Path, cache: Path | None) -> Path:
    if cache:
        return cache
    key = hashlib.sha1(str(Path(data).resolve()).encode()).hexdigest()[:10]
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "faceid-trainer" / f"{Path(data).name}-{key}"


def _add_data_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", type=Path, required=True, help="CelebA root (official layout) or <root>/<person>/<image>")
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
        if isinstance(value, bool):
            p.add_argument(flag, type=lambda s: s.lower() in ("1", "true", "yes"), default=value, metavar="BOOL")
        elif f.name == "threshold_far":
            p.add_argument(flag, type=float, default=None)
        else:
            p.add_argument(flag, type=type(value), default=value)
    p.add_argument("--no-augment", action="store_true", help="train on the crops as they are")
    p.add_argument("--resume", action="store_true", help="continue from <out>/last.pt")


def _config(args) -> TrainConfig:
    try:
        config = TrainConfig.from_dict(vars(args))
    except ValueError as exc:
        raise TrainerError(str(exc)) from None
    if args.no_augment:
        config.augmentation = None
    return config


def _prepared(args, input_size: int):
    from .data import load_dataset, prepare_cache, split_identities

    dataset = load_dataset(args.data)
    if dataset.missing:
        print(f"skipped {dataset.missing} listed images that are not on disk", file=sys.stderr)
    manifest = prepare_cache(dataset.samples, _cache_for(args.data, args.cache), input_size, args.workers)
    ids = sorted({e["identity"] for e in manifest["entries"]})
    splits = split_identities(ids, dataset.partition, seed=args.split_seed)
    by_split = {name: sum(1 for e in manifest["entries"] if e["identity"] in set(v)) for name, v in splits.items()}
    info = {"data": str(args.data), "layout": dataset.layout, "images": len(dataset.samples),
            "missing_files": dataset.missing, "aligned": len(manifest["entries"]), "no_face": len(manifest["no_face"]),
            "identities": {k: len(v) for k, v in splits.items()}, "images_per_split": by_split,
            "split_seed": args.split_seed}
    print(json.dumps(info), file=sys.stderr)
    return manifest, splits, info


def cmd_prepare(args) -> int:
    _prepared(args, args.input_size)
    return 0


def cmd_train(args, prepared=None) -> Path:
    from .data import load_crops
    from .train import TrainingData, train

    cfg = _config(args)
    manifest, splits, info = prepared or _prepared(args, cfg.input_size)
    tr_x, tr_y, _ = load_crops(manifest, splits["train"])
    va_x, va_y, _ = load_crops(manifest, splits["val"])
    teacher = None
    if cfg.distill_weight > 0:
        from .teacher import load_teacher, teacher_targets

        teacher = teacher_targets(manifest, splits["train"], load_teacher(_cache_for(args.data, args.cache)))
        if not teacher[1].any():
            raise TrainerError("--distill-weight needs teacher embeddings: run `trainer teach` first")
        info = dict(info, teacher_photos=int(teacher[1].sum()))
        print(f"teacher covers {int(teacher[1].sum())} of {len(tr_y)} training photos", file=sys.stderr)
    best = train(cfg, TrainingData(tr_x, tr_y, va_x, va_y, teacher, info))
    print(json.dumps({"best": {k: v for k, v in best.items() if k != "rate_curve"}}))
    return Path(cfg.out) / "best.pt"


def cmd_export(args) -> int:
    from .export import export_checkpoint

    validation = None
    if args.data:
        from .checkpoint import load_checkpoint
        from .data import load_crops

        size = load_checkpoint(args.checkpoint)["model_config"]["input_size"]
        manifest, splits, _ = _prepared(args, size)
        va_x, va_y, _ = load_crops(manifest, splits["val"])
        validation = (va_x, va_y)
    export_checkpoint(args.checkpoint, args.output, validation)
    print(f"wrote {args.output}")
    return 0


def cmd_teach(args) -> int:
    import random

    from .teacher import teach

    manifest, splits, _ = _prepared(args, args.input_size)
    # Held-out people first (the teachers' own figures need them), then training photos in a seeded order,
    # so a run stopped early still covers people evenly. Unlabelled faces have no split: all are "training".
    by_identity = {}
    for e in manifest["entries"]:
        by_identity.setdefault(e["identity"], []).append(e)
    held_out = [e for i in splits["val"] + splits["test"] for e in by_identity.get(i, [])]
    training = [e for i in splits["train"] for e in by_identity.get(i, [])]
    if not held_out and not training:  # unlabelled folder
        training = list(manifest["entries"])
    random.Random(0).shuffle(training)
    order = held_out + training[:args.limit] if args.limit is not None else held_out + training
    summary = {"held_out_photos": len(held_out), "training_photos": len(training)}
    for name in _teacher_names(args.teacher):
        summary[f"{name}_photos"] = len(teach(manifest, _cache_for(args.data, args.cache), order, name, args.workers))
    print(json.dumps(summary))
    return 0


def _teacher_names(spec: str) -> list[str]:
    from .teacher import TEACHERS

    names = [n for n in spec.split("+") if n]
    unknown = [n for n in names if n not in TEACHERS]
    if unknown or not names:
        raise TrainerError(f"unknown teacher {spec!r}: use sface, dlib or sface+dlib")
    return names


def cmd_evaluate(args) -> int:
    from faceid_gui.engine import Embedder

    from .data import load_crops
    from .evaluate import evaluate_onnx

    if args.model is None and not args.teacher:
        raise TrainerError("give --model MODEL.onnx or --teacher")
    size = Embedder(args.model, prefer="cpu").info.input_size if args.model else args.input_size
    manifest, splits, _ = _prepared(args, size)
    ids = sorted({e["identity"] for e in manifest["entries"]}) if args.split == "all" else splits[args.split]
    if args.teacher:
        from .evaluate import evaluate_embeddings
        from .teacher import load_teacher, teacher_targets

        embeddings, known = teacher_targets(manifest, ids, load_teacher(_cache_for(args.data, args.cache)))
        if not known.all():
            raise TrainerError(f"the teacher has seen {int(known.sum())} of {len(known)} photos of this split: "
                               "run `trainer teach` first")
        _, labels, _ = load_crops(manifest, ids, with_pixels=False)
        report = evaluate_embeddings(embeddings, labels, None, args.report,
                                     {"model": "dlib face-recognition ResNet (teacher)",
                                      "images_without_face": len(manifest["no_face"])})
    else:
        crops, labels, _ = load_crops(manifest, ids)
        report = evaluate_onnx(args.model, crops, labels, len(manifest["no_face"]), args.report)
    report["split"] = args.split
    print(json.dumps(report, indent=None if args.json else 2))
    return 0


def cmd_refresh(args) -> int:
    from faceid_gui.paths import installed_model_path

    from .checkpoint import install_model
    from .data import load_crops
    from .evaluate import evaluate_onnx
    from .export import export_checkpoint

    prepared = _prepared(args, _config(args).input_size)  # once: train, export and evaluate share it
    manifest, splits, _ = prepared
    best = cmd_train(args, prepared)
    out = Path(args.out)
    export_checkpoint(best, out / "model.onnx", load_crops(manifest, splits["val"])[:2])
    te_x, te_y, _ = load_crops(manifest, splits["test"])
    report = evaluate_onnx(out / "model.onnx", te_x, te_y, len(manifest["no_face"]), out / "report")
    report["split"] = "test"
    print(json.dumps(report, indent=2))
    if not args.no_install:
        print(f"installed {install_model(out / 'model.onnx', installed_model_path())}", file=sys.stderr)
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="trainer", description="Train faceid's Siamese DenseNet and export it.")
    sub = parser.add_subparsers(dest="command")
    p = sub.add_parser("prepare", help="detect and align every image once (cached, resumable)")
    _add_data_args(p)
    p.add_argument("--input-size", type=int, default=64)
    p = sub.add_parser("train", help="train on prepared crops; writes checkpoints under --out")
    _add_data_args(p)
    _add_train_args(p)
    p = sub.add_parser("export", help="export a checkpoint's embedding branch to ONNX")
    p.add_argument("--checkpoint", type=Path, required=True)
    p.add_argument("--output", type=Path, required=True)
    p.add_argument("--data", type=Path, help="data set: re-measure validation metrics and the FAR/FRR curve")
    p.add_argument("--cache", type=Path)
    p.add_argument("--workers", type=int, default=max(1, (os.cpu_count() or 2)))
    p.add_argument("--split-seed", type=int, default=0)
    p = sub.add_parser("evaluate", help="verification metrics and report for an ONNX model")
    p.add_argument("--model", type=Path, help="an exported ONNX model")
    p.add_argument("--teacher", action="store_true", help="evaluate the cached teacher embeddings instead")
    p.add_argument("--input-size", type=int, default=64, help="crop size of the cache (with --teacher)")
    _add_data_args(p)
    p.add_argument("--split", choices=["all", "train", "val", "test"], default="all",
                   help="identities to evaluate on (use test for identities never trained on)")
    p.add_argument("--report", type=Path, help="folder for report.png and metrics.json")
    p.add_argument("--json", action="store_true")
    p = sub.add_parser("teach", help="cache teacher embeddings of every crop (held-out people first; resumable)")
    _add_data_args(p)
    p.add_argument("--input-size", type=int, default=112, help="crop size of the prepared cache (default: %(default)s)")
    p.add_argument("--teacher", default="sface", help="sface, dlib or sface+dlib (default: %(default)s)")
    p.add_argument("--limit", type=int, help="training photos to embed at most (held-out photos always)")
    p = sub.add_parser("refresh", help="prepare, train, export, evaluate on test identities, install for the app")
    _add_data_args(p)
    _add_train_args(p)
    p.add_argument("--no-install", action="store_true")
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0].startswith("--") and argv[0] not in ("-h", "--help"):
        argv = ["refresh", *argv]  # `trainer --data DIR` == `trainer refresh --data DIR`
    args = _parser().parse_args(argv)
    if args.command is None:
        _parser().print_help()
        return 2
    handlers = {"prepare": cmd_prepare, "train": lambda a: (cmd_train(a), 0)[1], "export": cmd_export,
                "evaluate": cmd_evaluate, "teach": cmd_teach, "refresh": cmd_refresh}
    try:
        return handlers[args.command](args)
    except (TrainerError, FileNotFoundError) as exc:
        print(f"trainer: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
