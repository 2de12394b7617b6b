"""How faceid copes with a gallery the size of a photo library (issue 22): 100,000 faces of 10,000 people.

    PYTHONPATH=$PWD python tools/gallery_scale.py [--faces 100000] [--people 10000] [--gallery /tmp/...]

Builds the gallery once with direct SQLite inserts (random unit embeddings under the shipped model's fingerprint,
small PNG thumbnails like the app's own) and caches it under /tmp; then measures, each in a fresh process so that
its peak RSS is its own: the window opened on the Gallery tab (offscreen Qt), `faceid people`, `faceid identify`
end to end, and in one process the 1:N index built in full and refreshed after one enrolment and one removal
made by another connection (as `faceid enroll` while the window is open).
"""
from __future__ import annotations

import argparse
import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from faceid_gui.engine import FaceEngine, Gallery  # noqa: E402

SAMPLE = ROOT / "assets" / "samples" / "astronaut.jpg"
THUMB_VARIANTS = 256  # distinct thumbnails, reused: building 100,000 PNGs would take longer than every measure


def build(path: Path, faces: int, people: int) -> None:
    engine = FaceEngine(None)
    fingerprint, size = engine.info.fingerprint, engine.info.embedding_size
    rng = np.random.default_rng(22)
    thumbs = []
    for k in range(THUMB_VARIANTS):  # a smooth face-sized picture with a little noise: PNG of a typical size
        base = np.linspace(0, 255, 112, dtype=np.float32)
        img = (base[None, :, None] * 0.5 + base[:, None, None] * 0.3 + (k * 7 % 255) * 0.2
               + rng.normal(0, 6, (112, 112, 3))).clip(0, 255).astype(np.uint8)
        thumbs.append(cv2.imencode(".png", img)[1].tobytes())
    tmp = path.with_suffix(".building")
    for stale in (tmp, *(Path(str(tmp) + s) for s in ("-wal", "-shm"))):
        stale.unlink(missing_ok=True)
    Gallery(tmp, fingerprint, size).close()  # the app's own schema and application id
    db = sqlite3.connect(tmp, isolation_level=None)
    db.execute("PRAGMA synchronous=OFF")
    db.execute("BEGIN")
    now = time.time()
    db.executemany("INSERT INTO people(id, name, created) VALUES (?, ?, ?)",
                   ((p + 1, f"Person {p:05d}", now) for p in range(people)))
    batch = 10_000
    for start in range(0, faces, batch):
        emb = rng.normal(size=(min(batch, faces - start), size)).astype(np.float32)
        emb /= np.linalg.norm(emb, axis=1, keepdims=True)
        db.executemany("INSERT INTO faces(person_id, embedding, model_fingerprint, thumbnail, source, created) "
                       "VALUES (?, ?, ?, ?, ?, ?)",
                       (((start + i) % people + 1, e.tobytes(), fingerprint, thumbs[(start + i) % THUMB_VARIANTS],
                         f"/photos/{start + i:06d}.jpg", now) for i, e in enumerate(emb)))
    db.execute("COMMIT")
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    tmp.rename(path)


GUI_PROBE = """
import os, resource, sys, time
start = time.perf_counter()
from PySide6.QtWidgets import QApplication
from faceid_gui.engine import FaceEngine
from faceid_gui.app.state import AppState
from faceid_gui.app.main_window import MainWindow
app = QApplication([])
engine = FaceEngine(None)
ready = time.perf_counter()
state = AppState(engine, __import__("pathlib").Path(sys.argv[1]))
window = MainWindow(state)
window.show_tab("gallery")
window.show()
for _ in range(5):
    app.processEvents()
opened = time.perf_counter()
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
import numpy as np
from faceid_gui.engine import Gallery, NewFace
info = engine.info
with Gallery(state.gallery_path, info.fingerprint, info.embedding_size) as other:  # as `faceid enroll` meanwhile
    other.enroll("Person 00001", [NewFace(np.full(info.embedding_size, info.embedding_size ** -0.5, np.float32),
                                          info.fingerprint, None, "x.jpg")])
    newest = max(f.id for f in other.faces("Person 00001"))
    t = time.perf_counter()
    state.check_gallery()  # what the 2 s poll does: every tab, the status bar and the 1:N index catch up
    for _ in range(3):
        app.processEvents()
    changed = time.perf_counter() - t
    other.forget_face(newest)
window.enroll.discard_all()
print(opened - ready, opened - start, rss, changed)
"""

