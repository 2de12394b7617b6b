"""Distances and decisions: the same Euclidean distance the contrastive loss trains and the threshold was calibrated on."""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from .mtcnn_ops import box_iou
from .errors import ModelError
from .model_file import DISTANCE_EPS
from .names import name_key


def distance(a: np.ndarray, b: np.ndarray) -> float:
    """model_file.DISTANCE_DEFINITION for one pair."""
    diff = np.asarray(a, np.float64) - np.asarray(b, np.float64)
    return float(np.sqrt(diff @ diff + DISTANCE_EPS))


def distances(query: np.ndarray, gallery: np.ndarray, gallery_sq_norms: np.ndarray | None = None) -> np.ndarray:
    """Distances from one query (D,) to every row of gallery (N, D), via ||q||² + ||g||² - 2 q·g."""
    query = np.asarray(query, np.float32)
    if gallery_sq_norms is None:
        gallery_sq_norms = np.einsum("ij,ij->i", gallery, gallery)
    sq = gallery_sq_norms - 2.0 * (gallery @ query) + float(query @ query)
    return np.sqrt(np.maximum(sq, 0.0) + DISTANCE_EPS)


def is_same(dist: float, threshold: float) -> bool:
    """The verdict; a NaN or infinite distance or threshold is an error, never "different people"."""
    check_threshold(threshold)
    if not np.isfinite(dist):
        raise ModelError(f"the distance is not a number ({dist}): the model output is invalid")
    return dist < threshold


def check_threshold(threshold: float) -> float:
    if not (isinstance(threshold, (int, float, np.floating)) and np.isfinite(threshold) and threshold > 0):
        raise ModelError(f"the threshold must be a positive number, not {threshold!r}")
    return float(threshold)


@dataclass(frozen=True)
class Match:
    person_id: int
    name: str
    distance: float


class GalleryIndex:
    """Embeddings of enrolled people in memory for fast 1:N search (rows grouped by person). A person is searched by
    their mean face (the mean of their embeddings, at their mean length): it averages out one photo's pose and light
    (open_set.py has the measurements)."""

    def __init__(self, embeddings: np.ndarray, person_ids: np.ndarray, names: dict[int, str]):
        order = np.argsort(person_ids, kind="stable")
        self.embeddings = np.ascontiguousarray(embeddings[order], dtype=np.float32)
        self.person_ids = person_ids[order]
        self.names = names
        self.group_ids = self.face_counts = np.empty(0, np.int64)  # face_counts: for the open-set FNIR estimate
        self.mean_faces = np.empty((0, self.embeddings.shape[1]), np.float32)
        if len(self.person_ids):  # each person's first row (rows are sorted by person), faces and mean face
            starts = np.flatnonzero(np.r_[True, self.person_ids[1:] != self.person_ids[:-1]])
            self.group_ids = self.person_ids[starts]
            self.face_counts = np.diff(np.r_[starts, len(self.person_ids)])
            counts = self.face_counts[:, None]
            mean = np.add.reduceat(self.embeddings, starts, axis=0) / counts
            length = np.add.reduceat(np.linalg.norm(self.embeddings, axis=1, keepdims=True), starts) / counts
            mean_length = np.maximum(np.linalg.norm(mean, axis=1, keepdims=True), 1e-12)
            self.mean_faces = (mean * (length / mean_length)).astype(np.float32)

    @classmethod
    def empty(cls) -> "GalleryIndex":
        """Nobody enrolled (no gallery file): every face is unknown."""
        return cls(np.empty((0, 0), np.float32), np.empty(0, np.int64), {})

    def __len__(self) -> int:
        return len(self.embeddings)

    @property
    def people(self) -> int:
        """How many people have a usable face (the open-set rule counts their faces: len(index))."""
        return len(self.group_ids)

    def person_id(self, name: str) -> int | None:
        """The id of the enrolled person of this name, matched as the gallery matches names (case, Unicode
        spelling, spaces: names.name_key); None if nobody."""
        wanted = name_key(name)
        return next((pid for pid, n in self.names.items() if name_key(n) == wanted), None)

    def mean_face(self, person_id: int | None) -> np.ndarray | None:
        """The person's mean face, or None when they have no face of the model in use (or are nobody)."""
        rows = np.flatnonzero(self.group_ids == person_id)
        return self.mean_faces[rows[0]] if len(rows) else None

    def nearest(self, query: np.ndarray, k: int = 5) -> list[Match]:
        """The k nearest people (by their mean face), nearest first."""
        if len(self.embeddings) == 0:
            return []
        per_person = distances(query, self.mean_faces)
        k = min(k, len(per_person))
        top = np.argpartition(per_person, k - 1)[:k]
        top = top[np.argsort(per_person[top])]
        return [Match(int(self.group_ids[i]), self.names[int(self.group_ids[i])], float(per_person[i])) for i in top]


