"""pytest-qt, offscreen: real widgets, real engine, real gallery."""
import cv2
import numpy as np
import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent
from PySide6.QtWidgets import QMessageBox

from faceid_gui.app.main_window import MainWindow
from faceid_gui.app.state import AppState

from .conftest import group_photo, sample


@pytest.fixture()
def window(qtbot, engine, tmp_path, monkeypatch):
    from PySide6.QtCore import QSettings

    QSettings.setPath(QSettings.Format.NativeFormat, QSettings.Scope.UserScope, str(tmp_path / "settings"))
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp_path / "settings"))
    state = AppState(engine, tmp_path / "gallery.sqlite3")
    win = MainWindow(state)
    # pytest-qt closes the window before this fixture ends: closing would ask about unsaved faces on the Enroll tab
    monkeypatch.setattr("faceid_gui.app.main_window.ask", lambda *args: True)
    qtbot.addWidget(win)
    win.show()
    yield win
    win.shutdown()


def _drop(widget, path):
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    event = QDropEvent(QPointF(10, 10), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                       Qt.KeyboardModifier.NoModifier)
    widget.dropEvent(event)


def test_drop_two_photos_gives_a_verdict_and_slider_flips_it(qtbot, window):
    tab = window.compare
    with qtbot.waitSignal(tab.verdict_changed, timeout=20000, check_params_cb=lambda v: v is not None):
        _drop(tab.zones[0], sample("astronaut.jpg"))
        _drop(tab.zones[1], sample("camera.jpg"))
    d = tab.current_distance()
    bar = tab.threshold_bar
    bar.set_value(d + 0.02)
    lenient = tab.verdict.text()
    assert lenient == "Same person" or lenient == "Uncertain: too close to call (closer to same)"
    bar.set_value(d - 0.02)
    strict = tab.verdict.text()
    assert strict == "Different people" or strict == "Uncertain: too close to call (closer to different)"
    assert window.live.threshold_bar.value() == pytest.approx(d - 0.02, abs=0.003)  # one threshold for all tabs
    band = window.state.band()  # the headline agrees with the engine's verdict at the current band
    assert (strict == "Different people") == (d >= band.different_from)
    assert "strangers" in tab.detail.text() or "one person" in tab.detail.text()


def test_corrupt_file_says_so_in_the_drop_zone(qtbot, window, tmp_path):
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0 this is not really a jpeg")
    with qtbot.waitSignal(window.state.idle, timeout=20000):
        window.compare.load(0, str(bad))
    assert "truncated" in window.compare.zones[0].message or "damaged" in window.compare.zones[0].message
    assert window.compare.results[0] is None


def _video_of(path, out, frames=12):
    image = cv2.imread(str(path))
    h, w = image.shape[:2]
    writer = cv2.VideoWriter(str(out), cv2.VideoWriter_fourcc(*"MJPG"), 10, (w, h))
    assert writer.isOpened()
    for k in range(frames):
        writer.write(np.clip(image.astype(int) + (k % 3) * 5, 0, 255).astype(np.uint8))
    writer.release()
    return out


def test_enroll_from_files_and_from_video_then_live_recognises(qtbot, window, tmp_path):
    enroll = window.enroll
    enroll.name.setText("Eileen")
    enroll.results.clear()  # the camera line ("No camera found (why)…" on a machine without one)
    with qtbot.waitSignal(window.state.idle, timeout=20000):
        enroll.enroll_files([str(sample("astronaut.jpg")), str(tmp_path / "missing.jpg")])
    assert enroll.results.count() == 2 and enroll.candidates.count() == 1
    assert enroll.commit() == 1
    video = _video_of(sample("camera.jpg"), tmp_path / "cam.avi")
    enroll.name.setText("Camera Man")
    with qtbot.waitSignal(enroll.capture_finished, timeout=30000) as kept:
        enroll.capture_from(str(video), wanted=2)
    assert kept.args[0] >= 1 and enroll.candidates.count() == kept.args[0] and enroll.capture_worker is None
    enroll.commit()
    names = {p.name: p.faces for p in window.state.gallery.people()}
    assert names["Eileen"] == 1 and names["Camera Man"] >= 1
    window.state.set_threshold(window.state.engine.info.threshold)
    live_video = _video_of(sample("astronaut.jpg"), tmp_path / "live.avi")
    with qtbot.waitSignal(window.live.frame_shown, timeout=30000, check_params_cb=lambda n: n == ["Eileen"]):
        window.live.start(str(live_video))  # "…" until the same answer held for a few frames, then the name
    with qtbot.waitSignal(window.live.stopped, timeout=1000):
        window.live.stop()
    assert window.live.worker is None


