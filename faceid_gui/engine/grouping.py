"""Grouping the unnamed faces of the photo library into people, with scikit-learn's DBSCAN on the model's own
distance, and suggesting enrolled people for faces the 1:N rule would name.

Parameters come from the model's validation curve and the number of faces, not from literals tuned on one data set.
Two faces are linked when nearer than the link distance, and linked faces form a group (DBSCAN). With N faces each
face has about (N - 1) * FAR(d) strangers within d. A random graph's giant component appears at mean degree 1, but
a person's k faces carry k times one face's stranger links, so groups of a few faces chain into one giant group
well before each face has one stranger link: on the 5,028 CelebA-subset faces (about 21 a person), links at one
stranger a face (0.3265 with the stop-23 model) put most faces into one group (pairwise precision 0.016), and at
Compare's "same" edge an earlier model put 3,288 faces of 235 people in one. So the link distance is the largest d
with (N - 1) * FAR(d) <= 1/8 (groups of up to eight faces stay below that point; on validation people 1/8 grouped
best of 1/16-1/2 for 50, 150 and 453 people with the stop-42 and stop-43 models), and never beyond the "same" edge:
like 1:N, a bigger library needs stricter links, and a better model (lower FAR at the same distance) links more.
DBSCAN (not HDBSCAN) because it scales: it looks only at each face's neighbours within that distance, while
scikit-learn's HDBSCAN builds a minimum spanning tree over all pairs (20,000 faces: 10 s, 50,000 about a minute),
and on the CelebA faces it did no better (min_cluster_size 3: BCubed precision 0.75, F 0.27; DBSCAN with the link
rule of the time: 0.92, 0.19).
Faces in no group are "ungrouped" (DBSCAN's noise), never forced into the nearest group.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .matching import NAMED, GalleryIndex, identify_all
from .model_file import fine_curve
from .open_set import SMALLEST_DISTANCE

GROUP_MIN_SAMPLES = 2  # a group is two faces or more (DBSCAN counts the face itself)
STRANGER_LINKS_PER_FACE = 0.125  # one stranger link per group of eight faces (rule above)


@dataclass(frozen=True)
class GroupingParams:
    link_distance: float  # DBSCAN's eps
    min_samples: int


def grouping_params(model, faces: int, threshold: float | None = None) -> GroupingParams:
    """From the model file (ModelFile) and the number of faces to group (rule above)."""
    same_edge = float(model.uncertain_band(model.threshold if threshold is None else threshold).same_below)
    if len(model.rate_curve) < 2:
        return GroupingParams(same_edge, GROUP_MIN_SAMPLES)
    grid, far, _ = fine_curve(model.rate_curve)  # the FAR as measured: the rule bounds a mean, not a worst case
    allowed = grid[far * max(faces - 1, 1) <= STRANGER_LINKS_PER_FACE]
    link = float(allowed.max()) if allowed.size else SMALLEST_DISTANCE
    return GroupingParams(max(min(link, same_edge), SMALLEST_DISTANCE), GROUP_MIN_SAMPLES)


def group_embeddings(embeddings, params: GroupingParams) -> np.ndarray:
    """A group label per face (0, 1, ...; -1: ungrouped), groups numbered largest first."""
    from sklearn.cluster import DBSCAN

    embeddings = np.asarray(embeddings, np.float32)
    if len(embeddings) == 0:
        return np.empty(0, np.int64)
    labels = DBSCAN(eps=params.link_distance, min_samples=params.min_samples).fit_predict(embeddings)
    found = labels[labels >= 0]
    if not found.size:
        return labels.astype(np.int64)
    counts = np.bincount(found)
    rank = np.empty_like(counts)
    rank[np.argsort(-counts, kind="stable")] = np.arange(len(counts))
    return np.where(labels >= 0, rank[np.maximum(labels, 0)], -1).astype(np.int64)


def regroup(library, model, threshold: float | None = None) -> int:
    """Group the library's faces that are fit for it and unnamed; returns how many groups were found."""
    ids, embeddings = library.to_group()
    labels = group_embeddings(embeddings, grouping_params(model, len(ids), threshold))
    library.set_clusters(ids, labels)
    return int(labels.max() + 1) if len(labels) else 0


def suggestions(library, index: GalleryIndex, threshold: float) -> dict[str, list[int]]:
    """Enrolled name -> unnamed library faces the 1:N rule names as that person (threshold: the open-set one for
    the gallery's size). Faces of one photo never get the same name (identify_all), as everywhere else."""
    if len(index) == 0:
        return {}
    by_photo: dict[int, list] = {}
    for face in library.faces("f.person IS NULL AND f.ignored = 0 AND f.groupable = 1"):
        by_photo.setdefault(face.photo_id, []).append(face)
    found: dict[str, list[int]] = {}
    for faces in by_photo.values():
        for face, who in zip(faces, identify_all(index, [f.embedding for f in faces], threshold)):
            if who.status == NAMED and (face.not_person or "").casefold() != who.best.name.casefold():
                found.setdefault(who.best.name, []).append(face.id)
    return dict(sorted(found.items(), key=lambda item: -len(item[1])))


def groups_to_review(groups: dict[int, list], suggested: dict[str, list[int]]) -> dict[int, list]:
    """The groups (Library.groups()) without the faces already offered under an enrolled name (suggestions()), so
    each face is reviewed once; a group left with fewer than GROUP_MIN_SAMPLES faces is no group."""
    offered = {face_id for ids in suggested.values() for face_id in ids}
    left = {k: [f for f in faces if f.id not in offered] for k, faces in groups.items()}
    return {k: faces for k, faces in left.items() if len(faces) >= GROUP_MIN_SAMPLES}
