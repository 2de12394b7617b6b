"""Image decoding with OpenCV: every failure becomes an ImageError with a plain message."""
from __future__ import annotations

import os
import struct
import sys
import threading
from contextlib import contextmanager
from pathlib import Path

import cv2
import numpy as np

from .. import MAX_IMAGE_PIXELS
from . import phone_formats
from .errors import ImageError

MAX_FILE_BYTES = 64 * 1024 * 1024
# File names a folder scan looks at: the formats decode_image reads (it still checks the content, not the name).
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".jpe", ".png", ".gif", ".bmp", ".dib", ".webp", ".tif", ".tiff",
                            ".pbm", ".pgm", ".ppm", ".pnm"})
# Refused from the header, before any pixel is decoded; OpenCV's own limit (OPENCV_IO_MAX_IMAGE_PIXELS, set in
# faceid_gui/__init__.py before cv2 loads) is only the backstop for a header this parser misreads.
MAX_PIXELS = MAX_IMAGE_PIXELS

cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
_stderr_lock = threading.Lock()


def load_image(path: str | os.PathLike) -> np.ndarray:
    """Read an image file as an RGB uint8 array (H, W, 3), EXIF orientation applied."""
    path = Path(path)
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise ImageError(f"{path.name}: file not found") from None
    except OSError as exc:
        raise ImageError(f"{path.name}: cannot read ({exc.strerror})") from None
    if not path.is_file():
        raise ImageError(f"{path.name}: not a file")
    if size > MAX_FILE_BYTES:
        raise ImageError(f"{path.name}: too large ({size / 2**20:.0f} MB, limit {MAX_FILE_BYTES // 2**20} MB)")
    try:
        data = path.read_bytes()  # works for non-ASCII paths, unlike cv2.imread on Windows
    except OSError as exc:
        raise ImageError(f"{path.name}: cannot read ({exc.strerror})") from None
    return decode_image(data, path.name)


def decode_image(data: bytes, name: str = "image") -> np.ndarray:
    """Decode encoded image bytes (JPEG, PNG, BMP, WebP, TIFF, GIF, PNM; HEIC and AVIF in phone_formats) to RGB."""
    if len(data) == 0:
        raise ImageError(f"{name}: empty file")
    if len(data) > MAX_FILE_BYTES:
        raise ImageError(f"{name}: too large ({len(data) / 2**20:.0f} MB)")
    kind = _sniff(data)
    if kind is None:
        other = phone_formats.sniff(data)
        if other in ("heif", "avif"):
            return phone_formats.decode(data, other, name, MAX_PIXELS)
        if other:
            raise ImageError(f"{name}: unsupported format ({other}); export it as JPEG or PNG")
        raise ImageError(f"{name}: not an image (unknown format)")
    dims = _header_size(data, kind)
    if dims is None:
        raise ImageError(f"{name}: damaged {kind.upper()} file (no image size in its header)")
    if dims[0] <= 0 or dims[1] <= 0:
        raise ImageError(f"{name}: damaged {kind.upper()} file (image size {dims[0]}x{dims[1]})")
    if dims[0] * dims[1] > MAX_PIXELS:
        raise ImageError(f"{name}: too large ({dims[0]}x{dims[1]} pixels, limit {MAX_PIXELS // 10**6} megapixels)")
    if _is_truncated(data, kind):
        raise ImageError(f"{name}: truncated or damaged {kind.upper()} file")
    buffer = np.frombuffer(data, np.uint8)
    with _quiet_stderr():
        try:
            # IMREAD_COLOR applies EXIF orientation and converts grey, RGBA, CMYK and 16-bit to 8-bit BGR.
            bgr = cv2.imdecode(buffer, cv2.IMREAD_COLOR)
            if bgr is None and kind == "tiff":
                bgr = _wide_tiff_to_bgr(cv2.imdecode(buffer, cv2.IMREAD_UNCHANGED))
        except cv2.error:
            bgr = None
    if bgr is None or bgr.size == 0 or bgr.ndim != 3:
        raise ImageError(f"{name}: truncated or damaged {kind.upper()} file")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB, dst=bgr)  # in place: a big photo is not held twice


