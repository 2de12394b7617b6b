"""pytest-qt, offscreen: real widgets, real engine, real gallery."""
import cv2
import numpy as np
import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent
from PySide6.QtWidgets import QMessageBox

from faceid_gui.app.main_window import AppState, MainWindow

from .conftest import sample


@pytest.fixture()
def window(qtbot, engine, tmp_path, monkeypatch):
    from PySide6.QtCore import QSettings

    QSettings.setPath(QSettings.Format.NativeFormat, QSettings.Scope.UserScope, str(tmp_path / "settings"))
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp_path / "settings"))
    state = AppState(engine, tmp_path / "gallery.sqlite3")
    win = MainWindow(state)
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


def _wait_idle(qtbot, state, timeout=20000):
    qtbot.waitUntil(lambda: not state.tasks, timeout=timeout)


def test_drop_two_photos_gives_a_verdict_and_slider_flips_it(qtbot, window):
    tab = window.compare
    with qtbot.waitSignal(tab.verdict_changed, timeout=20000, check_params_cb=lambda v: v is not None):
        _drop(tab.zones[0], sample("astronaut.jpg"))
        _drop(tab.zones[1], sample("camera.jpg"))
        qtbot.waitUntil(lambda: all(r is not None for r in tab.results), timeout=20000)
        tab.update_verdict()
    d = tab.current_distance()
    bar = tab.threshold_bar
    bar.set_value(d + 0.02)
    assert tab.verdict.text() == "Same person"
    bar.set_value(d - 0.02)
    assert tab.verdict.text() == "Not the same person"
    assert window.live.threshold_bar.value() == pytest.approx(d - 0.02, abs=0.003)  # one threshold for all tabs


def test_corrupt_file_says_so_in_the_drop_zone(qtbot, window, tmp_path):
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0 this is not really a jpeg")
    _drop(window.compare.zones[0], bad)
    _wait_idle(qtbot, window.state)
    qtbot.waitUntil(lambda: "truncated" in window.compare.zones[0].message or "damaged" in window.compare.zones[0].message)
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
    enroll.enroll_files([str(sample("astronaut.jpg")), str(tmp_path / "missing.jpg")])
    _wait_idle(qtbot, window.state)
    qtbot.waitUntil(lambda: enroll.results.count() == 2)
    assert enroll.candidates.count() == 1
    assert enroll.commit() == 1
    video = _video_of(sample("camera.jpg"), tmp_path / "cam.avi")
    enroll.name.setText("Camera Man")
    enroll.capture_from(str(video), wanted=2)
    qtbot.waitUntil(lambda: enroll.capture_worker is None, timeout=30000)
    assert enroll.candidates.count() >= 1
    enroll.commit()
    names = {p.name: p.faces for p in window.state.gallery.people()}
    assert names["Eileen"] == 1 and names["Camera Man"] >= 1
    window.state.set_threshold(window.state.engine.info.threshold)
    live_video = _video_of(sample("astronaut.jpg"), tmp_path / "live.avi")
    window.live.start(str(live_video))
    qtbot.waitUntil(lambda: bool(window.live.last_names), timeout=30000)
    assert window.live.last_names[0] == "Eileen"
    window.live.stop()
    assert window.live.worker is None


def test_missing_camera_gives_a_message_and_retry(qtbot, window, tmp_path):
    window.live.start(str(tmp_path / "no-such-camera.avi"))
    qtbot.waitUntil(lambda: window.live.start_button.text() == "Retry", timeout=10000)
    assert "could not be opened" in window.live.view.message


def test_gallery_tab_lists_and_forgets(qtbot, window, monkeypatch):
    emb = window.state.engine.analyze(cv2.cvtColor(cv2.imread(str(sample("astronaut.jpg"))), cv2.COLOR_BGR2RGB))[0]
    from faceid_gui.engine import NewFace, encode_jpeg

    window.state.gallery.enroll("Eileen", [NewFace(emb.embedding, encode_jpeg(emb.crop), "a.jpg")])
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
    window.load_model(str(broken))
    _wait_idle(qtbot, window.state)
    qtbot.waitUntil(lambda: bool(warnings))
    assert window.state.engine is before and "cannot" in warnings[0]


def test_closing_stops_every_worker(qtbot, window, tmp_path):
    window.live.start(str(_video_of(sample("astronaut.jpg"), tmp_path / "v.avi")))
    worker = window.live.worker
    qtbot.waitUntil(lambda: worker.isRunning())
    window.close()
    assert not worker.isRunning() and window.live.worker is None and not window.state.tasks
