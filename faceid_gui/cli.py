"""The `faceid` command: GUI by default, and scriptable subcommands for compare/embed/gallery/info."""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from .cli_output import emit as _print, guard_std_streams, say, shown
from .cli_support import (EXIT_DIFFERENT, EXIT_ERROR, EXIT_SAME, EXIT_UNCERTAIN, _engine, _gallery, _no_gallery,
                          _Parser, _positive_int, _threshold)
from .errorlog import unexpected_error


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="faceid", description="Private face verification on your own machine.")
    parser.add_argument("--model", type=Path, help="embedding model (.onnx); default: installed or shipped model")
    parser.add_argument("--gallery", type=Path, help="gallery database (default: user data dir, or $FACEID_GALLERY)")
    parser.add_argument("--provider", choices=["auto", "cpu", "cuda"],
                        help="inference device (default: $FACEID_PROVIDER, else auto)")
    parser.add_argument("--screenshot", type=Path, help="render the window to this PNG offscreen and exit")
    parser.add_argument("--tab", choices=["compare", "live", "enroll", "gallery"], default="compare")
    parser.add_argument("--compare", nargs=2, type=Path, metavar=("A", "B"), help="photos to show on the Compare tab")
    parser.add_argument("--video", help="video file or camera index for the Live tab")
    parser.add_argument("--self-test", action="store_true", help="check models and inference, exit 0 when all pass")
    sub = parser.add_subparsers(dest="command", parser_class=_Parser)

    p = sub.add_parser(
        "compare", help="are two photos the same person? exit 0 same, 1 different, 3 uncertain, 2 error",
        description="Are two photos the same person? Three answers: same (exit 0), different (exit 1), uncertain "
                    "(exit 3: the distance lies in the model's uncertain band, where either answer would be wrong "
                    "at least a tenth as often as at the threshold on the model's validation people); "
                    "exit 2 on any error. With several faces in a photo, the two faces nearest each other are used.")
    p.add_argument("a", type=Path)
    p.add_argument("b", type=Path)
    p.add_argument("--threshold", type=_threshold, help="decision threshold (default: the model's calibrated one)")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("embed", help="one JSON line per input: embedding, box, score (or error)")
    p.add_argument("paths", nargs="+", type=Path)
    p.add_argument("--json", action="store_true", help="JSON lines (the only output format; accepted for clarity)")

    p = sub.add_parser("enroll", help="add photos of a person to the gallery")
    p.add_argument("name")
    p.add_argument("images", nargs="+", type=Path)

    p = sub.add_parser(
        "identify", help="who in the gallery is this? exit 0 named, 1 unknown, 3 ambiguous, 2 error",
        description="Who in the gallery is this? A person is named only when within the threshold and clearly nearer "
                    "than the second nearest (exit 0); otherwise 'unknown' (exit 1) or 'A or B?' (exit 3). "
                    "Every face of the photo is identified (--json: 'faces'), never two with the same name; "
                    "the top-level answer is the largest face's.")
    p.add_argument("image", type=Path)
    p.add_argument("--top", type=_positive_int, default=5)
    p.add_argument("--threshold", type=_threshold)
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("people", help="list enrolled people")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("forget", help="remove a person from the gallery")
    p.add_argument("name")

    p = sub.add_parser("rename", help="rename a person in the gallery")
    p.add_argument("old")
    p.add_argument("new")

    p = sub.add_parser("info", help="model, provider and gallery details")
    p.add_argument("--json", action="store_true")
    return parser


