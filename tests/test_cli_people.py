"""`faceid scan`, `groups`, `find`, `reembed` end to end: real photos, real engine, real SQLite."""
import json
import shutil

from .conftest import group_photo, sample
from .test_cli import faceid


def test_scan_groups_find_and_their_exit_codes(tmp_path):
    photos = tmp_path / "photos"
    (photos / "sub").mkdir(parents=True)
    shutil.copy(sample("astronaut.jpg"), photos / "astronaut.jpg")
    shutil.copy(sample("camera.jpg"), photos / "sub" / "camera.jpg")
    group_photo(photos / "sub")
    (photos / "sub" / "notes.png").write_bytes(b"not an image")
    gallery = str(tmp_path / "g.sqlite3")
    scan = faceid("--gallery", gallery, "scan", str(photos), "--json")
    assert scan.returncode == 0, scan.stderr
    lines = [json.loads(line) for line in scan.stdout.splitlines()]
    assert [len(line["faces"]) for line in lines] == [1, 1, 2, 0]  # astronaut, camera, group, notes (by path)
    assert "not an image" in lines[3]["error"] and "error" not in lines[0]
    assert all(face["identity"] == "unknown" for line in lines for face in line["faces"])
    assert "4 analysed" in scan.stderr and "1 unreadable" in scan.stderr
    assert "0 analysed, 4 unchanged" in faceid("--gallery", gallery, "scan", str(photos), "--json").stderr
    groups = faceid("--gallery", gallery, "groups", "--json")
    assert groups.returncode == 0 and isinstance(json.loads(groups.stdout), list)
    assert faceid("--gallery", gallery, "enroll", "Eileen", str(sample("astronaut.jpg"))).returncode == 0
    found = faceid("--gallery", gallery, "find", "Eileen", "--json")
    assert found.returncode == 0, found.stderr
    ranked = [json.loads(line) for line in found.stdout.splitlines()]
    assert ranked[0]["path"].endswith("astronaut.jpg") and ranked[0]["verdict"] == "same"
    assert ranked[1]["path"].endswith("group.png")  # the astronaut's face in the group photo
    named = [json.loads(line) for line in faceid("--gallery", gallery, "scan", str(photos), "--json").stdout.splitlines()]
    assert named[0]["faces"][0]["identity"] == "Eileen"
    nobody = faceid("--gallery", gallery, "find", "Nobody")
    assert nobody.returncode == 2 and "no one called" in nobody.stderr
    missing = faceid("--gallery", gallery, "scan", str(tmp_path / "missing"))
    assert missing.returncode == 2 and "is not a folder" in missing.stderr and "Traceback" not in missing.stderr
    assert faceid("--gallery", gallery, "reembed").returncode == 0


def test_identify_says_what_the_open_set_rule_means_and_refuses_a_bad_share(tmp_path):
    gallery = str(tmp_path / "g.sqlite3")
    assert faceid("--gallery", gallery, "enroll", "Eileen", str(sample("astronaut.jpg"))).returncode == 0
    who = faceid("--gallery", gallery, "identify", str(sample("astronaut.jpg")), "--json")
    answer = json.loads(who.stdout)
    assert who.returncode == 0 and answer["identity"] == "Eileen"
    assert answer["open_set"]["faces"] == 1 and answer["open_set"]["fpir_bound"] <= 0.01 + 1e-9
    assert answer["open_set"]["fnir_estimate_photos"] == 1 and 0 < answer["open_set"]["fnir_estimate"] < 1
    text = faceid("--gallery", gallery, "identify", str(sample("astronaut.jpg")))
    assert "With 1 person enrolled, at most" in text.stdout
    bad = faceid("--gallery", gallery, "identify", str(sample("astronaut.jpg")), "--fpir", "2")
    assert bad.returncode == 2 and "share above 0" in bad.stderr


def test_read_only_commands_create_no_gallery_and_scan_prints_odd_names_escaped(tmp_path):
    gallery = tmp_path / "g.sqlite3"
    library = tmp_path / "g.library.sqlite3"
    groups = faceid("--gallery", str(gallery), "groups")
    assert groups.returncode == 0 and "scan a folder first" in groups.stdout
    find = faceid("--gallery", str(gallery), "find", "Bob")
    assert find.returncode == 2 and "there is no gallery" in find.stderr
    assert faceid("--gallery", str(gallery), "reembed").returncode == 0
    missing = faceid("--gallery", str(gallery), "scan", str(tmp_path / "missing"))
    assert missing.returncode == 2 and missing.stderr.count("\n") == 1  # the error alone, no note on the gallery
    assert not gallery.exists() and not library.exists()
    photos = tmp_path / "photos\x1b[31m"  # a file name may hold a terminal escape or a line break
    photos.mkdir()
    shutil.copy(sample("astronaut.jpg"), photos / "a\nforged: Eileen.jpg")
    scan = faceid("--gallery", str(gallery), "scan", str(photos))
    assert scan.returncode == 0 and "nobody is named" in scan.stderr
    assert scan.stdout.count("\n") == 1 and "\x1b" not in scan.stdout
    assert "photos\\x1b[31m/a\\nforged: Eileen.jpg: unknown" in scan.stdout
    assert library.exists() and not gallery.exists()  # the scan writes what it saw, and only that
