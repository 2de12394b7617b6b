"""Open-set 1:N: how strict the per-pair threshold must be so that the chance of a stranger being given a name stays
at a target however many people are enrolled, and what that costs the enrolled people.

With N faces enrolled a stranger gets about N chances to come within the threshold of someone, so each face counts,
not each person (on CelebA, 5 people with 3 photos each and a bound computed for 5 chances let 3.4 % of strangers
through against a 1 % target). That holds for the mean face a person is searched by (matching.GalleryIndex): on the
validation people of the model shipped at stop 28 (trainer/RESULTS.md, stop 29) a stranger came within 0.45 of a
3-face mean face as often as of the nearest of those 3 faces (1.27 %), and of a 2-face one 1.04 % of the time where
2 chances at one face's 0.53 % allow 1.06 %. With 3 photos enrolled a person, the mean face left 35.6 % of their
other photos unnamed against 40.6 % by the nearest face (10 people enrolled; 70.5 % against 75.3 % with 100),
strangers named 0.5 % against 0.4 % (0.16 % against 0.10 %), under this rule with the 1 % target. At a per-pair
false accept rate FAR(t) the false-positive identification rate (FPIR, NIST's name for "a stranger was given a
name") is at most 1 - (1 - FAR(t))^N, so the threshold is the largest distance whose FAR keeps that at or below the
target. FAR(t) is read from the model's validation curve (people it never trained on, every pair of their photos
compared), and taken at the upper end of what that evidence allows (a one-sided 95 % Wilson bound): FAR(t) is a
count (on CelebA the point estimate from 10,000 sampled pairs let 1.3 % of strangers through a 1 % target with 5
people enrolled). The bound counts one trial per pair of validation people, not per pair of photos, since one
person's photos do not fail independently (`model_file.stranger_evidence`). The ratio test (matching.decide) only
lowers FPIR further; the false-negative identification rate (FNIR: an enrolled person's photo does not get their
name) grows with N instead, estimated as FRR(t) against the mean face of as many photos as the gallery's people
typically have (the model's `mean_face_frr`, calibrated on its validation people; the photo-pair curve's FRR for one
photo, or for a model without those curves). When no distance is vouched for, nobody is named, and the words say so.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .model_file import DISTANCE_EPS, fine_curve

DEFAULT_FPIR = 0.01  # 1 in 100 strangers may be given a name, whatever the gallery's size
FPIR_CHOICES = (0.001, 0.01, 0.05, 0.2)  # offered in the app; any value in (0, 1] from the CLI
REPORT_SIZES = (10, 100, 300)  # people enrolled in open_set_report
SMALLEST_DISTANCE = float(np.sqrt(DISTANCE_EPS))  # no two embeddings are nearer: a threshold here names nobody
CONFIDENCE_Z = 1.645  # one-sided 95 % (rule above)


def far_upper_bound(far, pairs: int | None):
    """The largest FAR that `pairs` validation stranger pairs showing `far` still allow (Wilson score bound); the
    rate itself when the count is not known."""
    if not pairs:
        return far
    far, n, z2 = np.asarray(far, float), float(pairs), CONFIDENCE_Z ** 2
    return (far + z2 / (2 * n) + CONFIDENCE_Z * np.sqrt(far * (1 - far) / n + z2 / (4 * n * n))) / (1 + z2 / n)


def check_fpir(value: float) -> float:
    """A target FPIR is a share of strangers: above 0, at most 1."""
    value = float(value)
    if not (np.isfinite(value) and 0 < value <= 1):
        raise ValueError(f"the share of strangers allowed a name must lie above 0 and at most 1, not {value!r}")
    return value


def pair_far_allowed(chances: int, target_fpir: float) -> float:
    """The per-pair FAR at which N chances still give a stranger at most target_fpir of being named."""
    return 1.0 - (1.0 - check_fpir(target_fpir)) ** (1.0 / max(int(chances), 1))


@dataclass(frozen=True)
class OpenSetRule:
    """The 1:N threshold for a gallery of `faces` enrolled faces of `people` people, and what it means on the
    model's validation people."""

    faces: int
    people: int
    target_fpir: float
    threshold: float  # per pair: a face is named only nearer than this to someone
    pair_far: float | None  # FAR(threshold), its upper bound (rule above); None without a curve
    fnir: float | None  # estimated share of an enrolled person's photos left unnamed (FRR at the threshold)
    capped: bool  # the threshold is the ceiling (slider or --threshold), stricter than the target needs
    vouched: bool = True  # False: no distance keeps the target on the validation's evidence, nobody is named
    stranger_pairs: int | None = None  # the validation's count of stranger pairs behind the curve
    fnir_photos: int = 1  # the enrolled photos a person `fnir` is estimated for

    @property
    def fpir_bound(self) -> float | None:
        """At most this share of strangers gets a name (from the curve), or None without a curve."""
        return None if self.pair_far is None else 1.0 - (1.0 - self.pair_far) ** max(self.faces, 1)


