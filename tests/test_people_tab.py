"""pytest-qt, offscreen: the People tab on a real scan (real engine, real SQLite, real widgets)."""
import cv2
import pytest
from PySide6.QtWidgets import QInputDialog, QMessageBox

from . import test_gui
from .conftest import sample

window = test_gui.window  # the same window fixture as the other GUI tests


@pytest.fixture()
def photos(tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    for name in ("astronaut", "camera"):
        image = cv2.imread(str(sample(f"{name}.jpg")))
        for k in range(3):  # the same person three times, at slightly different sizes
            scale = 1 - 0.03 * k  # (at 0.9 the cameraman's face already moves 0.166 with the 80 px model)
            cv2.imwrite(str(folder / f"{name}{k}.png"), cv2.resize(image, None, fx=scale, fy=scale))
    return folder


def _scan(qtbot, tab, folder):
    with qtbot.waitSignal(tab.scan.finished, timeout=60000):
        tab.scan.start(str(folder))


def _keys(tab):
    return list(tab.entries)


def test_scan_group_name_undo_take_out_merge_and_find(qtbot, window, photos, monkeypatch):
    tab = window.people
    window.show_tab("people")
    _scan(qtbot, tab, photos)
    assert "6 photos: 6 analysed" in tab.scan.status.text() and not tab.scan.progress.isVisible()
    assert [len(faces) for faces in tab.entries.values()] == [3, 3]  # two people, three faces each
    assert tab.groups.currentRow() == 0 and tab.faces.count() == 3 and tab.buttons["name"].isEnabled()
    first = {f.path.rsplit("/", 1)[-1][:-5] for f in tab.entries[_keys(tab)[0]]}
    assert len(first) == 1  # one person per group

    monkeypatch.setattr(QInputDialog, "getItem", lambda *a, **k: ("Eileen", True))
    tab.name_group()
    assert [p.name for p in window.state.gallery.people()] == ["Eileen"]
    assert window.state.gallery.people()[0].faces == 3 and len(tab.entries) == 1
    tab.undo()
    assert window.state.gallery.people() == [] and [len(f) for f in tab.entries.values()] == [3, 3]

    tab.groups.setCurrentRow(0)
    tab.faces.item(0).setSelected(True)
    tab.take_out()
    assert sorted(len(f) for f in tab.entries.values()) == [2, 3]
    group_keys = [k for k in tab.entries if k[0] == "group"]
    tab.groups.setCurrentRow(0)
    other = [k for k in group_keys if k != tab.selected()][0]
    monkeypatch.setattr(QInputDialog, "getItem", lambda parent, title, text, labels, *a: (labels[0], True))
    tab.merge()
    assert [len(f) for f in tab.entries.values()] == [5]
    assert other not in tab.entries
    tab.undo()
    tab.undo()
    assert [len(f) for f in tab.entries.values()] == [3, 3]

    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Yes)
    tab.groups.setCurrentRow(0)
    tab.faces.item(0).setSelected(True)
    tab.ignore()
    assert sorted(len(f) for f in tab.entries.values()) == [2, 3]


def test_suggestions_for_an_enrolled_person_are_accepted_in_bulk_and_find_ranks_photos(qtbot, window, photos,
                                                                                       monkeypatch):
    tab = window.people
    astronaut = window.state.engine.analyze_file(sample("astronaut.jpg")).chosen
    window.state.gallery.enroll("Eileen", [astronaut.new_face(str(sample("astronaut.jpg")))])
    window.state.gallery_changed.emit()
    _scan(qtbot, tab, photos)
    assert ("suggestion", "Eileen") in tab.entries and len(tab.entries[("suggestion", "Eileen")]) == 3
    assert [len(faces) for faces in tab.entries.values()] == [3, 3]  # her faces are not shown again as a group
    assert "1 group · 0 faces in no group · 1 suggestion" in tab.overview.text()
    tab.groups.setCurrentRow(_keys(tab).index(("suggestion", "Eileen")))
    tab.reject()  # "not Eileen": her faces are back in their group
    assert [k[0] for k in tab.entries] == ["group", "group"] and [len(f) for f in tab.entries.values()] == [3, 3]
    tab.undo()
    assert ("suggestion", "Eileen") in tab.entries and len(tab.entries) == 2
    tab.groups.setCurrentRow(_keys(tab).index(("suggestion", "Eileen")))
    assert tab.buttons["accept"].isEnabled() and not tab.buttons["name"].isEnabled()
    asked = []  # astronaut0.png is the enrolled photo again: the enrolment checks ask first (answered Yes)
    monkeypatch.setattr(QMessageBox, "question",
                        lambda parent, title, text, *a: asked.append(text) or QMessageBox.StandardButton.Yes)
    tab.accept()
    assert len(asked) == 1 and "astronaut0.png: is a photo already enrolled for Eileen" in asked[0]
    assert ("suggestion", "Eileen") not in tab.entries
    assert window.state.gallery.people()[0].faces == 4
    tab.find.who.setCurrentText("Eileen")
    tab.find.find()
    assert tab.find.results.count() >= 3
    assert " same " in tab.find.results.item(0).text()
    assert "Eileen: 3 photos same" in tab.find.summary.text() or "Eileen:" in tab.find.summary.text()


def test_the_gallery_reembeds_faces_of_another_model(qtbot, window):
    import numpy as np

    from faceid_gui.engine import Gallery, NewFace

    made = window.state.engine.analyze_file(sample("astronaut.jpg")).chosen.new_face(str(sample("astronaut.jpg")))
    with Gallery(window.state.gallery_path, "old-model", 32) as old:
        old.enroll("Eileen", [NewFace(np.ones(32, np.float32), "old-model", made.thumbnail, made.source)])
    window.state.gallery_changed.emit()
    tab = window.gallery
    assert tab.reembed_button.isEnabled() and "Re-embed" in tab.notice.text()
    with qtbot.waitSignal(window.state.idle, timeout=20000):
        tab.reembed_button.click()
    assert window.state.gallery.stale_count() == 0 and "1 from their photos" in tab.notice.text()
    assert not tab.reembed_button.isEnabled()


def test_an_unusable_library_is_said_on_the_tab_and_the_app_still_starts(qtbot, engine, tmp_path):
    import sqlite3

    from faceid_gui.app.main_window import MainWindow
    from faceid_gui.app.state import AppState
    from faceid_gui.engine.library import library_path

    with sqlite3.connect(library_path(tmp_path / "g.sqlite3")) as db:
        db.execute("CREATE TABLE other (x)")
    win = MainWindow(AppState(engine, tmp_path / "g.sqlite3"))
    qtbot.addWidget(win)
    assert "not a faceid photo library" in win.people.overview.text()
    assert not win.people.scan.scan_button.isEnabled() and not win.people.buttons["name"].isEnabled()
    win.shutdown()


def test_counts_read_as_words():
    from faceid_gui.engine import plural

    assert [plural(1, "face"), plural(0, "group"), plural(2, "person", "people")] == ["1 face", "0 groups", "2 people"]
    assert plural(1024, "face") == "1,024 faces"  # as the photo count beside it on the People tab
