"""The `faceid` command: GUI by default, and scriptable subcommands for compare/embed/gallery/info."""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from .cli_compare import cmd_compare, cmd_embed, cmd_info
from .cli_gallery import cmd_enroll, cmd_forget, cmd_identify, cmd_merge, cmd_people, cmd_rename
from .cli_output import guard_std_streams, say
from .cli_support import EXIT_ERROR, _fpir, _Parser, _positive_int, _threshold
from .errorlog import unexpected_error


def _parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = _Parser(prog="faceid", description="Private face verification on your own machine. Without a "
                     "subcommand it opens the window (with --compare A B on Compare, with --video on Live).")
    parser.add_argument("--version", action="version", version=f"faceid {__version__}")
    parser.add_argument("--model", type=Path, help="embedding model (.onnx); default: installed or shipped model")
    parser.add_argument("--gallery", type=Path, help="gallery database (default: user data dir, or $FACEID_GALLERY)")
    parser.add_argument("--provider", choices=["auto", "cpu", "cuda"],
                        help="inference device (default: $FACEID_PROVIDER, else auto)")
    parser.add_argument("--screenshot", type=Path, help="render the window to this PNG offscreen and exit")
    parser.add_argument("--tab", choices=["compare", "live", "enroll", "gallery", "people"],
                        help="tab to open on (default: compare with --compare, live with --video, else the last one)")
    parser.add_argument("--compare", nargs=2, type=Path, metavar=("A", "B"), help="photos to show on the Compare tab")
    parser.add_argument("--video", help="video file or camera index to play on the Live tab")
    parser.add_argument("--self-test", action="store_true", help="check models and inference, exit 0 when all pass")
    sub = parser.add_subparsers(dest="command", parser_class=_Parser, metavar="COMMAND",
                                help="what to do (default: open the window)")
    threshold_help = ("decision threshold, within the model's useful range, the window's slider range (a value "
                      "outside it is refused, naming the range; default: the model's calibrated threshold)")

    p = sub.add_parser(
        "compare", help="are two photos the same person? exit 0 same, 1 different, 3 uncertain, 2 error",
        description="Are two photos the same person? Three answers: same (exit 0), different (exit 1), uncertain "
                    "(exit 3: the distance lies in the model's uncertain band, where either answer would be wrong "
                    "at least a tenth as often as at the threshold on the model's validation people; 'lean' says "
                    "which side of the threshold it is on); exit 2 on any error. With several faces in a photo, "
                    "the two faces nearest each other are used.")
    p.add_argument("a", type=Path, help="first photo")
    p.add_argument("b", type=Path, help="second photo")
    p.add_argument("--threshold", type=_threshold, metavar="T", help=threshold_help)
    p.add_argument("--json", action="store_true", help="one JSON object instead of text (default: text)")

    p = sub.add_parser("embed", help="one JSON line per input: every face with its box, score, landmarks, embedding",
                       description="One JSON line per input: {path, faces: [{box, score, landmarks, embedding}]}, "
                                   "faces largest first (numbered from 1 by enroll --face), or {path, error}.")
    p.add_argument("paths", nargs="+", type=Path, help="photos")
    p.add_argument("--json", action="store_true", help="JSON lines (the only output format; accepted for clarity)")

    p = sub.add_parser("enroll", help="add photos of a person to the gallery (the window's checks; exit 2 if refused)",
                       description="Add photos of a person. In a group photo the face most like the person's enrolled "
                                   "faces is used; for a new name, say which with --face. Photos that look like "
                                   "someone else, unlike the person's other faces, or already enrolled are refused "
                                   "(exit 2, nothing saved) unless --force.")
    p.add_argument("name", help="the person's name (new or already enrolled)")
    p.add_argument("images", nargs="+", type=Path, help="photos of that person")
    p.add_argument("--face", type=_positive_int, metavar="N",
                   help="in a photo with several faces, use face N (1 = largest, as `embed` lists them; default: "
                        "the face most like the person, refused for a new name)")
    p.add_argument("--force", action="store_true", help="save even when the enrolment checks object (default: refuse)")

    p = sub.add_parser(
        "identify", help="who in the gallery is this? exit 0 named, 1 unknown, 3 ambiguous, 2 error",
        description="Who in the gallery is this? A person is named only when within the 1:N threshold and clearly "
                    "nearer than the second nearest; otherwise 'unknown' or 'A or B?'. The 1:N threshold shrinks as "
                    "the gallery grows so that at most --fpir of strangers get a name. Every face of the photo is "
                    "identified (--json: 'faces'), never two with the same name. The photo's answer: exit 0 when "
                    "any face is named ('identity' lists them, 'names' too), else 3 when one is 'A or B?', else 1.")
    p.add_argument("image", type=Path, help="photo")
    p.add_argument("--top", type=_positive_int, default=5, metavar="N",
                   help="nearest people listed per face; never changes the answer (default: 5)")
    p.add_argument("--threshold", type=_threshold, metavar="T", help=threshold_help)
    p.add_argument("--fpir", type=_fpir, default=0.01, metavar="SHARE",
                   help="share of strangers that may be given a name, whatever the gallery's size (default: 0.01)")
    p.add_argument("--json", action="store_true", help="one JSON object instead of text (default: text)")

    p = sub.add_parser("people", help="list enrolled people")
    p.add_argument("--json", action="store_true", help="a JSON list instead of text (default: text)")

    p = sub.add_parser("forget", help="remove a person from the gallery")
    p.add_argument("name", help="the person to remove, with all their photos")

    p = sub.add_parser("rename", help="rename a person in the gallery (refused onto a name in use: see merge)")
    p.add_argument("old", help="current name")
    p.add_argument("new", help="new name, not already in use")

    p = sub.add_parser("merge", help="two names are one person: move every photo of SOURCE to INTO")
    p.add_argument("source", help="the name that goes away")
    p.add_argument("into", help="the name that keeps every photo")

    p = sub.add_parser("info", help="model, provider and gallery details")
    p.add_argument("--json", action="store_true", help="one JSON object instead of text (default: text)")
    from .cli_people import register  # scan, groups, find, reembed

    register(sub)
    return parser


COMMANDS = {"compare": cmd_compare, "embed": cmd_embed, "enroll": cmd_enroll, "identify": cmd_identify,
            "people": cmd_people, "forget": cmd_forget, "rename": cmd_rename, "merge": cmd_merge, "info": cmd_info}


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
        return (getattr(args, "handler", None) or COMMANDS[args.command])(args)
    except FaceIdError as exc:
        say(f"faceid: {exc}")
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
