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