def open_set_rule(rate_curve, faces: int, target_fpir: float = DEFAULT_FPIR, ceiling: float | None = None,
                  people: int | None = None, stranger_pairs: int | None = None, photos_each: int = 1,
                  mean_face_frr: dict | None = None) -> OpenSetRule:
    """The per-pair threshold for N enrolled faces (the module's rule), never above `ceiling` (the 1:1 threshold the
    user chose); `people` is only for the words; `stranger_pairs` (ModelFile.stranger_pairs) sets how far the
    curve's FAR is trusted; FNIR is estimated for a person enrolled with `photos_each` photos, from the largest
    of the model's `mean_face_frr` curves that many photos reach. A model without a rate curve cannot be calibrated:
    the ceiling is used as it is."""
    target_fpir = check_fpir(target_fpir)
    faces = max(int(faces), 1)
    people = faces if people is None else max(int(people), 1)
    if len(rate_curve) < 2:
        if ceiling is None:
            raise ValueError("a model without a validation curve needs an explicit threshold for 1:N")
        return OpenSetRule(faces, people, target_fpir, float(ceiling), None, None, True)
    grid, far, frr = fine_curve(rate_curve)
    far = far_upper_bound(far, stranger_pairs)
    allowed = grid[far <= pair_far_allowed(faces, target_fpir)]
    vouched = bool(allowed.size)
    threshold = max(float(allowed.max()) if vouched else SMALLEST_DISTANCE, SMALLEST_DISTANCE)
    capped = ceiling is not None and ceiling < threshold
    if capped:
        threshold = float(ceiling)
    calibrated = sorted(k for k in (mean_face_frr or {}) if k <= photos_each)
    fnir_photos = calibrated[-1] if calibrated else 1
    fnir = (np.interp(threshold, [row[0] for row in rate_curve], mean_face_frr[fnir_photos]) if calibrated
            else np.interp(threshold, grid, frr))
    return OpenSetRule(faces, people, target_fpir, threshold, float(np.interp(threshold, grid, far)) if vouched else 0.0,
                       float(fnir), capped, vouched, stranger_pairs, fnir_photos)


def gallery_rule(model, index, target_fpir: float = DEFAULT_FPIR, ceiling: float | None = None) -> OpenSetRule:
    """The 1:N rule for a model file (ModelFile) and a gallery as it is now (matching.GalleryIndex): what the app
    and the CLI use. The ceiling defaults to the model's own threshold."""
    typical = int(np.median(index.face_counts)) if index.people else 1  # counted once per index: Live asks per frame
    return open_set_rule(model.rate_curve, len(index), target_fpir, model.threshold if ceiling is None else ceiling,
                         people=index.people, stranger_pairs=model.stranger_pairs, photos_each=typical,
                         mean_face_frr=model.mean_face_frr)


