"""The model-file contract: what an exported embedding model carries in its ONNX metadata, and how distances
between its embeddings are measured. The trainer writes it (model_metadata), the engine reads it (ModelFile.from_metadata).

Each entry is an ONNX metadata_props pair: key "faceid.<name>", value JSON.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from typing import NamedTuple

import numpy as np

from .errors import ModelError

METADATA_PREFIX = "faceid."
FORMAT_VERSION = 1  # raise when a reader of this version could misread a newer file
REQUIRED = ("embedding_size", "input_size", "mean", "std", "threshold")

# The distance the contrastive loss trains and the threshold is calibrated on. ε sits inside the square root so the
# loss's gradient never divides by zero; the engine adds the same ε so its distances agree with training exactly.
DISTANCE_EPS = 1e-6
DISTANCE_DEFINITION = "euclidean, sqrt(sum((a-b)^2) + 1e-6)"
COLOR = "RGB"
ALIGNMENT = "5-point similarity to ArcFace template scaled to input_size"


class Rates(NamedTuple):
    far: float  # share of different-person pairs accepted
    frr: float  # share of same-person pairs rejected


# The uncertain band (issue 13). A verdict is only as good as the errors it would make: at the threshold t the model
# accepts FAR(t) of strangers and rejects FRR(t) of genuine pairs. "Same" is said only where strangers come this close
# BAND_ERROR_RATIO times less often than at t (FAR(d) <= FAR(t) / ratio), "different" only where genuine pairs lie this
# far apart that much less often (FRR(d) <= FRR(t) / ratio); between the two edges the answer is "uncertain". Both edges
# come from the model's own validation curve, so a sharper model gets a narrower band, and the band follows the slider.
BAND_ERROR_RATIO = 10.0


class Band(NamedTuple):
    """Distances below `same_below` are "same", from `different_from` on "different", uncertain in between."""

    same_below: float
    different_from: float


@dataclass(frozen=True, kw_only=True)
class ModelFile:
    """Everything the app needs to use an embedding model, validated on construction."""

    embedding_size: int
    input_size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    threshold: float
    format_version: int = FORMAT_VERSION
    margin: float | None = None
    architecture: str = "unknown"
    trained: bool = True
    trained_on: str = "unknown"
    metrics: dict = field(default_factory=dict)
    # (threshold, FAR, FRR) rows, thresholds ascending, measured on validation people the model never trained on.
    rate_curve: tuple[tuple[float, float, float], ...] = ()
    # {k: FRR at each of the curve's thresholds} of a photo against the mean face of k other photos of its person
    # (k >= 2; k = 1 is the curve's own FRR): the FNIR the app estimates for people enrolled with several photos.
    mean_face_frr: dict[int, tuple[float, ...]] = field(default_factory=dict)
    extra: dict = field(default_factory=dict)  # anything else the trainer recorded (config, data, date), kept as-is

    def __post_init__(self):
        try:
            set_ = object.__setattr__  # frozen: normalise the values once, here
            set_(self, "format_version", _positive_int(self.format_version))
            set_(self, "embedding_size", _positive_int(self.embedding_size))
            set_(self, "input_size", _positive_int(self.input_size))
            set_(self, "mean", _triple(self.mean))
            set_(self, "std", _triple(self.std))
            if not all(v > 0 for v in self.std):
                raise ValueError("std")
            set_(self, "threshold", _positive_float(self.threshold))
            set_(self, "rate_curve", _curve(self.rate_curve))
            set_(self, "mean_face_frr", _mean_face_frr(self.mean_face_frr, len(self.rate_curve)))
        except (TypeError, ValueError, OverflowError):
            shown = {k: getattr(self, k) for k in REQUIRED}
            raise ModelError(f"invalid faceid metadata {json.dumps(shown, default=str)[:200]}") from None
        if self.format_version > FORMAT_VERSION:
            raise ModelError(f"model format {self.format_version} is newer than this faceid reads "
                             f"({FORMAT_VERSION}): update faceid")
        if not isinstance(self.metrics, dict):
            set_(self, "metrics", {})

    @classmethod
    def from_metadata(cls, raw: dict[str, str]) -> ModelFile:
        """Read the faceid.* metadata_props of a model; ModelError says what is missing or wrong."""
        meta = {}
        for key, value in raw.items():
            if key.startswith(METADATA_PREFIX):
                try:
                    meta[key[len(METADATA_PREFIX):]] = json.loads(value)
                except json.JSONDecodeError:
                    meta[key[len(METADATA_PREFIX):]] = value
        missing = [k for k in REQUIRED if k not in meta]
        if missing:
            raise ModelError(f"not a faceid embedding model (metadata lacks {', '.join(missing)})")
        if meta.get("distance", DISTANCE_DEFINITION) != DISTANCE_DEFINITION:
            raise ModelError(f"the model's distance ({meta['distance']}) is not faceid's ({DISTANCE_DEFINITION})")
        known = {f.name for f in fields(cls)} - {"extra"}
        values = {k: v for k, v in meta.items() if k in known}
        extra = {k: v for k, v in meta.items() if k not in known and k not in ("distance", "color", "alignment")}
        values["rate_curve"] = values.get("rate_curve") or ()
        values["mean_face_frr"] = values.get("mean_face_frr") or {}
        values["trained"] = bool(values.get("trained", True))
        for text in ("architecture", "trained_on"):
            values[text] = str(values.get(text, "unknown"))
        return cls(**values, extra=extra)

    def to_dict(self) -> dict:
        """Plain values, as JSON would hold them (the contract fields, the fixed conventions, then `extra`)."""
        out = {"format_version": self.format_version, "embedding_size": self.embedding_size,
               "input_size": self.input_size, "mean": list(self.mean), "std": list(self.std), "color": COLOR,
               "alignment": ALIGNMENT, "distance": DISTANCE_DEFINITION, "threshold": self.threshold,
               "margin": self.margin, "architecture": self.architecture, "trained": self.trained,
               "trained_on": self.trained_on, "metrics": self.metrics,
               "rate_curve": [list(row) for row in self.rate_curve],
               "mean_face_frr": {str(k): list(v) for k, v in self.mean_face_frr.items()}}
        out.update(self.extra)
        return out

    def to_metadata(self) -> dict[str, str]:
        """The metadata_props to write into the ONNX file."""
        return {METADATA_PREFIX + k: json.dumps(v, allow_nan=False) for k, v in self.to_dict().items()}

    @property
    def validation_auc(self) -> float | None:
        validation = self.metrics.get("validation")
        auc = validation.get("roc_auc") if isinstance(validation, dict) else None
        return float(auc) if isinstance(auc, (int, float)) and np.isfinite(auc) else None

    @property
    def training_data(self) -> str:
        """What the model was trained on, in words: the exporter's `description` when it wrote one, else
        `trained_on` with the folder it was read from on the training machine cut to its last part."""
        description = self.extra.get("description")
        if isinstance(description, str) and description.strip():
            return description.strip()
        head, sep, rest = self.trained_on.partition(" ")
        if head.startswith(("/", "~", "\\")) or (len(head) > 2 and head[1:3] in (":\\", ":/")):
            head = head.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1] or head
        return head + sep + rest

    @property
    def stranger_pairs(self) -> int | None:
        """How many independent stranger comparisons the rate curve stands on (how far its small FARs can be
        trusted): `stranger_evidence` of the validation metrics."""
        validation = self.metrics.get("validation")
        return stranger_evidence(validation) if isinstance(validation, dict) else None

    def rates_at(self, threshold: float) -> Rates | None:
        """FAR and FRR at this threshold on the validation people (interpolated), or None without a curve."""
        if not self.rate_curve:
            return None
        t, far, frr = (np.asarray(c, float) for c in zip(*self.rate_curve))
        return Rates(float(np.interp(threshold, t, far)), float(np.interp(threshold, t, frr)))

    def uncertain_band(self, threshold: float, ratio: float = BAND_ERROR_RATIO) -> Band:
        """The band of distances around `threshold` where neither answer is safe (rule: BAND_ERROR_RATIO above).
        A model without a rate curve has no band: two answers, split at the threshold."""
        if len(self.rate_curve) < 2:
            return Band(threshold, threshold)
        grid, far, frr = self._fine_curve()
        at = self.rates_at(threshold)
        lower = grid[(grid <= threshold) & (far <= at.far / ratio)]
        upper = grid[(grid >= threshold) & (frr <= at.frr / ratio)]
        same_below = float(lower.max()) if lower.size else float(grid[0])
        different_from = float(upper.min()) if upper.size else float(grid[-1])
        return Band(min(same_below, threshold), max(different_from, threshold))

    def useful_range(self) -> tuple[float, float]:
        """Thresholds worth offering: from the largest distance no validation stranger came under (FAR still 0) to
        the smallest one no genuine pair exceeded (FRR already 0); outside it the slider would change nothing
        measurable. Without a curve: 0 to twice the threshold."""
        if len(self.rate_curve) < 2:
            return 0.0, 2 * self.threshold
        grid, far, frr = self._fine_curve()
        low = grid[far <= 0]
        high = grid[frr <= 0]
        low = float(low.max()) if low.size else float(grid[0])
        high = float(high.min()) if high.size else float(grid[-1])
        if not low < self.threshold < high:  # a curve that disagrees with the threshold: keep the threshold reachable
            low, high = min(low, self.threshold * 0.5), max(high, self.threshold * 1.5)
        return low, high

    def valid_threshold(self, value: float) -> float:
        """`value` when it lies in the useful range (the slider's range, so the command line accepts what the window
        offers), else a ModelError naming the range."""
        low, high = self.useful_range()
        if not (isinstance(value, (int, float)) and np.isfinite(value) and value > 0 and low - 1e-9 <= value <= high + 1e-9):
            raise ModelError(f"the threshold must lie between {low:.3f} and {high:.3f} for this model "
                             f"(its default: {self.threshold:.3f}), not {value!r}")
        return float(value)

    def _fine_curve(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return fine_curve(self.rate_curve)


def stranger_evidence(validation: dict) -> int | None:
    """A rate curve's evidence for small FARs, in stranger comparisons: a curve over every pair of validation
    photos counts one per pair of people (one person's photos do not fail independently of each other), an older
    curve over sampled pairs counts its different-person pairs. None when the metrics say neither."""
    for key in ("curve_people_pairs", "different_pairs"):
        value = validation.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0:
            return int(value)
    return None


def fine_curve(rate_curve) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(distances, FAR, FRR) of a rate curve on a fine grid. The stored curve is coarse (about 200 rows) and its
    rates can repeat; inverting it on a fine grid of interpolated values is monotone-safe and plenty fast."""
    t, far, frr = (np.asarray(c, float) for c in zip(*rate_curve))
    grid = np.linspace(t[0], t[-1], 4001)
    return grid, np.interp(grid, t, far), np.interp(grid, t, frr)


def model_metadata(*, embedding_size: int, input_size: int, mean, std, threshold: float, margin: float | None,
                   architecture: str, trained_on: str, metrics: dict | None = None, rate_curve=(),
                   mean_face_frr: dict | None = None, trained: bool = True, extra: dict | None = None) -> dict[str, str]:
    """For the trainer's export: plain values in, validated metadata_props out."""
    return ModelFile(embedding_size=embedding_size, input_size=input_size, mean=mean, std=std, threshold=threshold,
                     margin=margin, architecture=architecture, trained_on=trained_on, metrics=metrics or {},
                     rate_curve=rate_curve or (), mean_face_frr=mean_face_frr or {}, trained=trained,
                     extra=extra or {}).to_metadata()


def _positive_int(value) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)) or int(value) != float(value) or int(value) <= 0:
        raise ValueError(value)
    return int(value)