def test_missing_camera_gives_a_message_and_retry(qtbot, window, tmp_path):
    with qtbot.waitSignal(window.live.stopped, timeout=10000):
        window.live.start(str(tmp_path / "no-such-camera.avi"))
    assert window.live.start_button.text() == "Retry" and "could not be opened" in window.live.view.message


def test_gallery_tab_lists_and_forgets(qtbot, window, monkeypatch):
    emb = window.state.engine.analyze(cv2.cvtColor(cv2.imread(str(sample("astronaut.jpg"))), cv2.COLOR_BGR2RGB))[0]
    window.state.gallery.enroll("Eileen", [emb.new_face("a.jpg")])
    window.state.gallery_changed.emit()
    assert window.gallery.people.count() == 1
    window.gallery.people.setCurrentRow(0)
    assert window.gallery.faces.count() == 1
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Yes)
    window.gallery.forget()
    assert window.gallery.people.count() == 0
    assert "0 people" in window.gallery_label.text()


def test_loading_a_broken_model_keeps_the_current_one(qtbot, window, tmp_path, monkeypatch):
    warnings = []
    monkeypatch.setattr(QMessageBox, "warning", lambda *a, **k: warnings.append(a[2]))
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"nope")
    before = window.state.engine
    with qtbot.waitSignal(window.state.idle, timeout=20000):
        window.load_model(str(broken))
    assert window.state.engine is before and len(warnings) == 1 and "cannot" in warnings[0]


def test_closing_stops_every_worker(qtbot, window, tmp_path):
    with qtbot.waitSignal(window.live.frame_shown, timeout=30000):
        window.live.start(str(_video_of(sample("astronaut.jpg"), tmp_path / "v.avi")))
    worker = window.live.worker
    window.close()
    assert not worker.isRunning() and window.live.worker is None and not window.state.tasks


def test_locked_gallery_on_save_is_a_message_not_a_stall(window, qtbot, monkeypatch):
    import sqlite3
    import time

    from faceid_gui.engine import NewFace

    warnings = []
    monkeypatch.setattr(QMessageBox, "warning", lambda *a, **k: warnings.append(a[2]))
    enroll = window.enroll
    enroll.name.setText("Ann")
    enroll._add_candidate(NewFace(np.full(32, 0.1, np.float32), window.state.engine.info.fingerprint))
    other = sqlite3.connect(window.state.gallery_path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        start = time.monotonic()
        assert enroll.commit() == 0
        assert time.monotonic() - start < 2  # the GUI thread waited well under the old 10 s
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert warnings and "busy" in warnings[0]
    assert enroll.save.isEnabled() and enroll.commit() == 1  # the candidate was kept: saving again works


def test_unexpected_exception_becomes_a_dialog_naming_the_log(monkeypatch, private_data_dir):
    import sys

    from faceid_gui.app.main import install_excepthook

    shown = []
    monkeypatch.setattr(QMessageBox, "warning", lambda *a, **k: shown.append(a[2]))
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)  # restored after the test
    install_excepthook()
    try:
        raise RuntimeError("slot blew up")
    except RuntimeError:
        sys.excepthook(*sys.exc_info())
    assert len(shown) == 1 and "slot blew up" in shown[0] and str(private_data_dir / "faceid-errors.log") in shown[0]


def test_damaged_gallery_at_start_is_a_dialog(tmp_path, monkeypatch, qapp):
    import argparse

    from faceid_gui.app.main import run_gui

    gallery = tmp_path / "g.sqlite3"
    gallery.write_bytes(b"SQLite format 3\x00" + b"\xff" * 5000)
    shown = []
    monkeypatch.setattr(QMessageBox, "critical", lambda *a, **k: shown.append(a[2]))
    args = argparse.Namespace(model=None, provider="auto", gallery=gallery, screenshot=None, tab="compare",
                              compare=None, video=None)
    assert run_gui(args) == 2
    assert shown and "cannot start" in shown[0]


