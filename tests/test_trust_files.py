"""Issue 19, parts 3 and 4: files that are not what they seem, private files, closed streams, phone photos,
no display; each answered in one line, nothing created, nothing hung."""
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from faceid_gui.engine import Gallery, GalleryError, ImageError, NewFace, NoGalleryError, load_image

from . import hostile
from .conftest import sample

ROOT = Path(__file__).resolve().parent.parent
posix_only = pytest.mark.skipif(os.name != "posix", reason="POSIX file kinds and modes")


def faceid(*args, env=None):
    return subprocess.run([sys.executable, "-m", "faceid_gui", *map(str, args)], capture_output=True, text=True,
                          env=env, timeout=60, cwd=ROOT)


@posix_only
def test_special_gallery_paths_are_refused_before_opening(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    start = time.monotonic()
    for path in (fifo, Path("/dev/null"), tmp_path):
        for create in (True, False):
            with pytest.raises(GalleryError, match="not a gallery file"):
                Gallery(path, "m", create=create)
    assert time.monotonic() - start < 5  # opening the FIFO would have blocked for ever
    assert not Path("/dev/null-journal").exists() and not Path("/dev/null-wal").exists()
    result = faceid("--gallery", fifo, "people")
    assert result.returncode == 2 and result.stderr.count("\n") == 1


def test_commands_that_only_read_create_no_gallery(tmp_path):
    missing = tmp_path / "nonexistent" / "dir" / "g.sqlite3"
    with pytest.raises(NoGalleryError, match="there is no gallery at"):
        Gallery(missing, "m", create=False)
    people = faceid("--gallery", missing, "people")
    assert people.returncode == 0 and "there is no gallery at" in people.stdout
    identify = faceid("--gallery", missing, "identify", sample("astronaut.jpg"), "--json")
    assert identify.returncode == 1 and '"identity": "unknown"' in identify.stdout
    forget = faceid("--gallery", missing, "forget", "Ann")
    assert forget.returncode == 2 and "there is no gallery" in forget.stderr
    assert not (tmp_path / "nonexistent").exists()
    enroll = faceid("--gallery", missing, "enroll", "Ann", sample("astronaut.jpg"))
    assert enroll.returncode == 0 and missing.is_file()


@posix_only
def test_the_error_log_never_follows_a_planted_link(tmp_path, monkeypatch):
    from faceid_gui import errorlog

    target = tmp_path / "victim.txt"
    target.write_text("keep me\n")
    data = tmp_path / "data"
    data.mkdir()
    (data / "faceid-errors.log").symlink_to(target)
    monkeypatch.setenv("FACEID_DATA_DIR", str(data))
    monkeypatch.setattr(errorlog.tempfile, "gettempdir", lambda: str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    (tmp_path / "tmp" / "faceid-errors.log").symlink_to(target)
    message = errorlog.unexpected_error(RuntimeError("boom"))
    assert target.read_text() == "keep me\n" and "no log could be written" in message
    (data / "faceid-errors.log").unlink()
    assert str(data / "faceid-errors.log") in errorlog.unexpected_error(RuntimeError("boom"))
    assert stat.S_IMODE((data / "faceid-errors.log").stat().st_mode) == 0o600


@posix_only
def test_gallery_sidecars_and_settings_are_private_and_a_readable_gallery_is_said(tmp_path):
    path = tmp_path / "g.sqlite3"
    with Gallery(path, "m") as gallery:
        gallery.enroll("Ann", [NewFace(np.ones(4, np.float32), "m")])
        assert gallery.privacy_note == ""
    os.chmod(path, 0o644)
    old = os.umask(0o022)
    try:
        with Gallery(path, "m") as gallery:
            assert "can be read by other users" in gallery.privacy_note
            for suffix in ("-wal", "-shm"):
                assert stat.S_IMODE(Path(f"{path}{suffix}").stat().st_mode) == 0o600
    finally:
        os.umask(old)
    result = faceid("--gallery", path, "people")
    assert result.returncode == 0 and result.stderr.count("can be read by other users") == 1

    # Qt reads the platform's settings folder once per process: a fresh one, under a temporary XDG_CONFIG_HOME.
    config = tmp_path / "config" / "faceid"
    config.mkdir(parents=True, mode=0o755)
    (config / "faceid.conf").write_text("[window]\n")
    os.chmod(config / "faceid.conf", 0o644)
    probe = ("from faceid_gui.app.state import app_settings; s = app_settings(); s.setValue('x', 1); s.sync(); "
             "print(s.fileName())")
    env = {k: v for k, v in os.environ.items() if k != "FACEID_DATA_DIR"}
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, cwd=ROOT,
                         env={**env, "XDG_CONFIG_HOME": str(tmp_path / "config"), "XDG_DATA_HOME": str(tmp_path)})
    assert out.stdout.strip() == str(config / "faceid.conf"), out.stderr
    assert stat.S_IMODE(config.stat().st_mode) == 0o700
    assert stat.S_IMODE((config / "faceid.conf").stat().st_mode) == 0o600


@posix_only
def test_with_stderr_closed_stdout_holds_results_only(tmp_path):
    command = (f'"{sys.executable}" -m faceid_gui compare "{sample("astronaut.jpg")}" '
               f'"{hostile_group(tmp_path)}" --json 2>&-; echo "rc=$?" >&2')
    run = subprocess.run(["bash", "-c", command], capture_output=True, text=True, timeout=60, cwd=ROOT)
    import json

    assert json.loads(run.stdout)["verdict"] == "same" and run.stdout.count("\n") == 1
    assert run.stderr.strip() == "rc=0"


def hostile_group(tmp_path):
    from .conftest import group_photo

    return group_photo(tmp_path)  # two faces: compare says which it used, on stderr


@pytest.mark.parametrize("suffix", [".heic", ".avif"])
def test_phone_photos_are_read_upright_within_the_limits(tmp_path, engine, astronaut, suffix, monkeypatch):
    from faceid_gui.engine import distance, imageio

    upright = load_image(hostile.heic_of(astronaut, tmp_path / f"upright{suffix}"))
    turned = load_image(hostile.heic_of(astronaut, tmp_path / f"turned{suffix}", orientation=6))
    assert upright.shape == turned.shape == astronaut.shape
    reference = engine.analyze(astronaut)[0].embedding
    same_edge = engine.info.uncertain_band(engine.info.threshold).same_below  # where Compare says "same"
    for image in (upright, turned):  # lossy, so not identical; a face read sideways would be far beyond
        assert distance(reference, engine.analyze(image)[0].embedding) < same_edge
    monkeypatch.setattr(imageio, "MAX_PIXELS", 512 * 511)
    with pytest.raises(ImageError, match="too large"):
        load_image(tmp_path / f"upright{suffix}")
    damaged = tmp_path / f"damaged{suffix}"
    damaged.write_bytes((tmp_path / f"upright{suffix}").read_bytes()[:2000])
    with pytest.raises(ImageError, match="damaged"):
        load_image(damaged)


def test_recognised_formats_faceid_cannot_read_say_so(tmp_path):
    jp2 = tmp_path / "photo.jp2"
    jp2.write_bytes(b"\x00\x00\x00\x0cjP  \r\n\x87\n" + b"\x00" * 200)
    with pytest.raises(ImageError, match=r"unsupported format \(JPEG 2000\); export it as JPEG"):
        load_image(jp2)


@posix_only
def test_no_display_is_one_line_and_screenshot_renders_offscreen_by_itself(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    window = faceid(env=env)
    assert window.returncode == 2 and "no display" in window.stderr and window.stderr.count("\n") == 1
    unreachable = faceid(env={**env, "DISPLAY": ":97"})
    assert unreachable.returncode == 2 and "cannot open the X display" in unreachable.stderr
    shot = faceid("--screenshot", tmp_path / "out.png", env=env)
    assert shot.returncode == 0 and (tmp_path / "out.png").stat().st_size > 1000
