"""Review of the scanned faces as plain calls, free of Qt (the People tab is their caller): name faces (enrols them
in the gallery, after the enrolment checks), merge groups, take faces out, ignore them for good, accept or reject
suggestions, and undo any of these. Each action returns a library.Undo."""
from __future__ import annotations

from pathlib import Path

from .errors import FaceIdError, GalleryError
from .gallery import NewFace
from .imageio import encode_png
from .library import Library, Undo
from .matching import enrolment_problems
from .photo import Photo
from .words import plural


def faces_by_id(library: Library, face_ids) -> list:
    wanted = {int(i) for i in face_ids}
    return [f for f in library.faces() if f.id in wanted]


def naming_problems(library: Library, gallery, face_ids, name: str, threshold: float, band=None) -> list[str]:
    """What the enrolment checks (matching.enrolment_problems) say about naming these faces `name`, in words."""
    faces = faces_by_id(library, face_ids)
    problems = enrolment_problems(gallery.index(), name, [f.embedding for f in faces], threshold, band)
    return [f"{Path(faces[k].path).name}: {why}" for k, why in problems]


def name_faces(library: Library, gallery, face_ids, name: str) -> Undo:
    """Enrol these faces under `name` (a new person, or added to one enrolled) and mark them named. The gallery
    keeps each face's canonical crop, cut again from its photo (engine/reembed.py needs it after a model change)."""
    faces = faces_by_id(library, face_ids)
    if not faces:
        raise GalleryError("nothing to name: no face was chosen")
    if library.model_fingerprint != gallery.model_fingerprint:
        raise GalleryError("these faces were found with another model than the gallery's: scan the folder again")
    before = _face_ids(gallery, name)
    gallery.enroll(name, [NewFace(f.embedding, library.model_fingerprint, _canonical_png(f), f.path) for f in faces])
    added = tuple(sorted(_face_ids(gallery, name) - before))
    return library.change([f.id for f in faces], f"name {plural(len(faces), 'face')} {name.strip()}",
                          enrolled=(name.strip(), added), person=name.strip())


def merge_groups(library: Library, into: int, other: int) -> Undo:
    ids = [f.id for f in library.groups().get(other, [])]
    return library.change(ids, "merge two groups", cluster=int(into))


def take_out(library: Library, face_ids) -> Undo:
    """"Not this person": out of its group, and kept out of the next grouping."""
    return library.change(face_ids, "take faces out of the group", cluster=None, kept_out=1)


def ignore(library: Library, face_ids) -> Undo:
    return library.change(face_ids, "ignore faces", ignored=1)


def reject_suggestion(library: Library, face_ids, name: str) -> Undo:
    """These faces are not `name`: never suggested as that person again."""
    return library.change(face_ids, f"not {name.strip()}", not_person=name.strip())


def undo(library: Library, gallery, action: Undo) -> None:
    """Put back what an action changed, including the gallery faces a naming enrolled."""
    if action.enrolled:
        for face_id in action.enrolled[1]:
            try:
                gallery.forget_face(face_id)
            except GalleryError:
                pass  # already removed in the Gallery tab
    library.undo(action)


def _face_ids(gallery, name: str) -> set[int]:
    try:
        return {f.id for f in gallery.faces(name)}
    except GalleryError:
        return set()  # a new person


def _canonical_png(face) -> bytes | None:
    try:
        return encode_png(Photo(face.path).canonical(face.landmarks))
    except FaceIdError:
        return None  # the photo is gone or unreadable now: the embedding is still good
