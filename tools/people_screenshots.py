"""The People tab's README pictures (docs/people_*.png) from a real X window: a scan under way, the group grid, a
group just named, and "where is this person?".

    DISPLAY=:99 python tools/people_screenshots.py ../shared/data/celeba-subset [--photos 1500]

The first --photos photos of the folder (img_celeba/ inside it, when there) are linked into a throw-away folder and
scanned into a throw-away gallery. The group of 8 faces or more that is most nearly one CelebA identity is then named
after that identity (the grid itself is shown as it comes, largest group first), and found again.
"""
from __future__ import annotations

import argparse
import collections
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SIZE = (1100, 760)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--photos", type=int, default=1500)
    parser.add_argument("--out", type=Path, default=ROOT / "docs")
    args = parser.parse_args()
    if not os.environ.get("DISPLAY"):
        print("people_screenshots: needs an X display", file=sys.stderr)
        return 2
    os.environ["QT_QPA_PLATFORM"] = "xcb"
    work = Path(tempfile.mkdtemp(prefix="faceid-people-shots-"))
    os.environ["FACEID_DATA_DIR"] = str(work / "data")
    source = args.folder / "img_celeba" if (args.folder / "img_celeba").is_dir() else args.folder
    photos = work / "My photos"
    photos.mkdir()
    for path in sorted(source.iterdir())[:args.photos]:
        (photos / path.name).symlink_to(path.resolve())
    identity = dict(line.split() for line in (args.folder / "identity_CelebA.txt").read_text().splitlines()
                    if len(line.split()) == 2)

    from PySide6.QtWidgets import QApplication, QInputDialog

    from faceid_gui.app.main_window import MainWindow
    from faceid_gui.app.state import AppState
    from faceid_gui.engine import FaceEngine, resolve_provider
    from faceid_gui.paths import default_gallery_path
    from screenshots import shoot_window, wait  # beside this script: its folder is on sys.path

    app = QApplication([])
    state = AppState(FaceEngine(None, prefer=resolve_provider(None)), default_gallery_path())
    window = MainWindow(state)
    window.resize(*SIZE)
    window.move(0, 0)
    window.show()
    tab = window.people

    def shoot(name: str) -> None:
        shoot_window(window, args.out / f"{name}.png")

    window.show_tab("people")
    tab.scan.start(str(photos))
    wait(tab.scan.signals.progress, ms=120000, until=lambda done, total, _: done >= min(total, args.photos // 4))
    shoot("people_scan")
    wait(tab.scan.finished, ms=600000)
    for _ in range(5):
        wait(tab.thumbs.ready, ms=3000)  # the faces' pictures
    shoot("people_groups")

    def purity(faces):
        counts = collections.Counter(identity.get(Path(f.path).name, "?") for f in faces)
        who, n = counts.most_common(1)[0]
        return n / len(faces), who

    groups = [k for k, faces in tab.entries.items() if k[0] == "group" and len(faces) >= 8]
    best = max(groups, key=lambda k: purity(tab.entries[k]))
    name = f"CelebA {purity(tab.entries[best])[1]}"
    tab.groups.setCurrentRow(list(tab.entries).index(best))
    QInputDialog.getItem = lambda *a, **k: (name, True)  # what the user types
    tab.name_group()
    window.show_tab("gallery")
    window.gallery._select(name)
    window.gallery.faces.setCurrentRow(0)
    shoot("people_named")
    window.show_tab("people")

    tab.find.who.setCurrentText(name)
    tab.find.find()
    for _ in range(3):
        wait(tab.thumbs.ready, ms=3000)
    shoot("people_find")
    window.close()
    app.processEvents()
    return 0


if __name__ == "__main__":
    sys.exit(main())
