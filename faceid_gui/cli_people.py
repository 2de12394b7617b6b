"""`faceid scan`, `groups`, `find` and `reembed`: the people in a folder of photos, from the command line. The same
exit-code contract as the rest of `faceid` (2 and one line on stderr for any error). Only the photo library (beside
the gallery) is written by scan and find; the gallery is read, never created, except by reembed's updates."""
from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path

from .cli_output import emit, say, shown
from .cli_support import EXIT_DIFFERENT, EXIT_ERROR, EXIT_UNCERTAIN, _engine, _gallery, _no_gallery

JSON_HELP = "one JSON line per result instead of text (default: text)"


def register(sub) -> None:
    """Add the subcommands to faceid's subparsers; each carries its handler (args.handler)."""
    p = sub.add_parser("scan", help="index the photos of a folder (incremental) and group the faces found",
                       description="Index every photo under DIR (recursively; unchanged files are skipped, moved and "
                                   "deleted ones noticed), then group the unnamed faces. One line per photo: path, "
                                   "faces with box and, when the 1:N rule names them, identity. Exit 0, or 2 when "
                                   "no photo could be read.")
    p.add_argument("dir", type=Path, help="folder of photos, searched with its subfolders")
    p.add_argument("--json", action="store_true", help=JSON_HELP)
    p.set_defaults(handler=cmd_scan)
    p = sub.add_parser("groups", help="the groups of unnamed faces from the last scan, largest first")
    p.add_argument("--json", action="store_true", help="a JSON list instead of text (default: text)")
    p.set_defaults(handler=cmd_groups)
    p = sub.add_parser("find", help="where is this person? scanned photos ranked by distance; exit 0 found, "
                                    "3 only uncertain, 1 none, 2 error",
                       description="Photos of the library (under DIR, scanned first when given) whose faces come near "
                                   "an enrolled person, nearest first, with Compare's verdict (same or uncertain). "
                                   "Exit 0 when some photo is 'same', 3 when only 'uncertain' ones, 1 when none.")
    p.add_argument("name", help="an enrolled person")
    p.add_argument("dir", type=Path, nargs="?",
                   help="scan this folder first and look only under it (default: every photo scanned before)")
    p.add_argument("--json", action="store_true", help=JSON_HELP)
    p.set_defaults(handler=cmd_find)
    p = sub.add_parser("reembed", help="re-embed enrolled faces made with another model (after a model change)")
    p.set_defaults(handler=cmd_reembed)


def _library(args, engine):
    """The photo library of the gallery in use (it holds what scans saw, so only a scan creates it)."""
    from .engine.library import Library, library_path
    from .paths import default_gallery_path

    return Library(library_path(args.gallery or default_gallery_path()), engine.info.fingerprint)


def _library_exists(args) -> bool:
    from .engine.library import library_path
    from .paths import default_gallery_path

    return os.path.lexists(library_path(args.gallery or default_gallery_path()))


def _read_gallery(args, engine):
    """The gallery for reading, or a null context (None) when there is none: then nobody is named."""
    return contextlib.nullcontext() if _no_gallery(args) else _gallery(args, engine)


def _scan(engine, library, folder: Path, quiet: bool):
    from .engine.grouping import regroup
    from .engine.scan import scan_folder

    def progress(done, total, path):
        if not quiet and (done % 100 == 0 or done == total):
            print(f"\ranalysed {done}/{total}", end="", file=sys.stderr, flush=True)  # numbers only: nothing to escape

    summary = scan_folder(library, engine, folder, progress=progress)
    if not quiet and summary.analysed:
        print(file=sys.stderr)
    for _, why in summary.failed:
        say(f"skipped {why}")
    say(f"{summary.found} photos: {summary.analysed} analysed, {summary.unchanged} unchanged, {summary.moved} moved, "
        f"{summary.deleted} gone, {len(summary.failed)} unreadable ({summary.seconds:.1f} s)")
    regroup(library, engine.info)
    return summary


