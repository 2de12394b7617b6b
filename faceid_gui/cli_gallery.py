"""`faceid enroll`, `identify`, `people`, `forget` and `rename`: the gallery from the command line."""
from __future__ import annotations

import sys

from .cli_common import EXIT_DIFFERENT, EXIT_ERROR, EXIT_UNCERTAIN, _engine, _gallery, _print
from .errorlog import unexpected_error


def cmd_enroll(args) -> int:
    from .engine import FaceIdError, GalleryError
    from .engine.gallery import _clean_name

    try:
        _clean_name(args.name)  # a bad name is said before minutes of analysis, not after
    except GalleryError as exc:
        print(f"faceid: {exc}", file=sys.stderr)
        return EXIT_ERROR
    engine = _engine(args)
    new_faces = []
    for path in args.images:
        try:
            result = engine.analyze_file(path)
        except FaceIdError as exc:
            print(f"skipped {exc}", file=sys.stderr)
            continue
        except Exception as exc:  # noqa: BLE001 - one bad photo must not stop the others
            print(f"skipped {path.name}: {unexpected_error(exc)}", file=sys.stderr)
            continue
        if result.choice_note:
            print(f"{path.name}: {result.choice_note}", file=sys.stderr)
        new_faces.append(result.chosen.new_face(str(path)))
    if not new_faces:
        print("nothing enrolled: no usable face in the given images", file=sys.stderr)
        return EXIT_ERROR
    with _gallery(args, engine) as gallery:
        gallery.enroll(args.name, new_faces)
    print(f"enrolled {len(new_faces)} face(s) for {args.name}")
    return 0


def cmd_identify(args) -> int:
    from .engine import AMBIGUOUS, NAMED, identify_all

    engine = _engine(args)
    threshold = args.threshold if args.threshold is not None else engine.info.threshold
    result = engine.analyze_file(args.image)
    with _gallery(args, engine) as gallery:
        everyone = identify_all(gallery.index(), [f.embedding for f in result.faces], threshold, k=args.top)
        stale, skipped, empty = gallery.stale_count(), gallery.skipped_rows, len(gallery.index()) == 0
    if stale:
        print(f"{stale} enrolled face(s) were made with another model and need re-enrolment", file=sys.stderr)
    if skipped:
        print(f"{skipped} enrolled face(s) are damaged in the gallery and were ignored", file=sys.stderr)
    who = everyone[0]  # the largest face: the one a portrait is about
    rows = [{"name": m.name, "distance": m.distance, "match": who.is_match(m)} for m in who.candidates[:args.top]]
    faces = [{"box": [round(v, 1) for v in face.face.xywh], "identity": w.label, "status": w.status}
             for face, w in zip(result.faces, everyone)]
    text = "\n".join([f"{who.label}" + (f"  ({len(faces)} faces: {', '.join(f['identity'] for f in faces)})"
                                         if len(faces) > 1 else "")]
                     + [f"  {m.name:24s} {m.distance:.4f}" for m in who.candidates[:args.top]])
    _print({"image": str(args.image), "threshold": threshold, "identity": who.label, "status": who.status,
            "could_be": [m.name for m in who.rivals], "candidates": rows, "faces": faces}, args.json,
           "the gallery is empty" if empty else text)
    return {NAMED: 0, AMBIGUOUS: EXIT_UNCERTAIN}.get(who.status, EXIT_DIFFERENT)


def cmd_people(args) -> int:
    engine = _engine(args)
    with _gallery(args, engine) as gallery:
        people = gallery.people()
    rows = [{"name": p.name, "faces": p.faces, "needs_reenrolment": p.stale_faces} for p in people]
    text = "\n".join(f"{p.name:24s} {p.faces} face(s)" + (f", {p.stale_faces} need re-enrolment" if p.stale_faces else "")
                     for p in people)
    _print(rows, args.json, text or "the gallery is empty")
    return 0


def cmd_forget(args) -> int:
    engine = _engine(args)
    with _gallery(args, engine) as gallery:
        gallery.forget_person(args.name)
    print(f"forgot {args.name}")
    return 0


def cmd_rename(args) -> int:
    engine = _engine(args)
    with _gallery(args, engine) as gallery:
        gallery.rename(args.old, args.new)
    print(f"renamed {args.old} to {args.new}")
    return 0
