"""`faceid scan`, `groups`, `find` and `reembed`: the people in a folder of photos, from the command line. The same
exit-code contract as the rest of `faceid` (2 and one line on stderr for any error)."""
from __future__ import annotations

import sys
from pathlib import Path


def register(sub) -> None:
    """Add the subcommands to faceid's subparsers; each carries its handler (args.handler)."""
    p = sub.add_parser("scan", help="index the photos of a folder (incremental) and group the faces found",
                       description="Index every photo under DIR (recursively; unchanged files are skipped, moved and "
                                   "deleted ones noticed), then group the unnamed faces. One line per photo: path, "
                                   "faces with box and, when the 1:N rule names them, identity. Exit 0, or 2 when "
                                   "no photo could be read.")
    p.add_argument("dir", type=Path)
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_scan)
    p = sub.add_parser("groups", help="the groups of unnamed faces from the last scan, largest first")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_groups)
    p = sub.add_parser("find", help="where is this person? scanned photos ranked by distance; exit 0 found, "
                                    "3 only uncertain, 1 none, 2 error",
                       description="Photos of the library (under DIR, scanned first when given) whose faces come near "
                                   "an enrolled person, nearest first, with Compare's verdict (same or uncertain). "
                                   "Exit 0 when some photo is 'same', 3 when only 'uncertain' ones, 1 when none.")
    p.add_argument("name")
    p.add_argument("dir", type=Path, nargs="?")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_find)
    p = sub.add_parser("reembed", help="re-embed enrolled faces made with another model (after a model change)")
    p.set_defaults(handler=cmd_reembed)


def _open(args):
    from .cli import _engine, _gallery
    from .engine.library import Library, library_path
    from .paths import default_gallery_path

    engine = _engine(args)
    gallery = _gallery(args, engine)
    return engine, gallery, Library(library_path(args.gallery or default_gallery_path()), engine.info.fingerprint)


def _scan(engine, library, folder: Path, quiet: bool):
    from .engine.grouping import regroup
    from .engine.scan import scan_folder

    def progress(done, total, path):
        if not quiet and (done % 100 == 0 or done == total):
            print(f"\ranalysed {done}/{total}", end="", file=sys.stderr, flush=True)

    summary = scan_folder(library, engine, folder, progress=progress)
    if not quiet and summary.analysed:
        print(file=sys.stderr)
    for path, why in summary.failed:
        print(f"skipped {why}", file=sys.stderr)
    print(f"{summary.found} photos: {summary.analysed} analysed, {summary.unchanged} unchanged, {summary.moved} moved, "
          f"{summary.deleted} gone, {len(summary.failed)} unreadable ({summary.seconds:.1f} s)", file=sys.stderr)
    regroup(library, engine.info)
    return summary


def cmd_scan(args) -> int:
    import os

    from .cli import EXIT_ERROR, _print
    from .engine import gallery_rule, identify_all

    engine, gallery, library = _open(args)
    with gallery, library:
        summary = _scan(engine, library, args.dir, args.json)
        index = gallery.index()
        rule = gallery_rule(engine.info, index)
        root = Path(os.path.abspath(args.dir))
        photos: dict[str, list] = {path: [] for path, _ in library.photos(root)}
        errors = dict(library.photos(root))
        for face in library.faces():
            if face.path in photos:
                photos[face.path].append(face)
        for path, faces in photos.items():
            named = identify_all(index, [f.embedding for f in faces], rule.threshold)
            rows = [{"box": [round(v, 1) for v in f.xywh], "identity": f.person or w.label,
                     "status": "named" if f.person else w.status, "group": f.cluster} for f, w in zip(faces, named)]
            record = {"path": path, "faces": rows} | ({"error": errors[path]} if errors[path] else {})
            _print(record, args.json, f"{path}: " + (errors[path] or ", ".join(r["identity"] for r in rows) or "no face"))
    return EXIT_ERROR if summary.found and len(summary.failed) == summary.found else 0


def cmd_groups(args) -> int:
    from .cli import _print

    engine, gallery, library = _open(args)
    with gallery, library:
        groups = library.groups()
    rows = [{"group": k, "faces": [{"path": f.path, "box": [round(v, 1) for v in f.xywh]} for f in faces]}
            for k, faces in groups.items()]
    text = "\n".join(f"group {r['group']}: {len(r['faces'])} faces ({', '.join(Path(f['path']).name for f in r['faces'][:5])}"
                     + (", …)" if len(r["faces"]) > 5 else ")") for r in rows)
    _print(rows, args.json, text or "no groups: scan a folder first (faceid scan DIR)")
    return 0


def cmd_find(args) -> int:
    from .cli import EXIT_DIFFERENT, EXIT_UNCERTAIN, _print
    from .engine import SAME
    from .engine.find import find_person

    engine, gallery, library = _open(args)
    with gallery, library:
        if args.dir is not None:
            _scan(engine, library, args.dir, args.json)
        threshold = engine.info.threshold
        found = find_person(library, gallery.index(), args.name, threshold, engine.info.uncertain_band(threshold),
                            under=args.dir)
    for f in found:
        _print({"path": f.path, "distance": round(f.distance, 4), "verdict": f.verdict, "box": [round(v, 1) for v in f.box]},
               args.json, f"{f.distance:.4f}  {f.verdict:9s}  {f.path}")
    if not found:
        print(f"no scanned photo looks like {args.name}", file=sys.stderr)
    return 0 if any(f.verdict == SAME for f in found) else EXIT_UNCERTAIN if found else EXIT_DIFFERENT


def cmd_reembed(args) -> int:
    from .cli import _engine, _gallery
    from .engine.reembed import reembed_stale

    engine = _engine(args)
    with _gallery(args, engine) as gallery:
        summary = reembed_stale(gallery, engine, progress=lambda done, total, name: print(
            f"\rre-embedded {done}/{total}", end="", file=sys.stderr, flush=True))
    print(f"\n{summary.from_photo} face(s) from their photo, {summary.from_crop} from the kept crop, "
          f"{len(summary.failed)} could not be re-embedded", file=sys.stderr)
    for name, why in summary.failed:
        print(f"  {name}: {why}", file=sys.stderr)
    return 0

