"""Retake the README screenshots (docs/*.png) from a real X window: every tab with real photos.

    tools/screenshots.sh [PHOTOS]     # starts Xvfb when there is no display, then runs this

PHOTOS is face_recognition's knn_examples folder (train/<person>/*.jpg, test/*.jpg); default
../shared/data/face-recognition-examples/examples/knn_examples. The people of train/ are enrolled into a throw-away
gallery; Compare shows obama.jpg beside obama_and_biden.jpg, Live plays a short video made from test/ photos,
Enroll holds kit_with_rose.jpg, Gallery shows the enrolled people, People has scanned the whole folder. Each
picture is read back from the X server (ImageMagick's `import`), so it is what a user sees, window decorations
aside. Rerun after a model change.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DEFAULT_PHOTOS = ROOT.parent / "shared/data/face-recognition-examples/examples/knn_examples"
SIZE = (1100, 760)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("photos", nargs="?", type=Path, default=DEFAULT_PHOTOS)
    parser.add_argument("--out", type=Path, default=ROOT / "docs")
    args = parser.parse_args()
    if not os.environ.get("DISPLAY"):
        print("screenshots: needs an X display (run tools/screenshots.sh)", file=sys.stderr)
        return 2
    if not (args.photos / "train").is_dir():
        print(f"screenshots: {args.photos} has no train/ folder of people", file=sys.stderr)
        return 2
    os.environ["QT_QPA_PLATFORM"] = "xcb"
    os.environ["FACEID_DATA_DIR"] = tempfile.mkdtemp(prefix="faceid-shots-")  # a throw-away gallery and settings
    args.out.mkdir(exist_ok=True)

    import cv2
    import numpy as np
    from PySide6.QtWidgets import QApplication

    from faceid_gui.app.main_window import MainWindow
    from faceid_gui.app.state import AppState
    from faceid_gui.engine import FaceEngine, load_image, resolve_provider
    from faceid_gui.paths import default_gallery_path

    app = QApplication([])
    engine = FaceEngine(None, prefer=resolve_provider(None))
    state = AppState(engine, default_gallery_path())
    names = {"obama": "Barack Obama", "biden": "Joe Biden", "kit_harington": "Kit Harington",
             "rose_leslie": "Rose Leslie", "alex_lacamoire": "Alex Lacamoire"}
    for folder in sorted((args.photos / "train").iterdir()):
        faces = [engine.analyze_file(p).chosen.new_face(str(p)) for p in sorted(folder.iterdir())]
        state.gallery.enroll(names.get(folder.name, folder.name.replace("_", " ").title()), faces)
    window = MainWindow(state)
    window.resize(*SIZE)
    window.move(0, 0)
    window.show()

    def shoot(name: str) -> None:
        shoot_window(window, args.out / f"{name}.png")

    test = args.photos / "test"
    window.show_tab("compare")
    window.compare.load(0, str(args.photos / "train/obama/obama.jpg"))
    window.compare.load(1, str(test / "obama_and_biden.jpg"))
    wait(state.idle)
    shoot("compare")

    window.show_tab("live")
    video = Path(os.environ["FACEID_DATA_DIR"]) / "live.avi"
    frame = cv2.cvtColor(load_image(test / "obama_and_biden.jpg"), cv2.COLOR_RGB2BGR)
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 10, (frame.shape[1], frame.shape[0]))
    for k in range(30):
        writer.write(np.roll(frame, 2 * k, axis=1))  # a slow pan: tracking, not a still
    writer.release()
    window.live.start(str(video))
    wait(window.live.frame_shown, until=lambda labels: labels and "…" not in labels)
    shoot("live")
    window.live.stop()

    window.show_tab("enroll")
    window.enroll.name.setText("Rose Leslie")
    window.enroll.enroll_files([str(test / "kit_with_rose.jpg"),
                                *map(str, sorted((args.photos / "train/rose_leslie").iterdir()))])
    wait(state.idle)
    shoot("enroll")

    window.show_tab("gallery")
    window.gallery._select("Barack Obama")
    window.gallery.faces.setCurrentRow(0)
    shoot("gallery")

    window.show_tab("people")
    window.people.scan.start(str(args.photos))  # train/ and test/: the enrolled people's photos and group photos
    wait(window.people.scan.finished, ms=60000)
    window.people.groups.setCurrentRow(0)
    wait(window.people.thumbs.ready)
    shoot("people")
    window.enroll.discard_all()  # else closing asks about the Enroll tab's unsaved faces
    window.close()
    app.processEvents()  # let the close finish before the process ends
    return 0


def wait(signal=None, ms=20000, until=None) -> None:
    """Run Qt's events until `signal` comes (with `until(*its arguments)` true, when given) or `ms` pass; without a
    signal, long enough for the window to paint."""
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    if signal is not None:
        signal.connect(lambda *a: (until is None or until(*a)) and loop.quit())
    QTimer.singleShot(ms if signal is not None else 400, loop.quit)
    loop.exec()


def shoot_window(window, out: Path) -> None:
    """The window as the X server shows it (ImageMagick's `import`), once it has painted."""
    wait()
    subprocess.run(["import", "-window", str(int(window.winId())), str(out)], check=True)
    print(f"wrote {out}")


if __name__ == "__main__":
    sys.exit(main())
