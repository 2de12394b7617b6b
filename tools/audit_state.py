"""Audit families of stored state (issue 10): kill -9 during enrolment, concurrent enrolments, damaged, locked,
foreign and full galleries, and damaged models and arguments."""
from __future__ import annotations

import contextlib
import hashlib
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from audit_support import REF, ROOT, SAMPLES, Family, Run, clean_error, faceid

OTHER = SAMPLES / "camera.jpg"  # another person than REF: enrolled beside REF, no enrolment check objects


# -- gallery: crashes and concurrency -------------------------------------------------------------

def gallery_names(path: Path) -> set[str]:
    with contextlib.closing(sqlite3.connect(path)) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        return {r[0] for r in db.execute("SELECT name FROM people")}


def audit_kills(count: int, seed: int, work: Path) -> Family:
    family = Family("kill -9 during enrolment")
    rng = random.Random(seed)
    gallery = work / "kills.sqlite3"
    photos = [REF, OTHER]
    # --force: the enrolment checks would refuse these reused photos (two people in one enrolment, then photos
    # already enrolled); the kills, not those checks, are what is tested here.
    reported = []
    # Calibrate: how long an enrolment takes here, so kills land throughout it (start-up, analysis, the write).
    for name in ("calibration 1", "calibration 2"):  # the second run is warm, as the ones below are
        full = faceid("--gallery", gallery, "enroll", "--force", name, *photos)
        if full.code == 0:
            reported.append(name)
    for k in range(count):
        name = f"person {k}"
        run = faceid("--gallery", gallery, "enroll", "--force", name, *photos,
                     kill_after=rng.uniform(0.1, full.seconds * 1.05))
        if run.code == 0:
            reported.append(name)
        killed = run.code == -signal.SIGKILL
        family.check(name, run, killed or run.code == 0)
    try:
        present = gallery_names(gallery)
        lost = [n for n in reported if n not in present]
    except (AssertionError, sqlite3.Error) as exc:
        lost = [f"gallery unreadable: {exc}"]
    family.count_lost(lost)
    family.name += f" ({len(reported) - 2} of {count} finished before the kill)"
    return family


def audit_concurrent(rounds: int, per_round: int, work: Path) -> Family:
    family = Family("concurrent enrolments")
    gallery = work / "concurrent.sqlite3"
    succeeded = []
    for r in range(rounds):
        procs = []
        for k in range(per_round):
            name = f"round {r} person {k}"
            out = tempfile.TemporaryFile()
            # --force: every process enrols REF, which the duplicate-photo check would refuse once it is enrolled.
            proc = subprocess.Popen([sys.executable, "-m", "faceid_gui", "--gallery", str(gallery), "enroll", "--force",
                                     name, str(REF)], stdout=subprocess.DEVNULL, stderr=out, cwd=ROOT)
            procs.append((name, proc, out, time.monotonic()))
        for name, proc, out, start in procs:
            _, status, usage = os.wait4(proc.pid, 0)
            code = os.waitstatus_to_exitcode(status)
            out.seek(0)
            err = out.read().decode(errors="replace")
            out.close()
            if code == 0:
                succeeded.append(name)
            said = [line for line in err.strip().splitlines() if not line.startswith("warning: ")]  # --force's
            ok = code == 0 or (code == 2 and "busy" in err and len(said) == 1)
            family.record(ok, f"{name}: exit {code} {err[-150:]!r}", usage.ru_maxrss / 1024, time.monotonic() - start,
                          err)
    present = gallery_names(gallery)
    lost = [n for n in succeeded if n not in present]
    family.count_lost(lost)
    return family


