"""Evaluate an exported ONNX model with the app's own engine on a data set's identities; write a report."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from faceid_gui.engine import Embedder

from .data import evaluation_pairs, load_crops, split_entries
from .errors import TrainerError
from .metrics import pair_distances, roc_curve, verification_report


def evaluate_onnx(model: Path, crops: np.ndarray, labels: np.ndarray, no_face: int, report_dir: Path | None,
                  mirror_average: bool = False) -> dict:
    """Verification figures of an exported model, plus how far each face lies from its own mirror image (a model
    should not care); mirror_average scores the mean embedding of each crop and its mirror instead."""
    embedder = Embedder(model, prefer="auto")
    emb = embedder.embed(crops)
    mirrored = embedder.embed(np.ascontiguousarray(crops[:, :, ::-1]))
    to_mirror = np.linalg.norm(emb - mirrored, axis=1)
    if mirror_average:
        emb = emb + mirrored
        emb /= np.maximum(np.linalg.norm(emb, axis=1, keepdims=True), 1e-12)
    threshold = embedder.info.threshold
    from faceid_gui.engine import open_set_report

    info = embedder.info
    open_set = (open_set_report(emb, labels, info.rate_curve, stranger_pairs=info.stranger_pairs,
                                mean_face_frr=info.mean_face_frr)
                if info.rate_curve else [])
    return evaluate_embeddings(emb, labels, threshold, report_dir,
                               {"model": Path(model).name, "images_without_face": int(no_face),
                                "provider": embedder.provider.name, "mirror_average": mirror_average,
                                "mirror_distance_median": float(np.median(to_mirror)),
                                "mirror_beyond_threshold": float(np.mean(to_mirror > threshold)),
                                "open_set": open_set})


def evaluate_embeddings(emb: np.ndarray, labels: np.ndarray, threshold: float | None, report_dir: Path | None,
                        about: dict | None = None) -> dict:
    """Verification figures on the split's balanced pairs (the same pairs for every model of the same photos),
    with `about` (what was evaluated) added; report.png and metrics.json go to report_dir when given."""
    pairs = evaluation_pairs(labels)
    d = pair_distances(emb, pairs)
    same = pairs[:, 2].astype(bool)
    report = verification_report(d, same, threshold)
    report.update({"images": int(len(emb)), "identities": int(len(set(labels.tolist()))), "pairs": int(len(pairs)),
                   **(about or {})})
    if report_dir is not None:
        write_report(Path(report_dir), report, d, same, threshold if threshold is not None else report["best_threshold"])
    return report


def evaluate_teacher(manifest: dict, splits: dict, ids: list[str] | None, cache: Path, spec: str,
                     code_size: int | None, report_dir: Path | None) -> dict:
    """Verification figures of the teachers' cached embeddings of `ids`' photos (all photos with None), on the same
    pairs as any model; with code_size, of their code_size-D code (teacher_code)."""
    from .targets import teacher_code, teacher_tables, teacher_targets

    tables = teacher_tables(cache, spec)
    embeddings, known = teacher_targets(split_entries(manifest, ids), tables)
    if not known.all():
        raise TrainerError(f"the teachers have seen {int(known.sum())} of {len(known)} photos of this split: "
                           "run `trainer teach` first")
    about = {"model": f"teacher {spec}", "images_without_face": len(manifest["no_face"])}
    if code_size is not None:
        train, seen = teacher_targets(split_entries(manifest, splits["train"]), tables)
        embeddings = teacher_code(train[seen], embeddings, code_size)
        about.update(model=f"teacher {spec}, {code_size}-D code", code_size=code_size)
    _, labels, _ = load_crops(manifest, ids, with_pixels=False)
    return evaluate_embeddings(embeddings, labels, None, report_dir, about)


def write_report(out: Path, report: dict, d: np.ndarray, same: np.ndarray, threshold: float) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    (out / "metrics.json").write_text(json.dumps(report, indent=2))
    far, tar, _ = roc_curve(d, same)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.5))
    ax1.plot(far, tar, lw=2)
    ax1.plot([0, 1], [0, 1], "k--", lw=0.8)
    ax1.set_xscale("symlog", linthresh=1e-3)
    ax1.set_xlim(0, 1)
    ax1.set_xlabel("false accept rate")
    ax1.set_ylabel("true accept rate")
    ax1.set_title(f"ROC (AUC {report['roc_auc']:.4f}, EER {report['eer']:.3f})")
    ax1.grid(alpha=0.3)
    bins = np.linspace(0, max(d.max(), threshold) * 1.05, 60)
    ax2.hist(d[same], bins=bins, alpha=0.6, label="same person", color="tab:green")
    ax2.hist(d[~same], bins=bins, alpha=0.6, label="different people", color="tab:red")
    ax2.axvline(threshold, color="k", ls="--", label=f"threshold {threshold:.3f}")
    ax2.set_xlabel("distance")
    ax2.set_ylabel("pairs")
    at = report.get("accuracy_at_threshold", report["best_accuracy"])
    ax2.set_title(f"accuracy {at:.3f} at threshold; 10-fold {report['kfold_accuracy']:.3f}")
    ax2.legend()
    fig.tight_layout()
    fig.savefig(out / "report.png", dpi=110)
    plt.close(fig)