def test_settings_follow_faceid_data_dir(private_data_dir):
    from faceid_gui.app.state import app_settings

    assert app_settings().fileName() == str(private_data_dir / "faceid.conf")


def test_nan_threshold_in_settings_falls_back_to_the_models(engine, tmp_path):
    from faceid_gui.app.state import AppState, app_settings

    app_settings().setValue(f"threshold/{engine.info.fingerprint}", "nan")
    assert AppState(engine, tmp_path / "g.sqlite3").threshold == engine.info.threshold


def test_ctrl_c_closes_the_gui(tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time

    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", FACEID_DATA_DIR=str(tmp_path / "data"))
    app = subprocess.Popen([sys.executable, "-m", "faceid_gui"], env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while not (tmp_path / "data" / "gallery.sqlite3").exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(1.5)  # the window is up once the gallery exists; give the event loop a moment
    app.send_signal(signal.SIGINT)
    try:
        code = app.wait(timeout=15)
    finally:
        app.kill()
    assert code == 0 and b"Traceback" not in app.stderr.read()
    assert (tmp_path / "data" / "faceid.conf").exists()  # closed like Quit: geometry saved


def _another_model(tmp_path):
    """The shipped network under another fingerprint (its threshold edited): a model switch in miniature. The
    threshold is made a little stricter, so the model-check's sample faces still come out as its metadata says (a
    looser one moves the "different" edge beyond the two sample people, and the model is refused)."""
    import onnx

    from faceid_gui.paths import assets_dir

    model = onnx.load(str(assets_dir() / "faceid_embedder.onnx"))
    for prop in model.metadata_props:
        if prop.key == "faceid.threshold":
            prop.value = repr(round(float(prop.value) * 0.9, 4))
    path = tmp_path / "other.onnx"
    onnx.save(model, str(path))
    return path


def test_switching_the_model_drops_the_enroll_tabs_unsaved_faces(qtbot, window, tmp_path, monkeypatch):
    """Issue 12's defect: faces embedded by the old model were saved under the new model's fingerprint."""
    enroll = window.enroll
    with qtbot.waitSignal(window.state.idle, timeout=20000):
        enroll.enroll_files([str(sample("astronaut.jpg"))])
    old_face = enroll.pending[0]
    assert enroll.candidates.count() == 1 and enroll.save.isEnabled()
    with qtbot.waitSignal(window.state.engine_changed, timeout=20000):
        window.load_model(str(_another_model(tmp_path)))
    assert window.state.engine.info.fingerprint != old_face.model_fingerprint
    assert enroll.candidates.count() == 0 and enroll.pending == [] and not enroll.save.isEnabled()
    assert "model changed" in enroll.results.item(enroll.results.count() - 1).text()
    enroll._add_candidate(old_face)  # a late result of analysis started under the old model
    assert enroll.candidates.count() == 0
    monkeypatch.setattr(QMessageBox, "warning", lambda *a, **k: None)
    with pytest.raises(Exception, match="another model"):
        window.state.gallery.enroll("Eileen", [old_face])  # and the gallery itself refuses it
    assert window.state.gallery.face_count() == 0


def test_a_model_loaded_later_runs_on_the_device_chosen_at_start(engine, tmp_path, qtbot):
    state = AppState(engine, tmp_path / "g.sqlite3", provider="cpu")
    reloaded = state.load_engine(_another_model(tmp_path))
    assert reloaded.provider.reason == "CPU requested"
    state.gallery.close()


# -- issue 13 ---------------------------------------------------------------------------------------------------
def _no_face_photo(tmp_path):
    path = tmp_path / "wall.png"
    cv2.imwrite(str(path), np.random.default_rng(0).integers(100, 140, (240, 320, 3), dtype=np.uint8))
    return path


def test_a_photo_without_a_face_is_shown_and_the_headline_names_the_side(qtbot, window, tmp_path):
    tab = window.compare
    with qtbot.waitSignal(window.state.idle, timeout=20000):
        tab.load(0, str(sample("astronaut.jpg")))
        tab.load(1, str(_no_face_photo(tmp_path)))
    assert tab.zones[1].image is not None and tab.results[1].faces == []
    assert tab.verdict.text() == "Photo B: no face found" and "No face" in tab.zones[1].message


def test_a_big_photos_faces_are_drawn_on_its_reduced_image(qtbot, window, astronaut, tmp_path):
    from .test_photo import _big_photo

    tab = window.compare
    with qtbot.waitSignal(window.state.idle, timeout=20000):
        tab.load(0, str(_big_photo(astronaut, tmp_path)))
    zone, result = tab.zones[0], tab.results[0]
    (box, _, _), = zone.boxes
    h, w = result.image.shape[:2]
    assert w == zone.image.width() == 1000 and 0 <= box[0] < box[2] <= w and 0 <= box[1] < box[3] <= h
    assert np.allclose(box, result.faces[0].face.box * 0.25)


def test_the_face_most_like_the_other_photo_is_preselected_and_can_be_changed(qtbot, window, tmp_path):
    from faceid_gui.engine.pipeline import best_pair

    tab = window.compare
    with qtbot.waitSignal(window.state.idle, timeout=20000):
        tab.load(0, str(sample("camera.jpg")))
        tab.load(1, str(group_photo(tmp_path)))
    expected = best_pair(*tab.results)[1]
    assert tab.selected[1] == expected and "the one most like Photo A" in tab.zones[1].message
    with qtbot.waitSignal(tab.verdict_changed):
        tab.select_face(1, 1 - expected, by_user=True)
    assert tab.selected[1] == 1 - expected and "you chose it" in tab.zones[1].message


def test_paste_takes_image_data_and_refuses_a_link_without_a_path(qtbot, window):
    from PySide6.QtGui import QImage

    zone = window.compare.zones[0]
    link = QMimeData()
    link.setUrls([QUrl("https://example.com/photo.jpg")])  # used to raise IndexError
    assert zone.paste(link) is False
    data = QMimeData()
    data.setImageData(QImage(str(sample("astronaut.jpg"))))
    with qtbot.waitSignal(window.state.idle, timeout=20000):
        assert zone.paste(data) is True
    assert window.compare.results[0] is not None and len(window.compare.results[0].faces) == 1


def test_drop_zones_are_reached_with_tab_and_open_in_the_last_folder(qtbot, window, monkeypatch, tmp_path):
    from PySide6.QtWidgets import QFileDialog

    asked = []
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: asked.append(a[2]) or ("", ""))
    tab = window.compare
    from pathlib import Path

    assert window.state.open_folder("photos") in (str(Path.home()), str(Path.home() / "Pictures"))  # not the cwd
    (tmp_path / "holiday").mkdir()
    window.state.remember_folder("photos", str(tmp_path / "holiday" / "a.jpg"))
    tab.zones[0].setFocus()
    qtbot.keyClick(tab.zones[0], Qt.Key.Key_Tab)
    assert window.focusWidget() is tab.open_buttons[0]
    qtbot.keyClick(tab.zones[0], Qt.Key.Key_Return)
    tab.open_buttons[1].click()
    assert asked == [str(tmp_path / "holiday")] * 2


def test_the_slider_covers_the_useful_range_with_the_default_marked(window):
    bar = window.compare.threshold_bar
    low, high = window.state.engine.info.useful_range()
    assert (bar.minimum, bar.maximum) == (low, high) and 0 < bar.slider.mark < bar.STEPS
    assert "AUC" not in bar.meaning.text() and "pairs of strangers" in bar.meaning.text()


def test_live_names_its_source_and_shows_no_rate_before_start(qtbot, window, tmp_path):
    assert "frames/s" not in window.live.status.text() and "Stopped" in window.live.status.text()
    with qtbot.waitSignal(window.live.frame_shown, timeout=30000):
        window.live.start(str(_video_of(sample("astronaut.jpg"), tmp_path / "clip.avi")))
    assert "clip.avi" in window.live.status.text()
    window.live.stop()
    assert "Stopped" in window.live.status.text()


def test_enrolling_a_group_photo_offers_each_face_and_warns_about_a_stranger(qtbot, window, tmp_path, monkeypatch):
    asked = []
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: asked.append(a[2]) or QMessageBox.StandardButton.No)
    window.state.set_threshold(window.state.engine.info.threshold)
    enroll = window.enroll
    enroll.results.clear()
    with qtbot.waitSignal(window.state.idle, timeout=20000):
        enroll.enroll_files([str(group_photo(tmp_path))])
    with qtbot.waitSignal(window.state.idle, timeout=20000):
        enroll.enroll_files([str(group_photo(tmp_path))])  # the same file again: said once, not analysed again
    checks = [enroll.candidates.item(i).checkState() for i in range(enroll.candidates.count())]
    assert checks == [Qt.CheckState.Checked, Qt.CheckState.Unchecked]
    assert [enroll.results.item(i).text().startswith("✔") for i in range(enroll.results.count())] == [True, False]
    enroll.name.setText("Eileen")
    enroll.candidates.item(1).setCheckState(Qt.CheckState.Checked)  # both faces of the photo under one name
    band = window.state.band()
    apart = np.linalg.norm(enroll.pending[0].embedding - enroll.pending[1].embedding)
    saved = enroll.commit()
    if apart >= band.different_from:  # the model tells them apart: the user is asked, and No saves nothing
        assert saved == 0 and asked and "Eileen" in asked[0] and window.state.gallery.face_count() == 0
        enroll.candidates.item(1).setCheckState(Qt.CheckState.Unchecked)
        saved = enroll.commit()
    assert saved >= 1 and enroll.name.text() == ""  # the name is cleared for the next person


