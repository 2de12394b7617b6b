"""The `trainer` command: prepare, teach, pack, train, average, select, evaluate, export, refresh (all of them, then
install)."""
from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path

from faceid_gui.engine.align import CANONICAL_SIZE
from faceid_gui.engine.errors import FaceIdError

from .errors import TrainerError
from .config import TrainConfig
from .options import build_parser

CURVES = ("rate_curve", "mean_face_frr")  # per-threshold lists the printed JSON leaves out


def _cache_for(data: Path, cache: Path | None) -> Path:
    if cache:
        return cache
    key = hashlib.sha1(str(Path(data).resolve()).encode()).hexdigest()[:10]
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "faceid-trainer" / f"{Path(data).name}-{key}"


def _config(args) -> TrainConfig:
    try:
        config = TrainConfig.from_dict(vars(args))
    except ValueError as exc:
        raise TrainerError(str(exc)) from None
    if args.no_augment:
        config.augmentation = None
    return config


def _prepared(args):
    """The data set's aligned 112 px crops (prepared once, resumable), its identity splits and a description."""
    from .data import load_dataset, prepare_cache, split_identities

    dataset = load_dataset(args.data)
    if dataset.missing:
        print(f"skipped {dataset.missing} listed images that are not on disk", file=sys.stderr)
    manifest = prepare_cache(dataset.samples, _cache_for(args.data, args.cache), CANONICAL_SIZE, args.workers)
    ids = sorted({e["identity"] for e in manifest["entries"]})
    splits = split_identities(ids, dataset.partition, seed=args.split_seed)
    by_split = {name: sum(1 for e in manifest["entries"] if e["identity"] in set(v)) for name, v in splits.items()}
    info = {"data": Path(args.data).name, "layout": dataset.layout, "images": len(dataset.samples),
            "missing_files": dataset.missing, "aligned": len(manifest["entries"]), "no_face": len(manifest["no_face"]),
            "identities": {k: len(v) for k, v in splits.items()}, "images_per_split": by_split,
            "split_seed": args.split_seed}
    print(json.dumps(info), file=sys.stderr)
    return manifest, splits, info


def cmd_prepare(args) -> int:
    _prepared(args)
    return 0


def _training_data(args, cfg: TrainConfig, prepared=None):
    """The run's crops, labels and teacher targets, from --data's crops and caches."""
    from .data import load_crops, split_entries
    from .targets import add_teacher_targets
    from .train import TrainingData

    manifest, splits, info = prepared or _prepared(args)
    tr_x, tr_y, _ = load_crops(manifest, splits["train"], size=cfg.input_size)
    va_x, va_y, _ = load_crops(manifest, splits["val"], size=cfg.input_size)
    data = TrainingData(tr_x, tr_y, va_x, va_y, info=info)
    if cfg.needs_teachers():
        add_teacher_targets(cfg, data, split_entries(manifest, splits["train"]), _cache_for(args.data, args.cache))
    return data


def cmd_train(args, prepared=None) -> Path:
    from .pack import read_pack
    from .train import train

    cfg = _config(args)
    pack = getattr(args, "pack", None)
    if (pack is None) == (args.data is None):
        raise TrainerError("give --data DIR (prepared crops and caches) or --pack DIR (`trainer pack`), not both")
    best = train(cfg, read_pack(pack, cfg) if pack else _training_data(args, cfg, prepared))
    print(json.dumps({"best": {k: v for k, v in best.items() if k not in CURVES}}))
    return Path(cfg.out) / "best.pt"


def cmd_pack(args) -> int:
    from .pack import write_pack

    cfg = _config(args)
    index = write_pack(_training_data(args, cfg), cfg, args.pack, args.jpeg_quality, args.shard_mib)
    files = [*index["arrays"].values(), *(s for c in index["crops"].values() for s in c["shards"]),
             *([index["start"]] if "start" in index else [])]
    print(json.dumps({"pack": str(args.pack), "codec": index["codec"], "files": len(files) + 1,
                      "mib": round(sum(f["bytes"] for f in files) / 2 ** 20, 1),
                      "largest_mib": round(max(f["bytes"] for f in files) / 2 ** 20, 1),
                      **{name: c["count"] for name, c in index["crops"].items()}}))
    return 0


def cmd_export(args) -> int:
    from .export import export_checkpoint

    validation = None
    if args.data:
        from .checkpoint import load_checkpoint
        from .data import load_crops

        size = load_checkpoint(args.checkpoint)["model_config"]["input_size"]
        manifest, splits, _ = _prepared(args)
        va_x, va_y, _ = load_crops(manifest, splits["val"], size=size)
        validation = (va_x, va_y)
    export_checkpoint(args.checkpoint, args.output, validation, args.description, args.mirror_average)
    print(f"wrote {args.output}")
    return 0


