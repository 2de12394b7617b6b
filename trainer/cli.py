"""The `trainer` command: prepare, train, evaluate, export, refresh (all of them, then install)."""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
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
        if f.name in ("resume",):
            continue
        flag = "--" + f.name.replace("_", "-")
        value = getattr(defaults, f.name)
        if isinstance(value, bool):
            p.add_argument(flag, type=lambda s: s.lower() in ("1", "true", "yes"), default=value, metavar="BOOL")
        elif f.name == "threshold_far":
            p.add_argument(flag, type=float, default=None)
        else:
            p.add_argument(flag, type=type(value), default=value)
    p.add_argument("--resume", action="store_true", help="continue from <out>/last.pt")


def _config(args) -> TrainConfig:
    return TrainConfig.from_dict(vars(args))


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


def cmd_train(args) -> Path:
    from .data import load_crops
    from .train import train

    cfg = _config(args)
    manifest, splits, info = _prepared(args, cfg.input_size)
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
    best = train(cfg, tr_x, tr_y, va_x, va_y, data_info=info, teacher=teacher)
    print(json.dumps({"best": best}))
    return Path(cfg.out) / "best.pt"


def cmd_export(args) -> int:
    validation = None
    if args.data:
        from .data import load_crops

        manifest, splits, _ = _prepared(args, _checkpoint_input_size(args.checkpoint))
        va_x, va_y, _ = load_crops(manifest, splits["val"])
        validation = (va_x, va_y)
    export_checkpoint(args.checkpoint, args.output, validation)
    print(f"wrote {args.output}")
    return 0


def _checkpoint_input_size(checkpoint: Path) -> int:
    import torch

    return torch.load(checkpoint, map_location="cpu", weights_only=False)["model_config"]["input_size"]


def export_checkpoint(checkpoint: Path, output: Path, validation=None) -> None:
    """Export a checkpoint; with validation (crops, labels) the metrics and rate curve are measured afresh."""
    import numpy as np
    import torch

    from .export import build_metadata, export
    from .train import TrainConfig, load_encoder, validate

    encoder, state = load_encoder(checkpoint)
    metrics = state["metrics"]
    if validation is not None:
        metrics = validate(encoder, torch.from_numpy(validation[0]), validation[1],
                           TrainConfig.from_dict(state["train_config"]))
    data = state.get("data", {})
    trained_on = (f"{data.get('data', '?')} ({data.get('layout', '?')} layout): "
                  f"{data.get('identities', {}).get('train', '?')} training identities, "
                  f"{data.get('images_per_split', {}).get('train', '?')} aligned photos")
    meta = build_metadata(encoder, metrics["threshold"], state["train_config"]["margin"], trained_on,
                          metrics={"validation": {k: v for k, v in metrics.items() if not isinstance(v, (list, dict))},
                                   "epoch": state["epoch"] + 1},
                          extra={"far_at_threshold": metrics.get("far_at_threshold"),
                                 "rate_curve": metrics.get("rate_curve"),
                                 "frr_at_threshold": metrics.get("frr_at_threshold"),
                                 "train_config": state["train_config"], "data_info": data})
    if validation is not None:
        crops = validation[0][:32]  # parity is checked on real aligned faces
    else:
        size = encoder.config.input_size
        crops = np.random.default_rng(0).integers(0, 256, (8, size, size, 3), dtype=np.uint8)
    worst = export(encoder, output, meta, crops)
    print(f"export parity: max |onnxruntime - torch| = {worst:.2e}", file=sys.stderr)


def cmd_teach(args) -> int:
    import random

    from .teacher import teach

    manifest, splits, _ = _prepared(args, args.input_size)
    # Held-out people first (the teacher's own figures need them), then training photos in a seeded order,
    # so a run stopped early still covers people evenly.
    by_identity = {}
    for e in manifest["entries"]:
        by_identity.setdefault(e["identity"], []).append(e)
    held_out = [e for i in splits["val"] + splits["test"] for e in by_identity.get(i, [])]
    training = [e for i in splits["train"] for e in by_identity.get(i, [])]
    random.Random(0).shuffle(training)
    order = held_out + training[:args.limit] if args.limit is not None else held_out + training
    table = teach(manifest, _cache_for(args.data, args.cache), order, args.workers)
    print(json.dumps({"teacher_photos": len(table), "held_out_photos": len(held_out), "training_photos": len(training)}))
    return 0


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
        report = evaluate_embeddings(embeddings, labels, None, args.report)
        report.update({"model": "dlib face-recognition ResNet (teacher)", "images_without_face": len(manifest["no_face"])})
    else:
        crops, labels, _ = load_crops(manifest, ids)
        report = evaluate_onnx(args.model, crops, labels, len(manifest["no_face"]), args.report)
    report["split"] = args.split
    print(json.dumps(report, indent=None if args.json else 2))
    return 0


def install_model(model: Path) -> Path:
    """Atomically place the model where the app looks; the previous one is kept as .previous.onnx."""
    from faceid_gui.paths import installed_model_path

    target = installed_model_path()
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists():
        shutil.copy2(target, target.with_suffix(".previous.onnx"))
    tmp = target.with_name(f".{target.name}.installing")
    shutil.copy2(model, tmp)
    os.replace(tmp, target)
    return target


def cmd_refresh(args) -> int:
    from .data import load_crops
    from .evaluate import evaluate_onnx

    best = cmd_train(args)
    out = Path(args.out)
    manifest, splits, _ = _prepared(args, args.input_size)
    export_checkpoint(best, out / "model.onnx", load_crops(manifest, splits["val"])[:2])
    te_x, te_y, _ = load_crops(manifest, splits["test"])
    report = evaluate_onnx(out / "model.onnx", te_x, te_y, len(manifest["no_face"]), out / "report")
    report["split"] = "test"
    print(json.dumps(report, indent=2))
    if not args.no_install:
        print(f"installed {install_model(out / 'model.onnx')}", file=sys.stderr)
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
    p = sub.add_parser("teach", help="cache the dlib teacher's embeddings (held-out people first; resumable)")
    _add_data_args(p)
    p.add_argument("--input-size", type=int, default=64, help="crop size of the prepared cache")
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