def test_ctrl_e_adds_photos_while_typing_the_name(qtbot, window, monkeypatch):
    from PySide6.QtWidgets import QFileDialog

    opened = []
    monkeypatch.setattr(QFileDialog, "getOpenFileNames", lambda *a, **k: opened.append(1) or ([], ""))
    window.show_tab("enroll")
    window.enroll.name.setFocus()
    qtbot.keyClick(window.enroll.name, Qt.Key.Key_E, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: opened == [1])  # by the line edit's filter, or the button's (animated) shortcut


def test_gallery_merges_on_rename_undoes_forgets_and_disables_what_does_not_apply(qtbot, window, monkeypatch):
    from PySide6.QtWidgets import QInputDialog

    gallery = window.gallery
    assert not gallery.rename_button.isEnabled() and not gallery.remove_button.isEnabled()
    face = window.state.engine.analyze(cv2.cvtColor(cv2.imread(str(sample("astronaut.jpg"))), cv2.COLOR_BGR2RGB))[0]
    window.state.gallery.enroll("Padme", [face.new_face("a.jpg")])
    window.state.gallery.enroll("Padmé", [face.new_face("b.jpg"), face.new_face("c.jpg")])
    window.state.gallery_changed.emit()
    assert gallery.notice.text().startswith("2 people") and "1 photo" in gallery.people.row_text(0)
    questions = []
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: questions.append(a[4:]) or QMessageBox.StandardButton.Yes)
    monkeypatch.setattr(QInputDialog, "getText", lambda *a, **k: ("padmé", True))
    gallery._select("Padme")
    gallery.rename()
    assert [(p.name, p.faces) for p in window.state.gallery.people()] == [("Padmé", 3)]
    assert questions and questions[0][-1] == QMessageBox.StandardButton.No  # destructive: the default is No
    gallery.forget()
    assert window.state.gallery.people() == [] and gallery.undo_button.isEnabled()
    gallery.undo()
    assert [(p.name, p.faces) for p in window.state.gallery.people()] == [("Padmé", 3)]
    gallery.faces.setCurrentRow(0)
    assert gallery.remove_button.isEnabled() and not gallery.drop_stale_button.isEnabled()
    assert "1 person, 3 faces" in window.gallery_label.text()
    gallery.undo()  # the merge, split again: Padme gets back her one photo
    assert [(p.name, p.faces) for p in window.state.gallery.people()] == [("Padme", 1), ("Padmé", 2)]
    monkeypatch.setattr(QInputDialog, "getText", lambda *a, **k: ("Amidala", True))
    gallery._select("Padme")
    gallery.rename()
    assert "Rename Amidala back to Padme" in gallery.undo_button.toolTip()
    gallery.undo()
    assert [p.name for p in window.state.gallery.people()] == ["Padme", "Padmé"]