def _positive_float(value) -> float:
    if isinstance(value, (bool, str)) or not np.isfinite(float(value)) or float(value) <= 0:
        raise ValueError(value)
    return float(value)


def _triple(value) -> tuple[float, float, float]:
    if not isinstance(value, (list, tuple)):
        raise ValueError(value)
    values = tuple(float(v) for v in value)
    if len(values) != 3 or not all(np.isfinite(values)):
        raise ValueError(value)
    return values


def _curve(rows) -> tuple[tuple[float, float, float], ...]:
    curve = tuple((float(t), float(a), float(r)) for t, a, r in rows)
    if curve and (not np.isfinite(curve).all() or np.any(np.diff([row[0] for row in curve]) < 0)):
        raise ValueError("rate_curve")
    return curve


def _mean_face_frr(curves, rows: int) -> dict[int, tuple[float, ...]]:
    if not isinstance(curves, dict):
        raise ValueError("mean_face_frr")
    out = {}
    for k, frr in curves.items():
        k, frr = _positive_int(k), tuple(float(r) for r in frr)
        if k < 2 or len(frr) != rows or not all(0.0 <= r <= 1.0 for r in frr):  # NaN fails the range too
            raise ValueError("mean_face_frr")
        out[k] = frr
    return dict(sorted(out.items()))
