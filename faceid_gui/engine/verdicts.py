"""Compare's answer (1:1) as one object, so that the command line and the Compare tab say the same thing."""
from __future__ import annotations

from dataclasses import dataclass

from .matching import DIFFERENT, SAME, explain, verdict
from .model_file import Band, ModelFile, Rates

WORDS = {SAME: "same person", DIFFERENT: "different people"}
HEADLINES = {SAME: "Same person", DIFFERENT: "Different people"}


@dataclass(frozen=True)
class Verdict:
    """One pair's distance judged at a threshold: the answer, the side of the threshold it leans to, and what the
    distance means on the model's validation people."""

    distance: float
    threshold: float
    band: Band
    answer: str  # SAME, UNCERTAIN or DIFFERENT
    lean: str  # SAME below the threshold, else DIFFERENT: the side an uncertain answer is closer to
    rates: Rates | None  # FAR and FRR at this distance, None for a model without a rate curve
    meaning: str  # engine.explain: the rates in words

    @property
    def words(self) -> str:
        """"same person", "uncertain (closer to same)", "different people"."""
        return WORDS.get(self.answer) or f"uncertain (closer to {self.lean})"

    @property
    def headline(self) -> str:
        """The Compare tab's headline for the same answer."""
        return HEADLINES.get(self.answer) or f"Uncertain: too close to call (closer to {self.lean})"

    def to_dict(self) -> dict:
        return {"distance": self.distance, "threshold": self.threshold, "verdict": self.answer, "lean": self.lean,
                "meaning": self.meaning, "band": list(self.band),
                "rates": self.rates._asdict() if self.rates else None}


def judge(model: ModelFile, dist: float, threshold: float) -> Verdict:
    """The three-way verdict (matching.verdict) in the model's uncertain band at `threshold`, with its meaning."""
    band = model.uncertain_band(threshold)
    answer = verdict(dist, threshold, band)
    rates = model.rates_at(dist)
    return Verdict(dist, threshold, band, answer, SAME if dist < threshold else DIFFERENT, rates, explain(rates, answer))

