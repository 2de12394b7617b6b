"""Process-level guarantees: no ONNX Runtime telemetry files, and no reference leak in Qt's bindings."""
import os
import subprocess
import sys

import pytest

from .conftest import sample


def _files_under(root):
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


@pytest.mark.parametrize("code", [
    # the CLI path: a real detector and embedder session on a real photo
    None,
    # the trainer package alone must also switch telemetry off before onnxruntime loads
    "import trainer, onnxruntime as ort; ort.InferenceSession(sys.argv[1], providers=['CPUExecutionProvider'])",
])
def test_no_onnxruntime_telemetry_files(tmp_path, code):
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "ORT_DISABLE_TELEMETRY"}
    env.update(HOME=str(home), XDG_CACHE_HOME=str(home / ".cache"))
    if code is None:
        args = [sys.executable, "-m", "faceid_gui", "embed", str(sample("astronaut.jpg"))]
    else:
        from faceid_gui.paths import assets_dir

        args = [sys.executable, "-c", "import sys; " + code, str(assets_dir() / "faceid_embedder.onnx")]
    done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert _files_under(home) == []


def test_void_qt_calls_do_not_leak_none(qtbot):
    """PySide6 6.12.0 on CPython 3.11 dropped one reference to None per void call until the interpreter aborted."""
    from PySide6.QtWidgets import QLabel, QSlider

    label, slider = QLabel(), QSlider()
    qtbot.addWidget(label)
    qtbot.addWidget(slider)
    calls = 20_000
    before = sys.getrefcount(None)
    for k in range(calls):
        label.setText("x")
        label.update()
        slider.setValue(k % 50)
    drift = sys.getrefcount(None) - before
    # None is not immortal on 3.11, so each leaked reference shows; allow a little unrelated churn.
    assert abs(drift) < calls // 100, f"None reference count moved by {drift} over {calls} calls"
