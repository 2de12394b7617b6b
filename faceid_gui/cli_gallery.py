"""`faceid enroll`, `identify`, `people`, `forget`, `rename` and `merge`: the gallery from the command line."""
from __future__ import annotations

import contextlib

from .cli_output import emit as _print, say, shown
from .cli_support import EXIT_DIFFERENT, EXIT_ERROR, EXIT_UNCERTAIN, _engine, _gallery, _no_gallery, threshold_for
from .errorlog import unexpected_error


def cmd_enroll(args) -> int:
    """The window's rules: in a group photo the face most like the named person (a new name: --face N says which),
    and the enrolment checks (engine.enrolment_problems) refuse with the reasons unless --force."""
    from .engine import FaceIdError, clean_name, enrolment_problems, plural

    args.name = clean_name(args.name)  # a bad name is said before minutes of analysis, not after
    engine = _engine(args)
    analysed = []
    for path in args.images:
        try:
            analysed.append((path, engine.analyze_file(path)))
        except FaceIdError as exc:
            say(f"skipped {exc}")
        except Exception as exc:  # noqa: BLE001 - one bad photo must not stop the others
            say(f"skipped {path.name}: {unexpected_error(exc)}")
    if not analysed:
        say("nothing enrolled: no usable face in the given images")
        return EXIT_ERROR
    with _gallery(args, engine, create=True) as gallery:
        index = gallery.index()
        chosen = []
        for path, result in analysed:
            k, why = _face_for(args, index, result)
            if k is None:
                say(f"faceid: nothing enrolled: {path.name}: {why}")
                return EXIT_ERROR
            if why:
                say(f"{path.name}: {why}")
            chosen.append((path, result.faces[k]))
        problems = enrolment_problems(index, args.name, [face.embedding for _, face in chosen], engine.info.threshold,
                                      engine.info.uncertain_band(engine.info.threshold))
        for k, reason in problems:
            say(f"{'warning: ' if args.force else ''}{chosen[k][0].name} {reason}")
        if problems and not args.force:
            say(f"faceid: nothing enrolled for {args.name}: leave out the photos above, or give --force "
                "to save them anyway")
            return EXIT_ERROR
        # Absolute source paths: a relative one would point elsewhere from any other folder ("no longer there").
        gallery.enroll(args.name, [face.new_face(str(path.absolute())) for path, face in chosen])
    print(f"enrolled {plural(len(chosen), 'face')} for {shown(args.name)}")
    return 0


def _face_for(args, index, result) -> tuple[int | None, str]:
    """Which face of a photo to enrol, and what to say about it; (None, why) refuses to guess."""
    from .engine import likeliest_face, plural

    n = len(result.faces)
    if args.face is not None:
        if args.face > n:
            return None, f"--face {args.face}, but the photo has {plural(n, 'face')}"
        return args.face - 1, f"{n} faces found, using face {args.face} (--face)" if n > 1 else ""
    if n == 1:
        return 0, ""
    likeliest = likeliest_face(index, args.name, [face.embedding for face in result.faces])
    if likeliest is None:
        return None, (f"{n} faces and no face of {args.name} enrolled with this model to tell which is theirs: "
                      "say which with --face N (1 = the largest; `faceid embed` lists the faces with their boxes)")
    return likeliest, f"{n} faces found, using face {likeliest + 1} (the one most like {args.name})"


