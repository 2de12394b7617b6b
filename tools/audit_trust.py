"""The audit families of issue 19 (trust boundaries), run by tools/audit.py: planted and hanging models, hostile
names, special gallery paths, permissions, closed streams and phone formats. Every case is a real `faceid` run
under the audit's time limit; the hostile inputs come from tests/hostile.py, the same ones the unit tests use."""
from __future__ import annotations

import json
import os
import shutil
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

from audit_support import REF, ROOT, SAMPLES, Family, Run, clean_error, faceid  # first: puts this checkout on sys.path
from faceid_gui.engine.names import name_key
from tests import hostile

OTHER = SAMPLES / "camera.jpg"


def _one_line(run) -> bool:
    return run.err.count("\n") <= 1 and "\x1b" not in run.err


def audit_models(work: Path) -> Family:
    family = Family("planted and hanging models")
    folder = work / "trust-models"
    folder.mkdir()
    made = {name: make(folder / f"{name}.onnx") for name, make in (
        ("constant", hostile.constant_model), ("loop", hostile.loop_model), ("custom", hostile.custom_domain_model),
        ("random", hostile.random_model))}
    for name, path in made.items():
        for command in (["compare", REF, OTHER], ["info"], ["embed", REF, "--json"]):
            run = faceid("--model", path, *command)
            family.check(f"--model {name}: {command[0]}", run, clean_error(run, "refused") and run.out == "")
        run = faceid("--model", path, "--self-test")
        family.check(f"--model {name}: --self-test", run, run.code in (1, 2) and "passed" not in run.out)
        data = folder / f"data-{name}"
        (data / "models").mkdir(parents=True)
        shutil.copy(path, data / "models" / "faceid_embedder.onnx")
        run = faceid("compare", REF, OTHER, env={"FACEID_DATA_DIR": str(data)})
        family.check(f"planted {name}: compare falls back", run,
                     run.code == 1 and "using the shipped model" in run.err and _one_line(run))
        run = faceid("--screenshot", folder / f"{name}.png", env={"FACEID_DATA_DIR": str(data)})
        family.check(f"planted {name}: window", run, run.code == 0 and "using the shipped model" in run.err)
    data = folder / "data-copy"
    (data / "models").mkdir(parents=True)
    shutil.copy(ROOT / "assets" / "faceid_embedder.onnx", data / "models" / "faceid_embedder.onnx")
    run = faceid("compare", REF, OTHER, env={"FACEID_DATA_DIR": str(data)})
    family.check("installed copy of the shipped model: named", run,
                 run.code == 1 and "not the shipped one" in run.err and "sha256" in run.err)
    return family


def audit_names(work: Path) -> Family:
    family = Family("hostile names")
    gallery = work / "trust-names.sqlite3"
    for what, name in hostile.REFUSED_NAMES.items():
        run = faceid("--gallery", gallery, "enroll", name, REF)
        family.check(f"enroll {what}", run, clean_error(run) and _one_line(run) and "\u202e" not in run.err)
        run = faceid("--gallery", gallery, "rename", "nobody", name)
        family.check(f"rename to {what}", run, clean_error(run) and _one_line(run))
    for a, b in hostile.SAME_PERSON:  # --force: REF twice is one photo, which the duplicate-photo check refuses
        faceid("--gallery", gallery, "enroll", "--force", a, REF)
        run = faceid("--gallery", gallery, "enroll", "--force", b, REF)
        people = json.loads(faceid("--gallery", gallery, "people", "--json").out or "[]")
        family.check(f"{a!r} and {b!r} are one person", run, run.code == 0
                     and [p["faces"] for p in people if name_key(p["name"]) == name_key(a)] == [2])
        run = faceid("--gallery", gallery, "forget", b)
        family.check(f"forget {b!r}", run, run.code == 0 and _one_line(run))
    with sqlite3.connect(gallery) as db:  # what an older faceid let in
        db.execute("INSERT INTO people(name, created) VALUES (?, 0)", ("Eve\nAlice                    9 face(s)\x1b[2J",))
    run = faceid("--gallery", gallery, "people")
    family.check("a stored name with a newline and ESC", run, run.code == 0 and run.out.count("\n") == 1
                 and "\x1b" not in run.out)
    long_name = hostile.REFUSED_NAMES["101 characters"] * 1000
    run = faceid("--gallery", gallery, "enroll", long_name, REF)
    family.check("a 101,000-character name", run, clean_error(run, "at most 100") and len(run.err) < 400)
    return family