def cmd_average(args) -> int:
    import numpy as np
    import torch

    from .average import BN_PEOPLE, average_checkpoints, averaged_state
    from .checkpoint import load_checkpoint, save_checkpoint
    from .data import load_crops
    from .validate import evaluate

    size = load_checkpoint(args.checkpoints[-1])["model_config"]["input_size"]
    manifest, splits, _ = _prepared(args)
    people = sorted(np.random.default_rng(0).permutation(splits["train"])[:BN_PEOPLE].tolist())
    encoder, state = average_checkpoints(args.checkpoints, load_crops(manifest, people, size=size)[0])
    va_x, va_y, _ = load_crops(manifest, splits["val"], size=size)
    metrics = evaluate(encoder, torch.from_numpy(va_x), va_y, TrainConfig.from_dict(state["train_config"]))
    save_checkpoint(args.output, averaged_state(encoder, state, args.checkpoints, metrics))
    print(json.dumps({k: v for k, v in metrics.items() if k not in CURVES}))
    return 0


def cmd_select(args) -> int:
    from .data import load_crops
    from .selection import candidate_embedder, compare_candidates, row_in_words

    if args.halves < 0:
        raise TrainerError("--halves must be 0 or more")
    missing = [str(path) for path in args.candidates if not Path(path).is_file()]
    if missing:  # before the crops are loaded, not after the first candidate's minutes
        raise TrainerError(f"no such candidate: {missing[0]}")
    manifest, splits, _ = _prepared(args)
    crops = {}  # by input size: candidates of one size share one load

    def crops_for(size: int):
        if size not in crops:
            crops[size] = load_crops(manifest, splits["val"], size=size)[0]
        return crops[size]

    labels = load_crops(manifest, splits["val"], with_pixels=False)[1]
    embed = candidate_embedder(crops_for, args.mirror_average)
    for row in compare_candidates(embed, args.candidates, labels, args.halves):
        print(json.dumps(row) if args.json else row_in_words(row), flush=True)
    return 0


def cmd_teach(args) -> int:
    import random

    from .targets import teacher_names
    from .teacher import teach
    from .views import teach_views

    manifest, splits, _ = _prepared(args)
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
    summary = {"held_out_photos": len(held_out), "training_photos": len(training)}
    training = training[:args.limit] if args.limit is not None else training
    for name in teacher_names(args.teacher):
        summary[f"{name}_photos"] = len(teach(manifest, _cache_for(args.data, args.cache), held_out + training, name,
                                              args.workers))
    if args.views:  # augmented copies teach training faces only
        summary["view_photos"] = teach_views(manifest, _cache_for(args.data, args.cache), training, args.views,
                                             args.workers)
    print(json.dumps(summary))
    return 0


def cmd_evaluate(args) -> int:
    from faceid_gui.engine import Embedder

    from .data import load_crops
    from .evaluate import evaluate_onnx, evaluate_teacher

    if (args.model is None) == (args.teacher is None):
        raise TrainerError("give --model MODEL.onnx or --teacher sface|dlib|sface+dlib")
    if args.code_size is not None and not args.teacher:
        raise TrainerError("--code-size reduces a teacher's embedding: give --teacher")
    size = Embedder(args.model, prefer="cpu").info.input_size if args.model else CANONICAL_SIZE
    manifest, splits, _ = _prepared(args)
    ids = None if args.split == "all" else splits[args.split]
    if args.teacher:
        report = evaluate_teacher(manifest, splits, ids, _cache_for(args.data, args.cache), args.teacher,
                                  args.code_size, args.report)
    else:
        crops, labels, _ = load_crops(manifest, ids, size=size)
        report = evaluate_onnx(args.model, crops, labels, len(manifest["no_face"]), args.report, args.mirror_average)
    report["split"] = args.split
    print(json.dumps(report, indent=None if args.json else 2))
    return 0


def cmd_refresh(args) -> int:
    from faceid_gui.paths import installed_model_path

    from .checkpoint import install_model
    from .data import load_crops
    from .evaluate import evaluate_onnx
    from .export import export_checkpoint

    size = _config(args).input_size
    prepared = _prepared(args)  # once: train, export and evaluate share it
    manifest, splits, _ = prepared
    best = cmd_train(args, prepared)
    out = Path(args.out)
    export_checkpoint(best, out / "model.onnx", load_crops(manifest, splits["val"], size=size)[:2], args.description)
    te_x, te_y, _ = load_crops(manifest, splits["test"], size=size)
    report = evaluate_onnx(out / "model.onnx", te_x, te_y, len(manifest["no_face"]), out / "report")
    report["split"] = "test"
    print(json.dumps(report, indent=2))
    if not args.no_install:
        print(f"installed {install_model(out / 'model.onnx', installed_model_path())}", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0].startswith("--") and argv[0] not in ("-h", "--help"):
        argv = ["refresh", *argv]  # `trainer --data DIR` == `trainer refresh --data DIR`
    args = build_parser().parse_args(argv)
    if args.command is None:
        build_parser().print_help()
        return 2
    handlers = {"prepare": cmd_prepare, "train": lambda a: (cmd_train(a), 0)[1], "pack": cmd_pack,
                "export": cmd_export, "evaluate": cmd_evaluate, "teach": cmd_teach, "average": cmd_average,
                "select": cmd_select,
                "refresh": cmd_refresh}
    try:
        return handlers[args.command](args)
    except (TrainerError, FileNotFoundError, FaceIdError) as exc:
        print(f"trainer: {exc}", file=sys.stderr)
        return 2

if __name__ == "__main__":
    sys.exit(main())