def cmd_identify(args) -> int:
    """Every face of the photo; the photo's answer is "named" when any face is named (then 'identity' lists them)."""
    from .engine import AMBIGUOUS, NAMED, UNKNOWN, GalleryIndex, gallery_rule, identify_all, plural, rule_in_words

    engine = _engine(args)
    ceiling = threshold_for(args, engine)
    result = engine.analyze_file(args.image)
    missing = _no_gallery(args)  # then nobody can be named, and no gallery is created to say so
    with contextlib.nullcontext() if missing else _gallery(args, engine) as gallery:
        index = GalleryIndex.empty() if missing else gallery.index()
        rule = gallery_rule(engine.info, index, args.fpir, ceiling)  # 1:N: stricter as the gallery grows
        threshold = rule.threshold
        everyone = identify_all(index, [f.embedding for f in result.faces], threshold, k=args.top)
        nearest = [index.nearest(f.embedding, k=args.top) for f in result.faces]  # all people, taken or not
        stale, skipped = (0, 0) if missing else (gallery.stale_count(), gallery.skipped_rows)
        empty = missing or ("the gallery is empty" if len(index) == 0 else "")
    if stale:
        say(f"{plural(stale, 'enrolled face')} made with another model "
            f"{'needs' if stale == 1 else 'need'} re-enrolment")
    if skipped:
        say(f"{plural(skipped, 'enrolled face')} damaged in the gallery {'was' if skipped == 1 else 'were'} ignored")
    faces = [{"face": k + 1, "box": [round(v, 1) for v in face.face.xywh], "identity": who.label,
              "status": who.status, "could_be": [m.name for m in who.rivals],
              "candidates": [{"name": m.name, "distance": m.distance, "match": who.is_match(m)} for m in near]}
             for k, (face, who, near) in enumerate(zip(result.faces, everyone, nearest))]
    status = next((s for s in (NAMED, AMBIGUOUS) if any(f["status"] == s for f in faces)), UNKNOWN)
    names = [f["identity"] for f in faces if f["status"] == NAMED]
    identity = ", ".join(names or [f["identity"] for f in faces if f["status"] == status][:1] or ["unknown"])
    lines = [shown(identity) + (f"  ({len(faces)} faces)" if len(faces) > 1 else "")]
    for f in faces:
        if len(faces) > 1:
            lines.append(f"face {f['face']} at {f['box']}: {shown(f['identity'])}")
        lines += [f"  {shown(c['name']):24s} {c['distance']:.4f}" for c in f["candidates"]]
    _print({"image": str(args.image), "threshold": threshold, "identity": identity, "status": status,
            "names": names, "faces": faces,
            "open_set": {"people": rule.people, "faces": rule.faces, "target_fpir": rule.target_fpir,
                         "fpir_bound": rule.fpir_bound, "fnir_estimate": rule.fnir,
                         "fnir_estimate_photos": rule.fnir_photos}},
           args.json, empty or "\n".join(lines + [rule_in_words(rule)]))
    return {NAMED: 0, AMBIGUOUS: EXIT_UNCERTAIN}.get(status, EXIT_DIFFERENT)


def cmd_people(args) -> int:
    from .engine import plural

    engine = _engine(args)
    if _no_gallery(args):
        _print([], args.json, _no_gallery(args))
        return 0
    with _gallery(args, engine) as gallery:
        people = gallery.people()
    rows = [{"name": p.name, "faces": p.faces, "needs_reenrolment": p.stale_faces} for p in people]
    text = "\n".join(f"{shown(p.name):24s} {plural(p.faces, 'face')}"
                     + (f", {p.stale_faces:,} {'needs' if p.stale_faces == 1 else 'need'} re-enrolment"
                        if p.stale_faces else "") for p in people)
    _print(rows, args.json, text or "the gallery is empty")
    return 0


def cmd_forget(args) -> int:
    engine = _engine(args)
    with _gallery(args, engine) as gallery:
        removed = gallery.forget_person(args.name)
    print(f"forgot {shown(removed.name)}")
    return 0


def cmd_rename(args) -> int:
    engine = _engine(args)
    with _gallery(args, engine) as gallery:
        index = gallery.index()
        clash = index.person_id(args.new)
        if clash is not None and clash != index.person_id(args.old):
            say(f"faceid: someone is already called {index.names[clash]!r}; to make them one person: "
                f"faceid merge {_quoted(args.old)} {_quoted(index.names[clash])}")
            return EXIT_ERROR
        gallery.rename(args.old, args.new)
    print(f"renamed {shown(args.old)} to {shown(args.new)}")
    return 0


def cmd_merge(args) -> int:
    from .engine import plural

    engine = _engine(args)
    with _gallery(args, engine) as gallery:
        merged = gallery.merge(args.source, args.into)
    print(f"merged {plural(len(merged.face_ids), 'face')} of {shown(merged.name)} into {shown(args.into)}")
    return 0


def _quoted(name: str) -> str:
    import shlex

    return shlex.quote(name)
