import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ["FACEID_PROVIDER"] = os.environ.get("FACEID_TEST_PROVIDER", "auto")

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

from faceid_gui.paths import assets_dir  # noqa: E402

SAMPLES = assets_dir() / "samples"


@pytest.fixture(autouse=True)
def private_data_dir(tmp_path, monkeypatch):
    """Every test gets its own user data dir: no test touches the real gallery or installed model."""
    monkeypatch.setenv("FACEID_DATA_DIR", str(tmp_path / "userdata"))
    monkeypatch.delenv("FACEID_GALLERY", raising=False)
    monkeypatch.delenv("FACEID_MODEL", raising=False)
    return tmp_path / "userdata"


@pytest.fixture(scope="session")
def engine():
    from faceid_gui.engine import FaceEngine, resolve_provider

    return FaceEngine(assets_dir() / "faceid_embedder.onnx", prefer=resolve_provider(None))


@pytest.fixture(scope="session")
def astronaut():
    from faceid_gui.engine import load_image

    return load_image(SAMPLES / "astronaut.jpg")


@pytest.fixture(scope="session")
def cameraman():
    from faceid_gui.engine import load_image

    return load_image(SAMPLES / "camera.jpg")


def sample(name: str) -> Path:
    return SAMPLES / name


def group_photo(tmp_path: Path) -> Path:
    """astronaut (large) and the cameraman (smaller) side by side: two real faces in one photo."""
    import cv2
    import numpy as np

    a = cv2.imread(str(sample("astronaut.jpg")))
    b = cv2.resize(cv2.imread(str(sample("camera.jpg"))), (256, 256))
    canvas = np.full((512, 800, 3), 90, np.uint8)
    canvas[:, :512] = a
    canvas[128:384, 530:786] = b
    path = tmp_path / "group.png"
    cv2.imwrite(str(path), canvas)
    return path


@pytest.fixture(autouse=True)
def no_leaked_threads(request, monkeypatch):
    """Fail a test that leaves a thread running: a Python thread, a QThread, or a task on Qt's pool (as napari does)."""
    import sys
    import threading
    import weakref

    before = set(threading.enumerate())
    qt = sys.modules.get("PySide6.QtCore")
    started = weakref.WeakSet()
    if qt is not None:
        original = qt.QThread.start

        def start(self, *args):
            started.add(self)
            original(self, *args)

        monkeypatch.setattr(qt.QThread, "start", start)
    yield
    leaked = [t.name for t in set(threading.enumerate()) - before if t.is_alive()]
    if qt is not None:
        leaked += [type(t).__name__ for t in started if t.isRunning()]
        pool = qt.QThreadPool.globalInstance()
        if pool.activeThreadCount():
            leaked.append(f"{pool.activeThreadCount()} QThreadPool task(s)")
            pool.waitForDone(10000)  # so the next test does not inherit them
    if leaked:
        pytest.fail(f"{request.node.name} left threads running: {', '.join(leaked)}", pytrace=False)