def cmd_compare(args) -> int:
    from .engine import SAME, UNCERTAIN, distance, explain, verdict
    from .engine.pipeline import best_pair, pair_note

    engine = _engine(args)
    threshold = args.threshold if args.threshold is not None else engine.info.threshold
    a, b = (engine.analyze_file(path) for path in (args.a, args.b))
    chosen = best_pair(a, b)
    notes = [f"{path.name}: {pair_note(result, k)}" for path, result, k in zip((args.a, args.b), (a, b), chosen)
             if pair_note(result, k)]
    dist = distance(a.faces[chosen[0]].embedding, b.faces[chosen[1]].embedding)
    band = engine.info.uncertain_band(threshold)
    answer = verdict(dist, threshold, band)
    for note in notes:
        say(note)
    rates = engine.info.rates_at(dist)
    words = {SAME: "same person", UNCERTAIN: "uncertain", "different": "different people"}[answer]
    _print({"a": str(args.a), "b": str(args.b), "distance": dist, "threshold": threshold, "verdict": answer,
            "same": answer == SAME, "band": list(band), "faces_used": list(chosen),
            "rates": rates._asdict() if rates else None, "notes": notes}, args.json,
           f"distance {dist:.4f}  threshold {threshold:.4f}  ->  {words}\n"
           f"same below {band.same_below:.4f}, different from {band.different_from:.4f}. {explain(rates, answer)}")
    return {SAME: EXIT_SAME, UNCERTAIN: EXIT_UNCERTAIN}.get(answer, EXIT_DIFFERENT)


def cmd_embed(args) -> int:
    from .engine import FaceIdError

    engine = _engine(args)
    failures = 0
    for path in args.paths:
        try:
            result = engine.analyze_file(path)
            face = result.chosen
            record = {"path": str(path), "embedding": [round(float(v), 7) for v in face.embedding],
                      "box": [round(v, 1) for v in face.face.xywh], "score": round(face.face.score, 5),
                      "landmarks": [[round(float(x), 1), round(float(y), 1)] for x, y in face.face.landmarks],
                      "faces": len(result.faces)}
        except FaceIdError as exc:
            failures += 1
            record = {"path": str(path), "error": str(exc)}
        except Exception as exc:  # noqa: BLE001 - one bad input must not drop the files after it
            failures += 1
            record = {"path": str(path), "error": unexpected_error(exc)}
        print(json.dumps(record, allow_nan=False), flush=True)
    return EXIT_ERROR if failures == len(args.paths) else 0


def cmd_enroll(args) -> int:
    from .engine import FaceIdError, clean_name

    args.name = clean_name(args.name)  # a bad name is said before minutes of analysis, not after
    engine = _engine(args)
    new_faces = []
    for path in args.images:
        try:
            result = engine.analyze_file(path)
        except FaceIdError as exc:
            say(f"skipped {exc}")
            continue
        except Exception as exc:  # noqa: BLE001 - one bad photo must not stop the others
            say(f"skipped {path.name}: {unexpected_error(exc)}")
            continue
        if result.choice_note:
            say(f"{path.name}: {result.choice_note}")
        new_faces.append(result.chosen.new_face(str(path)))
    if not new_faces:
        say("nothing enrolled: no usable face in the given images")
        return EXIT_ERROR
    with _gallery(args, engine, create=True) as gallery:
        gallery.enroll(args.name, new_faces)
    print(f"enrolled {len(new_faces)} face(s) for {shown(args.name)}")
    return 0


def cmd_identify(args) -> int:
    import contextlib

    import numpy as np

    from .engine import AMBIGUOUS, NAMED, GalleryIndex, identify_all

    engine = _engine(args)
    threshold = args.threshold if args.threshold is not None else engine.info.threshold
    result = engine.analyze_file(args.image)
    missing = _no_gallery(args)  # then nobody can be named, and no gallery is created to say so
    with contextlib.nullcontext() if missing else _gallery(args, engine) as gallery:
        index = GalleryIndex(np.empty((0, 0), np.float32), np.empty(0, np.int64), {}) if missing else gallery.index()
        everyone = identify_all(index, [f.embedding for f in result.faces], threshold, k=args.top)
        stale, skipped = (0, 0) if missing else (gallery.stale_count(), gallery.skipped_rows)
        empty = missing or ("the gallery is empty" if len(index) == 0 else "")
    if stale:
        say(f"{stale} enrolled face(s) were made with another model and need re-enrolment")
    if skipped:
        say(f"{skipped} enrolled face(s) are damaged in the gallery and were ignored")
    who = everyone[0]  # the largest face: the one a portrait is about
    rows = [{"name": m.name, "distance": m.distance, "match": who.is_match(m)} for m in who.candidates[:args.top]]
    faces = [{"box": [round(v, 1) for v in face.face.xywh], "identity": w.label, "status": w.status}
             for face, w in zip(result.faces, everyone)]
    text = "\n".join([shown(who.label) + (f"  ({len(faces)} faces: {shown(', '.join(f['identity'] for f in faces))})"
                                          if len(faces) > 1 else "")]
                     + [f"  {shown(m.name):24s} {m.distance:.4f}" for m in who.candidates[:args.top]])
    _print({"image": str(args.image), "threshold": threshold, "identity": who.label, "status": who.status,
            "could_be": [m.name for m in who.rivals], "candidates": rows, "faces": faces}, args.json,
           empty or text)
    return {NAMED: 0, AMBIGUOUS: EXIT_UNCERTAIN}.get(who.status, EXIT_DIFFERENT)


