"""Grouping the unnamed faces of the photo library into people, with scikit-learn's DBSCAN on the model's own
distance, and suggesting enrolled people for faces the 1:N rule would name.

Parameters come from the model's validation curve, not from literals tuned on one data set:
* two faces are linked only when Compare would call them "same" (below the uncertain band's lower edge at the
  model's threshold, where strangers come that close ten times less often than at the threshold), and
* a face needs GROUP_MIN_SAMPLES such links to anchor a group, so one stranger who happens to come close cannot
  bridge two people on its own.
DBSCAN (not HDBSCAN) because it scales: it looks only at each face's neighbours within that distance, while
scikit-learn's HDBSCAN builds a minimum spanning tree over all pairs (50,000 faces: about a minute on 2 cores).
Faces in no group are "ungrouped" (DBSCAN's noise), never forced into the nearest group.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .matching import NAMED, GalleryIndex, identify_all

GROUP_MIN_SAMPLES = 3  # a face and two others within the linking distance make a group's core


@dataclass(frozen=True)
class GroupingParams:
    link_distance: float  # DBSCAN's eps
    min_samples: int


def grouping_params(model, threshold: float | None = None) -> GroupingParams:
    """From the model file (ModelFile): the "same" edge of its uncertain band at the threshold (rule above)."""
    band = model.uncertain_band(model.threshold if threshold is None else threshold)
    return GroupingParams(float(band.same_below), GROUP_MIN_SAMPLES)


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
    labels = group_embeddings(embeddings, grouping_params(model, threshold))
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
            if who.status == NAMED:
                found.setdefault(who.best.name, []).append(face.id)
    return dict(sorted(found.items(), key=lambda item: -len(item[1])))
