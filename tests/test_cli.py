import json
import shutil
import subprocess
import sys

import pytest

from .conftest import group_photo, sample


def faceid(*args, env=None):
    return subprocess.run([sys.executable, "-m", "faceid_gui", *args], capture_output=True, text=True, env=env,
                          timeout=120)


@pytest.fixture()
def gallery(tmp_path):
    return str(tmp_path / "cli-gallery.sqlite3")


def test_compare_exit_codes(tmp_path):
    same = faceid("compare", str(sample("astronaut.jpg")), str(sample("astronaut.jpg")), "--json")
    assert same.returncode == 0, same.stderr
    result = json.loads(same.stdout)
    assert result["same"] is True and result["verdict"] == "same" and result["distance"] < 0.01
    for threshold in ("1e-4", "0.5", "1.5"):
        other = faceid("compare", str(sample("astronaut.jpg")), str(sample("camera.jpg")), "--threshold", threshold,
                       "--json")
        answer = json.loads(other.stdout)
        low, high = answer["band"]
        expected = "same" if answer["distance"] < low else "different" if answer["distance"] >= high else "uncertain"
        assert answer["verdict"] == expected and low <= float(threshold) <= high
        assert other.returncode == {"same": 0, "different": 1, "uncertain": 3}[expected]
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"not an image at all")
    error = faceid("compare", str(sample("astronaut.jpg")), str(bad))
    assert error.returncode == 2 and "not an image" in error.stderr and "Traceback" not in error.stderr


def test_compare_several_faces_says_so(tmp_path):
    group = group_photo(tmp_path)
    result = faceid("compare", str(group), str(sample("astronaut.jpg")))
    assert result.returncode in (0, 1, 3)
    assert "group.png: 2 faces found, using face 1 (the one nearest the other photo)" in result.stderr


def test_embed_reports_each_input(tmp_path):
    bad = tmp_path / "empty.png"
    bad.write_bytes(b"")
    result = faceid("embed", str(sample("astronaut.jpg")), str(bad), "--json")
    assert result.returncode == 0
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(lines) == 2
    assert len(lines[0]["embedding"]) == 32 and len(lines[0]["box"]) == 4 and lines[0]["score"] > 0.9
    assert lines[1]["path"] == str(bad) and "empty" in lines[1]["error"]


def test_gallery_commands(gallery, tmp_path):
    photo = tmp_path / "astronaut copy.jpg"
    shutil.copy(sample("astronaut.jpg"), photo)
    assert faceid("--gallery", gallery, "enroll", "Eileen", str(photo)).returncode == 0
    assert faceid("--gallery", gallery, "enroll", "Camera Man", str(sample("camera.jpg"))).returncode == 0
    people = json.loads(faceid("--gallery", gallery, "people", "--json").stdout)
    assert {p["name"] for p in people} == {"Eileen", "Camera Man"}
    who = faceid("--gallery", gallery, "identify", str(sample("astronaut.jpg")), "--json")
    assert who.returncode == 0
    assert json.loads(who.stdout)["identity"] == "Eileen"
    stranger = tmp_path / "stranger.png"
    _stranger(stranger)
    nobody = faceid("--gallery", gallery, "identify", str(stranger), "--json", "--threshold", "0.01")
    assert nobody.returncode == 1 and json.loads(nobody.stdout)["identity"] == "unknown"
    assert faceid("--gallery", gallery, "forget", "Eileen").returncode == 0
    missing = faceid("--gallery", gallery, "forget", "Eileen")
    assert missing.returncode == 2 and "no one called" in missing.stderr
    people = json.loads(faceid("--gallery", gallery, "people", "--json").stdout)
    assert [p["name"] for p in people] == ["Camera Man"]


def _stranger(path):
    import cv2

    face = cv2.imread(str(sample("astronaut.jpg")))
    cv2.imwrite(str(path), cv2.flip(face, 1))


def test_compare_help_documents_the_exit_codes():
    out = " ".join(faceid("compare", "--help").stdout.split())
    assert "same (exit 0)" in out and "different (exit 1)" in out and "uncertain" in out and "exit 3" in out
    assert "exit 2" in out


def test_info_json():
    result = faceid("info", "--json")
    assert result.returncode == 0
    info = json.loads(result.stdout)
    assert info["provider"] in ("CPU", "CUDA") and info["provider_reason"]
    assert len(info["sha256"]) == 64 and info["metadata"]["embedding_size"] == 32


def test_broken_model_is_a_clear_error(tmp_path):
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"\x08\x07garbage")
    result = faceid("--model", str(broken), "info")
    assert result.returncode == 2 and "model" in result.stderr and "Traceback" not in result.stderr