# 1:N: the nearest person is named only when clearly closer than the second nearest (Lowe's ratio test). A ratio, not a
# distance difference, so it means the same on any model's distance scale.
IDENTIFY_RATIO = 0.8
NAMED, AMBIGUOUS, UNKNOWN = "named", "ambiguous", "unknown"


@dataclass(frozen=True)
class Identification:
    """Who a face is. `status` is NAMED (then `best` is the person), AMBIGUOUS (the nearest two are both plausible
    and too close to tell apart: `rivals`), or UNKNOWN (the default: nobody within the threshold)."""

    candidates: list[Match]  # nearest first
    threshold: float
    best: Match | None  # set only when NAMED
    status: str = UNKNOWN
    rivals: tuple[Match, ...] = ()  # when AMBIGUOUS: the people it could be, nearest first

    def is_match(self, match: Match) -> bool:
        return is_same(match.distance, self.threshold)

    @property
    def label(self) -> str:
        """What to show: the name, "Ana or Padma?", or "unknown"."""
        if self.status == NAMED:
            return self.best.name
        if self.status == AMBIGUOUS:
            return " or ".join(m.name for m in self.rivals) + "?"
        return "unknown"


def decide(candidates: list[Match], threshold: float, ratio: float = IDENTIFY_RATIO) -> Identification:
    """The 1:N rule on a person's nearest candidates (nearest first): named when the nearest is within the threshold
    and nearer than `ratio` times the second nearest; ambiguous when within the threshold but not clearly nearer;
    unknown otherwise."""
    threshold = check_threshold(threshold)
    if not candidates or not is_same(candidates[0].distance, threshold):
        return Identification(candidates, threshold, None, UNKNOWN)
    first = candidates[0]
    if len(candidates) > 1 and first.distance > ratio * candidates[1].distance:
        return Identification(candidates, threshold, None, AMBIGUOUS, (first, candidates[1]))
    return Identification(candidates, threshold, first, NAMED)


def identify(index: GalleryIndex, embedding: np.ndarray, threshold: float, k: int = 1) -> Identification:
    """The 1:N rule (decide) for one face, for every caller (CLI identify, Live tab). At least the two nearest people
    are looked up, since the rule compares them; k only sets how many candidates are listed."""
    return decide(index.nearest(embedding, k=max(k, 2)), threshold)


def identify_all(index: GalleryIndex, embeddings, threshold: float, k: int = 3) -> list[Identification]:
    """Every face of one photo or frame, so that no two faces get the same name: faces are settled nearest first,
    and a later face decides among the people not yet taken (one person is in a picture once). The answer never
    depends on k: each face looks up enough people that, with the taken ones removed, its nearest free person is
    still tested against the true runner-up (at most len(embeddings) - 1 are taken); k only sets how many
    candidates are listed."""
    embeddings = list(embeddings)
    found = [index.nearest(e, k=max(k, len(embeddings) + 1, 2)) for e in embeddings]
    out: list[Identification | None] = [None] * len(found)
    taken: set[int] = set()
    for i in sorted(range(len(found)), key=lambda i: found[i][0].distance if found[i] else np.inf):
        free = [m for m in found[i] if m.person_id not in taken]
        decided = decide(free, threshold)
        out[i] = replace(decided, candidates=decided.candidates[:max(k, 2)])
        if decided.status == NAMED:
            taken.add(decided.best.person_id)
    return out


# The same photo (byte-identical, under another name or path) gives the same embedding, up to float rounding: the
# distance is √ε = 0.001 (DISTANCE_EPS). Two different photos, even burst frames, lie much further apart.
SAME_PHOTO_DISTANCE = 0.003


def enrolment_problems(index: GalleryIndex, name: str, embeddings, threshold: float, band=None) -> list[tuple[int, str]]:
    """Faces about to be enrolled under `name` that look wrong, as (position, reason): a photo already enrolled (or
    given twice), a face clearly unlike the
    person's other faces (enrolled ones, or the other new ones for a new person: at or beyond the band's "different"
    edge), or one the 1:N rule would name as someone else, nearer than the person's own faces."""
    embeddings = [np.asarray(e, np.float32) for e in embeddings]
    different_from = band.different_from if band is not None else check_threshold(threshold)
    own_id = index.person_id(name)
    problems = []
    for k, e in enumerate(embeddings):
        nearest = index.nearest(e, k=len(index.names) or 1) if len(index) else []
        same_photo = distances(e, index.embeddings) < SAME_PHOTO_DISTANCE if len(index) else []
        copy = [index.names[int(p)] for p in index.person_ids[same_photo]]
        if copy or any(distance(e, other) < SAME_PHOTO_DISTANCE for other in embeddings[:k]):
            problems.append((k, f"is a photo already enrolled for {copy[0]}" if copy else
                             "is the same photo as another one being enrolled"))
            continue
        own = [m.distance for m in nearest if m.person_id == own_id]
        if not own:  # a new person: their other new faces are all we know of them
            own = [distance(e, other) for j, other in enumerate(embeddings) if j != k]
        others = decide([m for m in nearest if m.person_id != own_id], threshold)
        if others.status == NAMED and (not own or others.best.distance < min(own)):
            problems.append((k, f"looks more like {others.best.name}, who is already enrolled"))
        elif own and min(own) >= different_from:
            problems.append((k, f"does not look like {name.strip()}'s other faces"))
    return problems


