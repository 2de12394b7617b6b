"""Audit families of hostile image files (issue 10): mutated images through `embed` and `compare`, and special
files (bombs, slivers, trailing bytes, pipes, folders) through `compare`."""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import random
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from audit_support import EMBED_BATCH, REF, ROOT, SAMPLES, Family, clean_error, faceid, strict_json

AUDIT = Path(__file__).with_name("audit.py")  # runs compare_worker through its hidden --compare-worker


# -- image mutants ----------------------------------------------------------------------------------

def seed_files() -> list[tuple[str, bytes]]:
    """The shipped samples in every format faceid decodes, made here (no external data)."""
    seeds = []
    for path in sorted(SAMPLES.glob("*.jpg")):
        bgr = cv2.imread(str(path))
        small = cv2.resize(bgr, (256, 256))
        seeds.append((path.stem + ".jpg", path.read_bytes()))
        for ext in (".png", ".bmp", ".tiff", ".webp", ".gif"):
            ok, buf = cv2.imencode(ext, small)
            if ok:
                seeds.append((path.stem + ext, buf.tobytes()))
    return seeds


def mutate(data: bytes, rng: random.Random) -> tuple[str, bytes]:
    kind = rng.choice(["bitflip", "truncate", "trailing", "header"])
    b = bytearray(data)
    if kind == "bitflip":
        for _ in range(rng.randint(1, 32)):
            i = rng.randrange(len(b))
            b[i] ^= 1 << rng.randrange(8)
    elif kind == "truncate":
        b = b[:rng.randrange(1, len(b))]
    elif kind == "trailing":
        b += rng.randbytes(rng.randint(1, 20000))
    else:  # header edits: random bytes or 0xFF runs in the first 64 bytes (sizes, markers, offsets)
        for _ in range(rng.randint(1, 6)):
            i = rng.randrange(min(64, len(b)))
            b[i] = rng.choice([0x00, 0xFF, 0x7F, rng.randrange(256)])
    return kind, bytes(b)


def audit_mutants(count: int, seed: int, work: Path) -> tuple[Family, Family]:
    rng = random.Random(seed)
    seeds = seed_files()
    folder = work / "mutants"
    folder.mkdir()
    files = []
    for k in range(count):
        name, data = seeds[k % len(seeds)]
        kind, mutated = mutate(data, rng)
        path = folder / f"{k:05d}-{kind}-{name}"
        path.write_bytes(mutated)
        files.append(path)
    embed, compare = Family("mutated images: embed"), Family("mutated images: compare")
    decodable: dict[str, bool] = {}  # False: embed refused the file itself (not an image, damaged, too large)
    for start in range(0, len(files), EMBED_BATCH):
        batch = files[start:start + EMBED_BATCH]
        run = faceid("embed", *batch, "--json")
        lines = run.out.splitlines()
        batch_ok = run.code in (0, 2) and "Traceback" not in run.err and len(lines) == len(batch)
        per_file_s = run.seconds / len(batch)
        for path, line in zip(batch, lines + [""] * (len(batch) - len(lines))):
            try:
                record = strict_json(line)
                ok = record["path"] == str(path) and (
                    ("error" in record and isinstance(record["error"], str) and "\n" not in record["error"])
                    or all(len(f["embedding"]) == 32 and all(np.isfinite(f["embedding"])) for f in record["faces"]))
                decodable[str(path)] = "faces" in record or "no face" in record["error"]
            except (ValueError, KeyError, TypeError):
                ok = False
            embed.record(ok and batch_ok and not run.hung, f"embed {path.name}", run.peak_mb, per_file_s, run.err,
                         run.hung)
    # compare: one worker process runs the real CLI entry point per file (loading the models once), so the
    # exit code of every call is checked against what embed said about the same file.
    for start in range(0, len(files), EMBED_BATCH * 2):
        batch = files[start:start + EMBED_BATCH * 2]
        listing = work / "compare-list.txt"
        listing.write_text("\n".join(map(str, batch)))
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            proc = subprocess.Popen([sys.executable, str(AUDIT), "--compare-worker", str(listing)], stdout=out,
                                    stderr=err, cwd=ROOT)
            _, status, usage = os.wait4(proc.pid, 0)
            out.seek(0)
            err.seek(0)
            results = [json.loads(x) for x in out.read().decode().splitlines()]
            worker_err = err.read().decode(errors="replace")
        for path, result in zip(batch, results + [None] * (len(batch) - len(results))):
            if result is None:
                compare.record(False, f"compare {path.name}: worker died ({worker_err[-200:]})", usage.ru_maxrss / 1024,
                               err=worker_err)
                continue
            # A file embed refused must be exit 2 here too. On a decodable one, a marginal face in a damaged photo
            # may be found in one process and not in another (seen 5 times in 2,000; decoding is deterministic):
            # a verdict or "no face found" are both right answers there.
            expected = {0, 1, 2, 3} if decodable.get(str(path)) else {2}
            ok = result["code"] in expected and "Traceback" not in result["err"] and (
                result["code"] != 2 or len(result["err"].strip().splitlines()) == 1)
            compare.record(ok, f"compare {path.name}: exit {result['code']} {result['err'][:120]!r}",
                           usage.ru_maxrss / 1024, result["seconds"], result["err"])
    return embed, compare


def compare_worker(listing: Path) -> int:
    from faceid_gui import cli, cli_compare, cli_support

    engine = cli_support._engine(argparse.Namespace(model=None, provider="auto"))
    cli_compare._engine = lambda args: engine  # the models are the same for every call: load them once
    for line in listing.read_text().splitlines():
        out, err = io.StringIO(), io.StringIO()
        t = time.monotonic()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = cli.main(["compare", line, str(REF), "--json"])
            except SystemExit as exc:
                code = exc.code
        print(json.dumps({"code": code, "err": err.getvalue(), "seconds": time.monotonic() - t}), flush=True)
    return 0


