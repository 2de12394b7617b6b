"""The README's figures for the shipped model, read from its metadata (ModelFile), so they can be regenerated after a
model change and checked by tests/test_readme.py.

    python tools/readme_figures.py [--model FILE.onnx]       # prints each figure as the README quotes it

Each entry: a name, a regular expression matching the sentence in README.md (its groups are the numbers), and how
to compute those numbers from the model, with the decimals the README prints.
"""
from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# name: (pattern in README.md, sentence template, decimals per number)
FIGURES = {
    "validation AUC": (r"validation AUC (\d+\.\d+)", "validation AUC {0}", (3,)),
    "verdict band": (r"default threshold \((\d+\.\d+)\): same below (\d+\.\d+), different from (\d+\.\d+)",
                     "default threshold ({0}): same below {1}, different from {2}", (3, 3, 3)),
    "slider range": (r"(\d+\.\d+)–(\d+\.\d+) for the shipped model", "{0}–{1} for the shipped model", (2, 2)),
}


def values(model) -> dict[str, tuple[float, ...]]:
    """The numbers behind each figure, from a ModelFile."""
    band = model.uncertain_band(model.threshold)
    return {"validation AUC": (model.validation_auc,), "verdict band": (model.threshold, *band),
            "slider range": model.useful_range()}


def printed(model) -> dict[str, tuple[str, ...]]:
    """Each figure's numbers as the README should print them."""
    out = {}
    for name, numbers in values(model).items():
        decimals = FIGURES[name][2]
        out[name] = tuple(f"{v:.{d}f}" for v, d in zip(numbers, decimals))
    return out


def quoted(readme: str) -> dict[str, list[tuple[str, ...]]]:
    """Every place the README quotes each figure (the numbers as written)."""
    found = {name: re.findall(pattern, readme) for name, (pattern, _, _) in FIGURES.items()}
    return {name: [m if isinstance(m, tuple) else (m,) for m in matches] for name, matches in found.items()}


def load(model_path: Path | None = None):
    from faceid_gui.engine import Embedder
    from faceid_gui.paths import DEFAULT_MODEL_NAME, assets_dir

    return Embedder(model_path or assets_dir() / DEFAULT_MODEL_NAME, "cpu").info


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, help="model file (default: the shipped assets/faceid_embedder.onnx)")
    args = parser.parse_args(argv)
    for name, numbers in printed(load(args.model)).items():
        print(f"{name:15s} {FIGURES[name][1].format(*numbers)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