def cmd_scan(args) -> int:
    from .engine import FaceIdError, GalleryIndex, gallery_rule, identify_all

    if not os.path.isdir(args.dir):  # before anything else: a mistyped folder gets one line and creates no library
        raise FaceIdError(f"{os.path.abspath(args.dir)} is not a folder")
    engine = _engine(args)
    if _no_gallery(args):
        say(f"faceid: {_no_gallery(args)}: faces are grouped, nobody is named")
    with _read_gallery(args, engine) as gallery, _library(args, engine) as library:
        summary = _scan(engine, library, args.dir, args.json)
        index = GalleryIndex.empty() if gallery is None else gallery.index()
        rule = gallery_rule(engine.info, index)
        errors = dict(library.photos(Path(os.path.abspath(args.dir))))
        photos: dict[str, list] = {path: [] for path in errors}
        for face in library.faces():
            if face.path in photos:
                photos[face.path].append(face)
    for path, faces in photos.items():
        named = identify_all(index, [f.embedding for f in faces], rule.threshold)
        rows = [{"box": [round(v, 1) for v in f.xywh], "identity": f.person or w.label,
                 "status": "named" if f.person else w.status, "group": f.cluster} for f, w in zip(faces, named)]
        record = {"path": path, "faces": rows} | ({"error": errors[path]} if errors[path] else {})
        text = errors[path] or ", ".join(r["identity"] for r in rows) or "no face"
        emit(record, args.json, shown(f"{path}: {text}"))
    return EXIT_ERROR if summary.found and len(summary.failed) == summary.found else 0


def cmd_groups(args) -> int:
    engine = _engine(args)
    groups = {}
    if _library_exists(args):  # else nothing was scanned: no library is created to say so
        with _library(args, engine) as library:
            groups = library.groups()
    rows = [{"group": k, "faces": [{"path": f.path, "box": [round(v, 1) for v in f.xywh]} for f in faces]}
            for k, faces in groups.items()]
    text = "\n".join(shown(f"group {r['group']}: {len(r['faces'])} faces ("
                           + ", ".join(Path(f["path"]).name for f in r["faces"][:5])
                           + (", …)" if len(r["faces"]) > 5 else ")")) for r in rows)
    emit(rows, args.json, text or "no groups: scan a folder first (faceid scan DIR)")
    return 0


def cmd_find(args) -> int:
    from .engine import SAME
    from .engine.find import find_person

    engine = _engine(args)
    if _no_gallery(args):
        say(f"faceid: {_no_gallery(args)}")
        return EXIT_ERROR
    scanned = args.dir is not None or _library_exists(args)  # else nothing to look in, and no library is made
    with _gallery(args, engine) as gallery, _library(args, engine) if scanned else contextlib.nullcontext() as library:
        index, threshold = gallery.index(), engine.info.threshold
        band = engine.info.uncertain_band(threshold)
        if args.dir is not None:
            find_person(None, index, args.name, threshold, band)  # an unknown name is refused before the scan
            _scan(engine, library, args.dir, args.json)
        found = find_person(library, index, args.name, threshold, band, under=args.dir)
    for f in found:
        emit({"path": f.path, "distance": round(f.distance, 4), "verdict": f.verdict,
              "box": [round(v, 1) for v in f.box]}, args.json, shown(f"{f.distance:.4f}  {f.verdict:9s}  {f.path}"))
    if not found:
        say(f"no scanned photo looks like {args.name}")
    return 0 if any(f.verdict == SAME for f in found) else EXIT_UNCERTAIN if found else EXIT_DIFFERENT


def cmd_reembed(args) -> int:
    from .engine import plural
    from .engine.reembed import reembed_stale

    engine = _engine(args)
    if _no_gallery(args):  # nothing to re-embed, and no gallery is created to say so
        say(f"faceid: {_no_gallery(args)}")
        return 0

    def progress(done, total, name):
        print(f"\rre-embedded {done}/{total}", end="", file=sys.stderr, flush=True)  # numbers only: nothing to escape

    with _gallery(args, engine) as gallery:
        summary = reembed_stale(gallery, engine, progress=progress)
    if summary.from_photo or summary.from_crop or summary.failed:
        print(file=sys.stderr)  # end the progress line
    say(f"{plural(summary.from_photo, 'face')} from their photo, {summary.from_crop:,} from the kept crop, "
        f"{len(summary.failed):,} could not be re-embedded")
    for name, why in summary.failed:
        say(f"  {name}: {why}")
    return 0