def audit_gallery_paths(work: Path) -> Family:
    family = Family("special gallery paths")
    folder = work / "trust-paths"
    folder.mkdir()
    fifo = folder / "fifo"
    os.mkfifo(fifo)
    (folder / "link-to-fifo").symlink_to(fifo)
    (folder / "a-file").write_text("x")
    for what, path in (("FIFO", fifo), ("symlink to a FIFO", folder / "link-to-fifo"), ("/dev/null", "/dev/null"),
                       ("a directory", folder), ("below a file", folder / "a-file" / "g.sqlite3")):
        for command in (["people"], ["enroll", "Ann", REF], ["identify", REF]):
            run = faceid("--gallery", path, *command, limit=20)
            # Below a file there can be no gallery: commands that read say so, enrol refuses.
            no_gallery = what == "below a file" and command[0] != "enroll" and "there is no gallery" in run.out
            family.check(f"{what}: {command[0]}", run, (clean_error(run) or no_gallery) and _one_line(run))
    family.check("no /dev/null-journal left", run, not any(Path(f"/dev/null{s}").exists()
                                                          for s in ("-journal", "-wal", "-shm")))
    missing = folder / "nonexistent" / "dir" / "g.sqlite3"
    for command, code, words in ((["people"], 0, "there is no gallery"), (["identify", REF], 1, "there is no gallery"),
                                 (["forget", "Ann"], 2, "there is no gallery"), (["rename", "A", "B"], 2, "no gallery")):
        run = faceid("--gallery", missing, *command)
        family.check(f"missing gallery: {command[0]} creates nothing", run, run.code == code
                     and words in run.out + run.err and not (folder / "nonexistent").exists())
    return family


def audit_permissions(work: Path) -> Family:
    family = Family("permissions")
    folder = work / "trust-perms"
    folder.mkdir()
    fresh = folder / "new" / "g.sqlite3"
    run = faceid("--gallery", fresh, "enroll", "Ann", REF)
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in [fresh.parent, *fresh.parent.iterdir()]}
    family.check(f"new gallery private {modes}", run, run.code == 0 and modes["new"] == 0o700
                 and all(m == 0o600 for n, m in modes.items() if n != "new"))
    shared = folder / "shared.sqlite3"
    shutil.copy(fresh, shared)
    os.chmod(shared, 0o644)
    run = faceid("--gallery", shared, "people")
    sidecars = [stat.S_IMODE(Path(f"{shared}{s}").stat().st_mode) for s in ("-wal", "-shm")
                if Path(f"{shared}{s}").exists()]
    family.check("readable gallery: said once, sidecars private", run, run.code == 0
                 and run.err.count("can be read by other users") == 1 and all(m == 0o600 for m in sidecars))
    victim = folder / "victim.txt"
    victim.write_text("keep\n")
    data, tmp = folder / "data", folder / "tmp"
    data.mkdir()
    tmp.mkdir()
    (data / "faceid-errors.log").symlink_to(victim)
    (tmp / "faceid-errors.log").symlink_to(victim)
    probe = ("from faceid_gui.errorlog import unexpected_error; print(unexpected_error(RuntimeError('x')))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, timeout=30,
                         env={**os.environ, "FACEID_DATA_DIR": str(data), "TMPDIR": str(tmp)})
    run = Run(out.returncode, out.stdout, out.stderr, 0.0, 0.0)
    family.check("error log: planted symlinks not followed", run, victim.read_text() == "keep\n"
                 and "no log could be written" in out.stdout)
    config = folder / "config"
    (config / "faceid").mkdir(parents=True)
    os.chmod(config / "faceid", 0o755)
    # The platform's own places (FACEID_DATA_DIR empty), moved under the audit's folder.
    env = {"XDG_CONFIG_HOME": str(config), "XDG_DATA_HOME": str(folder / "xdg-data"), "FACEID_DATA_DIR": ""}
    run = faceid("--screenshot", folder / "shot.png", env=env)
    conf = config / "faceid" / "faceid.conf"
    family.check("settings folder 0700, faceid.conf 0600", run, run.code == 0
                 and stat.S_IMODE((config / "faceid").stat().st_mode) == 0o700
                 and (not conf.exists() or stat.S_IMODE(conf.stat().st_mode) == 0o600))
    return family