def audit_gallery_faults(work: Path) -> Family:
    family = Family("gallery faults")
    folder = work / "gallery-faults"
    folder.mkdir()

    check = family.check

    good = folder / "good.sqlite3"
    faceid("--gallery", good, "enroll", "Ann", REF)

    # Locked by another writer: busy, said plainly, within the busy timeout.
    db = sqlite3.connect(good, isolation_level=None)
    db.execute("BEGIN IMMEDIATE")
    run = faceid("--gallery", good, "enroll", "Bob", OTHER)  # not REF: Ann's photo would be refused before the lock
    db.execute("ROLLBACK")
    db.close()
    check("locked gallery", run, clean_error(run, "busy") and run.seconds < 9)

    # Damaged pages.
    damaged = folder / "damaged.sqlite3"
    shutil.copy(good, damaged)
    data = bytearray(damaged.read_bytes())
    data[4096 + 100:min(len(data), 3 * 4096)] = b"\x5a" * (min(len(data), 3 * 4096) - 4096 - 100)
    damaged.write_bytes(bytes(data))
    for command in (["people"], ["identify", str(REF)], ["enroll", "Cy", str(REF)]):
        run = faceid("--gallery", damaged, *command)
        check(f"damaged gallery: {command[0]}", run, clean_error(run, "damaged"))

    # A row whose embedding has the wrong length: ignored, said, identify still works.
    odd = folder / "odd-row.sqlite3"
    shutil.copy(good, odd)
    with contextlib.closing(sqlite3.connect(odd)) as db:
        db.execute("INSERT INTO faces(person_id, embedding, model_fingerprint, created) "
                   "SELECT person_id, X'0000', model_fingerprint, 0 FROM faces LIMIT 1")
        db.commit()
    run = faceid("--gallery", odd, "identify", REF)
    check("wrong-length embedding row", run, run.code == 0 and "damaged" in run.err and "Traceback" not in run.err)

    # Foreign SQLite file and a non-database: refused, byte for byte unchanged, nothing created beside them.
    for name, make in (("foreign SQLite database", lambda p: _foreign_db(p)), ("plain text file", lambda p: p.write_text("diary\n" * 50))):
        sub = folder / name.replace(" ", "-")
        sub.mkdir()
        path = sub / "file.db"
        make(path)
        before = hashlib.sha256(path.read_bytes()).hexdigest()
        run = faceid("--gallery", path, "enroll", "Dan", REF)
        same = hashlib.sha256(path.read_bytes()).hexdigest() == before and [p.name for p in sub.iterdir()] == ["file.db"]
        check(name, run, clean_error(run, "not a faceid gallery") and same)

    # Existing folders keep their permissions; only folders faceid creates become 0700.
    for mode in (0o1777, 0o755):
        sub = folder / f"mode-{mode:o}"
        sub.mkdir()
        os.chmod(sub, mode)
        run = faceid("--gallery", sub / "g.sqlite3", "enroll", "Ann", REF)
        check(f"folder {mode:o} left as it was", run, run.code == 0 and sub.stat().st_mode & 0o7777 == mode)
    run = faceid("--gallery", folder / "new" / "g.sqlite3", "enroll", "Ann", REF)
    check("new folder made private", run, run.code == 0 and (folder / "new").stat().st_mode & 0o777 == 0o700)

    # Names that are not valid UTF-8.
    bad = b"J\xf6rg".decode("utf-8", "surrogateescape")
    for command in (["enroll", bad, str(REF)], ["forget", bad], ["rename", "Ann", bad]):
        run = faceid("--gallery", good, *command)
        check(f"non-UTF-8 name: {command[0]}", run, clean_error(run, "not valid text"))

    # Read-only gallery (a real permission only binds a non-root user).
    if os.geteuid() != 0:
        ro = folder / "ro.sqlite3"
        shutil.copy(good, ro)
        os.chmod(ro, 0o444)
        run = faceid("--gallery", ro, "enroll", "Eve", OTHER)  # not REF: already enrolled for Ann, refused first
        check("read-only gallery", run, clean_error(run, "read-only"))

    # Full disk: a small tmpfs (needs mount rights; skipped without them).
    small = folder / "small"
    small.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(small)], capture_output=True).returncode == 0:
        try:
            faceid("--gallery", small / "g.sqlite3", "enroll", "Ann", REF)
            with contextlib.suppress(OSError), open(small / "filler", "wb") as fh:
                while True:
                    fh.write(b"\0" * 4096)
            for command in (["enroll", "Bob", str(OTHER)], ["people"]):  # not REF: already enrolled, refused first
                run = faceid("--gallery", small / "g.sqlite3", *command)
                check(f"full disk: {command[0]}", run, clean_error(run, "disk space") and "damaged" not in run.err)
        finally:
            subprocess.run(["umount", str(small)], capture_output=True)
    return family