def likeliest_face(index: GalleryIndex, name: str, embeddings) -> int | None:
    """Which face of a group photo to offer for `name`: the one nearest the person's mean face (as 1:N searches), or
    None when nobody of that name is enrolled yet (then the caller offers the largest)."""
    own_id = index.person_id(name)
    if own_id is None or not len(embeddings):
        return None
    own = index.mean_face(own_id)
    if own is None:  # enrolled with another model only: nothing of theirs to compare with
        return None
    return int(np.argmin(distances(own, np.asarray(embeddings, np.float32))))


def unenrolled_face(index: GalleryIndex, embeddings, threshold: float) -> int | None:
    """For a new name: the largest face of a group photo (faces come largest first) that the 1:N rule names as
    nobody enrolled, since a face already enrolled as someone else is not the new person; None when all are."""
    return next((k for k, e in enumerate(embeddings) if identify(index, e, threshold).status != NAMED), None)


# -- Compare (1:1): three answers --------------------------------------------------------------------------------
SAME, UNCERTAIN, DIFFERENT = "same", "uncertain", "different"


def verdict(dist: float, threshold: float, band=None) -> str:
    """SAME, UNCERTAIN or DIFFERENT for one pair. `band` (ModelFile.uncertain_band(threshold)) holds the edges;
    without one the answer is two-way at the threshold. NaN is an error, never an answer."""
    same = is_same(dist, threshold)
    if band is None:
        return SAME if same else DIFFERENT
    if dist < band.same_below:
        return SAME
    if dist >= band.different_from:
        return DIFFERENT
    return UNCERTAIN


def one_in(rate: float) -> str:
    """A rate in words people read without a calculator: "1 in 100", "27 in 100", "fewer than 1 in 1,000"."""
    if rate <= 0:
        return "no"
    if rate < 0.001:
        return "fewer than 1 in 1,000"
    if rate < 0.01:
        return f"1 in {round(1 / rate):,}"
    return f"{round(rate * 100)} in 100"


def explain(rates, answer: str = UNCERTAIN) -> str:
    """What a distance means on the people the model was validated on (rates: ModelFile.rates_at(distance)): for
    "same" how many strangers come this close, for "different" how many genuine pairs lie this far apart, both when
    uncertain."""
    if rates is None:
        return "This model carries no validation error rates, so the distance cannot be put in words."
    strangers = f"{one_in(rates.far)} pairs of strangers came this close"
    genuine = f"{one_in(rates.frr)} pairs of photos of one person were this far apart"
    said = {SAME: strangers, DIFFERENT: genuine}.get(answer, f"{strangers}, and {genuine}")
    return f"On people the model never saw, {said}."


class NameVote:
    """Live names that hold still: a face's answer is shown once the same answer came `frames` frames in a row;
    until then it shows None (the tab draws it as "…"), and a held answer stays until another one holds as long.
    Faces are followed from frame to frame by box overlap; given embeddings and a `jump` distance (the band's
    "different" edge), a track whose face changed that much since the last frame (a cut) starts a new vote."""

    def __init__(self, frames: int = 3, min_iou: float = 0.3):
        self.frames, self.min_iou = frames, min_iou
        self._tracks: list[dict] = []  # box, answer (this run's), run (its length), shown

    def reset(self) -> None:
        self._tracks = []

    def update(self, boxes, answers: list, embeddings=None, jump: float | None = None) -> list:
        """boxes: (x1, y1, x2, y2) per face; answers: one hashable answer per face. Returns what to show per face."""
        old, new, shown = list(self._tracks), [], []
        embeddings = embeddings if embeddings is not None else [None] * len(answers)
        for box, answer, embedding in zip(boxes, answers, embeddings):
            box = np.asarray(box[:4], float)
            overlaps = [box_iou(box, t["box"]) for t in old]
            k = int(np.argmax(overlaps)) if overlaps else -1
            fresh = {"answer": None, "run": 0, "shown": None, "embedding": None}
            track = old.pop(k) if k >= 0 and overlaps[k] >= self.min_iou else fresh
            if jump is not None and embedding is not None and track["embedding"] is not None \
                    and distance(embedding, track["embedding"]) >= jump:
                track = fresh  # another face under the same box: its name must be earned again
            run = track["run"] + 1 if answer == track["answer"] else 1
            held = track["shown"]
            if run >= self.frames:
                held = answer
            new.append({"box": box, "answer": answer, "run": run, "shown": held, "embedding": embedding})
            shown.append(held)
        self._tracks = new
        return shown