def audit_streams(work: Path) -> Family:
    family = Family("closed streams and no display")
    from tests.conftest import group_photo

    group = group_photo(work)
    for what, args, code in (("compare --json of a group photo", ["compare", REF, group, "--json"], 0),
                             ("embed --json with a bad file", ["embed", REF, work / "missing.jpg", "--json"], 0),
                             ("compare --json of a missing file", ["compare", REF, work / "missing.jpg", "--json"], 2)):
        run = faceid(*args, redirect="2>&-")
        try:
            records = [json.loads(line) for line in run.out.splitlines()]
            ok = run.code == code and all(isinstance(r, dict) for r in records)
        except ValueError:
            ok = False
        family.check(f"stderr closed: {what}", run, ok)
    run = faceid("compare", REF, REF, redirect=">&- 0<&-")
    family.check("stdout and stdin closed: exit code still the verdict", run, run.code == 0)
    bare = {k: "" for k in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    run = faceid(env=bare)
    family.check("no display: the window", run, clean_error(run, "no display"))
    run = faceid(env={**bare, "DISPLAY": ":97"})
    family.check("unreachable display", run, clean_error(run, "cannot open the X display"))
    run = faceid("--screenshot", work / "offscreen.png", env=bare)
    family.check("no display: --screenshot renders offscreen", run, run.code == 0 and (work / "offscreen.png").exists())
    run = faceid("--provider", "cuda", "compare", REF, REF)
    family.check("--provider cuda without a usable GPU", run, clean_error(run, "CUDA") or run.code == 0)
    return family


def audit_phone_formats(work: Path) -> Family:
    family = Family("phone formats")
    import cv2

    folder = work / "trust-formats"
    folder.mkdir()
    rgb = cv2.cvtColor(cv2.imread(str(REF)), cv2.COLOR_BGR2RGB)
    for suffix in (".heic", ".avif"):
        for orientation in (1, 6):
            path = hostile.heic_of(rgb, folder / f"o{orientation}{suffix}", orientation)
            run = faceid("compare", path, REF)
            family.check(f"{suffix} orientation {orientation}", run, run.code == 0)
            damaged = folder / f"damaged-o{orientation}{suffix}"
            damaged.write_bytes(path.read_bytes()[:1500])
            run = faceid("compare", damaged, REF)
            family.check(f"{suffix} truncated", run, clean_error(run, "damaged"))
    for name, data, words in (("photo.jp2", b"\x00\x00\x00\x0cjP  \r\n\x87\n" + b"\0" * 64, "JPEG 2000"),
                              ("photo.j2k", b"\xff\x4f\xff\x51" + b"\0" * 64, "JPEG 2000"),
                              ("photo.jxl", b"\xff\x0a" + b"\0" * 64, "JPEG XL"),
                              ("photo.psd", b"8BPS" + b"\0" * 64, "Photoshop"),
                              ("clip.mp4", b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2" + b"\0" * 64,
                               "not an image")):
        (folder / name).write_bytes(data)
        run = faceid("compare", folder / name, REF)
        family.check(name, run, clean_error(run, words) and ("export it as JPEG" in run.err or "not an image" in words))
    return family


STEPS = {"models": audit_models, "names": audit_names, "paths": audit_gallery_paths,
         "permissions": audit_permissions, "streams": audit_streams, "formats": audit_phone_formats}