def rule_in_words(rule: OpenSetRule) -> str:
    """What the 1:N rule means at this gallery size, for the app and the CLI."""
    from .matching import one_in

    who = (f"{rule.people:,} {'person' if rule.people == 1 else 'people'} enrolled"
           + (f" ({rule.faces:,} faces)" if rule.faces != rule.people else ""))
    if rule.pair_far is None:
        return f"With {who}: this model carries no validation rates, so names use the threshold {rule.threshold:.3f} as it is."
    if not rule.vouched:
        evidence = f" ({rule.stranger_pairs:,} pairs of strangers)" if rule.stranger_pairs else ""
        return (f"With {who}, this model's validation{evidence} cannot vouch for naming at most "
                f"{one_in(rule.target_fpir)} strangers, so nobody is named: allow more strangers, or use a better "
                f"model.")
    limit = "your threshold" if rule.capped else f"a target of {one_in(rule.target_fpir)}"
    return (f"With {who}, at most {one_in(rule.fpir_bound)} strangers would be given a name ({limit}): a face is "
            f"named only within {rule.threshold:.3f} of someone, and about {one_in(rule.fnir)} photos of someone "
            f"enrolled with {_photos(rule.fnir_photos)} will then go unnamed"
            " (fewer with more photos: their mean face is searched).")


def _photos(count: int) -> str:
    return "one photo" if count == 1 else f"{count} photos"


def open_set_report(embeddings, labels, curve, sizes=REPORT_SIZES, target_fpir: float = DEFAULT_FPIR,
                    enrolled_photos: int = 3, seed: int = 0, threshold: float | None = None,
                    stranger_pairs: int | None = None, mean_face_frr: dict | None = None) -> list[dict]:
    """FPIR and FNIR of the 1:N rule on labelled embeddings (e.g. a model's validation people), one row per gallery
    size N: N people with more than `enrolled_photos` photos are enrolled with that many, their other photos are
    searched (FNIR: not given their own name; `wrong_name`: given someone else's), and every photo of the people
    not enrolled is a stranger (FPIR: given any name). `threshold` fixes the per-pair threshold instead of
    calibrating it (to measure the old rule); `fnir_estimate` is what the rule's words would say (`mean_face_frr`:
    the model's curves). Sizes that leave no stranger are skipped."""
    from .matching import NAMED, GalleryIndex, identify

    embeddings = np.asarray(embeddings, np.float32)
    labels = np.asarray(labels)
    people, counts = np.unique(labels, return_counts=True)
    eligible = people[counts > enrolled_photos]
    rng = np.random.default_rng(seed)
    rows = []
    for n in sizes:
        if n > len(eligible) or n >= len(people):
            continue
        chosen = rng.choice(eligible, size=n, replace=False)
        gallery_rows, probes = [], []
        for pid, person in enumerate(chosen):
            own = rng.permutation(np.flatnonzero(labels == person))
            gallery_rows += [(pid, i) for i in own[:enrolled_photos]]
            probes += [(pid, i) for i in own[enrolled_photos:]]
        strangers = np.flatnonzero(~np.isin(labels, chosen))
        index = GalleryIndex(embeddings[[i for _, i in gallery_rows]], np.array([p for p, _ in gallery_rows]),
                             {pid: str(person) for pid, person in enumerate(chosen)})
        if threshold is None:
            rule = open_set_rule(curve, len(index), target_fpir, people=n, stranger_pairs=stranger_pairs,
                                 photos_each=enrolled_photos, mean_face_frr=mean_face_frr)
            used, bound, estimate = rule.threshold, rule.fpir_bound, rule.fnir
        else:
            used, bound, estimate = float(threshold), None, None
        named = [identify(index, embeddings[i], used) for i in strangers]
        found = [(pid, identify(index, embeddings[i], used)) for pid, i in probes]
        rows.append({"enrolled": int(n), "threshold": round(float(used), 4), "strangers": len(strangers),
                     "probes": len(probes),
                     "fpir": float(np.mean([w.status == NAMED for w in named])) if named else 0.0,
                     "fnir": float(np.mean([not (w.status == NAMED and w.best.person_id == pid) for pid, w in found])),
                     "wrong_name": float(np.mean([w.status == NAMED and w.best.person_id != pid for pid, w in found])),
                     "fpir_bound": bound, "fnir_estimate": estimate})
    return rows
