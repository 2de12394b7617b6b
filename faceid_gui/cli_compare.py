"""`faceid compare`, `embed` and `info`: one photo against another, embeddings out, the model described."""
from __future__ import annotations

import json

from .cli_output import emit as _print, say, shown
from .cli_support import EXIT_DIFFERENT, EXIT_ERROR, EXIT_SAME, EXIT_UNCERTAIN, _engine, threshold_for
from .errorlog import unexpected_error


def cmd_compare(args) -> int:
    from .engine import SAME, UNCERTAIN, distance, judge
    from .engine.pipeline import best_pair, pair_note

    engine = _engine(args)
    threshold = threshold_for(args, engine)
    a, b = (engine.analyze_file(path) for path in (args.a, args.b))
    chosen = best_pair(a, b)
    notes = [f"{path.name}: {pair_note(result, k)}" for path, result, k in zip((args.a, args.b), (a, b), chosen)
             if pair_note(result, k)]
    judged = judge(engine.info, distance(a.faces[chosen[0]].embedding, b.faces[chosen[1]].embedding), threshold)
    for note in notes:
        say(note)
    band = judged.band
    _print({"a": str(args.a), "b": str(args.b), **judged.to_dict(), "faces_used": list(chosen), "notes": notes},
           args.json,
           f"distance {judged.distance:.4f}  threshold {threshold:.4f}  ->  {judged.words}\n"
           f"same below {band.same_below:.4f}, different from {band.different_from:.4f}. {judged.meaning}")
    return {SAME: EXIT_SAME, UNCERTAIN: EXIT_UNCERTAIN}.get(judged.answer, EXIT_DIFFERENT)


def face_record(face) -> dict:
    """One face as `embed` prints it (and `identify` boxes it): box (x, y, w, h), score, landmarks, embedding."""
    return {"box": [round(v, 1) for v in face.face.xywh], "score": round(face.face.score, 5),
            "landmarks": [[round(float(x), 1), round(float(y), 1)] for x, y in face.face.landmarks],
            "embedding": [round(float(v), 7) for v in face.embedding]}


def cmd_embed(args) -> int:
    from .engine import FaceIdError

    engine = _engine(args)
    failures = 0
    for path in args.paths:
        try:
            result = engine.analyze_file(path)
            record = {"path": str(path), "faces": [face_record(face) for face in result.faces]}  # largest first
        except FaceIdError as exc:
            failures += 1
            record = {"path": str(path), "error": str(exc)}
        except Exception as exc:  # noqa: BLE001 - one bad input must not drop the files after it
            failures += 1
            record = {"path": str(path), "error": unexpected_error(exc)}
        print(json.dumps(record, allow_nan=False), flush=True)
    return EXIT_ERROR if failures == len(args.paths) else 0


def cmd_info(args) -> int:
    from .paths import default_gallery_path

    engine = _engine(args)
    info = engine.info
    data = {"model": str(info.path), "sha256": info.sha256, "trained": info.trained, "trained_on": info.training_data,
            "metadata": info.to_dict(), "provider": engine.provider.name, "provider_reason": engine.provider.reason,
            "gallery": str(args.gallery or default_gallery_path())}
    text = (f"model     {shown(info.path)}\n          "
            f"{'trained on ' + shown(info.training_data) if info.trained else 'UNTRAINED placeholder'}\n"
            f"sha256    {info.sha256}\nthreshold {info.threshold}\nprovider  {engine.provider.name} ({engine.provider.reason})\n"
            f"gallery   {shown(data['gallery'])}")
    _print(data, args.json, text)
    return 0