def test_changes_made_by_another_faceid_are_seen(qtbot, window):
    from faceid_gui.engine import Gallery

    face = window.state.engine.analyze(cv2.cvtColor(cv2.imread(str(sample("astronaut.jpg"))), cv2.COLOR_BGR2RGB))[0]
    window.state.gallery.enroll("Eileen", [face.new_face("a.jpg")])
    window.state.gallery_changed.emit()
    assert not window.state.check_gallery()  # nothing new since its own write
    info = window.state.engine.info
    with Gallery(window.state.gallery_path, info.fingerprint, info.embedding_size) as other:  # as `faceid rename`
        other.rename("Eileen", "Eileen Collins")
    with qtbot.waitSignal(window.state.gallery_changed, timeout=5000):
        pass  # the poll notices within GALLERY_POLL_MS
    assert window.gallery.people.row_value(0) == "Eileen Collins"
    assert window.gallery.faces.count() == 1


def test_quitting_with_unsaved_faces_asks_first(qtbot, window, monkeypatch):
    face = window.state.engine.analyze(cv2.cvtColor(cv2.imread(str(sample("astronaut.jpg"))), cv2.COLOR_BGR2RGB))[0]
    window.enroll._add_candidate(face.new_face("a.jpg"))
    window.enroll._add_candidate(face.new_face("b.jpg"))
    asked = []
    monkeypatch.setattr("faceid_gui.app.main_window.ask", lambda parent, title, text: asked.append(text) or False)
    window.close()
    assert window.isVisible() and "2 faces on the Enroll tab are not saved" in asked[0]
    window.enroll.candidates.setCurrentRow(0)
    window.enroll.candidates.item(0).setSelected(True)
    window.enroll.candidates.actions()[0].trigger()  # Delete / context menu "Remove"
    assert window.enroll.unsaved() == 1
    window.enroll.clear.click()
    assert window.enroll.unsaved() == 0 and not window.enroll.save.isEnabled()


