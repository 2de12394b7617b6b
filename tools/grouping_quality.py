"""How well grouping (engine/grouping.py) finds the people of a labelled folder: pairwise precision and recall,
BCubed precision, recall and F, and the share of faces left ungrouped.

    python tools/grouping_quality.py ../shared/data/celeba-subset [--embeddings teacher.npz --threshold T]

One face per photo (the largest). Ungrouped faces count as groups of one: they cost recall, never precision.
With --embeddings from another model (e.g. the dlib teacher) pass that model's --threshold and --curve-from (an ONNX
model whose rate curve to use) or the linking distance itself with --link.
"""
from __future__ import annotations

import argparse
import time

import numpy as np
from labelled_faces import add_arguments, labelled_embeddings

from faceid_gui.engine import FaceEngine
from faceid_gui.engine.grouping import GROUP_MIN_SAMPLES, GroupingParams, group_embeddings, grouping_params


def quality(labels: np.ndarray, groups: np.ndarray) -> dict:
    """Pairwise and BCubed scores of `groups` (-1: ungrouped, each its own group) against true `labels`."""
    groups = groups.copy()
    alone = groups < 0
    groups[alone] = groups.max(initial=-1) + 1 + np.arange(alone.sum())
    _, truth = np.unique(labels, return_inverse=True)
    table = np.zeros((groups.max() + 1, truth.max() + 1), np.int64)
    np.add.at(table, (groups, truth), 1)
    pairs = lambda n: n * (n - 1) / 2  # noqa: E731
    together = pairs(table).sum()
    precision = together / max(pairs(table.sum(1)).sum(), 1)
    recall = together / max(pairs(table.sum(0)).sum(), 1)
    # BCubed: per face, the share of its group that is its person, and the share of its person in its group.
    cell = table[groups, truth]
    b_precision = float(np.mean(cell / table.sum(1)[groups]))
    b_recall = float(np.mean(cell / table.sum(0)[truth]))
    return {"pair_precision": float(precision), "pair_recall": float(recall), "bcubed_precision": b_precision,
            "bcubed_recall": b_recall, "bcubed_f": 2 * b_precision * b_recall / (b_precision + b_recall),
            "ungrouped": float(alone.mean()), "groups": int(len(np.unique(groups[~alone])))}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_arguments(parser)
    parser.add_argument("--link", type=float, help="linking distance (default: from the model's validation curve)")
    parser.add_argument("--min-samples", type=int, default=GROUP_MIN_SAMPLES)
    args = parser.parse_args()
    _, embeddings, labels = labelled_embeddings(args)
    if args.link:
        params = GroupingParams(args.link, args.min_samples)
    else:
        params = grouping_params(FaceEngine(prefer="cpu").info, len(labels))
        params = GroupingParams(params.link_distance, args.min_samples)
    started = time.perf_counter()
    groups = group_embeddings(embeddings, params)
    took = time.perf_counter() - started
    q = quality(labels, groups)
    print(f"{len(labels)} faces of {len(set(labels))} people; link {params.link_distance:.4f}, "
          f"min_samples {params.min_samples}; grouped in {took:.2f} s")
    print("| groups | pairwise precision | pairwise recall | BCubed precision | BCubed recall | BCubed F | ungrouped |")
    print("|---|---|---|---|---|---|---|")
    print(f"| {q['groups']} | {q['pair_precision']:.3f} | {q['pair_recall']:.3f} | {q['bcubed_precision']:.3f} | "
          f"{q['bcubed_recall']:.3f} | {q['bcubed_f']:.3f} | {100 * q['ungrouped']:.1f} % |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