INDEX_PROBE = """
import resource, sys, time
import numpy as np
from faceid_gui.engine import FaceEngine, Gallery, NewFace
engine = FaceEngine(None)
info = engine.info
with Gallery(sys.argv[1], info.fingerprint, info.embedding_size) as gallery:
    t = time.perf_counter(); index = gallery.index(); full = time.perf_counter() - t
    query = np.random.default_rng(1).normal(size=info.embedding_size).astype(np.float32)
    t = time.perf_counter(); index.nearest(query); search = time.perf_counter() - t
    with Gallery(sys.argv[1], info.fingerprint, info.embedding_size) as other:  # another faceid enrols one face
        pid = other.enroll("Person 00001", [NewFace(query / np.linalg.norm(query), info.fingerprint, None, "x.jpg")])
        newest = max(f.id for f in other.faces("Person 00001"))
    t = time.perf_counter(); after = gallery.index(); incremental = time.perf_counter() - t
    assert len(after) == len(index) + 1, (len(after), len(index))
    gallery.forget_face(newest)
    t = time.perf_counter(); removed = gallery.index(); forget = time.perf_counter() - t
    assert len(removed) == len(index)
print(full, search, incremental, forget, len(index))
"""


def measure(argv: list[str], env: dict) -> tuple[float, float, str]:
    """Wall seconds, peak RSS in MB of this one child (os.wait4's own rusage) and its stdout."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=ROOT)
    out, err = proc.stdout.read(), proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    if code not in (0, 1, 3):
        raise SystemExit(f"{' '.join(map(str, argv[1:5]))} failed ({code}): {err.decode()[-800:]}")
    return wall, usage.ru_maxrss / 1024, out.decode()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--faces", type=int, default=100_000)
    parser.add_argument("--people", type=int, default=10_000)
    parser.add_argument("--gallery", type=Path, help="default: /tmp/faceid-scale-<faces>.sqlite3 (built once)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    path = args.gallery or Path(f"/tmp/faceid-scale-{args.faces}-{args.people}.sqlite3")
    if not path.exists():
        t = time.perf_counter()
        build(path, args.faces, args.people)
        print(f"built {path} in {time.perf_counter() - t:.1f} s ({path.stat().st_size / 1e6:.0f} MB)", file=sys.stderr)
    env = dict(os.environ, PYTHONPATH=str(ROOT), QT_QPA_PLATFORM="offscreen",
               FACEID_DATA_DIR=str(path.parent / f"{path.stem}-data"))
    py, cli = sys.executable, [sys.executable, "-m", "faceid_gui", "--gallery", str(path)]
    rows = {}
    for what, argv in (("faceid people", cli + ["people"]),
                       ("faceid identify (end to end)", cli + ["identify", str(SAMPLE)])):
        wall, rss, _ = min(measure(argv, env) for _ in range(2))  # the second run's file is in the page cache
        rows[what] = (wall, rss, "best of 2 runs")
    wall, rss, out = measure([py, "-c", INDEX_PROBE, str(path)], env)
    full, search, incremental, forget, n = map(float, out.split())
    rows["1:N index built in full"] = (full, None, f"{int(n)} faces")
    rows["1:N search"] = (search, None, "one query")
    rows["index refresh after 1 enrolment"] = (incremental, None, "enrolled by another connection")
    rows["index refresh after 1 removal"] = (forget, None, "")
    wall, rss, out = measure([py, "-c", GUI_PROBE, str(path)], env)
    opened, since_start, _, changed = map(float, out.split())
    rows["window open on Gallery tab"] = (opened, rss, f"{since_start:.2f} s with Python and Qt start-up")
    rows["window catching up with 1 enrolment"] = (changed, None, "made by another faceid")
    if args.json:
        print(json.dumps({k: {"seconds": w, "peak_mb": r, "note": n} for k, (w, r, n) in rows.items()}, indent=1))
        return 0
    print(f"gallery: {args.faces:,} faces of {args.people:,} people ({path.stat().st_size / 1e6:.0f} MB)")
    print(f"{'what':36s} {'wall':>9s} {'peak RSS':>9s}  note")
    for what, (wall, rss, note) in rows.items():
        shown = f"{wall * 1000:7.1f}ms" if wall < 0.1 else f"{wall:8.2f}s"
        print(f"{what:36s} {shown:>9s} {'' if rss is None else f'{rss:6.0f} MB':>9s}  {note}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