def test_a_pasted_text_path_opens_the_photo(qtbot, window, monkeypatch):
    mime = QMimeData()
    mime.setText(f"'{sample('astronaut.jpg')}'\n")
    with qtbot.waitSignal(window.compare.zones[0].file_chosen, timeout=2000) as chosen:
        assert window.compare.zones[0].paste(mime)
    assert chosen.args == [str(sample("astronaut.jpg"))]
    said = []
    monkeypatch.setattr(QMessageBox, "information", lambda *a, **k: said.append(a[2]))
    from PySide6.QtGui import QGuiApplication

    QGuiApplication.clipboard().setText("not a path at all")
    window.paste()
    QGuiApplication.clipboard().clear()
    assert said and "not a photo or the path of one" in said[0]


def test_live_pauses_while_another_tab_is_shown(qtbot, window, tmp_path):
    video = _video_of(sample("astronaut.jpg"), tmp_path / "live.avi")
    window.show_tab("live")
    with qtbot.waitSignal(window.live.frame_shown, timeout=30000):
        window.live.start(str(video))
    window.show_tab("compare")
    assert window.live.worker.paused and "paused" in window.live.status.text()
    window.show_tab("live")
    assert not window.live.worker.paused
    with qtbot.waitSignal(window.live.frame_shown, timeout=30000):
        pass
    window.live.stop()


def test_about_names_the_model_its_figures_and_the_licences(window):
    from faceid_gui.app.about import about_html

    text = about_html(window.state.engine.info, window.state.engine.provider)
    assert "ROC AUC 0.9" in text and "CelebA" in text and "/root/" not in text
    for part in ("MTCNN", "Qt ", "ONNX Runtime", "OpenCV", "LGPL"):
        assert part in text
    assert f"({window.state.engine.provider.reason})" in window.provider_label.text()


def test_at_800x600_the_status_bar_and_photos_keep_their_room(qtbot, window):
    window.resize(800, 600)
    qtbot.waitUntil(lambda: window.width() <= 800)
    assert window.model_label.isVisible() and window.model_label.width() >= window.model_label.minimumSizeHint().width()
    assert window.compare.zones[0].height() >= 150
    assert window.minimumSizeHint().width() <= 800 and window.minimumSizeHint().height() <= 600