def cmd_people(args) -> int:
    engine = _engine(args)
    if _no_gallery(args):
        _print([], args.json, _no_gallery(args))
        return 0
    with _gallery(args, engine) as gallery:
        people = gallery.people()
    rows = [{"name": p.name, "faces": p.faces, "needs_reenrolment": p.stale_faces} for p in people]
    text = "\n".join(f"{shown(p.name):24s} {p.faces} face(s)" + (f", {p.stale_faces} need re-enrolment" if p.stale_faces else "")
                     for p in people)
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
        gallery.rename(args.old, args.new)
    print(f"renamed {shown(args.old)} to {shown(args.new)}")
    return 0


def cmd_info(args) -> int:
    from .paths import default_gallery_path

    engine = _engine(args)
    info = engine.info
    data = {"model": str(info.path), "sha256": info.sha256, "trained": info.trained,
            "metadata": info.to_dict(), "provider": engine.provider.name, "provider_reason": engine.provider.reason,
            "gallery": str(args.gallery or default_gallery_path())}
    text = (f"model     {shown(info.path)}\n          {'trained on ' + info.trained_on if info.trained else 'UNTRAINED placeholder'}\n"
            f"sha256    {info.sha256}\nthreshold {info.threshold}\nprovider  {engine.provider.name} ({engine.provider.reason})\n"
            f"gallery   {shown(data['gallery'])}")
    _print(data, args.json, text)
    return 0


COMMANDS = {"compare": cmd_compare, "embed": cmd_embed, "enroll": cmd_enroll, "identify": cmd_identify,
            "people": cmd_people, "forget": cmd_forget, "rename": cmd_rename, "info": cmd_info}


def main(argv: list[str] | None = None) -> int:
    """The one boundary: every failure ends here as exit 2 and one line on stderr."""
    guard_std_streams()
    # Everything faceid writes (gallery, its WAL and SHM, settings, logs, folders) holds faces and photo paths:
    # private to the user, whatever the shell's umask (Qt and SQLite create files with 0666 & ~umask).
    os.umask(0o077)
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")  # undecodable file names print, escaped, not crash
    args = _parser().parse_args(argv)
    try:
        return _run(args)
    except BrokenPipeError:
        # `faceid embed … | head -1`: the reader left. Point stdout at the null device so the interpreter's
        # final flush does not raise again, and exit quietly.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_ERROR
    except KeyboardInterrupt:
        say("faceid: interrupted")
        return EXIT_ERROR
    except Exception as exc:  # noqa: BLE001 - the boundary: a traceback with exit 1 would read as a verdict
        say(f"faceid: {unexpected_error(exc)}")
        return EXIT_ERROR


def _run(args) -> int:
    from .engine import FaceIdError, resolve_provider

    try:
        args.provider = resolve_provider(args.provider)  # the one place: explicit beats FACEID_PROVIDER
        if args.self_test:
            from .selftest import run_self_test

            return run_self_test(args)
        if args.command is None:
            from .app.main import run_gui

            return run_gui(args)
        return COMMANDS[args.command](args)
    except FaceIdError as exc:
        say(f"faceid: {exc}")
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