def _foreign_db(path: Path) -> None:
    with contextlib.closing(sqlite3.connect(path)) as db:
        db.execute("CREATE TABLE invoices(id INTEGER PRIMARY KEY, total REAL)")
        db.execute("INSERT INTO invoices(total) VALUES (12.5)")
        db.commit()


# -- models and arguments -----------------------------------------------------------------------------

def audit_model_faults(work: Path) -> Family:
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    family = Family("model and argument faults")
    folder = work / "models"
    folder.mkdir()
    shipped = ROOT / "assets" / "faceid_embedder.onnx"

    check = family.check

    for key, value in (("input_size", '"abc"'), ("threshold", '"high"'), ("mean", "5"), ("std", "[0, 0, 0]"),
                       ("embedding_size", "-1"), ("threshold", "NaN"), ("threshold", "-0.5")):
        model = onnx.load(str(shipped))
        for prop in model.metadata_props:
            if prop.key == "faceid." + key:
                prop.value = value
        path = folder / f"bad-{key}.onnx"
        onnx.save(model, str(path))
        run = faceid("--model", path, "compare", REF, REF)
        check(f"metadata {key}={value}", run, clean_error(run, "invalid faceid metadata"))

    weights = np.zeros((3 * 8 * 8, 32), np.float32)
    weights[0, 0] = np.nan
    graph = helper.make_graph(
        [helper.make_node("Flatten", ["x"], ["f"]), helper.make_node("MatMul", ["f", "w"], ["y"])], "nan",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 3, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 32])], [numpy_helper.from_array(weights, "w")])
    nan_model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    nan_model.ir_version = 8
    for key, value in {"embedding_size": "32", "input_size": "8", "mean": "[0.5,0.5,0.5]", "std": "[0.5,0.5,0.5]",
                       "threshold": "0.5"}.items():
        nan_model.metadata_props.add(key="faceid." + key, value=value)
    nan_path = folder / "nan.onnx"
    onnx.save(nan_model, str(nan_path))
    run = faceid("--model", nan_path, "compare", REF, SAMPLES / "camera.jpg")
    check("NaN model output: compare", run, clean_error(run, "invalid embedding") and run.out == "")
    run = faceid("--model", nan_path, "embed", REF, "--json")  # refused when loaded: no photo is read
    check("NaN model output: embed --json", run, clean_error(run, "invalid embedding") and run.out == "")

    truncated = folder / "truncated.onnx"
    truncated.write_bytes(shipped.read_bytes()[:50_000])
    run = faceid("--model", truncated, "compare", REF, REF)
    check("truncated model via --model", run, clean_error(run, "truncated.onnx"))

    data_dir = folder / "userdata"
    (data_dir / "models").mkdir(parents=True)
    (data_dir / "models" / "faceid_embedder.onnx").write_bytes(b"\x08\x07 half-written")
    run = faceid("compare", REF, REF, env={"FACEID_DATA_DIR": str(data_dir)})
    check("corrupt installed model falls back", run, run.code == 0 and "shipped model" in run.err)

    for args, words in ((["compare", REF, REF, "--threshold", "nan"], "--threshold"),
                        (["compare", REF, REF, "--threshold", "-1"], "--threshold"),
                        (["identify", REF, "--top", "0"], "--top"), (["identify", REF, "--top", "-100"], "--top")):
        run = faceid(*args)
        check(" ".join(map(str, args[2:] if args[0] == "compare" else args[2:])), run, clean_error(run, words))

    start = time.monotonic()
    pipe = subprocess.run(["bash", "-c", f'"{sys.executable}" -m faceid_gui embed {" ".join([str(REF)] * 8)} '
                           '| head -1 >/dev/null; echo "rc=${PIPESTATUS[0]}" >&2'], capture_output=True, text=True, cwd=ROOT)
    run = Run(0, "", pipe.stderr, 0.0, time.monotonic() - start)
    check("embed | head -1", run, pipe.stderr.strip().splitlines() == ["rc=2"])
    return family