def test_a_window_saved_larger_than_the_screen_comes_back_on_it(qtbot, window):
    """Geometry saved at a smaller scale factor (or on a bigger screen) is shrunk onto this screen."""
    room = window.screen().availableGeometry()
    window.resize(room.width() * 2, room.height() * 2)
    window.move(room.width(), room.height())
    window.state.settings.setValue("window/geometry", window.saveGeometry())
    again = MainWindow(window.state)
    qtbot.addWidget(again)
    assert again.width() <= room.width() and again.height() <= room.height()
    assert room.intersects(again.frameGeometry())


def test_a_group_photo_checks_the_face_of_the_enrolled_person_named(qtbot, window, tmp_path):
    camera = window.state.engine.analyze(cv2.cvtColor(cv2.imread(str(sample("camera.jpg"))), cv2.COLOR_BGR2RGB))[0]
    window.state.gallery.enroll("Cameraman", [camera.new_face("camera.jpg")])
    enroll = window.enroll
    enroll.name.setText("Cameraman")
    with qtbot.waitSignal(window.state.idle, timeout=20000):
        enroll.enroll_files([str(group_photo(tmp_path))])
    checks = [enroll.candidates.item(i).checkState() for i in range(enroll.candidates.count())]
    assert checks == [Qt.CheckState.Unchecked, Qt.CheckState.Checked]  # the smaller face, the one enrolled
    assert "the one most like Cameraman checked" in enroll.results.item(enroll.results.count() - 1).text()


def test_a_group_photo_for_a_new_name_checks_the_face_that_is_nobody_yet(qtbot, window, tmp_path):
    face = window.state.engine.analyze(cv2.cvtColor(cv2.imread(str(sample("astronaut.jpg"))), cv2.COLOR_BGR2RGB))[0]
    window.state.gallery.enroll("Eileen", [face.new_face("a.jpg")])  # the group photo's largest face
    window.state.set_threshold(window.state.engine.info.threshold)
    enroll = window.enroll
    enroll.name.setText("Camera Man")
    with qtbot.waitSignal(window.state.idle, timeout=20000):
        enroll.enroll_files([str(group_photo(tmp_path))])
    checks = [enroll.candidates.item(i).checkState() for i in range(enroll.candidates.count())]
    assert checks == [Qt.CheckState.Unchecked, Qt.CheckState.Checked]
    assert "the largest not enrolled as someone else" in enroll.results.item(enroll.results.count() - 1).text()


def test_compare_and_video_named_on_the_command_line_are_opened(qtbot, window, tmp_path):
    import argparse

    from faceid_gui.app.main import open_named_files, opening_tab

    video = _video_of(sample("camera.jpg"), tmp_path / "cam.avi")
    args = argparse.Namespace(tab=None, compare=[sample("astronaut.jpg"), sample("camera.jpg")], video=None,
                              screenshot=None)
    assert opening_tab(args) == "compare"
    with qtbot.waitSignal(window.compare.verdict_changed, timeout=20000, check_params_cb=lambda v: v is not None):
        open_named_files(window, args)
    args = argparse.Namespace(tab=None, compare=None, video=str(video), screenshot=None)
    assert opening_tab(args) == "live"
    window.show_tab("live")
    with qtbot.waitSignal(window.live.frame_shown, timeout=30000):
        open_named_files(window, args)
    window.live.stop()


def test_open_source_photo_without_a_viewer_says_so(qtbot, window, monkeypatch):
    from PySide6.QtGui import QDesktopServices

    face = window.state.engine.analyze(cv2.cvtColor(cv2.imread(str(sample("astronaut.jpg"))), cv2.COLOR_BGR2RGB))[0]
    window.state.gallery.enroll("Eileen", [face.new_face(str(sample("astronaut.jpg")))])
    window.state.gallery_changed.emit()
    window.gallery.faces.setCurrentRow(0)
    monkeypatch.setattr(QDesktopServices, "openUrl", lambda url: False)
    said = []
    monkeypatch.setattr(QMessageBox, "information", lambda *a, **k: said.append(a[2]))
    window.gallery.open_source()
    assert said and "No program to show pictures" in said[0] and str(sample("astronaut.jpg")) in said[0]
