"""The `faceid` command: GUI by default, and scriptable subcommands for compare/embed/gallery/info."""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from .errorlog import unexpected_error

# compare: 0 same, 1 different, 3 uncertain (too close to call, engine.matching.verdict), 2 error.
# identify: 0 named, 1 unknown, 3 ambiguous (two people too close to tell apart), 2 error.
EXIT_SAME, EXIT_DIFFERENT, EXIT_ERROR, EXIT_UNCERTAIN = 0, 1, 2, 3


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line and exit 2, as every other failure
        self.exit(EXIT_ERROR, f"{self.prog}: {message} (see --help)\n")


def _threshold(text: str) -> float:
    from .engine import FaceIdError, check_threshold

    try:
        return check_threshold(float(text))
    except (ValueError, FaceIdError):
        raise argparse.ArgumentTypeError(f"must be a positive number, not {text!r}") from None


def _fpir(text: str) -> float:
    from .engine import check_fpir

    try:
        return check_fpir(float(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a share above 0 and at most 1 (0.01 = 1 in 100), not {text!r}") from None


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of at least 1, not {text!r}")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="faceid", description="Private face verification on your own machine.")
    parser.add_argument("--model", type=Path, help="embedding model (.onnx); default: installed or shipped model")
    parser.add_argument("--gallery", type=Path, help="gallery database (default: user data dir, or $FACEID_GALLERY)")
    parser.add_argument("--provider", choices=["auto", "cpu", "cuda"],
                        help="inference device (default: $FACEID_PROVIDER, else auto)")
    parser.add_argument("--screenshot", type=Path, help="render the window to this PNG offscreen and exit")
    parser.add_argument("--tab", choices=["compare", "live", "enroll", "gallery", "people"], default="compare")
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
        description="Who in the gallery is this? A person is named only when within the 1:N threshold and clearly "
                    "nearer than the second nearest (exit 0); otherwise 'unknown' (exit 1) or 'A or B?' (exit 3). "
                    "The 1:N threshold shrinks as the gallery grows so that at most --fpir of strangers get a name. "
                    "Every face of the photo is identified (--json: 'faces'), never two with the same name; "
                    "the top-level answer is the largest face's.")
    p.add_argument("image", type=Path)
    p.add_argument("--top", type=_positive_int, default=5, help="candidates listed (never changes the answer)")
    p.add_argument("--threshold", type=_threshold, help="per-pair ceiling (default: the model's 1:1 threshold)")
    p.add_argument("--fpir", type=_fpir, default=0.01,
                   help="share of strangers that may be given a name, whatever the gallery's size (default 0.01)")
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
    from .cli_people import register  # scan, groups, find, reembed

    register(sub)
    return parser


def _engine(args):
    from .engine import FaceEngine

    engine = FaceEngine(args.model, prefer=args.provider)
    if engine.note:
        print(f"faceid: {engine.note}", file=sys.stderr)
    return engine


def _gallery(args, engine):
    from .engine import Gallery
    from .paths import default_gallery_path

    return Gallery(args.gallery or default_gallery_path(), engine.info.fingerprint, engine.info.embedding_size)


def _print(obj, as_json: bool, text: str) -> None:
    # allow_nan=False: bare NaN is not JSON; the engine never produces one, and this makes sure of it.
    print(json.dumps(obj, allow_nan=False) if as_json else text, flush=True)


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
        print(note, file=sys.stderr)
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
    from .engine import AMBIGUOUS, NAMED, gallery_rule, identify_all, rule_in_words

    engine = _engine(args)
    result = engine.analyze_file(args.image)
    with _gallery(args, engine) as gallery:
        rule = gallery_rule(engine.info, gallery.index(), args.fpir, args.threshold)
        threshold = rule.threshold
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
            "could_be": [m.name for m in who.rivals], "candidates": rows, "faces": faces,
            "open_set": {"people": rule.people, "faces": rule.faces, "target_fpir": rule.target_fpir, "fpir_bound": rule.fpir_bound,
                         "fnir_estimate": rule.fnir}}, args.json,
           "the gallery is empty" if empty else f"{text}\n{rule_in_words(rule)}")
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


def cmd_info(args) -> int:
    from .paths import default_gallery_path

    engine = _engine(args)
    info = engine.info
    data = {"model": str(info.path), "sha256": info.sha256, "trained": info.trained,
            "metadata": info.to_dict(), "provider": engine.provider.name, "provider_reason": engine.provider.reason,
            "gallery": str(args.gallery or default_gallery_path())}
    text = (f"model     {info.path}\n          {'trained on ' + info.trained_on if info.trained else 'UNTRAINED placeholder'}\n"
            f"sha256    {info.sha256}\nthreshold {info.threshold}\nprovider  {engine.provider.name} ({engine.provider.reason})\n"
            f"gallery   {data['gallery']}")
    _print(data, args.json, text)
    return 0


COMMANDS = {"compare": cmd_compare, "embed": cmd_embed, "enroll": cmd_enroll, "identify": cmd_identify,
            "people": cmd_people, "forget": cmd_forget, "rename": cmd_rename, "info": cmd_info}


def main(argv: list[str] | None = None) -> int:
    """The one boundary: every failure ends here as exit 2 and one line on stderr."""
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
        print("faceid: interrupted", file=sys.stderr)
        return EXIT_ERROR
    except Exception as exc:  # noqa: BLE001 - the boundary: a traceback with exit 1 would read as a verdict
        print(f"faceid: {unexpected_error(exc)}", file=sys.stderr)
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
        return (getattr(args, "handler", None) or COMMANDS[args.command])(args)
    except FaceIdError as exc:
        print(f"faceid: {exc}", file=sys.stderr)
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