@contextmanager
def _quiet_stderr():
    """libpng and libjpeg print warnings straight to file descriptor 2; send them to the null device.

    Python-level writes to stderr from other threads during a decode are lost too. The lock covers saving the
    descriptor as well: a decode that saved it while another had it pointed at the null device would "restore" the
    null device for good (the folder scan decodes on two threads; its summary line vanished that way).
    """
    with _stderr_lock:
        try:
            sys.stderr.flush()
            saved = os.dup(2)
        except (OSError, ValueError, AttributeError):
            yield  # no usable descriptor 2 (a windowed app): nothing can leak
            return
        null = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(null, 2)
            yield
        finally:
            os.dup2(saved, 2)
            os.close(null)
            os.close(saved)


def _wide_tiff_to_bgr(image: np.ndarray | None) -> np.ndarray | None:
    """Float and 32-bit integer TIFFs (which IMREAD_COLOR refuses) to 8-bit BGR.

    Floats in [0, 1] and integers in [0, 255] keep their meaning; anything else is stretched to its own range.
    """
    if image is None or image.size == 0:
        return None
    if image.ndim == 2:
        image = image[:, :, None]
    if image.ndim != 3 or image.shape[2] not in (1, 3, 4):
        return None
    values = np.nan_to_num(image[:, :, :3].astype(np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    low, high = float(values.min()), float(values.max())
    if image.dtype.kind == "f" and low >= 0.0 and high <= 1.0:
        values = values * 255.0
    elif not (low >= 0.0 and high <= 255.0):
        values = (values - low) * (255.0 / (high - low) if high > low else 0.0)
    out = np.clip(np.rint(values), 0, 255).astype(np.uint8)
    return cv2.cvtColor(out, cv2.COLOR_GRAY2BGR) if out.shape[2] == 1 else np.ascontiguousarray(out)


def _sniff(data: bytes) -> str | None:
    head = data[:16]
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "gif"
    if head.startswith(b"BM"):
        return "bmp"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head.startswith((b"II*\x00", b"MM\x00*")):
        return "tiff"
    if len(head) >= 2 and head[0:1] == b"P" and head[1:2] in b"123456":
        return "pnm"
    return None


def _header_size(data: bytes, kind: str) -> tuple[int, int] | None:
    """Width and height from the header, without decoding pixels (None when unknown)."""
    try:
        if kind == "png":
            return struct.unpack(">II", data[16:24])
        if kind == "gif":
            return _gif_size(data)
        if kind == "tiff":
            return _tiff_size(data)
        if kind == "bmp":
            w, h = struct.unpack("<ii", data[18:26])
            return abs(w), abs(h)
        if kind == "webp":
            chunk = data[12:16]
            if chunk == b"VP8X":
                w = int.from_bytes(data[24:27], "little") + 1
                h = int.from_bytes(data[27:30], "little") + 1
                return w, h
            if chunk == b"VP8L":
                bits = int.from_bytes(data[21:25], "little")
                return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
            if chunk == b"VP8 ":
                w, h = struct.unpack("<HH", data[26:30])
                return w & 0x3FFF, h & 0x3FFF
        if kind == "jpeg":
            return _jpeg_size(data)
        if kind == "pnm":
            fields = data[2:64].split()
            fields = [f for f in fields if not f.startswith(b"#")]
            return int(fields[0]), int(fields[1])
    except (struct.error, ValueError, IndexError):
        return None
    return None


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    """The frame size from the first SOF marker; stray bytes between segments are skipped, as libjpeg does."""
    pos = 2
    while pos + 9 < len(data):
        if data[pos] != 0xFF:
            pos += 1
            continue
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker in (0xD8, 0x01, 0x00) or 0xD0 <= marker <= 0xD7:
            pos += 2
            continue
        if marker == 0xD9:
            break
        length = struct.unpack(">H", data[pos + 2:pos + 4])[0]
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            h, w = struct.unpack(">HH", data[pos + 5:pos + 9])
            return w, h  # the first frame is the one libjpeg decodes
        if marker == 0xDA:
            break  # scan data follows without a SOF: damaged
        pos += 2 + length
    return None


def _gif_size(data: bytes) -> tuple[int, int]:
    """Logical screen size, or the largest frame, whichever is bigger (a frame may exceed the screen)."""
    w, h = struct.unpack("<HH", data[6:10])
    flags = data[10]
    pos = 13 + (3 * 2 ** ((flags & 7) + 1) if flags & 0x80 else 0)
    for _ in range(10_000):
        if pos >= len(data):
            break
        block = data[pos]
        if block == 0x2C:  # image descriptor
            fx, fy, fw, fh = struct.unpack("<HHHH", data[pos + 1:pos + 9])
            w, h = max(w, fx + fw), max(h, fy + fh)
            fflags = data[pos + 9]
            pos += 10 + (3 * 2 ** ((fflags & 7) + 1) if fflags & 0x80 else 0) + 1  # + LZW minimum code size
            pos = _skip_sub_blocks(data, pos)
        elif block == 0x21:  # extension
            pos = _skip_sub_blocks(data, pos + 2)
        else:
            break  # trailer or garbage: nothing more to size
    return w, h


def _skip_sub_blocks(data: bytes, pos: int) -> int:
    while pos < len(data) and data[pos]:
        pos += data[pos] + 1
    return pos + 1


def _tiff_size(data: bytes) -> tuple[int, int] | None:
    """ImageWidth and ImageLength of the first IFD (the page OpenCV decodes)."""
    endian = "<" if data[:2] == b"II" else ">"
    offset = struct.unpack(endian + "I", data[4:8])[0]
    count = struct.unpack(endian + "H", data[offset:offset + 2])[0]
    width = height = None
    for k in range(count):
        entry = data[offset + 2 + 12 * k: offset + 14 + 12 * k]
        tag, kind = struct.unpack(endian + "HH", entry[:4])
        if tag in (256, 257):
            value = struct.unpack(endian + ("H" if kind == 3 else "I"), entry[8:10] if kind == 3 else entry[8:12])[0]
            if tag == 256:
                width = value
            else:
                height = value
    return (width, height) if width is not None and height is not None else None


def _is_truncated(data: bytes, kind: str) -> bool:
    """A missing end marker: libjpeg and libpng would otherwise return a half-grey picture.

    Anywhere in the file, not only at its end: phone "motion photos" and some editors append data after it.
    """
    if kind == "jpeg":
        return b"\xff\xd9" not in data
    if kind == "png":
        return not _png_chunks_intact(data)
    return False


def _png_chunks_intact(data: bytes) -> bool:
    """Every chunk fits in the file, up to IEND. OpenCV's PNG reader allocates a chunk's declared length before
    reading it, so one damaged length field cost 2 GB and 5 s (measured); such a file is refused here instead."""
    pos = 8
    while pos + 12 <= len(data):
        length = struct.unpack(">I", data[pos:pos + 4])[0]
        if length > len(data) - pos - 12:
            return False
        if data[pos + 4:pos + 8] == b"IEND":
            return True
        pos += 12 + length
    return False


def encode_png(rgb: np.ndarray) -> bytes:
    """Lossless: an enrolled face's aligned crop, re-embedded exactly when the model changes."""
    ok, buf = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    if not ok:
        raise ImageError("could not encode PNG")
    return buf.tobytes()


def encode_jpeg(rgb: np.ndarray, quality: int = 90) -> bytes:
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ImageError("could not encode JPEG")
    return buf.tobytes()
