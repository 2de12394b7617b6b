"""Issue 19, part 1: a model file is code faceid trusts, so it is named, checked, and bounded before use."""
import shutil
import subprocess
import sys
import time

import pytest

from faceid_gui.engine import FaceEngine, ModelError
from faceid_gui.engine import model_check
from faceid_gui.paths import assets_dir

from . import hostile
from .conftest import sample

pytest.importorskip("onnx")
SHIPPED = assets_dir() / "faceid_embedder.onnx"


def faceid(*args, env=None):
    return subprocess.run([sys.executable, "-m", "faceid_gui", *map(str, args)], capture_output=True, text=True,
                          env=env, timeout=60)


def test_a_planted_model_is_refused_and_the_shipped_one_used(private_data_dir):
    (private_data_dir / "models").mkdir(parents=True)
    hostile.constant_model(private_data_dir / "models" / "faceid_embedder.onnx")
    engine = FaceEngine()
    assert engine.info.path == SHIPPED and engine.model_source == "shipped"
    assert "installed model is unusable" in engine.note and "sample-face check" in engine.note
    result = faceid("compare", sample("astronaut.jpg"), sample("camera.jpg"))
    assert result.returncode == 1 and "shipped model" in result.stderr  # "different people", said by the shipped model


def test_an_explicit_model_that_fails_is_exit_2_in_one_line(tmp_path):
    result = faceid("--model", hostile.constant_model(tmp_path / "constant.onnx"), "compare",
                    sample("astronaut.jpg"), sample("camera.jpg"))
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.count("\n") == 1 and "sample-face check" in result.stderr
    with pytest.raises(ModelError, match="sample-face check"):
        FaceEngine(hostile.random_model(tmp_path / "random.onnx"))


def test_a_model_that_is_not_the_shipped_one_is_named(private_data_dir, qtbot):
    installed = private_data_dir / "models" / "faceid_embedder.onnx"
    installed.parent.mkdir(parents=True)
    shutil.copy(SHIPPED, installed)  # the same weights: it passes the check, and is still someone else's file
    engine = FaceEngine()
    assert engine.model_source == f"installed in {installed.parent}"
    assert engine.info.sha256[:12] in engine.note and "not the shipped one" in engine.note
    assert FaceEngine(SHIPPED).note == "" and FaceEngine(SHIPPED).model_source == "shipped"

    from faceid_gui.app.main_window import MainWindow
    from faceid_gui.app.state import AppState

    window = MainWindow(AppState(engine, private_data_dir / "g.sqlite3"))
    qtbot.addWidget(window)
    label = window.model_label.text()
    assert "not the shipped model" in label and engine.info.sha256[:12] in label and str(installed.parent) in label
    window.shutdown()


@pytest.mark.parametrize("make,words", [(hostile.loop_model, "Loop"), (hostile.custom_domain_model, "evil.ops.Embed")])
def test_a_model_with_loops_or_unknown_operators_is_refused_before_it_runs(tmp_path, make, words):
    path = make(tmp_path / "m.onnx")
    start = time.monotonic()
    result = faceid("--model", path, "compare", sample("astronaut.jpg"), sample("camera.jpg"))
    assert result.returncode == 2 and words in result.stderr and result.stderr.count("\n") == 1
    assert time.monotonic() - start < 30  # it would never end if it ran (the timeout above would fire)
    info = faceid("--model", path, "info")
    assert info.returncode == 2 and words in info.stderr


def test_the_operator_allow_list_covers_every_shipped_model():
    for path in sorted(assets_dir().glob("*.onnx")):
        found, problems = model_check.operators(path)
        assert problems == [] and found <= model_check.ALLOWED_OPERATORS, path.name


def test_the_sample_check_is_time_bounded(engine, monkeypatch):
    from faceid_gui.engine.align import align_face

    fired = []
    model_check.deadline(0.01, lambda: fired.append("cancelled"))()  # cancelled at once: never fires
    model_check.deadline(0.01, lambda: fired.append("fired"))
    time.sleep(0.5)
    assert fired == ["fired"]
    # ONNX Runtime's terminate flag, raised as the deadline would raise it after CHECK_SECONDS.
    monkeypatch.setattr(model_check, "deadline", lambda seconds, action: (action(), lambda: None)[1])
    with pytest.raises(ModelError, match="did not finish"):
        model_check.check_behaviour(engine.embedder, engine.detector, assets_dir() / "samples", align_face)


def test_cuda_asked_for_without_a_usable_gpu_is_exit_2():
    from faceid_gui.engine.runtime import _cuda_driver_problem

    if _cuda_driver_problem() is None:
        pytest.skip("this machine has a usable NVIDIA GPU")
    result = faceid("--provider", "cuda", "compare", sample("astronaut.jpg"), sample("camera.jpg"))
    assert result.returncode == 2 and "CUDA" in result.stderr and result.stderr.count("\n") == 1
    assert faceid("--provider", "auto", "info").returncode == 0
