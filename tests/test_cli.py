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
    assert result["verdict"] == "same" and result["lean"] == "same" and result["distance"] < 0.01
    assert "same" not in result  # the verdict and its lean say it; a bare boolean contradicted "uncertain"
    lowest, highest = _useful_range()
    for threshold in (str(lowest), str((lowest + highest) / 2), str(highest)):
        other = faceid("compare", str(sample("astronaut.jpg")), str(sample("camera.jpg")), "--threshold", threshold,
                       "--json")
        answer = json.loads(other.stdout)
        low, high = answer["band"]
        expected = "same" if answer["distance"] < low else "different" if answer["distance"] >= high else "uncertain"
        assert answer["verdict"] == expected and low <= float(threshold) <= high
        assert other.returncode == {"same": 0, "different": 1, "uncertain": 3}[expected]
        assert answer["lean"] == ("same" if answer["distance"] < float(threshold) else "different")
        assert answer["meaning"].startswith("On people the model never saw")
    text = faceid("compare", str(sample("astronaut.jpg")), str(sample("camera.jpg")), "--threshold", threshold)
    if expected == "uncertain":
        assert f"uncertain (closer to {answer['lean']})" in text.stdout
    outside = faceid("compare", str(sample("astronaut.jpg")), str(sample("camera.jpg")), "--threshold", "5")
    assert outside.returncode == 2 and f"between {lowest:.3f} and {highest:.3f}" in outside.stderr
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
    (face,) = lines[0]["faces"]
    assert len(face["embedding"]) == 32 and len(face["box"]) == 4 and face["score"] > 0.9
    assert lines[1]["path"] == str(bad) and "empty" in lines[1]["error"]


def test_embed_gives_every_face_of_a_group_photo_with_its_box(tmp_path):
    result = faceid("embed", str(group_photo(tmp_path)))
    (line,) = [json.loads(line) for line in result.stdout.splitlines()]
    boxes = [face["box"] for face in line["faces"]]
    assert len(boxes) == 2 and boxes[0][2] > boxes[1][2] and boxes[0][0] < 512 < boxes[1][0]  # largest first


def test_gallery_commands(gallery, tmp_path, engine):
    photo = tmp_path / "astronaut copy.jpg"
    shutil.copy(sample("astronaut.jpg"), photo)
    assert faceid("--gallery", gallery, "enroll", "Eileen", str(photo)).returncode == 0
    assert faceid("--gallery", gallery, "enroll", "Camera Man", str(sample("camera.jpg"))).returncode == 0
    people = json.loads(faceid("--gallery", gallery, "people", "--json").stdout)
    assert {p["name"] for p in people} == {"Eileen", "Camera Man"}
    who = faceid("--gallery", gallery, "identify", str(sample("astronaut.jpg")), "--json")
    assert who.returncode == 0
    assert json.loads(who.stdout)["identity"] == "Eileen"
    # A stranger: someone not in a gallery of Eileen alone (a mirrored Eileen was used before, but a model that
    # embeds a face and its mirror alike rightly finds her within the strictest threshold).
    eileen_only = str(tmp_path / "eileen-only.sqlite3")
    assert faceid("--gallery", eileen_only, "enroll", "Eileen", str(photo)).returncode == 0
    strictest = repr(engine.info.useful_range()[0])  # the lowest threshold the model accepts
    nobody = faceid("--gallery", eileen_only, "identify", str(sample("camera.jpg")), "--json", "--threshold", strictest)
    assert nobody.returncode == 1 and json.loads(nobody.stdout)["identity"] == "unknown"
    assert faceid("--gallery", gallery, "forget", "Eileen").returncode == 0
    missing = faceid("--gallery", gallery, "forget", "Eileen")
    assert missing.returncode == 2 and "no one called" in missing.stderr
    people = json.loads(faceid("--gallery", gallery, "people", "--json").stdout)
    assert [p["name"] for p in people] == ["Camera Man"]


def test_enroll_applies_the_windows_checks(gallery, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    shutil.copy(sample("astronaut.jpg"), tmp_path / "eileen.jpg")
    group = group_photo(tmp_path)
    guess = faceid("--gallery", gallery, "enroll", "Eileen", str(group))
    assert guess.returncode == 2 and "--face N" in guess.stderr and "nothing enrolled" in guess.stderr
    assert faceid("--gallery", gallery, "enroll", "Eileen", "eileen.jpg").returncode == 0  # a relative path
    again = faceid("--gallery", gallery, "enroll", "Eileen", str(sample("astronaut.jpg")))  # the same bytes
    assert again.returncode == 2 and "already enrolled for Eileen" in again.stderr
    stranger = faceid("--gallery", gallery, "enroll", "Eileen", str(sample("camera.jpg")))
    assert stranger.returncode == 2 and "--force" in stranger.stderr
    assert faceid("--gallery", gallery, "enroll", "Eileen", str(sample("camera.jpg")), "--force").returncode == 0
    picked = faceid("--gallery", gallery, "enroll", "Camera Man", str(group), "--face", "2")
    assert picked.returncode == 2 and "group.png looks more like Eileen" in picked.stderr  # forced in above
    from faceid_gui.engine import FaceEngine, Gallery

    engine = FaceEngine()
    with Gallery(gallery, engine.info.fingerprint) as db:
        sources = [face.source for face in db.faces("Eileen")]
    assert sources[0] == str(tmp_path / "eileen.jpg")  # stored absolute: it still opens from another folder


def test_group_photo_uses_the_face_most_like_the_person_and_identify_names_every_face(gallery, tmp_path):
    group = group_photo(tmp_path)
    assert faceid("--gallery", gallery, "enroll", "Camera Man", str(sample("camera.jpg"))).returncode == 0
    result = faceid("--gallery", gallery, "enroll", "Camera Man", str(group), "--force")
    assert result.returncode == 0 and "using face 2 (the one most like Camera Man)" in result.stderr
    who = faceid("--gallery", gallery, "identify", str(group), "--json", "--top", "2")
    answer = json.loads(who.stdout)
    assert who.returncode == 0 and answer["status"] == "named" and answer["names"] == ["Camera Man"]
    assert [f["identity"] for f in answer["faces"]] == ["unknown", "Camera Man"]  # the largest face is nobody


def test_rename_onto_a_name_in_use_points_to_merge(gallery):
    for name, photo in (("Eileen", "astronaut.jpg"), ("Camera Man", "camera.jpg")):
        assert faceid("--gallery", gallery, "enroll", name, str(sample(photo))).returncode == 0
    clash = faceid("--gallery", gallery, "rename", "Eileen", "camera man")
    assert clash.returncode == 2 and "faceid merge Eileen 'Camera Man'" in clash.stderr
    merged = faceid("--gallery", gallery, "merge", "Eileen", "Camera Man")
    assert merged.returncode == 0 and "merged 1 face of Eileen into Camera Man" in merged.stdout
    people = json.loads(faceid("--gallery", gallery, "people", "--json").stdout)
    assert people == [{"name": "Camera Man", "faces": 2, "needs_reenrolment": 0}]
    assert faceid("--gallery", gallery, "people").stdout.split() == ["Camera", "Man", "2", "faces"]


def test_every_argument_says_what_it_does():
    import argparse

    from faceid_gui.cli import _parser

    parser = _parser()
    subparsers = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for command in (parser, *subparsers.choices.values()):
        for action in command._actions:
            assert action.help, f"{command.prog}: {action.dest} has no help"
    assert faceid("--version").stdout.startswith("faceid 0.")


def _useful_range():
    from faceid_gui.engine import FaceEngine

    return FaceEngine().info.useful_range()


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