# -- special files -----------------------------------------------------------------------------------

def special_files(work: Path) -> list[tuple[str, Path, str]]:
    """(what, file, expectation) where expectation is "refused:<words>" or "decodes"."""
    folder = work / "special"
    folder.mkdir()
    astronaut = REF.read_bytes()

    def put(name, data):
        path = folder / name
        path.write_bytes(data)
        return path

    def png_header(w, h):
        import zlib

        chunk = lambda k, body: struct.pack(">I", len(body)) + k + body + struct.pack(">I", zlib.crc32(k + body))
        return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
                + chunk(b"IDAT", zlib.compress(b"\0" * (w * 3 + 1) * 64)) + chunk(b"IEND", b""))

    def tiff_bomb():
        ok, buf = cv2.imencode(".tiff", np.zeros((64, 64, 3), np.uint8))
        data = bytearray(buf.tobytes())
        offset = struct.unpack("<I", data[4:8])[0]
        for k in range(struct.unpack("<H", data[offset:offset + 2])[0]):
            entry = offset + 2 + 12 * k
            tag, typ = struct.unpack("<HH", data[entry:entry + 4])
            if tag in (256, 257):
                data[entry + 8:entry + 12] = struct.pack("<HH", 20000, 0) if typ == 3 else struct.pack("<I", 20000)
        return bytes(data)

    def jpeg_bomb():
        data = bytearray(astronaut)
        sof = data.index(b"\xff\xc0")
        data[sof + 5:sof + 9] = struct.pack(">HH", 16000, 16000)
        app0_end = 4 + struct.unpack(">H", data[4:6])[0]
        return bytes(data[:app0_end]) + b"\x00" + bytes(data[app0_end:])

    gif = cv2.imencode(".gif", np.full((64, 64, 3), 100, np.uint8))[1].tobytes()
    gif_descriptor = gif.index(b"\x2c\x00\x00\x00\x00\x40\x00\x40\x00")
    gif_bomb = gif[:gif_descriptor + 5] + struct.pack("<HH", 20000, 20000) + gif[gif_descriptor + 9:]
    wide = np.repeat(np.linspace(0, 1, 128 * 128).reshape(128, 128, 1), 3, axis=2)
    cases = [
        ("1x20000 image", put("line.png", cv2.imencode(".png", np.zeros((1, 20000, 3), np.uint8))[1].tobytes()), "refused:no face"),
        ("2x5000 image", put("sliver.png", cv2.imencode(".png", np.zeros((2, 5000, 3), np.uint8))[1].tobytes()), "refused:no face"),
        ("5000x2 image", put("tall.png", cv2.imencode(".png", np.zeros((5000, 2, 3), np.uint8))[1].tobytes()), "refused:no face"),
        ("PNG bomb 20000x20000", put("bomb.png", png_header(20000, 20000)), "refused:too large"),
        ("TIFF bomb 20000x20000", put("bomb.tiff", tiff_bomb()), "refused:too large"),
        ("JPEG bomb, stray byte before SOF", put("bomb.jpg", jpeg_bomb()), "refused:too large"),
        ("GIF frame bomb", put("bomb.gif", gif_bomb), "refused:too large"),
        ("BMP bomb", put("bomb.bmp", b"BM" + b"\0" * 16 + struct.pack("<ii", 20000, 20000) + b"\0" * 40), "refused:too large"),
        ("WebP bomb", put("bomb.webp", b"RIFF\0\0\0\0WEBPVP8X" + b"\0" * 8 + (19999).to_bytes(3, "little") * 2 + b"\0" * 20), "refused:too large"),
        ("JPEG + trailing bytes", put("motion.jpg", astronaut + os.urandom(200_000)), "decodes"),
        ("PNG + trailing bytes", put("trail.png", cv2.imencode(".png", cv2.imread(str(REF)))[1].tobytes() + b"x" * 5000), "decodes"),
        ("GIF + trailing bytes", put("trail.gif", gif + b"extra" * 100), "decodes"),
        ("float32 TIFF", put("float.tiff", cv2.imencode(".tiff", wide.astype(np.float32))[1].tobytes()), "decodes"),
        ("int32 TIFF", put("int32.tiff", cv2.imencode(".tiff", (wide * 1e6).astype(np.int32))[1].tobytes()), "decodes"),
        ("empty file", put("empty.jpg", b""), "refused:empty"),
        ("text file", put("notes.jpg", b"hello"), "refused:not an image"),
        ("truncated JPEG", put("half.jpg", astronaut[:len(astronaut) // 2]), "refused:truncated"),
        ("non-UTF-8 file name", put(b"caf\xe9.jpg".decode("utf-8", "surrogateescape"), astronaut), "face"),
        ("folder", folder, "refused:not a file"),
        ("missing file", folder / "missing.jpg", "refused:not found"),
    ]
    fifo = folder / "pipe.jpg"
    os.mkfifo(fifo)
    cases.append(("named pipe", fifo, "refused:not a file"))
    return cases


def audit_special(work: Path) -> Family:
    family = Family("special files (compare)")
    for what, path, expect in special_files(work):
        run = faceid("compare", path, REF)
        if expect.startswith("refused:"):
            ok = clean_error(run, expect.split(":", 1)[1])
        elif expect == "face":
            ok = run.code in (0, 1, 3) and "Traceback" not in run.err
        else:  # decodes: a verdict, or "no face found", but never "damaged"
            ok = (run.code in (0, 1, 3) or clean_error(run, "no face")) and "damaged" not in run.err
        family.check(what, run, ok and run.peak_mb < 1024)
    return family
