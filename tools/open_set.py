"""The open-set 1:N table: strangers given a name (FPIR) and enrolled people's photos not given theirs (FNIR), with
the old rule (one per-pair threshold for any gallery size) and the open-set rule (engine/open_set.py).

    python tools/open_set.py ../shared/data/celeba-subset [--embeddings teacher.npz] [--fpir 0.01]

N people with more than 3 photos are enrolled with 3 each; their other photos are searched, and every photo of the
people not enrolled is a stranger. Who is enrolled matters (some people have more look-alikes than others), so
each figure is the mean over --draws draws of the enrolled people, with the worst draw's FPIR beside it.
"""
from __future__ import annotations

import argparse

import numpy as np

from labelled_faces import add_arguments, labelled_embeddings

from faceid_gui.engine import DEFAULT_FPIR, FaceEngine, open_set_report  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_arguments(parser)
    parser.add_argument("--sizes", type=int, nargs="+", default=[5, 20, 107])
    parser.add_argument("--fpir", type=float, default=DEFAULT_FPIR)
    parser.add_argument("--draws", type=int, default=10)
    args = parser.parse_args()
    _, embeddings, labels = labelled_embeddings(args)
    info = FaceEngine(prefer="cpu").info
    print(f"{len(labels)} photos of {len(set(labels))} people; model threshold {info.threshold:.4f}, "
          f"target FPIR {args.fpir:g}")
    print("| people enrolled | rule | threshold | strangers given a name (FPIR), mean (worst) | enrolled photos wrongly "
          "named | enrolled photos not named theirs (FNIR) | FNIR the app's words estimate | strangers / searched photos |")
    print("|---|---|---|---|---|---|---|---|")
    for rule, fixed, pairs in (("one threshold (before)", info.threshold, None),
                               ("open-set, FAR as measured", None, None),
                               ("open-set, FAR's upper bound (the app's)", None, info.stranger_pairs)):
        draws = [open_set_report(embeddings, labels, info.rate_curve, args.sizes, args.fpir, seed=seed,
                                 threshold=fixed, stranger_pairs=pairs, mean_face_frr=info.mean_face_frr)
                 for seed in range(args.draws)]
        for rows in zip(*draws):
            mean = {k: float(np.mean([r[k] for r in rows])) for k in ("fpir", "wrong_name", "fnir", "strangers", "probes")}
            worst = max(r["fpir"] for r in rows)
            said = "–" if fixed is not None else f"{100 * np.mean([r['fnir_estimate'] for r in rows]):.1f} %"
            print(f"| {rows[0]['enrolled']} | {rule} | {rows[0]['threshold']:.4f} | {100 * mean['fpir']:.1f} % "
                  f"({100 * worst:.1f} %) | {100 * mean['wrong_name']:.1f} % | {100 * mean['fnir']:.1f} % | {said} | "
                  f"{mean['strangers']:.0f} / {mean['probes']:.0f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
